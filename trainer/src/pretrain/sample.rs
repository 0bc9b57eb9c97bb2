//! Restoring aligned LQ crops with a trained diffusion policy (DDIM sampling).

use crate::diffusion::ddim_sample;
use crate::error::Result;
use crate::model::ops::PolicyBackend;
use crate::tensor::{tensor4, to_image};
use lrpo_shared::image::to_model_range;
use lrpo_shared::resize::{Filter, resize};
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::NoiseSchedule;
use ndarray::{Array3, Array4, Axis};
use std::path::Path;

/// Samples restorations of aligned LQ crops with a pretraining run's EMA weights or an LRPO
/// run's weights ([`crate::run::load_policy`]). Each crop is resized to
/// the training resolution (bicubic) and the result back to the crop's size.
pub fn sample_images<B: PolicyBackend>(
    run: &Path,
    inputs: &[Array3<f32>],
    steps: Option<usize>,
    eta: Option<f64>,
    seed: u64,
    device: &B::Device,
) -> Result<Vec<Array3<f32>>> {
    let (cfg, model, _) = crate::run::load_policy::<B>(run, device)?;
    let schedule = NoiseSchedule::new(cfg.schedule.clone())?;
    let r = cfg.data.resolution;
    let mut out = Vec::new();
    for (i, img) in inputs.iter().enumerate() {
        let (_, h, w) = img.dim();
        let x = if (h, w) == (r, r) {
            img.clone()
        } else {
            resize(&img.view(), r, r, Filter::Bicubic)?
        };
        let mut b = Array4::<f32>::zeros((1, 3, r, r));
        b.index_axis_mut(Axis(0), 0)
            .assign(&to_model_range(&x.mapv(|v| v.clamp(0.0, 1.0)).view()));
        let lq = tensor4::<B>(b.into_raw_vec_and_offset().0, 1, r, device);
        let y = ddim_sample(
            &model,
            &schedule,
            lq,
            steps.unwrap_or(cfg.sampling.steps),
            eta.unwrap_or(cfg.sampling.eta),
            cfg.sampling.clip_x0,
            &mut Rng::derive(seed, i as u64),
        )?;
        let y = to_image(&y, 0)?;
        out.push(if (h, w) == (r, r) {
            y
        } else {
            resize(&y.view(), h, w, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0))
        });
    }
    Ok(out)
}
