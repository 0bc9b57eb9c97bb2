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

pub mod config;
mod loss;
mod pairs;
mod pool;
mod validate;

pub use config::DistillConfig;
pub use loss::ssim_loss;
pub use pairs::fresh_pairs;
pub use pool::{Pool, teacher_pool};
pub use validate::validate_student;

use crate::backend::BackendTask;
use crate::backend::TrainBackend;
use crate::checkpoint;
use crate::config::RunConfig;
use crate::data::{FaceSet, Loader, image_for_sample};
use crate::error::{Error, Result};
use crate::model::student::{Student, init};
use crate::optim_utils::{LrSchedule, clip_to_norm, grad_sq_sum};
use crate::run::RunInfo;
use crate::runlog::{self, RunLog};
use crate::tensor::read_scalars;
use crate::tensor::stack;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::{Tensor, TensorData};
use ndarray::Array3;
use std::path::PathBuf;
use std::time::Instant;

const POOL_STREAM: u64 = 0x0000_D157_0000_000B;
const FRESH_STREAM: u64 = 0x0000_F2E5_0000_000D;

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

impl BackendTask for Distill {
    type Output = Summary;
    type Error = Error;

    fn run<B: TrainBackend>(self, device: B::Device) -> Result<Summary> {
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
            (true, None) => {
                return Err(Error::config(
                    "distill: w_teacher or w_ssim is above 0, so a teacher run is needed (--teacher)",
                ));
            }
            (true, t) => t,
            (false, _) => None,
        };
        let set = FaceSet::load(&data, &cfg.data)?;
        std::fs::create_dir_all(&run).map_err(|e| Error::io(&run, "cannot create", e))?;
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
                .ok_or_else(|| Error::run(&run, "no checkpoint to resume from"))?;
            model = model.load_record(ck.record::<B, _>("model.mpk", &device)?);
            optim = optim.load_record(ck.record::<B, _>("optim.mpk", &device)?);
            start = ck.state.step;
        }
        if start >= d.steps {
            return Err(Error::run(
                &run,
                format!("already trained for {start} steps"),
            ));
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
            let mut input_l1 = None;
            if let Some(loader) = &fresh {
                let b = loader.next_batch()?;
                let (lq, gt) = fresh_pairs(&b, d.seed, d.clean_fraction);
                let shape = [b.n, 3, b.size, b.size];
                let lq = Tensor::<B, 4>::from_data(TensorData::new(lq, shape), &device);
                let gt = Tensor::<B, 4>::from_data(TensorData::new(gt, shape), &device);
                input_l1 = Some((lq.clone() - gt.clone()).abs().mean().inner());
                loss = loss + (model.forward(lq) - gt).abs().mean().mul_scalar(d.w_gt);
            }
            // The step's scalars in one read-back: loss, squared gradient norm, input L1.
            let loss_dev = loss.clone().inner().reshape([1]);
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            let sq = grad_sq_sum::<B, _>(&model, &grads, &device);
            let read = read_scalars([loss_dev, sq].into_iter().chain(input_l1).collect())?;
            let (lv, gn) = (read[0], read[1].sqrt());
            win_input += read.get(2).copied().unwrap_or(0.0);
            if !lv.is_finite() {
                return Err(Error::diverged(
                    format!("distillation loss at step {step}"),
                    format!("became {lv}"),
                ));
            }
            clip_to_norm(&model, &mut grads, gn, d.grad_clip);
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
