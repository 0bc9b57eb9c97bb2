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
