//! Alignment and degradation on the bundled real photographs.

use lrpo_shared::align::{Border, Interp, crop_mask, face_to_crop, paste_back, warp_to_crop};
use lrpo_shared::degrade::{DegradePreset, degrade};
use lrpo_shared::image::load_rgb;
use lrpo_shared::metrics::psnr;
use lrpo_shared::rng::Rng;
use ndarray::{Array3, s};
use std::path::PathBuf;

fn face(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/faces")
        .join(name)
}

/// Hand-placed landmarks of Grace Hopper's face in `grace_hopper.jpg` (eyes, nose tip, mouth
/// corners, image coordinates).
const HOPPER: [[f64; 2]; 5] = [
    [222.0, 200.0],
    [308.0, 198.0],
    [262.0, 240.0],
    [232.0, 282.0],
    [296.0, 280.0],
];

#[test]
fn warp_then_paste_back_reproduces_the_face_region_of_a_real_photo() {
    let frame = load_rgb(&face("grace_hopper.jpg")).unwrap();
    // At 512 px the crop samples the face more finely than the frame does (eye distance 126 px
    // against ~86 px), so warping there and back loses only interpolation error: with bicubic
    // (the default) the photo's detail survives (OpenCV's warpAffine gives 50.7 dB on the same
    // points); bilinear smooths twice (36.0 dB in OpenCV too). A crop coarser than the face
    // cannot round-trip its detail at all.
    let size = 512;
    for (interp, min_db) in [(Interp::Bicubic, 40.0), (Interp::Bilinear, 35.0)] {
        let t = face_to_crop(&HOPPER, size).unwrap();
        let crop = warp_to_crop(&frame.view(), &t, size, interp, Border::Replicate).unwrap();
        let mut out = frame.clone();
        paste_back(&mut out.view_mut(), &crop.view(), &t, interp, 0.1).unwrap();
        // The face region: frame pixels whose crop position lies where the mask is 1.
        let mask = crop_mask(size, 0.1);
        let (_, h, w) = frame.dim();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for y in 0..h {
            for x in 0..w {
                let [u, v] = t.apply([x as f64, y as f64]);
                let (ui, vi) = (u.round(), v.round());
                if ui < 0.0 || vi < 0.0 || ui >= size as f64 || vi >= size as f64 {
                    continue;
                }
                if mask[[vi as usize, ui as usize]] < 1.0 {
                    continue;
                }
                for c in 0..3 {
                    a.push(out[[c, y, x]]);
                    b.push(frame[[c, y, x]]);
                }
            }
        }
        assert!(
            a.len() > 3 * 20_000,
            "face region too small: {}",
            a.len() / 3
        );
        let n = a.len() / 3;
        let a = Array3::from_shape_vec((3, 1, n), a).unwrap();
        let b = Array3::from_shape_vec((3, 1, n), b).unwrap();
        let p = psnr(&a.view(), &b.view()).unwrap();
        assert!(p > min_db, "{interp:?} round trip at {size}: {p:.2} dB");
        // Outside the crop the frame is untouched.
        assert_eq!(
            out.slice(s![.., 0..5, 0..5]),
            frame.slice(s![.., 0..5, 0..5])
        );
    }
}

#[test]
fn aligned_crop_puts_the_eyes_on_the_template() {
    let frame = load_rgb(&face("grace_hopper.jpg")).unwrap();
    let t = face_to_crop(&HOPPER, 512).unwrap();
    // The transform maps the hand-placed eyes within a few pixels of the template's eyes.
    let tpl = lrpo_shared::align::ffhq_template(512);
    for i in 0..2 {
        let p = t.apply(HOPPER[i]);
        assert!(
            (p[0] - tpl[i][0]).hypot(p[1] - tpl[i][1]) < 12.0,
            "{i}: {p:?}"
        );
    }
    let crop = warp_to_crop(&frame.view(), &t, 512, Interp::default(), Border::Replicate).unwrap();
    assert_eq!(crop.dim(), (3, 512, 512));
}

#[test]
fn degrading_a_real_face_is_reproducible_and_loses_fidelity_with_strength() {
    let hq = load_rgb(&face("astronaut.png")).unwrap();
    let preset = DegradePreset::lrpo();
    let params = preset.sample(&mut Rng::new(2024));
    let a = degrade(&hq.view(), &params).unwrap();
    let b = degrade(&hq.view(), &params).unwrap();
    assert_eq!(a, b);
    let p = psnr(&a.view(), &hq.view()).unwrap();
    assert!(p > 10.0 && p < 45.0, "{p}");
    // Heavier presets lose more on average over a few samples.
    let mean_psnr = |preset: DegradePreset| {
        let mut rng = Rng::new(9);
        (0..4)
            .map(|_| {
                psnr(
                    &degrade(&hq.view(), &preset.sample(&mut rng))
                        .unwrap()
                        .view(),
                    &hq.view(),
                )
                .unwrap()
            })
            .sum::<f64>()
            / 4.0
    };
    let (g, c) = (
        mean_psnr(DegradePreset::gfpgan()),
        mean_psnr(DegradePreset::codeformer()),
    );
    assert!(
        g > c,
        "gfpgan {g:.2} dB should be milder than codeformer {c:.2} dB"
    );
}
