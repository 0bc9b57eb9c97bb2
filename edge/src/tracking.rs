//! Faces followed across the frames of a video or camera stream: detection every few frames,
//! the faces reused in between, matched from one detection to the next by overlap (IoU), their
//! landmarks smoothed per track and their crop side kept while their size barely changes, so
//! that a still face is restored the same way frame after frame (no flicker).

use crate::error::{Error, Result};
use crate::pipeline::{Pipeline, PlannedFace, scale_detection, select_faces, smooth_landmarks};
use lrpo_shared::onnx::detect::Detection;
use ndarray::ArrayView3;

/// Default [`FaceTracker`] detection interval (frames): on a still camera with sensor noise,
/// detection every 5 frames with [`DEFAULT_SMOOTHING`] flickers least short of fixed landmarks
/// (output/input temporal difference 0.75 against 1.17 detecting every frame unsmoothed;
/// benchmarks/edge.md).
pub const DEFAULT_DETECT_EVERY: usize = 5;

/// Default landmark smoothing: the weight of new landmarks at a detection (1 = none).
pub const DEFAULT_SMOOTHING: f64 = 0.5;

/// Most frames [`FaceTracker`] accepts between detections (a face that moves is lost for
/// longer than this is worth).
pub const MAX_DETECT_EVERY: usize = 1000;

/// Two boxes overlapping more than this (IoU) are the same face in two detections.
pub const TRACK_IOU: f64 = 0.3;

/// Matches new detections to the tracked faces (IoU > [`TRACK_IOU`]) and smooths their
/// landmarks: a matched face's landmarks are `alpha · new + (1 − alpha) · tracked`.
pub fn update_tracks(tracks: &[Detection], found: Vec<Detection>, alpha: f64) -> Vec<Detection> {
    found
        .into_iter()
        .map(|d| {
            match tracks
                .iter()
                .filter(|t| t.iou(&d) > TRACK_IOU)
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

/// A tracked face keeps the crop side it was restored at while its new side is within this
/// fraction of it: the side then changes only when the face's size really does, so a face is
/// not restored at a new resolution (a visible change, and a new tract plan of 20–30 ms) every
/// time detection jitters by a few pixels.
pub const SIDE_HYSTERESIS: f64 = 0.125;

/// The newly planned faces, each keeping the side of the previous plan's face it overlaps
/// (IoU > [`TRACK_IOU`]) when its own side is within [`SIDE_HYSTERESIS`] of that side.
pub fn keep_sides(previous: &[PlannedFace], planned: Vec<PlannedFace>) -> Vec<PlannedFace> {
    planned
        .into_iter()
        .map(|mut p| {
            let old = previous
                .iter()
                .filter(|o| o.detection.iou(&p.detection) > TRACK_IOU)
                .max_by(|a, b| {
                    a.detection
                        .iou(&p.detection)
                        .total_cmp(&b.detection.iou(&p.detection))
                });
            if let Some(o) = old
                && (p.side as f64 - o.side as f64).abs() <= SIDE_HYSTERESIS * o.side as f64
            {
                p.side = o.side;
            }
            p
        })
        .collect()
}

/// The faces of a stream, frame after frame.
#[derive(Debug, Clone)]
pub struct FaceTracker {
    detect_every: usize,
    smoothing: f64,
    /// Frames seen so far.
    frame_no: usize,
    /// The tracked detections, in input-frame coordinates.
    tracks: Vec<Detection>,
    /// The faces to restore, in output-frame coordinates, with their sides.
    planned: Vec<PlannedFace>,
    /// Faces the detail gate kept at the last detection.
    kept: usize,
}

/// What [`FaceTracker::next`] decided for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackStep {
    /// The detector ran on this frame (else the last faces were reused).
    pub detected: bool,
    /// Faces tracked (restored or kept by the detail gate).
    pub tracked: usize,
}

impl FaceTracker {
    /// A tracker detecting every `detect_every` frames (1..=[`MAX_DETECT_EVERY`]) and smoothing
    /// landmarks with weight `smoothing` ∈ (0, 1] for new ones.
    pub fn new(detect_every: usize, smoothing: f64) -> Result<Self> {
        if !(1..=MAX_DETECT_EVERY).contains(&detect_every) {
            return Err(Error::input(
                "detect every",
                format!("must be 1..={MAX_DETECT_EVERY} frames, got {detect_every}"),
            ));
        }
        if !(smoothing > 0.0 && smoothing <= 1.0) {
            return Err(Error::input(
                "smoothing",
                format!("the weight of new landmarks must be in (0, 1], got {smoothing}"),
            ));
        }
        Ok(FaceTracker {
            detect_every,
            smoothing,
            frame_no: 0,
            tracks: Vec::new(),
            planned: Vec::new(),
            kept: 0,
        })
    }

    /// Takes the next frame: `input` as it came (faces are detected on it) and `frame`, the
    /// frame faces are restored in (`input` enlarged by the pipeline's upscale factor, or
    /// `input` itself). On a detection frame the faces are detected, matched to the tracks and
    /// smoothed, and the detail gate and crop sides decided (the gate decides only here, so a
    /// face does not flicker between restored and kept); in between the last faces are kept.
    /// The faces to restore in `frame` are then [`FaceTracker::faces`].
    pub fn next(
        &mut self,
        pipe: &Pipeline,
        input: &ArrayView3<f32>,
        frame: &ArrayView3<f32>,
    ) -> Result<TrackStep> {
        let detected = self.frame_no.is_multiple_of(self.detect_every);
        if detected {
            let (_, h, w) = input.dim();
            let found = select_faces(pipe.detect(input)?, w, h, &pipe.options);
            self.tracks = update_tracks(&self.tracks, found, self.smoothing);
            let n = pipe.options.upscale as f64;
            let scaled = self.tracks.iter().map(|t| scale_detection(t, n)).collect();
            let (planned, kept) = pipe.gate_faces(frame, scaled)?;
            self.planned = keep_sides(&self.planned, planned);
            self.kept = kept.len();
        }
        self.frame_no += 1;
        Ok(TrackStep {
            detected,
            tracked: self.tracks.len(),
        })
    }

    /// The faces to restore in the last frame given to [`FaceTracker::next`] (output-frame
    /// coordinates).
    pub fn faces(&self) -> &[PlannedFace] {
        &self.planned
    }

    /// Faces the detail gate left unchanged at the last detection.
    pub fn kept(&self) -> usize {
        self.kept
    }

    /// Frames seen so far.
    pub fn frames(&self) -> usize {
        self.frame_no
    }

    /// Forgets every face (e.g. after a scene cut): the next frame is a detection frame.
    pub fn reset(&mut self) {
        self.frame_no = 0;
        self.tracks.clear();
        self.planned.clear();
        self.kept = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f64, side: usize) -> PlannedFace {
        PlannedFace {
            detection: Detection {
                bbox: [x, 10.0, x + 100.0, 110.0],
                score: 1.0,
                landmarks: [[x + 30.0, 40.0]; 5],
            },
            side,
        }
    }

    #[test]
    fn tracked_faces_keep_their_side_until_their_size_really_changes() {
        let previous = vec![face(0.0, 152), face(400.0, 208)];
        let sides = |planned: Vec<PlannedFace>| -> Vec<usize> {
            keep_sides(&previous, planned)
                .iter()
                .map(|p| p.side)
                .collect()
        };
        // Jitter within 12.5 %: the old sides stay.
        assert_eq!(sides(vec![face(3.0, 160), face(402.0, 200)]), [152, 208]);
        // A real change (152 → 176 is +16 %), and a face that overlaps nothing: their own.
        assert_eq!(sides(vec![face(2.0, 176), face(200.0, 156)]), [176, 156]);
        assert!(keep_sides(&[], vec![face(0.0, 128)])[0].side == 128);
    }

    #[test]
    fn a_matched_face_moves_by_the_smoothing_weight_and_a_new_one_not_at_all() {
        let old = face(0.0, 128).detection;
        let moved = Detection {
            landmarks: [[40.0, 50.0]; 5],
            ..old.clone()
        };
        let far = face(500.0, 128).detection;
        let out = update_tracks(&[old], vec![moved, far.clone()], 0.25);
        // 0.25 · 40 + 0.75 · 30 = 32.5; 0.25 · 50 + 0.75 · 40 = 42.5.
        assert_eq!(out[0].landmarks[0], [32.5, 42.5]);
        assert_eq!(out[1].landmarks, far.landmarks);
    }

    #[test]
    fn absurd_intervals_and_weights_are_refused() {
        assert!(FaceTracker::new(0, 0.5).is_err());
        assert!(FaceTracker::new(MAX_DETECT_EVERY + 1, 0.5).is_err());
        assert!(FaceTracker::new(5, 0.0).is_err());
        assert!(FaceTracker::new(5, f64::NAN).is_err());
        assert!(FaceTracker::new(5, 1.0).is_ok());
    }
}
