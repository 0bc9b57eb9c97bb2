//! The LQ faces an export checks and calibrates on, and their batches.

use crate::config::RunConfig;
use crate::data::{AugmentConfig, FaceSet, make_sample};
use crate::error::Result;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use lrpo_shared::degrade::DegradePreset;
use lrpo_shared::rng::Rng;
use ndarray::{Array3, ArrayD, IxDyn};
use std::path::Path;

/// LQ inputs for checks and calibration: the faces under `dir` (or the run's data), degraded
/// with the run's preset (seeded), at the export size.
pub fn calibration_inputs(cfg: &RunConfig, dir: &Path, count: usize) -> Result<Vec<Array3<f32>>> {
    let mut dcfg = cfg.data.clone();
    dcfg.holdout = vec![];
    dcfg.val_count = 0;
    let set = FaceSet::load(dir, &dcfg)?;
    let preset = DegradePreset::by_name(&cfg.data.preset)?;
    let mut out = Vec::new();
    for i in 0..count {
        let f = &set.train[i % set.train.len()];
        out.push(
            make_sample(
                f,
                &AugmentConfig::default(),
                &preset,
                &mut Rng::derive(0xCA11B, i as u64),
            )?
            .lq,
        );
    }
    Ok(out)
}

/// `imgs` (each `[3, H, W]`, one size) as a burn batch `[N, 3, H, W]`.
pub(crate) fn batch<B: Backend>(imgs: &[Array3<f32>], device: &B::Device) -> Tensor<B, 4> {
    let (_, h, w) = imgs[0].dim();
    Tensor::from_data(
        TensorData::new(
            imgs.iter()
                .flat_map(|a| a.iter().copied())
                .collect::<Vec<_>>(),
            [imgs.len(), 3, h, w],
        ),
        device,
    )
}

/// `imgs` as an ndarray batch `[N, 3, H, W]` (what tract takes).
pub(crate) fn batch_array(imgs: &[Array3<f32>]) -> Result<ArrayD<f32>> {
    let (_, h, w) = imgs[0].dim();
    Ok(ArrayD::from_shape_vec(
        IxDyn(&[imgs.len(), 3, h, w]),
        imgs.iter().flat_map(|a| a.iter().copied()).collect(),
    )?)
}
