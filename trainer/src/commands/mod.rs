//! One module per `lrpo-train` subcommand.

pub mod bench;
pub mod convert;
pub mod distill;
pub mod evaluate;
pub mod export;
pub mod pipeline;
pub mod prepare;
pub mod pretrain;
pub mod rl;
pub mod sample;
pub mod schedule;
