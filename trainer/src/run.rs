//! A run folder's record of how it was started (`RUN/run.json`).

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a run records about how it was started (`RUN/run.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// The command that made the run.
    pub command: String,
    /// Training data folder.
    pub data: PathBuf,
    /// Other inputs (e.g. the initial policy of an LRPO run).
    #[serde(default)]
    pub init: Option<PathBuf>,
}

impl RunInfo {
    /// Reads `RUN/run.json`.
    pub fn load(run: &Path) -> Result<Self> {
        let path = run.join("run.json");
        let bytes = std::fs::read(&path)
            .with_context(|| format!("{}: not a run folder (no run.json)", run.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{}: unreadable", path.display()))
    }
}
