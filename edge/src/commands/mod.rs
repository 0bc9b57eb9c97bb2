//! One module per `lrpo-edge` subcommand.

pub mod bench;
pub mod common;
pub mod degrade;
pub mod restore;
pub mod stream;
