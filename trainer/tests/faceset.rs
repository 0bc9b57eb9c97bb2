//! `lrpo-train prepare-faces --sources`: a face set built end to end, as a process, from the
//! committed miniature source table over the bundled photos; then the trainer's data pipeline
//! reads its splits.

use lrpo_shared::faceset::{Manifest, Split};
use lrpo_trainer::data::{DataConfig, FaceSet};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `lrpo-train prepare-faces` of a source table over the bundled photos into `out`.
fn build_from(table: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lrpo-train"))
        .current_dir(repo())
        .args(["prepare-faces", "--sources"])
        .arg(table)
        .arg("--root")
        .arg(repo().join("data/faces"))
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

fn build(out: &std::path::Path) -> std::process::Output {
    build_from(
        &repo().join("trainer/tests/fixtures/face-sources-mini.toml"),
        out,
    )
}

/// SHA-256 by coreutils, independent of the crate the builder uses.
fn sha256sum(p: &std::path::Path) -> String {
    let o = Command::new("sha256sum").arg(p).output().unwrap();
    String::from_utf8(o.stdout).unwrap()[..64].to_string()
}

#[test]
fn a_face_set_is_built_from_a_source_table_with_identity_disjoint_splits() {
    let dir = std::env::temp_dir().join(format!("lrpo-faceset-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = build(&dir);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = Manifest::load(&dir).unwrap();
    // 8 photos, one labelled face each (obama.jpg's sleeve is below the detector's 0.95).
    let by_photo = |p: &str| m.faces.iter().find(|f| f.source_path == p).unwrap();
    let camera = by_photo("camera.png");
    assert!(!camera.accepted);
    assert_eq!(camera.reason.as_deref(), Some("eye distance under 40 px"));
    let kodim = by_photo("kodim04.png");
    assert!(
        !kodim.accepted
            && kodim
                .reason
                .as_deref()
                .unwrap()
                .contains("given in the table")
    );
    // Faces well inside their photos.
    assert!(by_photo("biden.jpg").outside == 0.0);
    // Crop sides: the largest that does not upsample more than 1.5×.
    let biden = by_photo("biden.jpg");
    assert_eq!(biden.crop_size, Some(512));
    let astro = by_photo("astronaut.png");
    assert!(astro.accepted);
    let side = astro.crop_size.unwrap();
    assert!(side < 512 && side % 8 == 0, "astronaut crop {side}");
    assert!(astro.upsample.unwrap() <= 1.5 + 1e-9);
    assert!(
        astro.upsample.unwrap() > 1.4,
        "the largest side within 1.5×"
    );
    // Every accepted crop exists with the recorded bytes, at its recorded size.
    for f in m.faces.iter().filter(|f| f.accepted) {
        let p = dir.join(f.file.as_ref().unwrap());
        assert_eq!(
            &sha256sum(&p),
            f.sha256.as_ref().unwrap(),
            "{}",
            p.display()
        );
        let img = lrpo_shared::image::load_rgb(&p).unwrap();
        assert_eq!(img.dim().1, f.crop_size.unwrap());
        assert!(f.split.is_some());
    }
    // Splits: identities, not files; every accepted identity in exactly one split.
    let s = &m.splits;
    assert_eq!((s.test.len(), s.validation.len()), (1, 1));
    let all: BTreeSet<&String> = s.train.iter().chain(&s.validation).chain(&s.test).collect();
    assert_eq!(all.len(), s.train.len() + 2);
    let accepted_ids: BTreeSet<&String> = m
        .faces
        .iter()
        .filter(|f| f.accepted)
        .filter_map(|f| f.identity.as_ref())
        .collect();
    assert_eq!(all, accepted_ids);
    for f in m.faces.iter().filter(|f| f.accepted) {
        assert_eq!(s.of(f.identity.as_ref().unwrap()), f.split);
    }
    assert!(stdout.contains("accepted"), "{stdout}");
    // The same table gives the same manifest, byte for byte.
    let first = std::fs::read(dir.join("faces.json")).unwrap();
    let o = build(&dir);
    assert!(o.status.success());
    assert_eq!(std::fs::read(dir.join("faces.json")).unwrap(), first);
    // The trainer reads the train and validation splits and never the test split.
    let cfg = DataConfig {
        resolution: 32,
        ..Default::default()
    };
    let set = FaceSet::load(&dir, &cfg).unwrap();
    let files =
        |sp: Split| -> BTreeSet<String> { m.faces_in(sp).filter_map(|f| f.file.clone()).collect() };
    let train: BTreeSet<String> = set.train.iter().map(|f| f.name.clone()).collect();
    let val: BTreeSet<String> = set.val.iter().map(|f| f.name.clone()).collect();
    assert_eq!(train, files(Split::Train));
    assert_eq!(val, files(Split::Validation));
    assert!(
        files(Split::Test)
            .iter()
            .all(|t| !train.contains(t) && !val.contains(t))
    );
    // A crop edited after the build is refused by name.
    let victim = dir.join(set.train[0].name.clone());
    let img = lrpo_shared::image::load_rgb(&victim)
        .unwrap()
        .mapv(|v| v * 0.5);
    lrpo_shared::image::save_rgb(&victim, &img.view()).unwrap();
    let e = FaceSet::load(&dir, &cfg).unwrap_err().to_string();
    assert!(
        e.contains("SHA-256") && e.contains(&set.train[0].name),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_labelled_face_that_is_not_found_is_an_error_naming_the_photo() {
    let dir = std::env::temp_dir().join(format!("lrpo-faceset-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let table = dir.join("t.toml");
    std::fs::write(
        &table,
        r#"
[[package]]
name = "bundled"
version = "0"
registry = "local"
licence = "x"
photo = [{ path = "biden.jpg", face = [{ identity = "biden", at = [10, 10] }] }]
"#,
    )
    .unwrap();
    let o = build_from(&table, &dir.join("out"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("biden.jpg") && err.contains("not detected"),
        "{err}"
    );
    assert!(!dir.join("out/faces.json").exists(), "nothing written");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_train_only_package_adds_training_people_and_leaves_validation_and_test_alone() {
    let dir = std::env::temp_dir().join(format!("lrpo-faceset-later-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dealt = r#"
[split]
seed = 1
validation = 1
test = 1

[[package]]
name = "first"
version = "0"
registry = "local"
licence = "see data/faces/NOTICE.md"
photo = [
  { path = "obama.jpg", face = [{ identity = "obama", at = [496, 268] }] },
  { path = "biden.jpg", face = [{ identity = "biden", at = [586, 402] }] },
  { path = "grace_hopper.jpg", face = [{ identity = "hopper", at = [267, 233] }] },
]
"#;
    let later = r#"
[[package]]
name = "later"
version = "0"
registry = "local"
licence = "see data/faces/NOTICE.md"
train_only = true
photo = [{ path = "astronaut.png", face = [{ identity = "collins", at = [224, 123] }] }]
"#;
    let run = |name: &str, text: &str| {
        let table = dir.join(format!("{name}.toml"));
        std::fs::write(&table, text).unwrap();
        let o = build_from(&table, &dir.join(name));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Manifest::load(&dir.join(name)).unwrap()
    };
    let before = run("before", dealt);
    let after = run("after", &format!("{dealt}{later}"));
    assert_eq!(after.splits.validation, before.splits.validation);
    assert_eq!(after.splits.test, before.splits.test);
    let mut train = before.splits.train.clone();
    train.push("collins".into());
    train.sort();
    assert_eq!(after.splits.train, train);
    let collins = after
        .faces_in(Split::Train)
        .find(|f| f.package == "later@0");
    assert_eq!(collins.unwrap().identity.as_deref(), Some("collins"));
    // The dealt people's crops are the same files, in the same splits.
    for split in [Split::Validation, Split::Test] {
        let sha = |m: &Manifest| {
            m.faces_in(split)
                .map(|f| f.sha256.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(sha(&after), sha(&before));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
