//! Video files for `lrpo-edge restore`: decoded and encoded by ffmpeg run as a subprocess (the
//! system's `ffmpeg` and `ffprobe`, e.g. Debian's `ffmpeg` package), the frames restored in
//! between by the same frame processor as `stream` (detection every
//! [`DEFAULT_DETECT_EVERY`] frames, landmarks smoothed, the least flicker measured on a still
//! camera). The output keeps the input's size and frame
//! rate, and its audio (copied, not re-encoded); the video is H.264 (`-crf 18`, yuv420p).

use super::stream::{FrameStream, process_frames};
use anyhow::{Context, Result, bail};
use lrpo_edge::pipeline::Pipeline;
use lrpo_edge::tracking::{DEFAULT_DETECT_EVERY, DEFAULT_SMOOTHING};
use lrpo_shared::image::DEFAULT_MAX_PIXELS;
use lrpo_shared::pixfmt::{PixelFormat, YuvRange};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// File extensions treated as video (lower case).
pub const VIDEO_EXTENSIONS: [&str; 7] = ["mp4", "mov", "mkv", "avi", "webm", "m4v", "mpg"];

/// Whether `path` names a video file by its extension.
pub fn is_video_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// What ffprobe says about a video's first video stream.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// Frame width and height in pixels.
    pub width: usize,
    /// Frame height in pixels.
    pub height: usize,
    /// Frame rate as ffmpeg writes it (`30000/1001`).
    pub rate: String,
    /// Frames, when the container says (else estimated from the duration), for the progress
    /// bar.
    pub frames: Option<usize>,
    /// Whether the file has an audio stream.
    pub audio: bool,
}

/// Runs `program` with `args`; a missing program is an error that names it and its package.
fn run_tool(program: &str, args: &[&std::ffi::OsStr]) -> Result<std::process::Output> {
    Command::new(program)
        .args(args)
        .output()
        .map_err(|e| missing_tool(program, e))
}

fn missing_tool(program: &str, e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!(
            "{program} was not found: video files need ffmpeg and ffprobe on the PATH (Debian: apt-get install ffmpeg)"
        )
    } else {
        anyhow::Error::from(e).context(format!("cannot run {program}"))
    }
}

/// Reads a video's size, frame rate, frame count and audio with ffprobe.
pub fn probe(path: &Path) -> Result<VideoInfo> {
    // ffprobe would wait on a FIFO forever.
    lrpo_shared::fsio::check_regular_file(path)?;
    let out = run_tool(
        "ffprobe",
        &[
            "-v".as_ref(),
            "error".as_ref(),
            "-show_streams".as_ref(),
            "-show_format".as_ref(),
            "-of".as_ref(),
            "json".as_ref(),
            path.as_os_str(),
        ],
    )?;
    if !out.status.success() {
        bail!(
            "{}: ffprobe cannot read it: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{}: ffprobe's output is not JSON", path.display()))?;
    let streams = doc["streams"].as_array().cloned().unwrap_or_default();
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .with_context(|| format!("{}: no video stream", path.display()))?;
    let dim = |k: &str| video[k].as_u64().filter(|&v| v > 0).map(|v| v as usize);
    let (Some(width), Some(height)) = (dim("width"), dim("height")) else {
        bail!("{}: the video stream has no frame size", path.display());
    };
    if (width as u64) * (height as u64) > DEFAULT_MAX_PIXELS {
        bail!(
            "{}: {width}x{height} frames are larger than the {DEFAULT_MAX_PIXELS} pixel limit",
            path.display()
        );
    }
    let rate = video["r_frame_rate"]
        .as_str()
        .filter(|r| {
            r.split_once('/')
                .and_then(|(n, d)| Some((n.parse::<f64>().ok()?, d.parse::<f64>().ok()?)))
                .is_some_and(|(n, d)| n > 0.0 && d > 0.0)
        })
        .with_context(|| format!("{}: the video stream has no frame rate", path.display()))?
        .to_string();
    let fps = rate
        .split_once('/')
        .map(|(n, d)| n.parse::<f64>().unwrap_or(0.0) / d.parse::<f64>().unwrap_or(1.0))
        .unwrap_or(0.0);
    let frames = video["nb_frames"]
        .as_str()
        .and_then(|n| n.parse::<usize>().ok())
        .or_else(|| {
            doc["format"]["duration"]
                .as_str()
                .and_then(|d| d.parse::<f64>().ok())
                .map(|d| (d * fps).round() as usize)
        })
        .filter(|&n| n > 0);
    let audio = streams.iter().any(|s| s["codec_type"] == "audio");
    Ok(VideoInfo {
        width,
        height,
        rate,
        frames,
        audio,
    })
}

/// Restores the faces of every frame of the video `input` into `output` (written atomically:
/// a temporary file beside it, renamed when ffmpeg has finished); returns a one-line report.
pub fn restore_video(
    pipe: &Pipeline,
    input: &Path,
    output: &Path,
    workers: usize,
) -> Result<String> {
    let info = probe(input)?;
    let n = pipe.options.upscale;
    let (ow, oh) = (info.width * n, info.height * n);
    if (ow as u64) * (oh as u64) > lrpo_edge::pipeline::MAX_UPSCALED_PIXELS as u64 {
        bail!(
            "{}: --upscale {n} makes {ow}x{oh} frames, more than the {} pixel limit",
            input.display(),
            lrpo_edge::pipeline::MAX_UPSCALED_PIXELS
        );
    }
    let ext = output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("mp4")
        .to_string();
    let stem = output
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let tmp: PathBuf = output.with_file_name(format!(".{stem}.tmp-{}.{ext}", std::process::id()));
    let mut decoder = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(input)
        .args(["-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| missing_tool("ffmpeg", e))?;
    let size = format!("{ow}x{oh}");
    let mut encode = Command::new("ffmpeg");
    encode
        .args([
            "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
        ])
        .arg(&size)
        .args(["-framerate", &info.rate, "-i", "-", "-i"])
        .arg(input)
        .args(["-map", "0:v:0", "-map", "1:a?", "-c:a", "copy"])
        .args([
            "-c:v",
            "libx264",
            "-crf",
            "18",
            "-pix_fmt",
            "yuv420p",
            "-shortest",
        ])
        .arg(&tmp)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut encoder = match encode.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = decoder.kill();
            return Err(missing_tool("ffmpeg", e));
        }
    };
    let frames = FrameStream {
        width: info.width,
        height: info.height,
        format: PixelFormat::Rgb24,
        range: YuvRange::Limited,
        detect_every: DEFAULT_DETECT_EVERY,
        smoothing: DEFAULT_SMOOTHING,
        stats_every: 0,
    };
    let mut decoded = decoder.stdout.take().expect("piped");
    let encoder_in = encoder.stdin.take().expect("piped");
    let progress = info.frames.map(lrpo_shared::progress::Progress::new);
    let result = process_frames(
        pipe,
        &frames,
        workers,
        &mut decoded,
        Box::new(encoder_in),
        progress,
    );
    // Drain what the decoder still has (an early stop), then collect both ffmpeg runs.
    let _ = std::io::copy(&mut decoded, &mut std::io::sink());
    let tail = |child: std::process::Child| -> Result<(bool, String)> {
        let out = child.wait_with_output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = err.lines().rev().take(3).collect();
        Ok((
            out.status.success(),
            last.into_iter().rev().collect::<Vec<_>>().join("; "),
        ))
    };
    let (dec_ok, dec_err) = tail(decoder)?;
    let (enc_ok, enc_err) = tail(encoder)?;
    let fail = |what: String| -> Result<String> {
        let _ = std::fs::remove_file(&tmp);
        bail!("{}: {what}", input.display())
    };
    let end = match result {
        Ok(end) => end,
        Err(e) => return fail(format!("{e:#}")),
    };
    if !dec_ok {
        return fail(format!("ffmpeg could not decode it: {dec_err}"));
    }
    if !enc_ok || end.output_closed {
        return fail(format!(
            "ffmpeg could not encode {}: {enc_err}",
            output.display()
        ));
    }
    std::fs::rename(&tmp, output).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot move the encoded video to {}", output.display())
    })?;
    Ok(format!(
        "video {}x{} at {} frames/s: {} frames restored{}, {:.1} frames/s",
        info.width,
        info.height,
        info.rate,
        end.lat.0.len(),
        if info.audio { ", audio kept" } else { "" },
        end.frames_per_s()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn videos_are_told_by_their_extension() {
        assert!(is_video_path(Path::new("a/clip.MP4")));
        assert!(is_video_path(Path::new("clip.webm")));
        assert!(!is_video_path(Path::new("face.png")));
        assert!(!is_video_path(Path::new("mp4")));
    }
}
