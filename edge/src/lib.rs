//! `lrpo-edge`: on-camera face restoration with tract, and offline evaluation.
//!
//! - [`runtime`]: a restoration policy (ONNX + policy card), validated at load, restoring
//!   aligned crops (one-step students, or ε-models sampled with DDIM);
//! - [`pipeline`]: detect → align → restore → paste back;
//! - [`commands`]: one module per `lrpo-edge` subcommand (arguments documented where they are
//!   parsed); the binary is a thin layer over them.

pub mod commands;
pub mod eval;
pub mod inputs;
pub mod pipeline;
pub mod runtime;
pub mod threads;
