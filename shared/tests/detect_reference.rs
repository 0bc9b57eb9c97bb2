//! MTCNN on the bundled photographs against the reference implementation's detections
//! (`data/faces/landmarks.json`, written by `tools/reference/landmarks.py`).

use lrpo_shared::image::load_rgb;
use lrpo_shared::onnx::detect::mtcnn::{Mtcnn, MtcnnConfig};
use lrpo_shared::onnx::detect::{Detection, FaceDetector};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn every_listed_face_is_found_with_the_reference_landmarks_and_nothing_else() {
    let det = Mtcnn::load(&root().join("models/mtcnn"), MtcnnConfig::default()).unwrap();
    let fx: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("data/faces/landmarks.json")).unwrap(),
    )
    .unwrap();
    let mut worst = 0.0f64;
    for (file, faces) in fx["images"].as_object().unwrap() {
        let frame = load_rgb(&root().join("data/faces").join(file)).unwrap();
        let found = det.detect(&frame.view()).unwrap();
        let want: Vec<Detection> = faces
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["is_face"].as_bool().unwrap())
            .map(|f| {
                let b = f["box"].as_array().unwrap();
                let l = f["landmarks"].as_array().unwrap();
                Detection {
                    bbox: std::array::from_fn(|i| b[i].as_f64().unwrap() - 1.0),
                    score: f["confidence"].as_f64().unwrap(),
                    landmarks: std::array::from_fn(|i| {
                        [l[i][0].as_f64().unwrap(), l[i][1].as_f64().unwrap()]
                    }),
                }
            })
            .collect();
        assert_eq!(found.len(), want.len(), "{file}: found {found:?}");
        for w in &want {
            let f = found
                .iter()
                .max_by(|a, b| a.iou(w).partial_cmp(&b.iou(w)).unwrap())
                .unwrap();
            assert!(f.iou(w) > 0.9, "{file}: IoU {}", f.iou(w));
            // Landmark error relative to the eye distance.
            let err = f
                .landmarks
                .iter()
                .zip(&w.landmarks)
                .map(|(a, b)| (a[0] - b[0]).hypot(a[1] - b[1]))
                .fold(0.0f64, f64::max);
            let rel = err / w.eye_distance();
            println!(
                "{file:<24} score {:.4} (ref {:.4})  IoU {:.4}  max landmark error {err:.3} px ({:.2}% of eye distance)",
                f.score,
                w.score,
                f.iou(w),
                100.0 * rel
            );
            worst = worst.max(rel);
            assert!(rel < 0.02, "{file}: landmarks off by {err:.2} px");
        }
    }
    println!(
        "worst landmark error {:.3}% of the eye distance",
        100.0 * worst
    );
}

#[test]
fn no_face_in_background_crops_and_tiny_or_flat_frames() {
    let det = Mtcnn::load(&root().join("models/mtcnn"), MtcnnConfig::default()).unwrap();
    // camera.png without the cameraman's face (its left and bottom parts).
    let cam = load_rgb(&root().join("data/faces/camera.png")).unwrap();
    for (y0, y1, x0, x1) in [(0, 512, 0, 190), (260, 512, 0, 512), (0, 110, 0, 512)] {
        let part = cam.slice(ndarray::s![.., y0..y1, x0..x1]).to_owned();
        let found = det.detect(&part.view()).unwrap();
        assert!(
            found.is_empty(),
            "camera.png[{y0}..{y1}, {x0}..{x1}]: {found:?}"
        );
    }
    for (h, w) in [(1, 1), (11, 40), (64, 64)] {
        let flat = ndarray::Array3::<f32>::from_elem((3, h, w), 0.5);
        assert!(det.detect(&flat.view()).unwrap().is_empty());
    }
}

#[test]
fn missing_or_wrong_models_are_clear_errors() {
    let e = Mtcnn::load(&root().join("models"), MtcnnConfig::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("pnet.onnx"), "{e}");
    let dir = std::env::temp_dir().join(format!("lrpo-mtcnn-wrong-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for n in ["pnet.onnx", "rnet.onnx", "onet.onnx"] {
        std::fs::copy(root().join("models/face_descriptor.onnx"), dir.join(n)).unwrap();
    }
    let e = Mtcnn::load(&dir, MtcnnConfig::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not an MTCNN stage"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
    let bad = MtcnnConfig {
        min_face: 5.0,
        ..Default::default()
    };
    assert!(Mtcnn::load(&root().join("models/mtcnn"), bad).is_err());
}
