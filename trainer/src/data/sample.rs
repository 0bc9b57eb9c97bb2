//! One training pair: an augmented HQ face and its degradation.

use super::{AugmentConfig, Face};
use crate::error::Result;
use lrpo_shared::align::{Border, Interp, Similarity, warp_to_crop};
use lrpo_shared::degrade::{DegradeParams, DegradePreset, degrade_full};
use lrpo_shared::resize::resize_antialiased;
use lrpo_shared::rng::Rng;
use ndarray::Array3;

/// One training pair.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The (augmented) HQ face, RGB [0, 1].
    pub hq: Array3<f32>,
    /// Its degraded version.
    pub lq: Array3<f32>,
    /// The small LQ before resizing back (for a bicubic baseline).
    pub lq_small: Array3<f32>,
    /// The degradation drawn.
    pub params: DegradeParams,
}

/// The augmentation warp from the source (side `n_src`) to the training crop (side `n_out`):
/// whether to mirror the result, then scale, rotation and shift about the centres, drawn from
/// `rng` in that order. Mirroring the warped crop equals mirroring the source first (with the
/// mirrored, equally likely, rotation), so the similarity itself needs no reflection.
pub(crate) fn augment_warp(
    aug: &AugmentConfig,
    n_src: usize,
    n_out: usize,
    rng: &mut Rng,
) -> (bool, Similarity) {
    let flip = aug.flip && rng.bernoulli(0.5);
    let sc = 1.0 + rng.range(-aug.scale, aug.scale);
    let theta = rng.range(-aug.rotate, aug.rotate).to_radians();
    let (dx, dy) = (
        rng.range(-aug.shift, aug.shift) * n_out as f64,
        rng.range(-aug.shift, aug.shift) * n_out as f64,
    );
    let k = n_out as f64 / n_src as f64 * sc;
    let (cs, cd) = ((n_src as f64 - 1.0) / 2.0, (n_out as f64 - 1.0) / 2.0);
    // p_out = k·R(θ)·(p_src − c_src) + c_out + d.
    let (a, b) = (k * theta.cos(), k * theta.sin());
    (
        flip,
        Similarity {
            a,
            b,
            tx: cd + dx - (a * cs - b * cs),
            ty: cd + dy - (b * cs + a * cs),
        },
    )
}

/// Augments `face` and degrades it, drawing everything from `rng`. With a geometric
/// augmentation the face is warped once from its source at twice the resolution, at twice the
/// resolution, and antialiased down.
pub fn make_sample(
    face: &Face,
    aug: &AugmentConfig,
    preset: &DegradePreset,
    rng: &mut Rng,
) -> Result<Sample> {
    let (_, n, _) = face.hq.dim();
    let geometric = aug.flip || aug.scale > 0.0 || aug.rotate > 0.0 || aug.shift > 0.0;
    let mut hq = if geometric {
        let src = face.src.as_ref().unwrap_or(&face.hq);
        let (_, ns, _) = src.dim();
        let big = 2 * n;
        let (flip, t) = augment_warp(aug, ns, big, rng);
        let mut w = warp_to_crop(&src.view(), &t, big, Interp::Bicubic, Border::Replicate)?;
        if flip {
            w.invert_axis(ndarray::Axis(2));
        }
        resize_antialiased(&w.view(), n, n)?.mapv(|v| v.clamp(0.0, 1.0))
    } else {
        face.hq.clone()
    };
    if aug.color > 0.0 {
        let (b, ct, sat) = (
            1.0 + rng.range(-aug.color, aug.color),
            1.0 + rng.range(-aug.color, aug.color),
            1.0 + rng.range(-aug.color, aug.color),
        );
        let mean = hq.mean().unwrap_or(0.5);
        let (_, h, w) = hq.dim();
        for y in 0..h {
            for x in 0..w {
                let px: [f32; 3] =
                    std::array::from_fn(|c| (hq[[c, y, x]] * b as f32 - mean) * ct as f32 + mean);
                let gray = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
                for c in 0..3 {
                    hq[[c, y, x]] = (gray + (px[c] - gray) * sat as f32).clamp(0.0, 1.0);
                }
            }
        }
    }
    let params = preset.sample(rng);
    let d = degrade_full(&hq.view(), &params)?;
    Ok(Sample {
        hq,
        lq: d.lq,
        lq_small: d.small,
        params,
    })
}
