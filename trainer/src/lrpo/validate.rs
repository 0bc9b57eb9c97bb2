//! LRPO's fixed validation: the first faces of the validation split, each degraded once with a
//! fixed seed (the same for every run, whatever its `[rl] seed`, so that arms and seeds are
//! scored on one set), restored with the same sampling noise at every check (DDIM with the rollouts'
//! steps and the inference η), and scored with the run's reward. Between two checks only the
//! policy changes, so the curve shows what training did, not which faces were drawn.

use crate::config::RunConfig;
use crate::data::{AugmentConfig, FaceSet, make_sample};
use crate::diffusion::ddim_sample;
use crate::error::Result;
use crate::model::ops::PolicyBackend;
use crate::model::unet::UNet;
use crate::tensor::{model_values, tensor4, to_image};
use lrpo_shared::degrade::DegradePreset;
use lrpo_shared::reward::Reward;
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::NoiseSchedule;
use ndarray::Array3;

const VAL_STREAM: u64 = 0x0000_7A11_0000_0012;
const VAL_NOISE_STREAM: u64 = 0x0000_7A11_0000_0013;

/// The fixed validation faces: LQ inputs and their ground truth.
pub struct ValFaces {
    lq: Vec<Array3<f32>>,
    gt: Vec<Array3<f32>>,
}

impl ValFaces {
    /// The first `cfg.rl.val_faces` faces of `set`'s validation split (fewer if it has fewer;
    /// `None` when it has none), each degraded with its own fixed seed.
    pub fn new(cfg: &RunConfig, set: &FaceSet) -> Result<Option<Self>> {
        if set.val.is_empty() {
            return Ok(None);
        }
        let preset = DegradePreset::by_name(&cfg.data.preset)?;
        let (mut lq, mut gt) = (Vec::new(), Vec::new());
        for (i, f) in set.val.iter().take(cfg.rl.val_faces).enumerate() {
            let s = make_sample(
                f,
                &AugmentConfig::none(),
                &preset,
                &mut Rng::derive(VAL_STREAM, i as u64),
            )?;
            lq.push(s.lq);
            gt.push(s.hq);
        }
        Ok(Some(ValFaces { lq, gt }))
    }

    /// Faces held.
    pub fn len(&self) -> usize {
        self.lq.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.lq.is_empty()
    }

    /// Each face's reward for `model`'s restoration (fixed noise).
    pub fn rewards<B: PolicyBackend>(
        &self,
        model: &UNet<B>,
        cfg: &RunConfig,
        reward: &Reward,
        device: &B::Device,
    ) -> Result<Vec<f64>> {
        let schedule = NoiseSchedule::new(cfg.schedule.clone())?;
        let (n, r) = (self.lq.len(), cfg.data.resolution);
        let x = ddim_sample(
            model,
            &schedule,
            tensor4::<B>(model_values(&self.lq), n, r, device),
            cfg.rl.ddim_steps,
            cfg.sampling.eta,
            cfg.sampling.clip_x0,
            &mut Rng::derive(VAL_NOISE_STREAM, 0),
        )?;
        (0..n)
            .map(|i| {
                let out = to_image(&x, i)?;
                Ok(reward
                    .evaluate(&out.view(), Some(&self.gt[i].view()), &self.lq[i].view())?
                    .total)
            })
            .collect()
    }
}
