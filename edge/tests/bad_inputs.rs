//! The bad-input corpus, generated here from real files, run through `lrpo-edge`'s entry points
//! as processes: every case gives a result or a clear error naming the file, never a panic, an
//! abort or a hang, and no input is ever changed.
//!
//! The corpus (`corpus`): empty, truncated, bit-flipped and random files; files whose header
//! declares a size they do not hold (a 60000 × 60000 PNG, an 8192 × 8192 JPEG of 2 KB); 0 × 0,
//! 1 × 1 and 1 × 4000 images; 16-bit, grayscale and RGBA PNGs; a PNG named `.jpg`, text named
//! `.png`; a folder and a FIFO named like photos. Each entry point gets the whole corpus folder
//! in one run (a bad file is reported and the rest continue), so the test stays fast.

mod common;

use lrpo_shared::rng::Rng;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lrpo-edge"))
}

fn shipped(subcommand: &str) -> Command {
    let mut c = bin();
    let models = common::root().join("models");
    c.arg(subcommand)
        .arg("--model")
        .arg(models.join("gt_student.onnx"))
        .arg("--detector")
        .arg(models.join("mtcnn"));
    c
}

/// Runs `c` with stdin from `stdin`, killing it after `limit` (then the test fails: a hang).
fn run(mut c: Command, stdin: &[u8], limit: Duration) -> Output {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let _ = input.write_all(&data);
    });
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{c:?} still running after {limit:?} (a hang):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    feeder.join().unwrap();
    child.wait_with_output().unwrap()
}

/// A clean exit: 0 (done), 1 (some inputs failed) or 2 (refused); not a panic (101), not a
/// signal (abort, out of memory).
fn assert_clean(o: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        matches!(o.status.code(), Some(0..=2)),
        "{what}: exit {:?} (a panic or a signal):\n{stderr}",
        o.status
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
}

/// `png` with its IHDR width and height replaced (CRC fixed, so only the size is wrong).
fn png_declaring(png: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut b = png.to_vec();
    // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), ...; CRC after 13 bytes.
    b[16..20].copy_from_slice(&w.to_be_bytes());
    b[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = common::crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    b
}

fn encode_png(img: image::DynamicImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Writes the corpus into `dir`; returns the case files (the FIFO and folder included).
fn corpus(dir: &Path) -> Vec<PathBuf> {
    let root = common::root();
    let jpeg = std::fs::read(root.join("data/faces/grace_hopper.jpg")).unwrap();
    let photo = image::load_from_memory(&jpeg).unwrap();
    let png = encode_png(photo.clone());
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("empty.jpg".into(), vec![]),
        ("empty.png".into(), vec![]),
        ("text.png".into(), b"not an image at all\n".to_vec()),
        ("png_named.jpg".into(), png.clone()),
        ("bomb_60000.png".into(), png_declaring(&png, 60000, 60000)),
        ("zero.png".into(), png_declaring(&png, 0, 0)),
        (
            "gray16.png".into(),
            encode_png(image::DynamicImage::ImageRgb16(photo.to_rgb16())),
        ),
        (
            "gray.png".into(),
            encode_png(image::DynamicImage::ImageLuma8(photo.to_luma8())),
        ),
        (
            "rgba.png".into(),
            encode_png(image::DynamicImage::ImageRgba8(photo.to_rgba8())),
        ),
        (
            "one.png".into(),
            encode_png(image::DynamicImage::new_rgb8(1, 1)),
        ),
        (
            "strip.png".into(),
            encode_png(image::DynamicImage::new_rgb8(1, 4000)),
        ),
    ];
    // An 8192 x 8192 JPEG in 2 KB: its frame header edited, the rest cut, the end marker kept.
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let mut bomb = jpeg[..2000].to_vec();
    bomb[sof + 5..sof + 9].copy_from_slice(&[0x20, 0x00, 0x20, 0x00]);
    bomb.extend([0xFF, 0xD9]);
    files.push(("bomb_8192.jpg".into(), bomb));
    for (name, src) in [("jpg", &jpeg), ("png", &png)] {
        for pct in [10, 50, 90, 99] {
            files.push((
                format!("{name}_cut{pct}.{name}"),
                src[..src.len() * pct / 100].to_vec(),
            ));
        }
    }
    let mut rng = Rng::new(18);
    for (name, src) in [("jpg", &jpeg), ("png", &png)] {
        for k in 0..12 {
            let mut b = src.clone();
            // Mostly in the headers, where lengths and sizes live.
            let span = if k % 2 == 0 {
                600.min(b.len())
            } else {
                b.len()
            };
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(span as u64) as usize;
                b[at] ^= 1 << rng.below(8);
            }
            files.push((format!("{name}_flip{k}.{name}"), b));
        }
        let random: Vec<u8> = (0..4096).map(|_| rng.below(256) as u8).collect();
        files.push((format!("{name}_random.{name}"), random));
    }
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        paths.push(p);
    }
    // Not photos, named like photos: given to the tools by name (a folder of inputs lists
    // only files).
    let special = dir.join("../special");
    std::fs::create_dir_all(&special).unwrap();
    let folder = special.join("folder.jpg");
    std::fs::create_dir_all(&folder).unwrap();
    paths.push(folder);
    let fifo = special.join("fifo.jpg");
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    paths.push(fifo);
    paths
}

/// The bytes of every regular file in the corpus (to check nothing was changed).
fn snapshot(paths: &[PathBuf]) -> Vec<Option<Vec<u8>>> {
    paths
        .iter()
        .map(|p| p.is_file().then(|| std::fs::read(p).unwrap()))
        .collect()
}

#[test]
fn every_bad_input_gives_a_result_or_a_clear_error_and_none_is_changed() {
    let dir = common::scratch("bad-inputs");
    let cases = dir.join("corpus");
    std::fs::create_dir_all(&cases).unwrap();
    let paths = corpus(&cases);
    let before = snapshot(&paths);
    let limit = Duration::from_secs(120);
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();

    // Photos: every case restored (an output), or named in an error.
    for (label, extra) in [
        ("restore", vec![]),
        ("restore --aligned", vec!["--aligned"]),
    ] {
        let out = dir.join(label.replace(' ', "_"));
        let mut c = shipped("restore");
        c.args(&extra).arg(&cases).args(&paths[paths.len() - 2..]);
        c.arg("-o").arg(&out);
        let o = run(c, b"", limit);
        assert_clean(&o, label);
        let stderr = String::from_utf8_lossy(&o.stderr);
        let written: Vec<String> = std::fs::read_dir(&out)
            .map(|d| d.map(|e| name(&e.unwrap().path())).collect())
            .unwrap_or_default();
        for p in &paths {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            let restored = written.iter().any(|w| w.starts_with(&format!("{stem}.")));
            assert!(
                restored || stderr.contains(&name(p)),
                "{label}: {} neither restored nor named in an error:\n{stderr}",
                name(p)
            );
        }
        for refused in [
            "empty.jpg",
            "text.png",
            "bomb_60000.png",
            "bomb_8192.jpg",
            "jpg_cut50.jpg",
            "fifo.jpg",
        ] {
            let stem = refused.split('.').next().unwrap();
            assert!(
                !written.iter().any(|w| w.starts_with(&format!("{stem}.")))
                    && stderr.contains(refused),
                "{label}: {refused} was not refused by name:\n{stderr}"
            );
        }
        assert!(
            written.iter().all(|w| !w.contains(".tmp")),
            "{label}: {written:?}"
        );
        assert_eq!(
            o.status.code(),
            Some(1),
            "{label}: some inputs must fail:\n{stderr}"
        );
    }

    // The degradation model on the same files.
    let out = dir.join("degrade");
    let mut c = bin();
    c.args(["degrade", "--seed", "1"])
        .arg(&cases)
        .arg("-o")
        .arg(&out);
    let o = run(c, b"", limit);
    assert_clean(&o, "degrade");

    // Frames on stdin that do not fit the sizes given, and sizes that cannot be.
    let stream = |w: &str, h: &str, fmt: &str| {
        let mut c = shipped("stream");
        c.args(["--width", w, "--height", h, "--pix-fmt", fmt]);
        c
    };
    for (w, h, fmt, stdin) in [
        ("4294967296", "4294967296", "rgb24", vec![0u8; 100]),
        ("0", "480", "rgb24", vec![]),
        ("641", "480", "nv12", vec![0u8; 1000]),
        ("64", "48", "rgb24", vec![7u8; 64 * 48 * 3 + 100]),
        ("64", "48", "yuyv422", jpeg_bytes()),
    ] {
        let o = run(stream(w, h, fmt), &stdin, limit);
        assert_clean(&o, &format!("stream {w}x{h} {fmt}"));
    }
    let model = common::root().join("models/gt_student.onnx");
    for args in [["--size", "60000"], ["--size", "0"]] {
        let mut c = bin();
        c.arg("bench").args(args).arg("--model").arg(&model);
        let o = run(c, b"", limit);
        assert_clean(&o, &format!("bench {args:?}"));
        assert_eq!(o.status.code(), Some(2), "bench {args:?} must be refused");
    }
    for args in [
        ["--threads", "1000"],
        ["--upscale", "3"],
        ["--feather", "NaN"],
        ["--min-face", "1e300"],
    ] {
        let mut c = shipped("restore");
        c.args(args)
            .arg(root_photo())
            .arg("-o")
            .arg(dir.join("flags"));
        let o = run(c, b"", limit);
        assert_clean(&o, &format!("restore {args:?}"));
        assert_eq!(o.status.code(), Some(2), "restore {args:?} must be refused");
    }
    assert!(
        snapshot(&paths) == before,
        "an input of the corpus was changed"
    );
}

fn root_photo() -> PathBuf {
    common::root().join("data/faces/grace_hopper.jpg")
}

fn jpeg_bytes() -> Vec<u8> {
    std::fs::read(root_photo()).unwrap()
}
