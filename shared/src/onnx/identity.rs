//! Face identity: the face-api.js / dlib ResNet descriptor (converted to ONNX by
//! `lrpo-train convert face-descriptor`) as a reward component and a metric.
//!
//! **The chip.** The network was trained on dlib-style chips; face-api.js cuts them from 68
//! landmarks as the axis-aligned square of side `eyeToMouth / 0.45` centred horizontally on the
//! mean of the two eye centres and the mouth centre and starting `0.43·side` above it, resized to
//! 150 × 150. Here the same rule is applied once to the FFHQ 5-point template (eye centres = the
//! template's eyes, mouth centre = the mean of its mouth corners), which fixes the chip as a
//! square inside every FFHQ-aligned crop: at 512 px it starts at (94.7, 144.7) with side 323.4
//! ([`chip_box_512`]). A restored crop, its GT and its LQ input therefore map to chips the
//! same way ([`chip_from_crop`]); a face in a photo maps through its 5 landmarks
//! ([`chip_from_frame`]). Chips are resampled bilinearly, as face-api does.
//!
//! **The distance.** Euclidean distance between 128-D descriptors; below 0.6 means the same
//! person ([`SAME_PERSON_DISTANCE`]).

use crate::align::{
    Border, FFHQ_TEMPLATE_512, Interp, Landmarks, Similarity, face_to_crop, warp_to_crop,
};
use crate::error::{Error, Result};
use crate::image::check_rgb;
use crate::onnx::OnnxModel;
use crate::reward::ModelScorer;
use ndarray::{Array3, ArrayView3, Axis};
use std::path::Path;

/// Side of the descriptor network's input chip.
pub const CHIP_SIZE: usize = 150;
/// Descriptor length.
pub const DESCRIPTOR_LEN: usize = 128;
/// Two descriptors closer than this are the same person (dlib / face-api convention).
pub const SAME_PERSON_DISTANCE: f64 = 0.6;

/// A 128-D face descriptor.
pub type Descriptor = [f32; DESCRIPTOR_LEN];

/// The chip square `[x0, y0, side]` in a 512-px FFHQ-aligned crop (see the module doc).
pub fn chip_box_512() -> [f64; 3] {
    let t = FFHQ_TEMPLATE_512;
    let (le, re) = (t[0], t[1]);
    let mouth = [(t[3][0] + t[4][0]) / 2.0, (t[3][1] + t[4][1]) / 2.0];
    let d = |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).hypot(a[1] - b[1]);
    let eye_to_mouth = (d(mouth, le) + d(mouth, re)) / 2.0;
    let side = eye_to_mouth / 0.45;
    let rx = (le[0] + re[0] + mouth[0]) / 3.0;
    let ry = (le[1] + re[1] + mouth[1]) / 3.0;
    [rx - 0.5 * side, ry - 0.43 * side, side]
}

/// The transform from an `S × S` FFHQ-aligned crop to the chip.
pub fn crop_to_chip(crop_size: usize) -> Similarity {
    let f = crop_size as f64 / 512.0;
    let [x0, y0, side] = chip_box_512();
    let s = CHIP_SIZE as f64 / (side * f);
    Similarity {
        a: s,
        b: 0.0,
        tx: -x0 * f * s,
        ty: -y0 * f * s,
    }
}

/// The chip of an FFHQ-aligned square crop (any size), RGB [0, 1], `[3, 150, 150]`.
pub fn chip_from_crop(crop: &ArrayView3<f32>) -> Result<Array3<f32>> {
    let (h, w) = check_rgb(crop, "aligned face crop")?;
    if h != w {
        return Err(Error::Shape {
            what: "aligned face crop".into(),
            expected: "[3, S, S]".into(),
            found: crop.shape().to_vec(),
        });
    }
    warp_to_crop(
        crop,
        &crop_to_chip(h),
        CHIP_SIZE,
        Interp::Bilinear,
        Border::Replicate,
    )
}

/// The chip of a face in a photo, from its 5 landmarks (template order).
pub fn chip_from_frame(frame: &ArrayView3<f32>, landmarks: &Landmarks) -> Result<Array3<f32>> {
    let to_chip = face_to_crop(landmarks, 512)?.then(&crop_to_chip(512));
    warp_to_crop(
        frame,
        &to_chip,
        CHIP_SIZE,
        Interp::Bilinear,
        Border::Replicate,
    )
}

/// Euclidean distance between two descriptors.
pub fn distance(a: &Descriptor, b: &Descriptor) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// The descriptor network.
#[derive(Debug)]
pub struct FaceDescriptor {
    model: OnnxModel,
}

impl FaceDescriptor {
    /// Loads `face_descriptor.onnx` and checks it has the expected interface.
    pub fn load(path: &Path) -> Result<Self> {
        let model = OnnxModel::load(path)?;
        let ok_in = model.input_names() == ["chip"]
            && model.input_dims()[0].get(1..)
                == Some(&[Some(3), Some(CHIP_SIZE), Some(CHIP_SIZE)][..]);
        if !ok_in || model.output_names() != ["descriptor"] {
            return Err(Error::Onnx {
                path: path.to_path_buf(),
                reason: format!(
                    "not a face-descriptor model: expected input chip [N,3,{CHIP_SIZE},{CHIP_SIZE}] and output descriptor, found inputs {:?} {:?} and outputs {:?}",
                    model.input_names(),
                    model.input_dims(),
                    model.output_names()
                ),
            });
        }
        Ok(FaceDescriptor { model })
    }

    /// Descriptors of several chips (`[3, 150, 150]` each, RGB [0, 1]). They run one at a
    /// time: on this network tract is faster per chip at batch 1 than at batch 10
    /// (`benchmarks/identity.md`).
    pub fn describe(&self, chips: &[ArrayView3<f32>]) -> Result<Vec<Descriptor>> {
        chips
            .iter()
            .map(|c| {
                if c.shape() != [3, CHIP_SIZE, CHIP_SIZE] {
                    return Err(Error::Shape {
                        what: "identity chip".into(),
                        expected: format!("[3, {CHIP_SIZE}, {CHIP_SIZE}]"),
                        found: c.shape().to_vec(),
                    });
                }
                let input = c.to_owned().insert_axis(Axis(0)).into_dyn();
                let out = self.model.run(&[input.view()])?;
                let d = &out[0];
                Ok(std::array::from_fn(|k| d[[0, k]]))
            })
            .collect()
    }

    /// Descriptors of FFHQ-aligned crops.
    pub fn describe_crops(&self, crops: &[ArrayView3<f32>]) -> Result<Vec<Descriptor>> {
        let chips: Vec<Array3<f32>> = crops.iter().map(chip_from_crop).collect::<Result<_>>()?;
        let views: Vec<ArrayView3<f32>> = chips.iter().map(|c| c.view()).collect();
        self.describe(&views)
    }
}

/// The `identity` reward component: descriptor distance between a restored FFHQ-aligned crop
/// and its reference crop (GT or LQ). Lower is better; the default mapping turns it into a
/// reward `1 − d` clamped to [0, 1].
#[derive(Debug)]
pub struct IdentityScorer {
    net: FaceDescriptor,
}

impl IdentityScorer {
    /// Wraps a loaded descriptor network.
    pub fn new(net: FaceDescriptor) -> Self {
        IdentityScorer { net }
    }

    /// Loads the network from `path`.
    pub fn load(path: &Path) -> Result<Self> {
        Ok(Self::new(FaceDescriptor::load(path)?))
    }
}

impl ModelScorer for IdentityScorer {
    fn score(
        &self,
        restored: &ArrayView3<f32>,
        reference: Option<&ArrayView3<f32>>,
    ) -> Result<f64> {
        Ok(self.score_batch(std::slice::from_ref(restored), reference)?[0])
    }

    fn score_batch(
        &self,
        restored: &[ArrayView3<f32>],
        reference: Option<&ArrayView3<f32>>,
    ) -> Result<Vec<f64>> {
        let reference =
            reference.ok_or_else(|| Error::invalid("identity", "needs a reference face"))?;
        let mut crops: Vec<ArrayView3<f32>> = vec![reference.view()];
        crops.extend(restored.iter().map(|r| r.view()));
        let d = self.net.describe_crops(&crops)?;
        Ok(d[1..].iter().map(|x| distance(x, &d[0])).collect())
    }

    fn describe(&self) -> String {
        format!(
            "face-descriptor distance ({})",
            self.net.model.path().display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chip_box_sits_inside_the_crop_around_the_face() {
        let [x0, y0, side] = chip_box_512();
        assert!(
            (x0 - 94.7).abs() < 0.1 && (y0 - 144.7).abs() < 0.1 && (side - 323.4).abs() < 0.1,
            "{x0} {y0} {side}"
        );
        assert!(x0 > 0.0 && y0 > 0.0 && x0 + side < 512.0 && y0 + side < 512.0);
        // The template's eyes land where they should on the chip at any crop size.
        for s in [128usize, 512] {
            let t = crate::align::ffhq_template(s);
            let p = crop_to_chip(s).apply(t[0]);
            let q = crop_to_chip(512).apply(FFHQ_TEMPLATE_512[0]);
            assert!((p[0] - q[0]).abs() < 1e-9 && (p[1] - q[1]).abs() < 1e-9);
        }
    }
}
