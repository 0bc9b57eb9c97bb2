//! `lrpo-train` run as a process.

use std::process::Command;

#[test]
fn help_and_schedule_run() {
    let bin = env!("CARGO_BIN_EXE_lrpo-train");
    let out = Command::new(bin).arg("--help").output().unwrap();
    assert!(out.status.success());
    let out = Command::new(bin)
        .args(["schedule", "--steps", "50", "--eta", "1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // Header + 50 steps; the first step is t = 981 with σ = 0.4545 and w = 1.6027 (DESIGN §4).
    assert_eq!(text.lines().count(), 51);
    let first: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(first[1], "981");
    assert_eq!(first[5], "0.4545");
    assert_eq!(first[6], "1.6027");
    let out = Command::new(bin)
        .args(["schedule", "--steps", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DDIM steps"));
}
