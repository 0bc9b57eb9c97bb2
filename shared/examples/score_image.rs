//! Scores a restored face with the composite reward (the one LRPO trains with), against its
//! ground truth and the LQ it was restored from, component by component.
//!
//!     cargo run --release -p lrpo-shared --features onnx --example score_image -- \
//!         RESTORED.png GT.png LQ.png [configs/rewards/default.toml]
//!
//! The three images are aligned faces of one size. Model components (identity) find their ONNX
//! files relative to the reward file, or at `models/face_descriptor.onnx`.

use lrpo_shared::image::load_rgb;
use lrpo_shared::onnx::scorers::scorers_for;
use lrpo_shared::reward::{Reward, RewardSpec};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.len() < 3 {
        eprintln!("usage: score_image RESTORED GT LQ [REWARD.toml]");
        return ExitCode::from(2);
    }
    match score(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn score(args: &[PathBuf]) -> lrpo_shared::error::Result<()> {
    let spec_path = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| PathBuf::from("configs/rewards/default.toml"));
    let spec = RewardSpec::load(&spec_path)?;
    let dir = spec_path.parent().unwrap_or(Path::new("."));
    let scorers = scorers_for(&spec, dir, Path::new("models/face_descriptor.onnx"))?;
    let reward = Reward::new(spec, &scorers)?;
    let (restored, gt, lq) = (
        load_rgb(&args[0])?,
        load_rgb(&args[1])?,
        load_rgb(&args[2])?,
    );
    let b = reward.evaluate(&restored.view(), Some(&gt.view()), &lq.view())?;
    println!(
        "{:<14} {:>10} {:>10} {:>8}",
        "component", "raw", "reward", "weight"
    );
    for c in &b.components {
        println!(
            "{:<14} {:>10.4} {:>10.4} {:>8.3}",
            c.name, c.raw, c.reward, c.weight
        );
    }
    println!("total reward {:.4}", b.total);
    Ok(())
}
