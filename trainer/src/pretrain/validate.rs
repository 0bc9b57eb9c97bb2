//! Pretraining's held-out check: the validation faces degraded once each (seeded), restored by
//! DDIM sampling with the run's validation sampling, and scored (PSNR, SSIM) against the ground
//! truth beside a bicubic baseline; sample grids written under the run.

use crate::config::RunConfig;
use crate::data::{AugmentConfig, FaceSet, make_sample};
use crate::diffusion::ddim_sample;
use crate::error::Result;
use crate::model::ops::PolicyBackend;
use crate::model::unet::UNet;
use crate::tensor::{model_values, tensor4, to_image};
use lrpo_shared::degrade::DegradePreset;
use lrpo_shared::image::save_rgb;
use lrpo_shared::metrics::{psnr, ssim::ssim};
use lrpo_shared::resize::{Filter, resize};
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::NoiseSchedule;
use ndarray::{Axis, concatenate};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Stream of the validation degradations.
const VAL_STREAM: u64 = 0x0000_7A11_DA7E_0002;
/// Stream of the validation sampling noise.
const VAL_NOISE_STREAM: u64 = 0x0000_7A11_5EED_0003;

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

/// Validates `model` on the held-out faces: a fixed degradation per face (seeded), DDIM
/// sampling, and PSNR/SSIM against the GT and against a bicubic baseline. Writes
/// `RUN/samples/step_N/NAME.png` grids (LQ | bicubic | restored | GT).
pub fn validate<B: PolicyBackend>(
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
    let lq = model_values(samples.iter().map(|s| &s.lq));
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
