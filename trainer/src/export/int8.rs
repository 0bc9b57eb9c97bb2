//! The int8 export: every convolution's input and output range measured on calibration faces
//! (post-training quantisation, one weight scale per convolution), the QLinearConv graph written with its
//! card, and checked in tract against the f32 export (PSNR) and for integer kernels in its plan.

use crate::error::{Error, Result, ensure_or};
use crate::export::inputs::batch;
use crate::export::weights::values;
use crate::model::ops::PolicyBackend;
use crate::model::student::{Student, Taps};
use lrpo_shared::card::PolicyCard;
use lrpo_shared::onnx::student::{ConvRange, StudentSpec, build_int8};
use lrpo_shared::onnx::{OnnxModel, check_card};
use ndarray::{Array3, ArrayD, Axis};
use std::collections::HashMap;
use std::path::Path;

/// What the int8 check measured.
#[derive(Debug, Clone)]
pub struct Int8Check {
    /// Mean PSNR of the int8 output against the f32 export's, per check image (dB).
    pub psnr_vs_f32: f64,
    /// The integer matrix kernel tract chose (from its plan).
    pub kernel: String,
}

/// Every convolution's input and output value range over `inputs` (batches of 8).
pub fn calibrate<B: PolicyBackend>(
    student: &Student<B>,
    spec: &StudentSpec,
    inputs: &[Array3<f32>],
    device: &B::Device,
) -> Result<HashMap<String, ConvRange>> {
    let mut ranges: HashMap<String, ConvRange> = HashMap::new();
    for chunk in inputs.chunks(8) {
        let mut taps: Taps<B> = Vec::new();
        student.forward_taps(batch::<B>(chunk, device), Some(&mut taps));
        for (l, (i, o)) in spec.layers().iter().zip(taps) {
            let (iv, ov) = (values(i)?, values(o)?);
            let mm = |v: &[f32]| {
                v.iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| {
                        (a.min(x), b.max(x))
                    })
            };
            let ((imin, imax), (omin, omax)) = (mm(&iv), mm(&ov));
            let e = ranges.entry(l.name.clone()).or_insert(ConvRange {
                in_min: imin,
                in_max: imax,
                out_min: omin,
                out_max: omax,
            });
            e.in_min = e.in_min.min(imin);
            e.in_max = e.in_max.max(imax);
            e.out_min = e.out_min.min(omin);
            e.out_max = e.out_max.max(omax);
        }
    }
    Ok(ranges)
}

/// PSNR between two images with values clamped to [0, 1] (dB; 200 for identical ones).
fn psnr_between<'a>(a: impl Iterator<Item = &'a f32>, b: impl Iterator<Item = &'a f32>) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for (x, y) in a.zip(b) {
        sum += ((x.clamp(0.0, 1.0) - y.clamp(0.0, 1.0)) as f64).powi(2);
        n += 1;
    }
    10.0 * (1.0 / (sum / n.max(1) as f64).max(1e-20)).log10()
}

/// Writes the int8 student to `path` with `card` (embedded and beside it), runs it in tract on
/// `inputs` and compares with `f32_out` (the f32 export's output on them); fails if tract's plan
/// has no integer kernel (the model would run, slowly, in f32).
pub fn write_checked(
    spec: &StudentSpec,
    params: &HashMap<String, Vec<f32>>,
    ranges: &HashMap<String, ConvRange>,
    card: &PolicyCard,
    path: &Path,
    inputs: &ArrayD<f32>,
    f32_out: &ArrayD<f32>,
) -> Result<Int8Check> {
    let mut q = build_int8(spec, params, ranges)?;
    let card = &PolicyCard {
        graph_sha256: q.graph_sha256(),
        ..card.clone()
    };
    q.metadata("lrpo.card", &serde_json::to_string(card)?);
    q.save(path)?;
    let qm = OnnxModel::load(path)?;
    check_card(card, &qm)?;
    let out = qm.run(&[inputs.view()])?.remove(0);
    ensure_or!(
        out.shape() == f32_out.shape(),
        Error::model(
            path.display().to_string(),
            format!(
                "the int8 model's output is {:?}, the f32 model's {:?}",
                out.shape(),
                f32_out.shape()
            )
        )
    );
    let n = out.shape()[0];
    let psnr = (0..n)
        .map(|i| {
            psnr_between(
                out.index_axis(Axis(0), i).iter(),
                f32_out.index_axis(Axis(0), i).iter(),
            )
        })
        .sum::<f64>()
        / n as f64;
    let plan = qm.plan_summary(&[inputs.shape().to_vec()])?;
    let kernel = plan.iter().find_map(|l| {
        l.split("with [")
            .nth(1)
            .and_then(|k| k.split(']').next())
            .filter(|k| k.contains("i32"))
            .map(str::to_string)
    });
    let Some(kernel) = kernel else {
        return Err(Error::model(
            path.display().to_string(),
            format!(
                "tract's plan has no integer matrix kernel:\n{}",
                plan.join("\n")
            ),
        ));
    };
    card.save(&PolicyCard::path_for_model(path))?;
    Ok(Int8Check {
        psnr_vs_f32: psnr,
        kernel,
    })
}
