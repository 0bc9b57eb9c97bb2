//! The ε-network export: a diffusion policy (pretraining or LRPO run) as an ONNX ε-model the
//! edge samples with DDIM, checked against burn on real LQ faces at two noise levels.

use crate::error::{Error, Result, ensure_or};
use crate::export::card::card;
use crate::export::f32::{check_relative_error, max_relative_error};
use crate::export::inputs::calibration_inputs;
use crate::export::weights::values;
use crate::model::ops::PolicyBackend;
use crate::tensor::model_values;
use burn::tensor::{Tensor, TensorData};
use lrpo_shared::card::{ModelKind, PolicyCard, Quantization, ValueRange};
use lrpo_shared::onnx::{OnnxModel, check_card};
use lrpo_shared::rng::Rng;
use ndarray::{ArrayD, IxDyn};
use std::path::{Path, PathBuf};

/// Exports a diffusion policy's ε-network (a pretraining or LRPO run) to `out.onnx` with an
/// ε-model card (sampling: the run's schedule, `steps` DDIM steps with stochasticity `eta`),
/// checked against burn on real LQ faces. Returns the model's path and the largest relative
/// error.
pub fn export_eps<B: PolicyBackend>(
    run: &Path,
    out: &Path,
    steps: u32,
    eta: f32,
    device: &B::Device,
) -> Result<(PathBuf, f64)> {
    ensure_or!(
        steps > 0 && (0.0..=1.0).contains(&eta),
        Error::config(format!(
            "export: the card's DDIM steps must be >= 1 and eta in [0, 1], got {steps} and {eta}"
        ))
    );
    let (cfg, model, _) = crate::run::load_policy::<B>(run, device)?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "teacher".into());
    let path = out.with_file_name(format!("{name}.onnx"));
    let mut c = card(&cfg, &name, Quantization::F32, run)?;
    c.kind = ModelKind::Epsilon;
    c.input.value_range = ValueRange::MinusOneOne;
    c.input.multiple_of = cfg.model.size_multiple() as u32;
    c.input.input_names = vec!["x_t".into(), "t".into(), "lq".into()];
    c.input.output_name = "eps".into();
    c.sampling = Some(lrpo_shared::card::SamplingSpec {
        schedule: cfg.schedule.clone(),
        steps,
        eta,
        clip_x0: cfg.sampling.clip_x0,
    });
    let mut g = crate::model::unet_onnx::build(&model)?;
    c.graph_sha256 = g.graph_sha256();
    g.metadata("lrpo.card", &serde_json::to_string(&c)?);
    g.save(&path)?;
    let m = OnnxModel::load(&path)?;
    check_card(&c, &m)?;
    // Check on real LQs at two noise levels.
    let data = crate::run::RunInfo::load(run)?.data;
    let inputs = calibration_inputs(&cfg, &data, 2)?;
    let r = cfg.data.resolution;
    let lq = model_values(&inputs);
    let mut rng = Rng::new(5);
    let mut xt = vec![0.0f32; lq.len()];
    rng.fill_normal(&mut xt);
    let t = [900.0f32, 120.0];
    let want = values(model.forward(
        Tensor::from_data(TensorData::new(xt.clone(), [2, 3, r, r]), device),
        &t,
        Tensor::from_data(TensorData::new(lq.clone(), [2, 3, r, r]), device),
    ))?;
    let (xa, ta, la) = (
        ArrayD::from_shape_vec(IxDyn(&[2, 3, r, r]), xt)?,
        ArrayD::from_shape_vec(IxDyn(&[2]), t.to_vec())?,
        ArrayD::from_shape_vec(IxDyn(&[2, 3, r, r]), lq)?,
    );
    let got = m.run(&[xa.view(), ta.view(), la.view()])?.remove(0);
    let err = max_relative_error(&path, "ε", &got, &want)?;
    check_relative_error(&path, "ε", err)?;
    c.save(&PolicyCard::path_for_model(&path))?;
    Ok((path, err))
}
