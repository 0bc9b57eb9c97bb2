//! Small restoration policies built in the tests (ONNX + card), until a trained one ships.
#![allow(dead_code)]

use lrpo_shared::card::{
    InputSpec, Layout, ModelKind, PolicyCard, Provenance, Quantization, SamplingSpec, ValueRange,
};
use lrpo_shared::onnx::writer::ConvAttrs;
use lrpo_shared::onnx::{Dim, ElemType, GraphBuilder};
use lrpo_shared::schedule::ScheduleConfig;
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn scratch(name: &str) -> PathBuf {
    // Under cargo's per-target scratch folder (where there is one), one per test name: a rerun
    // replaces it, so scratch files do not pile up in the system's temporary folder (a failed
    // run's stay there to look at).
    let d = option_env!("CARGO_TARGET_TMPDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("lrpo-edge-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// PNG's CRC-32 (ISO 3309, the IEEE polynomial), for hand-made or edited PNG chunks.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// The sharpening kernel of the test policy: `1.5·δ − 0.5·box3`.
pub fn sharpen_kernel() -> [f32; 9] {
    std::array::from_fn(|i| if i == 4 { 1.5 - 0.5 / 9.0 } else { -0.5 / 9.0 })
}

pub fn card(
    kind: ModelKind,
    size: u32,
    inputs: &[&str],
    output: &str,
    range: ValueRange,
) -> PolicyCard {
    PolicyCard {
        name: "test".into(),
        kind,
        input: InputSpec {
            size,
            multiple_of: 1,
            channels: 3,
            layout: Layout::Nchw,
            value_range: range,
            input_names: inputs.iter().map(|s| s.to_string()).collect(),
            output_name: output.into(),
        },
        sampling: (kind == ModelKind::Epsilon).then(|| SamplingSpec {
            schedule: ScheduleConfig::default(),
            steps: 4,
            eta: 0.5,
            clip_x0: true,
        }),
        quantization: Quantization::F32,
        reward: vec![],
        provenance: Provenance {
            run: "built in a test".into(),
            ..Default::default()
        },
        graph_sha256: String::new(),
    }
}

/// Writes `card` beside `model`, recording the model's graph hash (what export does).
pub fn save_card(mut card: PolicyCard, model: &Path) {
    card.graph_sha256 = lrpo_shared::onnx::graph_sha256_file(model).unwrap();
    card.save(&PolicyCard::path_for_model(model)).unwrap();
}

/// A one-step policy that applies the depthwise `k × k` kernel `kernel` to each channel of
/// [N,3,H,W] in [0, 1], saved as `DIR/NAME.onnx` with its card.
fn depthwise_policy(dir: &Path, name: &str, kernel: &[f32], k: usize, size: u32) -> PathBuf {
    let mut g = GraphBuilder::new(name);
    let dims = [Dim::sym("N"), Dim::Fixed(3), Dim::sym("H"), Dim::sym("W")];
    let x = g.input("lq", ElemType::F32, &dims);
    let w: Vec<f32> = (0..3).flat_map(|_| kernel.iter().copied()).collect();
    let wn = g.initializer_f32("w", &[3, 1, k, k], &w);
    let mut a = ConvAttrs::same(k as i64);
    a.group = 3;
    g.conv(&x, &wn, None, &a);
    let y = g.rename_last_output("restored");
    g.output(&y, ElemType::F32, &dims);
    let path = dir.join(format!("{name}.onnx"));
    g.save(&path).unwrap();
    save_card(
        card(
            ModelKind::OneStep,
            size,
            &["lq"],
            "restored",
            ValueRange::ZeroOne,
        ),
        &path,
    );
    path
}

/// A one-step "restorer": a depthwise 3 × 3 sharpening convolution on [N,3,H,W] in [0, 1].
pub fn sharpen_policy(dir: &Path, name: &str, size: u32) -> PathBuf {
    depthwise_policy(dir, name, &sharpen_kernel(), 3, size)
}

/// An ε-model `ε(x_t, t, lq) = 0.5·x_t − 0.5·lq + 0·t` in [−1, 1].
pub fn epsilon_policy(dir: &Path, size: u32) -> PathBuf {
    let mut g = GraphBuilder::new("eps");
    let dims = [Dim::Fixed(1), Dim::Fixed(3), Dim::sym("H"), Dim::sym("W")];
    let x = g.input("x_t", ElemType::F32, &dims);
    let t = g.input("t", ElemType::F32, &[Dim::Fixed(1)]);
    let lq = g.input("lq", ElemType::F32, &dims);
    let half = g.scalar_f32(0.5);
    let zero = g.scalar_f32(0.0);
    let d = g.sub(&x, &lq);
    let e = g.mul(&d, &half);
    let t0 = g.mul(&t, &zero);
    g.add(&e, &t0);
    let y = g.rename_last_output("eps");
    g.output(&y, ElemType::F32, &dims);
    let path = dir.join("eps.onnx");
    g.save(&path).unwrap();
    save_card(
        card(
            ModelKind::Epsilon,
            size,
            &["x_t", "t", "lq"],
            "eps",
            ValueRange::MinusOneOne,
        ),
        &path,
    );
    path
}

/// A one-step policy that returns its input (1 × 1 depthwise convolution of weight 1), for
/// checking the pipeline's geometry: restoring with it must give back the frame.
pub fn identity_policy(dir: &Path, size: u32) -> PathBuf {
    depthwise_policy(dir, "identity", &[1.0], 1, size)
}
