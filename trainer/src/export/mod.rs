//! Export of the one-step student to ONNX (f32, and int8 by post-training quantisation) with its
//! policy card, checked before success is reported: the file loads in tract, its output matches
//! burn's on sample inputs, the card matches the graph, and (int8) tract's plan runs integer
//! kernels. The diffusion policy's ε-network exports through [`export_eps`].
//!
//! - [`weights`]: the student's parameters by layer, a run's student;
//! - [`card`]: the policy card and the chain of runs behind a model;
//! - [`inputs`]: the LQ faces the checks and the calibration use;
//! - [`f32`](mod@f32), [`int8`]: writing and checking each model;
//! - [`eps`]: the ε-network.

pub mod card;
pub mod eps;
pub mod f32;
pub mod inputs;
pub mod int8;
pub mod weights;

pub use card::lineage;
pub use eps::export_eps;
pub use inputs::calibration_inputs;
pub use weights::{layer, load_student, parameters};

use crate::error::Result;
use crate::export::card::card;
use crate::export::inputs::{batch, batch_array};
use crate::export::weights::values;
use crate::model::ops::PolicyBackend;
use lrpo_shared::card::Quantization;
use std::path::{Path, PathBuf};

/// What an export wrote and measured.
#[derive(Debug, Clone)]
pub struct ExportReport {
    /// The f32 model.
    pub f32_path: PathBuf,
    /// Largest |tract − burn| relative to the largest |burn| value, over the check inputs.
    pub f32_rel_err: f64,
    /// The int8 model, if written.
    pub int8_path: Option<PathBuf>,
    /// Mean PSNR of the int8 export against the f32 export on the check inputs (dB).
    pub int8_psnr_vs_f32: Option<f64>,
    /// The integer kernel tract chose for the int8 model's first convolution.
    pub int8_kernel: Option<String>,
    /// File sizes (bytes): f32, int8.
    pub sizes: (u64, Option<u64>),
    /// Calibration images used.
    pub calibration_images: usize,
}

/// Calibration faces an int8 export measures its ranges on.
const CALIBRATION_IMAGES: usize = 32;
/// Of those, the faces every export's output is checked on.
const CHECK_IMAGES: usize = 8;

fn file_size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .map_err(|e| crate::Error::io(path, "cannot read the size of", e))?
        .len())
}

/// Exports a distillation run's student to `out.onnx` (+ `out.card`) and, with `int8`, to
/// `out_int8.onnx` (+ card), calibrating on `calib` (default: the run's data).
pub fn export<B: PolicyBackend>(
    run: &Path,
    out: &Path,
    int8: bool,
    calib: Option<&Path>,
    device: &B::Device,
) -> Result<ExportReport> {
    let (cfg, student, _) = load_student::<B>(run, device)?;
    let spec = &cfg.distill.student;
    let params = parameters(&student, &cfg)?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "student".into());
    let data_dir = match calib {
        Some(c) => c.to_path_buf(),
        None => crate::run::RunInfo::load(run)?.data,
    };
    let inputs = calibration_inputs(&cfg, &data_dir, CALIBRATION_IMAGES)?;
    let check = &inputs[..inputs.len().min(CHECK_IMAGES)];
    let burn_out = values(student.forward(batch::<B>(check, device)))?;
    let xd = batch_array(check)?;

    let f32_path = out.with_file_name(format!("{name}.onnx"));
    let c32 = card(&cfg, &name, Quantization::F32, run)?;
    let (t32, err) = f32::write_checked(spec, &params, &c32, &f32_path, &xd, &burn_out)?;
    let mut report = ExportReport {
        sizes: (file_size(&f32_path)?, None),
        f32_path,
        f32_rel_err: err,
        int8_path: None,
        int8_psnr_vs_f32: None,
        int8_kernel: None,
        calibration_images: 0,
    };
    if int8 {
        let ranges = int8::calibrate(&student, spec, &inputs, device)?;
        let q_path = out.with_file_name(format!("{name}_int8.onnx"));
        let cq = card(
            &cfg,
            &format!("{name}_int8"),
            Quantization::Int8 {
                per_channel: false,
                calibration_images: inputs.len() as u32,
            },
            run,
        )?;
        let q = int8::write_checked(spec, &params, &ranges, &cq, &q_path, &xd, &t32)?;
        report.sizes.1 = Some(file_size(&q_path)?);
        report.int8_path = Some(q_path);
        report.int8_psnr_vs_f32 = Some(q.psnr_vs_f32);
        report.int8_kernel = Some(q.kernel);
        report.calibration_images = inputs.len();
    }
    Ok(report)
}
