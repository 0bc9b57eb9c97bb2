//! Killed with SIGKILL, losing nothing: an LRPO run killed at seeded random moments resumes to
//! the uninterrupted run's weights, and an export killed part-way leaves no half-written model
//! or card (pretraining's kill test is in `pretrain.rs`). Every run here is a separate
//! `lrpo-train` process.

mod common;

use common::*;
use lrpo_shared::card::PolicyCard;
use lrpo_shared::onnx::{OnnxModel, check_card};
use lrpo_shared::rng::Rng;
use lrpo_trainer::backend::Cpu;
use lrpo_trainer::run::load_policy;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn lrpo_train(args: &[&std::ffi::OsStr]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lrpo-train"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn run_to_end(args: &[&std::ffi::OsStr]) {
    assert!(lrpo_train(args).wait().unwrap().success(), "{args:?}");
}

fn latest_step(run: &Path) -> u64 {
    std::fs::read(run.join("checkpoints/latest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["step"].as_u64())
        .unwrap_or(0)
}

/// A small policy pretrained for a few steps (a separate process), and the config file whose
/// `[rl]` section the LRPO runs use: a reward without models, a checkpoint every iteration.
fn pretrained(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::write(
        dir.join("reward.toml"),
        "[[component]]\nname = \"structure\"\nkind = \"ssim\"\nweight = 1.0\n",
    )
    .unwrap();
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[model]\nbase_channels = 8\nchannel_mult = [1, 2]\ngroups = 4\n\
             [data]\nresolution = 16\nholdout = [\"grace_hopper_0.png\"]\n\
             [pretrain]\nsteps = 4\nbatch_size = 4\nlr = 2e-3\ncheckpoint_every = 4\nval_steps = 2\n\
             [rl]\niterations = 6\ngroups = 1\ngroup_size = 4\nddim_steps = 4\nlr = 3e-3\n\
             minibatch = 4\nclip_eps = 0.05\ncheckpoint_every = 1\ngrid_every = 0\nreward = {:?}\n",
            dir.join("reward.toml")
        ),
    )
    .unwrap();
    let init = dir.join("init");
    run_to_end(&[
        "pretrain".as_ref(),
        "--config".as_ref(),
        cfg.as_os_str(),
        "--data".as_ref(),
        root().join("data/train/faces").as_os_str(),
        "--out".as_ref(),
        init.as_os_str(),
    ]);
    (init, cfg)
}

/// The policy's ε on a fixed input: equal for equal weights, bit for bit.
fn eps_of(run: &Path) -> Vec<f32> {
    let device = Default::default();
    let (cfg, model, _) = load_policy::<Cpu>(run, &device).unwrap();
    let r = cfg.data.resolution;
    let x = burn::tensor::Tensor::<Cpu, 4>::ones([1, 3, r, r], &device).mul_scalar(0.3);
    let lq = burn::tensor::Tensor::<Cpu, 4>::ones([1, 3, r, r], &device).mul_scalar(-0.2);
    model.forward(x, &[500.0], lq).into_data().to_vec().unwrap()
}

#[test]
fn an_lrpo_run_killed_with_sigkill_resumes_to_the_uninterrupted_weights() {
    let dir = scratch("rl");
    let (init, cfg) = pretrained(&dir);
    let start = |run: &Path, resume: bool| {
        if resume {
            lrpo_train(&["rl".as_ref(), "--resume".as_ref(), run.as_os_str()])
        } else {
            lrpo_train(&[
                "rl".as_ref(),
                "--init".as_ref(),
                init.as_os_str(),
                "--config".as_ref(),
                cfg.as_os_str(),
                "--out".as_ref(),
                run.as_os_str(),
            ])
        }
    };
    let straight = dir.join("straight");
    assert!(start(&straight, false).wait().unwrap().success());
    // Killed three times, each at a seeded random moment after a checkpoint newer than the
    // last kill's appeared, then resumed to the end.
    let run = dir.join("killed");
    let mut rng = Rng::new(11);
    let mut killed_at = Vec::new();
    for k in 0..3 {
        let mut child = start(&run, k > 0);
        let before = killed_at.last().copied().unwrap_or(0);
        let t0 = Instant::now();
        while latest_step(&run) <= before && t0.elapsed().as_secs() < 120 {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.below(120)));
        let _ = child.kill();
        child.wait().unwrap();
        killed_at.push(latest_step(&run));
    }
    println!("killed with the latest checkpoint at iterations {killed_at:?}");
    assert!(killed_at.iter().any(|&s| s < 6), "{killed_at:?}");
    if latest_step(&run) < 6 {
        assert!(start(&run, true).wait().unwrap().success());
    }
    assert_eq!(latest_step(&run), 6);
    assert_eq!(eps_of(&run), eps_of(&straight));
    // One log line per iteration, as in the uninterrupted run, and nothing half-written.
    let iterations = |r: &Path| -> Vec<u64> {
        lrpo_trainer::runlog::read(&r.join("metrics.jsonl"))
            .unwrap()
            .iter()
            .filter_map(|v| v["step"].as_u64())
            .collect()
    };
    assert_eq!(iterations(&run), iterations(&straight));
    for e in walk(&run) {
        let n = e.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!n.contains(".tmp"), "left behind: {}", e.display());
    }
}

#[test]
fn an_export_killed_with_sigkill_leaves_no_half_written_model() {
    let dir = scratch("export");
    std::fs::write(
        dir.join("student.toml"),
        "[data]\nresolution = 32\nholdout = [\"grace_hopper_0.png\"]\n\
         [distill]\nw_teacher = 0.0\nw_gt = 1.0\nsteps = 4\nbatch_size = 4\nwarmup_steps = 1\n\
         log_every = 2\ncheckpoint_every = 4\n",
    )
    .unwrap();
    let student = dir.join("student");
    run_to_end(&[
        "distill".as_ref(),
        "--config".as_ref(),
        dir.join("student.toml").as_os_str(),
        "--data".as_ref(),
        root().join("data/train/faces").as_os_str(),
        "--out".as_ref(),
        student.as_os_str(),
    ]);
    let export = |out: &Path| {
        lrpo_train(&[
            "export".as_ref(),
            "--ckpt".as_ref(),
            student.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--int8".as_ref(),
        ])
    };
    let t0 = Instant::now();
    assert!(export(&dir.join("full/m")).wait().unwrap().success());
    let full_ms = t0.elapsed().as_millis() as u64;
    // Killed at seeded moments spread over an export's duration: whatever is there is whole.
    let mut rng = Rng::new(3);
    let mut seen = 0usize;
    for k in 0..6 {
        let out = dir.join(format!("k{k}"));
        std::fs::create_dir_all(&out).unwrap();
        let mut child = export(&out.join("m"));
        std::thread::sleep(Duration::from_millis(rng.below(full_ms.max(1))));
        let _ = child.kill();
        child.wait().unwrap();
        for p in walk(&out) {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!n.contains(".tmp"), "left behind: {}", p.display());
            if n.ends_with(".onnx") {
                let m = OnnxModel::load(&p).unwrap_or_else(|e| panic!("{e}"));
                let card = PolicyCard::path_for_model(&p);
                // A model is written before its card; a card, when there, is whole and its own.
                if card.exists() {
                    check_card(&PolicyCard::load(&card).unwrap(), &m).unwrap();
                    seen += 1;
                }
            }
        }
    }
    println!("{seen} complete model+card pairs among the killed exports");
}
