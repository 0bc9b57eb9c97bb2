//! Structural similarity (Wang et al., 2004) with a Gaussian window, as
//! `skimage.metrics.structural_similarity(x, y, gaussian_weights=True, sigma=1.5,
//! use_sample_covariance=False, data_range=1)` computes it:
//!
//! - window: Gaussian σ = 1.5 truncated at 3.5σ (radius 5, 11 × 11), applied separably with
//!   `scipy.ndimage`'s `reflect` border;
//! - `S = ((2·μx·μy + C1)(2·σxy + C2)) / ((μx² + μy² + C1)(σx² + σy² + C2))`, C1 = (0.01)²,
//!   C2 = (0.03)², population (co)variances;
//! - the mean of S over the image with a 5-pixel border cropped away;
//! - RGB: the mean over the three channels' SSIMs (`channel_axis`); Y: on the BT.601 luma.
//!
//! Images must be at least 11 × 11.

use super::{Border1d, Plane, channel, check_pair, correlate1d, luma_bt601};
use crate::error::{Error, Result};
use ndarray::ArrayView3;

/// Gaussian σ of the window.
pub const SIGMA: f64 = 1.5;
/// Window radius: `int(3.5·σ + 0.5)` = 5.
pub const RADIUS: usize = 5;
const K1: f64 = 0.01;
const K2: f64 = 0.03;

fn window() -> Vec<f64> {
    let r = RADIUS as isize;
    let phi: Vec<f64> = (-r..=r)
        .map(|x| (-0.5 / (SIGMA * SIGMA) * (x * x) as f64).exp())
        .collect();
    let s: f64 = phi.iter().sum();
    phi.iter().map(|v| v / s).collect()
}

fn blur(p: &Plane, w: &[f64]) -> Plane {
    let a = correlate1d(p, w, 0, Border1d::Reflect);
    correlate1d(&a, w, 1, Border1d::Reflect)
}

/// SSIM of two single-channel planes with data range 1.
pub fn ssim_plane(x: &Plane, y: &Plane) -> Result<f64> {
    let (h, w) = x.dim();
    let win = 2 * RADIUS + 1;
    if h < win || w < win {
        return Err(Error::invalid(
            "SSIM input",
            format!("{w}x{h} is smaller than the {win}x{win} window"),
        ));
    }
    let g = window();
    let ux = blur(x, &g);
    let uy = blur(y, &g);
    let uxx = blur(&(x * x), &g);
    let uyy = blur(&(y * y), &g);
    let uxy = blur(&(x * y), &g);
    let (c1, c2) = (K1 * K1, K2 * K2);
    let mut sum = 0.0;
    let mut n = 0usize;
    for i in RADIUS..h - RADIUS {
        for j in RADIUS..w - RADIUS {
            let (mx, my) = (ux[[i, j]], uy[[i, j]]);
            let vx = uxx[[i, j]] - mx * mx;
            let vy = uyy[[i, j]] - my * my;
            let vxy = uxy[[i, j]] - mx * my;
            let a1 = 2.0 * mx * my + c1;
            let a2 = 2.0 * vxy + c2;
            let b1 = mx * mx + my * my + c1;
            let b2 = vx + vy + c2;
            sum += (a1 * a2) / (b1 * b2);
            n += 1;
        }
    }
    Ok(sum / n as f64)
}

/// SSIM over RGB: the mean of the per-channel SSIMs.
pub fn ssim(a: &ArrayView3<f32>, b: &ArrayView3<f32>) -> Result<f64> {
    check_pair(a, b)?;
    let mut total = 0.0;
    for c in 0..3 {
        total += ssim_plane(&channel(a, c), &channel(b, c))?;
    }
    Ok(total / 3.0)
}

/// SSIM on the BT.601 luma Y (see [`super::luma_bt601`]).
pub fn ssim_y(a: &ArrayView3<f32>, b: &ArrayView3<f32>) -> Result<f64> {
    check_pair(a, b)?;
    ssim_plane(&luma_bt601(a), &luma_bt601(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn identical_images_score_one_and_noise_lowers_it() {
        let a = Array3::from_shape_fn((3, 32, 40), |(c, y, x)| {
            ((x * 7 + y * 3 + c * 11) % 17) as f32 / 17.0
        });
        assert!((ssim(&a.view(), &a.view()).unwrap() - 1.0).abs() < 1e-12);
        let mut rng = crate::rng::Rng::new(1);
        let b = a.mapv(|v| (v + 0.1 * rng.normal() as f32).clamp(0.0, 1.0));
        let s = ssim(&a.view(), &b.view()).unwrap();
        assert!(s < 0.99 && s > 0.5, "{s}");
        let small = Array3::<f32>::zeros((3, 10, 10));
        assert!(ssim(&small.view(), &small.view()).is_err());
    }

    #[test]
    fn window_matches_scipy() {
        let w = window();
        assert_eq!(w.len(), 11);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        // scipy.ndimage._gaussian_kernel1d(1.5, 0, 5)[5]
        assert!((w[5] - 0.266_011_724_861_794_36).abs() < 1e-12, "{}", w[5]);
    }
}
