//! Real-photo evaluation (no ground truth): does the whole pipeline leave a face at least as
//! good as it found it?
//!
//! Each photo goes through `detect → align → restore → paste back` exactly as
//! `lrpo-edge restore` runs it, detail gate included (faces it keeps are reported too, with
//! `restored (1) or kept by the detail gate (0)` = 0). Each restored face is then looked at in the input photo and in
//! the output photo through the same FFHQ alignment at the face's **own** resolution (the crop
//! side at which the photo is neither shrunk nor enlarged, 64–512 px), and scored:
//!
//! - `identity distance to input`: face-descriptor distance between the input and output face;
//! - `PSNR vs input (changed px)`: PSNR of the output against the input over the crop pixels
//!   the restore changed (|Δ| ≥ 0.5/255 in some channel), in dB (100 for an unchanged face);
//! - `sharpness` and `sharpness ratio`: variance of the Laplacian over those changed pixels,
//!   and its ratio output / input (1 = as sharp as it came in);
//! - `NIQE`, `BRISQUE` of the face crop, before (method `input`) and after.
//!
//! Rows use the methods `input` and the model's label, so the report's paired table gives
//! `restored − input` per face (each face its own identity, or with `--manifest` the
//! manifest's identity, and only the faces of the asked split). Crops go to `images/` for the
//! contact sheet in `index.html`, restored photos to `restored/`.

use super::paired::paired;
use super::report::{self, Report, Row, file_safe};
use super::scoring::{Metric, niqe_any_size};
use crate::commands::common::{locate, shipped};
use crate::commands::eval::EvalArgs;
use anyhow::{Context, Result, bail};
use lrpo_edge::models::{DEFAULT_POLICY, DETECTOR_DIR};
use lrpo_edge::pipeline::{Pipeline, PipelineOptions, native_side};
use lrpo_edge::runtime::{Policy, SamplerOptions};
use lrpo_shared::align::{Border, Interp, face_to_crop, landmarks_centre, warp_to_crop};
use lrpo_shared::faceset::{FaceEntry, Manifest, Split};
use lrpo_shared::image::{load_rgb, save_rgb};
use lrpo_shared::metrics::{brisque::brisque, sharpness};
use lrpo_shared::onnx::detect::mtcnn::{Mtcnn, MtcnnConfig};
use lrpo_shared::onnx::identity::{FaceDescriptor, distance};
use ndarray::{Array2, Array3};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

fn put(m: &mut BTreeMap<String, Metric>, name: &str, value: f64, higher_is_better: bool) {
    m.insert(
        name.into(),
        Metric {
            value,
            higher_is_better,
        },
    );
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs `lrpo-edge eval --real PHOTOS...`.
pub fn run(args: &EvalArgs) -> Result<ExitCode> {
    let model = match args.models.first() {
        Some(m) => m.clone(),
        None => locate(&shipped(DEFAULT_POLICY)).with_context(|| {
            format!(
                "--real needs --model (default {} not found)",
                shipped(DEFAULT_POLICY)
            )
        })?,
    };
    if args.models.len() > 1 {
        bail!(
            "--real evaluates one model at a time; got {}",
            args.models.len()
        );
    }
    let label = args.labels.first().cloned().unwrap_or_else(|| {
        model
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    });
    if label == "input" {
        bail!("the label \"input\" is taken by the photos themselves");
    }
    let policy = Policy::load(&model, SamplerOptions::default())?;
    let det_dir = match &args.detector {
        Some(d) => d.clone(),
        None => locate(&shipped(DETECTOR_DIR))
            .context("the MTCNN folder was not found; pass --detector")?,
    };
    let pipe = Pipeline {
        policy,
        detector: Some(Box::new(Mtcnn::load(&det_dir, MtcnnConfig::default())?)),
        options: PipelineOptions {
            detail_gate: crate::commands::common::parse_detail_gate(args.detail_gate.as_deref())?,
            ..PipelineOptions::default()
        },
    };
    let id_path = args
        .identity_model
        .clone()
        .or_else(|| locate("models/face_descriptor.onnx"))
        .context(
            "the identity model models/face_descriptor.onnx was not found; pass --identity-model",
        )?;
    let faces_net = FaceDescriptor::load(&id_path)?;
    let photos = crate::inputs::expand_inputs(&args.real)?;
    // With a manifest: the faces of one split only, each with its identity.
    let wanted: Option<Vec<FaceEntry>> = match &args.manifest {
        Some(p) => {
            let split = Split::by_name(&args.split)?;
            Some(Manifest::load(p)?.faces_in(split).cloned().collect())
        }
        None => None,
    };
    let identity_of = |photo: &std::path::Path, lm: &lrpo_shared::align::Landmarks| {
        // The photo itself, or a copy named STEM_SUFFIX (e.g. `biden_lq.png` from `degrade`).
        let stem = photo.file_stem()?.to_string_lossy().into_owned();
        let c = landmarks_centre(lm);
        let eyes = (lm[0][0] - lm[1][0]).hypot(lm[0][1] - lm[1][1]);
        wanted.as_ref()?.iter().find_map(|f| {
            let same_photo = std::path::Path::new(&f.source_path)
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .is_some_and(|n| stem == n || stem.starts_with(&format!("{n}_")));
            let fc = landmarks_centre(&f.landmarks);
            let near = (fc[0] - c[0]).hypot(fc[1] - c[1]) < 0.5 * eyes.max(1.0);
            (same_photo && near).then(|| f.identity.clone()).flatten()
        })
    };
    let mut identities = BTreeMap::new();
    let (images, restored_dir) = (args.out.join("images"), args.out.join("restored"));
    let mut rows = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    let mut names_seen = BTreeMap::new();
    for photo in &photos {
        let r = (|| -> Result<()> {
            let frame = load_rgb(photo)?;
            let res = pipe.process(&frame.view())?;
            let stem = photo
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            // Two photos of the same stem (a/x.jpg, b/x.png) get distinct names.
            let n = names_seen.entry(stem.clone()).or_insert(0usize);
            let stem = if *n == 0 { stem } else { format!("{stem}-{n}") };
            *n += 1;
            save_rgb(&restored_dir.join(format!("{stem}.png")), &res.frame.view())?;
            if res.faces.is_empty() {
                say!("{}: no face found", photo.display());
            }
            // Restored faces, then the ones the detail gate kept as they were.
            let found: Vec<(&lrpo_shared::onnx::detect::Detection, Option<f64>)> = res
                .faces
                .iter()
                .map(|f| (&f.detection, Some(f.restore_ms)))
                .chain(res.kept.iter().map(|k| (&k.detection, None)))
                .collect();
            for (k, (det, restore_ms)) in found.into_iter().enumerate() {
                let lm = &det.landmarks;
                let identity = identity_of(photo, lm);
                if wanted.is_some() && identity.is_none() {
                    continue; // not a face of the asked split
                }
                let side = native_side(lm)?.clamp(64, 512);
                let t = face_to_crop(lm, side)?;
                let warp = |img: &Array3<f32>| {
                    warp_to_crop(&img.view(), &t, side, Interp::Bicubic, Border::Replicate)
                };
                let (a, b) = (warp(&frame)?, warp(&res.frame)?);
                let changed = Array2::from_shape_fn((side, side), |(y, x)| {
                    (0..3).any(|c| (a[[c, y, x]] - b[[c, y, x]]).abs() >= 0.5 / 255.0)
                });
                let n_changed = changed.iter().filter(|v| **v).count();
                let name = format!("{stem}_f{k}");
                if let Some(id) = identity {
                    identities.insert(name.clone(), id);
                }
                save_rgb(&images.join(format!("{name}__LQ.png")), &a.view())?;
                save_rgb(&images.join(format!("{name}__input.png")), &a.view())?;
                save_rgb(
                    &images.join(format!("{name}__{}.png", file_safe(&label))),
                    &b.view(),
                )?;
                let (sa, sb) = (
                    sharpness(&a.view(), Some(&changed))?,
                    sharpness(&b.view(), Some(&changed))?,
                );
                let mut mi = BTreeMap::new();
                put(&mut mi, "NIQE", niqe_any_size(&a)?, false);
                put(&mut mi, "BRISQUE", brisque(&a.view())?, false);
                put(&mut mi, "sharpness", sa, true);
                let mut mo = BTreeMap::new();
                put(&mut mo, "NIQE", niqe_any_size(&b)?, false);
                put(&mut mo, "BRISQUE", brisque(&b.view())?, false);
                put(&mut mo, "sharpness", sb, true);
                put(
                    &mut mo,
                    "sharpness ratio",
                    if sa > 0.0 { sb / sa } else { 1.0 },
                    true,
                );
                let mse = if n_changed == 0 {
                    0.0
                } else {
                    let mut s = 0.0f64;
                    for (y, x) in (0..side).flat_map(|y| (0..side).map(move |x| (y, x))) {
                        if changed[[y, x]] {
                            for c in 0..3 {
                                s += ((a[[c, y, x]] - b[[c, y, x]]) as f64).powi(2);
                            }
                        }
                    }
                    s / (3 * n_changed) as f64
                };
                // An unchanged face is reported at 100 dB (a finite stand-in for +∞, so that
                // JSON and medians stay numbers).
                put(
                    &mut mo,
                    "PSNR vs input (changed px)",
                    if mse > 0.0 {
                        (10.0 * (1.0 / mse).log10()).min(100.0)
                    } else {
                        100.0
                    },
                    true,
                );
                put(
                    &mut mo,
                    "changed px (%)",
                    100.0 * n_changed as f64 / (side * side) as f64,
                    false,
                );
                let d = faces_net.describe_crops(&[a.view(), b.view()])?;
                put(
                    &mut mo,
                    "identity distance to input",
                    distance(&d[0], &d[1]),
                    false,
                );
                put(&mut mi, "face side (px)", side as f64, true);
                put(
                    &mut mo,
                    "restored (1) or kept by the detail gate (0)",
                    if restore_ms.is_some() { 1.0 } else { 0.0 },
                    true,
                );
                rows.push(Row {
                    image: name.clone(),
                    method: "input".into(),
                    metrics: mi,
                    time_ms: None,
                });
                rows.push(Row {
                    image: name,
                    method: label.clone(),
                    metrics: mo,
                    time_ms: restore_ms,
                });
            }
            Ok(())
        })();
        if let Err(e) = r {
            say!("warning: {}: {e:#}", photo.display());
            skipped.push((photo.display().to_string(), format!("{e:#}")));
        }
    }
    if rows.is_empty() {
        bail!("no face was found in {} photo(s)", photos.len());
    }
    let methods = vec!["input".to_string(), label.clone()];
    let aggregate = report::aggregate(&rows, &methods);
    let paired_rows = paired(&rows, &methods, "input", &identities);
    let med_of = |rows: &[Row], k: &str| {
        let mut v: Vec<f64> = rows
            .iter()
            .filter(|r| r.method == label)
            .filter_map(|r| r.metrics.get(k).map(|m| m.value))
            .collect();
        median(&mut v)
    };
    let (med_id, med_psnr, med_sharp) = (
        med_of(&rows, "identity distance to input"),
        med_of(&rows, "PSNR vs input (changed px)"),
        med_of(&rows, "sharpness ratio"),
    );
    let faces = rows.len() / 2;
    let settings = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "kind": "real photos (no ground truth)",
        "photos": photos.len(),
        "faces": faces,
        "model": model,
        "detail_gate": pipe.options.detail_gate,
        "manifest": args.manifest,
        "split": args.manifest.as_ref().map(|_| args.split.clone()),
        "median identity distance to input": med_id,
        "median PSNR vs input (changed px)": med_psnr,
        "median sharpness ratio": med_sharp,
        "analysis": "each face aligned at its own resolution (64-512 px) in the input and output photos; PSNR and sharpness over the pixels the restore changed",
    });
    let rep = Report {
        settings,
        methods,
        rows,
        aggregate,
        skipped: skipped.clone(),
        identities,
        paired: paired_rows,
    };
    report::write(&rep, &args.out, false)?;
    let mut out = std::io::stdout().lock();
    report::print_tables(&rep, &mut out)?;
    writeln!(
        out,
        "\nmedian over {faces} faces: identity distance input→output {med_id:.3}, PSNR vs input (changed px) {med_psnr:.2} dB, sharpness ratio {med_sharp:.3}"
    )?;
    Ok(report::finish(
        &mut out,
        &args.out,
        photos.len(),
        "photos",
        skipped.len(),
    )?)
}
