//! A run folder's record of how it was started (`RUN/run.json`).

use crate::checkpoint;
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::model::unet::UNet;
use burn::module::Module;
use burn::tensor::backend::Backend;
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
            .map_err(|_| Error::run(run, "not a run folder (no readable run.json)"))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::format(&path, format!("unreadable: {e}")))
    }
}

/// Loads the diffusion policy of a pretraining or LRPO run onto backend `B`, by one rule: the
/// latest checkpoint's EMA weights when it holds them (pretraining), else its weights (LRPO).
/// Returns the run's configuration, the network and a description (`"pretrain step N"`).
pub fn load_policy<B: Backend>(
    run: &Path,
    device: &B::Device,
) -> Result<(RunConfig, UNet<B>, String)> {
    let cfg = RunConfig::load(&run.join("config.toml"))?;
    let kind = RunInfo::load(run)?.command;
    let mut ck = checkpoint::load_latest(run)?.ok_or_else(|| Error::run(run, "no checkpoint"))?;
    let blob = if ck.state.files.iter().any(|f| f.0 == "ema.mpk") {
        "ema.mpk"
    } else {
        "model.mpk"
    };
    let m: UNet<B> = cfg.model.init(device);
    let m = m.load_record(ck.record::<B, _>(blob, device)?);
    Ok((cfg, m, format!("{kind} step {}", ck.state.step)))
}
