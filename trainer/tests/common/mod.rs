//! Helpers the trainer's integration tests share: the repository root, scratch folders, a
//! recursive listing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root (data, configs and models are found from it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh, empty scratch folder named for the test and the process.
pub fn scratch(name: &str) -> PathBuf {
    // Under cargo's per-target scratch folder (where there is one), one per test name: a rerun
    // replaces it, so scratch files do not pile up in the system's temporary folder (a failed
    // run's stay there to look at).
    let d = option_env!("CARGO_TARGET_TMPDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("lrpo-train-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every file and folder below `dir`.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}
