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

use super::common::{DetectorArgs, FaceArgs, Input, PolicyArgs, nearest_rank, pipeline};
use anyhow::{Context, Result, bail};
use clap::Args;
use lrpo_edge::pipeline::{Pipeline, upscale_frame};
use lrpo_edge::tracking::{DEFAULT_DETECT_EVERY, DEFAULT_SMOOTHING, FaceTracker};
use lrpo_shared::image::DEFAULT_MAX_PIXELS;
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
    #[arg(long, default_value_t = DEFAULT_DETECT_EVERY)]
    pub detect_every: usize,
    /// Landmark smoothing between detections: weight of the new landmarks (1 = none).
    #[arg(long, default_value_t = DEFAULT_SMOOTHING)]
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
fn read_frame(input: &mut dyn Read, buf: &mut [u8], frame_no: usize) -> Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading frames"),
        }
    }
    if got == buf.len() {
        return Ok(true);
    }
    if got > 0 {
        say!(
            "warning: stdin ended in the middle of frame {frame_no} ({got} of {} bytes); the partial frame is dropped",
            buf.len()
        );
    }
    Ok(false)
}

/// Milliseconds per frame.
pub struct Latency(pub Vec<f64>);

impl Latency {
    /// The `p` quantiles (0–1, nearest rank) in ms, sorting once; NaN without frames.
    pub fn quantiles<const N: usize>(&self, p: [f64; N]) -> [f64; N] {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        p.map(|p| nearest_rank(&v, p))
    }

    /// Median, p90, p99 and max, in ms.
    pub fn summary_values(&self) -> String {
        if self.0.is_empty() {
            return "-".into();
        }
        let [q50, q90, q99] = self.quantiles([0.5, 0.9, 0.99]);
        format!("median {q50:.1} ms, p90 {q90:.1} ms, p99 {q99:.1} ms")
    }

    /// Frame count and the read-to-written statistics, for a closing line.
    pub fn summary(&self) -> String {
        if self.0.is_empty() {
            return "no frames".into();
        }
        let [q50, q90, q99, max] = self.quantiles([0.5, 0.9, 0.99, 1.0]);
        format!(
            "{} frames, latency median {q50:.1} ms, p90 {q90:.1} ms, p99 {q99:.1} ms, max {max:.1} ms",
            self.0.len()
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
    let every_ok = (1..=lrpo_edge::tracking::MAX_DETECT_EVERY).contains(&args.detect_every);
    if !(every_ok && args.smoothing > 0.0 && args.smoothing <= 1.0) {
        bail!(
            "--detect-every must be 1..={} frames and --smoothing in (0, 1], got {} and {}",
            lrpo_edge::tracking::MAX_DETECT_EVERY,
            args.detect_every,
            args.smoothing
        );
    }
    let format = PixelFormat::by_name(&args.pix_fmt).context("--pix-fmt")?;
    let range = match args.yuv_range.as_str() {
        "limited" => YuvRange::Limited,
        "full" => YuvRange::Full,
        other => bail!("--yuv-range must be limited or full, got {other:?}"),
    };
    format.frame_bytes(args.width, args.height)?;
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
    say!(
        "streaming {}x{} {} frames to {}x{} with {}; detector {}",
        args.width,
        args.height,
        format.name(),
        args.width * n,
        args.height * n,
        pipe.policy.model_path().display(),
        pipe.detector.as_ref().map_or("none".into(), |d| d.name())
    );
    let frames = FrameStream {
        width: args.width,
        height: args.height,
        format,
        range,
        detect_every: args.detect_every,
        smoothing: args.smoothing,
        stats_every: args.stats_every,
    };
    let workers = args.policy.threads;
    let end = process_frames(
        &pipe,
        &frames,
        workers,
        &mut std::io::stdin().lock(),
        Box::new(std::io::stdout()),
        None,
    )?;
    let fps = end.frames_per_s();
    if end.output_closed {
        say!(
            "stopped: stdout was closed after {} frames ({}, {fps:.1} frames/s)",
            end.lat.0.len(),
            end.lat.summary(),
        );
        return Ok(ExitCode::from(1));
    }
    say!(
        "done: {}, {fps:.1} frames/s on {workers} worker(s); work per frame (detect + restore, without queueing) {}",
        end.lat.summary(),
        end.work.summary_values()
    );
    Ok(ExitCode::SUCCESS)
}

/// A stream of raw frames: their size and pixel format, and how faces are followed in it.
pub struct FrameStream {
    /// Frame width in pixels.
    pub width: usize,
    /// Frame height in pixels.
    pub height: usize,
    /// Pixel format, in and out.
    pub format: PixelFormat,
    /// Value range of YUV formats.
    pub range: YuvRange,
    /// Detect faces every this many frames (≥ 1); in between, the last faces are reused.
    pub detect_every: usize,
    /// Landmark smoothing between detections: weight of the new landmarks, (0, 1].
    pub smoothing: f64,
    /// Print latency statistics every this many frames (0: never).
    pub stats_every: usize,
}

/// What [`process_frames`] measured.
pub struct StreamEnd {
    /// Read-to-written milliseconds per frame written.
    pub lat: Latency,
    /// Reader + writer milliseconds per frame (without waiting in the queue).
    pub work: Latency,
    /// Seconds from the first read to the last write.
    pub wall_s: f64,
    /// The output was closed before the input ended (the frames after it were not written).
    pub output_closed: bool,
}

impl StreamEnd {
    /// Frames written per second of wall time.
    pub fn frames_per_s(&self) -> f64 {
        self.lat.0.len() as f64 / self.wall_s.max(1e-9)
    }
}

/// Restores the faces in a stream of raw frames from `input` to `output`, in order. This thread
/// reads, converts and detects; `workers` writer threads restore, paste and convert whole
/// frames, each its own frame, and write them in turn. Frames are the unit of parallel work
/// because they cost the same (a frame's faces do not: a 208 px face is three times a 128 px
/// one), and tract's own threads barely help at face sizes, so tract runs single-threaded here.
/// The queue holds at most one frame per worker, which bounds the latency and memory it adds.
/// `progress` (a bar over the expected frame count) is advanced per frame written. A read or
/// detection error is returned after the frames before it were written; an output closed early
/// is reported in [`StreamEnd::output_closed`], not as an error.
pub fn process_frames(
    pipe: &Pipeline,
    frames: &FrameStream,
    workers: usize,
    input: &mut dyn Read,
    output: Box<dyn Write + Send>,
    progress: Option<lrpo_shared::progress::Progress>,
) -> Result<StreamEnd> {
    let in_bytes = frames.format.frame_bytes(frames.width, frames.height)?;
    lrpo_edge::threads::set_threads(1);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(workers.max(1));
    let shared = Writers::new(rx, output, progress);
    let started = Instant::now();
    let read_result = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.max(1))
            .map(|_| scope.spawn(|| shared.work(pipe, frames)))
            .collect();
        let read_result = read_frames(pipe, frames, input, in_bytes, &tx);
        drop(tx);
        for h in handles {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
        read_result
    });
    let wall_s = started.elapsed().as_secs_f64();
    let state = shared.state.into_inner().expect("writer state");
    if let Some(e) = state.error {
        return Err(e);
    }
    if !state.output_closed {
        read_result?;
    }
    Ok(StreamEnd {
        lat: state.lat,
        work: state.work,
        wall_s,
        output_closed: state.output_closed,
    })
}

/// A frame on its way from the reader to a writer.
struct Job {
    /// Its number in the stream (frames are written in this order).
    index: usize,
    /// When its bytes had been read (the latency clock starts here).
    start: Instant,
    /// Milliseconds the reader spent on it (conversion, detection).
    read_ms: f64,
    /// The frame (upscaled when asked), RGB `[3, H, W]`.
    frame: ndarray::Array3<f32>,
    /// The faces to restore in it.
    faces: Vec<lrpo_edge::pipeline::PlannedFace>,
    /// Faces tracked (for the statistics line).
    tracked: usize,
}

/// What the writers share: the queue, whose turn it is to write, and the statistics.
struct Writers {
    /// `None` once the stream stopped: dropping the receiver wakes a reader blocked on a full
    /// queue.
    queue: std::sync::Mutex<Option<std::sync::mpsc::Receiver<Job>>>,
    state: std::sync::Mutex<WriterState>,
    turn: std::sync::Condvar,
}

/// The output stream, written by one writer at a time (in frame order).
type Output = Box<dyn Write + Send>;

struct WriterState {
    /// The next frame to write.
    next: usize,
    /// Read-to-written milliseconds per frame.
    lat: Latency,
    /// Reader + writer milliseconds per frame (no waiting).
    work: Latency,
    /// The output was closed: nothing more is written.
    output_closed: bool,
    /// The first error a writer met: nothing more is written.
    error: Option<anyhow::Error>,
    /// Where frames go.
    output: Output,
    /// Advanced per frame written.
    progress: Option<lrpo_shared::progress::Progress>,
    /// When the writers started (for the frame rate on the progress bar).
    started: Instant,
}

impl Writers {
    fn new(
        rx: std::sync::mpsc::Receiver<Job>,
        output: Output,
        progress: Option<lrpo_shared::progress::Progress>,
    ) -> Self {
        Writers {
            queue: std::sync::Mutex::new(Some(rx)),
            state: std::sync::Mutex::new(WriterState {
                next: 0,
                lat: Latency(Vec::new()),
                work: Latency(Vec::new()),
                output_closed: false,
                error: None,
                output,
                progress,
                started: Instant::now(),
            }),
            turn: std::sync::Condvar::new(),
        }
    }

    fn stopped(s: &WriterState) -> bool {
        s.output_closed || s.error.is_some()
    }

    /// Drops the queue (the reader's next send fails) and wakes every writer.
    fn stop(&self) {
        self.turn.notify_all();
        if let Ok(mut q) = self.queue.lock() {
            *q = None;
        }
    }

    /// One writer: takes frames until the queue ends or the stream stops, restores each and
    /// writes it when its turn comes.
    fn work(&self, pipe: &Pipeline, frames: &FrameStream) {
        let (format, range, stats_every) = (frames.format, frames.range, frames.stats_every);
        loop {
            let job = {
                let q = self.queue.lock().expect("queue");
                match q.as_ref().map(|rx| rx.recv()) {
                    Some(Ok(job)) => job,
                    _ => return,
                }
            };
            let t = Instant::now();
            let mut bytes = Vec::new();
            let mut frame = job.frame;
            let made = pipe
                .restore_faces_in_place(&mut frame, &job.faces, 1)
                .map_err(anyhow::Error::from)
                .and_then(|_| Ok(from_rgb(&frame.view(), format, range, &mut bytes)?));
            let work_ms = job.read_ms + t.elapsed().as_secs_f64() * 1e3;
            let mut s = self.state.lock().expect("writer state");
            while s.next != job.index && !Self::stopped(&s) {
                s = self.turn.wait(s).expect("writer state");
            }
            if Self::stopped(&s) {
                drop(s);
                self.stop();
                return;
            }
            if let Err(e) = made {
                s.error = Some(e.context(format!("frame {}", job.index)));
                drop(s);
                self.stop();
                return;
            }
            let written = s.output.write_all(&bytes).and_then(|_| s.output.flush());
            match written {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => s.output_closed = true,
                Err(e) => s.error = Some(anyhow::Error::from(e).context("writing frames")),
            }
            if !Self::stopped(&s) {
                s.lat.0.push(job.start.elapsed().as_secs_f64() * 1e3);
                s.work.0.push(work_ms);
                if stats_every > 0 && s.lat.0.len().is_multiple_of(stats_every) {
                    say!("{} ({} face(s) tracked)", s.lat.summary(), job.tracked);
                }
                let rate = s.lat.0.len() as f64 / s.started.elapsed().as_secs_f64().max(1e-9);
                if let Some(p) = s.progress.as_mut() {
                    p.tick(&format!("frame {}, {rate:.1} frames/s", job.index + 1));
                }
            }
            s.next += 1;
            let stopped = Self::stopped(&s);
            drop(s);
            if stopped {
                self.stop();
                return;
            }
            self.turn.notify_all();
        }
    }
}

/// The reader stage: reads frames until the end of stdin (or until the writer stops taking
/// them), detects faces every `--detect-every` frames and tracks them in between.
fn read_frames(
    pipe: &Pipeline,
    args: &FrameStream,
    input: &mut dyn Read,
    in_bytes: usize,
    tx: &std::sync::mpsc::SyncSender<Job>,
) -> Result<()> {
    let (format, range) = (args.format, args.range);
    let n = pipe.options.upscale;
    let mut buf = vec![0u8; in_bytes];
    let mut tracker = FaceTracker::new(args.detect_every, args.smoothing)?;
    let mut frame_no = 0usize;
    while read_frame(input, &mut buf, frame_no)? {
        let start = Instant::now();
        let input = to_rgb(&buf, args.width, args.height, format, range)?;
        let big = (n > 1)
            .then(|| upscale_frame(&input.view(), n))
            .transpose()?;
        let step = tracker.next(pipe, &input.view(), &big.as_ref().unwrap_or(&input).view())?;
        // The frame faces are restored in: the upscaled one, or the input itself.
        let frame = big.unwrap_or(input);
        let job = Job {
            index: frame_no,
            start,
            read_ms: start.elapsed().as_secs_f64() * 1e3,
            frame,
            faces: tracker.faces().to_vec(),
            tracked: step.tracked,
        };
        if tx.send(job).is_err() {
            // The writer stopped (stdout closed or an error): it reports why.
            break;
        }
        frame_no += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lrpo_shared::rng::Rng;

    #[test]
    fn latency_quantiles_are_nearest_ranks_of_the_unsorted_frames() {
        // 11 frames in shuffled order: rank round(10 p) of 0..=10 ms.
        let lat = Latency(vec![7.0, 3.0, 10.0, 0.0, 5.0, 1.0, 9.0, 2.0, 8.0, 4.0, 6.0]);
        assert_eq!(
            lat.quantiles([0.0, 0.5, 0.94, 0.96, 1.0]),
            [0.0, 5.0, 9.0, 10.0, 10.0]
        );
        assert!(Latency(vec![]).quantiles([0.5])[0].is_nan());
        assert_eq!(Latency(vec![]).summary(), "no frames");
        assert_eq!(
            lat.summary(),
            "11 frames, latency median 5.0 ms, p90 9.0 ms, p99 10.0 ms, max 10.0 ms"
        );
    }

    /// A reader handing out `data` in random-sized pieces, with interruptions between them.
    struct Choppy<'a> {
        data: &'a [u8],
        rng: Rng,
    }

    impl Read for Choppy<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.rng.below(4) == 0 {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = (1 + self.rng.below(97) as usize)
                .min(buf.len())
                .min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn random_streams_of_random_frames_read_whole_frames_and_never_panic() {
        let mut rng = Rng::new(17);
        let mut frames_seen = 0;
        for _ in 0..3000 {
            let (_, format) = PixelFormat::ALL[rng.below(4) as usize];
            let (w, h) = (rng.below(40) as usize, rng.below(30) as usize);
            let Ok(size) = format.frame_bytes(w, h) else {
                // Sizes the format cannot hold (odd, empty) are refused before reading.
                assert!(w == 0 || h == 0 || w % 2 == 1 || h % 2 == 1);
                continue;
            };
            let len = rng.below((3 * size + 5) as u64) as usize;
            let data: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            let mut input = Choppy {
                data: &data,
                rng: Rng::derive(17, len as u64),
            };
            let mut buf = vec![0u8; size];
            let mut n = 0;
            while read_frame(&mut input, &mut buf, n).unwrap() {
                let rgb = to_rgb(&buf, w, h, format, YuvRange::Limited).unwrap();
                assert!(rgb.iter().all(|v| (0.0..=1.0).contains(v)));
                assert_eq!(buf, &data[n * size..(n + 1) * size]);
                n += 1;
            }
            // Every whole frame was read; a partial one at the end is dropped.
            assert_eq!(n, len / size);
            frames_seen += n;
        }
        assert!(frames_seen > 1000, "{frames_seen}");
    }
}
