//! Distillation of the LRPO teacher into the one-step student.
//!
//! A fixed pool of training pairs (an augmented HQ face and its degradation, drawn from the
//! seed) is restored once by the teacher (DDIM, configurable steps, η and seed) and cached on
//! disk (`RUN/teacher/`, reused while the teacher, its sampling settings and the pool are
//! unchanged). The student then minimises
//! `L = w_t·L1(s(lq), teacher(lq)) + w_ssim·(1 − SSIM(s(lq), teacher(lq))) + w_gt·L1(s(lq'), gt')`,
//! where the teacher terms run on pool pairs and the ground-truth term, by default, on fresh
//! pairs `(lq', gt')` drawn for every step (new augmentation and degradation of the training
//! faces, so that it cannot be memorised), a share `clean_fraction` of them clean (`lq' = gt'`:
//! a clean face must come out as it went in). With both teacher weights 0 no teacher is needed
//! (a supervised student). Same optimiser, logging, checkpoints and exact resume as
//! pretraining.

use crate::backend::BackendTask;
use crate::checkpoint;
use crate::config::RunConfig;
use crate::data::{Batch, FaceSet, Loader, image_for_sample, make_sample};
use crate::diffusion::ddim_sample;
use crate::evaluate::load_policy;
use crate::model::student::{Student, init};
use crate::optim_utils::{LrSchedule, clip_grad_norm};
use crate::pretrain::{RunInfo, tensor4, to_image};
use crate::runlog::{self, RunLog};
use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorData};
use lrpo_shared::degrade::DegradePreset;
use lrpo_shared::image::{load_rgb, save_rgb};
use lrpo_shared::metrics::{psnr, ssim::ssim};
use lrpo_shared::onnx::student::StudentSpec;
use lrpo_shared::resize::{Filter, resize};
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::NoiseSchedule;
use ndarray::Array3;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

const POOL_STREAM: u64 = 0x0000_D157_0000_000B;
const TEACHER_STREAM: u64 = 0x0000_7EAC_0000_000C;
const FRESH_STREAM: u64 = 0x0000_F2E5_0000_000D;
const CLEAN_STREAM: u64 = 0x0000_C1EA_0000_000E;

/// Distillation settings (`[distill]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillConfig {
    /// The student's size. Default: 16, 32, 64 channels, one residual block (1.66 GFLOP per
    /// 256 × 256 face).
    pub student: StudentSpec,
    /// Training pairs restored by the teacher. Default 256.
    pub pool: usize,
    /// Teacher DDIM steps. Default: `[sampling] steps`.
    pub teacher_steps: Option<usize>,
    /// Teacher DDIM η. Default: `[sampling] eta`. (η 0 gives the teacher's deterministic
    /// sample, one target per input; η > 0 a sample of its distribution.)
    pub teacher_eta: Option<f64>,
    /// Seed of the teacher's sampling noise. Default 0.
    pub teacher_seed: u64,
    /// Teacher samples computed per batch. Default 16.
    pub teacher_batch: usize,
    /// Optimiser steps. Default 2000.
    pub steps: u64,
    /// Pairs per step. Default 16.
    pub batch_size: usize,
    /// Peak learning rate (AdamW). Default 1e-3.
    pub lr: f64,
    /// Warm-up steps. Default 50.
    pub warmup_steps: u64,
    /// Final learning rate as a fraction of the peak. Default 0.05.
    pub min_lr_ratio: f64,
    /// Global gradient-norm clip (0 = off). Default 1.0.
    pub grad_clip: f64,
    /// Weight of L1 to the teacher's output. Default 1.
    pub w_teacher: f64,
    /// Weight of L1 to the ground truth. Default 0.
    pub w_gt: f64,
    /// Weight of 1 − SSIM to the teacher's output. Default 0.
    pub w_ssim: f64,
    /// Ground-truth term on fresh pairs drawn every step (else on the pool's pairs). Default
    /// true.
    pub fresh_gt: bool,
    /// Share of the fresh pairs whose input is the clean face itself, in [0, 1). Default 0.1.
    pub clean_fraction: f64,
    /// Seed (pool, order, student initialisation). Default 0.
    pub seed: u64,
    /// Checkpoint every N steps. Default 200.
    pub checkpoint_every: u64,
    /// Steps whose checkpoints are written and kept (the three newest are kept anyway).
    /// Default none.
    pub keep_steps: Vec<u64>,
    /// Log every N steps. Default 20.
    pub log_every: u64,
}

impl DistillConfig {
    /// Checks values that TOML types cannot; every message names the `[distill]` key.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (key, v) in [
            ("pool", self.pool as u64),
            ("teacher_batch", self.teacher_batch as u64),
            ("steps", self.steps),
            ("batch_size", self.batch_size as u64),
            ("checkpoint_every", self.checkpoint_every),
            ("log_every", self.log_every),
        ] {
            anyhow::ensure!(v > 0, "distill.{key} must be at least 1, found {v}");
        }
        anyhow::ensure!(
            self.teacher_steps != Some(0),
            "distill.teacher_steps must be at least 1, found 0"
        );
        if let Some(e) = self.teacher_eta {
            anyhow::ensure!(
                (0.0..=1.0).contains(&e),
                "distill.teacher_eta must be in [0, 1], found {e}"
            );
        }
        anyhow::ensure!(
            self.lr.is_finite() && self.lr >= 0.0,
            "distill.lr must be a finite number >= 0, found {}",
            self.lr
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.min_lr_ratio) && self.grad_clip >= 0.0,
            "distill.min_lr_ratio must be in [0, 1] and grad_clip >= 0, found {} and {}",
            self.min_lr_ratio,
            self.grad_clip
        );
        for (key, w) in [
            ("w_teacher", self.w_teacher),
            ("w_gt", self.w_gt),
            ("w_ssim", self.w_ssim),
        ] {
            anyhow::ensure!(
                w.is_finite() && w >= 0.0,
                "distill.{key} must be a finite weight >= 0, found {w}"
            );
        }
        anyhow::ensure!(
            (0.0..1.0).contains(&self.clean_fraction),
            "distill.clean_fraction must be in [0, 1), found {}",
            self.clean_fraction
        );
        anyhow::ensure!(
            self.w_teacher + self.w_gt + self.w_ssim > 0.0,
            "distill: w_teacher, w_gt and w_ssim are all 0, so there is nothing to learn"
        );
        Ok(())
    }

    /// Whether the loss has a teacher term (else the student is trained on the ground truth
    /// alone and no teacher is needed).
    pub fn uses_teacher(&self) -> bool {
        self.w_teacher > 0.0 || self.w_ssim > 0.0
    }
}

impl Default for DistillConfig {
    fn default() -> Self {
        DistillConfig {
            student: StudentSpec::default(),
            pool: 256,
            teacher_steps: None,
            teacher_eta: None,
            teacher_seed: 0,
            teacher_batch: 16,
            steps: 2000,
            batch_size: 16,
            lr: 1e-3,
            warmup_steps: 50,
            min_lr_ratio: 0.05,
            grad_clip: 1.0,
            w_teacher: 1.0,
            w_gt: 0.0,
            w_ssim: 0.0,
            fresh_gt: true,
            clean_fraction: 0.1,
            seed: 0,
            checkpoint_every: 200,
            keep_steps: vec![],
            log_every: 20,
        }
    }
}

/// A distillation run.
pub struct Distill {
    /// Configuration: the teacher run's model, schedule, data and sampling (or, without a
    /// teacher, the given configuration's); this run's `[distill]`.
    pub cfg: RunConfig,
    /// Teacher run folder (pretraining or LRPO); required when [`DistillConfig::uses_teacher`].
    pub teacher: Option<PathBuf>,
    /// HQ faces.
    pub data: PathBuf,
    /// Run folder.
    pub run: PathBuf,
    /// Continue from the latest checkpoint.
    pub resume: bool,
    /// Stop after this many steps.
    pub stop_at: Option<u64>,
}

/// The teacher-labelled pool.
pub struct Pool {
    /// LQ inputs, [0, 1].
    pub lq: Vec<Array3<f32>>,
    /// Teacher restorations, [0, 1] (8-bit values, as cached).
    pub teacher: Vec<Array3<f32>>,
    /// Ground truth, [0, 1].
    pub gt: Vec<Array3<f32>>,
}

/// What a distillation run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Steps done.
    pub step: u64,
    /// Logged `(step, loss)`.
    pub losses: Vec<(u64, f64)>,
    /// Logged `(step, L1 of the fresh inputs to their ground truth)` (empty without fresh
    /// pairs); with `w_gt = 1` and no teacher term, a loss below it means the student improves
    /// on its input.
    pub input_l1: Vec<(u64, f64)>,
    /// Held-out PSNR/SSIM of the student against GT, and of the teacher.
    pub validation: Option<serde_json::Value>,
    /// Seconds spent labelling the pool with the teacher (0 when cached).
    pub teacher_seconds: f64,
    /// Seconds spent training.
    pub seconds: f64,
}

/// Builds (or loads from the cache) the teacher-labelled pool.
pub fn teacher_pool<B: Backend>(
    cfg: &RunConfig,
    teacher: &Path,
    set: &FaceSet,
    run: &Path,
    device: &B::Device,
) -> Result<(Pool, f64)> {
    let d = &cfg.distill;
    let preset = DegradePreset::by_name(&cfg.data.preset)?;
    let (_, model, what) = load_policy::<B>(teacher, device)?;
    let (teacher_steps, teacher_eta) = cfg.teacher_sampling();
    let key = serde_json::json!({"teacher": teacher, "policy": what, "steps": teacher_steps, "eta": teacher_eta, "seed": d.teacher_seed, "pool": d.pool, "pool_seed": d.seed, "data": cfg.data, "faces": set.train.iter().map(|f| &f.name).collect::<Vec<_>>(), "clip_x0": cfg.sampling.clip_x0});
    let cache = run.join("teacher");
    let mut pool = Pool {
        lq: Vec::new(),
        teacher: Vec::new(),
        gt: Vec::new(),
    };
    let mut samples = Vec::new();
    for p in 0..d.pool {
        let face = &set.train[image_for_sample(d.seed ^ POOL_STREAM, p as u64, set.train.len())];
        let s = make_sample(
            face,
            &cfg.data.augment,
            &preset,
            &mut Rng::derive(d.seed ^ POOL_STREAM, p as u64),
        )?;
        samples.push(s);
    }
    let key_path = cache.join("key.json");
    let cached = key_path.exists()
        && serde_json::from_slice::<serde_json::Value>(&std::fs::read(&key_path)?).ok()
            == Some(key.clone())
        && (0..d.pool).all(|p| cache.join(format!("{p:05}.png")).exists());
    let t0 = Instant::now();
    if cached {
        for (p, s) in samples.into_iter().enumerate() {
            pool.teacher
                .push(load_rgb(&cache.join(format!("{p:05}.png")))?);
            pool.lq.push(s.lq);
            pool.gt.push(s.hq);
        }
        return Ok((pool, 0.0));
    }
    let _ = std::fs::remove_dir_all(&cache);
    std::fs::create_dir_all(&cache)?;
    let schedule = NoiseSchedule::new(cfg.schedule.clone())?;
    let r = cfg.data.resolution;
    let mut progress =
        lrpo_shared::progress::Progress::new(d.pool.div_ceil(d.teacher_batch.max(1)));
    for (bi, chunk) in samples.chunks(d.teacher_batch.max(1)).enumerate() {
        let lq: Vec<f32> = chunk
            .iter()
            .flat_map(|s| s.lq.iter().map(|v| 2.0 * v - 1.0).collect::<Vec<_>>())
            .collect();
        let x = ddim_sample(
            &model,
            &schedule,
            tensor4::<B>(lq, chunk.len(), r, device),
            teacher_steps,
            teacher_eta,
            cfg.sampling.clip_x0,
            &mut Rng::derive(d.teacher_seed ^ TEACHER_STREAM, bi as u64),
        )?;
        for (i, s) in chunk.iter().enumerate() {
            let p = bi * d.teacher_batch.max(1) + i;
            let y = lrpo_shared::image::quantize_u8(&to_image(&x, i)?.view())?;
            save_rgb(&cache.join(format!("{p:05}.png")), &y.view())?;
            pool.teacher.push(y);
            pool.lq.push(s.lq.clone());
            pool.gt.push(s.hq.clone());
        }
        progress.tick(&format!("teacher batch {}", bi + 1));
    }
    lrpo_shared::fsio::write_atomic(&key_path, serde_json::to_string_pretty(&key)?.as_bytes())?;
    Ok((pool, t0.elapsed().as_secs_f64()))
}

/// The fresh pairs of a loader batch in [0, 1] (`lq`, `gt`, flattened NCHW): item `i` of step
/// `s` is clean (`lq = gt`) with probability `clean_fraction`, drawn from its own sub-stream of
/// `seed`, so that a resumed run draws the same pairs.
pub fn fresh_pairs(b: &Batch, seed: u64, clean_fraction: f64) -> (Vec<f32>, Vec<f32>) {
    let per = 3 * b.size * b.size;
    let gt: Vec<f32> = b.hq.iter().map(|v| (v + 1.0) / 2.0).collect();
    let mut lq: Vec<f32> = b.lq.iter().map(|v| (v + 1.0) / 2.0).collect();
    for i in 0..b.n {
        let p = b.step * b.n as u64 + i as u64;
        if clean_fraction > 0.0 && Rng::derive(seed ^ CLEAN_STREAM, p).bernoulli(clean_fraction) {
            lq[i * per..(i + 1) * per].copy_from_slice(&gt[i * per..(i + 1) * per]);
        }
    }
    (lq, gt)
}

fn stack<B: Backend>(imgs: &[&Array3<f32>], device: &B::Device) -> Tensor<B, 4> {
    let (_, h, w) = imgs[0].dim();
    let v: Vec<f32> = imgs.iter().flat_map(|a| a.iter().copied()).collect();
    Tensor::from_data(TensorData::new(v, [imgs.len(), 3, h, w]), device)
}

/// A `[3, H, W]` image from item `i` of a `[N, 3, H, W]` [0, 1] tensor (clamped).
pub fn unit_image<B: Backend>(x: &Tensor<B, 4>, i: usize) -> Result<Array3<f32>> {
    let [_, c, h, w] = x.dims();
    let v: Vec<f32> = x
        .clone()
        .narrow(0, i, 1)
        .into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(Array3::from_shape_vec((c, h, w), v)?.mapv(|v| v.clamp(0.0, 1.0)))
}

/// Differentiable SSIM (Gaussian window σ 1.5, 11 taps, data range 1) averaged over the image,
/// computed with depthwise convolutions without padding (the valid region, as the metric crops).
pub fn ssim_loss<B: Backend>(x: Tensor<B, 4>, y: Tensor<B, 4>) -> Tensor<B, 1> {
    let device = x.device();
    let g: Vec<f32> = {
        let v: Vec<f64> = (-5i32..=5)
            .map(|i| (-(i * i) as f64 / (2.0 * 2.25)).exp())
            .collect();
        let s: f64 = v.iter().sum();
        v.iter().map(|x| (x / s) as f32).collect()
    };
    let w2: Vec<f32> = (0..3)
        .flat_map(|_| (0..121).map(|k| g[k / 11] * g[k % 11]).collect::<Vec<_>>())
        .collect();
    let weight = Tensor::<B, 4>::from_data(TensorData::new(w2, [3, 1, 11, 11]), &device);
    let blur = |t: Tensor<B, 4>| {
        burn::tensor::module::conv2d(
            t,
            weight.clone(),
            None,
            burn::tensor::ops::ConvOptions::new([1, 1], [0, 0], [1, 1], 3),
        )
    };
    let (mx, my) = (blur(x.clone()), blur(y.clone()));
    let vx = blur(x.clone() * x.clone()) - mx.clone() * mx.clone();
    let vy = blur(y.clone() * y.clone()) - my.clone() * my.clone();
    let vxy = blur(x * y) - mx.clone() * my.clone();
    let (c1, c2) = (1e-4, 9e-4);
    let num = (mx.clone() * my.clone()).mul_scalar(2.0).add_scalar(c1)
        * vxy.mul_scalar(2.0).add_scalar(c2);
    let den = (mx.clone() * mx + my.clone() * my).add_scalar(c1) * (vx + vy).add_scalar(c2);
    (num / den).mean()
}

impl BackendTask for Distill {
    type Output = Summary;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Summary> {
        let Distill {
            cfg,
            teacher,
            data,
            run,
            resume,
            stop_at,
        } = self;
        let d = cfg.distill.clone();
        let teacher = match (d.uses_teacher(), teacher) {
            (true, None) => bail!(
                "distill: w_teacher or w_ssim is above 0, so a teacher run is needed (--teacher)"
            ),
            (true, t) => t,
            (false, _) => None,
        };
        let set = FaceSet::load(&data, &cfg.data)?;
        std::fs::create_dir_all(&run)?;
        cfg.save(&run.join("config.toml"))?;
        lrpo_shared::fsio::write_atomic(
            &run.join("run.json"),
            serde_json::to_string_pretty(&RunInfo {
                command: "distill".into(),
                data: data.clone(),
                init: teacher.clone(),
            })?
            .as_bytes(),
        )?;
        let (pool, teacher_seconds) = match &teacher {
            Some(t) => teacher_pool::<B::InnerBackend>(&cfg, t, &set, &run, &device)?,
            None => (
                Pool {
                    lq: vec![],
                    teacher: vec![],
                    gt: vec![],
                },
                0.0,
            ),
        };
        B::seed(&device, d.seed);
        let mut model: Student<B> = init(&d.student, &device);
        let mut optim = AdamWConfig::new()
            .with_weight_decay(0.0)
            .init::<B, Student<B>>();
        let mut start = 0;
        if resume {
            let mut ck = checkpoint::load_latest(&run)?
                .with_context(|| format!("{}: no checkpoint to resume from", run.display()))?;
            let dir = ck.dir.clone();
            model = model.load_record(checkpoint::from_bytes::<B, _>(
                ck.take("model.mpk")?,
                &device,
                &dir.join("model.mpk"),
            )?);
            optim = optim.load_record(checkpoint::from_bytes::<B, _>(
                ck.take("optim.mpk")?,
                &device,
                &dir.join("optim.mpk"),
            )?);
            start = ck.state.step;
        }
        if start >= d.steps {
            bail!("{}: already trained for {start} steps", run.display());
        }
        let fresh = (d.w_gt > 0.0 && (d.fresh_gt || teacher.is_none()))
            .then(|| {
                Loader::spawn(
                    set.clone(),
                    cfg.data.clone(),
                    d.seed ^ FRESH_STREAM,
                    start,
                    d.steps,
                    d.batch_size,
                )
            })
            .transpose()?;
        let lr = LrSchedule {
            lr: d.lr,
            warmup: d.warmup_steps,
            total: d.steps,
            min_ratio: d.min_lr_ratio,
        };
        let mut log = RunLog::open(&run, resume.then_some(start))?;
        let mut progress =
            lrpo_shared::progress::Progress::starting_at(start as usize, d.steps as usize);
        let t0 = Instant::now();
        let mut losses = Vec::new();
        let mut inputs = Vec::new();
        let (mut win, mut win_n, mut win_input) = (0.0, 0u64, 0.0);
        let mut step = start;
        while step < d.steps {
            let mut loss = Tensor::<B, 1>::zeros([1], &device);
            if teacher.is_some() {
                let idx: Vec<usize> = (0..d.batch_size)
                    .map(|i| {
                        image_for_sample(
                            d.seed ^ 0x51,
                            step * d.batch_size as u64 + i as u64,
                            pool.lq.len(),
                        )
                    })
                    .collect();
                let pick = |v: &[Array3<f32>]| {
                    stack::<B>(&idx.iter().map(|&i| &v[i]).collect::<Vec<_>>(), &device)
                };
                let out = model.forward(pick(&pool.lq));
                let target = pick(&pool.teacher);
                if d.w_teacher > 0.0 {
                    loss = loss
                        + (out.clone() - target.clone())
                            .abs()
                            .mean()
                            .mul_scalar(d.w_teacher);
                }
                if d.w_gt > 0.0 && fresh.is_none() {
                    loss = loss
                        + (out.clone() - pick(&pool.gt))
                            .abs()
                            .mean()
                            .mul_scalar(d.w_gt);
                }
                if d.w_ssim > 0.0 {
                    loss = loss
                        + ssim_loss(out, target)
                            .neg()
                            .add_scalar(1.0)
                            .mul_scalar(d.w_ssim);
                }
            }
            if let Some(loader) = &fresh {
                let b = loader.next_batch()?;
                let (lq, gt) = fresh_pairs(&b, d.seed, d.clean_fraction);
                let shape = [b.n, 3, b.size, b.size];
                let lq = Tensor::<B, 4>::from_data(TensorData::new(lq, shape), &device);
                let gt = Tensor::<B, 4>::from_data(TensorData::new(gt, shape), &device);
                win_input += (lq.clone() - gt.clone())
                    .abs()
                    .mean()
                    .into_scalar()
                    .elem::<f64>();
                loss = loss + (model.forward(lq) - gt).abs().mean().mul_scalar(d.w_gt);
            }
            let lv = loss.clone().into_scalar().elem::<f64>();
            if !lv.is_finite() {
                bail!("distillation loss became {lv} at step {step}");
            }
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            let gn = clip_grad_norm(&model, &mut grads, d.grad_clip);
            let rate = lr.at(step);
            model = optim.step(rate, model, grads);
            step += 1;
            win += lv;
            win_n += 1;
            if step.is_multiple_of(d.log_every) || step == d.steps {
                let l = win / win_n as f64;
                let mut rec = serde_json::json!({"kind": "distill", "step": step, "loss": l, "lr": rate, "grad_norm": gn, "elapsed": t0.elapsed().as_secs_f64()});
                if fresh.is_some() {
                    // L1 of the fresh inputs themselves: what the ground-truth term would be
                    // for a student that changes nothing.
                    rec["input_l1"] = (win_input / win_n as f64).into();
                    inputs.push((step, win_input / win_n as f64));
                }
                log.log(rec)?;
                losses.push((step, l));
                (win, win_n, win_input) = (0.0, 0, 0.0);
            }
            let stopping = stop_at == Some(step);
            if step.is_multiple_of(d.checkpoint_every)
                || step == d.steps
                || stopping
                || d.keep_steps.contains(&step)
            {
                let blobs = [
                    (
                        "model.mpk",
                        checkpoint::to_bytes::<B, _>(model.clone().into_record())?,
                    ),
                    (
                        "optim.mpk",
                        checkpoint::to_bytes::<B, _>(optim.to_record())?,
                    ),
                ];
                checkpoint::save(&run, step, &blobs, serde_json::json!({}), 3, &d.keep_steps)?;
                let recs = runlog::read(&run.join("metrics.jsonl"))?;
                let pts = runlog::series(&recs, "distill", "loss");
                crate::plot::line_chart(
                    &run.join("plots/loss.png"),
                    "distillation loss",
                    "step",
                    &[crate::plot::Series {
                        label: "loss",
                        color: [200, 40, 40],
                        points: &pts,
                    }],
                    true,
                )?;
            }
            progress.tick(&format!("step {step} loss {lv:.4}"));
            if stopping {
                break;
            }
        }
        // Held-out check: student against GT and against the teacher's own samples.
        let validation = validate_student(&model, &cfg, &set, teacher.as_deref(), &device)?;
        if let Some(v) = &validation {
            let mut rec = v.clone();
            rec["kind"] = "val".into();
            rec["step"] = step.into();
            log.log(rec)?;
        }
        Ok(Summary {
            step,
            losses,
            input_l1: inputs,
            validation,
            teacher_seconds,
            seconds: t0.elapsed().as_secs_f64(),
        })
    }
}

/// Student, teacher (when there is one) and bicubic PSNR/SSIM on the held-out faces (fixed
/// degradations).
pub fn validate_student<B: AutodiffBackend>(
    model: &Student<B>,
    cfg: &RunConfig,
    set: &FaceSet,
    teacher: Option<&Path>,
    device: &B::Device,
) -> Result<Option<serde_json::Value>> {
    use burn::module::AutodiffModule;
    if set.val.is_empty() {
        return Ok(None);
    }
    let preset = DegradePreset::by_name(&cfg.data.preset)?;
    let r = cfg.data.resolution;
    let tmodel = teacher
        .map(|t| load_policy::<B::InnerBackend>(t, device).map(|(_, m, _)| m))
        .transpose()?;
    let schedule = NoiseSchedule::new(cfg.schedule.clone())?;
    let student = model.valid();
    let mut acc = [0.0f64; 6];
    for (i, f) in set.val.iter().enumerate() {
        let s = make_sample(
            f,
            &crate::data::AugmentConfig::none(),
            &preset,
            &mut Rng::derive(cfg.distill.seed ^ 0x7A1, i as u64),
        )?;
        let lq = stack::<B::InnerBackend>(&[&s.lq], device);
        let out = unit_image(&student.forward(lq), 0)?;
        let bic = resize(&s.lq_small.view(), r, r, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0));
        let t = match &tmodel {
            Some(m) => {
                let t = ddim_sample(
                    m,
                    &schedule,
                    tensor4::<B::InnerBackend>(
                        s.lq.iter().map(|v| 2.0 * v - 1.0).collect(),
                        1,
                        r,
                        device,
                    ),
                    cfg.teacher_sampling().0,
                    cfg.teacher_sampling().1,
                    cfg.sampling.clip_x0,
                    &mut Rng::new(cfg.distill.teacher_seed),
                )?;
                Some(to_image(&t, 0)?)
            }
            None => None,
        };
        for (k, img) in [Some(&out), t.as_ref(), Some(&bic)].iter().enumerate() {
            if let Some(img) = img {
                acc[2 * k] += psnr(&img.view(), &s.hq.view())?;
                acc[2 * k + 1] += ssim(&img.view(), &s.hq.view())?;
            }
        }
    }
    let n = set.val.len() as f64;
    let mut v = serde_json::json!({"faces": set.val.len(), "student_psnr": acc[0] / n, "student_ssim": acc[1] / n, "bicubic_psnr": acc[4] / n, "bicubic_ssim": acc[5] / n});
    if tmodel.is_some() {
        v["teacher_psnr"] = (acc[2] / n).into();
        v["teacher_ssim"] = (acc[3] / n).into();
    }
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_of_fresh_pairs_is_clean_and_the_draw_is_pure() {
        let (n, size) = (400, 2);
        let per = 3 * size * size;
        let hq: Vec<f32> = (0..n * per).map(|i| (i % 7) as f32 / 7.0).collect();
        let b = Batch {
            step: 3,
            lq: hq.iter().map(|v| v - 0.5).collect(),
            hq,
            n,
            size,
        };
        let (lq, gt) = fresh_pairs(&b, 9, 0.25);
        let clean = (0..n)
            .filter(|i| lq[i * per..(i + 1) * per] == gt[i * per..(i + 1) * per])
            .count();
        // Binomial(400, 0.25): mean 100, sd 8.7.
        assert!((70..=130).contains(&clean), "{clean} clean of {n}");
        // The others keep their degraded input, mapped from [-1, 1] to [0, 1].
        let i = (0..n)
            .find(|i| lq[i * per..(i + 1) * per] != gt[i * per..(i + 1) * per])
            .unwrap();
        assert!((lq[i * per] - (b.lq[i * per] + 1.0) / 2.0).abs() < 1e-6);
        assert_eq!(fresh_pairs(&b, 9, 0.25), (lq, gt));
        let (lq0, gt0) = fresh_pairs(&b, 9, 0.0);
        assert!((0..n).all(|i| lq0[i * per..(i + 1) * per] != gt0[i * per..(i + 1) * per]));
    }
}
