//! `lrpo-edge restore`: restore the faces in image files.

use super::common::{
    DetectorArgs, FaceArgs, Input, OutputGuard, PolicyArgs, output_name, pipeline,
};
use anyhow::{Context, Result, bail};
use clap::Args;
use lrpo_edge::memory::Route;
use lrpo_edge::pipeline::{FaceResult, KeptFace, Pipeline, upscale_frame};
use lrpo_shared::image::{Rgb8Image, load_rgb_limited, load_rgb8_limited, save_rgb, save_rgb8};
use lrpo_shared::progress::Progress;
use ndarray::{Array3, Axis, concatenate};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `lrpo-edge restore`.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Input images (PNG/JPEG), folders of them, or quoted globs such as "photos/*.jpg".
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder.
    #[arg(short, long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
    #[command(flatten)]
    pub faces: FaceArgs,
    /// The inputs are already aligned face crops (square, FFHQ-aligned): no detection.
    #[arg(long)]
    pub aligned: bool,
    /// Also write every aligned crop and its restoration to OUT/crops/.
    #[arg(long)]
    pub save_crops: bool,
    /// Also write the input and the output side by side (NAME_compare.EXT).
    #[arg(long)]
    pub side_by_side: bool,
    /// Suffix added to output file names.
    #[arg(long, default_value = "")]
    pub suffix: String,
    /// Output format: png or jpg (default: png).
    #[arg(long, default_value = "png")]
    pub ext: String,
    /// Memory budget in MiB: photos too large to restore within it are refused (the limit in
    /// pixels follows from memory measured per pixel; `lrpo_edge::memory`). Default 1024, half
    /// of a 2 GB camera board.
    #[arg(long, default_value_t = lrpo_edge::memory::DEFAULT_MAX_MEMORY_MIB)]
    pub max_memory: u64,
}

/// Restores every input; per-file errors are reported and the rest continue. Exit code 1 when
/// any file failed.
pub fn run(args: &RestoreArgs) -> Result<ExitCode> {
    let ext = args.ext.to_ascii_lowercase();
    if !matches!(ext.as_str(), "png" | "jpg" | "jpeg") {
        bail!("--ext must be png or jpg, got {:?}", args.ext);
    }
    let inputs = crate::inputs::expand_inputs(&args.inputs)?;
    let input = if args.aligned {
        Input::Aligned
    } else {
        Input::Stills
    };
    let pipe = pipeline(&args.policy, &args.detector, &args.faces, input)?;
    let route = if !args.aligned && pipe.options.upscale == 1 {
        if args.side_by_side {
            Route::InPlaceWithComparison
        } else {
            Route::InPlace
        }
    } else {
        Route::F32 {
            upscale: pipe.options.upscale,
        }
    };
    let bpp = route.bytes_per_pixel(pipe.options.detect_max_side.is_none());
    let max_pixels = lrpo_edge::memory::max_pixels(args.max_memory, bpp)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create output folder", args.out.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "policy {} ({:?}, {}), {} input(s)",
        pipe.policy.model_path().display(),
        pipe.policy.card().kind,
        lrpo_edge::pipeline::sizes_description(pipe.policy.card()),
        inputs.len()
    )?;
    let mut progress = Progress::new(inputs.len());
    let (mut failed, mut no_face) = (0usize, 0usize);
    let mut guard = OutputGuard::new(&inputs);
    for path in &inputs {
        let start = Instant::now();
        let outcome = (|| -> Result<String> {
            if !args.aligned && super::video::is_video_path(path) {
                // A video: restored frame by frame into OUT/NAME.EXT (its own format).
                let out = args.out.join(path.file_name().unwrap_or_default());
                guard.claim(&out, path)?;
                return super::video::restore_video(&pipe, path, &out, args.policy.threads);
            }
            // Claimed before anything is read, so a refused input costs nothing.
            let main_out = args.out.join(output_name(path, &args.suffix, &ext));
            guard.claim(&main_out, path)?;
            if args.side_by_side {
                let cmp =
                    args.out
                        .join(output_name(path, &format!("{}_compare", args.suffix), &ext));
                guard.claim(&cmp, path)?;
            }
            let name = |suffix: &str| {
                args.out
                    .join(output_name(path, &format!("{}{suffix}", args.suffix), &ext))
            };
            let up = pipe.options.upscale;
            if !args.aligned && up == 1 {
                // A photo restored in its own 8-bit buffer: no full-frame f32 copy.
                let mut img = load_rgb8_limited(path, max_pixels)
                    .map_err(|e| over_budget(e, args.max_memory, bpp))?;
                let before = args.side_by_side.then(|| img.clone());
                let r = pipe.process_rgb8(&mut img)?;
                if args.save_crops {
                    save_crops(&mut guard, path, &args.out, &r.faces)?;
                }
                let report = report(&pipe, &r.faces, &r.kept, r.detect_ms, &mut no_face);
                save_rgb8(&name(""), &img)?;
                if let Some(before) = before {
                    save_rgb8(&name("_compare"), &side_by_side(&before, &img))?;
                }
                return Ok(report);
            }
            let mut img = load_rgb_limited(path, max_pixels)
                .map_err(|e| over_budget(e, args.max_memory, bpp))?;
            let (result, report) = if args.aligned {
                let r = if up > 1 {
                    pipe.process_aligned(&upscale_frame(&img.view(), up)?.view())?
                } else {
                    pipe.process_aligned(&img.view())?
                };
                (r, "aligned crop".to_string())
            } else {
                // Without a comparison the input is not needed after restoring: pasted into.
                let r = if args.side_by_side {
                    pipe.process(&img.view())?
                } else {
                    pipe.process_owned(std::mem::take(&mut img))?
                };
                if args.save_crops {
                    save_crops(&mut guard, path, &args.out, &r.faces)?;
                }
                let report = report(&pipe, &r.faces, &r.kept, r.detect_ms, &mut no_face);
                (r.frame, report)
            };
            save_rgb(&name(""), &result.view())?;
            if args.side_by_side {
                let before = if up > 1 {
                    upscale_frame(&img.view(), up)?
                } else {
                    img.clone()
                };
                let both: Array3<f32> = concatenate(Axis(2), &[before.view(), result.view()])?;
                save_rgb(&name("_compare"), &both.view())?;
            }
            Ok(report)
        })();
        match outcome {
            Ok(report) => writeln!(
                out,
                "{}: {report} ({:.0} ms total)",
                path.display(),
                start.elapsed().as_secs_f64() * 1e3
            )?,
            Err(e) => {
                failed += 1;
                let msg = format!("{e:#}");
                if msg.contains(&path.display().to_string()) {
                    say!("error: {msg}");
                } else {
                    say!("error: {}: {msg}", path.display());
                }
            }
        }
        progress.tick(&path.file_name().unwrap_or_default().to_string_lossy());
    }
    writeln!(
        out,
        "{} restored ({no_face} without a face), {failed} failed; outputs in {}",
        inputs.len() - failed,
        args.out.display()
    )?;
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes every face's aligned crop and its restoration to `OUT/crops/`.
fn save_crops(
    guard: &mut OutputGuard,
    path: &std::path::Path,
    out: &std::path::Path,
    faces: &[FaceResult],
) -> Result<()> {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let crops = out.join("crops");
    for (k, f) in faces.iter().enumerate() {
        for (what, img) in [("input", &f.crop), ("restored", &f.restored)] {
            let dst = crops.join(format!("{stem}_face{k}_{what}.png"));
            guard.claim(&dst, path)?;
            save_rgb(&dst, &img.view())?;
        }
    }
    Ok(())
}

/// One photo's line: the faces restored (sides, times) and those the detail gate kept.
fn report(
    pipe: &Pipeline,
    faces: &[FaceResult],
    kept: &[KeptFace],
    detect_ms: f64,
    no_face: &mut usize,
) -> String {
    let up = pipe.options.upscale;
    let kept_text = kept
        .iter()
        .map(|k| {
            format!(
                "; kept a {} px face as it is (round trip through the policy's {} px: {:.1} dB, under the detail gate's {} dB)",
                k.native_side,
                pipe.policy.crop_size(),
                k.detail_db,
                pipe.options.detail_gate.unwrap_or(f64::NAN)
            )
        })
        .collect::<String>();
    if faces.is_empty() && kept.is_empty() {
        *no_face += 1;
        if up > 1 {
            format!("no face found: written upscaled {up}x")
        } else {
            "no face found: written unchanged".to_string()
        }
    } else if faces.is_empty() {
        format!("no face restored{kept_text}")
    } else {
        let ms: f64 = faces.iter().map(|f| f.restore_ms).sum();
        let sides: Vec<String> = faces.iter().map(|f| f.crop.dim().1.to_string()).collect();
        format!(
            "{} face(s) at {} px, detect {:.0} ms, restore {:.0} ms{kept_text}",
            faces.len(),
            sides.join("/"),
            detect_ms,
            ms
        )
    }
}

/// `a` and `b` (same size) side by side.
fn side_by_side(a: &Rgb8Image, b: &Rgb8Image) -> Rgb8Image {
    let row = a.width * 3;
    let mut data = Vec::with_capacity(2 * a.data.len());
    for (ra, rb) in a.data.chunks_exact(row).zip(b.data.chunks_exact(row)) {
        data.extend_from_slice(ra);
        data.extend_from_slice(rb);
    }
    Rgb8Image {
        data,
        width: 2 * a.width,
        height: a.height,
    }
}

/// A photo above the pixel limit, said with the memory budget the limit came from.
fn over_budget(e: lrpo_shared::Error, budget_mib: u64, bytes_per_pixel: u64) -> anyhow::Error {
    match e {
        lrpo_shared::Error::ImageTooLarge {
            limit,
            ref path,
            width,
            height,
            ..
        } if limit < lrpo_shared::image::DEFAULT_MAX_PIXELS => anyhow::anyhow!(
            "{}: a {width}x{height} photo needs about {} MiB here ({} bytes per pixel), more than --max-memory {budget_mib} MiB allows (photos up to {:.1} megapixels)",
            path.display(),
            lrpo_edge::memory::FIXED_MIB
                + (width as u64 * height as u64 * bytes_per_pixel).div_ceil(1 << 20),
            bytes_per_pixel,
            limit as f64 / 1e6
        ),
        other => other.into(),
    }
}
