//! `lrpo-train rl`: LRPO post-training of a pretrained policy.

use anyhow::{Context, Result, bail};
use clap::Args;
use lrpo_trainer::backend::{DeviceChoice, with_backend};
use lrpo_trainer::config::RunConfig;
use lrpo_trainer::lrpo::train::Lrpo;
use lrpo_trainer::run::RunInfo;
use std::path::PathBuf;

/// Arguments of `lrpo-train rl`.
#[derive(Args, Debug)]
pub struct RlArgs {
    /// Run folder of the policy to start from (a pretraining run; its EMA weights are used).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Configuration whose `[rl]` section sets LRPO (the model, schedule, data and sampling
    /// sections come from the --init run).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Folder of HQ face images (default: the --init run's).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run folder to create.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the LRPO run in this folder.
    #[arg(long, conflicts_with_all = ["init", "config", "out"])]
    pub resume: Option<PathBuf>,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Stop after this many iterations (checkpointing first).
    #[arg(long)]
    pub stop_at: Option<u64>,
}

fn read_info(run: &std::path::Path) -> Result<RunInfo> {
    Ok(RunInfo::load(run)?)
}

/// Builds the merged configuration and runs LRPO.
pub fn run(args: &RlArgs) -> Result<()> {
    let task = match &args.resume {
        Some(run) => {
            let cfg = RunConfig::load(&run.join("config.toml"))?;
            let info = read_info(run)?;
            let init = info
                .init
                .context("run.json does not name the initial policy")?;
            Lrpo {
                cfg,
                init,
                data: args.data.clone().unwrap_or(info.data),
                run: run.clone(),
                resume: true,
                stop_at: args.stop_at,
            }
        }
        None => {
            let (Some(init), Some(out)) = (&args.init, &args.out) else {
                bail!("rl needs --init RUN and --out RUN2 (or --resume RUN2)")
            };
            if out.join("checkpoints/latest.json").exists() {
                bail!(
                    "{} already holds a run; use --resume {0} to continue it",
                    out.display()
                );
            }
            let mut cfg = RunConfig::load(&init.join("config.toml"))
                .with_context(|| format!("{}: not a training run", init.display()))?;
            if let Some(c) = &args.config {
                cfg.rl = RunConfig::load(c)?.rl;
            }
            cfg.validate()?;
            let data = match &args.data {
                Some(d) => d.clone(),
                None => read_info(init)?.data,
            };
            Lrpo {
                cfg,
                init: init.clone(),
                data,
                run: out.clone(),
                resume: false,
                stop_at: args.stop_at,
            }
        }
    };
    let run = task.run.clone();
    let s = with_backend(args.device, task)?;
    let first = s.rewards.first().map_or(f64::NAN, |r| r.1);
    let last = s.rewards.last().map_or(f64::NAN, |r| r.1);
    println!(
        "{}: {} iterations in {:.0} s; mean reward {first:.4} (first) -> {last:.4} (last)",
        run.display(),
        s.iterations,
        s.seconds
    );
    Ok(())
}
