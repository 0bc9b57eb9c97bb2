//! `lrpo-trainer`: trains diffusion face-restoration policies, post-trains them with LRPO,
//! distills a one-step student and exports it to ONNX.
//!
//! The binary `lrpo-train` is a thin layer over this library (its `commands` modules parse the
//! flags of each subcommand and call the stages here). Every public function returns
//! [`Result`], with the typed [`Error`].

/// `say!`: messages on stderr that never panic (`lrpo_shared::say`).
#[macro_use]
extern crate lrpo_shared;

pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod convert;
pub mod data;
pub mod diffusion;
pub mod distill;
pub mod error;
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

pub use error::{Error, Result};
