//! Fresh ground-truth pairs for distillation's ground-truth term.

use crate::data::Batch;
use lrpo_shared::rng::Rng;

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
