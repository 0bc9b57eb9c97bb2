//! The LRPO training loop (see the module doc of [`crate::lrpo`]): rollouts, rewards,
//! advantages, PPO-clip with the GT-guided likelihood term, logging, guard rails, checkpoints.

use super::advantage::{advantages, shuffled, step_weights};
use super::config::RewardControl;
use super::records::{ComponentStats, IterationRecord, plot_rl, save_failure, save_grid, stats};
use super::rollout::{Trajectories, rollout};
use super::update::{UpdateBatch, ppo_update};
use super::validate::ValFaces;
use crate::backend::BackendTask;
use crate::backend::TrainBackend;
use crate::checkpoint;
use crate::config::RunConfig;
use crate::data::{FaceSet, image_for_sample, make_sample};
use crate::error::{Context, Error, Result, ensure_or};
use crate::model::unet::UNet;
use crate::run::RunInfo;
use crate::runlog::RunLog;
use crate::tensor::{model_values, tensor4, to_image};
use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamWConfig, Optimizer};
use burn::tensor::backend::Backend;
use lrpo_shared::degrade::DegradePreset;
use lrpo_shared::reward::{Reward, RewardBreakdown, RewardSpec};
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::{NoiseSchedule, step_std_devs};
use ndarray::Array3;
use std::path::{Path, PathBuf};
use std::time::Instant;

const RL_STREAM: u64 = 0x0000_12E1_0000_0007;
/// An LRPO run to perform.
pub struct Lrpo {
    /// Merged configuration (the init run's model, schedule, data, sampling; this run's `[rl]`).
    pub cfg: RunConfig,
    /// Folder of the initial policy's run (its latest checkpoint's EMA weights are the start).
    pub init: PathBuf,
    /// HQ faces.
    pub data: PathBuf,
    /// Run folder.
    pub run: PathBuf,
    /// Continue from the run's latest checkpoint.
    pub resume: bool,
    /// Stop after this many iterations (checkpointing first).
    pub stop_at: Option<u64>,
}

/// What an LRPO run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Iterations done.
    pub iterations: u64,
    /// Mean reward per iteration.
    pub rewards: Vec<(u64, f64)>,
    /// Seconds spent.
    pub seconds: f64,
}

/// Logs a fixed-validation record (`kind = "val"`): the mean reward and each face's.
fn log_val(log: &mut RunLog, it: u64, rewards: &[f64]) -> Result<()> {
    let mean = rewards.iter().sum::<f64>() / rewards.len().max(1) as f64;
    log.log(serde_json::json!({"kind": "val", "step": it, "reward": mean, "rewards": rewards}))
}

/// Builds the reward of a run from its config (paths relative to the working folder).
pub fn build_reward(cfg: &RunConfig) -> Result<Reward> {
    let spec = RewardSpec::load(&cfg.rl.reward)?;
    let dir = cfg
        .rl
        .reward
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let scorers = lrpo_shared::onnx::scorers::scorers_for(&spec, &dir, &cfg.rl.identity_model)?;
    Ok(Reward::new(spec, &scorers)?)
}

/// Loads the initial policy of an LRPO run (a pretraining run's EMA weights, or an LRPO run's
/// weights; [`crate::run::load_policy`]) onto backend `B`; its network must be `cfg`'s.
pub fn load_init<B: Backend>(cfg: &RunConfig, init: &Path, device: &B::Device) -> Result<UNet<B>> {
    let (init_cfg, m, _) = crate::run::load_policy::<B>(init, device)
        .with_context(|| format!("{}: cannot start LRPO from it", init.display()))?;
    ensure_or!(
        init_cfg.model == cfg.model,
        Error::run(init, "its [model] differs from this run's")
    );
    Ok(m)
}

impl BackendTask for Lrpo {
    type Output = Summary;
    type Error = Error;

    fn run<B: TrainBackend>(self, device: B::Device) -> Result<Summary> {
        let Lrpo {
            cfg,
            init,
            data,
            run,
            resume,
            stop_at,
        } = self;
        let rl = cfg.rl.clone();
        rl.validate()?;
        let schedule = NoiseSchedule::new(cfg.schedule.clone())?;
        let steps = schedule.ddim_steps(rl.ddim_steps, rl.eta)?;
        let sig = step_std_devs(&steps);
        let weights = step_weights(&sig, rl.step_weights);
        let trained = rl.trained_steps();
        let reward = build_reward(&cfg)?;
        let set = FaceSet::load(&data, &cfg.data)?;
        let preset = DegradePreset::by_name(&cfg.data.preset)?;
        std::fs::create_dir_all(&run).map_err(|e| Error::io(&run, "cannot create", e))?;
        cfg.save(&run.join("config.toml"))?;
        lrpo_shared::fsio::write_atomic(
            &run.join("run.json"),
            serde_json::to_string_pretty(&RunInfo {
                command: "rl".into(),
                data: data.clone(),
                init: Some(init.clone()),
            })?
            .as_bytes(),
        )?;
        let mut model: UNet<B> = load_init::<B>(&cfg, &init, &device)?;
        let reference = (rl.kl_beta > 0.0).then(|| model.valid());
        let mut optim = AdamWConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(rl.adam_eps as f32)
            .with_weight_decay(rl.weight_decay as f32)
            .init::<B, UNet<B>>();
        let mut start = 0u64;
        let mut first_std: Option<f64> = None;
        if resume {
            let mut ck = checkpoint::load_latest(&run)?
                .ok_or_else(|| Error::run(&run, "no checkpoint to resume from"))?;
            model = model.load_record(ck.record::<B, _>("model.mpk", &device)?);
            optim = optim.load_record(ck.record::<B, _>("optim.mpk", &device)?);
            start = ck.state.step;
            first_std = ck.state.extra["first_std"].as_f64();
        }
        if start >= rl.iterations {
            return Err(Error::run(
                &run,
                format!("already ran {start} iterations (config: {})", rl.iterations),
            ));
        }
        let mut log = RunLog::open(&run, resume.then_some(start))?;
        let (m, g, r) = (rl.groups, rl.group_size, cfg.data.resolution);
        let n = m * g;
        let mut progress =
            lrpo_shared::progress::Progress::starting_at(start as usize, rl.iterations as usize);
        let t0 = Instant::now();
        let mut rewards_curve = Vec::new();
        let mut it = start;
        // The fixed validation curve, starting from the initial policy.
        let val_faces = match rl.val_every {
            0 => None,
            _ => ValFaces::new(&cfg, &set)?.filter(|v| !v.is_empty()),
        };
        if let Some(v) = &val_faces
            && start == 0
        {
            log_val(
                &mut log,
                0,
                &v.rewards(&model.valid(), &cfg, &reward, &device)?,
            )?;
        }
        while it < rl.iterations {
            let mut rng = Rng::derive(rl.seed ^ RL_STREAM, it);
            // 1. M faces, each degraded once, shared by G candidates.
            let mut gts = Vec::with_capacity(m);
            let mut lqs = Vec::with_capacity(m);
            for k in 0..m {
                let face = &set.train[image_for_sample(
                    rl.seed ^ RL_STREAM,
                    it * m as u64 + k as u64,
                    set.train.len(),
                )];
                let s = make_sample(face, &cfg.data.augment, &preset, &mut rng)?;
                gts.push(s.hq);
                lqs.push(s.lq);
            }
            let lq_rep = model_values((0..n).map(|i| &lqs[i / g]));
            let gt_rep = model_values((0..n).map(|i| &gts[i / g]));
            // 2. Rollouts with the current policy (no gradients).
            let ts = Instant::now();
            let inner = model.valid();
            let lq_inner = tensor4::<B::InnerBackend>(lq_rep.clone(), n, r, &device);
            let traj: Trajectories<B::InnerBackend> =
                rollout(&inner, lq_inner, &steps, cfg.sampling.clip_x0, &mut rng)?;
            let sample_s = ts.elapsed().as_secs_f64();
            // 3. Rewards.
            let tr = Instant::now();
            let finals: Vec<Array3<f32>> = (0..n)
                .map(|i| to_image(&traj.x[rl.ddim_steps], i))
                .collect::<Result<_>>()?;
            let mut breakdowns: Vec<RewardBreakdown> = Vec::with_capacity(n);
            for k in 0..m {
                let views: Vec<_> = finals[k * g..(k + 1) * g]
                    .iter()
                    .map(|a| a.view())
                    .collect();
                breakdowns.extend(
                    reward
                        .evaluate_group(&views, Some(&gts[k].view()), &lqs[k].view())
                        .with_context(|| format!("iteration {it}: reward"))?,
                );
            }
            let reward_s = tr.elapsed().as_secs_f64();
            let totals: Vec<f64> = breakdowns.iter().map(|b| b.total).collect();
            if totals.iter().any(|v| !v.is_finite()) {
                let dir = save_failure(&run, it, &lqs, &gts, &finals)?;
                return Err(Error::diverged(
                    format!("iteration {it}: reward"),
                    format!("not finite; the batch is saved in {}", dir.display()),
                ));
            }
            // 4–5. Advantages (for the control arm, from the rewards shuffled across candidates).
            let adv_rewards = match rl.control {
                RewardControl::None => totals.clone(),
                RewardControl::Shuffled => shuffled(&totals, rl.seed, it),
            };
            let grouped: Vec<Vec<f64>> = adv_rewards.chunks(g).map(|c| c.to_vec()).collect();
            let adv = advantages(&grouped, rl.advantage_std);
            let mut cand = Vec::new();
            let mut cand_adv = Vec::new();
            for (gi, a) in adv.kept.iter().zip(&adv.values) {
                for (c, v) in a.iter().enumerate() {
                    cand.push(gi * g + c);
                    cand_adv.push(*v);
                }
            }
            // 6–8. PPO updates.
            let tt = Instant::now();
            let (updated, st) = ppo_update(
                &rl,
                model,
                &mut optim,
                UpdateBatch {
                    steps: &steps,
                    weights: &weights,
                    trained,
                    clip_x0: cfg.sampling.clip_x0,
                    traj: &traj,
                    lq: tensor4::<B>(lq_rep, n, r, &device),
                    gt: tensor4::<B>(gt_rep, n, r, &device),
                    candidates: &cand,
                    advantages: &cand_adv,
                    reference: reference.as_ref(),
                    iteration: it,
                },
                &mut rng,
            )
            .or_else(|e| match e {
                Error::Diverged { .. } => {
                    let dir = save_failure(&run, it, &lqs, &gts, &finals)?;
                    Err(e).context(format!(
                        "iteration {it} (the batch is saved in {})",
                        dir.display()
                    ))
                }
                e => Err(e),
            })?;
            model = updated;
            let train_s = tt.elapsed().as_secs_f64();
            it += 1;
            // Logging and guard rails.
            let terms = (trained
                * cand.len().div_ceil(if rl.minibatch == 0 {
                    cand.len().max(1)
                } else {
                    rl.minibatch
                }))
            .max(1) as f64;
            let mut rec = IterationRecord {
                kind: "rl",
                step: it,
                reward: stats(&totals),
                advantage: stats(&cand_adv),
                groups_kept: adv.kept.len(),
                ratio: stats(&st.ratios),
                clip_fraction: st.clipped as f64 / st.ratios.len().max(1) as f64,
                approx_kl: st.approx_kl.iter().sum::<f64>() / st.approx_kl.len().max(1) as f64,
                loss_pol: st.loss_pol / terms,
                loss_gt: st.loss_gt
                    / (rl.gt_steps.min(trained) as f64 * terms / trained as f64).max(1.0),
                kl_ref: st.kl_ref / terms,
                grad_norm: st.grad_norm / st.updates.max(1) as f64,
                gt_grad_ratio: st.gt_grad_ratio,
                updates: st.updates,
                time_sampling: sample_s,
                time_reward: reward_s,
                time_training: train_s,
                trajectories_per_sec: n as f64 / (sample_s + reward_s + train_s).max(1e-9),
                elapsed: t0.elapsed().as_secs_f64(),
                components: Default::default(),
                warning: None,
            };
            for (k, comp) in reward.spec().components.iter().enumerate() {
                let raw: Vec<f64> = breakdowns.iter().map(|b| b.components[k].raw).collect();
                let rw: Vec<f64> = breakdowns.iter().map(|b| b.components[k].reward).collect();
                rec.components.insert(
                    format!("reward_{}", comp.name),
                    ComponentStats {
                        raw: stats(&raw),
                        reward: stats(&rw),
                    },
                );
            }
            let s = rec.reward.std;
            let first = *first_std.get_or_insert(s);
            if first > 0.0 && s < rl.collapse_ratio * first {
                let w = format!(
                    "reward std {s:.2e} fell below {:.0}% of the first iteration's {first:.2e}: reward hacking or mode collapse?",
                    100.0 * rl.collapse_ratio
                );
                say!("warning: iteration {it}: {w}");
                rec.warning = Some(w);
            }
            log.log(serde_json::to_value(&rec)?)?;
            if let Some(v) = &val_faces
                && (it.is_multiple_of(rl.val_every) || it == rl.iterations)
            {
                log_val(
                    &mut log,
                    it,
                    &v.rewards(&model.valid(), &cfg, &reward, &device)?,
                )?;
            }
            rewards_curve.push((it, rec.reward.mean));
            if rl.grid_every > 0 && (it.is_multiple_of(rl.grid_every) || it == 1) {
                save_grid(&run, it, &lqs, &gts, &finals, g)?;
            }
            let stopping = stop_at == Some(it);
            if it.is_multiple_of(rl.checkpoint_every)
                || it == rl.iterations
                || stopping
                || rl.keep_steps.contains(&it)
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
                checkpoint::save(
                    &run,
                    it,
                    &blobs,
                    serde_json::json!({"first_std": first_std}),
                    3,
                    &rl.keep_steps,
                )?;
                plot_rl(&run)?;
            }
            progress.tick(&format!("iteration {it} reward {:.4}", rec.reward.mean));
            if stopping {
                break;
            }
        }
        Ok(Summary {
            iterations: it,
            rewards: rewards_curve,
            seconds: t0.elapsed().as_secs_f64(),
        })
    }
}
