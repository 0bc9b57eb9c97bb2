//! The pretraining loop: the DDPM ε-prediction loss with t uniform over the training steps,
//! AdamW with warm-up + cosine learning rate, global gradient clipping and EMA weights, logging,
//! validation and checkpoints. The step's loss and gradient norm are read back from the device
//! once, together.

use super::plots::plot_run;
use super::validate::{Validation, validate};
use crate::backend::BackendTask;
use crate::backend::TrainBackend;
use crate::checkpoint;
use crate::config::RunConfig;
use crate::data::{FaceSet, Loader};
use crate::diffusion::{normal, q_sample};
use crate::error::{Error, Result};
use crate::model::unet::UNet;
use crate::optim_utils::{LrSchedule, clip_to_norm, ema_update, grad_sq_sum};
use crate::run::RunInfo;
use crate::runlog::RunLog;
use crate::tensor::{read_scalars, tensor4};
use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::NoiseSchedule;
use std::path::PathBuf;
use std::time::Instant;

/// Stream of the per-step timesteps and noise.
const NOISE_STREAM: u64 = 0x0015_E57E_A11E_0001;
/// A pretraining run to perform.
pub struct Pretrain {
    /// The configuration.
    pub cfg: RunConfig,
    /// HQ face folder.
    pub data: PathBuf,
    /// Run folder.
    pub run: PathBuf,
    /// Continue from the run's latest checkpoint.
    pub resume: bool,
    /// Stop (after checkpointing) once this many steps are done, as if interrupted.
    pub stop_at: Option<u64>,
}

/// What a finished (or stopped) run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Steps done.
    pub step: u64,
    /// Mean loss of the last logged window.
    pub last_loss: f64,
    /// Every logged `(step, mean loss)`.
    pub losses: Vec<(u64, f64)>,
    /// Last validation, if any ran.
    pub validation: Option<Validation>,
    /// Wall-clock seconds spent training in this process.
    pub seconds: f64,
}

/// EMA decay with warm-up: `min(decay, (1 + step) / (10 + step))`.
pub fn ema_decay_at(decay: f64, step: u64) -> f64 {
    decay.min((1.0 + step as f64) / (10.0 + step as f64))
}

impl BackendTask for Pretrain {
    type Output = Summary;
    type Error = Error;

    fn run<B: TrainBackend>(self, device: B::Device) -> Result<Summary> {
        let Pretrain {
            cfg,
            data,
            run,
            resume,
            stop_at,
        } = self;
        let p = cfg.pretrain.clone();
        let schedule = NoiseSchedule::new(cfg.schedule.clone())?;
        let set = FaceSet::load(&data, &cfg.data)?;
        if !set.skipped.is_empty() {
            say!("warning: {} file(s) skipped", set.skipped.len());
        }
        std::fs::create_dir_all(&run)
            .map_err(|e| Error::io(&run, "cannot create the run folder", e))?;
        cfg.save(&run.join("config.toml"))?;
        lrpo_shared::fsio::write_atomic(
            &run.join("run.json"),
            serde_json::to_string_pretty(&RunInfo {
                command: "pretrain".into(),
                data: data.clone(),
                init: None,
            })?
            .as_bytes(),
        )?;
        B::seed(&device, p.seed);
        let mut model: UNet<B> = cfg.model.init(&device);
        let mut optim = AdamWConfig::new()
            .with_weight_decay(p.weight_decay as f32)
            .init::<B, UNet<B>>();
        let mut ema = model.valid();
        let mut start = 0u64;
        let (mut win_sum, mut win_n) = (0.0f64, 0u64);
        if resume {
            let mut ck = checkpoint::load_latest(&run)?
                .ok_or_else(|| Error::run(&run, "no checkpoint to resume from"))?;
            model = model.load_record(ck.record::<B, _>("model.mpk", &device)?);
            ema = ema.load_record(ck.record::<B::InnerBackend, _>("ema.mpk", &device)?);
            optim = optim.load_record(ck.record::<B, _>("optim.mpk", &device)?);
            start = ck.state.step;
            win_sum = ck.state.extra["win_sum"].as_f64().unwrap_or(0.0);
            win_n = ck.state.extra["win_n"].as_u64().unwrap_or(0);
            say!("resuming {} at step {start}", run.display());
        }
        let end = p.steps;
        if start >= end {
            return Err(Error::run(
                &run,
                format!("already trained for {start} steps (config: {end})"),
            ));
        }
        let lr = LrSchedule {
            lr: p.lr,
            warmup: p.warmup_steps,
            total: p.steps,
            min_ratio: p.min_lr_ratio,
        };
        let mut log = RunLog::open(&run, resume.then_some(start))?;
        let loader = Loader::spawn(
            set.clone(),
            cfg.data.clone(),
            p.seed,
            start,
            end,
            p.batch_size,
        )?;
        let (n, r) = (p.batch_size, cfg.data.resolution);
        let mut progress =
            lrpo_shared::progress::Progress::starting_at(start as usize, end as usize);
        let t0 = Instant::now();
        let mut window_t = Instant::now();
        let mut losses = Vec::new();
        let mut last_loss = f64::NAN;
        let mut validation = None;
        let mut step = start;
        while step < end {
            let batch = loader.next_batch()?;
            debug_assert_eq!(batch.step, step);
            let x0 = tensor4::<B>(batch.hq, n, r, &device);
            let lq = tensor4::<B>(batch.lq, n, r, &device);
            let mut rng = Rng::derive(p.seed ^ NOISE_STREAM, step);
            let t: Vec<usize> = (0..n)
                .map(|_| rng.below(schedule.train_steps() as u64) as usize)
                .collect();
            let eps = normal::<B, 4>(&mut rng, [n, 3, r, r], &device);
            let x_t = q_sample(&schedule, x0, eps.clone(), &t);
            let tf: Vec<f32> = t.iter().map(|&v| v as f32).collect();
            let pred = model.forward(x_t, &tf, lq);
            let loss = (pred - eps).powf_scalar(2.0).mean();
            let loss_dev = loss.clone().inner().reshape([1]);
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            let sq = grad_sq_sum::<B, _>(&model, &grads, &device);
            let read = read_scalars(vec![loss_dev, sq])?;
            let (loss_v, gnorm) = (read[0], read[1].sqrt());
            if !loss_v.is_finite() {
                return Err(Error::diverged(
                    format!("pretraining loss at step {step}"),
                    format!(
                        "became {loss_v}; the last checkpoint in {} is intact",
                        checkpoint::dir(&run).display()
                    ),
                ));
            }
            clip_to_norm(&model, &mut grads, gnorm, p.grad_clip);
            let rate = lr.at(step);
            model = optim.step(rate, model, grads);
            ema = ema_update::<B, UNet<B>>(ema, &model, ema_decay_at(p.ema_decay, step));
            step += 1;
            win_sum += loss_v;
            win_n += 1;
            if step.is_multiple_of(p.log_every) || step == end {
                last_loss = win_sum / win_n as f64;
                let secs = window_t.elapsed().as_secs_f64();
                log.log(serde_json::json!({"kind": "train", "step": step, "loss": last_loss, "lr": rate, "grad_norm": gnorm, "steps_per_sec": win_n as f64 / secs.max(1e-9), "elapsed": t0.elapsed().as_secs_f64()}))?;
                losses.push((step, last_loss));
                (win_sum, win_n) = (0.0, 0);
                window_t = Instant::now();
            }
            let stopping = stop_at == Some(step);
            if ((p.validate_every > 0 && step.is_multiple_of(p.validate_every)) || step == end)
                && let Some(v) = validate(&ema, &cfg, &set, &schedule, step, Some(&run), &device)?
            {
                log.log(serde_json::json!({"kind": "val", "step": v.step, "psnr": v.psnr, "ssim": v.ssim, "psnr_bicubic": v.psnr_bicubic, "ssim_bicubic": v.ssim_bicubic, "psnr_lq": v.psnr_lq, "faces": v.faces}))?;
                validation = Some(v);
            }
            if step.is_multiple_of(p.checkpoint_every)
                || step == end
                || stopping
                || p.keep_steps.contains(&step)
            {
                let blobs = [
                    (
                        "model.mpk",
                        checkpoint::to_bytes::<B, _>(model.clone().into_record())?,
                    ),
                    (
                        "ema.mpk",
                        checkpoint::to_bytes::<B::InnerBackend, _>(ema.clone().into_record())?,
                    ),
                    (
                        "optim.mpk",
                        checkpoint::to_bytes::<B, _>(optim.to_record())?,
                    ),
                ];
                checkpoint::save(
                    &run,
                    step,
                    &blobs,
                    serde_json::json!({"win_sum": win_sum, "win_n": win_n}),
                    p.keep_checkpoints,
                    &p.keep_steps,
                )?;
                plot_run(&run)?;
            }
            progress.tick(&format!(
                "step {step} loss {:.4}",
                if last_loss.is_finite() {
                    last_loss
                } else {
                    loss_v
                }
            ));
            if stopping {
                break;
            }
        }
        Ok(Summary {
            step,
            last_loss,
            losses,
            validation,
            seconds: t0.elapsed().as_secs_f64(),
        })
    }
}
