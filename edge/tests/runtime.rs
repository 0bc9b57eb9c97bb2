//! The policy runtime: card validation, one-step restoration and ε-model sampling, each
//! checked against a direct computation.

mod common;

use common::*;
use lrpo_edge::runtime::{Policy, SamplerOptions};
use lrpo_shared::card::{ModelKind, PolicyCard, ValueRange};
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::NoiseSchedule;
use ndarray::Array3;

fn test_crop(size: usize) -> Array3<f32> {
    Array3::from_shape_fn((3, size, size), |(c, y, x)| {
        (0.5 + 0.3 * ((x as f32 * 0.3 + c as f32).sin() * (y as f32 * 0.2).cos())).clamp(0.0, 1.0)
    })
}

#[test]
fn one_step_policy_restores_as_its_graph_says() {
    let dir = scratch("runtime-onestep");
    let p = Policy::load(&sharpen_policy(&dir, "s", 32), SamplerOptions::default()).unwrap();
    assert_eq!(p.crop_size(), 32);
    let x = test_crop(32);
    let y = p.restore(&x.view()).unwrap();
    let k = sharpen_kernel();
    for c in 0..3 {
        for yy in 0..32i64 {
            for xx in 0..32i64 {
                let mut acc = 0.0f32;
                for ky in 0..3i64 {
                    for kx in 0..3i64 {
                        let (sy, sx) = (yy + ky - 1, xx + kx - 1);
                        if sy >= 0 && sx >= 0 && sy < 32 && sx < 32 {
                            acc += k[(ky * 3 + kx) as usize] * x[[c, sy as usize, sx as usize]];
                        }
                    }
                }
                let want = acc.clamp(0.0, 1.0);
                assert!((y[[c, yy as usize, xx as usize]] - want).abs() < 1e-5);
            }
        }
    }
    // Any size the card accepts runs (multiple_of = 1); the plan for it is built once.
    assert_eq!(p.restore(&test_crop(40).view()).unwrap().dim(), (3, 40, 40));
}

#[test]
fn epsilon_policy_samples_like_a_direct_ddim_loop() {
    let dir = scratch("runtime-eps");
    let path = epsilon_policy(&dir, 16);
    let p = Policy::load(
        &path,
        SamplerOptions {
            steps: Some(5),
            eta: Some(0.7),
            seed: 42,
        },
    )
    .unwrap();
    let crop = test_crop(16);
    let got = p.restore(&crop.view()).unwrap();
    // The same sampling written out: x_T ~ N(0, I) from sub-stream `stream` of the seed,
    // ε = 0.5·(x − lq).
    let direct = |stream: u64| {
        let lq: Vec<f32> = crop.iter().map(|v| 2.0 * v - 1.0).collect();
        let mut rng = Rng::derive(42, stream);
        let mut x = vec![0.0f32; lq.len()];
        rng.fill_normal(&mut x);
        let mut z = vec![0.0f32; lq.len()];
        for s in NoiseSchedule::stable_diffusion()
            .ddim_steps(5, 0.7)
            .unwrap()
        {
            let eps: Vec<f32> = x.iter().zip(&lq).map(|(a, b)| 0.5 * a - 0.5 * b).collect();
            rng.fill_normal(&mut z);
            s.step(&mut x, &eps, &z, true);
        }
        x
    };
    let close = |got: &ndarray::Array3<f32>, x: &[f32]| {
        got.iter()
            .zip(x)
            .all(|(g, w)| (g - ((w + 1.0) / 2.0).clamp(0.0, 1.0)).abs() < 1e-5)
    };
    assert!(close(&got, &direct(0)));
    // Every crop of a test set gets its own noise: sub-stream k for item k.
    let third = p.restore_stream(&crop.view(), 3).unwrap();
    assert!(close(&third, &direct(3)));
    assert_ne!(third, got);
    // The same seed gives the same bytes; another seed does not.
    assert_eq!(p.restore(&crop.view()).unwrap(), got);
    let other = Policy::load(
        &path,
        SamplerOptions {
            steps: Some(5),
            eta: Some(0.7),
            seed: 43,
        },
    )
    .unwrap();
    assert_ne!(other.restore(&crop.view()).unwrap(), got);
}

#[test]
fn cards_that_do_not_match_their_model_are_refused() {
    let dir = scratch("runtime-cards");
    let model = sharpen_policy(&dir, "m", 32);
    let card_path = PolicyCard::path_for_model(&model);
    let good = PolicyCard::load(&card_path).unwrap();
    let load_err = |c: Option<PolicyCard>| {
        match c {
            Some(c) => c.save(&card_path).unwrap(),
            None => std::fs::remove_file(&card_path).unwrap(),
        }
        let e = Policy::load(&model, SamplerOptions::default()).unwrap_err();
        format!("{e:#}")
    };
    let e = load_err(None);
    assert!(e.contains("m.card") && e.contains("card next to it"), "{e}");
    assert!(matches!(
        Policy::load(&model, SamplerOptions::default()),
        Err(lrpo_edge::Error::MissingCard { .. })
    ));
    let mut c = good.clone();
    c.input.output_name = "out".into();
    assert!(load_err(Some(c)).contains("outputs"));
    assert!(matches!(
        Policy::load(&model, SamplerOptions::default()),
        Err(lrpo_edge::Error::CardMismatch { .. })
    ));
    let mut c = good.clone();
    c.kind = ModelKind::Epsilon;
    c.input.input_names = vec!["x_t".into(), "t".into(), "lq".into()];
    assert!(load_err(Some(c)).contains("inputs"));
    let mut c = good.clone();
    c.input.channels = 1;
    assert!(load_err(Some(c)).contains("channels"));
    let mut c = good.clone();
    c.input.value_range = ValueRange::MinusOneOne;
    c.save(&card_path).unwrap();
    // A value-range change is legal; the policy then maps [0, 1] ↔ [−1, 1] around the model.
    assert!(Policy::load(&model, SamplerOptions::default()).is_ok());
    good.save(&card_path).unwrap();
    // Crops the card does not accept.
    let mut c = good.clone();
    c.input.multiple_of = 0;
    c.save(&card_path).unwrap();
    let p = Policy::load(&model, SamplerOptions::default()).unwrap();
    let e = p.restore(&test_crop(40).view()).unwrap_err();
    assert!(matches!(e, lrpo_edge::Error::Input { .. }));
    let e = e.to_string();
    assert!(e.contains("40x40") && e.contains("does not fit"), "{e}");
    // Broken model files.
    good.save(&card_path).unwrap();
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 3]).unwrap();
    let e = format!(
        "{:#}",
        Policy::load(&model, SamplerOptions::default()).unwrap_err()
    );
    assert!(e.contains("m.onnx"), "{e}");
    std::fs::write(&model, b"").unwrap();
    let e = format!(
        "{:#}",
        Policy::load(&model, SamplerOptions::default()).unwrap_err()
    );
    assert!(e.contains("m.onnx") && e.contains("empty"), "{e}");
    let e = Policy::load(&dir.join("none.onnx"), SamplerOptions::default()).unwrap_err();
    assert!(matches!(e, lrpo_edge::Error::ModelNotFound { .. }));
    let e = format!("{e:#}");
    assert!(e.contains("none.onnx") && e.contains("not found"), "{e}");
    // A truncated card.
    let cb = good.to_bytes().unwrap();
    std::fs::write(&model, &bytes).unwrap();
    std::fs::write(&card_path, &cb[..cb.len() - 3]).unwrap();
    let e = format!(
        "{:#}",
        Policy::load(&model, SamplerOptions::default()).unwrap_err()
    );
    assert!(e.contains("truncated"), "{e}");
}

#[test]
fn a_card_is_tied_to_its_model_by_the_graph_hash() {
    let dir = scratch("runtime-hash");
    let a = sharpen_policy(&dir, "a", 32);
    let b = identity_policy(&dir, 32);
    assert!(Policy::load(&a, SamplerOptions::default()).is_ok());
    // Swapped cards: b's card beside a (same inputs, outputs and size: only the hash differs).
    std::fs::copy(
        PolicyCard::path_for_model(&b),
        PolicyCard::path_for_model(&a),
    )
    .unwrap();
    let e = Policy::load(&a, SamplerOptions::default()).unwrap_err();
    assert!(matches!(e, lrpo_edge::Error::CardMismatch { .. }), "{e:?}");
    assert!(e.to_string().contains("another model"), "{e}");
    // An altered weight under an untouched card: the first f32 of the kernel's raw bytes.
    let a = sharpen_policy(&dir, "a", 32);
    let mut bytes = std::fs::read(&a).unwrap();
    let k = sharpen_kernel()[0].to_le_bytes();
    let at = bytes.windows(4).position(|w| w == k).unwrap();
    bytes[at..at + 4].copy_from_slice(&0.25f32.to_le_bytes());
    std::fs::write(&a, &bytes).unwrap();
    let e = Policy::load(&a, SamplerOptions::default()).unwrap_err();
    assert!(e.to_string().contains("another model"), "{e}");
    // A version-1 card (no hash) is read, and refused with what to do.
    let a = sharpen_policy(&dir, "a", 32);
    let card_path = PolicyCard::path_for_model(&a);
    let mut v1 = std::fs::read(&card_path).unwrap();
    v1[8..10].copy_from_slice(&1u16.to_le_bytes());
    // The version-2 body ends with the hash: a length byte (64) and 64 hex digits.
    v1.truncate(v1.len() - 65);
    std::fs::write(&card_path, &v1).unwrap();
    let card = PolicyCard::load(&card_path).unwrap();
    assert!(card.graph_sha256.is_empty() && card.input.size == 32);
    let e = Policy::load(&a, SamplerOptions::default()).unwrap_err();
    assert!(e.to_string().contains("re-export"), "{e}");
}

#[test]
fn the_shipped_students_fit_the_edge_budget_of_2_gflop_per_256_face() {
    // tract's count of the shipped graphs' multiply-accumulates (2 FLOP each).
    for m in ["models/gt_student.onnx", "models/gt_student_int8.onnx"] {
        let p = Policy::load(&root().join(m), SamplerOptions::default()).unwrap();
        let gflop = 2.0 * p.fma_per_run(256).unwrap() as f64 / 1e9;
        println!("{m}: {gflop:.3} GFLOP per 256 x 256 face");
        assert!(gflop <= 2.0, "{m}: {gflop:.3} GFLOP");
    }
}
