//! Every metric against its reference implementation on real photographs and degraded copies
//! (fixture written by `tools/reference/metrics_fixture.py`; see its header for the exact calls).

#[path = "common/fixture_inputs.rs"]
mod fixture_inputs;

use lrpo_shared::metrics::{self, Plane, brisque, dtcwt, niqe, ssim};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture() -> Value {
    let text = std::fs::read_to_string(root().join("shared/tests/fixtures/metrics_reference.json"))
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn metrics_match_their_references_on_real_faces() {
    let fx = fixture();
    let photos = fixture_inputs::photos(&root().join("data/faces"));
    let images = fx["images"].as_array().unwrap();
    assert_eq!(
        images.len(),
        photos.len(),
        "fixture and data/faces disagree; regenerate the fixture"
    );
    let mut worst = [0.0f64; 7];
    println!(
        "{:<20} {:>9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "image", "PSNR", "SSIM", "SSIM-Y", "DTCWT-L1", "NIQE-LQ", "BRISQ-HQ", "BRISQ-LQ"
    );
    for (i, (path, want)) in photos.iter().zip(images).enumerate() {
        let pair = fixture_inputs::build(path, i);
        assert_eq!(want["name"], pair.name.as_str());
        assert_eq!(
            want["hq_fnv1a"].as_str().unwrap(),
            format!("{:016x}", fixture_inputs::fnv1a(&pair.hq)),
            "{}: decoded/resized pixels changed; regenerate the fixture",
            pair.name
        );
        assert_eq!(
            want["lq_fnv1a"].as_str().unwrap(),
            format!("{:016x}", fixture_inputs::fnv1a(&pair.lq)),
            "{}: degraded pixels changed; regenerate the fixture",
            pair.name
        );
        let (hq, lq) = (pair.hq.view(), pair.lq.view());
        let g = |k: &str| want[k].as_f64().unwrap();
        let psnr = metrics::psnr(&lq, &hq).unwrap();
        let psnr_y = metrics::psnr_y(&lq, &hq).unwrap();
        let s = ssim::ssim(&lq, &hq).unwrap();
        let sy = ssim::ssim_y(&lq, &hq).unwrap();
        let l1 = dtcwt::lowpass_l1(&lq, &hq).unwrap();
        let (nh, nl) = (niqe::niqe(&hq).unwrap(), niqe::niqe(&lq).unwrap());
        let (bh, bl) = (
            brisque::brisque(&hq).unwrap(),
            brisque::brisque(&lq).unwrap(),
        );
        println!(
            "{:<20} {psnr:>9.4} {s:>8.5} {sy:>8.5} {l1:>9.6} {nl:>9.4} {bh:>9.4} {bl:>9.4}",
            pair.name
        );
        let checks = [
            (
                "PSNR dB |Δ|",
                (psnr - g("psnr")).abs().max((psnr_y - g("psnr_y")).abs()),
                1e-4,
            ),
            (
                "SSIM |Δ|",
                (s - g("ssim")).abs().max((sy - g("ssim_y")).abs()),
                1e-4,
            ),
            ("DTCWT L1 rel", rel(l1, g("dtcwt_l1")), 1e-5),
            ("NIQE HQ rel", rel(nh, g("niqe_hq")), 1e-3),
            ("NIQE LQ rel", rel(nl, g("niqe_lq")), 1e-3),
            ("BRISQUE HQ rel", rel(bh, g("brisque_hq")), 1e-3),
            ("BRISQUE LQ rel", rel(bl, g("brisque_lq")), 1e-3),
        ];
        for (k, (what, err, tol)) in checks.iter().enumerate() {
            worst[k] = worst[k].max(*err);
            assert!(
                err < tol,
                "{}: {what} = {err:e} (tolerance {tol:e})",
                pair.name
            );
        }
        // Element-wise check of the low-pass band itself.
        let low = dtcwt::lowpass(&metrics::channel(&lq, 0));
        let shape: Vec<usize> = want["dtcwt_lowpass_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(low.shape(), &shape[..], "{}", pair.name);
        let sub: Vec<f64> = low.slice(ndarray::s![..;8, ..;8]).iter().copied().collect();
        let want_sub: Vec<f64> = want["dtcwt_lowpass_lq_r_sub8"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(sub.len(), want_sub.len());
        for (a, b) in sub.iter().zip(&want_sub) {
            assert!(
                rel(*a, *b) < 1e-5 || (a - b).abs() < 1e-12,
                "{}: low-pass {a} vs {b}",
                pair.name
            );
        }
    }
    println!(
        "worst: PSNR {:.1e} dB, SSIM {:.1e}, DTCWT {:.1e} rel, NIQE {:.1e}/{:.1e} rel, BRISQUE {:.1e}/{:.1e} rel",
        worst[0], worst[1], worst[2], worst[3], worst[4], worst[5], worst[6]
    );
}

#[test]
fn pil_bicubic_half_matches_pillow() {
    let fx = fixture();
    let to_plane = |v: &Value| -> Plane {
        let rows: Vec<Vec<f64>> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect();
        Plane::from_shape_fn((rows.len(), rows[0].len()), |(i, j)| rows[i][j])
    };
    let input = to_plane(&fx["pil_bicubic_half"]["input"]);
    let want = to_plane(&fx["pil_bicubic_half"]["output"]);
    let got = lrpo_shared::resize::pil_bicubic_resize(&input, want.nrows(), want.ncols());
    for (a, b) in got.iter().zip(want.iter()) {
        assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
    }
}
