//! Supervised pretraining of the diffusion policy: the DDPM ε-prediction loss
//! `E‖ε − ε_θ(sqrt(ᾱ_t)·x_0 + sqrt(1−ᾱ_t)·ε, t, lq)‖²` with t uniform over the training steps,
//! AdamW with warm-up + cosine learning rate, global gradient clipping and EMA weights, as one
//! visible loop.

use crate::backend::BackendTask;
use crate::checkpoint;
use crate::config::RunConfig;
use crate::data::{AugmentConfig, FaceSet, Loader, make_sample};
use crate::diffusion::{ddim_sample, normal, q_sample};
use crate::model::unet::UNet;
use crate::optim_utils::{LrSchedule, clip_grad_norm, ema_update};
use crate::plot::{Series, line_chart};
use crate::run::RunInfo;
use crate::runlog::{self, RunLog};
use crate::tensor::{tensor4, to_image};
use anyhow::{Context, Result, bail};
use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::ElementConversion;
use burn::tensor::backend::{AutodiffBackend, Backend};
use lrpo_shared::degrade::DegradePreset;
use lrpo_shared::image::save_rgb;
use lrpo_shared::metrics::{psnr, ssim::ssim};
use lrpo_shared::resize::{Filter, resize};
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::NoiseSchedule;
use ndarray::{Array3, Array4, Axis, concatenate};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Stream of the per-step timesteps and noise.
const NOISE_STREAM: u64 = 0x0015_E57E_A11E_0001;
/// Stream of the validation degradations.
const VAL_STREAM: u64 = 0x0000_7A11_DA7E_0002;
/// Stream of the validation sampling noise.
const VAL_NOISE_STREAM: u64 = 0x0000_7A11_5EED_0003;

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

/// Validation figures on the held-out faces (means over faces).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Step validated at.
    pub step: u64,
    /// PSNR (dB) of the sampled restorations.
    pub psnr: f64,
    /// SSIM of the sampled restorations.
    pub ssim: f64,
    /// PSNR of bicubic upsampling of the small LQ.
    pub psnr_bicubic: f64,
    /// SSIM of bicubic upsampling of the small LQ.
    pub ssim_bicubic: f64,
    /// PSNR of the LQ input as given (bilinear-upsampled by the degradation).
    pub psnr_lq: f64,
    /// Faces validated.
    pub faces: usize,
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

/// Validates `model` on the held-out faces: a fixed degradation per face (seeded), DDIM
/// sampling, and PSNR/SSIM against the GT and against a bicubic baseline. Writes
/// `RUN/samples/step_N/NAME.png` grids (LQ | bicubic | restored | GT).
pub fn validate<B: Backend>(
    model: &UNet<B>,
    cfg: &RunConfig,
    set: &FaceSet,
    schedule: &NoiseSchedule,
    step: u64,
    out: Option<&Path>,
    device: &B::Device,
) -> Result<Option<Validation>> {
    if set.val.is_empty() {
        return Ok(None);
    }
    let preset = DegradePreset::by_name(&cfg.data.preset)?;
    let r = cfg.data.resolution;
    let p = &cfg.pretrain;
    let mut samples = Vec::new();
    for (i, f) in set.val.iter().enumerate() {
        samples.push(make_sample(
            f,
            &AugmentConfig::none(),
            &preset,
            &mut Rng::derive(p.seed ^ VAL_STREAM, i as u64),
        )?);
    }
    let n = samples.len();
    let lq: Vec<f32> = samples
        .iter()
        .flat_map(|s| s.lq.iter().map(|v| 2.0 * v - 1.0))
        .collect();
    let lq_t = tensor4::<B>(lq, n, r, device);
    let x = ddim_sample(
        model,
        schedule,
        lq_t,
        cfg.val_sampling().0,
        cfg.val_sampling().1,
        cfg.sampling.clip_x0,
        &mut Rng::derive(p.seed ^ VAL_NOISE_STREAM, 0),
    )?;
    let mut v = Validation {
        step,
        psnr: 0.0,
        ssim: 0.0,
        psnr_bicubic: 0.0,
        ssim_bicubic: 0.0,
        psnr_lq: 0.0,
        faces: n,
    };
    for (i, s) in samples.iter().enumerate() {
        let restored = to_image(&x, i)?;
        let bicubic =
            resize(&s.lq_small.view(), r, r, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0));
        v.psnr += psnr(&restored.view(), &s.hq.view())?;
        v.ssim += ssim(&restored.view(), &s.hq.view())?;
        v.psnr_bicubic += psnr(&bicubic.view(), &s.hq.view())?;
        v.ssim_bicubic += ssim(&bicubic.view(), &s.hq.view())?;
        v.psnr_lq += psnr(&s.lq.view(), &s.hq.view())?;
        if let Some(out) = out {
            let grid = concatenate(
                Axis(2),
                &[s.lq.view(), bicubic.view(), restored.view(), s.hq.view()],
            )?;
            let name = set.val[i].name.replace(['/', '\\'], "_");
            let stem = Path::new(&name).with_extension("");
            save_rgb(
                &out.join(format!("samples/step_{step:07}/{}.png", stem.display())),
                &grid.view(),
            )?;
        }
    }
    for x in [
        &mut v.psnr,
        &mut v.ssim,
        &mut v.psnr_bicubic,
        &mut v.ssim_bicubic,
        &mut v.psnr_lq,
    ] {
        *x /= n as f64;
    }
    Ok(Some(v))
}

/// Redraws `RUN/plots/*.png` from `RUN/metrics.jsonl`.
pub fn plot_run(run: &Path) -> Result<()> {
    let recs = runlog::read(&run.join("metrics.jsonl"))?;
    let loss = runlog::series(&recs, "train", "loss");
    if !loss.is_empty() {
        line_chart(
            &run.join("plots/loss.png"),
            "training loss (eps MSE)",
            "step",
            &[Series {
                label: "loss",
                color: [200, 40, 40],
                points: &loss,
            }],
            true,
        )?;
    }
    let (vp, vb) = (
        runlog::series(&recs, "val", "psnr"),
        runlog::series(&recs, "val", "psnr_bicubic"),
    );
    if !vp.is_empty() {
        line_chart(
            &run.join("plots/val_psnr.png"),
            "held-out PSNR (dB)",
            "step",
            &[
                Series {
                    label: "restored",
                    color: [30, 90, 200],
                    points: &vp,
                },
                Series {
                    label: "bicubic",
                    color: [120, 120, 120],
                    points: &vb,
                },
            ],
            false,
        )?;
        let (vs, vsb) = (
            runlog::series(&recs, "val", "ssim"),
            runlog::series(&recs, "val", "ssim_bicubic"),
        );
        line_chart(
            &run.join("plots/val_ssim.png"),
            "held-out SSIM",
            "step",
            &[
                Series {
                    label: "restored",
                    color: [30, 90, 200],
                    points: &vs,
                },
                Series {
                    label: "bicubic",
                    color: [120, 120, 120],
                    points: &vsb,
                },
            ],
            false,
        )?;
    }
    Ok(())
}

impl BackendTask for Pretrain {
    type Output = Summary;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Summary> {
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
            eprintln!("warning: {} file(s) skipped", set.skipped.len());
        }
        std::fs::create_dir_all(&run)
            .with_context(|| format!("{}: cannot create the run folder", run.display()))?;
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
                .with_context(|| format!("{}: no checkpoint to resume from", run.display()))?;
            model = model.load_record(ck.record::<B, _>("model.mpk", &device)?);
            ema = ema.load_record(ck.record::<B::InnerBackend, _>("ema.mpk", &device)?);
            optim = optim.load_record(ck.record::<B, _>("optim.mpk", &device)?);
            start = ck.state.step;
            win_sum = ck.state.extra["win_sum"].as_f64().unwrap_or(0.0);
            win_n = ck.state.extra["win_n"].as_u64().unwrap_or(0);
            eprintln!("resuming {} at step {start}", run.display());
        }
        let end = p.steps;
        if start >= end {
            bail!(
                "{}: already trained for {start} steps (config: {end})",
                run.display()
            );
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
            let loss_v = loss.clone().into_scalar().elem::<f64>();
            if !loss_v.is_finite() {
                bail!(
                    "loss became {loss_v} at step {step}; the last checkpoint in {} is intact",
                    checkpoint::dir(&run).display()
                );
            }
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            let gnorm = clip_grad_norm(&model, &mut grads, p.grad_clip);
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

/// Samples restorations of aligned LQ crops with a pretraining run's EMA weights or an LRPO
/// run's weights ([`crate::run::load_policy`]). Each crop is resized to
/// the training resolution (bicubic) and the result back to the crop's size.
pub fn sample_images<B: Backend>(
    run: &Path,
    inputs: &[Array3<f32>],
    steps: Option<usize>,
    eta: Option<f64>,
    seed: u64,
    device: &B::Device,
) -> Result<Vec<Array3<f32>>> {
    let (cfg, model, _) = crate::run::load_policy::<B>(run, device)?;
    let schedule = NoiseSchedule::new(cfg.schedule.clone())?;
    let r = cfg.data.resolution;
    let mut out = Vec::new();
    for (i, img) in inputs.iter().enumerate() {
        let (_, h, w) = img.dim();
        let x = if (h, w) == (r, r) {
            img.clone()
        } else {
            resize(&img.view(), r, r, Filter::Bicubic)?
        };
        let mut b = Array4::<f32>::zeros((1, 3, r, r));
        b.index_axis_mut(Axis(0), 0)
            .assign(&x.mapv(|v| 2.0 * v.clamp(0.0, 1.0) - 1.0));
        let lq = tensor4::<B>(b.into_raw_vec_and_offset().0, 1, r, device);
        let y = ddim_sample(
            &model,
            &schedule,
            lq,
            steps.unwrap_or(cfg.sampling.steps),
            eta.unwrap_or(cfg.sampling.eta),
            cfg.sampling.clip_x0,
            &mut Rng::derive(seed, i as u64),
        )?;
        let y = to_image(&y, 0)?;
        out.push(if (h, w) == (r, r) {
            y
        } else {
            resize(&y.view(), h, w, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0))
        });
    }
    Ok(out)
}
