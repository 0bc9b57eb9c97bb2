//! `lrpo-train prepare-faces`: turn in-the-wild photos into aligned training crops, as FFHQ's
//! alignment script does: detect faces (MTCNN), align each to the FFHQ template, save the crop.
//! With `--sources TABLE --root DIR` it builds a labelled face set instead (see
//! `lrpo_trainer::faceset`): crops, rejections with reasons and identity-disjoint splits in
//! `faces.json`.

use anyhow::{Context, Result};
use clap::Args;
use lrpo_shared::align::{Border, Interp, face_to_crop, warp_to_crop};
use lrpo_shared::faceset::SourceTable;
use lrpo_shared::onnx::identity::FaceDescriptor;

/// The shipped identity network, relative to the working folder.
const DEFAULT_IDENTITY: &str = "models/face_descriptor.onnx";
use lrpo_shared::image::{load_rgb, save_rgb};
use lrpo_shared::onnx::detect::FaceDetector;
use lrpo_shared::onnx::detect::mtcnn::{Mtcnn, MtcnnConfig};
use std::path::PathBuf;

/// Arguments of `lrpo-train prepare-faces`.
#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// Photos (PNG/JPEG files or folders of them); not used with `--sources`.
    #[arg(required_unless_present = "sources", conflicts_with = "sources")]
    pub inputs: Vec<PathBuf>,
    /// Source table (e.g. `data/face-sources.toml`): build a labelled face set with a manifest
    /// and splits from the photos it lists under `--root`.
    #[arg(long)]
    pub sources: Option<PathBuf>,
    /// Folder holding the extracted packages of the source table (`ROOT/NAME@VERSION/...`), as
    /// `scripts/build-face-set.sh` leaves them.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Print the table's packages (`REGISTRY NAME VERSION`, one a line) and stop: what
    /// `scripts/build-face-set.sh` fetches.
    #[arg(long, requires = "sources")]
    pub list_packages: bool,
    /// Output folder of aligned crops (`STEM_K.png`, K = face index in the photo; with
    /// `--sources`, `PACKAGE__STEM_K.png` and `faces.json`).
    #[arg(short, long, required_unless_present = "list_packages")]
    pub out: Option<PathBuf>,
    /// Crop side in pixels (with `--sources` the table's `accept.max_size` rules instead).
    #[arg(long, default_value_t = 512)]
    pub size: usize,
    /// Face-descriptor network used to cross-check the table's identity labels (default
    /// `models/face_descriptor.onnx` when present).
    #[arg(long)]
    pub identity_model: Option<PathBuf>,
    /// MTCNN model folder.
    #[arg(long, default_value = "models/mtcnn")]
    pub detector: PathBuf,
    /// Smallest face to keep, as the distance between the eyes in pixels (smaller faces would
    /// be upsampled into blurry "HQ" crops).
    #[arg(long, default_value_t = 40.0)]
    pub min_eye_distance: f64,
}

/// Detects, aligns and saves every face.
pub fn run(args: &PrepareArgs) -> Result<()> {
    if let (Some(table_path), true) = (&args.sources, args.list_packages) {
        for p in SourceTable::load(table_path)?.package {
            println!("{} {} {}", p.registry, p.name, p.version);
        }
        return Ok(());
    }
    let out = args
        .out
        .as_ref()
        .context("an output folder (-o DIR) is needed")?;
    let det = Mtcnn::load(&args.detector, MtcnnConfig::default())?;
    if let Some(table_path) = &args.sources {
        let root = args
            .root
            .as_ref()
            .context("--sources needs --root (the folder of extracted packages)")?;
        let table = SourceTable::load(table_path)?;
        let net = match &args.identity_model {
            Some(p) => Some(FaceDescriptor::load(p)?),
            None if std::path::Path::new(DEFAULT_IDENTITY).exists() => Some(FaceDescriptor::load(
                std::path::Path::new(DEFAULT_IDENTITY),
            )?),
            None => None,
        };
        let m = lrpo_trainer::faceset::build(&table, table_path, root, &det, net.as_ref(), out)?;
        print!("{}", m.summary());
        println!(
            "face set written to {} ({})",
            out.display(),
            out.join(lrpo_shared::faceset::MANIFEST_FILE).display()
        );
        return Ok(());
    }
    let mut files = Vec::new();
    for i in &args.inputs {
        if i.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(i)
                .with_context(|| format!("{}: cannot list", i.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| lrpo_shared::image::is_image_path(p))
                .collect();
            v.sort();
            files.extend(v);
        } else {
            files.push(i.clone());
        }
    }
    let (mut saved, mut small, mut failed) = (0, 0, 0);
    for f in &files {
        let res = (|| -> Result<()> {
            let img = load_rgb(f)?;
            let faces = det.detect(&img.view())?;
            if faces.is_empty() {
                println!("{}: no face", f.display());
            }
            for (k, d) in faces.iter().enumerate() {
                if d.eye_distance() < args.min_eye_distance {
                    small += 1;
                    println!(
                        "{}: face {k} skipped (eyes {:.0} px apart)",
                        f.display(),
                        d.eye_distance()
                    );
                    continue;
                }
                let t = face_to_crop(&d.landmarks, args.size)?;
                let crop = warp_to_crop(
                    &img.view(),
                    &t,
                    args.size,
                    Interp::Bicubic,
                    Border::Replicate,
                )?;
                let stem = f.file_stem().unwrap_or_default().to_string_lossy();
                let dst = out.join(format!("{stem}_{k}.png"));
                save_rgb(&dst, &crop.view())?;
                saved += 1;
                println!(
                    "{}: face {k} (score {:.3}, eyes {:.0} px apart) -> {}",
                    f.display(),
                    d.score,
                    d.eye_distance(),
                    dst.display()
                );
            }
            Ok(())
        })();
        if let Err(e) = res {
            failed += 1;
            say!("error: {e:#}");
        }
    }
    println!(
        "{saved} aligned crops written to {}, {small} faces too small, {failed} files failed",
        out.display()
    );
    if failed > 0 {
        anyhow::bail!("{failed} file(s) could not be processed");
    }
    Ok(())
}
