//! `lrpo-train distill`: distil a diffusion policy into the one-step student.

use anyhow::{Context, Result, bail};
use clap::Args;
use lrpo_trainer::backend::{DeviceChoice, with_backend};
use lrpo_trainer::config::RunConfig;
use lrpo_trainer::distill::Distill;
use std::path::PathBuf;

/// Arguments of `lrpo-train distill`.
#[derive(Args, Debug)]
pub struct DistillArgs {
    /// Teacher run folder (LRPO or pretraining run); not needed when the configuration's
    /// teacher weights (`w_teacher`, `w_ssim`) are 0.
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Configuration whose `[distill]` section is used (model, schedule, data and sampling come
    /// from the teacher's run; without a teacher, everything comes from this file).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// HQ faces (default: the teacher run's; required without a teacher).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run folder to create.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the distillation run in this folder.
    #[arg(long, conflicts_with_all = ["teacher", "config", "out"])]
    pub resume: Option<PathBuf>,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Stop after this many steps (checkpointing first).
    #[arg(long)]
    pub stop_at: Option<u64>,
}

fn data_of(run: &std::path::Path) -> Result<PathBuf> {
    Ok(lrpo_trainer::run::RunInfo::load(run)?.data)
}

/// Runs distillation and prints a summary.
pub fn run(args: &DistillArgs) -> Result<()> {
    let task = match &args.resume {
        Some(run) => {
            let cfg = RunConfig::load(&run.join("config.toml"))?;
            let teacher = lrpo_trainer::run::RunInfo::load(run)?.init;
            Distill {
                cfg,
                teacher,
                data: args.data.clone().map_or_else(|| data_of(run), Ok)?,
                run: run.clone(),
                resume: true,
                stop_at: args.stop_at,
            }
        }
        None => {
            let Some(out) = &args.out else {
                bail!("distill needs --out RUN3 (or --resume RUN3)")
            };
            if out.join("checkpoints/latest.json").exists() {
                bail!(
                    "{} already holds a run; use --resume {0} to continue it",
                    out.display()
                );
            }
            let (cfg, data) = match (&args.teacher, &args.config) {
                (Some(teacher), c) => {
                    let mut cfg = RunConfig::load(&teacher.join("config.toml"))?;
                    if let Some(c) = c {
                        let other = RunConfig::load(c)?;
                        cfg.distill = other.distill;
                        cfg.rl.reward = other.rl.reward;
                    }
                    let data = args.data.clone().map_or_else(|| data_of(teacher), Ok)?;
                    (cfg, data)
                }
                (None, Some(c)) => {
                    let cfg = RunConfig::load(c)?;
                    if cfg.distill.uses_teacher() {
                        bail!(
                            "{}: [distill] w_teacher or w_ssim is above 0, so distill needs --teacher RUN",
                            c.display()
                        );
                    }
                    let data = args
                        .data
                        .clone()
                        .context("distill without a teacher needs --data FACES")?;
                    (cfg, data)
                }
                (None, None) => bail!("distill needs --teacher RUN or --config FILE"),
            };
            cfg.validate()?;
            Distill {
                cfg,
                teacher: args.teacher.clone(),
                data,
                run: out.clone(),
                resume: false,
                stop_at: args.stop_at,
            }
        }
    };
    let run = task.run.clone();
    let s = with_backend(args.device, task)?;
    println!(
        "{}: {} steps, last loss {:.5}, teacher labelling {:.0} s, training {:.0} s",
        run.display(),
        s.step,
        s.losses.last().map_or(f64::NAN, |l| l.1),
        s.teacher_seconds,
        s.seconds
    );
    if let Some(v) = s.validation {
        println!("held-out: {v}");
    }
    Ok(())
}
