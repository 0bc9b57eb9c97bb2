//! Restoring the faces of a photo in its own 8-bit buffer, without a full-frame f32 copy.
//!
//! [`Pipeline::process`] works on an f32 frame (12 bytes per pixel, plus its output copy);
//! for a large photo on a camera board that is most of the memory. Here the frame stays the
//! decoded 8-bit RGB buffer (3 bytes per pixel): faces are detected on a shrunk f32 copy made
//! straight from the bytes ([`lrpo_shared::resize::resize_antialiased_rgb8`], bounded by
//! [`crate::pipeline::PipelineOptions::detect_max_side`]); each face is aligned from an f32
//! copy of only the frame region its crop covers, and pasted back through such a region. The
//! crops are the ones the f32 pipeline takes (the region holds every pixel their bicubic
//! sampling reads), so the faces restored are the same; the output differs from the f32
//! pipeline's only where two faces' pastes overlap (the second blends over the first one's
//! 8-bit values instead of its f32 ones).

use crate::error::{Error, Result};
use crate::pipeline::{
    FaceResult, KeptFace, PasteMasks, Pipeline, PlannedFace, on_workers, select_faces,
};
use lrpo_shared::align::{FrameRect, Interp, Similarity, crop_footprint, face_to_crop, paste_back};
use lrpo_shared::image::Rgb8Image;
use lrpo_shared::onnx::detect::Detection;
use ndarray::Array3;
use std::time::Instant;

/// Pixels around a crop's footprint that its bicubic sampling can still read.
const SAMPLING_MARGIN: usize = 3;

/// What [`Pipeline::process_rgb8`] did to a frame (the frame itself was changed in place).
#[derive(Debug, Clone)]
pub struct InPlaceResult {
    /// The faces restored, in the order they were pasted (frame coordinates).
    pub faces: Vec<FaceResult>,
    /// Milliseconds spent detecting.
    pub detect_ms: f64,
    /// Faces found but left unchanged by the detail gate.
    pub kept: Vec<KeptFace>,
}

/// `d` moved by `(dx, dy)` pixels.
fn shifted(d: &Detection, dx: f64, dy: f64) -> Detection {
    Detection {
        bbox: [
            d.bbox[0] + dx,
            d.bbox[1] + dy,
            d.bbox[2] + dx,
            d.bbox[3] + dy,
        ],
        score: d.score,
        landmarks: d.landmarks.map(|[x, y]| [x + dx, y + dy]),
    }
}

/// The frame → region transform of a region starting at `(x0, y0)`.
fn to_region(r: &FrameRect) -> Similarity {
    Similarity {
        tx: -(r.x0 as f64),
        ty: -(r.y0 as f64),
        ..Similarity::IDENTITY
    }
}

/// The region of `img` in f32 CHW [0, 1].
fn region_f32(img: &Rgb8Image, r: &FrameRect) -> Array3<f32> {
    let (rw, rh) = (r.x1 - r.x0, r.y1 - r.y0);
    Array3::from_shape_fn((3, rh, rw), |(c, y, x)| {
        img.data[((r.y0 + y) * img.width + r.x0 + x) * 3 + c] as f32 / 255.0
    })
}

/// Writes an f32 region back into `img` (rounded as [`lrpo_shared::image::to_rgb8`] rounds).
fn write_region(img: &mut Rgb8Image, r: &FrameRect, region: &Array3<f32>) {
    for ((c, y, x), v) in region.indexed_iter() {
        img.data[((r.y0 + y) * img.width + r.x0 + x) * 3 + c] =
            (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    }
}

/// The frame region (grown by [`SAMPLING_MARGIN`], clipped) that the aligned crop of a face
/// with these landmarks covers, at any side (a crop covers the same part of the frame at
/// every side). `None` when it lies outside the frame.
fn face_region(
    landmarks: &lrpo_shared::align::Landmarks,
    w: usize,
    h: usize,
) -> Result<Option<FrameRect>> {
    let t = face_to_crop(landmarks, 512)?;
    Ok(crop_footprint(&t, 512, h, w)?.map(|r| FrameRect {
        x0: r.x0.saturating_sub(SAMPLING_MARGIN),
        y0: r.y0.saturating_sub(SAMPLING_MARGIN),
        x1: (r.x1 + SAMPLING_MARGIN).min(w),
        y1: (r.y1 + SAMPLING_MARGIN).min(h),
    }))
}

impl Pipeline {
    /// Detects, selects and restores the faces of an 8-bit frame in place (see the module
    /// docs). Needs [`crate::pipeline::PipelineOptions::upscale`] 1 (an upscaled output is a
    /// new, larger frame: use [`Pipeline::process`]).
    pub fn process_rgb8(&self, img: &mut Rgb8Image) -> Result<InPlaceResult> {
        let (w, h) = (img.width, img.height);
        if w == 0 || h == 0 || img.data.len() != w * h * 3 {
            return Err(Error::input(
                "frame",
                format!("{} bytes are not a {w}x{h} RGB24 frame", img.data.len()),
            ));
        }
        if self.options.upscale != 1 {
            return Err(Error::input(
                "upscale",
                "restoring in place keeps the frame's size: upscale must be 1",
            ));
        }
        let start = Instant::now();
        let found = match self.detection_size(h, w) {
            Some((dh, dw)) => {
                let small = lrpo_shared::resize::resize_antialiased_rgb8(&img.data, w, h, dh, dw)?;
                self.detect_shrunk(&small.view(), h, w)?
            }
            None => {
                let full = lrpo_shared::image::from_rgb8(&img.data, w, h)?;
                self.detector()?.detect(&full.view())?
            }
        };
        let detect_ms = start.elapsed().as_secs_f64() * 1e3;
        let faces = select_faces(found, w, h, &self.options);

        // Each face's region, its gate decision and (when restored) its plan, in region
        // coordinates; all cropped from the input before anything is pasted.
        let mut planned: Vec<(FrameRect, Array3<f32>, PlannedFace)> = Vec::new();
        let mut kept = Vec::new();
        for f in faces {
            let Some(r) = face_region(&f.landmarks, w, h)? else {
                continue;
            };
            let region = region_f32(img, &r);
            let local = shifted(&f, -(r.x0 as f64), -(r.y0 as f64));
            let (restore, keep) = self.gate_faces(&region.view(), vec![local])?;
            for k in keep {
                kept.push(KeptFace {
                    detection: shifted(&k.detection, r.x0 as f64, r.y0 as f64),
                    ..k
                });
            }
            if let Some(p) = restore.into_iter().next() {
                planned.push((r, region, p));
            }
        }
        let restored = self.restore_regions(&planned)?;

        let mut masks = PasteMasks::default();
        let mut results = Vec::with_capacity(restored.len());
        for ((r, _, _), face) in planned.iter().zip(restored) {
            // Pasted through the current pixels of the region (earlier faces included).
            let mut region = region_f32(img, r);
            let mask = masks.get(face.restored.shape()[1], &self.options);
            paste_back(
                &mut region.view_mut(),
                &face.restored.view(),
                &face.to_crop,
                Interp::Bicubic,
                &mask.view(),
            )?;
            write_region(img, r, &region);
            results.push(FaceResult {
                detection: shifted(&face.detection, r.x0 as f64, r.y0 as f64),
                to_crop: to_region(r).then(&face.to_crop),
                ..face
            });
        }
        Ok(InPlaceResult {
            faces: results,
            detect_ms,
            kept,
        })
    }

    /// Restores each planned face from its region, on up to
    /// [`crate::pipeline::PipelineOptions::face_workers`] threads (results in face order).
    fn restore_regions(
        &self,
        planned: &[(FrameRect, Array3<f32>, PlannedFace)],
    ) -> Result<Vec<FaceResult>> {
        on_workers(planned.len(), self.options.face_workers, |k| {
            let (_, region, p) = &planned[k];
            self.restore_crop(&region.view(), k, p)
        })
    }
}
