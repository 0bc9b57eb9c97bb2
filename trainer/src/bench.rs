//! Training-step benchmarks: one pretraining step and one PPO update of the diffusion policy,
//! timed part by part (forward, backward, optimiser), on whatever backend the caller picks.
//!
//! The same two steps are written for PyTorch in `tools/reference/unet_twin.py` (with the same
//! network, batch and AdamW settings), so that the two trainers can be compared operation for
//! operation; `scripts/benchmark-trainer.sh` runs both and writes `benchmarks/trainer.md`.
//!
//! - pretraining step: `L = mean((ε_θ(x_t, t, lq) − ε)²)` (DDPM), backward, AdamW;
//! - PPO update: `μ = DDIM mean(x_t, ε_θ)`, `log π = mean Gaussian log-density of x_{t−1}`,
//!   PPO-clip loss (DESIGN §4), backward, AdamW — one (mini-batch, step) update of LRPO.
//!
//! Every part ends with `B::sync`, so a part's time is its own even on an asynchronous device.
//! Inputs are seeded random tensors: a step's time does not depend on the pixel values.

use crate::backend::TrainBackend;
use crate::diffusion::{ddim_mean, normal};
use crate::error::{Error, Result};
use crate::lrpo::loss::{gaussian_logprob_mean, ppo_clip_loss};
use crate::model::kernels::profile;
use crate::model::unet::{UNet, UNetConfig};
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::{Tensor, TensorData};
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::NoiseSchedule;
use serde::Serialize;
use std::time::Instant;

/// The step to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// One DDPM pretraining step.
    Pretrain,
    /// One PPO-clip update of LRPO at one DDIM step.
    Ppo,
}

/// What to time: the network, the input size and batch, and how often.
#[derive(Debug, Clone)]
pub struct BenchSpec {
    /// The network.
    pub model: UNetConfig,
    /// Side of the square inputs, pixels (a multiple of the model's size multiple).
    pub size: usize,
    /// Batch size.
    pub batch: usize,
    /// Untimed steps first (kernel selection, allocator warm-up).
    pub warmup: usize,
    /// Timed steps; the report gives medians over them.
    pub reps: usize,
}

impl BenchSpec {
    /// Checks the sizes.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        let m = self.model.size_multiple();
        if self.size == 0 || !self.size.is_multiple_of(m) || self.size > 1024 {
            return Err(Error::config(format!(
                "bench: size must be a positive multiple of {m} up to 1024, found {}",
                self.size
            )));
        }
        if self.batch == 0 || self.batch > 256 || self.reps == 0 || self.reps > 10_000 {
            return Err(Error::config(format!(
                "bench: batch must be in 1..=256 and reps in 1..=10000, found {} and {}",
                self.batch, self.reps
            )));
        }
        Ok(())
    }
}

/// Medians of one step's parts over the timed repetitions, milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct StepTimes {
    /// Which step.
    pub kind: StepKind,
    /// Forward pass and loss.
    pub forward_ms: f64,
    /// Backward pass and gathering the parameter gradients.
    pub backward_ms: f64,
    /// AdamW's update.
    pub optimizer_ms: f64,
    /// Median of the whole step (not the sum of the medians).
    pub total_ms: f64,
    /// Every timed step's total, in order.
    pub totals_ms: Vec<f64>,
    /// CPU time of the process (user + system, every thread) over wall time during the timed
    /// steps: how many cores a step keeps busy.
    pub cpu_utilisation: f64,
    /// Mean milliseconds per step in each of the CPU kernels (`model::kernels`), and the rest
    /// (burn's own operations: elementwise, interpolation, autodiff bookkeeping, AdamW) under
    /// "other"; empty on backends that do not use the kernels.
    pub breakdown_ms: Vec<(String, f64)>,
}

/// The network's parameter count (to check the PyTorch twin against).
pub fn parameter_count<B: TrainBackend>(model: &UNetConfig, device: &B::Device) -> usize {
    model.init::<B>(device).num_params()
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// User + system CPU seconds of this process so far (every thread), where the OS tells.
fn cpu_seconds() -> Option<f64> {
    #[cfg(unix)]
    {
        // SAFETY: getrusage writes into the zeroed struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
            return None;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        Some(tv(u.ru_utime) + tv(u.ru_stime))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

fn sync<B: TrainBackend>(device: &B::Device) -> Result<()> {
    B::sync(device).map_err(|e| Error::backend("sync", format!("{e:?}")))
}

/// Times `spec.reps` steps of `kind` (after `spec.warmup` untimed ones) on `device`, with the
/// AdamW settings LRPO uses (β 0.9/0.999, ε 1e-8, weight decay 0.01) and learning rate 1e-5.
pub fn time_step<B: TrainBackend>(
    spec: &BenchSpec,
    kind: StepKind,
    device: &B::Device,
) -> Result<StepTimes> {
    spec.validate()?;
    B::seed(device, 7);
    let mut model: UNet<B> = spec.model.init(device);
    let mut optim = AdamWConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .with_weight_decay(0.01)
        .init::<B, UNet<B>>();
    let (n, r) = (spec.batch, spec.size);
    let mut rng = Rng::new(11);
    let shape = [n, 3, r, r];
    let x_t = normal::<B, 4>(&mut rng, shape, device);
    let lq = normal::<B, 4>(&mut rng, shape, device).clamp(-1.0, 1.0);
    let target = normal::<B, 4>(&mut rng, shape, device);
    let schedule = NoiseSchedule::stable_diffusion();
    let plan = schedule.ddim_steps(20, 1.0)?;
    let s = plan[plan.len() / 2];
    let t = vec![s.t as f32; n];
    let vec1 = |v: Vec<f32>| Tensor::<B, 1>::from_data(TensorData::new(v, [n]), device);
    // Old log-probabilities near the new ones, advantages of both signs: ratios near 1, as in
    // an LRPO iteration's first updates.
    let adv = vec1(
        (0..n)
            .map(|i| if i % 2 == 0 { 1.0 } else { -0.5 })
            .collect(),
    );
    let (mut fw, mut bw, mut op, mut tot) = (vec![], vec![], vec![], vec![]);
    let (mut cpu0, mut wall0) = (None, Instant::now());
    sync::<B>(device)?;
    for rep in 0..spec.warmup + spec.reps {
        if rep == spec.warmup {
            profile::reset();
            profile::enable(true);
            cpu0 = cpu_seconds();
            wall0 = Instant::now();
        }
        let t0 = Instant::now();
        let eps = model.forward(x_t.clone(), &t, lq.clone());
        let loss = match kind {
            StepKind::Pretrain => (eps - target.clone()).powf_scalar(2.0).mean(),
            StepKind::Ppo => {
                let mu = ddim_mean(&s, x_t.clone(), eps, true);
                let logp = gaussian_logprob_mean(target.clone(), mu, s.std_dev_t.max(1e-3));
                let old = logp.clone().detach().add_scalar(0.01);
                ppo_clip_loss(logp, old, adv.clone(), 1e-4).0
            }
        };
        sync::<B>(device)?;
        let t1 = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        sync::<B>(device)?;
        let t2 = Instant::now();
        model = optim.step(1e-5, model, grads);
        sync::<B>(device)?;
        if rep >= spec.warmup {
            fw.push((t1 - t0).as_secs_f64() * 1e3);
            bw.push((t2 - t1).as_secs_f64() * 1e3);
            op.push(ms_since(t2));
            tot.push(ms_since(t0));
        }
    }
    profile::enable(false);
    let cpu_utilisation = match (cpu0, cpu_seconds()) {
        (Some(a), Some(b)) => (b - a) / wall0.elapsed().as_secs_f64().max(1e-9),
        _ => f64::NAN,
    };
    let per_step: Vec<(String, f64)> = profile::read()
        .into_iter()
        .map(|(k, ms)| (k.name().to_string(), ms / spec.reps as f64))
        .collect();
    let in_kernels: f64 = per_step.iter().map(|(_, ms)| ms).sum();
    let mean_total = tot.iter().sum::<f64>() / tot.len().max(1) as f64;
    let breakdown_ms = if in_kernels > 0.0 {
        let mut b = per_step;
        b.push((
            "other (burn ops, autodiff, AdamW)".into(),
            mean_total - in_kernels,
        ));
        b
    } else {
        vec![]
    };
    Ok(StepTimes {
        kind,
        cpu_utilisation,
        breakdown_ms,
        forward_ms: median(&fw),
        backward_ms: median(&bw),
        optimizer_ms: median(&op),
        total_ms: median(&tot),
        totals_ms: tot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuAutodiff;

    fn tiny() -> UNetConfig {
        UNetConfig {
            base_channels: 8,
            channel_mult: vec![1, 2],
            num_res_blocks: 1,
            attention_levels: vec![],
            groups: 4,
        }
    }

    #[test]
    fn both_steps_time_every_part_and_the_medians_lie_inside_the_samples() {
        let spec = BenchSpec {
            model: tiny(),
            size: 16,
            batch: 2,
            warmup: 1,
            reps: 3,
        };
        for kind in [StepKind::Pretrain, StepKind::Ppo] {
            let st = time_step::<CpuAutodiff>(&spec, kind, &Default::default()).unwrap();
            assert_eq!(st.totals_ms.len(), 3);
            for v in [st.forward_ms, st.backward_ms, st.optimizer_ms] {
                assert!(v > 0.0 && v <= st.totals_ms.iter().cloned().fold(0.0, f64::max));
            }
            let (lo, hi) = st
                .totals_ms
                .iter()
                .fold((f64::MAX, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
            assert!(st.total_ms >= lo && st.total_ms <= hi);
            // The CPU backend runs the policy's kernels: each timed, the rest under "other".
            let names: Vec<&str> = st.breakdown_ms.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names.len(), 6, "{names:?}");
            assert!(st.breakdown_ms[0].1 > 0.0 && st.breakdown_ms[1].1 > 0.0);
            let kernels: f64 = st.breakdown_ms[..5].iter().map(|(_, v)| v).sum();
            let mean = st.totals_ms.iter().sum::<f64>() / 3.0;
            assert!(
                kernels <= mean * 1.001,
                "{kernels} ms in kernels of a {mean} ms step"
            );
            assert!(st.cpu_utilisation > 0.0 && st.cpu_utilisation.is_finite());
        }
    }

    #[test]
    fn odd_sizes_and_empty_batches_are_refused_by_name() {
        let mut spec = BenchSpec {
            model: tiny(),
            size: 15,
            batch: 2,
            warmup: 0,
            reps: 1,
        };
        let e = time_step::<CpuAutodiff>(&spec, StepKind::Pretrain, &Default::default());
        assert!(e.unwrap_err().to_string().contains("size"));
        spec.size = 16;
        spec.batch = 0;
        let e = time_step::<CpuAutodiff>(&spec, StepKind::Pretrain, &Default::default());
        assert!(e.unwrap_err().to_string().contains("batch"));
    }

    #[test]
    fn the_default_policy_has_the_parameter_count_the_twin_asserts() {
        // tools/reference/unet_twin.py asserts the same number for the same configuration.
        let n = parameter_count::<CpuAutodiff>(&UNetConfig::default(), &Default::default());
        assert_eq!(n, 1_047_747);
    }
}
