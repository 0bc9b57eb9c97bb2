//! Training utilities the optimiser does not provide: global gradient-norm clipping (as
//! PyTorch's `clip_grad_norm_`, over all parameters together), the learning-rate schedule, and
//! an exponential moving average of the weights.

use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Sums the squared gradients on the device (one read-back per clip, not one per parameter:
/// on a GPU each read-back is a synchronisation).
struct GradNorm<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<B::InnerBackend, 1>>,
    ids: Vec<(ParamId, usize)>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let sq = g.powf_scalar(2.0).sum();
            self.sum = Some(match self.sum.take() {
                Some(s) => s + sq,
                None => sq,
            });
            self.ids.push((param.id, D));
        }
    }
}

struct GradScale<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    factor: f64,
    _b: std::marker::PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for GradScale<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads
                .register::<B::InnerBackend, D>(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// The sum of every squared gradient of `model` in `grads`, on the device, as a `[1]` tensor
/// (zero when there are none): the square of the global L2 norm, for a caller that reads it
/// back together with its other scalars ([`crate::tensor::read_scalars`]).
pub fn grad_sq_sum<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &GradientsParams,
    device: &B::Device,
) -> Tensor<B::InnerBackend, 1> {
    let mut v = GradNorm::<B> {
        grads,
        sum: None,
        ids: Vec::new(),
    };
    model.visit(&mut v);
    v.sum
        .map(|s| s.reshape([1]))
        .unwrap_or_else(|| Tensor::zeros([1], device))
}

/// Clips to `max_norm` gradients whose global norm is `norm` (read back from
/// [`grad_sq_sum`]): when `max_norm > 0` and `norm > max_norm`, every gradient is scaled by
/// `max_norm / (norm + 1e-6)` (PyTorch's `clip_grad_norm_`).
pub fn clip_to_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    norm: f64,
    max_norm: f64,
) {
    if max_norm > 0.0 && norm > max_norm {
        let mut s = GradScale::<B> {
            grads,
            factor: max_norm / (norm + 1e-6),
            _b: Default::default(),
        };
        model.visit(&mut s);
    }
}

/// The global L2 norm of all gradients; when it exceeds `max_norm` (> 0), every gradient is
/// scaled by `max_norm / norm`. Returns the norm before clipping. Reads one value back.
pub fn clip_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> f64 {
    let mut v = GradNorm::<B> {
        grads,
        sum: None,
        ids: Vec::new(),
    };
    model.visit(&mut v);
    let norm = v.sum.map_or(0.0, |s| s.into_scalar().elem::<f64>()).sqrt();
    clip_to_norm(model, grads, norm, max_norm);
    norm
}

/// Learning rate with linear warm-up and cosine decay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// Peak learning rate.
    pub lr: f64,
    /// Warm-up steps (linear from 0).
    pub warmup: u64,
    /// Total steps.
    pub total: u64,
    /// Final learning rate as a fraction of the peak.
    pub min_ratio: f64,
}

impl LrSchedule {
    /// The learning rate at `step` (0-based).
    pub fn at(&self, step: u64) -> f64 {
        if step < self.warmup {
            return self.lr * (step + 1) as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1);
        let p = ((step - self.warmup) as f64 / span as f64).min(1.0);
        let min = self.lr * self.min_ratio;
        min + (self.lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
    }
}

struct Collect<B: Backend> {
    params: HashMap<ParamId, Tensor<B, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Collect<B::InnerBackend> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let t = param.val().inner();
        let n = t.shape().num_elements();
        self.params.insert(param.id, t.reshape([n]));
    }
}

struct Blend<B: Backend> {
    params: HashMap<ParamId, Tensor<B, 1>>,
    decay: f64,
}

impl<B: Backend> ModuleMapper<B> for Blend<B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let Some(new) = self.params.remove(&param.id) else {
            return param;
        };
        let decay = self.decay;
        param.map(|ema| {
            let shape = ema.shape();
            ema.mul_scalar(decay) + new.reshape(shape).mul_scalar(1.0 - decay)
        })
    }
}

/// `ema ← decay·ema + (1 − decay)·model`, parameter by parameter (matched by id; `ema` starts
/// as `model.valid()`).
pub fn ema_update<B: AutodiffBackend, M: AutodiffModule<B>>(
    ema: M::InnerModule,
    model: &M,
    decay: f64,
) -> M::InnerModule {
    let mut c = Collect::<B::InnerBackend> {
        params: HashMap::new(),
    };
    model.visit(&mut c);
    ema.map(&mut Blend {
        params: c.params,
        decay,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_clipping_uses_the_global_norm_of_every_parameter() {
        use crate::backend::CpuAutodiff as B;
        use burn::nn::LinearConfig;
        let device = Default::default();
        let layer = LinearConfig::new(3, 2).init::<B>(&device);
        // loss = Σ (x·W + b) with x = 1: every weight and bias gradient is 1, so the global
        // norm is sqrt(3·2 + 2) = sqrt(8).
        let x = Tensor::<B, 2>::ones([1, 3], &device);
        let loss = layer.forward(x).sum();
        let mut grads = GradientsParams::from_grads(loss.backward(), &layer);
        let norm = clip_grad_norm(&layer, &mut grads, 1.0);
        assert!((norm - 8f64.sqrt()).abs() < 1e-5, "{norm}");
        // After clipping to 1 the norm is 1 (up to the 1e-6 guard), every entry 1/sqrt(8).
        let after = clip_grad_norm(&layer, &mut grads, 0.0);
        assert!((after - 1.0).abs() < 1e-5, "{after}");
        let w = grads
            .get::<<B as AutodiffBackend>::InnerBackend, 2>(layer.weight.id)
            .unwrap();
        let v: Vec<f32> = w.into_data().to_vec().unwrap();
        assert!(
            v.iter()
                .all(|&g| (g as f64 - 1.0 / 8f64.sqrt()).abs() < 1e-5),
            "{v:?}"
        );
        // Under the limit nothing changes.
        let mut grads2 = GradientsParams::from_grads(
            layer
                .forward(Tensor::<B, 2>::ones([1, 3], &device))
                .sum()
                .backward(),
            &layer,
        );
        assert!((clip_grad_norm(&layer, &mut grads2, 10.0) - 8f64.sqrt()).abs() < 1e-5);
        assert!((clip_grad_norm(&layer, &mut grads2, 0.0) - 8f64.sqrt()).abs() < 1e-5);
    }

    #[test]
    fn warm_up_then_cosine() {
        let s = LrSchedule {
            lr: 1e-3,
            warmup: 10,
            total: 110,
            min_ratio: 0.1,
        };
        assert!((s.at(0) - 1e-4).abs() < 1e-12);
        assert!((s.at(9) - 1e-3).abs() < 1e-12);
        assert!((s.at(10) - 1e-3).abs() < 1e-12);
        assert!((s.at(60) - (1e-4 + 0.9e-3 * 0.5)).abs() < 1e-12);
        assert!((s.at(110) - 1e-4).abs() < 1e-12);
        assert!((s.at(500) - 1e-4).abs() < 1e-12);
    }
}
