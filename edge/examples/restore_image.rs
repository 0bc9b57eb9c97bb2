//! Restores the faces of one photo with the edge library: the shipped policy (ONNX + card) and
//! the MTCNN detector loaded once, then detect → align → restore → paste back on the frame.
//!
//!     cargo run --release -p lrpo-edge --example restore_image -- data/scenes/montage_lq.jpg out.png
//!
//! Optional third argument: another policy (`.onnx` with its `.card` beside it).

use lrpo_edge::pipeline::{Pipeline, PipelineOptions};
use lrpo_edge::runtime::{Policy, SamplerOptions};
use lrpo_shared::image::{load_rgb, save_rgb};
use lrpo_shared::onnx::detect::mtcnn::{Mtcnn, MtcnnConfig};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.len() < 2 {
        eprintln!("usage: restore_image INPUT OUTPUT [MODEL.onnx]");
        return ExitCode::from(2);
    }
    match restore(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn restore(args: &[PathBuf]) -> Result<(), Box<dyn std::error::Error>> {
    let model = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| PathBuf::from("models/gt_student.onnx"));
    // A policy is its ONNX model plus the card beside it; loading checks that they agree.
    let policy = Policy::load(&model, SamplerOptions::default())?;
    let detector = Mtcnn::load(std::path::Path::new("models/mtcnn"), MtcnnConfig::default())?;
    let pipeline = Pipeline {
        policy,
        detector: Some(Box::new(detector)),
        // The defaults: every face, the detail gate on, no upscaling.
        options: PipelineOptions::default(),
    };
    let frame = load_rgb(&args[0])?;
    let result = pipeline.process(&frame.view())?;
    for f in &result.faces {
        println!(
            "face at ({:.0}, {:.0}): restored at {} px in {:.1} ms",
            f.detection.bbox[0],
            f.detection.bbox[1],
            f.crop.dim().1,
            f.restore_ms
        );
    }
    println!(
        "{} face(s) restored, {} kept as they were (detail gate); detection {:.0} ms",
        result.faces.len(),
        result.kept.len(),
        result.detect_ms
    );
    save_rgb(&args[1], &result.frame.view())?;
    Ok(())
}
