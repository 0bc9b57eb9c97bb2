//! CPU kernels for the policy's heaviest layers (convolution, GroupNorm + SiLU) and their
//! gradients, on plain `f32` slices in NCHW order. [`crate::model::ops`] wires them into burn's
//! CPU backend and its automatic differentiation; every other backend keeps burn's own ops.

pub mod channels;
pub mod conv;
pub mod exp;
pub mod gemm;
pub mod group_norm;
pub mod profile;
pub mod scratch;

/// A zeroed buffer of `len` values, written by every thread of the pool: a layer's output is
/// megabytes, and one thread zeroing it was a serial part of every kernel.
pub fn zeroed(len: usize) -> Vec<f32> {
    use rayon::prelude::*;
    let mut v = Vec::with_capacity(len);
    v.par_extend(rayon::iter::repeat_n(0.0f32, len));
    v
}
