//! `lrpo-edge stream`: restore faces in a live stream of raw frames (stdin → stdout), RGB24 or
//! a camera's format (`--pix-fmt bgr24|nv12|yuyv422`, BT.601 limited range unless
//! `--yuv-range full`; output in the input's format), so it composes with ffmpeg, GStreamer or
//! v4l2 tools, e.g.
//!
//! ```text
//! ffmpeg -i in.mp4 -f rawvideo -pix_fmt rgb24 - | lrpo-edge stream --width 640 --height 480 \
//!   | ffmpeg -f rawvideo -pix_fmt rgb24 -s 640x480 -i - out.mp4
//! ```
//!
//! With `--upscale N` the output frames are N times wider and higher (`-s 1280x960` above for
//! N = 2).

use super::common::{DetectorArgs, FaceArgs, Input, PolicyArgs, pipeline};
use anyhow::{Context, Result, bail};
use clap::Args;
use lrpo_edge::pipeline::{
    Pipeline, scale_detection, select_faces, smooth_landmarks, upscale_frame,
};
use lrpo_shared::image::DEFAULT_MAX_PIXELS;
use lrpo_shared::onnx::detect::Detection;
use lrpo_shared::pixfmt::{PixelFormat, YuvRange, from_rgb, to_rgb};
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `lrpo-edge stream`.
#[derive(Args, Debug)]
pub struct StreamArgs {
    /// Frame width in pixels.
    #[arg(long)]
    pub width: usize,
    /// Frame height in pixels.
    #[arg(long)]
    pub height: usize,
    /// Pixel format of the frames, in and out: rgb24, bgr24, nv12 or yuyv422 (ffmpeg's
    /// `-pix_fmt` names).
    #[arg(long, default_value = "rgb24")]
    pub pix_fmt: String,
    /// Value range of YUV frames (BT.601): limited (16-235, the camera default) or full.
    #[arg(long, default_value = "limited")]
    pub yuv_range: String,
    /// Run the face detector every N frames; in between, the last faces are reused.
    #[arg(long, default_value_t = 5)]
    pub detect_every: usize,
    /// Landmark smoothing between detections: weight of the new landmarks (1 = none).
    #[arg(long, default_value_t = 0.5)]
    pub smoothing: f64,
    /// Print latency statistics to stderr every N frames (0 = only at the end).
    #[arg(long, default_value_t = 100)]
    pub stats_every: usize,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub detector: DetectorArgs,
    #[command(flatten)]
    pub faces: FaceArgs,
}

/// Reads one frame; `Ok(false)` at a clean end of input. A frame cut short by the end of input
/// is reported on stderr and ends the stream cleanly.
fn read_frame(input: &mut impl Read, buf: &mut [u8], frame_no: usize) -> Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading frames from stdin"),
        }
    }
    if got == buf.len() {
        return Ok(true);
    }
    if got > 0 {
        eprintln!(
            "warning: stdin ended in the middle of frame {frame_no} ({got} of {} bytes); the partial frame is dropped",
            buf.len()
        );
    }
    Ok(false)
}

/// Matches new detections to the tracked faces (IoU > 0.3) and smooths their landmarks.
pub fn update_tracks(tracks: &[Detection], found: Vec<Detection>, alpha: f64) -> Vec<Detection> {
    found
        .into_iter()
        .map(|d| {
            match tracks
                .iter()
                .filter(|t| t.iou(&d) > 0.3)
                .max_by(|a, b| a.iou(&d).total_cmp(&b.iou(&d)))
            {
                Some(t) => Detection {
                    landmarks: smooth_landmarks(&t.landmarks, &d.landmarks, alpha),
                    ..d
                },
                None => d,
            }
        })
        .collect()
}

struct Latency(Vec<f64>);

impl Latency {
    fn summary(&self) -> String {
        let mut v = self.0.clone();
        if v.is_empty() {
            return "no frames".into();
        }
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        format!(
            "{} frames, latency median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
            v.len(),
            q(0.5),
            q(0.9),
            v[v.len() - 1]
        )
    }
}

/// Processes frames until the end of stdin.
pub fn run(args: &StreamArgs) -> Result<ExitCode> {
    if args.width == 0 || args.height == 0 {
        bail!(
            "--width and --height must be positive, got {}x{}",
            args.width,
            args.height
        );
    }
    // Checked: a product that wraps (4294967296 × 4294967296) must not slip under the limit.
    let pixels = (args.width as u64).checked_mul(args.height as u64);
    if pixels.is_none_or(|p| p > DEFAULT_MAX_PIXELS) {
        bail!(
            "{}x{} frames are larger than the {} pixel limit",
            args.width,
            args.height,
            DEFAULT_MAX_PIXELS
        );
    }
    if args.detect_every == 0 || !(args.smoothing > 0.0 && args.smoothing <= 1.0) {
        bail!("--detect-every must be >= 1 and --smoothing in (0, 1]");
    }
    let format = PixelFormat::by_name(&args.pix_fmt).context("--pix-fmt")?;
    let range = match args.yuv_range.as_str() {
        "limited" => YuvRange::Limited,
        "full" => YuvRange::Full,
        other => bail!("--yuv-range must be limited or full, got {other:?}"),
    };
    let in_bytes = format.frame_bytes(args.width, args.height)?;
    let pipe: Pipeline = pipeline(&args.policy, &args.detector, &args.faces, Input::Camera)?;
    let n = pipe.options.upscale;
    // Fails early (before any frame is read) when the upscaled frames would be too large.
    if (args.width * n)
        .checked_mul(args.height * n)
        .is_none_or(|p| p > lrpo_edge::pipeline::MAX_UPSCALED_PIXELS)
    {
        bail!(
            "--upscale {n} turns {}x{} frames into {}x{}, more than the {} pixel limit",
            args.width,
            args.height,
            args.width * n,
            args.height * n,
            lrpo_edge::pipeline::MAX_UPSCALED_PIXELS
        );
    }
    pipe.policy.warm_up(pipe.policy.crop_size())?;
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut buf = vec![0u8; in_bytes];
    let mut bytes = Vec::new();
    let mut tracks: Vec<Detection> = Vec::new();
    let mut restored_tracks: Vec<lrpo_edge::pipeline::PlannedFace> = Vec::new();
    let mut lat = Latency(Vec::new());
    let mut frame_no = 0usize;
    eprintln!(
        "streaming {}x{} {} frames to {}x{} with {}; detector {}",
        args.width,
        args.height,
        format.name(),
        args.width * n,
        args.height * n,
        pipe.policy.model_path().display(),
        pipe.detector.as_ref().map_or("none".into(), |d| d.name())
    );
    while read_frame(&mut stdin, &mut buf, frame_no)? {
        let start = Instant::now();
        let input = to_rgb(&buf, args.width, args.height, format, range)?;
        let upscaled = (n > 1)
            .then(|| upscale_frame(&input.view(), n))
            .transpose()?;
        let frame = upscaled.as_ref().unwrap_or(&input);
        if frame_no.is_multiple_of(args.detect_every) {
            let found = select_faces(
                pipe.detect(&input.view())?,
                args.width,
                args.height,
                &pipe.options,
            );
            tracks = update_tracks(&tracks, found, args.smoothing);
            // The detail gate decides on detection frames, so a face does not flicker
            // between restored and kept from one frame to the next.
            let scaled = tracks
                .iter()
                .map(|t| scale_detection(t, n as f64))
                .collect();
            restored_tracks = pipe.gate_faces(&frame.view(), scaled)?.0;
        }
        let (out, _) = pipe.restore_faces(&frame.view(), &restored_tracks)?;
        from_rgb(&out.view(), format, range, &mut bytes)?;
        match stdout.write_all(&bytes).and_then(|_| stdout.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                eprintln!(
                    "stopped: stdout was closed after {frame_no} frames ({})",
                    lat.summary()
                );
                return Ok(ExitCode::from(1));
            }
            Err(e) => return Err(e).context("writing frames to stdout"),
        }
        lat.0.push(start.elapsed().as_secs_f64() * 1e3);
        frame_no += 1;
        if args.stats_every > 0 && frame_no.is_multiple_of(args.stats_every) {
            eprintln!("{} ({} face(s) tracked)", lat.summary(), tracks.len());
        }
    }
    eprintln!("done: {}", lat.summary());
    Ok(ExitCode::SUCCESS)
}
