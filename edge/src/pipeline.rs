//! The on-camera pipeline (DESIGN §6): detect faces → align each to the FFHQ template at the
//! policy's crop size → restore → inverse-warp and blend back with a feathered mask.

use crate::runtime::Policy;
use anyhow::{Result, ensure};
use lrpo_shared::align::{Border, Interp, Landmarks, face_to_crop, paste_back, warp_to_crop};
use lrpo_shared::image::check_rgb;
use lrpo_shared::onnx::detect::{Detection, FaceDetector};
use lrpo_shared::resize::{Filter, resize};
use ndarray::{Array3, ArrayView3};
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
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            only_center_face: false,
            max_faces: None,
            feather: 0.1,
        }
    }
}

/// One restored face.
#[derive(Debug, Clone)]
pub struct FaceResult {
    /// Where it was found (and its landmarks, possibly smoothed).
    pub detection: Detection,
    /// The aligned crop fed to the policy.
    pub crop: Array3<f32>,
    /// The policy's output.
    pub restored: Array3<f32>,
    /// Milliseconds spent in the policy for this face.
    pub restore_ms: f64,
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
    /// Detects faces in `frame`.
    pub fn detect(&self, frame: &ArrayView3<f32>) -> Result<Vec<Detection>> {
        let det = self
            .detector
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no face detector loaded"))?;
        Ok(det.detect(frame)?)
    }

    /// Restores the given faces (landmarks) of a frame. Faces are cropped from the input frame
    /// and pasted in order, so overlapping faces blend one over the other without feeding a
    /// restored face back into the next crop.
    pub fn restore_faces(
        &self,
        frame: &ArrayView3<f32>,
        faces: &[Detection],
    ) -> Result<(Array3<f32>, Vec<FaceResult>)> {
        check_rgb(frame, "frame")?;
        let size = self.policy.crop_size();
        let mut out = frame.to_owned();
        let mut results = Vec::with_capacity(faces.len());
        for (k, f) in faces.iter().enumerate() {
            let t = face_to_crop(&f.landmarks, size)?;
            let crop = warp_to_crop(frame, &t, size, Interp::Bicubic, Border::Replicate)?;
            let start = Instant::now();
            let restored = self.policy.restore_stream(&crop.view(), k as u64)?;
            let restore_ms = start.elapsed().as_secs_f64() * 1e3;
            paste_back(
                &mut out.view_mut(),
                &restored.view(),
                &t,
                Interp::Bicubic,
                self.options.feather,
            )?;
            results.push(FaceResult {
                detection: f.clone(),
                crop,
                restored,
                restore_ms,
            });
        }
        Ok((out, results))
    }

    /// Detects, selects and restores the faces of a frame. A frame without faces comes back
    /// unchanged with an empty face list.
    pub fn process(&self, frame: &ArrayView3<f32>) -> Result<FrameResult> {
        let (h, w) = check_rgb(frame, "frame")?;
        let start = Instant::now();
        let found = self.detect(frame)?;
        let detect_ms = start.elapsed().as_secs_f64() * 1e3;
        let faces = select_faces(found, w, h, &self.options);
        let (frame, faces) = self.restore_faces(frame, &faces)?;
        Ok(FrameResult {
            frame,
            faces,
            detect_ms,
        })
    }

    /// Restores an image that already is an aligned face crop: resized to the policy's crop
    /// size if needed (bicubic), restored, and resized back to its own size.
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
        ensure!(h == w, "an aligned face crop must be square, got {w}x{h}");
        let size = self.policy.crop_size();
        if h == size {
            return self.policy.restore_stream(img, stream);
        }
        let x = resize(img, size, size, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0));
        let y = self.policy.restore_stream(&x.view(), stream)?;
        Ok(resize(&y.view(), h, w, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0)))
    }
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
