//! The low-pass band of the 2-D dual-tree complex wavelet transform (Kingsbury, 2001), exactly
//! as the PyPI `dtcwt` package computes it (`Transform2d(biort='near_sym_b',
//! qshift='qshift_b').forward(x, nlevels=3).lowpass`):
//!
//! - level 1: separable non-decimated filtering of columns then rows with the 13-tap
//!   biorthogonal low-pass `h0o`, symmetric extension with repeated end samples;
//! - levels 2 … J: separable decimate-by-two Q-shift filtering (`coldfilt` with `h0b`, `h0a`),
//!   after padding the rows/columns to a multiple of 4 by repeating the first and last ones;
//! - an odd input size is first made even by repeating the last row/column.
//!
//! LRPO's fidelity reward compares the low-pass bands of the restored image and the GT:
//! `exp(−15 · mean |low(x̂) − low(x_GT)|)` over all channels, J = 3, images in [0, 1].

use super::{Plane, channel, check_pair};
use crate::error::Result;
use ndarray::{ArrayView3, Axis, concatenate, s};
use std::sync::OnceLock;

/// Decomposition levels J.
pub const LEVELS: usize = 3;
/// The reward's scale: `exp(−SCALE · L1)`.
pub const REWARD_SCALE: f64 = 15.0;

struct Filters {
    h0o: Vec<f64>,
    h0a: Vec<f64>,
    h0b: Vec<f64>,
}

fn filters() -> &'static Filters {
    static F: OnceLock<Filters> = OnceLock::new();
    F.get_or_init(|| {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../assets/iqa/dtcwt_filters.json"))
                .expect("embedded dtcwt_filters.json is valid JSON");
        let get = |k: &str| -> Vec<f64> {
            v[k].as_array()
                .expect("filter array")
                .iter()
                .map(|x| x.as_f64().expect("filter tap"))
                .collect()
        };
        Filters {
            h0o: get("h0o"),
            h0a: get("h0a"),
            h0b: get("h0b"),
        }
    })
}

/// dtcwt's `reflect(x, -0.5, n - 0.5)`: symmetric extension with repeated end samples.
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let period = 2 * n;
    let mut m = i.rem_euclid(period);
    if m >= n {
        m = period - 1 - m;
    }
    m as usize
}

/// `colfilter`: filters the columns of `x` with odd-length `h` (true convolution, "valid"
/// part of the symmetrically extended signal; output the size of the input).
fn colfilter(x: &Plane, h: &[f64]) -> Plane {
    let (r, c) = x.dim();
    let m = h.len();
    let m2 = (m / 2) as isize;
    let mut out = Plane::zeros((r, c));
    for i in 0..r {
        let mut orow = out.row_mut(i);
        // Y[i] = Σ_k h[k] · Xe[i + m − 1 − k], Xe[j] = X[reflect(j − m2)].
        for (k, &hk) in h.iter().enumerate() {
            let src = reflect(i as isize + (m - 1 - k) as isize - m2, r);
            orow.scaled_add(hk, &x.row(src));
        }
    }
    out
}

/// Valid convolution of the rows selected by `idx` (a row index per extended position) with
/// `h`, returning one output row per `t`.
fn column_convolve_at(x: &Plane, rows: &[usize], h: &[f64]) -> Plane {
    // _column_convolve(X[rows], h): Y[i] = Σ_k h[k] · X[rows[i + m − 1 − k]].
    let m = h.len();
    let n_out = rows.len() + 1 - m;
    let mut out = Plane::zeros((n_out, x.ncols()));
    for i in 0..n_out {
        let mut orow = out.row_mut(i);
        for (k, &hk) in h.iter().enumerate() {
            orow.scaled_add(hk, &x.row(rows[i + m - 1 - k]));
        }
    }
    out
}

/// `coldfilt`: filters the columns of `x` (rows a multiple of 4) with the Q-shift pair and
/// decimates by two.
fn coldfilt(x: &Plane, ha: &[f64], hb: &[f64]) -> Plane {
    let (r, c) = x.dim();
    debug_assert!(r.is_multiple_of(4));
    let m = ha.len();
    // xe = reflect(arange(-m, r + m), -0.5, r - 0.5)
    let xe: Vec<usize> = (-(m as isize)..(r + m) as isize)
        .map(|i| reflect(i, r))
        .collect();
    let hao: Vec<f64> = ha.iter().step_by(2).copied().collect();
    let hae: Vec<f64> = ha.iter().skip(1).step_by(2).copied().collect();
    let hbo: Vec<f64> = hb.iter().step_by(2).copied().collect();
    let hbe: Vec<f64> = hb.iter().skip(1).step_by(2).copied().collect();
    // t = arange(5, r + 2m − 2, 4)
    let t: Vec<usize> = (5..r + 2 * m - 2).step_by(4).collect();
    let pick = |off: usize| -> Vec<usize> { t.iter().map(|&ti| xe[ti - off]).collect() };
    let r2 = r / 2;
    let ya = &column_convolve_at(x, &pick(1), &hao) + &column_convolve_at(x, &pick(3), &hae);
    let yb = &column_convolve_at(x, &pick(0), &hbo) + &column_convolve_at(x, &pick(2), &hbe);
    let dot: f64 = ha.iter().zip(hb).map(|(a, b)| a * b).sum();
    let mut y = Plane::zeros((r2, c));
    // s1 takes the "a" results, s2 the "b" ones; which rows are even depends on sign(ha·hb).
    let (a_first, n) = (dot > 0.0, r2 / 2);
    for k in 0..n {
        let (ia, ib) = if a_first {
            (2 * k, 2 * k + 1)
        } else {
            (2 * k + 1, 2 * k)
        };
        y.row_mut(ia).assign(&ya.row(k));
        y.row_mut(ib).assign(&yb.row(k));
    }
    y
}

/// The J = 3 low-pass band of one channel.
pub fn lowpass(x: &Plane) -> Plane {
    let f = filters();
    let mut x = x.clone();
    if !x.nrows().is_multiple_of(2) {
        let last = x.slice(s![-1.., ..]).to_owned();
        x = concatenate![Axis(0), x, last];
    }
    if !x.ncols().is_multiple_of(2) {
        let last = x.slice(s![.., -1..]).to_owned();
        x = concatenate![Axis(1), x, last];
    }
    // Level 1.
    // Filter along columns, transpose (materialised, so rows stay contiguous), repeat.
    let t = |p: Plane| p.reversed_axes().as_standard_layout().to_owned();
    let lo = t(colfilter(&x, &f.h0o));
    let mut lolo = t(colfilter(&lo, &f.h0o));
    // Levels 2 … J.
    for _ in 1..LEVELS {
        if !lolo.nrows().is_multiple_of(4) {
            let (first, last) = (
                lolo.slice(s![..1, ..]).to_owned(),
                lolo.slice(s![-1.., ..]).to_owned(),
            );
            lolo = concatenate![Axis(0), first, lolo, last];
        }
        if !lolo.ncols().is_multiple_of(4) {
            let (first, last) = (
                lolo.slice(s![.., ..1]).to_owned(),
                lolo.slice(s![.., -1..]).to_owned(),
            );
            lolo = concatenate![Axis(1), first, lolo, last];
        }
        let lo = t(coldfilt(&lolo, &f.h0b, &f.h0a));
        lolo = t(coldfilt(&lo, &f.h0b, &f.h0a));
    }
    lolo
}

/// Mean absolute difference of the J = 3 low-pass bands of two RGB images, over all
/// coefficients of all three channels.
pub fn lowpass_l1(a: &ArrayView3<f32>, b: &ArrayView3<f32>) -> Result<f64> {
    check_pair(a, b)?;
    let (mut sum, mut n) = (0.0, 0usize);
    for c in 0..3 {
        let (la, lb) = (lowpass(&channel(a, c)), lowpass(&channel(b, c)));
        sum += la
            .iter()
            .zip(lb.iter())
            .map(|(x, y)| (x - y).abs())
            .sum::<f64>();
        n += la.len();
    }
    Ok(sum / n as f64)
}

/// LRPO's DTCWT fidelity reward `exp(−15 · lowpass_l1(x̂, x_GT))`, in (0, 1].
pub fn fidelity_reward(restored: &ArrayView3<f32>, gt: &ArrayView3<f32>) -> Result<f64> {
    Ok((-REWARD_SCALE * lowpass_l1(restored, gt)?).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowpass_of_a_constant_is_a_scaled_constant_and_sizes_halve() {
        let x = Plane::from_elem((64, 48), 0.5);
        let lo = lowpass(&x);
        assert_eq!(lo.dim(), (16, 12));
        // Each level's low-pass filters have DC gain 1 (h0o) or sqrt(2) (Q-shift, per axis),
        // so J = 3 multiplies a constant by (sqrt 2)^(2·2) = 4.
        for v in lo.iter() {
            assert!((v - 2.0).abs() < 1e-9, "{v}");
        }
    }

    #[test]
    fn odd_and_non_multiple_of_four_sizes_work() {
        let x = Plane::from_shape_fn((37, 50), |(i, j)| ((i * 3 + j) % 7) as f64 / 7.0);
        let lo = lowpass(&x);
        // 37 → 38 (even); level 2: 38 → 40 → 20; level 3: 20 → 10.
        assert_eq!(lo.nrows(), 10);
        assert!(lo.iter().all(|v| v.is_finite()));
    }
}
