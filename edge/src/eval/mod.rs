//! Offline evaluation: build a reproducible test set, restore it with each method, score every
//! restoration with every metric, and write a report (JSON, CSV, Markdown, offline HTML).
//!
//! - [`dataset`]: the three kinds of test set (HQ faces degraded here and cached with their
//!   parameters; LQ/GT pairs; LQ only);
//! - [`scoring`]: the metrics of one restoration;
//! - [`paired`]: paired differences with 95 % intervals over identities;
//! - [`real`]: real photographs through the whole pipeline, no ground truth;
//! - [`report`]: aggregation and the report files.

pub mod dataset;
pub mod paired;
pub mod real;
pub mod report;
pub mod scoring;
