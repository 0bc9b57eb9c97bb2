//! Steps 6–8 of an LRPO iteration: the GT-guided targets, the mini-batch order and the PPO
//! updates over the kept candidates' trajectories (DESIGN §4).
//!
//! Each update's scalars (policy, GT and KL losses, the total loss, the probability ratios and
//! the squared gradient norm) are read back from the device once, together, after its backward
//! pass; a non-finite loss is caught there, before the optimiser step.

use super::advantage::assign;
use super::config::{GtTarget, RlConfig, UpdateMode};
use super::loss::{gaussian_logprob_mean, gt_loss, kl_same_sigma, ppo_clip_loss};
use super::rollout::Trajectories;
use crate::backend::TrainBackend;
use crate::diffusion::{ddim_mean, normal};
use crate::error::{Error, Result};
use crate::model::unet::UNet;
use crate::optim_utils::{clip_to_norm, grad_sq_sum};
use crate::tensor::read_scalars;
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::DdimStep;

const SHUFFLE_STREAM: u64 = 0x0000_5F1E_0000_0010;

/// The order in which iteration `it` trains its `n` candidates (indices into the kept
/// candidates): a Fisher–Yates permutation drawn from its own sub-stream of `seed`, so that the
/// rollouts' draws do not depend on it.
pub fn minibatch_order(n: usize, seed: u64, it: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut r = Rng::derive(seed ^ SHUFFLE_STREAM, it);
    for i in (1..n).rev() {
        let j = r.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

/// The GT term's targets (step 7 of the iteration), one per trained step, `None` outside the
/// last `gt_steps` trained steps: `x^GT_prev = sqrt(ᾱ_prev)·base + sqrt(1 − ᾱ_prev)·ε` with
/// fresh `ε`, where `base` is the ground truth (`clean-marginal`) or, as the reference code
/// does, the previous (later-step) target (`cumulative`). Steps are drawn from the last one
/// backwards, so the noise draws follow the reference's order.
pub fn gt_targets<B: Backend>(
    rl: &RlConfig,
    steps: &[DdimStep],
    gt_all: &Tensor<B, 4>,
    trained: usize,
    rng: &mut Rng,
) -> Vec<Option<Tensor<B, 4>>> {
    let mut out: Vec<Option<Tensor<B, 4>>> = vec![None; trained];
    if rl.gt_target == GtTarget::Off || rl.gt_weight <= 0.0 {
        return out;
    }
    let gt_from = trained.saturating_sub(rl.gt_steps);
    let mut cum = gt_all.clone();
    for j in (gt_from..trained).rev() {
        let s = &steps[j];
        let (a, b) = (
            s.alpha_prod_t_prev.sqrt(),
            (1.0 - s.alpha_prod_t_prev).sqrt(),
        );
        let e = normal::<B, 4>(rng, gt_all.dims(), &gt_all.device());
        let base = if rl.gt_target == GtTarget::Cumulative {
            cum.clone()
        } else {
            gt_all.clone()
        };
        let target = base.mul_scalar(a) + e.mul_scalar(b);
        cum = target.clone();
        out[j] = Some(target);
    }
    out
}

/// Rows `idx` of a batch tensor.
fn rows<B: Backend>(x: &Tensor<B, 4>, idx: &[usize]) -> Tensor<B, 4> {
    let device = x.device();
    let i = Tensor::<B, 1, Int>::from_data(
        TensorData::new(
            idx.iter().map(|&v| v as i64).collect::<Vec<_>>(),
            [idx.len()],
        ),
        &device,
    );
    x.clone().select(0, i)
}

fn t1<B: Backend>(v: Vec<f32>, device: &B::Device) -> Tensor<B, 1> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

/// What one iteration's PPO updates measured (sums over the loss terms; the caller averages).
#[derive(Debug, Clone, Default)]
pub struct UpdateStats {
    /// Sum of the PPO-clip losses, one per (mini-batch, step).
    pub loss_pol: f64,
    /// Sum of the GT terms `L_GT` (before λ).
    pub loss_gt: f64,
    /// Sum of the KL terms to the reference policy (before β).
    pub kl_ref: f64,
    /// Sum of the gradient norms before clipping, one per optimiser update.
    pub grad_norm: f64,
    /// Optimiser updates done.
    pub updates: usize,
    /// Every probability ratio `π/π_old` seen.
    pub ratios: Vec<f64>,
    /// Ratios outside `1 ± clip_eps`.
    pub clipped: usize,
    /// Per-ratio approximate KL `(r − 1) − ln r`.
    pub approx_kl: Vec<f64>,
    /// `λ·‖∇L_GT‖ / ‖∇L_pol‖` at the iteration's start, on its first mini-batch at the last
    /// trained step (where the GT term acts): how much the GT term can move the policy against
    /// the policy term. `None` when the GT term is off.
    pub gt_grad_ratio: Option<f64>,
}

/// One iteration's data for the PPO updates.
pub struct UpdateBatch<'a, B: TrainBackend> {
    /// The DDIM steps sampled (the first `trained` are trained).
    pub steps: &'a [DdimStep],
    /// Noise-level advantage weights `w_j`, one per step.
    pub weights: &'a [f64],
    /// Steps trained: the first ⌊timestep_fraction·K⌋.
    pub trained: usize,
    /// Whether x̂0 is clipped in DDIM means (the run's sampling option).
    pub clip_x0: bool,
    /// The rollouts.
    pub traj: &'a Trajectories<B::InnerBackend>,
    /// Every candidate's LQ and ground truth, `[N, 3, R, R]` in [−1, 1].
    pub lq: Tensor<B, 4>,
    /// See `lq`.
    pub gt: Tensor<B, 4>,
    /// The kept candidates (rows of the batch) and their advantages.
    pub candidates: &'a [usize],
    /// See `candidates`.
    pub advantages: &'a [f64],
    /// The frozen reference policy of the KL term, when `kl_beta > 0`.
    pub reference: Option<&'a UNet<B::InnerBackend>>,
    /// The iteration (0-based), for the mini-batch order.
    pub iteration: u64,
}

/// For candidates `idx` (positions `chunk` in the kept list) at step `j`: their rollout
/// log-probabilities `log π_old` and their advantages assigned to the step (`A·w_j`, clipped).
fn old_logp_and_advantages<B: TrainBackend>(
    rl: &RlConfig,
    batch: &UpdateBatch<'_, B>,
    idx: &[usize],
    chunk: &[usize],
    j: usize,
) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let device = batch.lq.device();
    let old = t1::<B>(
        idx.iter().map(|&i| batch.traj.logp[j][i]).collect(),
        &device,
    );
    let a = t1::<B>(
        chunk
            .iter()
            .map(|&c| assign(batch.advantages[c], batch.weights[j], rl.adv_clip) as f32)
            .collect(),
        &device,
    );
    (old, a)
}

/// `λ·‖∇L_GT‖ / ‖∇L_pol‖` for the candidates `idx` (positions `chunk` in the kept list) at
/// step `j`: each term's gradient from its own forward and backward pass (no update).
fn gt_grad_ratio<B: TrainBackend>(
    rl: &RlConfig,
    model: &UNet<B>,
    batch: &UpdateBatch<'_, B>,
    target: &Tensor<B, 4>,
    idx: &[usize],
    chunk: &[usize],
    j: usize,
) -> Result<f64> {
    let device = batch.lq.device();
    let s = &batch.steps[j];
    let norm_of = |with_gt: bool| -> Result<f64> {
        let x_t = Tensor::<B, 4>::from_inner(rows(&batch.traj.x[j], idx));
        let t = vec![s.t as f32; idx.len()];
        let eps = model.forward(x_t.clone(), &t, rows(&batch.lq, idx));
        let mu = ddim_mean(s, x_t, eps, batch.clip_x0);
        let loss = if with_gt {
            let ell = gaussian_logprob_mean(rows(target, idx), mu, s.std_dev_t);
            gt_loss(ell, rl.gt_temperature).mul_scalar(rl.gt_weight)
        } else {
            let x_prev = Tensor::<B, 4>::from_inner(rows(&batch.traj.x[j + 1], idx));
            let (old, a) = old_logp_and_advantages(rl, batch, idx, chunk, j);
            let logp = gaussian_logprob_mean(x_prev, mu, s.std_dev_t);
            ppo_clip_loss(logp, old, a, rl.clip_eps).0
        };
        let grads = GradientsParams::from_grads(loss.backward(), model);
        Ok(read_scalars(vec![grad_sq_sum::<B, _>(model, &grads, &device)])?[0].sqrt())
    };
    let (gt, pol) = (norm_of(true)?, norm_of(false)?);
    Ok(gt / pol.max(1e-30))
}

/// What an update has queued for its one read-back: the tensors, and the loss terms they came
/// from (to find their values again).
struct Queued<B: Backend> {
    tensors: Vec<Tensor<B, 1>>,
    terms: Vec<Term>,
}

impl<B: Backend> Default for Queued<B> {
    fn default() -> Self {
        Queued {
            tensors: Vec::new(),
            terms: Vec::new(),
        }
    }
}

/// What a loss term put on the read-back list, to find its values again.
struct Term {
    step: usize,
    gt: bool,
    kl: bool,
    ratios: usize,
}

/// Steps 6–8: PPO-clip (with the GT term and the optional KL term) over the kept candidates,
/// in mini-batches of a fresh permutation, each trained over its steps in order; one AdamW
/// update per (mini-batch, step), or per mini-batch when gradients are accumulated. Draws the
/// GT targets' noise from `rng`. Returns the updated policy and what the updates measured.
pub fn ppo_update<B: TrainBackend, O: Optimizer<UNet<B>, B>>(
    rl: &RlConfig,
    mut model: UNet<B>,
    optim: &mut O,
    batch: UpdateBatch<'_, B>,
    rng: &mut Rng,
) -> Result<(UNet<B>, UpdateStats)> {
    let mut st = UpdateStats::default();
    let cand = batch.candidates;
    if cand.is_empty() {
        return Ok((model, st));
    }
    let device = batch.lq.device();
    let mb = if rl.minibatch == 0 {
        cand.len()
    } else {
        rl.minibatch.min(cand.len())
    };
    let targets = gt_targets(rl, batch.steps, &batch.gt, batch.trained, rng);
    // As the reference iterates: a fresh permutation of the candidates, cut into mini-batches;
    // each mini-batch trained over its steps in order.
    let order = minibatch_order(cand.len(), rl.seed, batch.iteration);
    let last = batch.trained - 1;
    if let Some(target) = &targets[last] {
        let idx: Vec<usize> = order[..mb].iter().map(|&c| cand[c]).collect();
        st.gt_grad_ratio = Some(gt_grad_ratio(
            rl,
            &model,
            &batch,
            target,
            &idx,
            &order[..mb],
            last,
        )?);
    }
    for chunk in order.chunks(mb) {
        let idx: Vec<usize> = chunk.iter().map(|&c| cand[c]).collect();
        let lq = rows(&batch.lq, &idx);
        let mut acc = GradientsAccumulator::<UNet<B>>::new();
        let mut queued = Queued::default();
        for (j, s) in batch.steps.iter().enumerate().take(batch.trained) {
            let x_t = Tensor::<B, 4>::from_inner(rows(&batch.traj.x[j], &idx));
            let x_prev = Tensor::<B, 4>::from_inner(rows(&batch.traj.x[j + 1], &idx));
            let (old, a) = old_logp_and_advantages(rl, &batch, &idx, chunk, j);
            let t = vec![s.t as f32; idx.len()];
            let eps = model.forward(x_t.clone(), &t, lq.clone());
            let mu = ddim_mean(s, x_t.clone(), eps, batch.clip_x0);
            let logp = gaussian_logprob_mean(x_prev, mu.clone(), s.std_dev_t);
            let (lpol, ratio) = ppo_clip_loss(logp, old, a, rl.clip_eps);
            let mut loss = lpol.clone();
            queued.tensors.push(lpol.inner());
            let mut term = Term {
                step: j,
                gt: false,
                kl: false,
                ratios: idx.len(),
            };
            if let Some(target) = &targets[j] {
                let ell = gaussian_logprob_mean(rows(target, &idx), mu.clone(), s.std_dev_t);
                let lgt = gt_loss(ell, rl.gt_temperature);
                queued.tensors.push(lgt.clone().inner());
                term.gt = true;
                loss = loss + lgt.mul_scalar(rl.gt_weight);
            }
            if let Some(reference) = batch.reference {
                let eps_ref = reference.forward(x_t.clone().inner(), &t, lq.clone().inner());
                let mu_ref =
                    Tensor::<B, 4>::from_inner(ddim_mean(s, x_t.inner(), eps_ref, batch.clip_x0));
                let kl = kl_same_sigma(mu, mu_ref, s.std_dev_t);
                queued.tensors.push(kl.clone().inner());
                term.kl = true;
                loss = loss + kl.mul_scalar(rl.kl_beta);
            }
            queued.tensors.push(loss.clone().inner().reshape([1]));
            queued.tensors.push(ratio.inner());
            queued.terms.push(term);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            match rl.update {
                UpdateMode::PerStep => {
                    model = update(rl, model, grads, optim, &mut queued, &mut st, &device)?;
                }
                UpdateMode::Accumulate => acc.accumulate(&model, grads),
            }
        }
        if rl.update == UpdateMode::Accumulate {
            model = update(rl, model, acc.grads(), optim, &mut queued, &mut st, &device)?;
        }
    }
    Ok((model, st))
}

/// One optimiser update: the queued scalars and the gradient norm read back (one transfer),
/// the gradients clipped, AdamW's step.
fn update<B: TrainBackend, O: Optimizer<UNet<B>, B>>(
    rl: &RlConfig,
    model: UNet<B>,
    mut grads: GradientsParams,
    optim: &mut O,
    queued: &mut Queued<B::InnerBackend>,
    st: &mut UpdateStats,
    device: &B::Device,
) -> Result<UNet<B>> {
    queued
        .tensors
        .push(grad_sq_sum::<B, _>(&model, &grads, device));
    let norm = read_back(st, queued, rl)?;
    clip_to_norm(&model, &mut grads, norm, rl.grad_clip);
    st.updates += 1;
    Ok(optim.step(rl.lr, model, grads))
}

/// Reads an update's queued scalars (the squared gradient norm last) back in one transfer,
/// adds them to `st` and returns the gradient norm; a non-finite loss is an error.
fn read_back<B: Backend>(
    st: &mut UpdateStats,
    queued: &mut Queued<B>,
    rl: &RlConfig,
) -> Result<f64> {
    let v = read_scalars(std::mem::take(&mut queued.tensors))?;
    let mut at = 0usize;
    let mut next = || {
        at += 1;
        v[at - 1]
    };
    for t in queued.terms.drain(..) {
        st.loss_pol += next();
        if t.gt {
            st.loss_gt += next();
        }
        if t.kl {
            st.kl_ref += next();
        }
        let loss = next();
        if !loss.is_finite() {
            return Err(Error::diverged(
                format!("step {}: loss", t.step),
                format!("{loss}"),
            ));
        }
        for _ in 0..t.ratios {
            let x = next();
            st.ratios.push(x);
            if (x - 1.0).abs() > rl.clip_eps {
                st.clipped += 1;
            }
            st.approx_kl.push((x - 1.0) - x.max(1e-30).ln());
        }
    }
    let norm = next().sqrt();
    st.grad_norm += norm;
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;
    use lrpo_shared::schedule::NoiseSchedule;

    #[test]
    fn gt_targets_sit_on_the_last_trained_steps_at_the_previous_steps_noise_level() {
        let schedule = NoiseSchedule::new(Default::default()).unwrap();
        let steps = schedule.ddim_steps(50, 1.0).unwrap();
        let rl = RlConfig::default();
        let trained = rl.trained_steps();
        let device = Default::default();
        // A constant ground truth, so that each target's mean and spread are known in closed
        // form: mean sqrt(ᾱ_prev)·g, std sqrt(1 − ᾱ_prev).
        let g = 0.5f32;
        let gt = Tensor::<Cpu, 4>::full([4, 3, 16, 16], g, &device);
        let t = gt_targets(&rl, &steps, &gt, trained, &mut Rng::new(3));
        assert_eq!(t.len(), trained);
        let on: Vec<usize> = (0..trained).filter(|&j| t[j].is_some()).collect();
        assert_eq!(on, (trained - rl.gt_steps..trained).collect::<Vec<_>>());
        for &j in &on {
            let a = steps[j].alpha_prod_t_prev;
            let v: Vec<f32> = t[j].clone().unwrap().into_data().to_vec().unwrap();
            let n = v.len() as f64;
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
            let sd = (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
            assert!((mean - a.sqrt() * g as f64).abs() < 4.0 * (1.0 - a).sqrt() / n.sqrt() + 1e-6);
            assert!(
                (sd / (1.0 - a).sqrt() - 1.0).abs() < 0.05,
                "step {j}: sd {sd}"
            );
        }
        // The reference's cumulative variant noises the previous target again: more spread.
        let cum = RlConfig {
            gt_target: GtTarget::Cumulative,
            ..RlConfig::default()
        };
        let c = gt_targets(&cum, &steps, &gt, trained, &mut Rng::new(3));
        let first = trained - rl.gt_steps;
        let sd = |x: &Tensor<Cpu, 4>| {
            let v: Vec<f32> = x.clone().into_data().to_vec().unwrap();
            let m = v.iter().sum::<f32>() / v.len() as f32;
            (v.iter().map(|&y| (y - m).powi(2)).sum::<f32>() / v.len() as f32).sqrt()
        };
        assert!(sd(c[first].as_ref().unwrap()) > sd(t[first].as_ref().unwrap()));
        // Off (or λ = 0): no targets at all.
        let off = RlConfig {
            gt_weight: 0.0,
            ..RlConfig::default()
        };
        assert!(
            gt_targets(&off, &steps, &gt, trained, &mut Rng::new(3))
                .iter()
                .all(Option::is_none)
        );
    }

    #[test]
    fn minibatch_order_is_a_seeded_permutation_per_iteration() {
        let a = minibatch_order(18, 7, 3);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..18).collect::<Vec<_>>());
        assert_eq!(a, minibatch_order(18, 7, 3));
        assert_ne!(a, minibatch_order(18, 7, 4));
        assert_ne!(a, minibatch_order(18, 8, 3));
        assert_ne!(a, (0..18).collect::<Vec<_>>());
        // Every position is equally likely to hold every candidate: over 2000 iterations each
        // of 6 candidates lands first about 1/6 of the time (333 ± 17).
        let mut first = [0usize; 6];
        for it in 0..2000 {
            first[minibatch_order(6, 1, it)[0]] += 1;
        }
        assert!(first.iter().all(|&c| (260..=410).contains(&c)), "{first:?}");
    }
}
