//! BRISQUE, the Blind/Referenceless Image Spatial Quality Evaluator (Mittal, Moorthy & Bovik,
//! 2012), exactly as the PyPI `brisque` 0.2.0 package computes it. Lower is better (about
//! 0–100).
//!
//! - Input: `skimage.color.rgb2gray` of the RGB [0, 1] image
//!   (`0.2125·R + 0.7154·G + 0.0721·B`, in [0, 1]).
//! - MSCN coefficients with a 7 × 7 Gaussian window (σ = 7/6, `scipy.signal.convolve2d(...,
//!   'same')`, i.e. zero padding), `C = 1/255`.
//! - 18 features per scale: the asymmetric generalised Gaussian fit (shape α solved from the
//!   moment ratio with a root finder) of the MSCN field (α, mean of σl², σr²) and of its four
//!   neighbour products (α, mean, σl², σr²), products taken without wrap-around.
//! - Two scales: the image and its half-size version by OpenCV's bicubic `cv2.resize(...,
//!   fx=0.5, fy=0.5)` (a = −0.75, no antialiasing, replicated border).
//! - The 36 features are scaled to [−1, 1] with the package's ranges and fed to its libsvm
//!   ε-SVR (RBF kernel, γ = 0.05, 770 support vectors); the SVR's output is the score.
//!
//! Images need at least 4 × 4 pixels (2 × 2 at the second scale).

use super::special::gamma;
use super::{Border1d, Plane, correlate1d, weighted_gray};
use crate::error::{Error, Result};
use crate::image::check_rgb;
use ndarray::ArrayView3;
use std::sync::OnceLock;

struct Model {
    gamma: f64,
    rho: f64,
    coef: Vec<f64>,
    /// Support vectors, dense, 36 features each.
    sv: Vec<[f64; 36]>,
    min: [f64; 36],
    max: [f64; 36],
}

fn parse_model() -> std::result::Result<Model, String> {
    let text = include_str!("../../assets/iqa/brisque_svm.txt");
    let mut lines = text.lines();
    let (mut gamma, mut rho) = (None, None);
    for line in lines.by_ref() {
        let mut it = line.split_whitespace();
        match (it.next(), it.next()) {
            (Some("svm_type"), Some(t)) if t != "epsilon_svr" => {
                return Err(format!("svm_type {t}"));
            }
            (Some("kernel_type"), Some(t)) if t != "rbf" => return Err(format!("kernel_type {t}")),
            (Some("gamma"), Some(v)) => gamma = v.parse().ok(),
            (Some("rho"), Some(v)) => rho = v.parse().ok(),
            (Some("SV"), None) => break,
            _ => {}
        }
    }
    let (mut coef, mut sv) = (Vec::new(), Vec::new());
    for line in lines {
        let mut it = line.split_whitespace();
        let Some(c) = it.next() else { continue };
        coef.push(c.parse::<f64>().map_err(|e| e.to_string())?);
        let mut x = [0.0; 36];
        for pair in it {
            let (i, v) = pair.split_once(':').ok_or("bad support vector")?;
            let i: usize = i.parse().map_err(|_| "bad index")?;
            x[i - 1] = v.parse().map_err(|_| "bad value")?;
        }
        sv.push(x);
    }
    #[derive(serde::Deserialize)]
    struct Norm {
        min_: Vec<f64>,
        max_: Vec<f64>,
    }
    let norm: Norm = serde_json::from_str(include_str!("../../assets/iqa/brisque_normalize.json"))
        .map_err(|e| e.to_string())?;
    let arr = |v: Vec<f64>| -> std::result::Result<[f64; 36], String> {
        v.try_into().map_err(|_| "need 36 ranges".to_string())
    };
    Ok(Model {
        gamma: gamma.ok_or("no gamma")?,
        rho: rho.ok_or("no rho")?,
        coef,
        sv,
        min: arr(norm.min_)?,
        max: arr(norm.max_)?,
    })
}

fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| parse_model().expect("embedded BRISQUE model is valid"))
}

/// `φ(α) = Γ(2/α)² / (Γ(1/α)·Γ(3/α))`, increasing in α.
fn phi(alpha: f64) -> f64 {
    let g2 = gamma(2.0 / alpha);
    g2 * g2 / (gamma(1.0 / alpha) * gamma(3.0 / alpha))
}

/// Solves `φ(α) = target` for α > 0 (bisection in log α to machine precision). The package
/// uses `scipy.optimize.root` from 0.2, which finds the same unique root. A target outside
/// φ's range (0, 0.75) is clamped to the nearest end of [0.05, 50].
fn solve_alpha(target: f64) -> f64 {
    let (mut lo, mut hi) = (0.05f64.ln(), 50f64.ln());
    if target.is_nan() || target <= phi(lo.exp()) {
        return lo.exp();
    }
    if target >= phi(hi.exp()) {
        return hi.exp();
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if phi(mid.exp()) < target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 {
            break;
        }
    }
    (0.5 * (lo + hi)).exp()
}

/// The package's asymmetric generalised Gaussian fit: `(α, mean, σl, σr)`.
fn aggd_fit(x: &[f64]) -> (f64, f64, f64, f64) {
    let n = x.len() as f64;
    let (mut ls, mut ln, mut rs, mut rn, mut abs_sum, mut sq_sum) =
        (0.0, 0usize, 0.0, 0usize, 0.0, 0.0);
    for &v in x {
        let v2 = v * v;
        if v < 0.0 {
            ls += v2;
            ln += 1;
        } else {
            rs += v2;
            rn += 1;
        }
        abs_sum += v.abs();
        sq_sum += v2;
    }
    let r_hat = (abs_sum / n).powi(2) / (sq_sum / n);
    let (sigma_l, sigma_r) = ((ls / ln as f64).sqrt(), (rs / rn as f64).sqrt());
    let g = sigma_l / sigma_r;
    let big_r = r_hat * (g.powi(3) + 1.0) * (g + 1.0) / (g * g + 1.0).powi(2);
    let alpha = solve_alpha(big_r);
    let constant = (gamma(1.0 / alpha) / gamma(3.0 / alpha)).sqrt();
    let mean = (sigma_r - sigma_l) * constant * (gamma(2.0 / alpha) / gamma(1.0 / alpha));
    (alpha, mean, sigma_l, sigma_r)
}

/// Mean-subtracted contrast-normalised coefficients `(I − μ) / (σ + c)` with a separable
/// Gaussian window, `border` padding, and `σ = sqrt(|E[I²] − μ²|)`.
fn mscn(img: &Plane, window: &[f64], border: Border1d, c: f64) -> Plane {
    let mu = correlate1d(&correlate1d(img, window, 0, border), window, 1, border);
    let sq = img.mapv(|v| v * v);
    let var = correlate1d(&correlate1d(&sq, window, 0, border), window, 1, border);
    let mut out = Plane::zeros(img.dim());
    ndarray::Zip::from(&mut out)
        .and(img)
        .and(&mu)
        .and(&var)
        .for_each(|o, &i, &m, &v| *o = (i - m) / ((v - m * m).abs().sqrt() + c));
    out
}

/// The 7 × 7 window: `exp(−(x² + y²)/(2σ²))` normalised, σ = 7/6, separable as `g ⊗ g`.
fn window() -> Vec<f64> {
    let sigma = 7.0f64 / 6.0;
    let g: Vec<f64> = (-3i32..=3)
        .map(|i| (-((i * i) as f64) / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f64 = g.iter().sum();
    g.iter().map(|v| v / s).collect()
}

fn scale_features(gray: &Plane, out: &mut Vec<f64>) {
    let m = mscn(gray, &window(), Border1d::Zero, 1.0 / 255.0);
    let (h, w) = m.dim();
    let all: Vec<f64> = m.iter().copied().collect();
    let (a, _, sl, sr) = aggd_fit(&all);
    out.extend([a, (sl * sl + sr * sr) / 2.0]);
    let prod = |y0: usize, x0: usize, y1: usize, x1: usize, hh: usize, ww: usize| -> Vec<f64> {
        let mut v = Vec::with_capacity(hh * ww);
        for y in 0..hh {
            for x in 0..ww {
                v.push(m[[y0 + y, x0 + x]] * m[[y1 + y, x1 + x]]);
            }
        }
        v
    };
    // horizontal, vertical, main diagonal, secondary diagonal (the package's order).
    let pairs = [
        prod(0, 0, 0, 1, h, w - 1),
        prod(0, 0, 1, 0, h - 1, w),
        prod(0, 0, 1, 1, h - 1, w - 1),
        prod(1, 0, 0, 1, h - 1, w - 1),
    ];
    for p in pairs {
        let (a, mean, sl, sr) = aggd_fit(&p);
        out.extend([a, mean, sl * sl, sr * sr]);
    }
}

/// `cv2.resize(x, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_CUBIC)` on a float image:
/// output side `round_half_even(n/2)`, source position `2·o + 0.5`, taps
/// (−0.09375, 0.59375, 0.59375, −0.09375) at `2o−1 … 2o+2` with replicated borders.
fn cv2_cubic_half(x: &Plane) -> Plane {
    const W: [f64; 4] = [-0.09375, 0.59375, 0.59375, -0.09375];
    let half = |n: usize| -> usize {
        let v = n as f64 * 0.5;
        // Round half to even, as cvRound (lrint) does.
        let r = v.round();
        if (v - v.trunc()) == 0.5 && (r as usize) % 2 == 1 {
            r as usize - 1
        } else {
            r as usize
        }
    };
    let (h, w) = x.dim();
    let (oh, ow) = (half(h), half(w));
    let clamp = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
    let mut tmp = Plane::zeros((h, ow));
    for y in 0..h {
        for o in 0..ow {
            let mut acc = 0.0;
            for (k, wk) in W.iter().enumerate() {
                acc += x[[y, clamp(2 * o as isize - 1 + k as isize, w)]] * wk;
            }
            tmp[[y, o]] = acc;
        }
    }
    let mut out = Plane::zeros((oh, ow));
    for o in 0..oh {
        for (k, wk) in W.iter().enumerate() {
            let src = clamp(2 * o as isize - 1 + k as isize, h);
            out.row_mut(o).scaled_add(*wk, &tmp.row(src));
        }
    }
    out
}

/// The 36 BRISQUE features of an RGB [0, 1] image, before scaling.
pub fn features(img: &ArrayView3<f32>) -> Result<Vec<f64>> {
    let (h, w) = check_rgb(img, "BRISQUE input")?;
    if h < 4 || w < 4 {
        return Err(Error::invalid(
            "BRISQUE input",
            format!("{w}x{h}: needs at least 4x4 pixels"),
        ));
    }
    let gray = weighted_gray(img, [0.2125, 0.7154, 0.0721], 1.0, 0.0);
    let mut f = Vec::with_capacity(36);
    scale_features(&gray, &mut f);
    scale_features(&cv2_cubic_half(&gray), &mut f);
    if f.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "BRISQUE input",
            "features are not finite (a flat image?)",
        ));
    }
    Ok(f)
}

/// BRISQUE score of an RGB [0, 1] image (see the module doc). Lower is better.
pub fn brisque(img: &ArrayView3<f32>) -> Result<f64> {
    let f = features(img)?;
    Ok(svr_score(&f))
}

/// The SVR's prediction for 36 raw features.
pub fn svr_score(f: &[f64]) -> f64 {
    let m = model();
    let x: Vec<f64> = (0..36)
        .map(|i| -1.0 + 2.0 / (m.max[i] - m.min[i]) * (f[i] - m.min[i]))
        .collect();
    let mut sum = 0.0;
    for (c, sv) in m.coef.iter().zip(&m.sv) {
        let d: f64 = sv.iter().zip(&x).map(|(a, b)| (a - b) * (a - b)).sum();
        sum += c * (-m.gamma * d).exp();
    }
    sum - m.rho
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_parses() {
        let m = model();
        assert_eq!(m.sv.len(), 770);
        assert_eq!(m.coef.len(), 770);
        assert!((m.gamma - 0.05).abs() < 1e-15 && (m.rho + 155.845).abs() < 1e-12);
    }

    #[test]
    fn alpha_root_inverts_phi() {
        for a in [0.3, 0.8, 1.0, 2.0, 3.7] {
            assert!((solve_alpha(phi(a)) - a).abs() < 1e-9, "{a}");
        }
    }

    #[test]
    fn cv2_half_size_rounds_half_to_even() {
        let x = Plane::zeros((25, 10));
        assert_eq!(cv2_cubic_half(&x).dim(), (12, 5));
        let x = Plane::zeros((27, 10));
        assert_eq!(cv2_cubic_half(&x).dim(), (14, 5));
    }
}
