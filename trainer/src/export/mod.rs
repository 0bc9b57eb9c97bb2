//! Export of the one-step student to ONNX (f32, and int8 by post-training quantisation) with its
//! policy card, checked before success is reported: the file loads in tract, its output matches
//! burn's on sample inputs, the card matches the graph, and (int8) tract's plan runs integer
//! kernels.

use crate::checkpoint;
use crate::config::RunConfig;
use crate::data::{AugmentConfig, FaceSet, make_sample};
use crate::model::student::{Student, Taps, init};
use anyhow::{Context, Result, bail, ensure};
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use lrpo_shared::card::{
    InputSpec, Layout, ModelKind, PolicyCard, Provenance, Quantization, ValueRange,
};
use lrpo_shared::degrade::DegradePreset;
use lrpo_shared::onnx::student::{ConvRange, build_f32, build_int8};
use lrpo_shared::onnx::{OnnxModel, check_card};
use lrpo_shared::rng::Rng;
use ndarray::{Array3, ArrayD, IxDyn};
use std::collections::HashMap;
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

/// The student's convolutions by layer name.
pub fn layer<'a, B: Backend>(s: &'a Student<B>, name: &str) -> Option<&'a Conv2d<B>> {
    Some(match name {
        "conv_in" => &s.conv_in,
        "down1" => &s.down1,
        "down2" => &s.down2,
        "proj1" => &s.proj1,
        "dec1" => &s.dec1,
        "proj0" => &s.proj0,
        "dec0" => &s.dec0,
        "conv_out" => &s.conv_out,
        _ => {
            let (b, which) = name.strip_prefix("mid")?.split_once('.')?;
            let block = s.mid.get(b.parse::<usize>().ok()?)?;
            match which {
                "conv1" => &block.conv1,
                "conv2" => &block.conv2,
                _ => return None,
            }
        }
    })
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(|e| anyhow::anyhow!("tensor data: {e:?}"))
}

/// Every parameter of the student as `{layer}.weight` (OIHW) / `{layer}.bias`.
pub fn parameters<B: Backend>(
    s: &Student<B>,
    cfg: &RunConfig,
) -> Result<HashMap<String, Vec<f32>>> {
    let mut p = HashMap::new();
    for l in cfg.distill.student.layers() {
        let c =
            layer(s, &l.name).with_context(|| format!("the student has no layer {}", l.name))?;
        p.insert(format!("{}.weight", l.name), values(c.weight.val())?);
        let bias = match &c.bias {
            Some(b) => values(b.val())?,
            None => vec![0.0; l.cout],
        };
        p.insert(format!("{}.bias", l.name), bias);
    }
    Ok(p)
}

/// Loads a distillation run's student.
pub fn load_student<B: Backend>(
    run: &Path,
    device: &B::Device,
) -> Result<(RunConfig, Student<B>, u64)> {
    let cfg = RunConfig::load(&run.join("config.toml"))?;
    let mut ck = checkpoint::load_latest(run)?
        .with_context(|| format!("{}: no checkpoint", run.display()))?;
    let s: Student<B> = init(&cfg.distill.student, device);
    let s = s.load_record(ck.record::<B, _>("model.mpk", device)?);
    Ok((cfg, s, ck.state.step))
}

/// The chain of runs behind a run (`run.json`'s `init`), oldest first: (command, folder, steps).
pub fn lineage(run: &Path) -> Vec<(String, PathBuf, u64)> {
    let mut out = Vec::new();
    let mut cur = Some(run.to_path_buf());
    while let Some(r) = cur.take() {
        let info: Option<serde_json::Value> = std::fs::read(r.join("run.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let step = checkpoint::load_latest(&r)
            .ok()
            .flatten()
            .map_or(0, |c| c.state.step);
        if let Some(info) = info {
            out.push((
                info["command"].as_str().unwrap_or("?").to_string(),
                r.clone(),
                step,
            ));
            cur = info["init"].as_str().map(PathBuf::from);
        }
    }
    out.reverse();
    out
}

/// LQ inputs for checks and calibration: the faces under `dir` (or the run's data), degraded
/// with the run's preset (seeded), at the export size.
pub fn calibration_inputs(cfg: &RunConfig, dir: &Path, count: usize) -> Result<Vec<Array3<f32>>> {
    let mut dcfg = cfg.data.clone();
    dcfg.holdout = vec![];
    dcfg.val_count = 0;
    let set = FaceSet::load(dir, &dcfg)?;
    let preset = DegradePreset::by_name(&cfg.data.preset)?;
    let mut out = Vec::new();
    for i in 0..count {
        let f = &set.train[i % set.train.len()];
        out.push(
            make_sample(
                f,
                &AugmentConfig::default(),
                &preset,
                &mut Rng::derive(0xCA11B, i as u64),
            )?
            .lq,
        );
    }
    Ok(out)
}

fn batch<B: Backend>(imgs: &[Array3<f32>], device: &B::Device) -> Tensor<B, 4> {
    let (_, h, w) = imgs[0].dim();
    Tensor::from_data(
        TensorData::new(
            imgs.iter()
                .flat_map(|a| a.iter().copied())
                .collect::<Vec<_>>(),
            [imgs.len(), 3, h, w],
        ),
        device,
    )
}

fn card(cfg: &RunConfig, name: &str, quant: Quantization, run: &Path) -> Result<PolicyCard> {
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
                .and_then(|l| std::fs::read(l.1.join("run.json")).ok())
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["data"].as_str().map(str::to_string))
                .unwrap_or_default(),
            seed: cfg.distill.seed,
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            tool_version: env!("CARGO_PKG_VERSION").into(),
        },
    })
}

fn psnr_between(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f64 {
    let mse = a
        .iter()
        .zip(b.iter())
        .map(|(x, y)| ((x.clamp(0.0, 1.0) - y.clamp(0.0, 1.0)) as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (1.0 / mse.max(1e-20)).log10()
}

/// Exports a distillation run's student to `out.onnx` (+ `out.card`) and, with `int8`, to
/// `out_int8.onnx` (+ card), calibrating on `calib` (default: the run's data).
pub fn export<B: Backend>(
    run: &Path,
    out: &Path,
    int8: bool,
    calib: Option<&Path>,
    device: &B::Device,
) -> Result<ExportReport> {
    let (cfg, student, _) = load_student::<B>(run, device)?;
    let params = parameters(&student, &cfg)?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "student".into());
    let f32_path = out.with_file_name(format!("{name}.onnx"));
    let data_dir = match calib {
        Some(c) => c.to_path_buf(),
        None => crate::run::RunInfo::load(run)?.data,
    };
    let inputs = calibration_inputs(&cfg, &data_dir, 32)?;
    let check = &inputs[..inputs.len().min(8)];
    let x = batch::<B>(check, device);
    let burn_out = values(student.forward(x))?;
    let xd = ArrayD::from_shape_vec(
        IxDyn(&[check.len(), 3, cfg.data.resolution, cfg.data.resolution]),
        check.iter().flat_map(|a| a.iter().copied()).collect(),
    )?;
    // f32.
    let mut g = build_f32(&cfg.distill.student, &params)?;
    let c32 = card(&cfg, &name, Quantization::F32, run)?;
    g.metadata("lrpo.card", &serde_json::to_string(&c32)?);
    g.save(&f32_path)?;
    let m = OnnxModel::load(&f32_path)?;
    check_card(&c32, &m)?;
    let t32 = m.run(&[xd.view()])?.remove(0);
    ensure!(
        t32.len() == burn_out.len(),
        "{}: tract's output has {} values, burn's {}",
        f32_path.display(),
        t32.len(),
        burn_out.len()
    );
    let peak = burn_out.iter().fold(0.0f32, |a, &b| a.max(b.abs())) as f64;
    let err = t32
        .iter()
        .zip(&burn_out)
        .map(|(a, b)| (a - b).abs() as f64)
        .fold(0.0, f64::max)
        / peak.max(1e-12);
    ensure!(
        err < 1e-4,
        "{}: tract's output differs from burn's by {err:.2e} (relative), above 1e-4",
        f32_path.display()
    );
    c32.save(&PolicyCard::path_for_model(&f32_path))?;
    let size32 = std::fs::metadata(&f32_path)?.len();
    let mut report = ExportReport {
        f32_path,
        f32_rel_err: err,
        int8_path: None,
        int8_psnr_vs_f32: None,
        int8_kernel: None,
        sizes: (size32, None),
        calibration_images: 0,
    };
    if int8 {
        // Calibration: every convolution's input and output range over the calibration set.
        let mut ranges: HashMap<String, ConvRange> = HashMap::new();
        for chunk in inputs.chunks(8) {
            let mut taps: Taps<B> = Vec::new();
            student.forward_taps(batch::<B>(chunk, device), Some(&mut taps));
            for (l, (i, o)) in cfg.distill.student.layers().iter().zip(taps) {
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
        let q_path = out.with_file_name(format!("{name}_int8.onnx"));
        let mut q = build_int8(&cfg.distill.student, &params, &ranges)?;
        let cq = card(
            &cfg,
            &format!("{name}_int8"),
            Quantization::Int8 {
                per_channel: true,
                calibration_images: inputs.len() as u32,
            },
            run,
        )?;
        q.metadata("lrpo.card", &serde_json::to_string(&cq)?);
        q.save(&q_path)?;
        let qm = OnnxModel::load(&q_path)?;
        check_card(&cq, &qm)?;
        let t8 = qm.run(&[xd.view()])?.remove(0);
        ensure!(
            t8.shape() == t32.shape(),
            "{}: the int8 model's output is {:?}, the f32 model's {:?}",
            q_path.display(),
            t8.shape(),
            t32.shape()
        );
        let per = 3 * cfg.data.resolution * cfg.data.resolution;
        let psnr = (0..check.len())
            .map(|i| {
                let a = ArrayD::from_shape_vec(
                    IxDyn(&[per]),
                    t32.as_slice().expect("contiguous")[i * per..(i + 1) * per].to_vec(),
                )
                .expect("sizes");
                let b = ArrayD::from_shape_vec(
                    IxDyn(&[per]),
                    t8.as_slice().expect("contiguous")[i * per..(i + 1) * per].to_vec(),
                )
                .expect("sizes");
                psnr_between(&a, &b)
            })
            .sum::<f64>()
            / check.len() as f64;
        let plan = qm.plan_summary(&[vec![
            check.len(),
            3,
            cfg.data.resolution,
            cfg.data.resolution,
        ]])?;
        let kernel = plan.iter().find_map(|l| {
            l.split("with [")
                .nth(1)
                .and_then(|k| k.split(']').next())
                .filter(|k| k.contains("i32"))
                .map(str::to_string)
        });
        let Some(kernel) = kernel else {
            bail!(
                "{}: tract's plan has no integer matrix kernel:\n{}",
                q_path.display(),
                plan.join("\n")
            )
        };
        cq.save(&PolicyCard::path_for_model(&q_path))?;
        report.sizes.1 = Some(std::fs::metadata(&q_path)?.len());
        report.int8_path = Some(q_path);
        report.int8_psnr_vs_f32 = Some(psnr);
        report.int8_kernel = Some(kernel);
        report.calibration_images = inputs.len();
    }
    Ok(report)
}

/// Exports a diffusion policy's ε-network (a pretraining or LRPO run) to `out.onnx` with an
/// ε-model card (sampling: the run's schedule, `steps` DDIM steps with stochasticity `eta`),
/// checked against burn on real LQ faces. Returns the largest relative error.
pub fn export_eps<B: Backend>(
    run: &Path,
    out: &Path,
    steps: u32,
    eta: f32,
    device: &B::Device,
) -> Result<(PathBuf, f64)> {
    anyhow::ensure!(
        steps > 0 && (0.0..=1.0).contains(&eta),
        "export: the card's DDIM steps must be >= 1 and eta in [0, 1], got {steps} and {eta}"
    );
    let (cfg, model, _) = crate::evaluate::load_policy::<B>(run, device)?;
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
    g.metadata("lrpo.card", &serde_json::to_string(&c)?);
    g.save(&path)?;
    let m = OnnxModel::load(&path)?;
    check_card(&c, &m)?;
    // Check on real LQs at two noise levels.
    let data = crate::run::RunInfo::load(run)?.data;
    let inputs = calibration_inputs(&cfg, &data, 2)?;
    let r = cfg.data.resolution;
    let lq: Vec<f32> = inputs
        .iter()
        .flat_map(|a| a.iter().map(|v| 2.0 * v - 1.0))
        .collect();
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
    ensure!(
        got.len() == want.len(),
        "{}: tract's ε has {} values, burn's {}",
        path.display(),
        got.len(),
        want.len()
    );
    let peak = want.iter().fold(0.0f32, |a, &b| a.max(b.abs())) as f64;
    let err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs() as f64)
        .fold(0.0, f64::max)
        / peak.max(1e-12);
    ensure!(
        err < 1e-4,
        "{}: tract's ε differs from burn's by {err:.2e} (relative), above 1e-4",
        path.display()
    );
    c.save(&PolicyCard::path_for_model(&path))?;
    Ok((path, err))
}
