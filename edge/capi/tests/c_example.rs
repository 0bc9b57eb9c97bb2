//! `examples/restore.c` built with the system C compiler against `liblrpo.a` and run on a
//! real photo: it must restore the photo's faces exactly as the API does when called from
//! Rust, and print the faces, the timings and the refusal of a bad frame. (CI also builds it
//! with the aarch64 cross compiler and runs it under QEMU: `scripts/check-arm.sh`.)

use lrpo::*;
use lrpo_shared::pixfmt::{PixelFormat, YuvRange, from_rgb};
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `liblrpo.a` as cargo built it for this test (beside the test binary, or one folder up).
fn staticlib() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps.join("liblrpo.a"), deps.join("../liblrpo.a")]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "liblrpo.a not found beside {}: build it with cargo build -p lrpo-edge-capi",
                deps.display()
            )
        })
}

fn write_ppm(path: &Path, rgb: &[u8], w: usize, h: usize) {
    let mut f = format!("P6\n# a comment the reader skips\n{w} {h}\n255\n").into_bytes();
    f.extend_from_slice(rgb);
    std::fs::write(path, f).unwrap();
}

fn read_ppm(path: &Path) -> (Vec<u8>, usize, usize) {
    let f = std::fs::read(path).unwrap();
    let header: Vec<&[u8]> = f.splitn(4, |&b| b == b'\n').collect();
    assert_eq!(header[0], b"P6");
    let size = std::str::from_utf8(header[1]).unwrap();
    let (w, h) = size.split_once(' ').unwrap();
    let (w, h) = (w.parse().unwrap(), h.parse().unwrap());
    assert_eq!(header[2], b"255");
    (header[3].to_vec(), w, h)
}

#[test]
fn the_c_example_restores_a_real_photo_as_the_api_does() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("lrpo-c-example");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("restore");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = Command::new(&cc)
        .args(["-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join("examples/restore.c"))
        .arg(staticlib())
        .args([
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ])
        .args(["-Wl,-z,noexecstack", "-Wl,--gc-sections", "-o"])
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("the C compiler {cc:?} could not run: {e}"));
    assert!(
        built.status.success(),
        "compiling examples/restore.c failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );

    let img = lrpo_shared::image::load_rgb(&root().join("data/scenes/montage_lq.jpg")).unwrap();
    let (_, h, w) = img.dim();
    let mut rgb = Vec::new();
    from_rgb(&img.view(), PixelFormat::Rgb24, YuvRange::Limited, &mut rgb).unwrap();
    let (input, output) = (dir.join("in.ppm"), dir.join("out.ppm"));
    write_ppm(&input, &rgb, w, h);
    let models = root().join("models");
    let run = Command::new(&exe)
        .args(["--policy", "gt_student.onnx"])
        .arg(&models)
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("4 face(s)"), "{stdout}");
    assert!(stdout.contains("restored at 128 px"), "{stdout}");
    assert!(
        stdout.contains("refused as expected: input frame: stride 1 is less"),
        "{stdout}"
    );
    let (got, gw, gh) = read_ppm(&output);
    assert_eq!((gw, gh), (w, h));

    // The same call from Rust.
    let dir_c = CString::new(models.to_str().unwrap()).unwrap();
    let options = LrpoOptions {
        policy: c"gt_student.onnx".as_ptr(),
        ..LrpoOptions::default()
    };
    let mut r = std::ptr::null_mut();
    assert_eq!(
        unsafe { lrpo_open(dir_c.as_ptr(), &options, &mut r) },
        LrpoStatus::Ok
    );
    let mut expected = rgb.clone();
    let frame = LrpoFrame {
        data: expected.as_mut_ptr(),
        width: w as u32,
        height: h as u32,
        stride: 0,
        format: LRPO_PIX_RGB24,
        chroma: std::ptr::null_mut(),
        chroma_stride: 0,
    };
    let s = unsafe { lrpo_restore(r, &frame, std::ptr::null()) };
    assert_eq!(s, LrpoStatus::Ok, "{:?}", unsafe {
        CStr::from_ptr(lrpo_last_error())
    });
    unsafe { lrpo_close(r) };
    assert!(expected != rgb, "nothing was restored");
    assert!(
        got == expected,
        "the C program's output differs from the API's"
    );

    // A missing model folder: exit status 1 and the library's message.
    let run = Command::new(&exe)
        .arg(dir.join("no-models"))
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no-models: the model folder does not exist"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
