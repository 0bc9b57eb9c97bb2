//! Rollouts: K-step stochastic DDIM trajectories of the current policy, with everything the
//! PPO update needs (DESIGN §4, step 2).

use super::loss::gaussian_logprob_mean;
use crate::diffusion::{ddim_mean, normal};
use crate::error::{Error, Result, ensure_or};
use crate::model::ops::PolicyBackend;
use crate::model::unet::UNet;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::DdimStep;

/// One batch of trajectories (`N` candidates).
pub struct Trajectories<B: Backend> {
    /// The steps taken (sampling order).
    pub steps: Vec<DdimStep>,
    /// `x[j]` is `x_t` before step j; `x[K]` is the final sample. `[N, 3, R, R]`, [−1, 1].
    pub x: Vec<Tensor<B, 4>>,
    /// `log π_old(x[j+1] | x[j])` per candidate: `[K][N]`.
    pub logp: Vec<Vec<f32>>,
}

/// Samples `lq.dims()[0]` candidates (one per row of `lq`) with the given DDIM steps (η > 0),
/// drawing the initial and per-step noise from `rng`.
pub fn rollout<B: PolicyBackend>(
    model: &UNet<B>,
    lq: Tensor<B, 4>,
    steps: &[DdimStep],
    clip_x0: bool,
    rng: &mut Rng,
) -> Result<Trajectories<B>> {
    let device = lq.device();
    let dims = lq.dims();
    let mut x = normal::<B, 4>(rng, dims, &device);
    let mut xs = vec![x.clone()];
    let mut logp = Vec::with_capacity(steps.len());
    for s in steps {
        ensure_or!(
            s.std_dev_t > 0.0,
            Error::config(format!("rollouts need η > 0 (step t = {} has σ = 0)", s.t))
        );
        let t = vec![s.t as f32; dims[0]];
        let eps = model.forward(x.clone(), &t, lq.clone());
        let mu = ddim_mean(s, x, eps, clip_x0);
        let next = mu.clone() + normal::<B, 4>(rng, dims, &device).mul_scalar(s.std_dev_t);
        let lp: Vec<f32> = gaussian_logprob_mean(next.clone(), mu, s.std_dev_t)
            .into_data()
            .convert::<f32>()
            .to_vec()
            .map_err(Error::tensor_data)?;
        logp.push(lp);
        xs.push(next.clone());
        x = next;
    }
    Ok(Trajectories {
        steps: steps.to_vec(),
        x: xs,
        logp,
    })
}
