//! NIQE, the Naturalness Image Quality Evaluator (Mittal, Soundararajan & Bovik, 2013), exactly
//! as `skvideo.measure.niqe` (scikit-video 1.1.11) computes it. Lower is better.
//!
//! - Input: the luminance `0.299·R + 0.587·G + 0.114·B` of the RGB [0, 1] image, scaled to
//!   0–255.
//! - The image is cropped (bottom/right) to a multiple of the 96-px patch size; it must be
//!   larger than 193 × 193 (two scales of 96-px patches), smaller images are an error.
//! - A second scale is the luminance resized by ½ with PIL's antialiased bicubic filter on a
//!   float image (`scipy.misc.imresize(img, 0.5, interp='bicubic', mode='F')`).
//! - MSCN coefficients with a 7-tap Gaussian window (σ = 7/6, zero padding, C = 1).
//! - Per 96-px patch (48 px at the second scale): 18 asymmetric-generalised-Gaussian features
//!   of the MSCN field and of its four circularly shifted pairwise products, the shape α picked
//!   from skvideo's table (0.2 … 9.999 in steps of 0.001), including skvideo's quirk of
//!   repeating the left scale for the diagonal products.
//! - The score is the Mahalanobis-like distance between the patches' feature mean/covariance
//!   and the pristine model's (`assets/iqa/niqe_pristine.json`), through the pseudo-inverse of
//!   the averaged covariance.

use super::special::gamma;
use super::weighted_gray;
use crate::error::{Error, Result};
use crate::image::check_rgb;
use ndarray::{Array1, Array2, ArrayView3, s};
use std::sync::OnceLock;

/// Patch side at full resolution (pixels).
pub const PATCH: usize = 96;

struct Pristine {
    mu: Array1<f64>,
    cov: Array2<f64>,
}

fn pristine() -> &'static Pristine {
    static P: OnceLock<Pristine> = OnceLock::new();
    P.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct Raw {
            pop_mu: Vec<f64>,
            pop_cov: Vec<Vec<f64>>,
        }
        let raw: Raw = serde_json::from_str(include_str!("../../assets/iqa/niqe_pristine.json"))
            .expect("embedded niqe_pristine.json is valid");
        let n = raw.pop_mu.len();
        let cov = Array2::from_shape_vec((n, n), raw.pop_cov.into_iter().flatten().collect())
            .expect("pop_cov is square");
        Pristine {
            mu: Array1::from(raw.pop_mu),
            cov,
        }
    })
}

/// skvideo's α table: `gamma_range = arange(0.2, 10, 0.001)` and
/// `Γ(2/α)² / (Γ(1/α)·Γ(3/α))` for each entry.
fn alpha_table() -> &'static (Vec<f64>, Vec<f64>) {
    static T: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    T.get_or_init(|| {
        let n = ((10.0 - 0.2) / 0.001f64).ceil() as usize;
        let alphas: Vec<f64> = (0..n).map(|i| 0.2 + i as f64 * 0.001).collect();
        let rho = alphas
            .iter()
            .map(|&a| {
                let g2 = gamma(2.0 / a);
                g2 * g2 / (gamma(1.0 / a) * gamma(3.0 / a))
            })
            .collect();
        (alphas, rho)
    })
}

/// skvideo's `argmin((prec_gammas − target)²)`: the first index of the table entry nearest to
/// `target`, or 0 when `target` is NaN or ∞ (where every distance is NaN or ∞ and NumPy returns
/// the first index). The table increases with α, so a binary search finds it.
fn nearest_alpha_index(target: f64) -> usize {
    if !target.is_finite() {
        return 0;
    }
    let rho = &alpha_table().1;
    let i = rho.partition_point(|&r| r < target);
    if i == 0 {
        return 0;
    }
    if i == rho.len() {
        return rho.len() - 1;
    }
    let (dl, dr) = ((rho[i - 1] - target).powi(2), (rho[i] - target).powi(2));
    if dr < dl { i } else { i - 1 }
}

/// skvideo's `gen_gauss_window(3, 7/6)`: `exp(−½·i² / sd²)` normalised, where skvideo squares
/// σ = 7/6 in float32 (`sd = np.float32(sigma); sd *= sd`) and the rest happens in float64.
fn mscn_window() -> [f64; 7] {
    let sd = 7.0f32 / 6.0;
    let sd2 = (sd * sd) as f64;
    let mut w = [0.0f64; 7];
    let mut sum = 1.0f64;
    w[3] = 1.0;
    for i in 1..=3usize {
        let t = (-0.5 * (i * i) as f64 / sd2).exp();
        w[3 + i] = t;
        w[3 - i] = t;
        sum += 2.0 * t;
    }
    w.iter_mut().for_each(|v| *v /= sum);
    w
}

/// `scipy.ndimage.correlate1d` of a float32 plane with a symmetric 7-tap window, zero padding,
/// accumulated in f64 the way scipy does for symmetric filters and stored as f32.
fn correlate7_f32(src: &Array2<f32>, w: &[f64; 7], axis: usize) -> Array2<f32> {
    let src = src.as_standard_layout();
    let (h, wd) = src.dim();
    let mut out = Array2::<f32>::zeros((h, wd));
    if axis == 0 {
        let zero = vec![0.0f32; wd];
        let row = |y: isize| -> &[f32] {
            if (0..h as isize).contains(&y) {
                src.row(y as usize).to_slice().expect("standard layout")
            } else {
                &zero
            }
        };
        for (y, mut orow) in out.rows_mut().into_iter().enumerate() {
            let y = y as isize;
            let (c, rows) = (
                row(y),
                [
                    row(y - 1),
                    row(y + 1),
                    row(y - 2),
                    row(y + 2),
                    row(y - 3),
                    row(y + 3),
                ],
            );
            for (x, o) in orow.iter_mut().enumerate() {
                let mut tmp = c[x] as f64 * w[3];
                tmp += (rows[0][x] as f64 + rows[1][x] as f64) * w[2];
                tmp += (rows[2][x] as f64 + rows[3][x] as f64) * w[1];
                tmp += (rows[4][x] as f64 + rows[5][x] as f64) * w[0];
                *o = tmp as f32;
            }
        }
    } else {
        let mut line = vec![0.0f64; wd + 6];
        for (row, mut orow) in src.rows().into_iter().zip(out.rows_mut()) {
            for (l, &v) in line[3..3 + wd].iter_mut().zip(row.iter()) {
                *l = v as f64;
            }
            for (i, o) in orow.iter_mut().enumerate() {
                let c = i + 3;
                let mut tmp = line[c] * w[3];
                for k in 1..=3 {
                    tmp += (line[c - k] + line[c + k]) * w[3 - k];
                }
                *o = tmp as f32;
            }
        }
    }
    out
}

/// skvideo's `compute_image_mscn_transform` (C = 1), in float32 as skvideo computes it.
fn mscn_f32(img: &Array2<f32>) -> Array2<f32> {
    let w = mscn_window();
    let mu = correlate7_f32(&correlate7_f32(img, &w, 0), &w, 1);
    let sq = img.mapv(|v| v * v);
    let var = correlate7_f32(&correlate7_f32(&sq, &w, 0), &w, 1);
    let mut out = Array2::<f32>::zeros(img.dim());
    ndarray::Zip::from(&mut out)
        .and(img)
        .and(&mu)
        .and(&var)
        .for_each(|o, &i, &m, &v| *o = (i - m) / ((v - m * m).abs().sqrt() + 1.0));
    out
}

/// NumPy's pairwise summation of float32 (`pairwise_sum_FLOAT`: 8 accumulators in blocks of
/// at most 128, halves above that), so that means come out bit-identical to `np.mean`.
fn pairwise_sum_f32(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0f32;
        for &v in a {
            res += v;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f32; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for k in 0..8 {
                r[k] += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum_f32(&a[..n2]) + pairwise_sum_f32(&a[n2..])
    }
}

/// `np.mean` of a float32 array: the float32 pairwise sum divided by the count in float64,
/// rounded back to float32.
fn mean_f32(a: &[f32]) -> f32 {
    (pairwise_sum_f32(a) as f64 / a.len() as f64) as f32
}

/// Reusable buffers for [`aggd_features`].
#[derive(Default)]
struct Scratch {
    sq: Vec<f32>,
    abs: Vec<f32>,
    left: Vec<f32>,
    right: Vec<f32>,
}

/// skvideo's `aggd_features` on a float32 field: `(α, N, βl, βr)`. Means are float32 (as
/// NumPy computes them on float32 arrays), everything after them float64.
fn aggd_features(x: &[f32], buf: &mut Scratch) -> (f64, f64, f64, f64) {
    let n = x.len();
    buf.sq.clear();
    buf.sq.extend(x.iter().map(|v| v * v));
    buf.abs.clear();
    buf.abs.extend(x.iter().map(|v| v.abs()));
    // Branch-free split of the squares by the sign of x, keeping their order.
    buf.left.resize(n, 0.0);
    buf.right.resize(n, 0.0);
    let (mut l, mut r) = (0usize, 0usize);
    for (&v, &v2) in x.iter().zip(&buf.sq) {
        buf.left[l] = v2;
        buf.right[r] = v2;
        let neg = (v < 0.0) as usize;
        l += neg;
        r += 1 - neg;
    }
    buf.left.truncate(l);
    buf.right.truncate(r);
    let left_mean_sqrt = if buf.left.is_empty() {
        0.0
    } else {
        mean_f32(&buf.left).sqrt()
    };
    let right_mean_sqrt = if buf.right.is_empty() {
        0.0
    } else {
        mean_f32(&buf.right).sqrt()
    };
    let gamma_hat = if right_mean_sqrt != 0.0 {
        (left_mean_sqrt / right_mean_sqrt) as f64
    } else {
        f64::INFINITY
    };
    let sq_mean = mean_f32(&buf.sq);
    let r_hat = if sq_mean != 0.0 {
        (mean_f32(&buf.abs) as f64).powi(2) / sq_mean as f64
    } else {
        f64::INFINITY
    };
    let rhat_norm =
        r_hat * ((gamma_hat.powi(3) + 1.0) * (gamma_hat + 1.0)) / (gamma_hat.powi(2) + 1.0).powi(2);
    let best = nearest_alpha_index(rhat_norm);
    let alphas = &alpha_table().0;
    let alpha = alphas[best];
    let (g1, g2, g3) = (gamma(1.0 / alpha), gamma(2.0 / alpha), gamma(3.0 / alpha));
    let ratio = g1.sqrt() / g3.sqrt();
    let (bl, br) = (
        ratio * left_mean_sqrt as f64,
        ratio * right_mean_sqrt as f64,
    );
    (alpha, (br - bl) * (g2 / g1), bl, br)
}

/// The 18 features of one MSCN patch (skvideo's `_niqe_extract_subband_feats`).
fn patch_features(p: &ndarray::ArrayView2<f32>, buf: &mut Scratch, out: &mut Vec<f64>) {
    let (h, w) = p.dim();
    let flat: Vec<f32> = p.iter().copied().collect();
    let (a, _, bl, br) = aggd_features(&flat, buf);
    out.extend([a, (bl + br) / 2.0]);
    // np.roll(x, 1, axis) shifts forward with wrap-around: shifted[i] = x[i − 1].
    let prod = |dy: usize, dx: isize| -> Vec<f32> {
        let mut v = Vec::with_capacity(h * w);
        let xs: Vec<usize> = (0..w)
            .map(|x| (x as isize - dx).rem_euclid(w as isize) as usize)
            .collect();
        for y in 0..h {
            let sy = (y + h - dy) % h;
            let (row, srow) = (p.row(y), p.row(sy));
            for (x, &sx) in xs.iter().enumerate() {
                v.push(srow[sx] * row[x]);
            }
        }
        v
    };
    let pairs = [prod(0, 1), prod(1, 0), prod(1, 1), prod(1, -1)];
    for (i, pp) in pairs.iter().enumerate() {
        let (a, n, bl, br) = aggd_features(pp, buf);
        // skvideo repeats βl for the two diagonal products.
        let last = if i < 2 { br } else { bl };
        out.extend([a, n, bl, last]);
    }
}

fn patches(m: &Array2<f32>, size: usize) -> Vec<Vec<f64>> {
    let (h, w) = m.dim();
    let mut feats = Vec::new();
    let mut buf = Scratch::default();
    for y in (0..=h - size).step_by(size) {
        for x in (0..=w - size).step_by(size) {
            let mut f = Vec::with_capacity(18);
            patch_features(&m.slice(s![y..y + size, x..x + size]), &mut buf, &mut f);
            feats.push(f);
        }
    }
    feats
}

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: `(values, vectors)`
/// with `a = V·diag(values)·Vᵀ` (eigenvectors in the columns of V).
pub(crate) fn symmetric_eigen(a: &Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let n = a.nrows();
    let mut a = a.clone();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[[i, j]] * a[[i, j]])
            .sum();
        let scale: f64 = a.iter().map(|x| x * x).sum::<f64>();
        if off <= 1e-30 * scale.max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[[p, q]];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[[i, i]]).collect(), v)
}

/// Moore–Penrose pseudo-inverse of a symmetric matrix with `scipy.linalg.pinv`'s default
/// cutoff (singular values below `n·ε·s_max` are dropped).
pub(crate) fn pinv_symmetric(a: &Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    let (vals, vecs) = symmetric_eigen(a);
    let smax = vals.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let cutoff = n as f64 * f64::EPSILON * smax;
    let mut out = Array2::<f64>::zeros((n, n));
    for (k, &l) in vals.iter().enumerate() {
        if l.abs() <= cutoff {
            continue;
        }
        let col = vecs.column(k);
        for i in 0..n {
            for j in 0..n {
                out[[i, j]] += col[i] * col[j] / l;
            }
        }
    }
    out
}

/// Side images are enlarged to (bicubic) before [`niqe_any_size`] scores them when a side is
/// too short for NIQE's 96-px patches (at most `2·PATCH + 1` = 193 px).
pub const SMALL_IMAGE_SIDE: usize = 256;

/// NIQE with the project's one rule for small images, used by the trainer's and the edge's
/// evaluations alike: an image with a side of at most 193 px is scored after a bicubic
/// enlargement to 256 × 256 ([`SMALL_IMAGE_SIDE`]); larger images as they are.
pub fn niqe_any_size(img: &ArrayView3<f32>) -> Result<f64> {
    let (h, w) = check_rgb(img, "NIQE input")?;
    if h.min(w) > 2 * PATCH + 1 {
        return niqe(img);
    }
    let big = crate::resize::resize(
        img,
        SMALL_IMAGE_SIDE,
        SMALL_IMAGE_SIDE,
        crate::resize::Filter::Bicubic,
    )?
    .mapv(|v| v.clamp(0.0, 1.0));
    niqe(&big.view())
}

/// NIQE of an RGB [0, 1] image (see the module doc). Lower is more natural.
pub fn niqe(img: &ArrayView3<f32>) -> Result<f64> {
    let (h, w) = check_rgb(img, "NIQE input")?;
    if h <= 2 * PATCH + 1 || w <= 2 * PATCH + 1 {
        return Err(Error::invalid(
            "NIQE input",
            format!(
                "{w}x{h}: NIQE needs both sides larger than {} px (two scales of {PATCH}-px patches)",
                2 * PATCH + 1
            ),
        ));
    }
    let gray = weighted_gray(img, [0.299, 0.587, 0.114], 255.0, 0.0);
    let (hc, wc) = (h - h % PATCH, w - w % PATCH);
    // skvideo casts to float32 before anything else and stays there until the features.
    let gray = gray.slice(s![..hc, ..wc]).mapv(|v| v as f32 as f64);
    let half = crate::resize::pil_bicubic_resize(&gray, hc / 2, wc / 2);
    let m1 = mscn_f32(&gray.mapv(|v| v as f32));
    let m2 = mscn_f32(&half.mapv(|v| v as f32));
    let f1 = patches(&m1, PATCH);
    let f2 = patches(&m2, PATCH / 2);
    let n = f1.len();
    let d = 36;
    let mut feats = Array2::<f64>::zeros((n, d));
    for i in 0..n {
        for j in 0..18 {
            feats[[i, j]] = f1[i][j];
            feats[[i, 18 + j]] = f2[i][j];
        }
    }
    niqe_distance(&feats)
}

/// The NIQE distance of a set of patch features `[patches, 36]` to the pristine model.
fn niqe_distance(feats: &Array2<f64>) -> Result<f64> {
    let p = pristine();
    let n = feats.nrows();
    if n < 2 {
        return Err(Error::invalid("NIQE input", "fewer than two patches"));
    }
    let mu = feats.mean_axis(ndarray::Axis(0)).expect("non-empty");
    let centred = feats - &mu;
    let cov = centred.t().dot(&centred) / (n as f64 - 1.0);
    let covmat = (&p.cov + &cov) / 2.0;
    let x = &mu - &p.mu;
    let pinv = pinv_symmetric(&covmat);
    let q = x.dot(&pinv.dot(&x));
    if !q.is_finite() {
        return Err(Error::invalid(
            "NIQE input",
            "features are not finite (constant image?)",
        ));
    }
    Ok(q.max(0.0).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinv_inverts_a_well_conditioned_matrix_and_drops_null_directions() {
        let a = Array2::from_shape_vec((3, 3), vec![4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0])
            .unwrap();
        let p = pinv_symmetric(&a);
        let id = a.dot(&p);
        for i in 0..3 {
            for j in 0..3 {
                assert!((id[[i, j]] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        // Rank-1 matrix u·uᵀ: pinv = u·uᵀ / |u|⁴.
        let u = [1.0, 2.0, 2.0];
        let r1 = Array2::from_shape_fn((3, 3), |(i, j)| u[i] * u[j]);
        let p = pinv_symmetric(&r1);
        assert!((p[[1, 2]] - 4.0 / 81.0).abs() < 1e-12);
    }

    #[test]
    fn alpha_table_matches_skvideo_endpoints() {
        let (a, r) = alpha_table();
        assert_eq!(a.len(), 9800);
        assert!((a[0] - 0.2).abs() < 1e-15 && (a[9799] - 9.999).abs() < 1e-9);
        // Gaussian (α = 2): Γ(1)² / (Γ(½)Γ(3/2)) = 2/π.
        let i = 1800;
        assert!((a[i] - 2.0).abs() < 1e-12);
        assert!((r[i] - 2.0 / std::f64::consts::PI).abs() < 1e-12);
    }

    #[test]
    fn alpha_table_increases_so_binary_search_is_argmin() {
        let (_, r) = alpha_table();
        assert!(r.windows(2).all(|w| w[0] < w[1]));
        for target in [
            0.1,
            0.3,
            0.5,
            0.636,
            0.7,
            0.75,
            0.9,
            f64::NAN,
            f64::INFINITY,
        ] {
            let brute = if target.is_finite() {
                let mut best = (0, f64::INFINITY);
                for (i, v) in r.iter().enumerate() {
                    let d = (v - target).powi(2);
                    if d < best.1 {
                        best = (i, d);
                    }
                }
                best.0
            } else {
                0
            };
            assert_eq!(nearest_alpha_index(target), brute, "{target}");
        }
    }

    #[test]
    fn small_images_are_refused() {
        let img = ndarray::Array3::<f32>::zeros((3, 193, 300));
        let e = niqe(&img.view()).unwrap_err().to_string();
        assert!(e.contains("193") && e.contains("NIQE"), "{e}");
    }

    #[test]
    fn small_images_are_scored_enlarged_to_256_and_large_ones_as_they_are() {
        let img = ndarray::Array3::from_shape_fn((3, 128, 128), |(c, y, x)| {
            (((x * 7 + y * 13 + c * 5) % 31) as f32 / 31.0) * 0.8 + 0.1
        });
        let big = crate::resize::resize(&img.view(), 256, 256, crate::resize::Filter::Bicubic)
            .unwrap()
            .mapv(|v| v.clamp(0.0, 1.0));
        assert_eq!(
            niqe_any_size(&img.view()).unwrap(),
            niqe(&big.view()).unwrap()
        );
        assert_eq!(
            niqe_any_size(&big.view()).unwrap(),
            niqe(&big.view()).unwrap()
        );
    }
}
