//! Distillation, export and the exported models run by tract: burn and tract agree on the
//! f32 export, the int8 export stays close, runs integer kernels and is about 4x smaller.

mod common;

use common::*;
use lrpo_trainer::backend::{DeviceChoice, with_backend};
use lrpo_trainer::config::RunConfig;
use lrpo_trainer::distill::Distill;
use lrpo_trainer::pretrain::Pretrain;

/// burn's backend seed is global to the process: tests that initialise models from it run one
/// at a time, so that each sees only its own draws.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn distil_then_export_f32_and_int8_checked_in_tract() {
    let _one_at_a_time = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("lrpo-student-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut c = RunConfig::default();
    c.model.base_channels = 8;
    c.model.channel_mult = vec![1, 2];
    c.model.groups = 4;
    c.data.resolution = 32;
    c.data.holdout = vec!["grace_hopper_0.png".into()];
    c.pretrain.steps = 6;
    c.pretrain.batch_size = 4;
    c.pretrain.checkpoint_every = 6;
    c.pretrain.val_steps = Some(2);
    let data = root().join("data/train/faces");
    with_backend(
        DeviceChoice::Cpu,
        Pretrain {
            cfg: c.clone(),
            data: data.clone(),
            run: dir.join("teacher"),
            resume: false,
            stop_at: None,
        },
    )
    .unwrap();
    c.distill.pool = 8;
    c.distill.teacher_steps = Some(3);
    c.distill.teacher_batch = 4;
    c.distill.steps = 30;
    c.distill.batch_size = 4;
    c.distill.warmup_steps = 2;
    c.distill.log_every = 10;
    c.distill.checkpoint_every = 30;
    c.distill.w_ssim = 0.1;
    let s = with_backend(
        DeviceChoice::Cpu,
        Distill {
            cfg: c.clone(),
            teacher: Some(dir.join("teacher")),
            data: data.clone(),
            run: dir.join("student"),
            resume: false,
            stop_at: None,
        },
    )
    .unwrap();
    assert!(s.teacher_seconds > 0.0);
    assert!(s.losses.last().unwrap().1 < s.losses[0].1, "{:?}", s.losses);
    assert!(s.validation.is_some());
    // The teacher's samples are cached: a second run with the same teacher reuses them.
    let again = with_backend(
        DeviceChoice::Cpu,
        Distill {
            cfg: c,
            teacher: Some(dir.join("teacher")),
            data: data.clone(),
            run: dir.join("student"),
            resume: true,
            stop_at: None,
        },
    );
    assert!(again.unwrap_err().to_string().contains("already trained"));
    let r = lrpo_trainer::export::export::<lrpo_trainer::backend::Cpu>(
        &dir.join("student"),
        &dir.join("models/student"),
        true,
        None,
        &Default::default(),
    )
    .unwrap();
    println!(
        "f32 rel err {:.2e}, int8 PSNR {:.2} dB, kernel {:?}, sizes {:?}",
        r.f32_rel_err,
        r.int8_psnr_vs_f32.unwrap(),
        r.int8_kernel,
        r.sizes
    );
    assert!(r.f32_rel_err < 1e-4);
    assert!(r.int8_kernel.as_deref().unwrap().contains("i32"));
    let ratio = r.sizes.0 as f64 / r.sizes.1.unwrap() as f64;
    assert!(ratio > 3.0, "int8 is only {ratio:.2}x smaller");
    assert!(r.int8_psnr_vs_f32.unwrap() > 30.0);
    for f in [
        "student.onnx",
        "student.card",
        "student_int8.onnx",
        "student_int8.card",
    ] {
        assert!(dir.join("models").join(f).exists(), "{f}");
    }
    let card = lrpo_shared::card::PolicyCard::load(&dir.join("models/student_int8.card")).unwrap();
    assert_eq!(
        card.provenance.stages,
        vec!["pretrain", "distill", "export"]
    );
    assert!(matches!(
        card.quantization,
        lrpo_shared::card::Quantization::Int8 {
            per_channel: false,
            ..
        }
    ));
}

#[test]
fn the_policy_eps_network_exports_with_attention_and_matches_burn() {
    let _one_at_a_time = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("lrpo-eps-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut c = RunConfig::default();
    c.model.base_channels = 8;
    c.model.channel_mult = vec![1, 2, 2];
    c.model.attention_levels = vec![2];
    c.model.groups = 4;
    c.data.resolution = 16;
    c.data.holdout = vec!["grace_hopper_0.png".into()];
    c.pretrain.steps = 3;
    c.pretrain.batch_size = 2;
    c.pretrain.val_steps = Some(2);
    with_backend(
        DeviceChoice::Cpu,
        Pretrain {
            cfg: c,
            data: root().join("data/train/faces"),
            run: dir.join("p"),
            resume: false,
            stop_at: None,
        },
    )
    .unwrap();
    let (p, err) = lrpo_trainer::export::export_eps::<lrpo_trainer::backend::Cpu>(
        &dir.join("p"),
        &dir.join("m/teacher"),
        4,
        0.8,
        &Default::default(),
    )
    .unwrap();
    println!("ε export relative error {err:.2e}");
    assert!(err < 1e-4);
    let card =
        lrpo_shared::card::PolicyCard::load(&lrpo_shared::card::PolicyCard::path_for_model(&p))
            .unwrap();
    assert_eq!(card.kind, lrpo_shared::card::ModelKind::Epsilon);
}

#[test]
fn a_student_without_teacher_trains_on_fresh_pairs_and_resumes_exactly() {
    let _one_at_a_time = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("lrpo-sup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut c = RunConfig::default();
    c.data.resolution = 32;
    c.data.holdout = vec!["grace_hopper_0.png".into()];
    c.distill.w_teacher = 0.0;
    c.distill.w_gt = 1.0;
    c.distill.clean_fraction = 0.25;
    c.distill.steps = 24;
    c.distill.batch_size = 4;
    c.distill.warmup_steps = 2;
    c.distill.log_every = 4;
    c.distill.checkpoint_every = 100;
    let data = root().join("data/train/faces");
    let task = |run: &str, resume: bool, stop_at: Option<u64>| Distill {
        cfg: c.clone(),
        teacher: None,
        data: data.clone(),
        run: dir.join(run),
        resume,
        stop_at,
    };
    let straight = with_backend(DeviceChoice::Cpu, task("a", false, None)).unwrap();
    assert_eq!(straight.teacher_seconds, 0.0);
    // Every logged window reports the L1 of its own fresh inputs; new pairs every step, so the
    // windows differ. (Whether the student learns is measured on validation faces by
    // `scripts/benchmark-quality.sh`, not in a unit test: a few steps are not enough.)
    let last = straight.losses.last().unwrap().1;
    assert_eq!(straight.input_l1.len(), straight.losses.len());
    let firsts: Vec<u64> = straight.input_l1.iter().map(|x| x.1.to_bits()).collect();
    assert!(
        firsts.windows(2).all(|w| w[0] != w[1]),
        "{:?}",
        straight.input_l1
    );
    // The student starts as the identity: its first loss is its inputs' own L1.
    let (l0, i0) = (straight.losses[0].1, straight.input_l1[0].1);
    assert!((l0 - i0).abs() < 0.05 * i0, "{l0} vs {i0}");
    let v = straight.validation.unwrap();
    assert!(v.get("teacher_psnr").is_none() && v["student_psnr"].as_f64().unwrap() > 10.0);
    with_backend(DeviceChoice::Cpu, task("b", false, Some(12))).unwrap();
    let resumed = with_backend(DeviceChoice::Cpu, task("b", true, None)).unwrap();
    assert_eq!(
        resumed.losses.last().unwrap().1.to_bits(),
        last.to_bits(),
        "a run stopped at step 12 and resumed must end where the straight run ends"
    );
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("a/run.json")).unwrap()).unwrap();
    assert!(info["init"].is_null());
    // Export works without a teacher in the lineage.
    lrpo_trainer::export::export::<lrpo_trainer::backend::Cpu>(
        &dir.join("a"),
        &dir.join("models/sup"),
        false,
        None,
        &Default::default(),
    )
    .unwrap();
    let card = lrpo_shared::card::PolicyCard::load(&dir.join("models/sup.card")).unwrap();
    assert_eq!(card.provenance.stages, vec!["distill", "export"]);
}
