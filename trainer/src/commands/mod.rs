//! One module per `lrpo-train` subcommand.

pub mod convert;
pub mod schedule;
