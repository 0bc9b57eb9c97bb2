//! The f32 export: the student's graph with its trained weights and card, loaded back in tract
//! and compared with burn's output on the check inputs.

use crate::error::{Error, Result, ensure_or};
use lrpo_shared::card::PolicyCard;
use lrpo_shared::onnx::student::{StudentSpec, build_f32};
use lrpo_shared::onnx::{OnnxModel, check_card};
use ndarray::ArrayD;
use std::collections::HashMap;
use std::path::Path;

/// Largest relative difference tract's output may have from burn's (f32 both; the graphs do the
/// same arithmetic in a different order).
pub const MAX_RELATIVE_ERROR: f64 = 1e-4;

/// Largest `|got − want|` relative to the largest `|want|`, after checking that the two have
/// the same number of values. `what` names the output in errors (its file and tensor).
pub fn max_relative_error(
    what: &Path,
    tensor: &str,
    got: &ArrayD<f32>,
    want: &[f32],
) -> Result<f64> {
    ensure_or!(
        got.len() == want.len(),
        Error::model(
            what.display().to_string(),
            format!(
                "tract's {tensor} has {} values, burn's {}",
                got.len(),
                want.len()
            )
        )
    );
    let peak = want.iter().fold(0.0f32, |a, &b| a.max(b.abs())) as f64;
    Ok(got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs() as f64)
        .fold(0.0, f64::max)
        / peak.max(1e-12))
}

/// Checks that a relative error is within [`MAX_RELATIVE_ERROR`].
pub fn check_relative_error(what: &Path, tensor: &str, err: f64) -> Result<()> {
    ensure_or!(
        err < MAX_RELATIVE_ERROR,
        Error::model(
            what.display().to_string(),
            format!(
                "tract's {tensor} differs from burn's by {err:.2e} (relative), above {MAX_RELATIVE_ERROR:.0e}"
            )
        )
    );
    Ok(())
}

/// Writes the f32 student to `path` with `card` (embedded and beside it), runs it in tract on
/// `inputs` and compares with `burn_out` (burn's output on the same inputs). Returns tract's
/// output and the relative error.
pub fn write_checked(
    spec: &StudentSpec,
    params: &HashMap<String, Vec<f32>>,
    card: &PolicyCard,
    path: &Path,
    inputs: &ArrayD<f32>,
    burn_out: &[f32],
) -> Result<(ArrayD<f32>, f64)> {
    let mut g = build_f32(spec, params)?;
    let card = &PolicyCard {
        graph_sha256: g.graph_sha256(),
        ..card.clone()
    };
    g.metadata("lrpo.card", &serde_json::to_string(card)?);
    g.save(path)?;
    let m = OnnxModel::load(path)?;
    check_card(card, &m)?;
    let out = m.run(&[inputs.view()])?.remove(0);
    let err = max_relative_error(path, "output", &out, burn_out)?;
    check_relative_error(path, "output", err)?;
    card.save(&PolicyCard::path_for_model(path))?;
    Ok((out, err))
}
