//! `lrpo-edge restore`: restore the faces in image files.

use super::common::{
    DetectorArgs, FaceArgs, Input, OutputGuard, PolicyArgs, output_name, pipeline,
};
use anyhow::{Context, Result, bail};
use clap::Args;
use lrpo_edge::pipeline::upscale_frame;
use lrpo_shared::image::{load_rgb, save_rgb};
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
            let mut img = load_rgb(path)?;
            let name = |suffix: &str| {
                args.out
                    .join(output_name(path, &format!("{}{suffix}", args.suffix), &ext))
            };
            let up = pipe.options.upscale;
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
                    for (k, f) in r.faces.iter().enumerate() {
                        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                        let crops = args.out.join("crops");
                        for (what, img) in [("input", &f.crop), ("restored", &f.restored)] {
                            let dst = crops.join(format!("{stem}_face{k}_{what}.png"));
                            guard.claim(&dst, path)?;
                            save_rgb(&dst, &img.view())?;
                        }
                    }
                }
                let kept = r
                    .kept
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
                let report = if r.faces.is_empty() && r.kept.is_empty() {
                    no_face += 1;
                    if up > 1 {
                        format!("no face found: written upscaled {up}x")
                    } else {
                        "no face found: written unchanged".to_string()
                    }
                } else if r.faces.is_empty() {
                    format!("no face restored{kept}")
                } else {
                    let ms: f64 = r.faces.iter().map(|f| f.restore_ms).sum();
                    let sides: Vec<String> =
                        r.faces.iter().map(|f| f.crop.dim().1.to_string()).collect();
                    format!(
                        "{} face(s) at {} px, detect {:.0} ms, restore {:.0} ms{kept}",
                        r.faces.len(),
                        sides.join("/"),
                        r.detect_ms,
                        ms
                    )
                };
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
