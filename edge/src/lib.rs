//! `lrpo-edge`: on-camera face restoration with tract, and offline evaluation.
//!
//! The binary `lrpo-edge` is a thin layer over this library: [`commands`] holds one module per
//! subcommand (its arguments, documented where they are parsed, and its `run`).

pub mod commands;
pub mod inputs;
