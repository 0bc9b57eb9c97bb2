//! `lrpo-train export`: the distilled student to ONNX (f32, optionally int8) with its card.

use anyhow::Result;
use clap::Args;
use lrpo_trainer::backend::Cpu;
use std::path::PathBuf;

/// Arguments of `lrpo-train export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Distillation run folder.
    #[arg(long)]
    pub ckpt: PathBuf,
    /// Output path without extension: writes OUT.onnx and OUT.card (and OUT_int8.onnx,
    /// OUT_int8.card with --int8).
    #[arg(short, long)]
    pub out: PathBuf,
    /// Also write an int8 model (post-training quantisation, QLinearConv).
    #[arg(long)]
    pub int8: bool,
    /// Folder of face images for calibration and checks, degraded as in training (default: the
    /// run's training data).
    #[arg(long)]
    pub calib: Option<PathBuf>,
    /// ε-network only: DDIM steps written into its card (default: the run's
    /// `[sampling] steps`).
    #[arg(long)]
    pub steps: Option<u32>,
    /// ε-network only: DDIM η written into its card (default: the run's `[sampling] eta`).
    #[arg(long)]
    pub eta: Option<f32>,
}

/// Exports and prints what was checked. A distillation run exports its student; a pretraining
/// or LRPO run exports the policy's ε-network (f32) for K-step sampling on the edge.
pub fn run(args: &ExportArgs) -> Result<()> {
    let info = lrpo_trainer::run::RunInfo::load(&args.ckpt)?;
    if info.command != "distill" {
        let cfg = lrpo_trainer::config::RunConfig::load(&args.ckpt.join("config.toml"))?;
        let (p, err) = lrpo_trainer::export::export_eps::<Cpu>(
            &args.ckpt,
            &args.out,
            args.steps.unwrap_or(cfg.sampling.steps as u32),
            args.eta.unwrap_or(cfg.sampling.eta as f32),
            &Default::default(),
        )?;
        println!(
            "{}: ε-network, tract vs burn max relative error {err:.2e}; card checked",
            p.display()
        );
        return Ok(());
    }
    let r = lrpo_trainer::export::export::<Cpu>(
        &args.ckpt,
        &args.out,
        args.int8,
        args.calib.as_deref(),
        &Default::default(),
    )?;
    println!(
        "{} ({:.1} kB): tract vs burn max relative error {:.2e}; card checked",
        r.f32_path.display(),
        r.sizes.0 as f64 / 1e3,
        r.f32_rel_err
    );
    if let (Some(p), Some(psnr), Some(k), Some(sz)) =
        (&r.int8_path, r.int8_psnr_vs_f32, &r.int8_kernel, r.sizes.1)
    {
        println!(
            "{} ({:.1} kB, {:.2}x smaller): PSNR {psnr:.2} dB against the f32 export; {} calibration images; integer kernel {k}",
            p.display(),
            sz as f64 / 1e3,
            r.sizes.0 as f64 / sz as f64,
            r.calibration_images
        );
    }
    Ok(())
}
