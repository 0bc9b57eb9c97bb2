//! Graph rewrites keep the function: a rewritten PRelu against its closed form, and MTCNN's
//! three networks rewritten against themselves as shipped.

use lrpo_shared::onnx::rewrite::{PerChannel, final_softmax_to_logits, prelu_to_fast_ops};
use lrpo_shared::onnx::{Dim, ElemType, GraphBuilder, OnnxModel, read_model};
use lrpo_shared::rng::Rng;
use ndarray::ArrayD;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn random(shape: &[usize], seed: u64) -> ArrayD<f32> {
    let mut r = Rng::new(seed);
    ArrayD::from_shape_fn(shape.to_vec(), |_| r.normal() as f32)
}

fn fixed(shape: &[usize]) -> Vec<Dim> {
    shape.iter().map(|&d| Dim::Fixed(d as i64)).collect()
}

#[test]
fn prelu_rewrite_matches_the_closed_form_for_any_slope() {
    // Slopes below 0, in (0, 1), and above 1; per channel of NCHW (the depthwise form) and
    // per feature of a 2-D tensor (the Mul form).
    let slopes = [-0.5f32, 0.0, 0.25, 1.0, 2.5];
    for (shape, sdims) in [
        (vec![3, 5, 4, 6], vec![5, 1, 1]),
        (vec![2, 5, 3, 3], vec![1, 5, 1, 1]),
        (vec![4, 5], vec![5]),
    ] {
        let mut g = GraphBuilder::new("prelu");
        let x = g.input("x", ElemType::F32, &fixed(&shape));
        let s = g.initializer_f32("slope", &sdims, &slopes);
        g.node("PRelu", &[&x, &s], &[]);
        let y = g.rename_last_output("y");
        g.output(&y, ElemType::F32, &fixed(&shape));
        let original = g.finish();
        for form in [PerChannel::DepthwiseConv, PerChannel::Mul] {
            let mut proto = original.clone();
            let n = prelu_to_fast_ops(&mut proto, Path::new("prelu.onnx"), form).unwrap();
            assert_eq!(n, 1);
            let ops: Vec<&str> = proto
                .graph
                .as_ref()
                .unwrap()
                .node
                .iter()
                .map(|n| n.op_type.as_str())
                .collect();
            assert!(!ops.contains(&"PRelu"), "{ops:?}");
            let depthwise = shape.len() == 4 && form == PerChannel::DepthwiseConv;
            assert_eq!(ops.contains(&"Conv"), depthwise, "{ops:?}");
            let model = OnnxModel::from_proto(&proto, Path::new("prelu.onnx")).unwrap();
            let input = random(&shape, 7);
            let out = model.run(&[input.view()]).unwrap().remove(0);
            assert_eq!(out.shape(), &shape[..]);
            for ((idx, &v), &got) in input.indexed_iter().zip(out.iter()) {
                let c = idx[1];
                let want = if v > 0.0 { v } else { slopes[c] * v };
                assert!(
                    (got - want).abs() <= 1e-6 * (1.0 + want.abs()),
                    "{shape:?} {form:?} at {idx:?}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn mtcnn_networks_rewritten_compute_what_they_computed() {
    for (name, shape, prelus) in [
        ("pnet.onnx", vec![1, 61, 47, 3], 3),
        ("rnet.onnx", vec![5, 24, 24, 3], 4),
        ("onet.onnx", vec![3, 48, 48, 3], 5),
    ] {
        let path = root().join("models/mtcnn").join(name);
        let original = OnnxModel::load(&path).unwrap();
        let mut proto = read_model(&path).unwrap();
        assert_eq!(
            prelu_to_fast_ops(&mut proto, &path, PerChannel::DepthwiseConv).unwrap(),
            prelus,
            "{name}"
        );
        let rewritten = OnnxModel::from_proto(&proto, &path).unwrap();
        // The networks' own input range: (v − 127.5) / 128 for 8-bit v.
        let x = random(&shape, 3).mapv(|v| (v * 0.5).clamp(-1.0, 1.0));
        let (a, b) = (
            original.run(&[x.view()]).unwrap(),
            rewritten.run(&[x.view()]).unwrap(),
        );
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(a.shape(), b.shape(), "{name}");
            let worst = a
                .iter()
                .zip(b)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "{name}: outputs differ by up to {worst}");
        }
    }
}

#[test]
fn final_softmax_removal_leaves_the_logits_under_the_output_name() {
    let path = root().join("models/mtcnn/pnet.onnx");
    let original = OnnxModel::load(&path).unwrap();
    let mut proto = read_model(&path).unwrap();
    let changed = final_softmax_to_logits(&mut proto);
    assert_eq!(changed.len(), 1, "{changed:?}");
    let logits = OnnxModel::from_proto(&proto, &path).unwrap();
    assert_eq!(logits.output_names(), original.output_names());
    let x = random(&[1, 40, 30, 3], 5).mapv(|v| (v * 0.5).clamp(-1.0, 1.0));
    let (a, b) = (
        original.run(&[x.view()]).unwrap(),
        logits.run(&[x.view()]).unwrap(),
    );
    let k = original
        .output_names()
        .iter()
        .position(|n| *n == changed[0])
        .unwrap();
    // softmax of the logits over the last axis (2 classes) is the original output.
    let (p, l) = (&a[k], &b[k]);
    assert_eq!(p.shape(), l.shape());
    assert_eq!(p.shape().last(), Some(&2));
    for (pp, ll) in p
        .as_slice()
        .unwrap()
        .chunks_exact(2)
        .zip(l.as_slice().unwrap().chunks_exact(2))
    {
        let p1 = 1.0 / (1.0 + ((ll[0] - ll[1]) as f64).exp());
        assert!((p1 - pp[1] as f64).abs() < 1e-6, "{p1} vs {}", pp[1]);
    }
    // The other output is untouched.
    assert_eq!(a[1 - k], b[1 - k]);
}
