//! One module per `lrpo-edge` subcommand.

pub mod degrade;
