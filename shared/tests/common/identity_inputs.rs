//! The faces the identity fixture is computed on: every face of `data/faces/landmarks.json`
//! marked `is_face`, cut into its 150 × 150 identity chip through its 5 landmarks
//! (`chip_from_frame`) and quantised to 8 bits. Shared by `examples/identity_inputs.rs`
//! (which writes the chips for the Node.js reference) and the reference test.

use lrpo_shared::align::Landmarks;
use lrpo_shared::image::{load_rgb, quantize_u8, to_rgb8};
use lrpo_shared::onnx::identity::chip_from_frame;
use ndarray::Array3;
use std::path::{Path, PathBuf};

/// One face.
pub struct Face {
    /// `STEM_K`: the photo's stem and the face's index in it.
    pub name: String,
    /// The photo.
    pub file: PathBuf,
    /// The 5 landmarks (the example writes chips only; the test uses them).
    #[allow(dead_code)]
    pub landmarks: Landmarks,
    /// The 8-bit-exact chip.
    pub chip: Array3<f32>,
}

/// Every verified face, in file order.
pub fn faces(root: &Path) -> Vec<Face> {
    let lm: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("data/faces/landmarks.json")).unwrap(),
    )
    .unwrap();
    let mut names: Vec<&String> = lm["images"].as_object().unwrap().keys().collect();
    names.sort();
    let mut out = Vec::new();
    for file in names {
        let path = root.join("data/faces").join(file);
        let frame = load_rgb(&path).unwrap();
        for (k, f) in lm["images"][file].as_array().unwrap().iter().enumerate() {
            if !f["is_face"].as_bool().unwrap() {
                continue;
            }
            let p = f["landmarks"].as_array().unwrap();
            let landmarks: Landmarks =
                std::array::from_fn(|i| [p[i][0].as_f64().unwrap(), p[i][1].as_f64().unwrap()]);
            let chip =
                quantize_u8(&chip_from_frame(&frame.view(), &landmarks).unwrap().view()).unwrap();
            let stem = Path::new(file)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push(Face {
                name: format!("{stem}_{k}"),
                file: path.clone(),
                landmarks,
                chip,
            });
        }
    }
    out
}

/// Interleaved 8-bit RGB bytes of an image.
pub fn rgb8(img: &Array3<f32>) -> Vec<u8> {
    to_rgb8(&img.view()).unwrap()
}

/// FNV-1a (64-bit) of bytes.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
