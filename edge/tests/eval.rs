//! `lrpo-edge eval` as a process on the bundled faces: reproducible test sets and numbers, the
//! three kinds of set, restorations from other tools, and bad files skipped.

mod common;

use common::*;
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lrpo-edge"));
    c.current_dir(root());
    c
}

fn report(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

/// `lrpo-edge eval` of the bicubic baseline on the obama faces with seed 4 (and `extra`
/// arguments) into `out`; panics if it fails.
fn bicubic_only(out: &std::path::Path, extra: &[&str]) {
    let o = bin()
        .args([
            "eval",
            "--data",
            "data/train/faces",
            "--include",
            "obama*",
            "--baseline",
            "bicubic",
            "--seed",
            "4",
        ])
        .args(extra)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn same_seed_same_lq_bytes_and_same_numbers() {
    let dir = scratch("eval-repro");
    let model = sharpen_policy(&dir, "sharp", 64);
    let run = |out: &str| {
        let o = bin()
            .args([
                "eval",
                "--data",
                "data/train/faces",
                "--include",
                "obama*",
                "--baseline",
                "bicubic",
                "--seed",
                "3",
                "--model",
            ])
            .arg(&model)
            .arg("-o")
            .arg(dir.join(out))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run("a");
    run("b");
    for f in std::fs::read_dir(dir.join("a/lq")).unwrap() {
        let name = f.unwrap().file_name();
        assert_eq!(
            std::fs::read(dir.join("a/lq").join(&name)).unwrap(),
            std::fs::read(dir.join("b/lq").join(&name)).unwrap(),
            "{name:?}"
        );
    }
    let (ra, rb) = (report(&dir.join("a")), report(&dir.join("b")));
    assert_eq!(ra["rows"].as_array().unwrap().len(), 8);
    for (x, y) in ra["rows"]
        .as_array()
        .unwrap()
        .iter()
        .zip(rb["rows"].as_array().unwrap())
    {
        assert_eq!(x["metrics"], y["metrics"]);
    }
    // A second run into the same folder reuses the cached LQs (same parameters) byte for byte.
    run("a");
    assert_eq!(
        report(&dir.join("a"))["rows"][0]["metrics"],
        ra["rows"][0]["metrics"]
    );
    // Another seed gives other degradations.
    bicubic_only(&dir.join("c"), &[]);
    assert_ne!(
        std::fs::read(dir.join("a/lq/obama_0.png")).unwrap(),
        std::fs::read(dir.join("c/lq/obama_0.png")).unwrap()
    );
    // Several degradations per face: degradation r of face i is sub-stream i·N + r, so with
    // N = 2 the first one of face 0 is the N = 1 set's face 0, and each face gets two LQs.
    bicubic_only(&dir.join("d"), &["--per-face", "2"]);
    assert_eq!(report(&dir.join("d"))["rows"].as_array().unwrap().len(), 8);
    assert_eq!(
        std::fs::read(dir.join("c/lq/obama2_0.png")).unwrap(),
        std::fs::read(dir.join("d/lq/obama2_0_d0.png")).unwrap()
    );
    assert_ne!(
        std::fs::read(dir.join("d/lq/obama2_0_d0.png")).unwrap(),
        std::fs::read(dir.join("d/lq/obama2_0_d1.png")).unwrap()
    );
    for f in [
        "README.md",
        "report.csv",
        "index.html",
        "images/obama_0__sharp.png",
        "images/obama_0__GT.png",
    ] {
        assert!(dir.join("a").join(f).exists(), "{f}");
    }
    let md = std::fs::read_to_string(dir.join("a/README.md")).unwrap();
    assert!(
        md.contains("**") && md.contains("PSNR") && md.contains("identity distance"),
        "{md}"
    );
}

#[test]
fn pairs_lq_only_restored_folders_and_bad_files() {
    let dir = scratch("eval-kinds");
    // Pairs: GT at 64 px and LQ at 32 px (the LQ is upsampled for the metrics).
    let (pairs, lq_only, other) = (
        dir.join("pairs"),
        dir.join("lqonly"),
        dir.join("other_tool"),
    );
    for d in [
        pairs.join("lq"),
        pairs.join("gt"),
        lq_only.join("lq"),
        other.clone(),
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    for name in ["biden_0", "kodim04_0"] {
        let hq = lrpo_shared::image::load_rgb(&root().join(format!("data/train/faces/{name}.png")))
            .unwrap();
        let gt = lrpo_shared::resize::resize_antialiased(&hq.view(), 64, 64)
            .unwrap()
            .mapv(|v| v.clamp(0.0, 1.0));
        let lq = lrpo_shared::resize::resize_antialiased(&hq.view(), 32, 32)
            .unwrap()
            .mapv(|v| v.clamp(0.0, 1.0));
        lrpo_shared::image::save_rgb(&pairs.join(format!("gt/{name}.png")), &gt.view()).unwrap();
        lrpo_shared::image::save_rgb(&pairs.join(format!("lq/{name}.png")), &lq.view()).unwrap();
        lrpo_shared::image::save_rgb(&lq_only.join(format!("lq/{name}.png")), &gt.view()).unwrap();
        lrpo_shared::image::save_rgb(
            &other.join(format!("{name}.png")),
            &gt.mapv(|v| (v * 0.9).min(1.0)).view(),
        )
        .unwrap();
    }
    std::fs::write(pairs.join("lq/broken.png"), b"not a png").unwrap();
    let o = bin()
        .args(["eval", "--baseline", "bicubic", "--data"])
        .arg(&pairs)
        .arg("--restored")
        .arg(&other)
        .arg("-o")
        .arg(dir.join("r1"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("broken.png"), "{stderr}");
    let r = report(&dir.join("r1"));
    assert_eq!(r["settings"]["kind"], "Pairs");
    assert_eq!(r["methods"], serde_json::json!(["bicubic", "other_tool"]));
    assert_eq!(r["rows"].as_array().unwrap().len(), 4);
    assert!(
        r["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s[0].as_str().unwrap().contains("broken.png"))
    );
    // The other tool's outputs are 0.9 × GT: their PSNR is known in closed form-ish (finite, < 40).
    let p = r["aggregate"]["other_tool"]["PSNR (dB)"]["mean"]
        .as_f64()
        .unwrap();
    assert!(p > 15.0 && p < 40.0, "{p}");
    // LQ only: no-reference metrics only.
    let o = bin()
        .args(["eval", "--baseline", "bicubic", "--data"])
        .arg(&lq_only)
        .arg("-o")
        .arg(dir.join("r2"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = report(&dir.join("r2"));
    let metrics = r["aggregate"]["bicubic"].as_object().unwrap();
    assert!(
        metrics.contains_key("NIQE")
            && metrics.contains_key("BRISQUE")
            && !metrics.contains_key("PSNR (dB)")
            && !metrics.contains_key("reward"),
        "{metrics:?}"
    );
    // Nothing to evaluate, and an unknown baseline.
    let o = bin()
        .args(["eval", "--data", "data/train/faces", "-o"])
        .arg(dir.join("r3"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to evaluate"));
    let o = bin()
        .args([
            "eval",
            "--data",
            "data/train/faces",
            "--baseline",
            "lanczos",
            "-o",
        ])
        .arg(dir.join("r3"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("lanczos"));
}

/// A hand-written face-set manifest over copies of the bundled aligned crops: three test faces
/// of two identities and one validation face.
fn manifest_set(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let faces = [
        ("obama_0.png", "obama", "test"),
        ("obama2_0.png", "obama", "test"),
        ("biden_0.png", "biden", "test"),
        ("grace_hopper_0.png", "hopper", "validation"),
    ];
    let mut entries = Vec::new();
    for (file, id, split) in faces {
        std::fs::copy(root().join("data/train/faces").join(file), dir.join(file)).unwrap();
        entries.push(serde_json::json!({
            "file": file, "package": "bundled@0", "source_path": file, "licence": "x",
            "identity": id, "bbox": [0.0, 0.0, 1.0, 1.0], "score": 1.0,
            "landmarks": [[0.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.2, 1.0], [0.8, 1.0]],
            "eye_distance": 100.0, "outside": 0.0, "crop_size": 512, "upsample": 1.0,
            "sha256": null, "accepted": true, "reason": null, "split": split,
        }));
    }
    let m = serde_json::json!({
        "version": 1, "sources": "test", "split": {"seed": 0, "validation": 1, "test": 2},
        "accept": {"min_eye_distance": 40.0, "max_outside": 0.33, "max_size": 512,
                   "max_upsample": 1.5, "match_radius": 1.0},
        "splits": {"train": [], "validation": ["hopper"], "test": ["biden", "obama"]},
        "faces": entries,
    });
    std::fs::write(
        dir.join("faces.json"),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
}

#[test]
fn the_frozen_protocol_evaluates_test_identities_with_paired_intervals_over_them() {
    let dir = scratch("eval-manifest");
    manifest_set(&dir.join("set"));
    let model = sharpen_policy(&dir, "sharp", 64);
    let out = dir.join("report");
    let o = bin()
        .args(["eval", "--manifest"])
        .arg(dir.join("set/faces.json"))
        .args([
            "--per-face",
            "2",
            "--baseline",
            "input",
            "--baseline",
            "bicubic",
            "--model",
        ])
        .arg(&model)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = report(&out);
    // Only the test split: 3 faces × 2 degradations; the validation face is never touched.
    assert_eq!(r["settings"]["images"], 6);
    assert_eq!(r["settings"]["identities"], 2);
    assert_eq!(r["settings"]["reference"], "bicubic");
    let ids = r["identities"].as_object().unwrap();
    assert_eq!(ids.len(), 6);
    assert_eq!(ids["obama2_0_d1"], "obama");
    assert!(ids.keys().all(|k| !k.starts_with("grace")));
    // Paired differences are over the 2 identities and the 6 items; input vs bicubic is there.
    let paired = r["paired"].as_array().unwrap();
    let p = paired
        .iter()
        .find(|p| p["method"] == "input" && p["metric"] == "PSNR (dB)")
        .unwrap();
    assert_eq!(
        (p["identities"].as_u64(), p["items"].as_u64()),
        (Some(2), Some(6))
    );
    // The interval's centre is the mean of the per-identity means, from the rows themselves.
    let rows = r["rows"].as_array().unwrap();
    let val = |img: &str, m: &str| {
        rows.iter()
            .find(|x| x["image"] == img && x["method"] == m)
            .unwrap()["metrics"]["PSNR (dB)"]["value"]
            .as_f64()
            .unwrap()
    };
    let d = |img: &str| val(img, "input") - val(img, "bicubic");
    let obama = (d("obama_0_d0") + d("obama_0_d1") + d("obama2_0_d0") + d("obama2_0_d1")) / 4.0;
    let biden = (d("biden_0_d0") + d("biden_0_d1")) / 2.0;
    assert!((p["mean"].as_f64().unwrap() - (obama + biden) / 2.0).abs() < 1e-9);
    let md = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(md.contains("Paired difference against `bicubic`"), "{md}");
    // The validation split is there for tuning; an unknown split is refused by name.
    let o = bin()
        .args(["eval", "--manifest"])
        .arg(dir.join("set"))
        .args(["--split", "holdout", "--baseline", "input", "-o"])
        .arg(dir.join("bad"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("holdout"));
}

#[test]
fn real_photos_report_identity_sharpness_and_quality_before_and_after() {
    let dir = scratch("eval-real");
    let out = dir.join("report");
    let o = bin()
        .args([
            "eval",
            "--real",
            "data/faces/biden.jpg",
            "data/faces/grace_hopper.jpg",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = report(&out);
    assert_eq!(r["settings"]["faces"], 2);
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "an input and an output row per face");
    for row in rows.iter().filter(|x| x["method"] != "input") {
        let m = &row["metrics"];
        let id = m["identity distance to input"]["value"].as_f64().unwrap();
        assert!((0.0..1.5).contains(&id), "{id}");
        let ratio = m["sharpness ratio"]["value"].as_f64().unwrap();
        assert!(ratio > 0.0 && ratio.is_finite());
        assert!(m["PSNR vs input (changed px)"]["value"].as_f64().unwrap() > 10.0);
    }
    // The contact sheet: input and output crops of each face beside the page, restored photos.
    assert!(out.join("images/biden_f0__input.png").exists());
    assert!(out.join("restored/grace_hopper.png").exists());
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("biden_f0"));
}
