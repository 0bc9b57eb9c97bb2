//! Offline evaluation: build a reproducible test set, restore it with each method, score every
//! restoration with every metric, and write a report (JSON, CSV, Markdown, offline HTML).
//!
//! - [`dataset`]: the three kinds of test set (HQ faces degraded here and cached with their
//!   parameters; LQ/GT pairs; LQ only);
//! - [`scoring`]: the metrics of one restoration;
//! - [`report`]: aggregation and the report files.

pub mod dataset;
pub mod report;
pub mod scoring;
