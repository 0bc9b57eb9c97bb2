//! A restorer: the pipeline, the face tracker and the last frame's results behind one C handle.

use crate::Failure;
use crate::frame::{Frame, LrpoFrame, align_rect};
use lrpo_edge::pipeline::{
    DEFAULT_DETAIL_GATE_DB, Pipeline, PipelineOptions, check_upscale, upscale_frame,
};
use lrpo_edge::runtime::{Policy, SamplerOptions};
use lrpo_edge::tracking::{DEFAULT_DETECT_EVERY, DEFAULT_SMOOTHING, FaceTracker};
use lrpo_shared::align::{FrameRect, crop_footprint};
use lrpo_shared::onnx::detect::mtcnn::{CAMERA_MIN_FACE_FRACTION, MtcnnConfig};
use lrpo_shared::pixfmt::{YuvRange, from_rgb, to_rgb};
use ndarray::s;
use std::ffi::{CStr, c_char};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// YUV samples in BT.601 limited range (Y 16–235, U/V 16–240): cameras' default.
pub const LRPO_YUV_LIMITED: u32 = 0;
/// YUV samples in full range (0–255, as JPEG).
pub const LRPO_YUV_FULL: u32 = 1;

/// Most threads a restorer takes.
pub const LRPO_MAX_THREADS: u32 = 64;

/// How a restorer runs. Every field's 0 (or NULL) means its default, so `LrpoOptions o = {0};`
/// is a valid set of options; `lrpo_options_default` fills in the defaults themselves.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LrpoOptions {
    /// Threads (1–64; 0: 1): a frame's faces are restored on this many threads at once, and
    /// tract's matrix products use as many (process-wide: the last restorer opened sets it).
    pub threads: u32,
    /// Run the face detector every N frames (1–1000; 0: 5); in between, the faces of the last
    /// detection are restored again (landmarks smoothed per tracked face).
    pub detect_every: u32,
    /// Landmark smoothing at a detection: the weight of the new landmarks, (0, 1] (0: 0.5;
    /// 1: none).
    pub smoothing: f32,
    /// Output upscaling factor: 1, 2 or 4 (0: 1). With 2 or 4 the output frame is that many
    /// times wider and higher (restoring in place is then impossible).
    pub upscale: u32,
    /// Restore at most this many faces per frame, the most confident first (0: all).
    pub max_faces: u32,
    /// Smallest face to detect in pixels, 12–8192 (0: 20 px or a tenth of the frame's shorter
    /// side, whichever is larger; detection's cost falls with the square of this).
    pub min_face: u32,
    /// Detail gate in dB (0: 41.5; negative: off): a face holding detail finer than the
    /// policy's size would blur is left as it is.
    pub detail_gate_db: f32,
    /// `LRPO_YUV_LIMITED` (0) or `LRPO_YUV_FULL`.
    pub yuv_range: u32,
    /// The policy: NULL for the model folder's default (int8, or its f32 twin where that is
    /// faster on this CPU), else an ONNX file name inside the folder or a path (its `.card`
    /// beside it).
    pub policy: *const c_char,
}

impl Default for LrpoOptions {
    fn default() -> Self {
        LrpoOptions {
            threads: 1,
            detect_every: DEFAULT_DETECT_EVERY as u32,
            smoothing: DEFAULT_SMOOTHING as f32,
            upscale: 1,
            max_faces: 0,
            min_face: 0,
            detail_gate_db: DEFAULT_DETAIL_GATE_DB as f32,
            yuv_range: LRPO_YUV_LIMITED,
            policy: std::ptr::null(),
        }
    }
}

/// One face of the last frame restored.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LrpoFace {
    /// Box `x0, y0, x1, y1` in output-frame pixels.
    pub bbox: [f32; 4],
    /// Detector confidence (0–1).
    pub score: f32,
    /// Landmarks `x, y` in output-frame pixels: left eye, right eye, nose, left and right mouth
    /// corners (the person's left is the image's right).
    pub landmarks: [f32; 10],
    /// Side (px) of the square crop it was restored at.
    pub crop_side: u32,
    /// Milliseconds in the policy for this face.
    pub restore_ms: f32,
}

/// Where the last frame's time went.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LrpoTimings {
    /// Milliseconds for the whole call.
    pub total_ms: f64,
    /// Reading the caller's frame and converting it to RGB (and upscaling).
    pub convert_ms: f64,
    /// Detection, tracking and the detail gate (on frames between detections: ~0).
    pub detect_ms: f64,
    /// Aligning, restoring and pasting the faces.
    pub restore_ms: f64,
    /// Converting the restored pixels back and writing them into the output.
    pub write_ms: f64,
    /// 1 when the detector ran on this frame, else 0.
    pub detected: u32,
    /// Faces restored.
    pub faces_restored: u32,
    /// Faces found but left unchanged by the detail gate (at the last detection).
    pub faces_kept: u32,
    /// Frames restored so far by this restorer (since opening or the last reset).
    pub frames: u64,
}

/// The state behind one `LrpoRestorer` handle.
pub struct Restorer {
    pipe: Pipeline,
    tracker: FaceTracker,
    range: YuvRange,
    faces: Vec<LrpoFace>,
    timings: LrpoTimings,
    /// Packed bytes of the input frame, then of each rectangle written (reused).
    scratch: Vec<u8>,
}

/// A C string argument (`what` names it in errors).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub unsafe fn c_str(p: *const c_char, what: &str) -> Result<Option<String>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller passes a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(|s| Some(s.to_owned()))
        .map_err(|_| Failure::argument(format!("{what} is not UTF-8")))
}

impl Restorer {
    /// Opens the model folder `dir` with options `o` (`policy`: `o.policy` read as a string).
    pub fn open(dir: &Path, o: &LrpoOptions, policy: Option<&str>) -> Result<Self, Failure> {
        let arg = |reason: String| Failure::argument(format!("options: {reason}"));
        let threads = if o.threads == 0 { 1 } else { o.threads };
        if threads > LRPO_MAX_THREADS {
            return Err(arg(format!(
                "threads must be 1..={LRPO_MAX_THREADS}, got {threads}"
            )));
        }
        let detect_every = if o.detect_every == 0 {
            DEFAULT_DETECT_EVERY
        } else {
            o.detect_every as usize
        };
        let smoothing = if o.smoothing == 0.0 {
            DEFAULT_SMOOTHING
        } else {
            o.smoothing as f64
        };
        let tracker = FaceTracker::new(detect_every, smoothing).map_err(|e| arg(e.to_string()))?;
        let upscale = check_upscale(if o.upscale == 0 {
            1
        } else {
            o.upscale as usize
        })
        .map_err(|e| arg(e.to_string()))?;
        let g = o.detail_gate_db;
        let detail_gate = if !g.is_finite() {
            return Err(arg(format!("detail_gate_db must be finite, got {g}")));
        } else if g == 0.0 {
            Some(DEFAULT_DETAIL_GATE_DB)
        } else if g < 0.0 {
            None
        } else {
            Some(g as f64)
        };
        let range = match o.yuv_range {
            LRPO_YUV_LIMITED => YuvRange::Limited,
            LRPO_YUV_FULL => YuvRange::Full,
            v => {
                return Err(arg(format!(
                    "yuv_range must be LRPO_YUV_LIMITED (0) or LRPO_YUV_FULL (1), got {v}"
                )));
            }
        };
        let (min_face, min_face_fraction) = match o.min_face {
            0 => (20.0, Some(CAMERA_MIN_FACE_FRACTION)),
            px @ 12..=8192 => (px as f64, None),
            px => return Err(arg(format!("min_face must be 12-8192 px or 0, got {px}"))),
        };
        if !dir.is_dir() {
            return Err(Failure::model(format!(
                "{}: the model folder does not exist or is not a folder",
                dir.display()
            )));
        }
        lrpo_edge::threads::set_threads(threads as usize);
        let policy = match policy {
            None => {
                lrpo_edge::models::default_policy(dir, SamplerOptions::default())
                    .map_err(|e| Failure::model(e.to_string()))?
                    .0
            }
            Some(p) => Policy::load(&dir.join(PathBuf::from(p)), SamplerOptions::default())
                .map_err(|e| Failure::model(e.to_string()))?,
        };
        let config = MtcnnConfig {
            min_face,
            min_face_fraction,
            ..MtcnnConfig::default()
        };
        let detector =
            lrpo_edge::models::detector(dir, config).map_err(|e| Failure::model(e.to_string()))?;
        policy
            .warm_up(policy.crop_size())
            .map_err(|e| Failure::model(e.to_string()))?;
        let pipe = Pipeline {
            policy,
            detector: Some(Box::new(detector)),
            options: PipelineOptions {
                max_faces: (o.max_faces > 0).then_some(o.max_faces as usize),
                detail_gate,
                upscale,
                face_workers: threads as usize,
                ..PipelineOptions::default()
            },
        };
        Ok(Restorer {
            pipe,
            tracker,
            range,
            faces: Vec::new(),
            timings: LrpoTimings::default(),
            scratch: Vec::new(),
        })
    }

    /// The restoration policy's file.
    pub fn policy_path(&self) -> &Path {
        self.pipe.policy.model_path()
    }

    /// Restores the faces of frame `input` into `output` (`None`: in place). The pixels no
    /// face covers are left as they are (in place) or copied byte for byte (into an output
    /// buffer); the faces' rectangles are converted back from RGB. With upscaling the whole
    /// output is written.
    ///
    /// # Safety
    /// The frames' memory as [`Frame::check`] and [`Frame::write_rect`] require; `output`
    /// does not overlap `input`.
    pub unsafe fn restore(
        &mut self,
        input: &LrpoFrame,
        output: Option<&LrpoFrame>,
    ) -> Result<(), Failure> {
        let start = Instant::now();
        self.faces.clear();
        self.timings = LrpoTimings {
            frames: self.timings.frames,
            ..LrpoTimings::default()
        };
        let src = Frame::check(input, "input frame")?;
        let n = self.pipe.options.upscale;
        let dst = match output {
            None if n > 1 => {
                return Err(Failure::argument(format!(
                    "upscale {n} makes a larger frame than the input: pass an output frame of {}x{}",
                    src.width * n,
                    src.height * n
                )));
            }
            None => src,
            Some(o) => {
                let d = Frame::check(o, "output frame")?;
                if (d.width, d.height, d.format) != (src.width * n, src.height * n, src.format) {
                    return Err(Failure::argument(format!(
                        "the output frame must be {}x{} {} (the input's format, upscaled {n}x), got {}x{} {}",
                        src.width * n,
                        src.height * n,
                        src.format.name(),
                        d.width,
                        d.height,
                        d.format.name()
                    )));
                }
                let overlap = src
                    .spans()
                    .iter()
                    .any(|a| d.spans().iter().any(|b| a.0 < b.1 && b.0 < a.1));
                if overlap {
                    return Err(Failure::argument(
                        "the output frame overlaps the input frame: pass NULL as the output to restore in place"
                            .to_string(),
                    ));
                }
                d
            }
        };
        let index = self.timings.frames;
        let frame_err = |e: String| Failure::frame(format!("frame {index}: {e}"));
        // SAFETY: the caller vouches for the input's memory.
        unsafe { src.read_packed(&mut self.scratch) };
        let rgb = to_rgb(&self.scratch, src.width, src.height, src.format, self.range)
            .map_err(|e| frame_err(e.to_string()))?;
        let big = if n > 1 {
            Some(upscale_frame(&rgb.view(), n).map_err(|e| frame_err(e.to_string()))?)
        } else {
            None
        };
        let t_detect = Instant::now();
        let step = self
            .tracker
            .next(
                &self.pipe,
                &rgb.view(),
                &big.as_ref().unwrap_or(&rgb).view(),
            )
            .map_err(|e| frame_err(e.to_string()))?;
        let t_restore = Instant::now();
        // Restored in the frame itself: the upscaled one, or the converted input.
        let mut out = big.unwrap_or(rgb);
        let workers = self.pipe.options.face_workers;
        let results = self
            .pipe
            .restore_faces_in_place(&mut out, self.tracker.faces(), workers)
            .map_err(|e| frame_err(e.to_string()))?;
        let t_write = Instant::now();
        let (w, h) = (dst.width, dst.height);
        let rects: Vec<FrameRect> = if n > 1 {
            vec![FrameRect {
                x0: 0,
                y0: 0,
                x1: w,
                y1: h,
            }]
        } else {
            if output.is_some() {
                // SAFETY: the caller vouches for both frames; they do not overlap (checked).
                unsafe { src.copy_to(&dst) };
            }
            let mut rects = Vec::new();
            for r in &results {
                let side = r.restored.shape()[1];
                if let Some(rect) =
                    crop_footprint(&r.to_crop, side, h, w).map_err(|e| frame_err(e.to_string()))?
                {
                    rects.push(align_rect(rect, dst.format, w, h));
                }
            }
            rects
        };
        for rect in rects {
            let part = out.slice(s![.., rect.y0..rect.y1, rect.x0..rect.x1]);
            from_rgb(&part, dst.format, self.range, &mut self.scratch)
                .map_err(|e| frame_err(e.to_string()))?;
            // SAFETY: the caller vouches for the output's memory; `rect` is inside it and
            // aligned to its chroma blocks.
            unsafe { dst.write_rect(rect, &self.scratch) };
        }
        let done = Instant::now();
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        self.faces = results
            .iter()
            .map(|r| {
                let d = &r.detection;
                let mut landmarks = [0.0f32; 10];
                for (i, p) in d.landmarks.iter().enumerate() {
                    landmarks[2 * i] = p[0] as f32;
                    landmarks[2 * i + 1] = p[1] as f32;
                }
                LrpoFace {
                    bbox: d.bbox.map(|v| v as f32),
                    score: d.score as f32,
                    landmarks,
                    crop_side: r.restored.shape()[1] as u32,
                    restore_ms: r.restore_ms as f32,
                }
            })
            .collect();
        self.timings = LrpoTimings {
            total_ms: ms(start, done),
            convert_ms: ms(start, t_detect),
            detect_ms: ms(t_detect, t_restore),
            restore_ms: ms(t_restore, t_write),
            write_ms: ms(t_write, done),
            detected: step.detected as u32,
            faces_restored: self.faces.len() as u32,
            faces_kept: self.tracker.kept() as u32,
            frames: self.timings.frames + 1,
        };
        Ok(())
    }

    /// The faces of the last frame restored.
    pub fn faces(&self) -> &[LrpoFace] {
        &self.faces
    }

    /// The last frame's timings.
    pub fn timings(&self) -> LrpoTimings {
        self.timings
    }

    /// Forgets the tracked faces (a scene cut, a new camera): the next frame is detected.
    pub fn reset(&mut self) {
        self.tracker.reset();
        self.faces.clear();
        self.timings = LrpoTimings::default();
    }
}
