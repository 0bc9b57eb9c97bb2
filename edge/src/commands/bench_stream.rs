//! `lrpo-edge bench-stream`: flicker and frame rate of `stream` on a still camera.
//!
//! A static clip is made from real photos (default: the bundled `data/faces/obama.jpg` and
//! `grace_hopper.jpg`, see `data/faces/NOTICE.md`) placed side by side on mid-gray in a
//! `--width × --height` frame, with seeded Gaussian sensor noise of `--noise` 8-bit levels per
//! frame and no camera motion. The clip runs through the stream's frame processor (the same
//! code as `lrpo-edge stream`, in memory) with three tracking settings: detection on every
//! frame without smoothing, the defaults (detection every 5 frames, smoothing 0.5), and one
//! detection for the whole clip (fixed landmarks: the floor). For each, the flicker
//! ([`lrpo_edge::flicker`]: output / input temporal difference in the restored region) and the
//! frame rate and latency.

use super::common::{DetectorArgs, FaceArgs, Input, PolicyArgs, pipeline};
use super::stream::{FrameStream, process_frames};
use anyhow::{Context, Result, bail};
use clap::Args;
use lrpo_edge::flicker::{Flicker, flicker};
use lrpo_edge::tracking::{DEFAULT_DETECT_EVERY, DEFAULT_SMOOTHING, MAX_DETECT_EVERY};
use lrpo_shared::pixfmt::{PixelFormat, YuvRange, from_rgb};
use lrpo_shared::rng::Rng;
use ndarray::{Array3, s};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// Arguments of `lrpo-edge bench-stream`.
#[derive(Args, Debug)]
pub struct BenchStreamArgs {
    /// Photos placed side by side in the frame.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "data/faces/obama.jpg,data/faces/grace_hopper.jpg"
    )]
    pub photos: Vec<PathBuf>,
    /// Frame width in pixels.
    #[arg(long, default_value_t = 640)]
    pub width: usize,
    /// Frame height in pixels.
    #[arg(long, default_value_t = 480)]
    pub height: usize,
    /// Frames in the clip (2-1000).
    #[arg(long, default_value_t = 60)]
    pub frames: usize,
    /// Sensor noise: standard deviation in 8-bit levels (0-50).
    #[arg(long, default_value_t = 2.0)]
    pub noise: f64,
    /// Seed of the sensor noise.
    #[arg(long, default_value_t = 0)]
    pub noise_seed: u64,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
    #[command(flatten)]
    pub faces: FaceArgs,
}

/// One tracking setting's results.
#[derive(Debug, Serialize)]
pub struct SettingResult {
    /// What it is.
    pub setting: &'static str,
    /// Detection every this many frames.
    pub detect_every: usize,
    /// Weight of new landmarks at a detection.
    pub smoothing: f64,
    /// The flicker (`None`: nothing was restored).
    pub flicker: Option<Flicker>,
    /// Output / input temporal difference.
    pub ratio: Option<f64>,
    /// Frames per second, fed as fast as they are taken.
    pub frames_per_s: f64,
    /// Read-to-written latency median and p99 (ms).
    pub latency_ms: [f64; 2],
}

/// The still-camera clip: `frames` RGB24 frames of the photos side by side with sensor noise.
fn make_clip(args: &BenchStreamArgs) -> Result<Vec<Vec<u8>>> {
    let (w, h) = (args.width, args.height);
    let n = args.photos.len();
    if n == 0 || w / n < 32 || h < 32 {
        bail!("{w}x{h} frames cannot hold {n} photo(s) side by side (each needs 32x32 px)");
    }
    let mut base = Array3::<f32>::from_elem((3, h, w), 0.5);
    let col = w / n;
    for (i, p) in args.photos.iter().enumerate() {
        let img = lrpo_shared::image::load_rgb(p)?;
        let (_, ph, pw) = img.dim();
        let sc = (col as f64 / pw as f64).min(h as f64 / ph as f64);
        let (nh, nw) = (
            ((ph as f64 * sc).round() as usize).clamp(1, h),
            ((pw as f64 * sc).round() as usize).clamp(1, col),
        );
        let img = if sc < 1.0 {
            lrpo_shared::resize::resize_antialiased(&img.view(), nh, nw)?
        } else {
            lrpo_shared::resize::resize(&img.view(), nh, nw, lrpo_shared::resize::Filter::Bicubic)?
                .mapv(|v| v.clamp(0.0, 1.0))
        };
        let (x0, y0) = (i * col + (col - nw) / 2, (h - nh) / 2);
        base.slice_mut(s![.., y0..y0 + nh, x0..x0 + nw])
            .assign(&img);
    }
    let mut clip = Vec::with_capacity(args.frames);
    for k in 0..args.frames {
        let mut rng = Rng::derive(args.noise_seed, k as u64);
        let mut noise = vec![0.0f32; 3 * w * h];
        rng.fill_normal(&mut noise);
        let sigma = (args.noise / 255.0) as f32;
        let mut frame = base.clone();
        for (v, z) in frame.iter_mut().zip(&noise) {
            *v += sigma * z;
        }
        let mut bytes = Vec::new();
        from_rgb(
            &frame.view(),
            PixelFormat::Rgb24,
            YuvRange::Limited,
            &mut bytes,
        )?;
        clip.push(bytes);
    }
    Ok(clip)
}

/// A writer whose bytes the caller reads afterwards.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<u8>>>);

impl Write for Collected {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("collected").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `lrpo-edge bench-stream`.
pub fn run(args: &BenchStreamArgs) -> Result<ExitCode> {
    if !(2..=1000).contains(&args.frames) {
        bail!("--frames must be 2-1000, got {}", args.frames);
    }
    if !(0.0..=50.0).contains(&args.noise) {
        bail!("--noise must be 0-50 levels, got {}", args.noise);
    }
    if args.width * args.height > 4096 * 4096 || args.width == 0 || args.height == 0 {
        bail!(
            "--width x --height must be 1-16777216 pixels, got {}x{}",
            args.width,
            args.height
        );
    }
    let clip = make_clip(args).context("making the still-camera clip")?;
    let pipe = pipeline(&args.policy, &args.detector, &args.faces, Input::Camera)?;
    if pipe.options.upscale != 1 {
        bail!("bench-stream compares output and input frames: --upscale must be 1");
    }
    pipe.policy.warm_up(pipe.policy.crop_size())?;
    let workers = args.policy.threads;
    let settings = [
        ("detect every frame, no smoothing", 1, 1.0),
        ("defaults", DEFAULT_DETECT_EVERY, DEFAULT_SMOOTHING),
        (
            "one detection (fixed landmarks)",
            args.frames.min(MAX_DETECT_EVERY),
            1.0,
        ),
    ];
    say!(
        "{} frames of {}x{}, sensor noise {} levels, {} worker(s), policy {}",
        args.frames,
        args.width,
        args.height,
        args.noise,
        workers,
        pipe.policy.model_path().display()
    );
    let mut results = Vec::new();
    for (setting, detect_every, smoothing) in settings {
        let frames = FrameStream {
            width: args.width,
            height: args.height,
            format: PixelFormat::Rgb24,
            range: YuvRange::Limited,
            detect_every,
            smoothing,
            stats_every: 0,
        };
        let input: Vec<u8> = clip.concat();
        let out = Collected::default();
        let end = process_frames(
            &pipe,
            &frames,
            workers,
            &mut input.as_slice(),
            Box::new(out.clone()),
            None,
        )?;
        let bytes = std::mem::take(&mut *out.0.lock().expect("collected"));
        let restored: Vec<Vec<u8>> = bytes
            .chunks_exact(clip[0].len())
            .map(<[u8]>::to_vec)
            .collect();
        let f = flicker(&clip, &restored, args.width, args.height)?;
        let [q50, q99] = end.lat.quantiles([0.5, 0.99]);
        let r = SettingResult {
            setting,
            detect_every,
            smoothing,
            flicker: f,
            ratio: f.map(|f| f.ratio()),
            frames_per_s: end.frames_per_s(),
            latency_ms: [q50, q99],
        };
        match &r.flicker {
            Some(f) => println!(
                "{setting:<34} flicker output {:.3} / input {:.3} levels = {:.2} over {} restored px; {:.1} frames/s, latency median {:.1} ms, p99 {:.1} ms",
                f.output,
                f.input,
                f.ratio(),
                f.region_pixels,
                r.frames_per_s,
                r.latency_ms[0],
                r.latency_ms[1]
            ),
            None => println!(
                "{setting:<34} nothing restored (the detail gate kept every face? try --detail-gate off); {:.1} frames/s",
                r.frames_per_s
            ),
        }
        results.push(r);
    }
    if let Some(p) = &args.json {
        let doc = serde_json::json!({
            "frame": [args.width, args.height],
            "frames": args.frames,
            "noise_levels": args.noise,
            "noise_seed": args.noise_seed,
            "workers": workers,
            "policy": pipe.policy.model_path(),
            "settings": results,
        });
        lrpo_shared::fsio::write_atomic(p, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
