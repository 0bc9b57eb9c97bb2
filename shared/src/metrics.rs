//! Full-reference fidelity metrics on RGB f32 [0, 1] images.

use crate::error::{Error, Result};
use crate::image::check_rgb;
use ndarray::ArrayView3;

fn check_pair(a: &ArrayView3<f32>, b: &ArrayView3<f32>) -> Result<()> {
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
