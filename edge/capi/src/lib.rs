//! C API of the LRPO edge runtime (`liblrpo.so`, `liblrpo.a`; header `include/lrpo.h`):
//! restore the faces of camera frames from C or C++ firmware, in the camera's own pixel format
//! and buffers.
//!
//! ```c
//! LrpoRestorer *r;
//! LrpoOptions o = {0};                 /* every 0 is a default */
//! if (lrpo_open("/opt/lrpo/models", &o, &r) != LRPO_STATUS_OK) {
//!     fprintf(stderr, "%s\n", lrpo_last_error());
//! }
//! LrpoFrame f = {.data = buf, .width = 640, .height = 480, .format = LRPO_PIX_NV12};
//! lrpo_restore(r, &f, NULL);           /* in place */
//! lrpo_close(r);
//! ```
//!
//! **Errors.** Every call returns an [`LrpoStatus`]; on failure [`lrpo_last_error`] gives the
//! message (naming the file, value or frame and what was wrong) for the calling thread. No Rust
//! panic crosses the boundary: one is caught and returned as `LRPO_STATUS_INTERNAL`.
//!
//! **Threads.** A restorer may be used from any thread. Calls on one restorer are serialized (a
//! second caller waits): it follows faces from frame to frame, so it must see a camera's frames
//! in order, one at a time. Separate restorers (one per camera) run in parallel. `lrpo_close`
//! must not race with other calls on the same restorer. The `threads` option also sets tract's
//! process-wide thread count for matrix products.
//!
//! **Memory.** Frames stay the caller's: nothing is kept between calls but the tracked faces.
//! Pixels outside the restored faces are not written when restoring in place, and copied
//! unchanged into a separate output.

pub mod frame;
pub mod restorer;

pub use frame::{
    LRPO_PIX_BGR24, LRPO_PIX_NV12, LRPO_PIX_RGB24, LRPO_PIX_YUYV422, LrpoFrame, pixel_format,
};
pub use restorer::{
    LRPO_MAX_THREADS, LRPO_YUV_FULL, LRPO_YUV_LIMITED, LrpoFace, LrpoOptions, LrpoTimings, Restorer,
};

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Mutex;

/// What a call returns.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LrpoStatus {
    /// Success.
    Ok = 0,
    /// A NULL pointer, an option out of range, or a frame description that cannot be right
    /// (size, stride, format, an output that does not match).
    InvalidArgument = 1,
    /// The model folder, a policy, its card or the detector is missing or invalid.
    Model = 2,
    /// Restoring a frame failed (e.g. a frame too large to upscale).
    Frame = 3,
    /// A bug inside the library (a panic, caught at the boundary); the restorer may be closed
    /// and opened again.
    Internal = 4,
}

/// A failed call: its status and message.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The status returned.
    pub status: LrpoStatus,
    /// The message [`lrpo_last_error`] gives.
    pub message: String,
}

impl Failure {
    /// A [`LrpoStatus::InvalidArgument`] failure.
    pub fn argument(message: impl Into<String>) -> Self {
        Failure {
            status: LrpoStatus::InvalidArgument,
            message: message.into(),
        }
    }

    /// A [`LrpoStatus::Model`] failure.
    pub fn model(message: impl Into<String>) -> Self {
        Failure {
            status: LrpoStatus::Model,
            message: message.into(),
        }
    }

    /// A [`LrpoStatus::Frame`] failure.
    pub fn frame(message: impl Into<String>) -> Self {
        Failure {
            status: LrpoStatus::Frame,
            message: message.into(),
        }
    }
}

thread_local! {
    /// The message of this thread's last failed call ("" after a success).
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Runs `f`, catching a panic, and records its message for [`lrpo_last_error`].
fn guard(f: impl FnOnce() -> Result<(), Failure>) -> LrpoStatus {
    let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Failure {
            status: LrpoStatus::Internal,
            message: format!("internal error (a bug in liblrpo, please report it): {what}"),
        })
    });
    match outcome {
        Ok(()) => {
            set_last_error("");
            LrpoStatus::Ok
        }
        Err(e) => {
            set_last_error(&e.message);
            e.status
        }
    }
}

/// An opened model folder: a restoration policy, a face detector and the faces tracked in the
/// frames given to it. Opaque to C.
pub struct LrpoRestorer {
    inner: Mutex<Restorer>,
}

impl LrpoRestorer {
    fn with<T>(&self, f: impl FnOnce(&mut Restorer) -> T) -> T {
        // A panic in an earlier call left plain data behind: carry on with it.
        let mut r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut r)
    }
}

/// The restorer behind handle `r`.
///
/// # Safety
/// `r` is NULL or a handle from `lrpo_open` not yet closed.
unsafe fn handle<'a>(r: *const LrpoRestorer) -> Result<&'a LrpoRestorer, Failure> {
    // SAFETY: as the caller promises.
    unsafe { r.as_ref() }.ok_or_else(|| Failure::argument("restorer is NULL"))
}

/// Writes the default options into `*options`.
///
/// # Safety
/// `options` is NULL (then `LRPO_STATUS_INVALID_ARGUMENT`) or points to an `LrpoOptions`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lrpo_options_default(options: *mut LrpoOptions) -> LrpoStatus {
    guard(|| {
        // SAFETY: as the caller promises.
        let o = unsafe { options.as_mut() }.ok_or_else(|| Failure::argument("options is NULL"))?;
        *o = LrpoOptions::default();
        Ok(())
    })
}

/// Opens model folder `model_dir` (holding `gt_student_int8.onnx` or the policy named in the
/// options, with its `.card`, and `mtcnn/`) with `options` (NULL: defaults) and stores a new
/// restorer in `*out` (NULL on failure). Loading builds and times the policy's plan: expect
/// tens of milliseconds to a few seconds, not a per-frame cost.
///
/// # Safety
/// `model_dir` a NUL-terminated string; `options` NULL or valid; `out` points to writable
/// storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lrpo_open(
    model_dir: *const c_char,
    options: *const LrpoOptions,
    out: *mut *mut LrpoRestorer,
) -> LrpoStatus {
    guard(|| {
        if out.is_null() {
            return Err(Failure::argument("out is NULL"));
        }
        // SAFETY: checked non-NULL; the caller gives writable storage.
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: as the caller promises.
        let dir = unsafe { restorer::c_str(model_dir, "model_dir") }?
            .ok_or_else(|| Failure::argument("model_dir is NULL"))?;
        // SAFETY: as the caller promises.
        let o = unsafe { options.as_ref() }.copied().unwrap_or_default();
        // SAFETY: as the caller promises of `options.policy`.
        let policy = unsafe { restorer::c_str(o.policy, "options.policy") }?;
        let r = Restorer::open(&PathBuf::from(dir), &o, policy.as_deref())?;
        let boxed = Box::new(LrpoRestorer {
            inner: Mutex::new(r),
        });
        // SAFETY: checked non-NULL above.
        unsafe { *out = Box::into_raw(boxed) };
        Ok(())
    })
}

/// Restores the faces of `input` into `output`, or in place when `output` is NULL (needs
/// upscale 1). An output frame has the input's format and the input's size times the upscale
/// factor, in memory that does not overlap the input. A frame without faces is left unchanged
/// (copied to the output). The faces and timings of this frame are then read with `lrpo_face`
/// and `lrpo_timings`.
///
/// # Safety
/// `r` a handle from `lrpo_open`; `input` (and `output` when not NULL) point to frame
/// descriptions whose buffers hold the bytes they describe, the input readable, the output
/// (or, in place, the input) writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lrpo_restore(
    r: *mut LrpoRestorer,
    input: *const LrpoFrame,
    output: *const LrpoFrame,
) -> LrpoStatus {
    guard(|| {
        // SAFETY: as the caller promises.
        let h = unsafe { handle(r) }?;
        // SAFETY: as the caller promises.
        let input = unsafe { input.as_ref() }.ok_or_else(|| Failure::argument("input is NULL"))?;
        // SAFETY: as the caller promises.
        let output = unsafe { output.as_ref() };
        // SAFETY: the buffers are as the caller promises.
        h.with(|s| unsafe { s.restore(input, output) })
    })
}

/// Stores in `*count` the number of faces restored in the last frame.
///
/// # Safety
/// `r` a handle from `lrpo_open`; `count` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lrpo_face_count(r: *const LrpoRestorer, count: *mut u32) -> LrpoStatus {
    guard(|| {
        // SAFETY: as the caller promises.
        let h = unsafe { handle(r) }?;
        // SAFETY: as the caller promises.
        let c = unsafe { count.as_mut() }.ok_or_else(|| Failure::argument("count is NULL"))?;
        *c = h.with(|s| s.faces().len() as u32);
        Ok(())
    })
}

/// Stores face `index` (0-based, in the order they were pasted) of the last frame in `*face`.
///
/// # Safety
/// `r` a handle from `lrpo_open`; `face` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lrpo_face(
    r: *const LrpoRestorer,
    index: u32,
    face: *mut LrpoFace,
) -> LrpoStatus {
    guard(|| {
        // SAFETY: as the caller promises.
        let h = unsafe { handle(r) }?;
        // SAFETY: as the caller promises.
        let f = unsafe { face.as_mut() }.ok_or_else(|| Failure::argument("face is NULL"))?;
        *f = h.with(|s| {
            let n = s.faces().len();
            s.faces().get(index as usize).copied().ok_or_else(|| {
                Failure::argument(format!("face {index}: the last frame has {n} face(s)"))
            })
        })?;
        Ok(())
    })
}

/// Stores the last frame's timings in `*timings`.
///
/// # Safety
/// `r` a handle from `lrpo_open`; `timings` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lrpo_timings(
    r: *const LrpoRestorer,
    timings: *mut LrpoTimings,
) -> LrpoStatus {
    guard(|| {
        // SAFETY: as the caller promises.
        let h = unsafe { handle(r) }?;
        // SAFETY: as the caller promises.
        let t = unsafe { timings.as_mut() }.ok_or_else(|| Failure::argument("timings is NULL"))?;
        *t = h.with(|s| s.timings());
        Ok(())
    })
}

/// Forgets the faces tracked so far (after a scene cut or a camera switch): the next frame is
/// a detection frame.
///
/// # Safety
/// `r` a handle from `lrpo_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lrpo_reset(r: *mut LrpoRestorer) -> LrpoStatus {
    guard(|| {
        // SAFETY: as the caller promises.
        let h = unsafe { handle(r) }?;
        h.with(|s| s.reset());
        Ok(())
    })
}

/// Closes a restorer and frees it; NULL is ignored.
///
/// # Safety
/// `r` NULL or a handle from `lrpo_open`, not used again afterwards nor by another thread
/// meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lrpo_close(r: *mut LrpoRestorer) {
    if r.is_null() {
        return;
    }
    // Dropping the models cannot fail; a panic there is still not let through.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as the caller promises: from `Box::into_raw` in `lrpo_open`, not yet freed.
        drop(unsafe { Box::from_raw(r) });
    }));
}

/// Stores in `*bytes` the size of a packed `width × height` frame of `format` (rows without
/// padding; NV12's two planes together), e.g. to allocate an upscaled output.
///
/// # Safety
/// `bytes` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lrpo_frame_bytes(
    format: u32,
    width: u32,
    height: u32,
    bytes: *mut usize,
) -> LrpoStatus {
    guard(|| {
        // SAFETY: as the caller promises.
        let b = unsafe { bytes.as_mut() }.ok_or_else(|| Failure::argument("bytes is NULL"))?;
        *b = pixel_format(format)?
            .frame_bytes(width as usize, height as usize)
            .map_err(|e| Failure::argument(e.to_string()))?;
        Ok(())
    })
}

/// The message of the calling thread's last failed call ("" when its last call succeeded).
/// Valid until this thread's next `lrpo_` call; never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn lrpo_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// A static description of a status code (e.g. "invalid argument"; "unknown status" for a
/// value that is none of them); never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn lrpo_status_string(status: i32) -> *const c_char {
    const ALL: [(LrpoStatus, &[u8]); 5] = [
        (LrpoStatus::Ok, b"ok\0"),
        (LrpoStatus::InvalidArgument, b"invalid argument\0"),
        (
            LrpoStatus::Model,
            b"model folder, policy or detector missing or invalid\0",
        ),
        (LrpoStatus::Frame, b"restoring the frame failed\0"),
        (LrpoStatus::Internal, b"internal error\0"),
    ];
    let s: &'static [u8] = ALL
        .iter()
        .find(|(c, _)| *c as i32 == status)
        .map_or(b"unknown status\0", |(_, s)| s);
    s.as_ptr().cast()
}

/// The library's version, e.g. "0.1.0"; never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn lrpo_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last_error() -> String {
        unsafe { CStr::from_ptr(lrpo_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_an_internal_error_with_its_message() {
        let s = guard(|| panic!("boom at frame 3"));
        assert_eq!(s, LrpoStatus::Internal);
        assert!(last_error().contains("boom at frame 3"), "{}", last_error());
        assert_eq!(guard(|| Ok(())), LrpoStatus::Ok);
        assert_eq!(last_error(), "");
    }

    #[test]
    fn messages_are_per_thread() {
        assert_eq!(
            guard(|| Err(Failure::argument("here"))),
            LrpoStatus::InvalidArgument
        );
        let other = std::thread::spawn(|| {
            guard(|| Err(Failure::model("there")));
            last_error()
        })
        .join()
        .unwrap();
        assert_eq!((last_error().as_str(), other.as_str()), ("here", "there"));
    }
}
