//! The whole recipe's settings (`[pipeline]`).

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
