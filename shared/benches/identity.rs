//! Time per face descriptor (tract, this machine), written to `benchmarks/identity.md`.
//!
//!     cargo bench -p lrpo-shared --features onnx --bench identity
//!
//! Chips are the identity chips of the bundled photographs' faces; the model is
//! `models/face_descriptor.onnx`. One descriptor is the metric's case; ten are the identity
//! reward of one LRPO group (the GT and 9 candidates), run one at a time as
//! `FaceDescriptor::describe` does. Also measured: one tract call on a batch of 10, which is
//! slower per chip than ten calls on batch 1 on this machine (hence `describe`'s loop).
//! Medians over repeated runs after a warm-up run that builds tract's optimised plan.

use lrpo_shared::align::Landmarks;
use lrpo_shared::image::load_rgb;
use lrpo_shared::onnx::identity::{FaceDescriptor, chip_from_frame};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let model_path = root.join("models/face_descriptor.onnx");
    let t0 = Instant::now();
    let net = FaceDescriptor::load(&model_path).unwrap();
    let load_s = t0.elapsed().as_secs_f64();
    let lm: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("data/faces/landmarks.json")).unwrap(),
    )
    .unwrap();
    let face = &lm["images"]["grace_hopper.jpg"][0]["landmarks"];
    let landmarks: Landmarks =
        std::array::from_fn(|i| [face[i][0].as_f64().unwrap(), face[i][1].as_f64().unwrap()]);
    let frame = load_rgb(&root.join("data/faces/grace_hopper.jpg")).unwrap();
    let chip = chip_from_frame(&frame.view(), &landmarks).unwrap();
    let mut rows = Vec::new();
    // One tract call on a batch of 10 chips, through the model directly.
    let batched = {
        let model = lrpo_shared::onnx::OnnxModel::load(&model_path).unwrap();
        let mut x = ndarray::Array4::<f32>::zeros((10, 3, 150, 150));
        for i in 0..10 {
            x.index_axis_mut(ndarray::Axis(0), i).assign(&chip);
        }
        let x = x.into_dyn();
        model.run(&[x.view()]).unwrap();
        let mut t: Vec<f64> = (0..5)
            .map(|_| {
                let s = Instant::now();
                std::hint::black_box(model.run(&[x.view()]).unwrap());
                s.elapsed().as_secs_f64()
            })
            .collect();
        t.sort_by(|a, b| a.partial_cmp(b).unwrap());
        t[2]
    };
    for batch in [1usize, 10] {
        let chips: Vec<_> = (0..batch).map(|_| chip.view()).collect();
        let t = Instant::now();
        net.describe(&chips).unwrap();
        let first = t.elapsed().as_secs_f64();
        let repeats = if batch == 1 { 20 } else { 5 };
        let mut times: Vec<f64> = (0..repeats)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(net.describe(&chips).unwrap());
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let med = times[times.len() / 2];
        rows.push((batch, first, med));
    }
    let chip_t = {
        let t = Instant::now();
        for _ in 0..20 {
            std::hint::black_box(chip_from_frame(&frame.view(), &landmarks).unwrap());
        }
        t.elapsed().as_secs_f64() / 20.0
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let size = std::fs::metadata(&model_path).unwrap().len();
    let mut md = format!(
        "# Face descriptor speed (tract)\n\n`models/face_descriptor.onnx` ({:.2} MB, uint8 weights decoded at load), tract-onnx 0.23.9, one thread, {cpu}.\n\
         Model load and parse: {:.0} ms. Identity chip cut from a photo (`chip_from_frame`, 150 × 150 bilinear): {:.2} ms.\n\n\
         | descriptors per call of `describe` | first call incl. plan optimisation (ms) | median (ms) | per descriptor (ms) |\n|---:|---:|---:|---:|\n",
        size as f64 / 1e6,
        load_s * 1e3,
        chip_t * 1e3
    );
    for (b, first, med) in rows {
        md.push_str(&format!(
            "| {b} | {:.0} | {:.1} | {:.1} |\n",
            first * 1e3,
            med * 1e3,
            med * 1e3 / b as f64
        ));
    }
    md.push_str(&format!(
        "\nOne tract run on a batch of 10 chips: {:.1} ms ({:.1} ms per descriptor).\n",
        batched * 1e3,
        batched * 1e2
    ));
    md.push_str("\nReproduce: `cargo bench -p lrpo-shared --features onnx --bench identity`.\n");
    lrpo_shared::fsio::write_atomic(&root.join("benchmarks/identity.md"), md.as_bytes()).unwrap();
    print!("{md}");
}
