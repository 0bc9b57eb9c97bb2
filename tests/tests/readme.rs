//! The README's fresh-machine commands refer to things that exist.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The first fenced `sh` block after a line starting with `heading`.
fn command_after(readme: &str, heading: &str) -> String {
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README lacks {heading:?}"));
    let rest = &readme[start..];
    let open = rest.find("```sh\n").expect("a fenced sh block") + 6;
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].trim().to_string()
}

#[test]
fn readme_commands_name_existing_inputs_and_subcommands() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let main_job = command_after(&readme, "Main job");
    let tests = command_after(&readme, "Tests:");
    assert_eq!(tests, "cargo test --workspace");
    assert!(
        main_job.starts_with("cargo run --release -p lrpo-"),
        "{main_job}"
    );
    // Every repository path the main job reads exists.
    let inputs: Vec<&str> = main_job
        .split_whitespace()
        .filter(|w| w.starts_with("data/") || w.starts_with("models/"))
        .collect();
    assert!(!inputs.is_empty(), "{main_job}");
    for p in inputs {
        assert!(
            root().join(p).exists(),
            "README main job reads {p}, which does not exist"
        );
    }
    // The CI script runs the same test command.
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == tests),
        ".ci/run must run {tests:?}"
    );
}

#[test]
fn every_bundled_photo_is_listed_in_its_notice() {
    let notice = std::fs::read_to_string(root().join("data/faces/NOTICE.md")).unwrap();
    for entry in std::fs::read_dir(root().join("data/faces")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !(name.ends_with(".png") || name.ends_with(".jpg")) {
            continue;
        }
        assert!(
            notice.contains(&name),
            "{name} is not listed in data/faces/NOTICE.md"
        );
    }
}
