//! The whole recipe's settings (`[pipeline]`).

use crate::error::{Result, ensure_config};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Pipeline settings (`[pipeline]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Also distil and export a student from the pretrained policy alone (no LRPO), for
    /// comparison. Default true.
    pub sft_student: bool,
    /// Folder the models are exported to. Default `models`.
    pub models_dir: PathBuf,
    /// File stem of the LRPO student (`NAME.onnx`, `NAME_int8.onnx`). Default `lrpo_student`.
    pub name: String,
    /// File stem of the supervised-only student. Default `sft_student`.
    pub sft_name: String,
}

impl PipelineConfig {
    /// Checks the section: model names that are plain, distinct file stems.
    pub fn validate(&self) -> Result<()> {
        for (key, v) in [("name", &self.name), ("sft_name", &self.sft_name)] {
            ensure_config!(
                !v.is_empty() && !v.contains(['/', '\\']) && v != "." && v != "..",
                "pipeline.{key} must be a file stem (no folders), found {v:?}"
            );
        }
        ensure_config!(
            self.name != self.sft_name,
            "pipeline.name and sft_name must differ (both are {:?})",
            self.name
        );
        Ok(())
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            sft_student: true,
            models_dir: PathBuf::from("models"),
            name: "lrpo_student".into(),
            sft_name: "sft_student".into(),
        }
    }
}
