//! One module per `lrpo-edge` subcommand.

pub mod bench;
pub mod bench_detect;
pub mod bench_stream;
pub mod common;
pub mod degrade;
pub mod eval;
pub mod restore;
pub mod stream;
pub mod video;
