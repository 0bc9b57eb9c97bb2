//! Images ↔ burn tensors: `[N, 3, H, W]` batches in the model range [−1, 1] (the diffusion
//! policy) or in [0, 1] (the student), and single `[3, H, W]` images out of them.

use crate::error::{Error, Result};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use lrpo_shared::image::{from_model_range, to_model_range};
use ndarray::Array3;

/// `[3, H, W]` [0, 1] images as one flat buffer of model-range values, image after image
/// (shared's `to_model_range`: `x = 2·img − 1`), for [`tensor4`].
pub fn model_values<'a>(imgs: impl IntoIterator<Item = &'a Array3<f32>>) -> Vec<f32> {
    let mut out = Vec::new();
    for img in imgs {
        out.extend(to_model_range(&img.view()));
    }
    out
}

/// Turns `[N, 3, R, R]` [−1, 1] values into a tensor.
pub fn tensor4<B: Backend>(v: Vec<f32>, n: usize, r: usize, device: &B::Device) -> Tensor<B, 4> {
    Tensor::from_data(TensorData::new(v, [n, 3, r, r]), device)
}

/// A `[3, R, R]` [0, 1] image from item `i` of a `[N, 3, R, R]` [−1, 1] tensor, clamped.
pub fn to_image<B: Backend>(x: &Tensor<B, 4>, i: usize) -> Result<Array3<f32>> {
    let [_, c, h, w] = x.dims();
    let data = x.clone().narrow(0, i, 1).into_data().convert::<f32>();
    let v: Vec<f32> = data.to_vec().map_err(Error::tensor_data)?;
    let x = Array3::from_shape_vec((c, h, w), v)?;
    Ok(from_model_range(&x.view()).mapv(|v| v.clamp(0.0, 1.0)))
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
        .map_err(Error::tensor_data)?;
    Ok(Array3::from_shape_vec((c, h, w), v)?.mapv(|v| v.clamp(0.0, 1.0)))
}

/// Reads several 1-D tensors back in one transfer (on a GPU each read-back is a
/// synchronisation): their values concatenated, in order, as f64.
pub fn read_scalars<B: Backend>(parts: Vec<Tensor<B, 1>>) -> Result<Vec<f64>> {
    if parts.is_empty() {
        return Ok(vec![]);
    }
    let v: Vec<f32> = Tensor::cat(parts, 0)
        .into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(Error::tensor_data)?;
    Ok(v.into_iter().map(f64::from).collect())
}
