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

#[test]
fn a_closed_stderr_does_not_turn_an_error_into_a_panic() {
    // stderr is a pipe whose reader has gone (`… 2>&1 | head` after head exits): the error
    // message is lost, the exit code is still the error's 2, not a panic's 101.
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0i32; 2];
    // SAFETY: pipe() fills two new descriptors; each is owned exactly once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    let status = Command::new(env!("CARGO_BIN_EXE_lrpo-train"))
        .args(["schedule", "--steps", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(write_end))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2), "panicked on the closed stderr?");
}
