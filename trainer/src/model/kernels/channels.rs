//! Concatenation of two NCHW tensors along channels, and its adjoint (the split of a gradient
//! into the two inputs' parts), each part written contiguously.

use rayon::prelude::*;

/// `[a, b]` along channels: `a` is `[N, Ca, HW]`, `b` `[N, Cb, HW]` (as flat slices with `n`
/// images); returns `[N, Ca + Cb, HW]`.
pub fn cat(a: &[f32], b: &[f32], n: usize) -> Vec<f32> {
    assert!(n > 0 && a.len().is_multiple_of(n) && b.len().is_multiple_of(n));
    let (la, lb) = (a.len() / n, b.len() / n);
    assert!(la > 0 && lb > 0, "cat: empty part");
    let mut out = super::zeroed(a.len() + b.len());
    out.par_chunks_mut(la + lb)
        .zip(a.par_chunks(la).zip(b.par_chunks(lb)))
        .for_each(|(o, (pa, pb))| {
            o[..la].copy_from_slice(pa);
            o[la..].copy_from_slice(pb);
        });
    out
}

/// The inverse of [`cat`]: the first `la` values of each of the `n` images, and the rest.
pub fn split(y: &[f32], n: usize, la: usize) -> (Vec<f32>, Vec<f32>) {
    assert!(n > 0 && y.len().is_multiple_of(n) && la <= y.len() / n);
    let l = y.len() / n;
    let lb = l - la;
    let (mut a, mut b) = (super::zeroed(n * la), super::zeroed(n * lb));
    if la > 0 && lb > 0 {
        a.par_chunks_mut(la)
            .zip(b.par_chunks_mut(lb))
            .zip(y.par_chunks(l))
            .for_each(|((pa, pb), img)| {
                pa.copy_from_slice(&img[..la]);
                pb.copy_from_slice(&img[la..]);
            });
    } else if la > 0 {
        a.copy_from_slice(y);
    } else {
        b.copy_from_slice(y);
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_undoes_cat_image_by_image() {
        let a: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let b: Vec<f32> = (100..106).map(|v| v as f32).collect();
        let y = cat(&a, &b, 3);
        assert_eq!(&y[..6], &[0.0, 1.0, 2.0, 3.0, 100.0, 101.0]);
        let (a2, b2) = split(&y, 3, 4);
        assert_eq!((a2, b2), (a, b));
    }
}
