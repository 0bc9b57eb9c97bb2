//! The C API called as C calls it (through its `extern "C"` functions), on a real photo, in
//! every pixel format, against the Rust pipeline it wraps; and every bad call it must refuse.

use lrpo::frame::align_rect;
use lrpo::*;
use lrpo_edge::pipeline::{Pipeline, PipelineOptions};
use lrpo_edge::runtime::{Policy, SamplerOptions};
use lrpo_shared::align::crop_footprint;
use lrpo_shared::onnx::detect::mtcnn::{CAMERA_MIN_FACE_FRACTION, Mtcnn, MtcnnConfig};
use lrpo_shared::pixfmt::{PixelFormat, YuvRange, from_rgb, to_rgb};
use ndarray::s;
use std::ffi::{CStr, CString};
use std::path::PathBuf;
use std::ptr::{null, null_mut};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(lrpo_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// The f32 policy (deterministic everywhere, unlike the default's speed-based choice).
const POLICY: &str = "gt_student.onnx";

fn open(options: LrpoOptions) -> *mut LrpoRestorer {
    let dir = CString::new(root().join("models").to_str().unwrap()).unwrap();
    let policy = CString::new(POLICY).unwrap();
    let o = LrpoOptions {
        policy: policy.as_ptr(),
        ..options
    };
    let mut r = null_mut();
    let s = unsafe { lrpo_open(dir.as_ptr(), &o, &mut r) };
    assert_eq!(s, LrpoStatus::Ok, "{}", last_error());
    r
}

/// The same pipeline built in Rust, as a camera restorer builds it.
fn rust_pipeline(upscale: usize) -> Pipeline {
    let models = root().join("models");
    let config = MtcnnConfig {
        min_face: 20.0,
        min_face_fraction: Some(CAMERA_MIN_FACE_FRACTION),
        ..MtcnnConfig::default()
    };
    Pipeline {
        policy: Policy::load(&models.join(POLICY), SamplerOptions::default()).unwrap(),
        detector: Some(Box::new(
            Mtcnn::load(&models.join("mtcnn"), config).unwrap(),
        )),
        options: PipelineOptions {
            upscale,
            ..PipelineOptions::default()
        },
    }
}

/// A real degraded photo with four faces, as packed bytes of `format`.
fn photo(format: PixelFormat) -> (Vec<u8>, usize, usize) {
    let img = lrpo_shared::image::load_rgb(&root().join("data/scenes/montage_lq.jpg")).unwrap();
    let (_, h, w) = img.dim();
    let mut bytes = Vec::new();
    from_rgb(&img.view(), format, YuvRange::Limited, &mut bytes).unwrap();
    (bytes, w, h)
}

/// Copies packed `bytes` into planes with padded rows (and, for NV12, a UV plane elsewhere
/// with its own stride), returning the buffers and the frame describing them.
struct Padded {
    main: Vec<u8>,
    chroma: Vec<u8>,
    stride: usize,
    chroma_stride: usize,
    rows: usize,
    row_bytes: usize,
}

impl Padded {
    fn new(bytes: &[u8], format: PixelFormat, w: usize, h: usize) -> Padded {
        let row_bytes = match format {
            PixelFormat::Rgb24 | PixelFormat::Bgr24 => 3 * w,
            PixelFormat::Nv12 => w,
            PixelFormat::Yuyv422 => 2 * w,
        };
        let (stride, chroma_stride) = (row_bytes + 37, row_bytes + 5);
        let mut main = vec![0xAB; stride * h];
        for y in 0..h {
            main[y * stride..y * stride + row_bytes]
                .copy_from_slice(&bytes[y * row_bytes..(y + 1) * row_bytes]);
        }
        let mut chroma = Vec::new();
        if format == PixelFormat::Nv12 {
            chroma = vec![0xCD; chroma_stride * h / 2];
            let uv = &bytes[w * h..];
            for y in 0..h / 2 {
                chroma[y * chroma_stride..y * chroma_stride + w]
                    .copy_from_slice(&uv[y * w..(y + 1) * w]);
            }
        }
        Padded {
            main,
            chroma,
            stride,
            chroma_stride,
            rows: h,
            row_bytes,
        }
    }

    fn frame(&mut self, format: u32, w: usize, h: usize) -> LrpoFrame {
        LrpoFrame {
            data: self.main.as_mut_ptr(),
            width: w as u32,
            height: h as u32,
            stride: self.stride as u32,
            format,
            chroma: if self.chroma.is_empty() {
                null_mut()
            } else {
                self.chroma.as_mut_ptr()
            },
            chroma_stride: self.chroma_stride as u32,
        }
    }

    /// The packed bytes again; and the padding must be untouched.
    fn packed(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for y in 0..self.rows {
            let row = &self.main[y * self.stride..(y + 1) * self.stride];
            out.extend_from_slice(&row[..self.row_bytes]);
            assert!(
                row[self.row_bytes..].iter().all(|&b| b == 0xAB),
                "padding written"
            );
        }
        for y in 0..self.chroma.len() / self.chroma_stride.max(1) {
            let row = &self.chroma[y * self.chroma_stride..(y + 1) * self.chroma_stride];
            out.extend_from_slice(&row[..self.row_bytes]);
            assert!(
                row[self.row_bytes..].iter().all(|&b| b == 0xCD),
                "padding written"
            );
        }
        out
    }
}

/// What the restorer must write in place: the input bytes, with every restored face's
/// footprint (grown to whole chroma blocks) replaced by the Rust pipeline's output there.
fn expected_in_place(
    pipe: &Pipeline,
    bytes: &[u8],
    format: PixelFormat,
    w: usize,
    h: usize,
) -> Vec<u8> {
    let rgb = to_rgb(bytes, w, h, format, YuvRange::Limited).unwrap();
    let result = pipe.process(&rgb.view()).unwrap();
    assert_eq!(result.faces.len(), 4, "the photo's four faces");
    let mut target = Padded::new(bytes, format, w, h);
    let frame = target.frame(format_code(format), w, h);
    let checked = lrpo::frame::Frame::check(&frame, "expected").unwrap();
    for f in &result.faces {
        let side = f.restored.shape()[1];
        let rect = crop_footprint(&f.to_crop, side, h, w).unwrap().unwrap();
        let rect = align_rect(rect, format, w, h);
        let mut part = Vec::new();
        let view = result
            .frame
            .slice(s![.., rect.y0..rect.y1, rect.x0..rect.x1]);
        from_rgb(&view, format, YuvRange::Limited, &mut part).unwrap();
        unsafe { checked.write_rect(rect, &part) };
    }
    target.packed()
}

fn format_code(f: PixelFormat) -> u32 {
    match f {
        PixelFormat::Rgb24 => LRPO_PIX_RGB24,
        PixelFormat::Bgr24 => LRPO_PIX_BGR24,
        PixelFormat::Nv12 => LRPO_PIX_NV12,
        PixelFormat::Yuyv422 => LRPO_PIX_YUYV422,
    }
}

#[test]
fn every_pixel_format_in_place_and_padded_gives_the_pipelines_faces_and_leaves_the_rest() {
    let pipe = rust_pipeline(1);
    let r = open(LrpoOptions {
        detect_every: 1,
        ..LrpoOptions::default()
    });
    for (name, format) in PixelFormat::ALL {
        let (bytes, w, h) = photo(format);
        let expected = expected_in_place(&pipe, &bytes, format, w, h);
        let mut buf = Padded::new(&bytes, format, w, h);
        let frame = buf.frame(format_code(format), w, h);
        unsafe { lrpo_reset(r) };
        let s = unsafe { lrpo_restore(r, &frame, null()) };
        assert_eq!(s, LrpoStatus::Ok, "{name}: {}", last_error());
        let got = buf.packed();
        let changed = got.iter().zip(&bytes).filter(|(a, b)| a != b).count();
        assert!(
            changed > bytes.len() / 10,
            "{name}: only {changed} bytes restored"
        );
        let wrong = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
        assert_eq!(wrong, 0, "{name}: {wrong} bytes differ from the pipeline's");
        let mut n = 0;
        unsafe { lrpo_face_count(r, &mut n) };
        assert_eq!(n, 4, "{name}");
        let mut t = LrpoTimings::default();
        unsafe { lrpo_timings(r, &mut t) };
        assert_eq!(
            (t.detected, t.faces_restored, t.frames),
            (1, 4, 1),
            "{name}"
        );
        assert!(t.total_ms >= t.detect_ms + t.restore_ms, "{name}: {t:?}");
    }
    unsafe { lrpo_close(r) };
}

#[test]
fn an_upscaled_frame_goes_into_a_caller_buffer_as_the_pipeline_makes_it() {
    let pipe = rust_pipeline(2);
    let r = open(LrpoOptions {
        upscale: 2,
        ..LrpoOptions::default()
    });
    let (bytes, w, h) = photo(PixelFormat::Rgb24);
    let mut input = Padded::new(&bytes, PixelFormat::Rgb24, w, h);
    let in_frame = input.frame(LRPO_PIX_RGB24, w, h);
    // In place is impossible at 2x: refused, with the size the output needs.
    assert_eq!(
        unsafe { lrpo_restore(r, &in_frame, null()) },
        LrpoStatus::InvalidArgument
    );
    assert!(
        last_error().contains(&format!("{}x{}", 2 * w, 2 * h)),
        "{}",
        last_error()
    );
    let mut size = 0usize;
    unsafe { lrpo_frame_bytes(LRPO_PIX_RGB24, 2 * w as u32, 2 * h as u32, &mut size) };
    assert_eq!(size, 12 * w * h);
    let mut out = vec![0u8; size];
    let out_frame = LrpoFrame {
        data: out.as_mut_ptr(),
        width: 2 * w as u32,
        height: 2 * h as u32,
        stride: 0,
        format: LRPO_PIX_RGB24,
        chroma: null_mut(),
        chroma_stride: 0,
    };
    let s = unsafe { lrpo_restore(r, &in_frame, &out_frame) };
    assert_eq!(s, LrpoStatus::Ok, "{}", last_error());
    let rgb = to_rgb(&bytes, w, h, PixelFormat::Rgb24, YuvRange::Limited).unwrap();
    let mut expected = Vec::new();
    from_rgb(
        &pipe.process(&rgb.view()).unwrap().frame.view(),
        PixelFormat::Rgb24,
        YuvRange::Limited,
        &mut expected,
    )
    .unwrap();
    assert!(
        out == expected,
        "the upscaled output differs from the pipeline's"
    );
    assert_eq!(input.packed(), bytes, "the input was written");
    // The faces are given in output-frame coordinates.
    let mut face = LrpoFace::default();
    assert_eq!(unsafe { lrpo_face(r, 0, &mut face) }, LrpoStatus::Ok);
    assert!(
        face.bbox[2] > w as f32 / 2.0 && face.bbox[2] <= 2.0 * w as f32,
        "{face:?}"
    );
    assert_eq!(
        unsafe { lrpo_face(r, 9, &mut face) },
        LrpoStatus::InvalidArgument
    );
    assert!(last_error().contains("has 4 face(s)"), "{}", last_error());
    unsafe { lrpo_close(r) };
}

#[test]
fn bad_calls_are_refused_with_a_message_and_nothing_is_touched() {
    let models = CString::new(root().join("models").to_str().unwrap()).unwrap();
    let mut r = null_mut();
    // Options out of range: refused before any model is read, each naming the value.
    let cases: [(LrpoOptions, &str); 7] = [
        (
            LrpoOptions {
                threads: 1000,
                ..Default::default()
            },
            "threads must be 1..=64, got 1000",
        ),
        (
            LrpoOptions {
                upscale: 3,
                ..Default::default()
            },
            "3",
        ),
        (
            LrpoOptions {
                detect_every: 5000,
                ..Default::default()
            },
            "5000",
        ),
        (
            LrpoOptions {
                smoothing: 2.0,
                ..Default::default()
            },
            "(0, 1]",
        ),
        (
            LrpoOptions {
                min_face: 5,
                ..Default::default()
            },
            "min_face must be 12-8192 px or 0, got 5",
        ),
        (
            LrpoOptions {
                yuv_range: 7,
                ..Default::default()
            },
            "got 7",
        ),
        (
            LrpoOptions {
                detail_gate_db: f32::NAN,
                ..Default::default()
            },
            "finite",
        ),
    ];
    for (o, says) in cases {
        let s = unsafe { lrpo_open(models.as_ptr(), &o, &mut r) };
        assert_eq!(s, LrpoStatus::InvalidArgument);
        assert!(r.is_null());
        assert!(
            last_error().contains(says),
            "{} lacks {says:?}",
            last_error()
        );
    }
    // Missing folder, policy, detector; NULL arguments.
    let nowhere = CString::new("/nonexistent/models").unwrap();
    assert_eq!(
        unsafe { lrpo_open(nowhere.as_ptr(), null(), &mut r) },
        LrpoStatus::Model
    );
    assert!(
        last_error().contains("/nonexistent/models"),
        "{}",
        last_error()
    );
    let policy = CString::new("missing.onnx").unwrap();
    let o = LrpoOptions {
        policy: policy.as_ptr(),
        ..Default::default()
    };
    assert_eq!(
        unsafe { lrpo_open(models.as_ptr(), &o, &mut r) },
        LrpoStatus::Model
    );
    assert!(last_error().contains("missing.onnx"), "{}", last_error());
    let no_detector =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("lrpo-capi-no-detector");
    std::fs::create_dir_all(&no_detector).unwrap();
    for f in ["gt_student.onnx", "gt_student.card"] {
        std::fs::copy(root().join("models").join(f), no_detector.join(f)).unwrap();
    }
    let dir = CString::new(no_detector.to_str().unwrap()).unwrap();
    let o = LrpoOptions {
        policy: c"gt_student.onnx".as_ptr(),
        ..Default::default()
    };
    assert_eq!(
        unsafe { lrpo_open(dir.as_ptr(), &o, &mut r) },
        LrpoStatus::Model
    );
    assert!(last_error().contains("mtcnn"), "{}", last_error());
    std::fs::remove_dir_all(&no_detector).unwrap();
    assert_eq!(
        unsafe { lrpo_open(null(), null(), &mut r) },
        LrpoStatus::InvalidArgument
    );
    assert_eq!(
        unsafe { lrpo_open(models.as_ptr(), null(), null_mut()) },
        LrpoStatus::InvalidArgument
    );
    assert_eq!(
        unsafe { lrpo_restore(null_mut(), null(), null()) },
        LrpoStatus::InvalidArgument
    );
    assert!(last_error().contains("restorer is NULL"));
    assert_eq!(
        unsafe { lrpo_options_default(null_mut()) },
        LrpoStatus::InvalidArgument
    );
    unsafe { lrpo_close(null_mut()) };

    // Frames that cannot be right, on an open restorer: refused, the buffer untouched.
    let r = open(LrpoOptions::default());
    let (bytes, w, h) = photo(PixelFormat::Rgb24);
    let mut buf = Padded::new(&bytes, PixelFormat::Rgb24, w, h);
    let good = buf.frame(LRPO_PIX_RGB24, w, h);
    let bad = [
        (
            LrpoFrame { stride: 5, ..good },
            "stride 5 is less than a row",
        ),
        (LrpoFrame { format: 42, ..good }, "unknown pixel format 42"),
        (LrpoFrame { width: 0, ..good }, "empty"),
        (
            LrpoFrame {
                width: 1 << 20,
                height: 1 << 20,
                ..good
            },
            "pixel limit",
        ),
        (
            LrpoFrame {
                data: null_mut(),
                ..good
            },
            "NULL",
        ),
        (
            LrpoFrame {
                format: LRPO_PIX_NV12,
                width: 271,
                ..good
            },
            "even",
        ),
    ];
    for (f, says) in bad {
        assert_eq!(
            unsafe { lrpo_restore(r, &f, null()) },
            LrpoStatus::InvalidArgument
        );
        assert!(
            last_error().contains(says),
            "{} lacks {says:?}",
            last_error()
        );
    }
    // An output of the wrong size, or on top of the input.
    let mut small = vec![0u8; 3 * 10 * 10];
    let wrong = LrpoFrame {
        data: small.as_mut_ptr(),
        width: 10,
        height: 10,
        stride: 0,
        ..good
    };
    assert_eq!(
        unsafe { lrpo_restore(r, &good, &wrong) },
        LrpoStatus::InvalidArgument
    );
    assert!(
        last_error().contains(&format!("must be {w}x{h} rgb24")),
        "{}",
        last_error()
    );
    assert_eq!(
        unsafe { lrpo_restore(r, &good, &good) },
        LrpoStatus::InvalidArgument
    );
    assert!(last_error().contains("overlaps"), "{}", last_error());
    assert_eq!(buf.packed(), bytes, "a refused call wrote into the frame");
    // After all that, the restorer still works.
    assert_eq!(
        unsafe { lrpo_restore(r, &good, null()) },
        LrpoStatus::Ok,
        "{}",
        last_error()
    );
    assert_eq!(last_error(), "");
    unsafe { lrpo_close(r) };
    assert_eq!(
        unsafe { CStr::from_ptr(lrpo_status_string(LrpoStatus::Model as i32)) }.to_str(),
        Ok("model folder, policy or detector missing or invalid")
    );
    assert_eq!(
        unsafe { CStr::from_ptr(lrpo_status_string(99)) }.to_str(),
        Ok("unknown status")
    );
}

#[test]
fn one_restorer_shared_by_threads_serializes_their_frames() {
    let r = open(LrpoOptions {
        detect_every: 2,
        ..Default::default()
    });
    let handle = r as usize;
    let (bytes, w, h) = photo(PixelFormat::Rgb24);
    let outs: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let bytes = bytes.clone();
                scope.spawn(move || {
                    let mut buf = Padded::new(&bytes, PixelFormat::Rgb24, w, h);
                    let f = buf.frame(LRPO_PIX_RGB24, w, h);
                    let s = unsafe { lrpo_restore(handle as *mut LrpoRestorer, &f, null()) };
                    assert_eq!(s, LrpoStatus::Ok, "{}", last_error());
                    buf.packed()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut t = LrpoTimings::default();
    unsafe { lrpo_timings(r, &mut t) };
    assert_eq!(t.frames, 3);
    // The same still frame restored three times: the same faces each time (tracked, not
    // re-detected, on the second).
    assert!(outs.iter().all(|o| o != &bytes));
    assert!(
        outs[1..].iter().all(|o| o == &outs[0]),
        "a still frame restored differently"
    );
    unsafe { lrpo_close(r) };
}
