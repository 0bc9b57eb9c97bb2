//! Fresh ground-truth pairs and the image ↔ tensor helpers of distillation.

use crate::data::Batch;
use anyhow::Result;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use lrpo_shared::rng::Rng;
use ndarray::Array3;

const CLEAN_STREAM: u64 = 0x0000_C1EA_0000_000E;

/// The fresh pairs of a loader batch in [0, 1] (`lq`, `gt`, flattened NCHW): item `i` of step
/// `s` is clean (`lq = gt`) with probability `clean_fraction`, drawn from its own sub-stream of
/// `seed`, so that a resumed run draws the same pairs.
pub fn fresh_pairs(b: &Batch, seed: u64, clean_fraction: f64) -> (Vec<f32>, Vec<f32>) {
    let per = 3 * b.size * b.size;
    let gt: Vec<f32> = b.hq.iter().map(|v| (v + 1.0) / 2.0).collect();
    let mut lq: Vec<f32> = b.lq.iter().map(|v| (v + 1.0) / 2.0).collect();
    for i in 0..b.n {
        let p = b.step * b.n as u64 + i as u64;
        if clean_fraction > 0.0 && Rng::derive(seed ^ CLEAN_STREAM, p).bernoulli(clean_fraction) {
            lq[i * per..(i + 1) * per].copy_from_slice(&gt[i * per..(i + 1) * per]);
        }
    }
    (lq, gt)
}

/// `[N, 3, H, W]` tensor of equally sized `[3, H, W]` images.
pub fn stack<B: Backend>(imgs: &[&Array3<f32>], device: &B::Device) -> Tensor<B, 4> {
    let (_, h, w) = imgs[0].dim();
    let v: Vec<f32> = imgs.iter().flat_map(|a| a.iter().copied()).collect();
    Tensor::from_data(TensorData::new(v, [imgs.len(), 3, h, w]), device)
}

/// A `[3, H, W]` image from item `i` of a `[N, 3, H, W]` [0, 1] tensor (clamped).
pub fn unit_image<B: Backend>(x: &Tensor<B, 4>, i: usize) -> Result<Array3<f32>> {
    let [_, c, h, w] = x.dims();
    let v: Vec<f32> = x
        .clone()
        .narrow(0, i, 1)
        .into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(Array3::from_shape_vec((c, h, w), v)?.mapv(|v| v.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_of_fresh_pairs_is_clean_and_the_draw_is_pure() {
        let (n, size) = (400, 2);
        let per = 3 * size * size;
        let hq: Vec<f32> = (0..n * per).map(|i| (i % 7) as f32 / 7.0).collect();
        let b = Batch {
            step: 3,
            lq: hq.iter().map(|v| v - 0.5).collect(),
            hq,
            n,
            size,
        };
        let (lq, gt) = fresh_pairs(&b, 9, 0.25);
        let clean = (0..n)
            .filter(|i| lq[i * per..(i + 1) * per] == gt[i * per..(i + 1) * per])
            .count();
        // Binomial(400, 0.25): mean 100, sd 8.7.
        assert!((70..=130).contains(&clean), "{clean} clean of {n}");
        // The others keep their degraded input, mapped from [-1, 1] to [0, 1].
        let i = (0..n)
            .find(|i| lq[i * per..(i + 1) * per] != gt[i * per..(i + 1) * per])
            .unwrap();
        assert!((lq[i * per] - (b.lq[i * per] + 1.0) / 2.0).abs() < 1e-6);
        assert_eq!(fresh_pairs(&b, 9, 0.25), (lq, gt));
        let (lq0, gt0) = fresh_pairs(&b, 9, 0.0);
        assert!((0..n).all(|i| lq0[i * per..(i + 1) * per] != gt0[i * per..(i + 1) * per]));
    }
}
