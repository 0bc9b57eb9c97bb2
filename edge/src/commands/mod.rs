//! One module per `lrpo-edge` subcommand.

pub mod bench;
pub mod common;
pub mod degrade;
pub mod eval;
pub mod restore;
pub mod stream;
