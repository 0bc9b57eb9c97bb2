//! The whole recipe in one command: pretrain → LRPO → distill → export (f32 + int8), plus a
//! student distilled from the pretrained policy alone (the supervised-only baseline), each stage
//! in its own folder under the run and resumable: a finished stage is skipped, a stopped one
//! resumed from its latest checkpoint.

pub mod config;

pub use config::PipelineConfig;

use crate::backend::{DeviceChoice, with_backend};
use crate::checkpoint;
use crate::config::RunConfig;
use crate::distill::Distill;
use crate::error::{Context, Error, Result};
use crate::lrpo::train::Lrpo;
use crate::pretrain::Pretrain;
use std::path::Path;

/// How far a stage's run has got: `None` if not started, else its latest checkpoint's step.
fn progress(run: &Path) -> Result<Option<u64>> {
    Ok(checkpoint::load_latest(run)?.map(|c| c.state.step))
}

/// Runs every stage not yet finished.
pub fn run(cfg: &RunConfig, data: &Path, out: &Path, device: DeviceChoice) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, "cannot create", e))?;
    cfg.save(&out.join("config.toml"))?;
    let p = &cfg.pipeline;
    let (pre, rl, dist, dist_sft) = (
        out.join("pretrain"),
        out.join("lrpo"),
        out.join("distill"),
        out.join("distill_sft"),
    );
    let stage = |name: &str, done: Option<u64>, total: u64| -> Option<bool> {
        match done {
            Some(s) if s >= total => {
                println!("== {name}: finished ({s}/{total}), skipped");
                None
            }
            Some(s) => {
                println!("== {name}: resuming at {s}/{total}");
                Some(true)
            }
            None => {
                println!("== {name}: starting");
                Some(false)
            }
        }
    };
    if let Some(resume) = stage("pretrain", progress(&pre)?, cfg.pretrain.steps) {
        let s = with_backend(
            device,
            Pretrain {
                cfg: cfg.clone(),
                data: data.to_path_buf(),
                run: pre.clone(),
                resume,
                stop_at: None,
            },
        )?;
        println!("pretrain: {} steps, last loss {:.5}", s.step, s.last_loss);
    }
    if let Some(resume) = stage("lrpo", progress(&rl)?, cfg.rl.iterations) {
        let s = with_backend(
            device,
            Lrpo {
                cfg: cfg.clone(),
                init: pre.clone(),
                data: data.to_path_buf(),
                run: rl.clone(),
                resume,
                stop_at: None,
            },
        )?;
        println!(
            "lrpo: {} iterations, mean reward {:.4} -> {:.4}",
            s.iterations,
            s.rewards.first().map_or(f64::NAN, |r| r.1),
            s.rewards.last().map_or(f64::NAN, |r| r.1)
        );
    }
    let mut students = vec![(dist.clone(), rl.clone(), p.name.clone())];
    if p.sft_student {
        students.push((dist_sft.clone(), pre.clone(), p.sft_name.clone()));
    }
    for (run, teacher, name) in &students {
        if let Some(resume) = stage(
            &format!("distill ({name})"),
            progress(run)?,
            cfg.distill.steps,
        ) {
            let s = with_backend(
                device,
                Distill {
                    cfg: cfg.clone(),
                    teacher: Some(teacher.clone()),
                    data: data.to_path_buf(),
                    run: run.clone(),
                    resume,
                    stop_at: None,
                },
            )?;
            println!(
                "distill ({name}): {} steps; held-out {}",
                s.step,
                s.validation.map(|v| v.to_string()).unwrap_or_default()
            );
        }
        println!("== export ({name})");
        let r = crate::export::export::<crate::backend::Cpu>(
            run,
            &p.models_dir.join(name),
            true,
            Some(data),
            &Default::default(),
        )
        .with_context(|| format!("exporting {name}"))?;
        println!(
            "{}: tract vs burn {:.2e}; int8 {:.2} dB against f32, {:.2}x smaller, kernel {}",
            r.f32_path.display(),
            r.f32_rel_err,
            r.int8_psnr_vs_f32.unwrap_or(f64::NAN),
            r.sizes.0 as f64 / r.sizes.1.unwrap_or(1) as f64,
            r.int8_kernel.unwrap_or_default()
        );
    }
    Ok(())
}
