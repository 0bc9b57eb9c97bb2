//! `lrpo-train prepare-faces`: turn in-the-wild photos into aligned training crops, as FFHQ's
//! alignment script does: detect faces (MTCNN), align each to the FFHQ template, save the crop.

use anyhow::{Context, Result};
use clap::Args;
use lrpo_shared::align::{Border, Interp, face_to_crop, warp_to_crop};
use lrpo_shared::image::{load_rgb, save_rgb};
use lrpo_shared::onnx::detect::FaceDetector;
use lrpo_shared::onnx::detect::mtcnn::{Mtcnn, MtcnnConfig};
use std::path::PathBuf;

/// Arguments of `lrpo-train prepare-faces`.
#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// Photos (PNG/JPEG files or folders of them).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder of aligned crops (`STEM_K.png`, K = face index in the photo).
    #[arg(short, long)]
    pub out: PathBuf,
    /// Crop side in pixels.
    #[arg(long, default_value_t = 512)]
    pub size: usize,
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
    let det = Mtcnn::load(&args.detector, MtcnnConfig::default())?;
    let mut files = Vec::new();
    for i in &args.inputs {
        if i.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(i)
                .with_context(|| format!("{}: cannot list", i.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|e| {
                        matches!(
                            e.to_string_lossy().to_ascii_lowercase().as_str(),
                            "png" | "jpg" | "jpeg"
                        )
                    })
                })
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
                let dst = args.out.join(format!("{stem}_{k}.png"));
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
            eprintln!("error: {e:#}");
        }
    }
    println!(
        "{saved} aligned crops written to {}, {small} faces too small, {failed} files failed",
        args.out.display()
    );
    if failed > 0 {
        anyhow::bail!("{failed} file(s) could not be processed");
    }
    Ok(())
}
