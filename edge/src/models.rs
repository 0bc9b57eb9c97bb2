//! The shipped model folder (`models/` in a checkout, or wherever firmware installs it): the
//! default restoration policy in int8 and f32, and the MTCNN face detector.

use crate::error::{Error, Result};
use crate::runtime::{Policy, SamplerOptions};
use lrpo_shared::onnx::detect::mtcnn::{Mtcnn, MtcnnConfig};
use std::path::{Path, PathBuf};

/// The default policy's file in the model folder (int8).
pub const DEFAULT_POLICY: &str = "gt_student_int8.onnx";
/// Its f32 twin: used instead where it is faster ([`faster_of`]).
pub const DEFAULT_POLICY_F32: &str = "gt_student.onnx";
/// The MTCNN folder (`pnet.onnx`, `rnet.onnx`, `onet.onnx`) in the model folder.
pub const DETECTOR_DIR: &str = "mtcnn";

/// Which of two equivalent policies [`faster_of`] chose, and the times it measured.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeedChoice {
    /// The crop side (px) both were timed at.
    pub side: usize,
    /// Milliseconds per face of the chosen policy.
    pub chosen_ms: f64,
    /// The policy not chosen.
    pub other: PathBuf,
    /// Its milliseconds per face.
    pub other_ms: f64,
}

/// The faster of two equivalent policies on this CPU, by a short self-benchmark at the first
/// one's crop size (one plan-building run, then the median of 3 timed runs each). tract's int8
/// kernels are fast on some CPUs and several times slower than f32 on others (e.g. 12 against
/// 5.7 ms per 128-px face on an AVX-512 x86 server), so the default policy is chosen where it
/// runs.
pub fn faster_of(a: Policy, b: Policy) -> Result<(Policy, SpeedChoice)> {
    let side = a.crop_size();
    let time = |p: &Policy| -> Result<f64> {
        p.warm_up(side)?;
        let img = ndarray::Array3::<f32>::from_elem((3, side, side), 0.5);
        let mut v = Vec::with_capacity(3);
        for _ in 0..3 {
            let t = std::time::Instant::now();
            p.restore(&img.view())?;
            v.push(t.elapsed().as_secs_f64() * 1e3);
        }
        v.sort_by(f64::total_cmp);
        Ok(v[1])
    };
    let (ta, tb) = (time(&a)?, time(&b)?);
    let (win, lose, tw, tl) = if tb < ta {
        (b, a, tb, ta)
    } else {
        (a, b, ta, tb)
    };
    let choice = SpeedChoice {
        side,
        chosen_ms: tw,
        other: lose.model_path().to_path_buf(),
        other_ms: tl,
    };
    Ok((win, choice))
}

/// The default policy of model folder `dir`: [`DEFAULT_POLICY`], or its f32 twin when that is
/// there and faster here (then with the [`SpeedChoice`]).
pub fn default_policy(
    dir: &Path,
    sampler: SamplerOptions,
) -> Result<(Policy, Option<SpeedChoice>)> {
    let int8 = Policy::load(&dir.join(DEFAULT_POLICY), sampler)?;
    let f32 = dir.join(DEFAULT_POLICY_F32);
    if !f32.exists() {
        return Ok((int8, None));
    }
    let (p, c) = faster_of(int8, Policy::load(&f32, sampler)?)?;
    Ok((p, Some(c)))
}

/// Loads the MTCNN detector of model folder `dir` ([`DETECTOR_DIR`]).
pub fn detector(dir: &Path, config: MtcnnConfig) -> Result<Mtcnn> {
    let d = dir.join(DETECTOR_DIR);
    if !d.is_dir() {
        return Err(Error::input(
            d.display().to_string(),
            format!("no face detector folder ({DETECTOR_DIR}/ with pnet/rnet/onet.onnx) here"),
        ));
    }
    Ok(Mtcnn::load(&d, config)?)
}
