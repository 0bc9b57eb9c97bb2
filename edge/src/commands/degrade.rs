//! `lrpo-edge degrade`: apply the shared degradation model to image files.

use anyhow::{Context, Result};
use clap::Args;
use lrpo_shared::degrade::{DegradePreset, degrade};
use lrpo_shared::image::{load_rgb, save_rgb};
use lrpo_shared::metrics::{brisque::brisque, psnr, ssim::ssim};
use lrpo_shared::rng::Rng;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `lrpo-edge degrade`.
#[derive(Args, Debug)]
pub struct DegradeArgs {
    /// Input images (PNG/JPEG) or folders of them.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder: `NAME_lq.png` and `NAME_lq.json` (the sampled parameters and the scores:
    /// PSNR and SSIM of the result against its input, BRISQUE of both) per input.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Degradation preset: lrpo, gfpgan or codeformer.
    #[arg(long, default_value = "lrpo")]
    pub preset: String,
    /// Master seed; input number i (in the order given) uses sub-stream i of it.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Apply the sampled blur and downscaling in the image's own pixels instead of scaling them
    /// from the preset's 512-px face crop to the image's size: for whole photographs, whose
    /// faces are about crop-sized, so that they degrade like a crop (and stay detectable).
    #[arg(long)]
    pub unscaled: bool,
}

/// Degrades every input; per-file errors are reported and the rest continue.
pub fn run(args: &DegradeArgs) -> Result<ExitCode> {
    let preset = DegradePreset::by_name(&args.preset)?;
    let inputs = crate::inputs::expand_inputs(&args.inputs)?;
    let mut out = std::io::stdout().lock();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create output folder", args.out.display()))?;
    writeln!(
        out,
        "{:<28} {:>6} {:>6} {:>6} {:>6} {:>5} {:>9}",
        "image", "iso", "σx", "σy", "scale", "jpeg", "PSNR dB"
    )?;
    let mut failed = 0;
    // No output may replace an input (`X.png` → `X_lq.png` beside an input named `X_lq.png`)
    // or another input's output.
    let mut guard = super::common::OutputGuard::new(&inputs);
    for (i, path) in inputs.iter().enumerate() {
        let outcome = (|| -> Result<String> {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("image{i}"));
            let (png, json) = (
                args.out.join(format!("{stem}_lq.png")),
                args.out.join(format!("{stem}_lq.json")),
            );
            guard.claim(&png, path)?;
            guard.claim(&json, path)?;
            let hq = load_rgb(path)?;
            let mut params = preset.sample(&mut Rng::derive(args.seed, i as u64));
            if args.unscaled {
                let (_, h, w) = hq.dim();
                params.reference_size = h.min(w) as u32;
            }
            let lq = degrade(&hq.view(), &params)?;
            let p = psnr(&lq.view(), &hq.view())?;
            let s = ssim(&lq.view(), &hq.view())?;
            let (b_lq, b_hq) = (brisque(&lq.view())?, brisque(&hq.view())?);
            save_rgb(&png, &lq.view())?;
            let record = serde_json::json!({
                "input": path, "seed": args.seed, "stream": i, "params": params,
                "psnr_db": p, "ssim": s, "brisque_lq": b_lq, "brisque_input": b_hq,
            });
            lrpo_shared::fsio::write_atomic(
                &json,
                serde_json::to_string_pretty(&record)?.as_bytes(),
            )?;
            Ok(format!(
                "{:<28} {:>6} {:>6.2} {:>6.2} {:>6.2} {:>5} {:>8.2} {:>7.4} {:>8.2} {:>8.2}",
                path.file_name().unwrap_or_default().to_string_lossy(),
                params.kernel.isotropic,
                params.kernel.sigma_x,
                params.kernel.sigma_y,
                params.scale,
                params.jpeg_quality,
                p,
                s,
                b_lq,
                b_hq
            ))
        })();
        match outcome {
            Ok(line) => writeln!(out, "{line}")?,
            Err(e) => {
                failed += 1;
                say!("error: {e:#}");
            }
        }
    }
    writeln!(
        out,
        "{} degraded, {failed} failed; outputs in {}",
        inputs.len() - failed,
        args.out.display()
    )?;
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
