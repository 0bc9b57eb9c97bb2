//! `lrpo-trainer`: trains diffusion face-restoration policies, post-trains them with LRPO,
//! distills a one-step student and exports it to ONNX.
//!
//! The binary `lrpo-train` is a thin layer over this library: [`commands`] holds one module per
//! subcommand.

pub mod commands;
pub mod convert;
