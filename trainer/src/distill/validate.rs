//! The held-out check of a trained student.

use crate::backend::TrainBackend;
use crate::config::RunConfig;
use crate::data::{FaceSet, make_sample};
use crate::diffusion::ddim_sample;
use crate::error::Result;
use crate::evaluate::load_policy;
use crate::model::student::Student;
use crate::tensor::model_values;
use crate::tensor::{stack, tensor4, to_image, unit_image};
use lrpo_shared::degrade::DegradePreset;
use lrpo_shared::metrics::{psnr, ssim::ssim};
use lrpo_shared::resize::{Filter, resize};
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::NoiseSchedule;
use std::path::Path;

/// Student, teacher (when there is one) and bicubic PSNR/SSIM on the held-out faces (fixed
/// degradations).
pub fn validate_student<B: TrainBackend>(
    model: &Student<B>,
    cfg: &RunConfig,
    set: &FaceSet,
    teacher: Option<&Path>,
    device: &B::Device,
) -> Result<Option<serde_json::Value>> {
    use burn::module::AutodiffModule;
    if set.val.is_empty() {
        return Ok(None);
    }
    let preset = DegradePreset::by_name(&cfg.data.preset)?;
    let r = cfg.data.resolution;
    let tmodel = teacher
        .map(|t| load_policy::<B::InnerBackend>(t, device).map(|(_, m, _)| m))
        .transpose()?;
    let schedule = NoiseSchedule::new(cfg.schedule.clone())?;
    let student = model.valid();
    let mut acc = [0.0f64; 6];
    for (i, f) in set.val.iter().enumerate() {
        let s = make_sample(
            f,
            &crate::data::AugmentConfig::none(),
            &preset,
            &mut Rng::derive(cfg.distill.seed ^ 0x7A1, i as u64),
        )?;
        let lq = stack::<B::InnerBackend>(&[&s.lq], device);
        let out = unit_image(&student.forward(lq), 0)?;
        let bic = resize(&s.lq_small.view(), r, r, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0));
        let t = match &tmodel {
            Some(m) => {
                let t = ddim_sample(
                    m,
                    &schedule,
                    tensor4::<B::InnerBackend>(model_values([&s.lq]), 1, r, device),
                    cfg.teacher_sampling().0,
                    cfg.teacher_sampling().1,
                    cfg.sampling.clip_x0,
                    &mut Rng::new(cfg.distill.teacher_seed),
                )?;
                Some(to_image(&t, 0)?)
            }
            None => None,
        };
        for (k, img) in [Some(&out), t.as_ref(), Some(&bic)].iter().enumerate() {
            if let Some(img) = img {
                acc[2 * k] += psnr(&img.view(), &s.hq.view())?;
                acc[2 * k + 1] += ssim(&img.view(), &s.hq.view())?;
            }
        }
    }
    let n = set.val.len() as f64;
    let mut v = serde_json::json!({"faces": set.val.len(), "student_psnr": acc[0] / n, "student_ssim": acc[1] / n, "bicubic_psnr": acc[4] / n, "bicubic_ssim": acc[5] / n});
    if tmodel.is_some() {
        v["teacher_psnr"] = (acc[2] / n).into();
        v["teacher_ssim"] = (acc[3] / n).into();
    }
    Ok(Some(v))
}
