//! `lrpo-trainer`: trains diffusion face-restoration policies, post-trains them with LRPO,
//! distills a one-step student and exports it to ONNX.
//!
//! The binary `lrpo-train` is a thin layer over this library: [`commands`] holds one module per
//! subcommand.

pub mod backend;
pub mod checkpoint;
pub mod commands;
pub mod config;
pub mod convert;
pub mod data;
pub mod diffusion;
pub mod distill;
pub mod evaluate;
pub mod export;
pub mod faceset;
pub mod lrpo;
pub mod model;
pub mod optim_utils;
pub mod pipeline;
pub mod plot;
pub mod pretrain;
pub mod run;
pub mod runlog;
pub mod tensor;
