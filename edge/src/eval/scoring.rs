//! The metrics of one restoration (see `lrpo_shared::metrics`): PSNR, SSIM, DTCWT low-pass L1
//! and its reward, NIQE, BRISQUE, identity distance to the GT, and the composite reward with
//! its breakdown. Full-reference metrics are skipped without a GT.
//!
//! NIQE needs more than 193 pixels a side: smaller images are scored after a bicubic upscale to
//! 256 px (reported as such).

use anyhow::Result;
use lrpo_shared::metrics::{brisque::brisque, dtcwt, psnr, ssim::ssim};
use lrpo_shared::onnx::identity::{FaceDescriptor, distance};
use lrpo_shared::reward::Reward;
use ndarray::Array3;
use std::collections::BTreeMap;

/// One metric's value and which way is better.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metric {
    /// The value.
    pub value: f64,
    /// Whether larger is better.
    pub higher_is_better: bool,
}

fn put(m: &mut BTreeMap<String, Metric>, name: &str, value: f64, higher_is_better: bool) {
    m.insert(
        name.to_string(),
        Metric {
            value,
            higher_is_better,
        },
    );
}

/// NIQE with the project's rule for small images ([`lrpo_shared::metrics::niqe::niqe_any_size`]).
pub fn niqe_any_size(img: &Array3<f32>) -> Result<f64> {
    Ok(lrpo_shared::metrics::niqe::niqe_any_size(&img.view())?)
}

/// Scores one restoration. `reward` is skipped when it needs a GT that is absent.
pub fn score(
    out: &Array3<f32>,
    gt: Option<&Array3<f32>>,
    lq: &Array3<f32>,
    reward: Option<&Reward>,
    faces: Option<&FaceDescriptor>,
) -> Result<BTreeMap<String, Metric>> {
    let mut m = BTreeMap::new();
    if let Some(gt) = gt {
        put(&mut m, "PSNR (dB)", psnr(&out.view(), &gt.view())?, true);
        put(&mut m, "SSIM", ssim(&out.view(), &gt.view())?, true);
        let l1 = dtcwt::lowpass_l1(&out.view(), &gt.view())?;
        put(&mut m, "DTCWT L1", l1, false);
        put(
            &mut m,
            "DTCWT fidelity",
            (-dtcwt::REWARD_SCALE * l1).exp(),
            true,
        );
        if let Some(f) = faces {
            let d = f.describe_crops(&[out.view(), gt.view()])?;
            put(&mut m, "identity distance", distance(&d[0], &d[1]), false);
        }
    }
    put(&mut m, "NIQE", niqe_any_size(out)?, false);
    put(&mut m, "BRISQUE", brisque(&out.view())?, false);
    if let Some(r) = reward
        && (gt.is_some() || !r.spec().needs_gt())
    {
        let b = r.evaluate(&out.view(), gt.map(|g| g.view()).as_ref(), &lq.view())?;
        put(&mut m, "reward", b.total, true);
        for c in b.components {
            put(&mut m, &format!("reward: {}", c.name), c.reward, true);
        }
    }
    Ok(m)
}
