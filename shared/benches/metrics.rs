//! Time per 512 × 512 image of every metric, Rust against the Python references, written to
//! `benchmarks/metrics.md`.
//!
//!     cargo bench -p lrpo-shared --bench metrics -- [--python PATH] [--repeats N]
//!
//! The image pair is `data/faces/astronaut.png` (512 × 512) and its `lrpo`-degraded copy
//! (seed 7). Rust times are medians over N calls after one warm-up, single-threaded. When a
//! Python with the reference packages is given (`--python`, or `LRPO_REFERENCE_PYTHON`), the
//! same pair is written to a temporary folder and `tools/reference/bench_metrics.py` times the
//! references the same way in the same run.

use lrpo_shared::degrade::{DegradePreset, degrade};
use lrpo_shared::image::{load_rgb, save_rgb};
use lrpo_shared::metrics::{self, brisque, dtcwt, niqe, ssim};
use lrpo_shared::rng::Rng;
use std::path::PathBuf;
use std::time::Instant;

fn median_secs(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..repeats)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t[t.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let repeats: usize = arg("--repeats")
        .map(|v| v.parse().expect("--repeats N"))
        .unwrap_or(10);
    let python = arg("--python").or_else(|| std::env::var("LRPO_REFERENCE_PYTHON").ok());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let hq = load_rgb(&root.join("data/faces/astronaut.png")).unwrap();
    let params = DegradePreset::lrpo().sample(&mut Rng::new(7));
    let lq = degrade(&hq.view(), &params).unwrap();
    let (h, l) = (hq.view(), lq.view());

    let rust: Vec<(&str, f64)> = vec![
        (
            "psnr",
            median_secs(repeats, || {
                std::hint::black_box(metrics::psnr(&l, &h).unwrap());
            }),
        ),
        (
            "ssim",
            median_secs(repeats, || {
                std::hint::black_box(ssim::ssim(&l, &h).unwrap());
            }),
        ),
        (
            "dtcwt",
            median_secs(repeats, || {
                std::hint::black_box(dtcwt::lowpass_l1(&l, &h).unwrap());
            }),
        ),
        (
            "niqe",
            median_secs(repeats, || {
                std::hint::black_box(niqe::niqe(&l).unwrap());
            }),
        ),
        (
            "brisque",
            median_secs(repeats, || {
                std::hint::black_box(brisque::brisque(&l).unwrap());
            }),
        ),
    ];

    let mut py: Option<serde_json::Value> = None;
    if let Some(python) = &python {
        let dir = std::env::temp_dir().join(format!("lrpo-bench-metrics-{}", std::process::id()));
        save_rgb(&dir.join("hq.png"), &h).unwrap();
        save_rgb(&dir.join("lq.png"), &l).unwrap();
        let out = std::process::Command::new(python)
            .arg(root.join("tools/reference/bench_metrics.py"))
            .arg(dir.join("hq.png"))
            .arg(dir.join("lq.png"))
            .arg(repeats.to_string())
            .output()
            .expect("run the Python reference timer");
        assert!(
            out.status.success(),
            "bench_metrics.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let last = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_string();
        py = Some(serde_json::from_str(&last).expect("JSON from bench_metrics.py"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mut md = String::new();
    md.push_str("# Metric speed: Rust (lrpo-shared) against the Python references\n\n");
    md.push_str(&format!(
        "Time per call on one 512 × 512 RGB image pair (`data/faces/astronaut.png` and its `lrpo`-degraded copy, seed 7), \
         median of {repeats} calls after one warm-up, single thread, {cpu}. Python: the exact calls of \
         `tools/reference/metrics_fixture.py`, timed with `time.perf_counter` by `tools/reference/bench_metrics.py` in the \
         same run, BLAS/OpenMP pinned to one thread. Full-reference metrics compare the LQ with the HQ; NIQE and BRISQUE score the LQ.\n\n"
    ));
    md.push_str(
        "| metric | Rust (ms) | Python reference (ms) | Python / Rust |\n|---|---:|---:|---:|\n",
    );
    let names = [
        ("psnr", "PSNR (skimage)"),
        ("ssim", "SSIM, Gaussian window (skimage)"),
        ("dtcwt", "DTCWT low-pass L1, 2 images × 3 channels (dtcwt)"),
        ("niqe", "NIQE (scikit-video)"),
        ("brisque", "BRISQUE (brisque 0.2.0)"),
    ];
    for (key, label) in names {
        let r = rust.iter().find(|(k, _)| *k == key).unwrap().1;
        match py.as_ref().and_then(|p| p[key].as_f64()) {
            Some(p) => md.push_str(&format!(
                "| {label} | {:.2} | {:.2} | {:.1}× |\n",
                r * 1e3,
                p * 1e3,
                p / r
            )),
            None => md.push_str(&format!("| {label} | {:.2} | not measured | |\n", r * 1e3)),
        }
    }
    md.push_str("\nReproduce: `cargo bench -p lrpo-shared --bench metrics -- --python PYTHON` with PYTHON a virtualenv made from `tools/reference/requirements.txt`.\n");
    let out = root.join("benchmarks/metrics.md");
    lrpo_shared::fsio::write_atomic(&out, md.as_bytes()).unwrap();
    print!("{md}");
    eprintln!("wrote {}", out.display());
}
