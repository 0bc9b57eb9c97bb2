//! `lrpo-edge` run as a process on real files, good and bad.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lrpo-edge"))
}

fn faces() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/faces")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lrpo-edge-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn help_lists_the_subcommands() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("degrade"), "{text}");
}

#[test]
fn degrade_is_reproducible_and_reports_bad_files_without_stopping() {
    let dir = scratch("degrade");
    let bad = dir.join("corrupt.jpg");
    std::fs::write(&bad, b"\xff\xd8\xff\xe0 this is not really a jpeg").unwrap();
    let empty = dir.join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    let run = |out: &Path| {
        bin()
            .args(["degrade", "--seed", "5", "--preset", "gfpgan", "-o"])
            .arg(out)
            .arg(faces().join("grace_hopper.jpg"))
            .arg(&bad)
            .arg(&empty)
            .output()
            .unwrap()
    };
    let (a, b) = (dir.join("a"), dir.join("b"));
    let out = run(&a);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("corrupt.jpg") && stderr.contains("empty.png"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 degraded, 2 failed"), "{stdout}");
    run(&b);
    let png_a = std::fs::read(a.join("grace_hopper_lq.png")).unwrap();
    let png_b = std::fs::read(b.join("grace_hopper_lq.png")).unwrap();
    assert_eq!(png_a, png_b, "same seed must give the same bytes");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("grace_hopper_lq.json")).unwrap()).unwrap();
    assert_eq!(json["params"]["preset"], "gfpgan");
    let q = json["params"]["jpeg_quality"].as_u64().unwrap();
    assert!((60..=100).contains(&q));
    assert!(json["psnr_db"].as_f64().unwrap() > 15.0);
    // Reloading the LQ and checking its PSNR against the input reproduces the recorded value.
    let hq = lrpo_shared::image::load_rgb(&faces().join("grace_hopper.jpg")).unwrap();
    let lq = lrpo_shared::image::load_rgb(&a.join("grace_hopper_lq.png")).unwrap();
    let p = lrpo_shared::metrics::psnr(&lq.view(), &hq.view()).unwrap();
    assert!((p - json["psnr_db"].as_f64().unwrap()).abs() < 1e-9);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_preset_is_a_clear_error() {
    let dir = scratch("preset");
    let out = bin()
        .args(["degrade", "--preset", "heavy", "-o"])
        .arg(&dir)
        .arg(faces().join("astronaut.png"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("heavy") && stderr.contains("lrpo, gfpgan or codeformer"),
        "{stderr}"
    );
}
