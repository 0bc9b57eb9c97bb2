//! The diffusion process on burn tensors, with the coefficients of `lrpo_shared::schedule` (the
//! same schedule the edge samples with).
//!
//! - Forward process (DDPM eq. 4): `x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 − ᾱ_t)·ε`.
//! - DDIM sampling (Song et al. 2021, DESIGN §4): `x_prev = μ(x_t, ε̂) + σ_t·z`, noise drawn from
//!   the project's seeded RNG on the host so a run is reproducible and resumable exactly.

use crate::error::Result;
use crate::model::ops::PolicyBackend;
use crate::model::unet::UNet;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::{DdimStep, NoiseSchedule};

/// A tensor of `shape` filled with N(0, 1) draws from `rng`.
pub fn normal<B: Backend, const D: usize>(
    rng: &mut Rng,
    shape: [usize; D],
    device: &B::Device,
) -> Tensor<B, D> {
    let n: usize = shape.iter().product();
    let mut v = vec![0.0f32; n];
    rng.fill_normal(&mut v);
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// Per-item coefficients as a `[N, 1, 1, 1]` tensor.
pub fn per_item<B: Backend>(v: &[f64], device: &B::Device) -> Tensor<B, 4> {
    Tensor::from_data(
        TensorData::new(
            v.iter().map(|&x| x as f32).collect::<Vec<_>>(),
            [v.len(), 1, 1, 1],
        ),
        device,
    )
}

/// `x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 − ᾱ_t)·ε` with one timestep per batch item.
pub fn q_sample<B: Backend>(
    schedule: &NoiseSchedule,
    x0: Tensor<B, 4>,
    eps: Tensor<B, 4>,
    t: &[usize],
) -> Tensor<B, 4> {
    let device = x0.device();
    let (a, b): (Vec<f64>, Vec<f64>) = t.iter().map(|&ti| schedule.q_sample_coefs(ti)).unzip();
    x0 * per_item::<B>(&a, &device) + eps * per_item::<B>(&b, &device)
}

/// μ of a DDIM step (same coefficients for the whole batch): `sqrt(ᾱ_prev)·x̂0 + dir·ε̂` with
/// `x̂0 = (x_t − sqrt(1−ᾱ_t)·ε̂)/sqrt(ᾱ_t)`, clamped to [−1, 1] when `clip_x0` (as
/// `lrpo_shared::schedule::DdimStep::mean`).
pub fn ddim_mean<B: Backend>(
    step: &DdimStep,
    x_t: Tensor<B, 4>,
    eps: Tensor<B, 4>,
    clip_x0: bool,
) -> Tensor<B, 4> {
    let (a, b) = step.pred_x0_coefs();
    let mut x0 = x_t.mul_scalar(a) + eps.clone().mul_scalar(b);
    if clip_x0 {
        x0 = x0.clamp(-1.0, 1.0);
    }
    x0.mul_scalar(step.alpha_prod_t_prev.sqrt()) + eps.mul_scalar(step.dir_coef())
}

/// Samples restorations of `lq` (`[N, 3, H, W]` in [−1, 1]) with K DDIM steps and stochasticity
/// η, starting from `x_T ~ N(0, I)`; all noise comes from `rng`. Returns x̂ in [−1, 1] (not clamped).
pub fn ddim_sample<B: PolicyBackend>(
    model: &UNet<B>,
    schedule: &NoiseSchedule,
    lq: Tensor<B, 4>,
    steps: usize,
    eta: f64,
    clip_x0: bool,
    rng: &mut Rng,
) -> Result<Tensor<B, 4>> {
    let plan = schedule.ddim_steps(steps, eta)?;
    let device = lq.device();
    let dims = lq.dims();
    let mut x = normal::<B, 4>(rng, dims, &device);
    for s in &plan {
        let t = vec![s.t as f32; dims[0]];
        let eps = model.forward(x.clone(), &t, lq.clone());
        let mu = ddim_mean(s, x, eps, clip_x0);
        x = if s.std_dev_t > 0.0 {
            mu + normal::<B, 4>(rng, dims, &device).mul_scalar(s.std_dev_t)
        } else {
            mu
        };
    }
    Ok(x)
}
