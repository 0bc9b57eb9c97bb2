//! The distillation loss's SSIM term.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// Differentiable SSIM (Gaussian window σ 1.5, 11 taps, data range 1) averaged over the image,
/// computed with depthwise convolutions without padding (the valid region, as the metric crops).
pub fn ssim_loss<B: Backend>(x: Tensor<B, 4>, y: Tensor<B, 4>) -> Tensor<B, 1> {
    let device = x.device();
    let g: Vec<f32> = {
        let v: Vec<f64> = (-5i32..=5)
            .map(|i| (-(i * i) as f64 / (2.0 * 2.25)).exp())
            .collect();
        let s: f64 = v.iter().sum();
        v.iter().map(|x| (x / s) as f32).collect()
    };
    let w2: Vec<f32> = (0..3)
        .flat_map(|_| (0..121).map(|k| g[k / 11] * g[k % 11]).collect::<Vec<_>>())
        .collect();
    let weight = Tensor::<B, 4>::from_data(TensorData::new(w2, [3, 1, 11, 11]), &device);
    let blur = |t: Tensor<B, 4>| {
        burn::tensor::module::conv2d(
            t,
            weight.clone(),
            None,
            burn::tensor::ops::ConvOptions::new([1, 1], [0, 0], [1, 1], 3),
        )
    };
    let (mx, my) = (blur(x.clone()), blur(y.clone()));
    let vx = blur(x.clone() * x.clone()) - mx.clone() * mx.clone();
    let vy = blur(y.clone() * y.clone()) - my.clone() * my.clone();
    let vxy = blur(x * y) - mx.clone() * my.clone();
    let (c1, c2) = (1e-4, 9e-4);
    let num = (mx.clone() * my.clone()).mul_scalar(2.0).add_scalar(c1)
        * vxy.mul_scalar(2.0).add_scalar(c2);
    let den = (mx.clone() * mx + my.clone() * my).add_scalar(c1) * (vx + vy).add_scalar(c2);
    (num / den).mean()
}
