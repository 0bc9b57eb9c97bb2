//! The on-camera pipeline (DESIGN §6): detect faces → (optionally upscale the frame by
//! `upscale`) → align each face to the FFHQ template at its crop side → restore → inverse-warp
//! and blend back with a feathered mask.
//!
//! A face's crop side comes from the face ([`crop_side`]): a one-step policy whose card accepts
//! other sides restores each face at its own resolution (never below the card's size), so a
//! large face is not shrunk to the policy's size and blown back up. For a policy that only
//! takes its own size (ε-models: the sampling cost grows with the side), a face that holds more
//! detail than that size can carry is left as it is (the detail gate), so that a sharp face is
//! not restored blurred (a safety net, not a guarantee: a soft face can pass the gate).

use crate::error::{Error, Result};
use crate::runtime::Policy;
use lrpo_shared::align::{
    Border, Interp, Landmarks, MaskShape, Similarity, face_to_crop, paste_back, paste_mask,
    warp_to_crop,
};
use lrpo_shared::card::{ModelKind, PolicyCard};
use lrpo_shared::image::check_rgb;
use lrpo_shared::onnx::detect::{Detection, FaceDetector};
use lrpo_shared::resize::{Filter, resize, resize_antialiased};
use ndarray::{Array2, Array3, ArrayView3};
use std::time::Instant;

/// Which faces to restore and how to blend them.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineOptions {
    /// Restore only the face closest to the frame's centre.
    pub only_center_face: bool,
    /// Restore at most this many faces (the most confident first); `None` = all.
    pub max_faces: Option<usize>,
    /// Width of the blend's soft edge as a fraction of the crop side (0–0.5). Default 0.1.
    pub feather: f64,
    /// Where a restored face is pasted: the face ellipse (default) or the whole square crop.
    pub mask: MaskShape,
    /// The detail gate in dB (`None`: off). A face larger than the policy's size is shrunk to
    /// that size and enlarged back; when that round trip keeps it within this PSNR, the face
    /// holds no detail finer than the policy's size and is restored there, at the scale the
    /// policy was trained at; otherwise it holds detail the policy's scale cannot carry and is
    /// left as it is instead of being restored blurred ([`Pipeline::gate_faces`]). Default
    /// [`DEFAULT_DETAIL_GATE_DB`]; off restores every face at [`crop_side`] (its own side, for
    /// a policy that takes any side).
    pub detail_gate: Option<f64>,
    /// Upscaling factor of the output frame (1, 2 or 4, as GFPGAN's `-s`): faces are found on
    /// the input, the frame is enlarged (bicubic) and every face restored at its enlarged size.
    /// Default 1.
    pub upscale: usize,
    /// Longest side (px) of the frame the detector sees: a larger frame is shrunk
    /// (antialiased) for detection and the detections scaled back, so a photo's detection costs
    /// what a frame of this size costs in time and memory; faces are still aligned and
    /// restored from the full frame. The smallest face found is then the detector's minimum
    /// times `long side / detect_max_side`. `None`: detect on the full frame. Default
    /// [`DEFAULT_DETECT_MAX_SIDE`].
    pub detect_max_side: Option<usize>,
    /// Faces of one frame restored at the same time, each on its own thread (1: one after
    /// another). A frame's faces are independent until they are pasted (in order), so on a
    /// multi-core board this divides a frame's restoration time by up to this; tract's own
    /// threads split single products, which barely helps at face sizes. Default 1.
    pub face_workers: usize,
}

/// Default [`PipelineOptions::detect_max_side`]: 1600 px, so that camera frames up to 1600 px
/// (and 1080p) are detected as they are, while a 33-megapixel photo's detection costs what a
/// 2.5-megapixel one does (faces from 96 px up are found in a 7680-px-wide photo).
pub const DEFAULT_DETECT_MAX_SIDE: usize = 1600;

/// The upscaling factors [`PipelineOptions::upscale`] accepts.
pub const UPSCALE_FACTORS: [usize; 3] = [1, 2, 4];

/// The largest crop side (px) a face is restored at: a face larger than this is aligned at
/// this side (its detail above it is then smoothed, which the detail gate reports).
pub const MAX_CROP_SIDE: usize = 512;

/// The side at which a policy restores a face whose own resolution is `native` px
/// ([`native_side`]): for a one-step policy whose card accepts any multiple of
/// `multiple_of`, the native side rounded up to that multiple, at least the card's size and at
/// most [`MAX_CROP_SIDE`]; otherwise (ε-models, fixed-size cards) the card's size.
pub fn crop_side(card: &PolicyCard, native: usize) -> usize {
    let (lo, hi, m) = side_range(card);
    (native.div_ceil(m) * m).clamp(lo, hi)
}

/// The smallest and largest crop sides a policy restores faces at, and their step: the card's
/// size alone (step 1) unless it is a one-step policy that takes any multiple of `multiple_of`,
/// then from the card's size up to [`MAX_CROP_SIDE`] in steps of `multiple_of`.
fn side_range(card: &PolicyCard) -> (usize, usize, usize) {
    let (size, m) = (card.input.size as usize, card.input.multiple_of as usize);
    if card.kind != ModelKind::OneStep || m == 0 {
        return (size, size, 1);
    }
    let limit = (MAX_CROP_SIDE / m).max(1) * m;
    (size.min(limit), limit, m)
}

/// Default of [`PipelineOptions::detail_gate`], for the 128-px student: chosen on the face
/// set's validation photos, whose faces (168–552 px) score 30.4–39.6 dB through 128 px when
/// clean (they hold finer detail: kept) and 43.1–54.1 dB after degrading the photos
/// (`degrade --unscaled`, seed 7: restored); the gate sits between. A policy of another size
/// needs its own value (the earlier 64-px student used 32.5).
pub const DEFAULT_DETAIL_GATE_DB: f64 = 41.5;

/// A face to restore and the side of the crop it is restored at.
#[derive(Debug, Clone)]
pub struct PlannedFace {
    /// Where it was found.
    pub detection: Detection,
    /// Side of its aligned crop in pixels (one the policy's card accepts).
    pub side: usize,
}

/// A face the pipeline found but left unchanged, and why.
#[derive(Debug, Clone)]
pub struct KeptFace {
    /// Where it was found.
    pub detection: Detection,
    /// The crop side at which the face is at its own resolution.
    pub native_side: usize,
    /// PSNR (dB) of its round trip through the policy's size.
    pub detail_db: f64,
}

/// Crop side at which the alignment of `landmarks` neither shrinks nor enlarges the frame
/// (`512 / scale` of the 512-px alignment), rounded to a multiple of 8, at least 8.
pub fn native_side(landmarks: &Landmarks) -> Result<usize> {
    let s512 = face_to_crop(landmarks, 512)?.scale();
    let side = (512.0 / s512).round() as usize;
    Ok((side / 8).max(1) * 8)
}

/// PSNR (dB) between a face aligned at its own side (capped at 512 px) and the same crop
/// shrunk to `size` px (antialiased) and enlarged back (bicubic): how much of the face's detail
/// a `size`-px crop loses. `+∞` when the face is not larger than `size`. Returns the native side
/// and the PSNR.
pub fn round_trip_psnr(
    frame: &ArrayView3<f32>,
    landmarks: &Landmarks,
    size: usize,
) -> Result<(usize, f64)> {
    let native = native_side(landmarks)?;
    let side = native.min(MAX_CROP_SIDE);
    if side <= size {
        return Ok((native, f64::INFINITY));
    }
    let t = face_to_crop(landmarks, side)?;
    let crop = warp_to_crop(frame, &t, side, Interp::Bicubic, Border::Replicate)?;
    let small = resize_antialiased(&crop.view(), size, size)?;
    let back = resize(&small.view(), side, side, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0));
    Ok((
        native,
        lrpo_shared::metrics::psnr(&back.view(), &crop.view())?,
    ))
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            only_center_face: false,
            max_faces: None,
            feather: 0.1,
            mask: MaskShape::Face,
            detail_gate: Some(DEFAULT_DETAIL_GATE_DB),
            upscale: 1,
            detect_max_side: Some(DEFAULT_DETECT_MAX_SIDE),
            face_workers: 1,
        }
    }
}

/// One restored face.
#[derive(Debug, Clone)]
pub struct FaceResult {
    /// Where it was found (and its landmarks, possibly smoothed).
    pub detection: Detection,
    /// The aligned crop fed to the policy (its side: [`crop_side`] of the face).
    pub crop: Array3<f32>,
    /// The policy's output.
    pub restored: Array3<f32>,
    /// Milliseconds spent in the policy for this face.
    pub restore_ms: f64,
    /// The frame-to-crop transform it was aligned with and pasted back by (its footprint in
    /// the frame: [`lrpo_shared::align::crop_footprint`]).
    pub to_crop: Similarity,
}

/// A processed frame.
#[derive(Debug, Clone)]
pub struct FrameResult {
    /// The output frame (the input unchanged where no face was restored).
    pub frame: Array3<f32>,
    /// The faces restored, in the order they were pasted.
    pub faces: Vec<FaceResult>,
    /// Milliseconds spent detecting.
    pub detect_ms: f64,
    /// Faces found but left unchanged by the detail gate.
    pub kept: Vec<KeptFace>,
}

/// `f(0), …, f(n − 1)` on up to `workers` threads (item k on thread k mod workers), in order;
/// the first error is returned after all ran.
pub(crate) fn on_workers<R: Send>(
    n: usize,
    workers: usize,
    f: impl Fn(usize) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let workers = workers.clamp(1, n.max(1));
    if workers == 1 {
        return (0..n).map(f).collect();
    }
    let mut slots: Vec<Option<Result<R>>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                scope.spawn(move || {
                    (w..n)
                        .step_by(workers)
                        .map(|k| (k, f(k)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(done) => done.into_iter().for_each(|(k, r)| slots[k] = Some(r)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    slots
        .into_iter()
        .map(|r| r.expect("every item was given to a worker"))
        .collect()
}

/// The paste masks of one frame, one per crop side (made when first needed).
#[derive(Default)]
pub(crate) struct PasteMasks(Vec<(usize, Array2<f32>)>);

impl PasteMasks {
    /// The mask for `side`-px crops under `options` (feather, shape).
    pub(crate) fn get(&mut self, side: usize, options: &PipelineOptions) -> &Array2<f32> {
        if let Some(i) = self.0.iter().position(|(s, _)| *s == side) {
            return &self.0[i].1;
        }
        self.0
            .push((side, paste_mask(side, options.feather, options.mask)));
        &self.0.last().expect("just added").1
    }
}

/// A policy plus a detector.
pub struct Pipeline {
    /// The restoration policy.
    pub policy: Policy,
    /// The face detector (absent for `--aligned` use).
    pub detector: Option<Box<dyn FaceDetector>>,
    /// Options.
    pub options: PipelineOptions,
}

/// Picks the faces to restore: the most confident first, or only the one closest to the
/// centre, at most `max_faces`.
pub fn select_faces(
    mut faces: Vec<Detection>,
    width: usize,
    height: usize,
    o: &PipelineOptions,
) -> Vec<Detection> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    if o.only_center_face && !faces.is_empty() {
        let (cx, cy) = (width as f64 / 2.0, height as f64 / 2.0);
        let d = |f: &Detection| {
            ((f.bbox[0] + f.bbox[2]) / 2.0 - cx).hypot((f.bbox[1] + f.bbox[3]) / 2.0 - cy)
        };
        let best = faces
            .iter()
            .enumerate()
            .min_by(|a, b| d(a.1).total_cmp(&d(b.1)))
            .map(|(i, _)| i)
            .unwrap();
        faces = vec![faces.swap_remove(best)];
    }
    if let Some(m) = o.max_faces {
        faces.truncate(m);
    }
    faces
}

impl Pipeline {
    /// Detects faces in `frame` (on a copy shrunk to [`PipelineOptions::detect_max_side`]
    /// when the frame is larger; detections in the frame's coordinates).
    pub fn detect(&self, frame: &ArrayView3<f32>) -> Result<Vec<Detection>> {
        let (_, h, w) = frame.dim();
        match self.detection_size(h, w) {
            Some((dh, dw)) => {
                let small = resize_antialiased(frame, dh, dw)?;
                self.detect_shrunk(&small.view(), h, w)
            }
            None => Ok(self.detector()?.detect(frame)?),
        }
    }

    /// The detector, or [`Error::NoDetector`].
    pub(crate) fn detector(&self) -> Result<&dyn FaceDetector> {
        self.detector.as_deref().ok_or(Error::NoDetector)
    }

    /// The size `(height, width)` of the copy an `h × w` frame is detected on, `None` when it
    /// is detected as it is ([`PipelineOptions::detect_max_side`]).
    pub(crate) fn detection_size(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let long = h.max(w);
        match self.options.detect_max_side {
            Some(m) if long > m => {
                let s = m as f64 / long as f64;
                Some((
                    ((h as f64 * s).round() as usize).max(1),
                    ((w as f64 * s).round() as usize).max(1),
                ))
            }
            _ => None,
        }
    }

    /// Detects faces on `small`, a shrunk copy of an `h × w` frame, in the frame's coordinates.
    pub(crate) fn detect_shrunk(
        &self,
        small: &ArrayView3<f32>,
        h: usize,
        w: usize,
    ) -> Result<Vec<Detection>> {
        let (_, dh, dw) = small.dim();
        let found = self.detector()?.detect(small)?;
        let (sx, sy) = (w as f64 / dw as f64, h as f64 / dh as f64);
        Ok(found
            .iter()
            .map(|d| scale_detection_xy(d, sx, sy))
            .collect())
    }

    /// Decides, face by face, the side each is restored at, or that the detail gate keeps it
    /// as it is (see [`PipelineOptions::detail_gate`]). With the gate a face is restored at
    /// the policy's size when its round trip through that size scores at least the gate, and
    /// kept otherwise; without it every face is restored at [`crop_side`].
    pub fn gate_faces(
        &self,
        frame: &ArrayView3<f32>,
        faces: Vec<Detection>,
    ) -> Result<(Vec<PlannedFace>, Vec<KeptFace>)> {
        let Some(gate) = self.options.detail_gate else {
            return faces
                .into_iter()
                .map(|f| self.plan(f))
                .collect::<Result<_>>()
                .map(|p| (p, vec![]));
        };
        let size = self.policy.crop_size();
        let (mut restore, mut kept) = (Vec::new(), Vec::new());
        for f in faces {
            let (native_side, detail_db) = round_trip_psnr(frame, &f.landmarks, size)?;
            if detail_db >= gate {
                restore.push(PlannedFace {
                    detection: f,
                    side: size,
                });
            } else {
                kept.push(KeptFace {
                    detection: f,
                    native_side,
                    detail_db,
                });
            }
        }
        Ok((restore, kept))
    }

    /// Face `f` restored at [`crop_side`] of its native side (no gate).
    pub fn plan(&self, f: Detection) -> Result<PlannedFace> {
        let side = self.crop_side_for(&f)?;
        Ok(PlannedFace { detection: f, side })
    }

    /// Restores the given faces (landmarks) of a frame. Faces are cropped from the input frame
    /// and pasted in order, so overlapping faces blend one over the other without feeding a
    /// restored face back into the next crop.
    pub fn restore_faces(
        &self,
        frame: &ArrayView3<f32>,
        faces: &[PlannedFace],
    ) -> Result<(Array3<f32>, Vec<FaceResult>)> {
        self.restore_faces_on(frame, faces, self.options.face_workers)
    }

    /// [`Pipeline::restore_faces`] with the faces on `workers` threads instead of
    /// [`PipelineOptions::face_workers`] (1 where frames are what runs in parallel).
    pub fn restore_faces_on(
        &self,
        frame: &ArrayView3<f32>,
        faces: &[PlannedFace],
        workers: usize,
    ) -> Result<(Array3<f32>, Vec<FaceResult>)> {
        let mut out = frame.to_owned();
        let results = self.restore_faces_in_place(&mut out, faces, workers)?;
        Ok((out, results))
    }

    /// [`Pipeline::restore_faces_on`] into the frame itself (no copy of it): every face is
    /// cropped before any is pasted, so the result is the same.
    pub fn restore_faces_in_place(
        &self,
        frame: &mut Array3<f32>,
        faces: &[PlannedFace],
        workers: usize,
    ) -> Result<Vec<FaceResult>> {
        check_rgb(&frame.view(), "frame")?;
        let restored = self.restore_crops(&frame.view(), faces, workers)?;
        self.paste_faces(frame, restored)
    }

    /// Crops and restores every planned face of `frame` (nothing pasted yet).
    fn restore_crops(
        &self,
        frame: &ArrayView3<f32>,
        faces: &[PlannedFace],
        workers: usize,
    ) -> Result<Vec<FaceResult>> {
        on_workers(faces.len(), workers, |k| {
            self.restore_crop(frame, k, &faces[k])
        })
    }

    /// Crops and restores face `k` of `frame`.
    pub(crate) fn restore_crop(
        &self,
        frame: &ArrayView3<f32>,
        k: usize,
        face: &PlannedFace,
    ) -> Result<FaceResult> {
        let PlannedFace { detection: f, side } = face;
        let size = *side;
        if !self.policy.card().accepts_size(size as u32) {
            return Err(Error::input(
                format!("face {k}"),
                format!("a {size} px crop does not fit this policy"),
            ));
        }
        let t = face_to_crop(&f.landmarks, size)?;
        let crop = warp_to_crop(frame, &t, size, Interp::Bicubic, Border::Replicate)?;
        let start = Instant::now();
        let restored = self.policy.restore_stream(&crop.view(), k as u64)?;
        let restore_ms = start.elapsed().as_secs_f64() * 1e3;
        Ok(FaceResult {
            detection: f.clone(),
            crop,
            restored,
            restore_ms,
            to_crop: t,
        })
    }

    /// Pastes restored faces into `out`, in order (feathered).
    fn paste_faces(
        &self,
        out: &mut Array3<f32>,
        restored: Vec<FaceResult>,
    ) -> Result<Vec<FaceResult>> {
        let mut results = Vec::with_capacity(restored.len());
        let mut masks = PasteMasks::default();
        for r in restored {
            let mask = masks.get(r.restored.shape()[1], &self.options);
            paste_back(
                &mut out.view_mut(),
                &r.restored.view(),
                &r.to_crop,
                Interp::Bicubic,
                &mask.view(),
            )?;
            results.push(r);
        }
        Ok(results)
    }

    /// [`Pipeline::process`] on a frame the caller gives up: the faces are cropped from it
    /// first and then pasted into it, so no second full-frame copy is made (the same output;
    /// 12 bytes per pixel less at the peak). With upscaling the enlarged frame is the output
    /// anyway and this is `process`.
    pub fn process_owned(&self, frame: Array3<f32>) -> Result<FrameResult> {
        if self.options.upscale > 1 {
            return self.process(&frame.view());
        }
        let (faces, detect_ms) = self.find_faces(&frame.view())?;
        let (faces, kept) = self.gate_faces(&frame.view(), faces)?;
        let mut frame = frame;
        let faces = self.restore_faces_in_place(&mut frame, &faces, self.options.face_workers)?;
        Ok(FrameResult {
            frame,
            faces,
            detect_ms,
            kept,
        })
    }

    /// The side face `f` is restored at ([`crop_side`] of its native side).
    pub fn crop_side_for(&self, f: &Detection) -> Result<usize> {
        Ok(crop_side(self.policy.card(), native_side(&f.landmarks)?))
    }

    /// Detects and selects the faces of a frame (in its coordinates), with the milliseconds
    /// detection took.
    fn find_faces(&self, frame: &ArrayView3<f32>) -> Result<(Vec<Detection>, f64)> {
        let (h, w) = check_rgb(frame, "frame")?;
        let start = Instant::now();
        let found = self.detect(frame)?;
        let detect_ms = start.elapsed().as_secs_f64() * 1e3;
        Ok((select_faces(found, w, h, &self.options), detect_ms))
    }

    /// Detects, selects and restores the faces of a frame (upscaled by
    /// [`PipelineOptions::upscale`] first). A frame without faces comes back unchanged (but
    /// upscaled) with an empty face list; detections are in output-frame coordinates.
    pub fn process(&self, frame: &ArrayView3<f32>) -> Result<FrameResult> {
        let (faces, detect_ms) = self.find_faces(frame)?;
        let n = self.options.upscale;
        let upscaled = (n > 1).then(|| upscale_frame(frame, n)).transpose()?;
        let frame = upscaled.as_ref().map_or_else(|| frame.view(), |u| u.view());
        let faces = if n > 1 {
            faces.iter().map(|f| scale_detection(f, n as f64)).collect()
        } else {
            faces
        };
        let (faces, kept) = self.gate_faces(&frame, faces)?;
        let (frame, faces) = self.restore_faces(&frame, &faces)?;
        Ok(FrameResult {
            frame,
            faces,
            detect_ms,
            kept,
        })
    }

    /// Restores an image that already is an aligned face crop: at its own size when the policy
    /// accepts it, else resized to the policy's crop size (bicubic), restored, and resized back.
    pub fn process_aligned(&self, img: &ArrayView3<f32>) -> Result<Array3<f32>> {
        self.process_aligned_stream(img, 0)
    }

    /// [`Pipeline::process_aligned`] with the sampler noise of sub-stream `stream` (see
    /// [`Policy::restore_stream`]).
    pub fn process_aligned_stream(
        &self,
        img: &ArrayView3<f32>,
        stream: u64,
    ) -> Result<Array3<f32>> {
        let (h, w) = check_rgb(img, "aligned face")?;
        if h != w {
            return Err(Error::input(
                "aligned face",
                format!("an aligned face crop must be square, got {w}x{h}"),
            ));
        }
        let size = self.policy.crop_size();
        if self.policy.card().accepts_size(h as u32) && crop_side(self.policy.card(), h) == h {
            return self.policy.restore_stream(img, stream);
        }
        let x = resize(img, size, size, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0));
        let y = self.policy.restore_stream(&x.view(), stream)?;
        Ok(resize(&y.view(), h, w, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0)))
    }
}

/// The crop sides a policy restores faces at, in words (e.g. `128 px crops` or `faces at their
/// own size, 128-512 px in steps of 4`).
pub fn sizes_description(card: &PolicyCard) -> String {
    match side_range(card) {
        (lo, hi, _) if lo == hi => format!("{lo} px crops"),
        (lo, hi, m) => format!("faces at their own size, {lo}-{hi} px in steps of {m}"),
    }
}

/// Checks an upscaling factor (one of [`UPSCALE_FACTORS`]).
pub fn check_upscale(n: usize) -> Result<usize> {
    if !UPSCALE_FACTORS.contains(&n) {
        return Err(Error::input(
            "--upscale",
            format!("the upscaling factor must be 1, 2 or 4, got {n}"),
        ));
    }
    Ok(n)
}

/// Largest output frame (pixels) the pipeline makes when upscaling: 8192 × 8192 (768 MiB as
/// f32 RGB).
pub const MAX_UPSCALED_PIXELS: usize = 8192 * 8192;

/// `frame` enlarged `n` times (bicubic, clamped to [0, 1]).
pub fn upscale_frame(frame: &ArrayView3<f32>, n: usize) -> Result<Array3<f32>> {
    let (_, h, w) = frame.dim();
    let (uh, uw) = (h * n, w * n);
    if uh.checked_mul(uw).is_none_or(|p| p > MAX_UPSCALED_PIXELS) {
        return Err(Error::input(
            "frame",
            format!(
                "upscaling a {w}x{h} frame {n} times gives {uw}x{uh}, more than the {MAX_UPSCALED_PIXELS} pixels the pipeline makes"
            ),
        ));
    }
    Ok(resize(frame, uh, uw, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0)))
}

/// A detection in the coordinates of the frame enlarged `s` times (pixel centres at
/// `(i + 0.5)·s − 0.5`, as the bicubic resize samples them).
pub fn scale_detection(d: &Detection, s: f64) -> Detection {
    scale_detection_xy(d, s, s)
}

/// [`scale_detection`] with separate horizontal and vertical factors (a frame resized to a
/// rounded size).
pub fn scale_detection_xy(d: &Detection, sx: f64, sy: f64) -> Detection {
    let px = |v: f64| (v + 0.5) * sx - 0.5;
    let py = |v: f64| (v + 0.5) * sy - 0.5;
    let mut out = d.clone();
    out.bbox = [px(d.bbox[0]), py(d.bbox[1]), px(d.bbox[2]), py(d.bbox[3])];
    for l in out.landmarks.iter_mut() {
        *l = [px(l[0]), py(l[1])];
    }
    out
}

/// Exponential smoothing of landmarks between detections in a video: `s ← α·new + (1 − α)·s`.
pub fn smooth_landmarks(prev: &Landmarks, new: &Landmarks, alpha: f64) -> Landmarks {
    std::array::from_fn(|i| {
        [
            alpha * new[i][0] + (1.0 - alpha) * prev[i][0],
            alpha * new[i][1] + (1.0 - alpha) * prev[i][1],
        ]
    })
}
