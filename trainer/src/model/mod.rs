//! Networks: the conditional diffusion policy ([`unet`]) and the one-step student ([`student`]).

pub mod kernels;
pub mod ops;
pub mod student;
pub mod unet;
pub mod unet_onnx;
