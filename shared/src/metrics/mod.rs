//! Image-quality metrics on RGB f32 [0, 1] images of any size, each checked against an
//! independent reference implementation (see `tools/reference/` and `tests/metrics_reference.rs`).
//!
//! | metric | function | reference |
//! |---|---|---|
//! | PSNR (RGB, Y) | [`psnr`], [`psnr_y`] | `skimage.metrics.peak_signal_noise_ratio`, data range 1 |
//! | SSIM (RGB, Y) | [`ssim::ssim`], [`ssim::ssim_y`] | `skimage.metrics.structural_similarity` (Gaussian window σ 1.5) |
//! | DTCWT low-pass L1 | [`dtcwt::lowpass_l1`] | PyPI `dtcwt` (J = 3, near_sym_b, qshift_b) |
//! | NIQE | [`niqe::niqe`] | `skvideo.measure.niqe` |
//! | BRISQUE | [`brisque::brisque`] | PyPI `brisque` 0.2.0 |
//! | sharpness | [`sharpness`], [`laplacian`] | `cv2.Laplacian(gray, cv2.CV_64F).var()` (closed forms in the tests) |
//!
//! Internally every metric works on `f64` planes ([`Plane`]).

pub mod brisque;
pub mod dtcwt;
pub mod niqe;
pub mod special;
pub mod ssim;

use crate::error::{Error, Result};
use crate::image::check_rgb;
use ndarray::{Array2, ArrayView3};

#[cfg(test)]
mod sharpness_tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn laplacian_of_a_quadratic_is_constant_inside() {
        // f = x² + 3y²: ∇²f = 2 + 6 = 8 at every interior sample.
        let p = Plane::from_shape_fn((9, 11), |(y, x)| (x * x + 3 * y * y) as f64);
        let l = laplacian(&p);
        for y in 1..8 {
            for x in 1..10 {
                assert_eq!(l[[y, x]], 8.0);
            }
        }
        // Reflect-101 at x = 0: f(−1) = f(1), so ∇² in x is 2·(f(1) − f(0)) = 2.
        assert_eq!(l[[4, 0]], 2.0 + 6.0);
    }

    #[test]
    fn sharpness_of_a_checkerboard_and_of_flat_images() {
        // A checkerboard of gray 0 and 255: every neighbour has the other value, so
        // ∇²g = 4·(255 − 2g) ∈ {+1020, −1020} everywhere (reflect-101 keeps that at the edges):
        // mean 0, variance 1020².
        let img = Array3::from_shape_fn((3, 8, 8), |(_, y, x)| ((x + y) % 2) as f32);
        let s = sharpness(&img.view(), None).unwrap();
        assert!((s - 1020.0f64.powi(2)).abs() < 1e-6, "{s}");
        let flat = Array3::from_elem((3, 8, 8), 0.3f32);
        assert_eq!(sharpness(&flat.view(), None).unwrap(), 0.0);
        // The mask selects pixels; an empty mask gives 0.
        let none = Array2::from_elem((8, 8), false);
        assert_eq!(sharpness(&img.view(), Some(&none)).unwrap(), 0.0);
        assert!(sharpness(&img.view(), Some(&Array2::from_elem((4, 4), true))).is_err());
    }
}

/// A single-channel image in `f64`, `[H, W]`.
pub type Plane = Array2<f64>;

/// Checks that two images are RGB `[3, H, W]` of the same shape.
pub(crate) fn check_pair(a: &ArrayView3<f32>, b: &ArrayView3<f32>) -> Result<()> {
    check_rgb(a, "restored image")?;
    check_rgb(b, "reference image")?;
    if a.shape() != b.shape() {
        return Err(Error::Shape {
            what: "restored image".into(),
            expected: format!("the reference's shape {:?}", b.shape()),
            found: a.shape().to_vec(),
        });
    }
    Ok(())
}

/// Channel `c` of an RGB image as an `f64` plane.
pub fn channel(img: &ArrayView3<f32>, c: usize) -> Plane {
    img.index_axis(ndarray::Axis(0), c).mapv(|v| v as f64)
}

/// A weighted sum of the three channels, times `scale`, plus `offset`, as an `f64` plane.
pub fn weighted_gray(img: &ArrayView3<f32>, w: [f64; 3], scale: f64, offset: f64) -> Plane {
    let (_, h, wd) = img.dim();
    let mut out = Plane::zeros((h, wd));
    ndarray::Zip::from(&mut out)
        .and(img.index_axis(ndarray::Axis(0), 0))
        .and(img.index_axis(ndarray::Axis(0), 1))
        .and(img.index_axis(ndarray::Axis(0), 2))
        .for_each(|o, &r, &g, &b| {
            *o = offset + scale * (w[0] * r as f64 + w[1] * g as f64 + w[2] * b as f64)
        });
    out
}

/// The luma `Y` of ITU-R BT.601 in [16/255, 235/255], as image-restoration papers compute
/// "Y-channel" PSNR/SSIM (BasicSR's `rgb2ycbcr(img, y_only=True)` divided by 255):
/// `Y = (16 + 65.481·R + 128.553·G + 24.966·B) / 255` for R, G, B in [0, 1].
pub fn luma_bt601(img: &ArrayView3<f32>) -> Plane {
    weighted_gray(img, [65.481, 128.553, 24.966], 1.0 / 255.0, 16.0 / 255.0)
}

/// Mean squared error over all pixels and channels (accumulated in f64).
pub fn mse(a: &ArrayView3<f32>, b: &ArrayView3<f32>) -> Result<f64> {
    check_pair(a, b)?;
    let n = a.len() as f64;
    let s: f64 = a
        .iter()
        .zip(b.iter())
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum();
    Ok(s / n)
}

/// PSNR in dB with data range 1: `10·log10(1 / MSE)` over all RGB samples
/// (`skimage.metrics.peak_signal_noise_ratio(gt, x, data_range=1)`). Identical images give +∞.
pub fn psnr(a: &ArrayView3<f32>, b: &ArrayView3<f32>) -> Result<f64> {
    let m = mse(a, b)?;
    Ok(10.0 * (1.0 / m).log10())
}

/// PSNR in dB on the BT.601 luma ([`luma_bt601`]), data range 1.
pub fn psnr_y(a: &ArrayView3<f32>, b: &ArrayView3<f32>) -> Result<f64> {
    check_pair(a, b)?;
    let (ya, yb) = (luma_bt601(a), luma_bt601(b));
    let m = ya
        .iter()
        .zip(yb.iter())
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        / ya.len() as f64;
    Ok(10.0 * (1.0 / m).log10())
}

/// The 4-neighbour Laplacian `∇²f(x, y) = f(x−1, y) + f(x+1, y) + f(x, y−1) + f(x, y+1) −
/// 4·f(x, y)` of a plane, with the border mirrored without repeating the edge sample
/// (OpenCV's `BORDER_REFLECT_101`, as `cv2.Laplacian(img, CV_64F)` with `ksize = 1` uses).
pub fn laplacian(p: &Plane) -> Plane {
    let (h, w) = p.dim();
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        if n == 1 {
            return 0;
        }
        let mut i = i;
        if i < 0 {
            i = -i;
        }
        if i >= n {
            i = 2 * (n - 1) - i;
        }
        i.clamp(0, n - 1) as usize
    };
    Plane::from_shape_fn((h, w), |(y, x)| {
        let (yi, xi) = (y as isize, x as isize);
        p[[reflect(yi - 1, h), x]]
            + p[[reflect(yi + 1, h), x]]
            + p[[y, reflect(xi - 1, w)]]
            + p[[y, reflect(xi + 1, w)]]
            - 4.0 * p[[y, x]]
    })
}

/// Sharpness as the variance of the Laplacian of the gray image (`0.299 R + 0.587 G + 0.114 B`,
/// in 0–255 units, as OpenCV's `COLOR_RGB2GRAY` weights), optionally only over the pixels where
/// `mask` is true (same `[H, W]`). Larger is sharper; a blur lowers it roughly with the square
/// of the lost high-frequency energy. Returns 0 for an empty mask.
pub fn sharpness(img: &ArrayView3<f32>, mask: Option<&Array2<bool>>) -> Result<f64> {
    let (h, w) = check_rgb(img, "image")?;
    if let Some(m) = mask
        && m.dim() != (h, w)
    {
        return Err(Error::Shape {
            what: "sharpness mask".into(),
            expected: format!("[{h}, {w}]"),
            found: m.shape().to_vec(),
        });
    }
    let lap = laplacian(&weighted_gray(img, [0.299, 0.587, 0.114], 255.0, 0.0));
    let vals: Vec<f64> = match mask {
        Some(m) => lap
            .iter()
            .zip(m.iter())
            .filter(|(_, k)| **k)
            .map(|(v, _)| *v)
            .collect(),
        None => lap.iter().copied().collect(),
    };
    if vals.is_empty() {
        return Ok(0.0);
    }
    let n = vals.len() as f64;
    let mean = vals.iter().sum::<f64>() / n;
    Ok(vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n)
}

/// Correlates every column (`axis = 0`) or row (`axis = 1`) of `src` with the odd-length
/// `weights` (centred, `scipy.ndimage.correlate1d` with origin 0), filling outside samples as
/// `border` says.
pub(crate) fn correlate1d(src: &Plane, weights: &[f64], axis: usize, border: Border1d) -> Plane {
    let (h, w) = src.dim();
    let r = weights.len() / 2;
    let mut out = Plane::zeros((h, w));
    if axis == 0 {
        for y in 0..h {
            let mut orow = out.row_mut(y);
            for (k, &wk) in weights.iter().enumerate() {
                if let Some(j) = border.index(y as isize + k as isize - r as isize, h as isize) {
                    orow.scaled_add(wk, &src.row(j));
                }
            }
        }
    } else {
        let mut padded = vec![0.0f64; w + 2 * r];
        for y in 0..h {
            let row = src.row(y);
            for (i, p) in padded.iter_mut().enumerate() {
                *p = border
                    .index(i as isize - r as isize, w as isize)
                    .map_or(0.0, |j| row[j]);
            }
            let mut orow = out.row_mut(y);
            for x in 0..w {
                let win = &padded[x..x + weights.len()];
                orow[x] = win.iter().zip(weights).map(|(a, b)| a * b).sum();
            }
        }
    }
    out
}

/// Border handling of [`correlate1d`], named as `scipy.ndimage` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Border1d {
    /// Zeros outside (`mode='constant', cval=0`).
    Zero,
    /// Half-sample symmetric, `d c b a | a b c d | d c b a` (`mode='reflect'`).
    Reflect,
}

impl Border1d {
    #[inline]
    fn index(self, i: isize, n: isize) -> Option<usize> {
        if (0..n).contains(&i) {
            return Some(i as usize);
        }
        match self {
            Border1d::Zero => None,
            Border1d::Reflect => {
                let period = 2 * n;
                let mut m = i.rem_euclid(period);
                if m >= n {
                    m = period - 1 - m;
                }
                Some(m as usize)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn psnr_closed_form() {
        let a = Array3::<f32>::zeros((3, 4, 4));
        let b = Array3::<f32>::from_elem((3, 4, 4), 0.1);
        // MSE = 0.01 → 20 dB.
        assert!((psnr(&a.view(), &b.view()).unwrap() - 20.0).abs() < 1e-5);
        // Y of a uniform offset of 0.1 in every channel: ΔY = 0.1·(65.481 + 128.553 + 24.966)/255.
        let dy: f64 = 0.1 * 219.0 / 255.0;
        let want = 10.0 * (1.0 / (dy * dy)).log10();
        assert!((psnr_y(&a.view(), &b.view()).unwrap() - want).abs() < 1e-5);
        let c = Array3::<f32>::zeros((3, 4, 5));
        assert!(psnr(&a.view(), &c.view()).is_err());
    }

    #[test]
    fn reflect_border_matches_scipy() {
        // scipy.ndimage 'reflect' on n = 3: index -1 → 0, -2 → 1, 3 → 2, 4 → 1, -4 → 2.
        let b = Border1d::Reflect;
        assert_eq!(b.index(-1, 3), Some(0));
        assert_eq!(b.index(-2, 3), Some(1));
        assert_eq!(b.index(3, 3), Some(2));
        assert_eq!(b.index(4, 3), Some(1));
        assert_eq!(b.index(-4, 3), Some(2));
        assert_eq!(Border1d::Zero.index(-1, 3), None);
    }
}
