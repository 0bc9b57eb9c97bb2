//! `lrpo-train pretrain`: supervised pretraining of the diffusion policy.

use anyhow::{Result, bail};
use clap::Args;
use lrpo_trainer::backend::{DeviceChoice, with_backend};
use lrpo_trainer::config::RunConfig;
use lrpo_trainer::pretrain::Pretrain;
use lrpo_trainer::run::RunInfo;
use std::path::PathBuf;

/// Arguments of `lrpo-train pretrain`.
#[derive(Args, Debug)]
pub struct PretrainArgs {
    /// Run configuration (TOML); every field not given takes its default.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Folder of HQ face images (aligned crops; searched recursively).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run folder to create (config, checkpoints, metrics, plots, samples).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this folder from its latest checkpoint (its own config and data).
    #[arg(long, conflicts_with_all = ["config", "out"])]
    pub resume: Option<PathBuf>,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Stop after this many steps (checkpointing first), as an interrupted run would.
    #[arg(long)]
    pub stop_at: Option<u64>,
}

/// Runs pretraining and prints a summary.
pub fn run(args: &PretrainArgs) -> Result<()> {
    let task = match &args.resume {
        Some(run) => {
            let cfg = RunConfig::load(&run.join("config.toml"))?;
            let info = RunInfo::load(run)?;
            Pretrain {
                cfg,
                data: args.data.clone().unwrap_or(info.data),
                run: run.clone(),
                resume: true,
                stop_at: args.stop_at,
            }
        }
        None => {
            let cfg = match &args.config {
                Some(p) => RunConfig::load(p)?,
                None => RunConfig::default(),
            };
            let (Some(data), Some(out)) = (&args.data, &args.out) else {
                bail!("pretrain needs --data DIR and --out RUN (or --resume RUN)")
            };
            if out.join("checkpoints/latest.json").exists() {
                bail!(
                    "{} already holds a run; use --resume {0} to continue it, or choose another --out",
                    out.display()
                );
            }
            Pretrain {
                cfg,
                data: data.clone(),
                run: out.clone(),
                resume: false,
                stop_at: args.stop_at,
            }
        }
    };
    let run = task.run.clone();
    let s = with_backend(args.device, task)?;
    println!(
        "{}: {} steps, last mean loss {:.5}, {:.1} s ({:.2} steps/s)",
        run.display(),
        s.step,
        s.last_loss,
        s.seconds,
        s.losses
            .last()
            .map_or(0.0, |_| s.step as f64 / s.seconds.max(1e-9))
    );
    if let Some(v) = s.validation {
        println!(
            "held-out ({} faces): restored PSNR {:.2} dB SSIM {:.4}; bicubic PSNR {:.2} dB SSIM {:.4}; LQ PSNR {:.2} dB",
            v.faces, v.psnr, v.ssim, v.psnr_bicubic, v.ssim_bicubic, v.psnr_lq
        );
    }
    Ok(())
}
