//! `lrpo-edge eval`: compare restoration methods on a test set with every metric and write a
//! report (see `crate::eval`).

use super::common::locate;
use crate::eval::dataset::{self, SetKind};
use crate::eval::report::{self, Report, Row, file_safe};
use crate::eval::scoring::score;
use anyhow::{Context, Result, bail};
use clap::Args;
use lrpo_edge::pipeline::{Pipeline, PipelineOptions};
use lrpo_edge::runtime::{Policy, SamplerOptions};
use lrpo_shared::degrade::DegradePreset;
use lrpo_shared::faceset::{FaceEntry, Manifest, Split};
use lrpo_shared::image::{load_rgb, save_rgb};
use lrpo_shared::onnx::identity::FaceDescriptor;
use lrpo_shared::progress::Progress;
use lrpo_shared::resize::{Filter, resize};
use lrpo_shared::reward::{Reward, RewardSpec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `lrpo-edge eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Test set: a folder of HQ aligned faces (degraded here), or a folder with `lq/` and `gt/`
    /// (pairs), or with `lq/` only (no-reference metrics). Default: the `--manifest`'s folder.
    #[arg(long, required_unless_present_any = ["manifest", "real"])]
    pub data: Option<PathBuf>,
    /// Face-set manifest (`faces.json`, or its folder): evaluate only the faces of `--split`,
    /// and compute paired intervals over their identities (the frozen protocol).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Split of the manifest to evaluate: test (reported results), validation (tuning) or train.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Real photographs (no ground truth): detect and restore their faces through the whole
    /// pipeline and report, per face, identity distance input→output, NIQE, BRISQUE and
    /// sharpness before and after (see `crate::eval::real`). Replaces `--data`.
    /// With `--manifest`, only the faces of `--split` identities are reported (a face is
    /// matched to the manifest by its photo's file name and landmarks).
    #[arg(long, num_args = 1.., conflicts_with = "data")]
    pub real: Vec<PathBuf>,
    /// Detail gate of the pipeline for `--real` (dB, or `off`; default as `restore`'s).
    #[arg(long)]
    pub detail_gate: Option<String>,
    /// Face detector for `--real` (default: models/mtcnn).
    #[arg(long)]
    pub detector: Option<PathBuf>,
    /// Only files whose names match one of these globs (e.g. "obama*").
    #[arg(long, num_args = 1..)]
    pub include: Vec<String>,
    /// Degradation preset for HQ folders: lrpo, gfpgan or codeformer.
    #[arg(long, default_value = "lrpo")]
    pub preset: String,
    /// Seed of the degradations (degradation r of image i uses sub-stream i·N + r, N being
    /// `--per-face`).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Degradations per HQ face (each its own test item, named `STEM_dR` when N > 1). Default
    /// 1, or the frozen protocol's 4 with `--manifest`.
    #[arg(long)]
    pub per_face: Option<usize>,
    /// Side of the evaluated crops (default: the protocol's 128 with `--manifest`, else the
    /// first model's card size, else 256).
    #[arg(long)]
    pub size: Option<usize>,
    /// Policies to evaluate (ONNX with its card); repeatable.
    #[arg(long = "model")]
    pub models: Vec<PathBuf>,
    /// Labels for the models (default: file stems), in the same order.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Baselines to include: `input` (the LQ as it is, at the crop size) and `bicubic`
    /// (bicubic upsampling of the real small LQ; the LQ itself when no small version is known).
    #[arg(long = "baseline")]
    pub baselines: Vec<String>,
    /// The method paired differences are computed against (default: `bicubic` when evaluated,
    /// else `input`, else the first method).
    #[arg(long)]
    pub reference: Option<String>,
    /// Folders of restorations made by other tools (same file stems as the LQs); repeatable.
    #[arg(long = "restored")]
    pub restored: Vec<PathBuf>,
    /// Reward specification for the reward columns (default: configs/rewards/default.toml if
    /// present; "none" to skip).
    #[arg(long)]
    pub rewards: Option<String>,
    /// Identity network (default: models/face_descriptor.onnx).
    #[arg(long)]
    pub identity_model: Option<PathBuf>,
    /// Threads for tract.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Output folder.
    #[arg(short, long)]
    pub out: PathBuf,
}

enum Method {
    Input,
    Bicubic,
    Model(Box<Pipeline>),
    Folder(PathBuf),
}

/// Runs the evaluation and writes the report. Exit code 1 when some images were skipped.
pub fn run(args: &EvalArgs) -> Result<ExitCode> {
    lrpo_edge::threads::set_threads(args.threads.max(1));
    if !args.real.is_empty() {
        return crate::eval::real::run(args);
    }
    let mut methods: Vec<(String, Method)> = Vec::new();
    for b in &args.baselines {
        match b.as_str() {
            "input" => methods.push(("input".into(), Method::Input)),
            "bicubic" => methods.push(("bicubic".into(), Method::Bicubic)),
            other => bail!("unknown baseline {other:?} (expected input or bicubic)"),
        }
    }
    for (i, m) in args.models.iter().enumerate() {
        let policy = Policy::load(m, SamplerOptions::default())?;
        let label = args.labels.get(i).cloned().unwrap_or_else(|| {
            m.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        });
        methods.push((
            label,
            Method::Model(Box::new(Pipeline {
                policy,
                detector: None,
                options: PipelineOptions::default(),
            })),
        ));
    }
    for d in &args.restored {
        methods.push((
            d.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            Method::Folder(d.clone()),
        ));
    }
    if methods.is_empty() {
        bail!("nothing to evaluate: give --model, --baseline bicubic or --restored DIR");
    }
    let per_face = args
        .per_face
        .unwrap_or(if args.manifest.is_some() { 4 } else { 1 });
    let size = args
        .size
        .or(args.manifest.as_ref().map(|_| 128))
        .or_else(|| {
            methods.iter().find_map(|(_, m)| {
                if let Method::Model(p) = m {
                    Some(p.policy.crop_size())
                } else {
                    None
                }
            })
        })
        .unwrap_or(256);
    let preset = DegradePreset::by_name(&args.preset)?;
    // The frozen protocol: only the faces of one split of a manifest, identities from it.
    let manifest = match &args.manifest {
        Some(p) => Some((Manifest::load(p)?, p.clone())),
        None => None,
    };
    let data = match (&args.data, &manifest) {
        (Some(d), _) => d.clone(),
        (None, Some((_, p))) if p.is_dir() => p.clone(),
        (None, Some((_, p))) => p.parent().map(PathBuf::from).unwrap_or_default(),
        (None, None) => bail!("give --data DIR, --manifest FACES.json or --real PHOTOS"),
    };
    // The report folder must not be (or hold) the test set: its README.md, lq/ and images/
    // would replace the user's files and change what the next run reads.
    let (d, o) = (data.canonicalize().ok(), args.out.canonicalize().ok());
    if let (Some(d), Some(o)) = (&d, &o)
        && (o == d || d.starts_with(o))
    {
        bail!(
            "-o {} would write the report into the test set {} (its README.md, lq/ and images/ would replace files there); choose another folder",
            args.out.display(),
            data.display()
        );
    }
    let mut include = args.include.clone();
    let mut stem_identity: BTreeMap<String, String> = BTreeMap::new();
    if let Some((m, p)) = &manifest {
        let split = Split::by_name(&args.split)?;
        let files: Vec<&FaceEntry> = m.faces_in(split).collect();
        if files.is_empty() {
            bail!(
                "{}: no accepted faces in the {} split",
                p.display(),
                args.split
            );
        }
        for f in &files {
            if let (Some(file), Some(id)) = (&f.file, &f.identity) {
                let stem = Path::new(file).file_stem().unwrap_or_default();
                stem_identity.insert(stem.to_string_lossy().into_owned(), id.clone());
            }
        }
        let wanted = |file: &String| {
            args.include.is_empty()
                || args
                    .include
                    .iter()
                    .any(|g| crate::inputs::glob_match(g, file))
        };
        include = files
            .iter()
            .filter_map(|f| f.file.clone())
            .filter(wanted)
            .collect();
        if include.is_empty() {
            bail!("--include leaves no face of the {} split", args.split);
        }
    }
    let set = dataset::load(
        &data,
        &include,
        &preset,
        args.seed,
        size,
        per_face,
        &args.out.join("lq"),
    )?;
    let has_gt = set.kind != SetKind::LqOnly;
    let identity_path = args
        .identity_model
        .clone()
        .or_else(|| locate("models/face_descriptor.onnx"));
    let faces = match &identity_path {
        Some(p) if has_gt => Some(FaceDescriptor::load(p)?),
        _ => None,
    };
    let reward: Option<Reward> = match args.rewards.as_deref() {
        Some("none") => None,
        spec => {
            let path = spec
                .map(PathBuf::from)
                .or_else(|| locate("configs/rewards/default.toml"));
            match path {
                Some(p) => {
                    let s = RewardSpec::load(&p)?;
                    let dir = p.parent().map(PathBuf::from).unwrap_or_default();
                    let scorers = lrpo_shared::onnx::scorers::scorers_for(
                        &s,
                        &dir,
                        identity_path
                            .as_deref()
                            .unwrap_or(std::path::Path::new("models/face_descriptor.onnx")),
                    )?;
                    Some(Reward::new(s, &scorers)?)
                }
                None => None,
            }
        }
    };
    let images = args.out.join("images");
    let mut rows = Vec::new();
    let mut skipped: Vec<(String, String)> = set
        .skipped
        .iter()
        .map(|(p, e)| (p.display().to_string(), e.clone()))
        .collect();
    let mut progress = Progress::new(set.items.len() * methods.len());
    // Each item's identity: the manifest's, else the file's own stem (one identity per file).
    let identities: BTreeMap<String, String> = set
        .items
        .iter()
        .map(|item| {
            let stem = match item.name.rsplit_once("_d") {
                Some((s, r)) if per_face > 1 && r.parse::<usize>().is_ok() => s,
                _ => item.name.as_str(),
            };
            let id = stem_identity
                .get(stem)
                .cloned()
                .unwrap_or_else(|| stem.to_string());
            (item.name.clone(), id)
        })
        .collect();
    for (stream, item) in set.items.iter().enumerate() {
        save_rgb(
            &images.join(format!("{}__LQ.png", item.name)),
            &item.lq.view(),
        )?;
        if let Some(gt) = &item.gt {
            save_rgb(&images.join(format!("{}__GT.png", item.name)), &gt.view())?;
        }
        for (label, method) in &methods {
            let r = (|| -> Result<Row> {
                let start = Instant::now();
                let (out, timed) = match method {
                    Method::Input => (item.lq.clone(), true),
                    Method::Bicubic => {
                        let (_, h, w) = item.lq.dim();
                        let o = match &item.lq_small {
                            Some(s) => resize(&s.view(), h, w, Filter::Bicubic)?
                                .mapv(|v| v.clamp(0.0, 1.0)),
                            None => item.lq.clone(),
                        };
                        (o, true)
                    }
                    Method::Model(p) => (
                        p.process_aligned_stream(&item.lq.view(), stream as u64)?,
                        true,
                    ),
                    Method::Folder(d) => {
                        let f = ["png", "jpg", "jpeg"]
                            .iter()
                            .map(|e| d.join(format!("{}.{e}", item.name)))
                            .find(|p| p.exists())
                            .with_context(|| {
                                format!("{}: no restoration of {} in it", d.display(), item.name)
                            })?;
                        let o = load_rgb(&f)?;
                        let (_, h, w) = item.lq.dim();
                        let o = if o.dim() == item.lq.dim() {
                            o
                        } else {
                            resize(&o.view(), h, w, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0))
                        };
                        (o, false)
                    }
                };
                let ms = start.elapsed().as_secs_f64() * 1e3;
                save_rgb(
                    &images.join(format!("{}__{}.png", item.name, file_safe(label))),
                    &out.view(),
                )?;
                let metrics = score(
                    &out,
                    item.gt.as_ref(),
                    &item.lq,
                    reward.as_ref(),
                    faces.as_ref(),
                )?;
                Ok(Row {
                    image: item.name.clone(),
                    method: label.clone(),
                    metrics,
                    time_ms: timed.then_some(ms),
                })
            })();
            match r {
                Ok(row) => rows.push(row),
                Err(e) => {
                    say!("warning: {} with {label}: {e:#}", item.name);
                    skipped.push((format!("{} ({label})", item.name), format!("{e:#}")));
                }
            }
            progress.tick(&format!("{} / {label}", item.name));
        }
    }
    let labels: Vec<String> = methods.iter().map(|m| m.0.clone()).collect();
    let aggregate = report::aggregate(&rows, &labels);
    let reference = match &args.reference {
        Some(r) if labels.contains(r) => r.clone(),
        Some(r) => bail!("--reference {r:?} is not one of the evaluated methods {labels:?}"),
        None => ["bicubic", "input"]
            .iter()
            .map(|s| s.to_string())
            .find(|s| labels.contains(s))
            .unwrap_or_else(|| labels[0].clone()),
    };
    let paired = crate::eval::paired::paired(&rows, &labels, &reference, &identities);
    let command = std::env::args()
        .map(|a| {
            if a.contains(' ') {
                format!("\"{a}\"")
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let n_ids = identities
        .values()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let settings = serde_json::json!({"command": command, "data": data, "manifest": args.manifest, "split": args.manifest.as_ref().map(|_| args.split.clone()), "identities": n_ids, "kind": set.kind, "preset": args.preset, "seed": args.seed, "per_face": per_face, "size": size, "images": set.items.len(), "reference": reference, "sampler_noise": "item k of the set uses sub-stream k of the sampler seed", "niqe_note": "NIQE of images under 194 px is computed after a bicubic upscale to 256 px"});
    let rep = Report {
        settings,
        methods: labels,
        rows,
        aggregate,
        skipped: skipped.clone(),
        identities,
        paired,
    };
    report::write(&rep, &args.out, has_gt)?;
    let mut out = std::io::stdout().lock();
    report::print_tables(&rep, &mut out)?;
    Ok(report::finish(
        &mut out,
        &args.out,
        set.items.len(),
        "images",
        skipped.len(),
    )?)
}
