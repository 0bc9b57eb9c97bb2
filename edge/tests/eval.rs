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
