//! LRPO end to end on real faces with a tiny policy and a simple deterministic reward: the
//! reward rises with learning and stays put without it, and with lr 0 the recomputed
//! log-probabilities equal the rollout's (ratio 1, zero policy loss).

mod common;

use common::*;
use lrpo_shared::onnx::{Attr, Dim, ElemType, GraphBuilder};
use lrpo_trainer::backend::{DeviceChoice, with_backend};
use lrpo_trainer::config::RunConfig;
use lrpo_trainer::lrpo::train::Lrpo;
use lrpo_trainer::pretrain::Pretrain;
use std::path::Path;

/// burn's backend seed is global to the process: tests that initialise models from it run one
/// at a time, so that each sees only its own draws.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A no-reference ONNX scorer: the image's mean brightness (a reward any policy can raise).
fn brightness_model(path: &Path) {
    let mut g = GraphBuilder::new("brightness");
    let x = g.input(
        "x",
        ElemType::F32,
        &[Dim::Fixed(1), Dim::Fixed(3), Dim::sym("H"), Dim::sym("W")],
    );
    let m = g.global_average_pool(&x);
    let m = g.reshape(&m, &[1, 3]);
    g.node(
        "ReduceMean",
        &[&m],
        &[Attr::Ints("axes", vec![1]), Attr::Int("keepdims", 0)],
    );
    let y = g.rename_last_output("score");
    g.output(&y, ElemType::F32, &[Dim::Fixed(1)]);
    g.save(path).unwrap();
}

fn micro() -> RunConfig {
    let mut c = RunConfig::default();
    c.model.base_channels = 8;
    c.model.channel_mult = vec![1, 2];
    c.model.groups = 4;
    c.data.resolution = 16;
    c.data.holdout = vec!["grace_hopper_0.png".into()];
    c.pretrain.steps = 20;
    c.pretrain.batch_size = 4;
    c.pretrain.lr = 2e-3;
    c.pretrain.checkpoint_every = 20;
    c.pretrain.val_steps = Some(2);
    c
}

fn rl_run(dir: &Path, init: &Path, lr: f64, name: &str, iterations: u64) -> Vec<serde_json::Value> {
    rl_run_with(dir, init, lr, name, iterations, |_| {})
}

/// The LRPO records (`kind = "rl"`) of a run, after `edit` amends its config.
fn rl_run_with(
    dir: &Path,
    init: &Path,
    lr: f64,
    name: &str,
    iterations: u64,
    edit: impl FnOnce(&mut RunConfig),
) -> Vec<serde_json::Value> {
    let mut cfg = RunConfig::load(&init.join("config.toml")).unwrap();
    let rl = &mut cfg.rl;
    rl.iterations = iterations;
    rl.groups = 2;
    rl.group_size = 6;
    rl.ddim_steps = 6;
    // A tiny test policy must move within a few updates: larger steps than the paper's.
    rl.lr = lr;
    // One mini-batch of all 12 candidates: at this learning rate (5000× the paper's) the
    // reference's two half-batch updates per step overshoot on some initialisations (measured:
    // pretraining seeds 1 and 3 then lowered the reward; with one batch all of 0–3 raise it).
    rl.minibatch = 12;
    rl.clip_eps = 0.05;
    rl.reward = dir.join("reward.toml");
    rl.grid_every = 0;
    rl.checkpoint_every = 100;
    edit(&mut cfg);
    let task = Lrpo {
        cfg,
        init: init.to_path_buf(),
        data: root().join("data/train/faces"),
        run: dir.join(name),
        resume: false,
        stop_at: None,
    };
    with_backend(DeviceChoice::Cpu, task).unwrap();
    lrpo_trainer::runlog::read(&dir.join(name).join("metrics.jsonl"))
        .unwrap()
        .into_iter()
        .filter(|r| r["kind"] == "rl")
        .collect()
}

#[test]
fn reward_rises_with_learning_and_stays_without() {
    let _one_at_a_time = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("rise");
    brightness_model(&dir.join("brightness.onnx"));
    std::fs::write(dir.join("reward.toml"), "[[component]]\nname = \"bright\"\nkind = \"onnx-nr\"\nweight = 1.0\npath = \"brightness.onnx\"\n").unwrap();
    let init = dir.join("init");
    with_backend(
        DeviceChoice::Cpu,
        Pretrain {
            cfg: micro(),
            data: root().join("data/train/faces"),
            run: init.clone(),
            resume: false,
            stop_at: None,
        },
    )
    .unwrap();
    let learn = rl_run_with(&dir, &init, 5e-3, "learn", 12, |c| c.rl.val_every = 4);
    let frozen = rl_run(&dir, &init, 0.0, "frozen", 12);
    // The control arm: the same updates with the rewards shuffled across candidates.
    let control = rl_run_with(&dir, &init, 5e-3, "control", 12, |c| {
        c.rl.control = lrpo_trainer::lrpo::config::RewardControl::Shuffled
    });
    // An LRPO run samples like a pretraining run (its weights, not an EMA it does not keep).
    let crop = lrpo_shared::image::load_rgb(&root().join("data/train/faces/obama2_0.png")).unwrap();
    let out = lrpo_trainer::pretrain::sample_images::<lrpo_trainer::backend::Cpu>(
        &dir.join("learn"),
        &[crop],
        Some(2),
        None,
        0,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(out[0].dim(), (3, 256, 256));
    let mean = |recs: &[serde_json::Value], i: usize| recs[i]["reward"]["mean"].as_f64().unwrap();
    // Same seeds: iteration i of both runs sees the same faces, degradations and noise.
    assert!((mean(&learn, 0) - mean(&frozen, 0)).abs() < 1e-9);
    let gain: f64 = (9..12)
        .map(|i| mean(&learn, i) - mean(&frozen, i))
        .sum::<f64>()
        / 3.0;
    let drift = ((9..12).map(|i| mean(&frozen, i)).sum::<f64>()
        - (0..3).map(|i| mean(&frozen, i)).sum::<f64>())
    .abs()
        / 3.0;
    let control_gain: f64 = (9..12)
        .map(|i| mean(&control, i) - mean(&frozen, i))
        .sum::<f64>()
        / 3.0;
    println!("paired gain {gain:.4}, shuffled control {control_gain:.4}, frozen drift {drift:.4}");
    assert!(gain > 0.02, "learning raised brightness by only {gain}");
    assert!(gain > 3.0 * drift, "gain {gain} vs drift {drift}");
    assert!(
        control_gain < 0.5 * gain,
        "rewards decoupled from the samples raised brightness by {control_gain} (LRPO {gain})"
    );
    // The fixed validation curve: before training and every 4 iterations, the same faces.
    let val: Vec<(u64, f64)> = lrpo_trainer::runlog::read(&dir.join("learn/metrics.jsonl"))
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "val")
        .map(|r| (r["step"].as_u64().unwrap(), r["reward"].as_f64().unwrap()))
        .collect();
    assert_eq!(val.iter().map(|v| v.0).collect::<Vec<_>>(), [0, 4, 8, 12]);
    assert!(val[3].1 > val[0].1, "validation reward {val:?}");
    // The GT term's pull against the policy term's, measured each iteration.
    assert!(
        learn
            .iter()
            .all(|r| r["gt_grad_ratio"].as_f64().is_some_and(|x| x > 0.0))
    );
    // Without updates the policy the PPO step sees is the rollout's: every ratio is 1 and the
    // policy loss (group-centred advantages) is 0.
    for r in &frozen {
        assert!(
            (r["ratio"]["min"].as_f64().unwrap() - 1.0).abs() < 1e-5
                && (r["ratio"]["max"].as_f64().unwrap() - 1.0).abs() < 1e-5,
            "{}",
            r["ratio"]
        );
        // The loss is −mean(A·ratio) with zero-mean advantages, so with ratios 1 ± δ (float
        // rounding of the recomputed log-probabilities) it is bounded by max|A|·δ, max|A| ≤ 5
        // (the advantage clip), plus the f32 rounding of the mean itself (< 1e-5 here).
        let delta = (r["ratio"]["min"].as_f64().unwrap() - 1.0)
            .abs()
            .max((r["ratio"]["max"].as_f64().unwrap() - 1.0).abs());
        let loss = r["loss_pol"].as_f64().unwrap();
        assert!(
            loss.abs() <= 5.0 * delta + 1e-5,
            "loss {loss} with ratio spread {delta}"
        );
        assert_eq!(r["clip_fraction"].as_f64().unwrap(), 0.0);
    }
    for k in [
        "time_sampling",
        "time_reward",
        "time_training",
        "trajectories_per_sec",
        "approx_kl",
        "grad_norm",
        "reward_bright",
    ] {
        assert!(!learn[0][k].is_null(), "{k} not logged");
    }
    assert!(dir.join("learn/plots/reward.png").exists());
}

#[test]
fn a_resumed_lrpo_run_continues_exactly() {
    let _one_at_a_time = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("lrpo-resume");
    brightness_model(&dir.join("brightness.onnx"));
    std::fs::write(dir.join("reward.toml"), "[[component]]\nname = \"bright\"\nkind = \"onnx-nr\"\nweight = 1.0\npath = \"brightness.onnx\"\n").unwrap();
    let init = dir.join("init");
    let mut c = micro();
    c.pretrain.steps = 4;
    with_backend(
        DeviceChoice::Cpu,
        Pretrain {
            cfg: c,
            data: root().join("data/train/faces"),
            run: init.clone(),
            resume: false,
            stop_at: None,
        },
    )
    .unwrap();
    let straight = rl_run(&dir, &init, 3e-3, "a", 4);
    let mut cfg = RunConfig::load(&dir.join("a/config.toml")).unwrap();
    cfg.rl.reward = dir.join("reward.toml");
    let first = Lrpo {
        cfg: cfg.clone(),
        init: init.clone(),
        data: root().join("data/train/faces"),
        run: dir.join("b"),
        resume: false,
        stop_at: Some(2),
    };
    with_backend(DeviceChoice::Cpu, first).unwrap();
    let rest = Lrpo {
        cfg,
        init: init.clone(),
        data: root().join("data/train/faces"),
        run: dir.join("b"),
        resume: true,
        stop_at: None,
    };
    with_backend(DeviceChoice::Cpu, rest).unwrap();
    let resumed = lrpo_trainer::runlog::read(&dir.join("b/metrics.jsonl")).unwrap();
    assert_eq!(resumed.len(), 4);
    for (a, b) in straight.iter().zip(&resumed) {
        let (x, y) = (
            a["reward"]["mean"].as_f64().unwrap(),
            b["reward"]["mean"].as_f64().unwrap(),
        );
        assert!((x - y).abs() < 1e-6, "iteration {}: {x} vs {y}", a["step"]);
    }
}
