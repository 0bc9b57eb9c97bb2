//! `RUN/metrics.jsonl`: one JSON object per line (`{"kind": "train", "step": …, …}`), appended
//! as a run goes and flushed line by line. A resumed run first drops the lines logged after the
//! checkpoint it resumes from, so the file always describes one consistent run.

use crate::error::{Error, Result};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An open metrics log.
pub struct RunLog {
    path: PathBuf,
    file: std::fs::File,
}

impl RunLog {
    /// Opens `RUN/metrics.jsonl`; with `resume_step`, keeps only lines whose `step` is at most it.
    pub fn open(run: &Path, resume_step: Option<u64>) -> Result<Self> {
        let path = run.join("metrics.jsonl");
        match resume_step {
            Some(step) if path.exists() => {
                let kept: Vec<String> = read(&path)?
                    .into_iter()
                    .filter(|v| v["step"].as_u64().is_none_or(|s| s <= step))
                    .map(|v| v.to_string())
                    .collect();
                let text = if kept.is_empty() {
                    String::new()
                } else {
                    kept.join("\n") + "\n"
                };
                lrpo_shared::fsio::write_atomic(&path, text.as_bytes())?;
            }
            None => {
                lrpo_shared::fsio::write_atomic(&path, b"")?;
            }
            _ => {}
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, "cannot open", e))?;
        Ok(RunLog { path, file })
    }

    /// Appends one record.
    pub fn log(&mut self, record: Value) -> Result<()> {
        writeln!(self.file, "{record}")
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::io(&self.path, "cannot write", e))
    }
}

/// Every record of a metrics file (unparseable lines are skipped).
pub fn read(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "cannot read", e))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// `(step, value)` pairs of field `field` in records of kind `kind`.
pub fn series(records: &[Value], kind: &str, field: &str) -> Vec<(f64, f64)> {
    records
        .iter()
        .filter(|r| r["kind"] == kind)
        .filter_map(|r| Some((r["step"].as_f64()?, r[field].as_f64()?)))
        .collect()
}
