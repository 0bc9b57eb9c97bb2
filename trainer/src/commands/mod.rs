//! One module per `lrpo-train` subcommand.

pub mod schedule;
