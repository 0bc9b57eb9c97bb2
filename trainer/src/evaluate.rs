//! Evaluation of diffusion policies on held-out degraded faces: every reward component, PSNR,
//! SSIM, NIQE and identity distance, for comparing a policy before and after LRPO (and its
//! ablations) on exactly the same inputs and noise.

use crate::config::RunConfig;
use crate::data::{AugmentConfig, FaceSet, make_sample};
use crate::diffusion::ddim_sample;
use crate::error::Result;
use crate::model::ops::PolicyBackend;
use crate::model::unet::UNet;
use crate::tensor::model_values;
use crate::tensor::{tensor4, to_image};
use lrpo_shared::degrade::DegradePreset;
use lrpo_shared::metrics::{niqe::niqe_any_size, psnr, ssim::ssim};
use lrpo_shared::reward::Reward;
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::NoiseSchedule;
use ndarray::Array3;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const EVAL_STREAM: u64 = 0x0000_E7A1_0000_0009;

/// How to evaluate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalSettings {
    /// Degradations per held-out face.
    pub per_face: usize,
    /// DDIM steps.
    pub steps: usize,
    /// DDIM η (the teacher samples with 0.8 at inference).
    pub eta: f64,
    /// Seed of the degradations and sampling noise (the same for every policy).
    pub seed: u64,
}

/// Mean and std of one metric over the evaluation set, with the per-sample values (in
/// evaluation order: face-major, then degradation) for paired comparisons.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Population std.
    pub std: f64,
    /// Every sample's value.
    pub values: Vec<f64>,
}

fn mean_std(v: &[f64]) -> MeanStd {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    MeanStd {
        mean: m,
        std: (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n).sqrt(),
        values: v.to_vec(),
    }
}

/// Paired difference `b − a` of two runs' per-sample values (same inputs and noise): mean,
/// standard error of the mean (sample std / sqrt n), and how many samples increased.
pub fn paired_difference(a: &MeanStd, b: &MeanStd) -> (f64, f64, usize) {
    let d: Vec<f64> = a.values.iter().zip(&b.values).map(|(x, y)| y - x).collect();
    let n = d.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, 0);
    }
    let m = d.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        d.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    (
        m,
        (var / n as f64).sqrt(),
        d.iter().filter(|x| **x > 0.0).count(),
    )
}

pub use crate::run::load_policy;

/// Per evaluation sample: (LQ, restoration, GT), RGB [0, 1].
pub type EvalImages = Vec<(Array3<f32>, Array3<f32>, Array3<f32>)>;

/// Evaluates a policy on the held-out faces of `set`; returns metric → mean/std and the
/// restorations (for pictures).
pub fn evaluate<B: PolicyBackend>(
    model: &UNet<B>,
    cfg: &RunConfig,
    set: &FaceSet,
    reward: &Reward,
    s: &EvalSettings,
    device: &B::Device,
) -> Result<(BTreeMap<String, MeanStd>, EvalImages)> {
    let schedule = NoiseSchedule::new(cfg.schedule.clone())?;
    let preset = DegradePreset::by_name(&cfg.data.preset)?;
    let r = cfg.data.resolution;
    let mut vals: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut images = Vec::new();
    for (fi, face) in set.val.iter().enumerate() {
        for k in 0..s.per_face {
            let stream = (fi * s.per_face + k) as u64;
            let sample = make_sample(
                face,
                &AugmentConfig::none(),
                &preset,
                &mut Rng::derive(s.seed ^ EVAL_STREAM, stream),
            )?;
            let lq = tensor4::<B>(model_values([&sample.lq]), 1, r, device);
            let y = ddim_sample(
                model,
                &schedule,
                lq,
                s.steps,
                s.eta,
                cfg.sampling.clip_x0,
                &mut Rng::derive(s.seed ^ EVAL_STREAM ^ 1, stream),
            )?;
            let out = to_image(&y, 0)?;
            let b = reward.evaluate(&out.view(), Some(&sample.hq.view()), &sample.lq.view())?;
            vals.entry("reward".into()).or_default().push(b.total);
            for c in &b.components {
                vals.entry(format!("{} (raw)", c.name))
                    .or_default()
                    .push(c.raw);
                vals.entry(format!("{} (reward)", c.name))
                    .or_default()
                    .push(c.reward);
            }
            vals.entry("PSNR".into())
                .or_default()
                .push(psnr(&out.view(), &sample.hq.view())?);
            vals.entry("SSIM".into())
                .or_default()
                .push(ssim(&out.view(), &sample.hq.view())?);
            vals.entry("NIQE".into())
                .or_default()
                .push(niqe_any_size(&out.view())?);
            images.push((sample.lq.clone(), out, sample.hq.clone()));
        }
    }
    Ok((
        vals.into_iter().map(|(k, v)| (k, mean_std(&v))).collect(),
        images,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_difference_by_hand() {
        // Differences 1, 2, 3, -2: mean 1, sample variance (0 + 1 + 4 + 9) / 3 = 14/3,
        // standard error sqrt(14/3 / 4); three of four increased.
        let a = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        let b = mean_std(&[2.0, 4.0, 6.0, 2.0]);
        let (m, se, up) = paired_difference(&a, &b);
        assert!((m - 1.0).abs() < 1e-12);
        assert!((se - (14.0f64 / 3.0 / 4.0).sqrt()).abs() < 1e-12);
        assert_eq!(up, 3);
        assert!((a.mean - 2.5).abs() < 1e-12 && (a.std - 1.25f64.sqrt()).abs() < 1e-12);
    }
}
