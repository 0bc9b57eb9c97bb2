//! The policy card an export writes beside its model: what the model takes and gives, how it
//! was made (the chain of runs behind it) and with which reward.

use crate::checkpoint;
use crate::config::RunConfig;
use crate::error::Result;
use crate::run::RunInfo;
use lrpo_shared::card::{
    InputSpec, Layout, ModelKind, PolicyCard, Provenance, Quantization, ValueRange,
};
use std::path::{Path, PathBuf};

/// The chain of runs behind a run (`run.json`'s `init`), oldest first: (command, folder, steps).
pub fn lineage(run: &Path) -> Vec<(String, PathBuf, u64)> {
    let mut out = Vec::new();
    let mut cur = Some(run.to_path_buf());
    while let Some(r) = cur.take() {
        let step = checkpoint::load_latest(&r)
            .ok()
            .flatten()
            .map_or(0, |c| c.state.step);
        if let Ok(info) = RunInfo::load(&r) {
            out.push((info.command, r.clone(), step));
            cur = info.init;
        }
    }
    out.reverse();
    out
}

/// The card of a one-step student exported from `run` (ε-model exports amend it): input at
/// the run's resolution, any side a multiple of 4, values in [0, 1].
pub(crate) fn card(
    cfg: &RunConfig,
    name: &str,
    quant: Quantization,
    run: &Path,
) -> Result<PolicyCard> {
    let reward = lrpo_shared::reward::RewardSpec::load(&cfg.rl.reward)
        .map(|s| s.summary())
        .unwrap_or_default();
    let lin = lineage(run);
    Ok(PolicyCard {
        name: name.to_string(),
        kind: ModelKind::OneStep,
        input: InputSpec {
            size: cfg.data.resolution as u32,
            multiple_of: 4,
            channels: 3,
            layout: Layout::Nchw,
            value_range: ValueRange::ZeroOne,
            input_names: vec!["lq".into()],
            output_name: "restored".into(),
        },
        sampling: None,
        quantization: quant,
        reward,
        provenance: Provenance {
            run: run.display().to_string(),
            stages: lin
                .iter()
                .map(|l| l.0.clone())
                .chain(std::iter::once("export".to_string()))
                .collect(),
            steps: lin.iter().map(|l| l.2).chain(std::iter::once(0)).collect(),
            data: lin
                .first()
                .and_then(|l| RunInfo::load(&l.1).ok())
                .map(|i| i.data.display().to_string())
                .unwrap_or_default(),
            seed: cfg.distill.seed,
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            tool_version: env!("CARGO_PKG_VERSION").into(),
        },
        // Set by the writer from the graph it builds.
        graph_sha256: String::new(),
    })
}
