//! Writes the one-step student's network with seeded random weights (and its card), for
//! measuring the runtime's speed before a trained student exists; the graph is the one the
//! trainer exports (`lrpo_shared::onnx::student`), so its cost is the real student's.
//!
//!     cargo run --release -p lrpo-devtools --bin student_standin -- OUT.onnx

use lrpo_shared::card::{
    InputSpec, Layout, ModelKind, PolicyCard, Provenance, Quantization, ValueRange,
};
use lrpo_shared::onnx::student::{StudentSpec, build_f32, random_params};

fn main() {
    let out = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: student_standin OUT.onnx"),
    );
    let spec = StudentSpec::default();
    let g = build_f32(&spec, &random_params(&spec, 7, 0.5)).unwrap();
    let graph_sha256 = g.graph_sha256();
    g.save(&out).unwrap();
    let card = PolicyCard {
        name: "student_standin".into(),
        kind: ModelKind::OneStep,
        input: InputSpec {
            size: 256,
            multiple_of: 4,
            channels: 3,
            layout: Layout::Nchw,
            value_range: ValueRange::ZeroOne,
            input_names: vec!["lq".into()],
            output_name: "restored".into(),
        },
        sampling: None,
        quantization: Quantization::F32,
        reward: vec![],
        provenance: Provenance {
            run: "random weights (speed measurements only)".into(),
            ..Default::default()
        },
        graph_sha256,
    };
    card.save(&PolicyCard::path_for_model(&out)).unwrap();
    println!(
        "{} ({} parameters, {:.3} GFLOP per 256x256 face)",
        out.display(),
        spec.parameter_count(),
        2.0 * spec.fma_per_face(256) as f64 / 1e9
    );
}
