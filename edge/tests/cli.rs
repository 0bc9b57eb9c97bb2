//! `lrpo-edge` run as a process on real files, good and bad.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lrpo-edge"))
}

fn faces() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/faces")
}

/// `lrpo-edge SUBCOMMAND` with the shipped f32 policy and detector named explicitly (CI builds
/// the binary outside the tree, where the defaults beside it are not found).
fn shipped(subcommand: &str) -> Command {
    let mut c = bin();
    c.arg(subcommand)
        .arg("--model")
        .arg(faces().join("../../models/gt_student.onnx"))
        .arg("--detector")
        .arg(faces().join("../../models/mtcnn"));
    c
}

fn scratch(name: &str) -> PathBuf {
    // Under cargo's per-target scratch folder (where there is one), one per test name: a rerun
    // replaces it, so scratch files do not pile up in the system's temporary folder (a failed
    // run's stay there to look at).
    let d = option_env!("CARGO_TARGET_TMPDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("lrpo-edge-cli-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn help_lists_the_subcommands() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["degrade", "restore", "stream", "bench"] {
        assert!(text.contains(cmd), "{text}");
    }
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

mod common;

/// A small PNG file whose header claims `w × h` RGB pixels (its data is an empty stream).
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        let mut c = kind.to_vec();
        c.extend(data);
        v.extend((data.len() as u32).to_be_bytes());
        v.extend(&c);
        v.extend(common::crc32(&c).to_be_bytes());
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", b"\x78\x9c\x03\x00\x00\x00\x00\x01");
    chunk(b"IEND", b"");
    v
}

fn save_png(path: &Path, img: image::DynamicImage) {
    img.save(path).unwrap();
}

#[test]
fn restore_writes_outputs_crops_and_comparisons_for_a_photo_with_several_faces() {
    let dir = scratch("restore-ok");
    let model = common::sharpen_policy(&dir, "sharpen", 128);
    let out = dir.join("out");
    let o = bin()
        .current_dir(common::root())
        .args([
            "restore",
            "--detail-gate",
            "off",
            "--save-crops",
            "--side-by-side",
            "--suffix",
            "_r",
            "--ext",
            "jpg",
            "--model",
        ])
        .arg(&model)
        .arg("-o")
        .arg(&out)
        .arg(common::root().join("data/scenes/montage.jpg"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("4 face(s)"), "{stdout}");
    assert!(out.join("montage_r.jpg").exists() && out.join("montage_r_compare.jpg").exists());
    let crops = std::fs::read_dir(out.join("crops")).unwrap().count();
    assert_eq!(crops, 8);
    let restored = lrpo_shared::image::load_rgb(&out.join("montage_r.jpg")).unwrap();
    assert_eq!(restored.dim(), (3, 680, 680));
    let cmp = lrpo_shared::image::load_rgb(&out.join("montage_r_compare.jpg")).unwrap();
    assert_eq!(cmp.dim(), (3, 680, 1360));
}

#[test]
fn restore_reports_bad_images_and_carries_on() {
    let dir = scratch("restore-bad");
    let model = common::sharpen_policy(&dir, "sharpen", 64);
    let inputs = dir.join("in");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::write(
        inputs.join("corrupt.jpg"),
        b"\xff\xd8\xff\xe0 not really a jpeg",
    )
    .unwrap();
    std::fs::write(inputs.join("empty.png"), b"").unwrap();
    std::fs::write(inputs.join("huge.png"), png_header_only(16384, 16384)).unwrap();
    std::fs::write(inputs.join("zero.png"), png_header_only(0, 10)).unwrap();
    save_png(
        &inputs.join("one.png"),
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(1, 1, image::Rgb([9, 9, 9]))),
    );
    let cam = image::open(common::root().join("data/faces/camera.png")).unwrap();
    save_png(
        &inputs.join("gray.png"),
        image::DynamicImage::ImageLuma8(cam.to_luma8()),
    );
    let hopper = image::open(common::root().join("data/faces/grace_hopper.jpg")).unwrap();
    save_png(
        &inputs.join("rgba.png"),
        image::DynamicImage::ImageRgba8(hopper.to_rgba8()),
    );
    let out = dir.join("out");
    let o = bin()
        .current_dir(common::root())
        // These tests are about the command's mechanics: every face found is restored (the
        // detail gate has its own test in pipeline.rs).
        .args(["restore", "--detail-gate", "off", "--model"])
        .arg(&model)
        .arg("-o")
        .arg(&out)
        .arg(&inputs)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    for bad in ["corrupt.jpg", "empty.png", "huge.png", "zero.png"] {
        assert!(stderr.contains(bad), "{bad} not reported:\n{stderr}");
    }
    assert!(
        stderr.contains("16384x16384") && stderr.contains("above the limit"),
        "{stderr}"
    );
    assert!(stdout.contains("one.png: no face found"), "{stdout}");
    assert!(
        stdout.contains("gray.png: 1 face(s)") && stdout.contains("rgba.png: 1 face(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 restored (1 without a face), 4 failed"),
        "{stdout}"
    );
    // The 1 × 1 image is written back unchanged.
    let one = lrpo_shared::image::load_rgb(&out.join("one.png")).unwrap();
    assert_eq!(one.dim(), (3, 1, 1));
}

#[test]
fn wrong_truncated_and_missing_models_are_clear_errors() {
    let dir = scratch("restore-models");
    let face = common::root().join("data/faces/grace_hopper.jpg");
    let run = |args: &[&std::ffi::OsStr]| bin().args(args).current_dir(&dir).output().unwrap();
    let descriptor = common::root().join("models/face_descriptor.onnx");
    let o = run(&[
        "restore".as_ref(),
        "--model".as_ref(),
        descriptor.as_os_str(),
        "-o".as_ref(),
        "out".as_ref(),
        face.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("face_descriptor.card") && e.contains("card"),
        "{e}"
    );
    let model = common::sharpen_policy(&dir, "cut", 64);
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() - 20]).unwrap();
    let o = run(&[
        "restore".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "-o".as_ref(),
        "out".as_ref(),
        face.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cut.onnx"));
    // No --model and no shipped model anywhere near: a copy of the binary alone in a folder.
    let lone = dir.join("lone");
    std::fs::create_dir_all(&lone).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_lrpo-edge"), lone.join("lrpo-edge")).unwrap();
    let o = Command::new(lone.join("lrpo-edge"))
        .args([
            "restore".as_ref(),
            "-o".as_ref(),
            "out".as_ref(),
            face.as_os_str(),
        ])
        .current_dir(&lone)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("models/gt_student_int8.onnx") && e.contains("--model"),
        "{e}"
    );
}

/// Runs `lrpo-edge stream ARGS --model MODEL` with `input` on stdin (fed from another thread,
/// so that stdout is drained meanwhile).
fn run_stream(args: &[&str], model: &Path, input: Vec<u8>) -> std::process::Output {
    use std::io::Write;
    let mut child = bin()
        .current_dir(common::root())
        .arg("stream")
        .args(args)
        .arg("--model")
        .arg(model)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        // The child may stop reading early (a cut frame, an error): not a test failure here.
        let _ = stdin.write_all(&input);
    });
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    o
}

#[test]
fn stream_restores_whole_frames_and_ends_cleanly_on_a_cut_frame() {
    let dir = scratch("stream");
    let model = common::sharpen_policy(&dir, "sharpen", 64);
    let frame = image::open(common::root().join("data/scenes/montage.jpg"))
        .unwrap()
        .to_rgb8();
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let mut input = frame.as_raw().repeat(3);
    input.extend_from_slice(&frame.as_raw()[..1000]);
    let o = run_stream(
        &[
            "--width",
            &w.to_string(),
            "--height",
            &h.to_string(),
            "--detect-every",
            "2",
            "--stats-every",
            "2",
            "--detail-gate",
            "off",
        ],
        &model,
        input,
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(o.stdout.len(), 3 * w * h * 3, "{stderr}");
    assert!(
        stderr.contains("ended in the middle of frame 3") && stderr.contains("done: 3 frames"),
        "{stderr}"
    );
    // Frames 0 and 2 ran the detector, frame 1 reused its faces: all three come out restored
    // (different from the input) and identical to each other.
    let f0 = &o.stdout[..w * h * 3];
    assert_ne!(f0, frame.as_raw().as_slice());
    assert_eq!(&o.stdout[w * h * 3..2 * w * h * 3], f0);
    let o = bin()
        .args(["stream", "--width", "0", "--height", "10", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("must be positive"));
}

#[test]
fn stream_takes_and_gives_camera_pixel_formats() {
    use lrpo_shared::pixfmt::{PixelFormat, YuvRange, from_rgb, to_rgb};
    let dir = scratch("stream-yuv");
    let model = common::sharpen_policy(&dir, "sharpen", 64);
    let photo =
        lrpo_shared::image::load_rgb(&common::root().join("data/scenes/montage.jpg")).unwrap();
    let (h, w) = (photo.dim().1 & !1, photo.dim().2 & !1);
    let photo = photo.slice(ndarray::s![.., ..h, ..w]).to_owned();
    let mut rgb_out = None;
    for (name, fmt) in [
        ("rgb24", PixelFormat::Rgb24),
        ("nv12", PixelFormat::Nv12),
        ("yuyv422", PixelFormat::Yuyv422),
    ] {
        let mut frame = Vec::new();
        from_rgb(&photo.view(), fmt, YuvRange::Limited, &mut frame).unwrap();
        let o = run_stream(
            &[
                "--width",
                &w.to_string(),
                "--height",
                &h.to_string(),
                "--pix-fmt",
                name,
                "--detail-gate",
                "off",
            ],
            &model,
            frame.repeat(2),
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{name}: {stderr}");
        assert_eq!(o.stdout.len(), 2 * frame.len(), "{name}: {stderr}");
        assert!(stderr.contains(&format!("{name} frames")), "{stderr}");
        let out = to_rgb(&o.stdout[..frame.len()], w, h, fmt, YuvRange::Limited).unwrap();
        // The faces are restored in RGB whatever the format: the same picture as from rgb24,
        // within the format's own conversion error.
        match &rgb_out {
            None => rgb_out = Some(out),
            Some(r) => {
                let mean = out
                    .iter()
                    .zip(r.iter())
                    .map(|(a, b)| (a - b).abs())
                    .sum::<f32>()
                    / out.len() as f32;
                assert!(
                    mean < 4.0 / 255.0,
                    "{name}: mean {:.2} levels from rgb24",
                    mean * 255.0
                );
            }
        }
    }
    let o = run_stream(
        &["--width", "63", "--height", "48", "--pix-fmt", "nv12"],
        &model,
        vec![0; 10],
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("even"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bench_reports_latency_and_memory() {
    let dir = scratch("bench");
    let model = common::sharpen_policy(&dir, "sharpen", 64);
    let o = bin()
        .args(["bench", "--runs", "5", "--size", "96", "--model"])
        .arg(&model)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        s.contains("96x96") && s.contains("median") && s.contains("p90") && s.contains("peak RSS"),
        "{s}"
    );
}

#[test]
fn restore_and_degrade_never_overwrite_their_inputs_or_their_own_outputs() {
    let dir = common::scratch("cli-overwrite");
    let model = common::sharpen_policy(&dir, "sharp", 64);
    let photos = dir.join("photos");
    std::fs::create_dir_all(photos.join("a")).unwrap();
    std::fs::create_dir_all(photos.join("b")).unwrap();
    let src = common::root().join("data/faces/grace_hopper.jpg");
    std::fs::copy(&src, photos.join("face.jpg")).unwrap();
    let before = std::fs::read(photos.join("face.jpg")).unwrap();
    // -o the input folder with --ext jpg: the output would be the input itself.
    let o = bin()
        .current_dir(common::root())
        .args(["restore", "--ext", "jpg", "--model"])
        .arg(&model)
        .arg("-o")
        .arg(&photos)
        .arg(photos.join("face.jpg"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("refusing to overwrite an input"), "{err}");
    assert_eq!(std::fs::read(photos.join("face.jpg")).unwrap(), before);
    // Two inputs with the same stem: the first output is kept, the second refused by name.
    std::fs::copy(&src, photos.join("a/face.jpg")).unwrap();
    let img = lrpo_shared::image::load_rgb(&src).unwrap();
    lrpo_shared::image::save_rgb(&photos.join("b/face.png"), &img.view()).unwrap();
    let out = dir.join("out");
    let o = bin()
        .current_dir(common::root())
        .args(["restore", "--model"])
        .arg(&model)
        .arg("-o")
        .arg(&out)
        .arg(photos.join("a/face.jpg"))
        .arg(photos.join("b/face.png"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("a/face.jpg") && err.contains("b/face.png") && err.contains("both"),
        "{err}"
    );
    assert!(out.join("face.png").exists());
    // degrade: X.png next to an input named X_lq.png would replace it.
    let d = dir.join("deg");
    std::fs::create_dir_all(&d).unwrap();
    lrpo_shared::image::save_rgb(&d.join("x.png"), &img.view()).unwrap();
    lrpo_shared::image::save_rgb(&d.join("x_lq.png"), &img.view()).unwrap();
    let lq_before = std::fs::read(d.join("x_lq.png")).unwrap();
    let o = bin()
        .args(["degrade"])
        .arg(&d)
        .arg("-o")
        .arg(&d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("refusing to overwrite an input"), "{err}");
    assert_eq!(std::fs::read(d.join("x_lq.png")).unwrap(), lq_before);
}

#[test]
fn sizes_that_wrap_and_reports_into_the_test_set_are_refused() {
    let o = bin()
        .args(["stream", "--width", "4294967296", "--height", "4294967296"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("pixel limit"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let dir = common::scratch("cli-eval-into-data");
    std::fs::copy(
        common::root().join("data/train/faces/biden_0.png"),
        dir.join("biden_0.png"),
    )
    .unwrap();
    let o = bin()
        .args(["eval", "--baseline", "input", "--data"])
        .arg(&dir)
        .arg("-o")
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("into the test set"),
        "{err}"
    );
    assert!(!dir.join("README.md").exists());
}

#[test]
fn upscale_enlarges_restore_and_stream_outputs_and_refuses_other_factors() {
    let dir = scratch("upscale");
    let model = common::sharpen_policy(&dir, "sharpen", 64);
    let photo = faces().join("grace_hopper.jpg");
    let o = bin()
        .current_dir(common::root())
        .args([
            "restore",
            "--upscale",
            "2",
            "--side-by-side",
            "--detail-gate",
            "off",
            "-o",
        ])
        .arg(dir.join("out"))
        .arg("--model")
        .arg(&model)
        .arg(&photo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let input = image::open(&photo).unwrap();
    let out = image::open(dir.join("out/grace_hopper.png")).unwrap();
    assert_eq!(
        (out.width(), out.height()),
        (2 * input.width(), 2 * input.height())
    );
    let cmp = image::open(dir.join("out/grace_hopper_compare.png")).unwrap();
    assert_eq!(
        (cmp.width(), cmp.height()),
        (4 * input.width(), 2 * input.height())
    );
    assert!(stdout.contains("1 face(s) at"), "{stdout}");
    let frame = image::open(common::root().join("data/scenes/montage.jpg"))
        .unwrap()
        .to_rgb8();
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let o = run_stream(
        &[
            "--upscale",
            "2",
            "--width",
            &w.to_string(),
            "--height",
            &h.to_string(),
        ],
        &model,
        frame.as_raw().repeat(2),
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(o.stdout.len(), 2 * (2 * w) * (2 * h) * 3, "{stderr}");
    for cmd in ["restore", "stream"] {
        let mut c = bin();
        c.current_dir(common::root())
            .args([cmd, "--upscale", "3", "--model"])
            .arg(&model);
        if cmd == "restore" {
            c.arg("-o").arg(dir.join("x")).arg(&photo);
        } else {
            c.args(["--width", "8", "--height", "8"]);
        }
        let o = c.output().unwrap();
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("must be 1, 2 or 4"),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn a_closed_stdout_stops_restore_with_a_failure_code() {
    let dir = scratch("closed-stdout");
    let model = common::sharpen_policy(&dir, "sharpen", 64);
    let mut child = bin()
        .current_dir(common::root())
        .args(["restore", "--detail-gate", "off", "-o"])
        .arg(dir.join("out"))
        .arg("--model")
        .arg(&model)
        .arg(faces())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away at once, as `| head -0` would.
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("standard output was closed"), "{stderr}");
}

#[test]
fn the_default_policy_is_the_faster_of_the_shipped_int8_and_f32_students() {
    let dir = scratch("default-policy");
    let o = bin()
        .current_dir(common::root())
        .args(["restore", "data/scenes/montage_lq.jpg", "-o"])
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("default policy: "))
        .unwrap_or_else(|| panic!("no choice reported: {stderr}"));
    // Both were timed; the one named first is the faster.
    // The number before each " ms".
    let ms: Vec<f64> = line
        .split(" ms")
        .filter_map(|part| part.rsplit([' ', '(']).next()?.parse().ok())
        .collect();
    assert!(
        line.contains("gt_student.onnx") && line.contains("gt_student_int8.onnx"),
        "{line}"
    );
    assert_eq!(ms.len(), 2, "{line}");
    assert!(ms[0] <= ms[1], "{line}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("4 face(s)"));
}

#[test]
fn shipped_models_are_found_beside_the_executable_before_the_working_folder() {
    // A working folder with a `models/` that is not the shipped one.
    let dir = scratch("locate");
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::write(dir.join("models/gt_student_int8.onnx"), b"not a model").unwrap();
    std::fs::write(dir.join("models/gt_student_int8.card"), b"not a card").unwrap();
    let o = bin()
        .current_dir(&dir)
        .args(["restore", "-o", "out"])
        .arg(common::root().join("data/scenes/montage_lq.jpg"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    // The test binary lives in the checkout's target folder, two folders below `models/`.
    if std::path::Path::new(env!("CARGO_BIN_EXE_lrpo-edge"))
        .starts_with(common::root().canonicalize().unwrap())
    {
        assert!(o.status.success(), "{stderr}");
        assert!(String::from_utf8_lossy(&o.stdout).contains("4 face(s)"));
    } else {
        // Built outside the checkout (CI's target folder): nothing beside the executable, so the
        // working folder's file is the one tried, and refused by name.
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("gt_student_int8"), "{stderr}");
    }
}

#[test]
fn absurd_sizes_and_thread_counts_are_refused_before_any_allocation() {
    let dir = scratch("absurd");
    let model = common::sharpen_policy(&dir, "s", 64);
    let refused = |args: &[&str], needle: &str| {
        let o = bin()
            .args(args)
            .arg("--model")
            .arg(&model)
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(e.contains(needle), "{args:?}: {e}");
    };
    refused(&["bench", "--size", "60000"], "--size must be in 1..=1024");
    refused(
        &["bench", "--threads", "1000"],
        "--threads must be in 1..=64",
    );
    // A card whose crop size was edited to 60000.
    let card_path = dir.join("s.card");
    let mut card = lrpo_shared::card::PolicyCard::load(&card_path).unwrap();
    card.input.size = 60000;
    card.save(&card_path).unwrap();
    refused(&["bench"], "outside 1..=1024");
}

#[test]
fn detection_benchmark_finds_the_labelled_faces_in_camera_frames() {
    let dir = scratch("bench-detect");
    let table = dir.join("sources.toml");
    // The bundled photos with their faces' landmark centres (data/faces/landmarks.json).
    std::fs::write(
        &table,
        r#"
[[package]]
name = "bundled"
version = "0"
registry = "local"
licence = "see data/faces/NOTICE.md"
photo = [
  { path = "obama.jpg", face = [{ identity = "a", at = [495.8, 268.4] }] },
  { path = "grace_hopper.jpg", face = [{ identity = "b", at = [266.7, 233.4] }] },
  { path = "astronaut.png", face = [{ identity = "c", at = [224.2, 123.0] }] },
]
"#,
    )
    .unwrap();
    let json = dir.join("detect.json");
    // The shipped detector named explicitly: CI builds the binary outside the tree.
    let detector = faces().join("../../models/mtcnn");
    let bench = |frames: &str| {
        let mut c = bin();
        c.args(["bench-detect", "--runs", "1", "--frame", frames])
            .arg("--detector")
            .arg(&detector)
            .arg("--sources")
            .arg(&table)
            .arg("--photos")
            .arg(faces());
        c
    };
    let out = bench("640x480,320x240")
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("640x480") && text.contains("320x240"),
        "{text}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let frames = v["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 2);
    for f in frames {
        assert_eq!(f["labelled"], 3, "{f}");
        assert_eq!(f["found"], 3, "{f}");
        assert_eq!(f["unmatched"], 0, "{f}");
        assert!(f["median_ms"].as_f64().unwrap() > 0.0);
    }
    // A label where no face is: missed, and the face found there is unmatched.
    std::fs::write(
        &table,
        std::fs::read_to_string(&table)
            .unwrap()
            .replace("[495.8, 268.4]", "[60.0, 60.0]"),
    )
    .unwrap();
    let out = bench("640x480").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("found 2/3") && text.contains("1 unmatched"),
        "{text}"
    );
    // Bad sizes are refused with the flag named.
    let out = bin()
        .args(["bench-detect", "--frame", "640by480"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--frame"));
    let out = bin()
        .args(["bench-detect", "--min-face", "3"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--min-face"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_closed_stderr_does_not_turn_an_error_into_a_panic() {
    // stderr is a pipe whose reader has gone (`… 2>&1 | head` after head exits): the messages
    // are lost, the exit code is still the run's (1: an input is missing), not a panic's 101.
    use std::os::fd::{FromRawFd, OwnedFd};
    let dir = scratch("closed-stderr");
    let mut fds = [0i32; 2];
    // SAFETY: pipe() fills two new descriptors; each is owned exactly once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    let status = shipped("restore")
        .arg(dir.join("missing.png"))
        .arg("-o")
        .arg(dir.join("out"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(write_end))
        .status()
        .unwrap();
    assert_ne!(status.code(), Some(101), "panicked on the closed stderr");
    assert_eq!(status.code(), Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs ffmpeg (which `.ci/run` installs) with `args`; panics with its message on failure.
fn ffmpeg(args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin"])
        .args(args)
        .output()
        .expect("ffmpeg is needed for the video tests (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn probe_streams(path: &Path) -> Vec<serde_json::Value> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-count_frames",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["streams"].as_array().unwrap().clone()
}

#[test]
fn a_video_is_restored_with_its_size_rate_and_audio() {
    let dir = scratch("video");
    let clip = dir.join("clip.mp4");
    // One second of the README's low-quality scene at 10 frames/s, with a tone.
    let scene = faces().join("../scenes/montage_lq.jpg");
    ffmpeg(&[
        "-y".as_ref(),
        "-loop".as_ref(),
        "1".as_ref(),
        "-i".as_ref(),
        scene.as_os_str(),
        "-f".as_ref(),
        "lavfi".as_ref(),
        "-i".as_ref(),
        "sine=frequency=440:duration=1".as_ref(),
        "-t".as_ref(),
        "1".as_ref(),
        "-r".as_ref(),
        "10".as_ref(),
        "-c:v".as_ref(),
        "libx264".as_ref(),
        "-pix_fmt".as_ref(),
        "yuv420p".as_ref(),
        "-c:a".as_ref(),
        "aac".as_ref(),
        "-shortest".as_ref(),
        clip.as_os_str(),
    ]);
    let out_dir = dir.join("out");
    let out = shipped("restore")
        .arg(&clip)
        .arg("-o")
        .arg(&out_dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("10 frames restored, audio kept"), "{text}");
    let restored = out_dir.join("clip.mp4");
    let (a, b) = (probe_streams(&clip), probe_streams(&restored));
    let pick =
        |s: &[serde_json::Value], kind: &str| s.iter().find(|x| x["codec_type"] == kind).cloned();
    let (va, vb) = (pick(&a, "video").unwrap(), pick(&b, "video").unwrap());
    for k in ["width", "height", "r_frame_rate", "nb_read_frames"] {
        assert_eq!(va[k], vb[k], "{k}");
    }
    assert!(pick(&b, "audio").is_some(), "the audio was dropped");
    // The faces changed (restored), the frame size did not; nothing temporary is left.
    let frame = |p: &Path| {
        ffmpeg(&[
            "-i".as_ref(),
            p.as_os_str(),
            "-vframes".as_ref(),
            "1".as_ref(),
            "-f".as_ref(),
            "rawvideo".as_ref(),
            "-pix_fmt".as_ref(),
            "rgb24".as_ref(),
            "-".as_ref(),
        ])
    };
    let (fa, fb) = (frame(&clip), frame(&restored));
    assert_eq!(fa.len(), 272 * 272 * 3);
    assert_eq!(fa.len(), fb.len());
    let mad = fa
        .iter()
        .zip(&fb)
        .map(|(&x, &y)| (x as f64 - y as f64).abs())
        .sum::<f64>()
        / fa.len() as f64;
    assert!(
        mad > 1.0,
        "the frames were not restored (mean |difference| {mad:.2})"
    );
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, vec!["clip.mp4".to_string()]);
    // A FIFO named like a video is refused, not waited on by ffprobe.
    #[cfg(unix)]
    {
        let fifo = dir.join("live.mp4");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let out = shipped("restore")
            .arg(&fifo)
            .arg("-o")
            .arg(dir.join("out3"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("not a regular file"), "{err}");
    }
    // Without ffmpeg on the PATH: a clear error naming it, the batch's exit code 1.
    let empty = dir.join("no-tools");
    std::fs::create_dir_all(&empty).unwrap();
    let out = shipped("restore")
        .env("PATH", &empty)
        .arg(&clip)
        .arg("-o")
        .arg(dir.join("out2"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ffprobe was not found") && err.contains("apt-get install ffmpeg"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_stream_measures_flicker_against_the_noise_it_added() {
    let dir = scratch("bench-stream");
    let json = dir.join("stream.json");
    let photos = format!(
        "{},{}",
        faces().join("obama.jpg").display(),
        faces().join("grace_hopper.jpg").display()
    );
    let o = shipped("bench-stream")
        .args(["--detail-gate", "off", "--frames", "4", "--width", "320"])
        .args(["--height", "240", "--photos", &photos, "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let settings = doc["settings"].as_array().unwrap();
    assert_eq!(settings.len(), 3);
    for s in settings {
        let f = &s["flicker"];
        assert!(f["region_pixels"].as_u64().unwrap() > 500, "{s}");
        // Two frames' independent Gaussian noise of σ = 2 levels differ by 2σ/√π = 2.26 on
        // average (before rounding to levels).
        let input = f["input"].as_f64().unwrap();
        assert!((input - 2.257).abs() < 0.15, "input flicker {input}");
        assert!(s["ratio"].as_f64().unwrap() > 0.2, "{s}");
    }
    // Nothing to compare with an upscaled output; absurd clips refused.
    for (flag, value) in [("--upscale", "2"), ("--frames", "1"), ("--noise", "-1")] {
        let o = shipped("bench-stream")
            .args([flag, value, "--photos", &photos])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
    }
}

#[test]
fn a_photo_too_large_for_the_memory_budget_is_refused_naming_the_budget() {
    let dir = scratch("budget");
    // 1000 x 600 upscaled 4x as f32 frames: 204 bytes per input pixel, 117 MiB, above what
    // --max-memory 256 leaves for a photo (96 MiB).
    let photo = dir.join("wide.png");
    image::RgbImage::from_pixel(1000, 600, image::Rgb([90, 120, 150]))
        .save(&photo)
        .unwrap();
    let o = shipped("restore")
        .args(["--upscale", "4", "--max-memory", "256", "-o"])
        .arg(dir.join("out"))
        .arg(&photo)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(
        e.contains("wide.png") && e.contains("--max-memory 256 MiB") && e.contains("1000x600"),
        "{e}"
    );
    // A budget that cannot hold the models is refused before any photo is read.
    let o = shipped("restore")
        .args(["--max-memory", "100", "-o"])
        .arg(dir.join("out"))
        .arg(&photo)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("100 MiB is less than"));
    // The same photo in place (8 bytes per pixel) fits.
    let o = shipped("restore")
        .args(["--max-memory", "256", "-o"])
        .arg(dir.join("out"))
        .arg(&photo)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
