//! Complete, atomic checkpoints: model, EMA weights, optimiser state and the training state,
//! so that `--resume` continues exactly where a run stopped.
//!
//! Layout: `RUN/checkpoints/step_NNNNNNN/{model.mpk, ema.mpk, optim.mpk, state.json}` and
//! `RUN/checkpoints/latest.json` naming the newest. A checkpoint folder is written under a
//! temporary name and renamed when complete, and `latest.json` is replaced atomically after
//! that, so a run that dies never leaves a half-written checkpoint behind. `state.json` records
//! every file's size and FNV-1a hash; loading checks them, so a truncated or altered file is a
//! clear error instead of garbage weights.

use crate::error::{Error, Result};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Record, Recorder};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The recorder used for every checkpoint file (named MessagePack; errors instead of panics on
/// bad bytes).
pub type Rec = NamedMpkBytesRecorder<FullPrecisionSettings>;

/// FNV-1a (64-bit).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Optimiser steps (or iterations) completed.
    pub step: u64,
    /// Files of the checkpoint: name, size in bytes, FNV-1a hash (hex).
    pub files: Vec<(String, u64, String)>,
    /// Anything else the command needs to resume (running averages, counters).
    pub extra: serde_json::Value,
}

/// `latest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Latest {
    step: u64,
    dir: String,
}

/// Serialises a record.
pub fn to_bytes<B: Backend, R: Record<B>>(record: R) -> Result<Vec<u8>> {
    Recorder::<B>::record(&Rec::default(), record, ())
        .map_err(|e| Error::backend("serialising a record", format!("{e:?}")))
}

/// Deserialises a record; `label` names it in errors.
pub fn from_bytes<B: Backend, R: Record<B>>(
    bytes: Vec<u8>,
    device: &B::Device,
    label: &Path,
) -> Result<R> {
    Recorder::<B>::load(&Rec::default(), bytes, device)
        .map_err(|e| Error::format(label, format!("cannot read the record: {e:?}")))
}

/// The checkpoints folder of a run.
pub fn dir(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

/// Writes a checkpoint made of named byte blobs, and points `latest.json` at it (first removing
/// temporary folders a killed or failed save left behind). Keeps the
/// `keep` newest checkpoints (0 keeps all) and, whatever their age, those of the steps in
/// `milestones` (the checkpoints an experiment names).
pub fn save(
    run: &Path,
    step: u64,
    blobs: &[(&str, Vec<u8>)],
    extra: serde_json::Value,
    keep: usize,
    milestones: &[u64],
) -> Result<PathBuf> {
    let root = dir(run);
    std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, "cannot create", e))?;
    let name = format!("step_{step:07}");
    // Folders left half-written by a killed or failed save (a run folder has one writer).
    let listing = std::fs::read_dir(&root).map_err(|e| Error::io(&root, "cannot list", e))?;
    for e in listing.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(".step_") && n.contains(".tmp-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let tmp = root.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, "cannot create", e))?;
    let mut files = Vec::new();
    for (file, bytes) in blobs {
        lrpo_shared::fsio::write_atomic(&tmp.join(file), bytes)?;
        files.push((
            file.to_string(),
            bytes.len() as u64,
            format!("{:016x}", fnv1a(bytes)),
        ));
    }
    let state = CheckpointState { step, files, extra };
    lrpo_shared::fsio::write_atomic(
        &tmp.join("state.json"),
        serde_json::to_string_pretty(&state)?.as_bytes(),
    )?;
    let final_dir = root.join(&name);
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir)
            .map_err(|e| Error::io(&final_dir, "cannot replace", e))?;
    }
    std::fs::rename(&tmp, &final_dir)
        .map_err(|e| Error::io(&final_dir, "cannot move the checkpoint into place", e))?;
    lrpo_shared::fsio::write_atomic(
        &root.join("latest.json"),
        serde_json::to_string(&Latest { step, dir: name })?.as_bytes(),
    )?;
    if keep > 0 {
        let mut all: Vec<PathBuf> = std::fs::read_dir(&root)
            .map_err(|e| Error::io(&root, "cannot list", e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    && p.file_name().is_some_and(|n| {
                        n.to_string_lossy()
                            .strip_prefix("step_")
                            .and_then(|s| s.parse::<u64>().ok())
                            .is_some_and(|s| !milestones.contains(&s))
                    })
            })
            .collect();
        all.sort();
        while all.len() > keep {
            let old = all.remove(0);
            let _ = std::fs::remove_dir_all(old);
        }
    }
    Ok(final_dir)
}

/// A loaded checkpoint: its state and blobs (verified against their recorded hashes).
pub struct Loaded {
    /// Folder it came from.
    pub dir: PathBuf,
    /// Its state.
    pub state: CheckpointState,
    blobs: Vec<(String, Vec<u8>)>,
}

impl Loaded {
    /// Takes a blob by name.
    pub fn take(&mut self, name: &str) -> Result<Vec<u8>> {
        let i = self
            .blobs
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| Error::format(&self.dir, format!("no {name} in this checkpoint")))?;
        Ok(self.blobs.swap_remove(i).1)
    }

    /// Takes blob `name` and deserialises it as a record on `device` (errors name the file).
    pub fn record<B: Backend, R: Record<B>>(
        &mut self,
        name: &str,
        device: &B::Device,
    ) -> Result<R> {
        let bytes = self.take(name)?;
        from_bytes::<B, R>(bytes, device, &self.dir.join(name))
    }
}

/// Loads the newest checkpoint of a run, or `None` if it has none.
pub fn load_latest(run: &Path) -> Result<Option<Loaded>> {
    let latest = dir(run).join("latest.json");
    if !latest.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&latest).map_err(|e| Error::io(&latest, "cannot read", e))?;
    let l: Latest = serde_json::from_slice(&bytes)
        .map_err(|e| Error::format(&latest, format!("corrupt: {e}")))?;
    load_dir(&dir(run).join(l.dir)).map(Some)
}

/// Loads one checkpoint folder, checking every file's size and hash.
pub fn load_dir(d: &Path) -> Result<Loaded> {
    let sp = d.join("state.json");
    let bytes = std::fs::read(&sp).map_err(|e| Error::io(&sp, "cannot read", e))?;
    let state: CheckpointState = serde_json::from_slice(&bytes)
        .map_err(|e| Error::format(&sp, format!("corrupt checkpoint state: {e}")))?;
    let mut blobs = Vec::new();
    for (name, size, hash) in &state.files {
        let p = d.join(name);
        let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, "cannot read", e))?;
        if bytes.len() as u64 != *size {
            return Err(Error::format(
                &p,
                format!(
                    "{} bytes, the checkpoint recorded {size} (truncated?)",
                    bytes.len()
                ),
            ));
        }
        if format!("{:016x}", fnv1a(&bytes)) != *hash {
            return Err(Error::format(
                &p,
                "contents do not match the checkpoint's hash (corrupted?)",
            ));
        }
        blobs.push((name.clone(), bytes));
    }
    Ok(Loaded {
        dir: d.to_path_buf(),
        state,
        blobs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_verify_and_prune() {
        let run = std::env::temp_dir().join(format!("lrpo-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        assert!(load_latest(&run).unwrap().is_none());
        for step in [10, 20, 30] {
            save(
                &run,
                step,
                &[("a.bin", vec![step as u8; 100])],
                serde_json::json!({"s": step}),
                2,
                &[],
            )
            .unwrap();
        }
        let mut l = load_latest(&run).unwrap().unwrap();
        assert_eq!(l.state.step, 30);
        assert_eq!(l.take("a.bin").unwrap(), vec![30u8; 100]);
        let dirs = std::fs::read_dir(dir(&run))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().is_dir())
            .count();
        assert_eq!(dirs, 2);
        // A truncated or altered file is caught.
        let f = dir(&run).join("step_0000030/a.bin");
        std::fs::write(&f, vec![30u8; 99]).unwrap();
        assert!(
            load_latest(&run)
                .err()
                .unwrap()
                .to_string()
                .contains("truncated")
        );
        std::fs::write(&f, vec![31u8; 100]).unwrap();
        assert!(
            load_latest(&run)
                .err()
                .unwrap()
                .to_string()
                .contains("hash")
        );
        std::fs::remove_dir_all(&run).unwrap();
    }

    #[test]
    fn milestone_checkpoints_survive_pruning() {
        let run = std::env::temp_dir().join(format!("lrpo-ckpt-keep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run);
        // A save killed half-way (another process id) left its temporary folder.
        let stale = dir(&run).join(".step_0000009.tmp-999999");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(stale.join("model.mpk"), b"half").unwrap();
        for step in 1..=8 {
            save(
                &run,
                step,
                &[("a.bin", vec![step as u8])],
                serde_json::json!({}),
                2,
                &[3, 5],
            )
            .unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir(&run))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("step_"))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "step_0000003",
                "step_0000005",
                "step_0000007",
                "step_0000008"
            ]
        );
        assert!(!stale.exists(), "the stale temporary folder is removed");
        std::fs::remove_dir_all(&run).unwrap();
    }
}
