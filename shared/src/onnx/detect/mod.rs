//! Face detection: boxes, confidences and 5 landmarks per face, behind the [`FaceDetector`]
//! trait so that detectors can be swapped (MTCNN is the one shipped; see [`mtcnn`]).

pub mod mtcnn;

use crate::align::Landmarks;
use crate::error::Result;
use ndarray::ArrayView3;
use serde::{Deserialize, Serialize};

/// One detected face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Box `[x1, y1, x2, y2]` in image pixels (may extend past the image).
    pub bbox: [f64; 4],
    /// Confidence in [0, 1].
    pub score: f64,
    /// Eye on the image's left, eye on the image's right, nose tip, mouth corner left, mouth
    /// corner right, in image pixels (the FFHQ template's order).
    pub landmarks: Landmarks,
}

impl Detection {
    /// Box width.
    pub fn width(&self) -> f64 {
        self.bbox[2] - self.bbox[0]
    }

    /// Box height.
    pub fn height(&self) -> f64 {
        self.bbox[3] - self.bbox[1]
    }

    /// Distance between the eyes in pixels (a face-size measure independent of box style).
    pub fn eye_distance(&self) -> f64 {
        let [l, r] = [self.landmarks[0], self.landmarks[1]];
        (l[0] - r[0]).hypot(l[1] - r[1])
    }

    /// Intersection over union of two boxes.
    pub fn iou(&self, other: &Detection) -> f64 {
        let (a, b) = (&self.bbox, &other.bbox);
        let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
        let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
        let inter = ix * iy;
        let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

/// A face detector.
pub trait FaceDetector: Send + Sync {
    /// Faces in an RGB [0, 1] frame, most confident first. A frame without faces gives an
    /// empty list, not an error.
    fn detect(&self, frame: &ArrayView3<f32>) -> Result<Vec<Detection>>;
    /// A short name for logs.
    fn name(&self) -> String;
}
