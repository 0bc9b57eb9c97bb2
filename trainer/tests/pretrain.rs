//! Pretraining on real faces with a micro configuration: the loss falls, an interrupted and
//! resumed run reproduces an uninterrupted one, sampling works, and bad inputs fail clearly.

mod common;

use common::*;
use lrpo_trainer::backend::{DeviceChoice, with_backend};
use lrpo_trainer::config::RunConfig;
use lrpo_trainer::pretrain::Pretrain;
use std::path::Path;
use std::process::Command;

/// burn's backend seed is global to the process: tests that initialise models from it run one
/// at a time, so that each sees only its own draws.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A configuration small enough for debug-build tests: 16 × 16 faces, a 2-level UNet of 8
/// channels.
fn micro(steps: u64) -> RunConfig {
    let mut c = RunConfig::default();
    c.model.base_channels = 8;
    c.model.channel_mult = vec![1, 2];
    c.model.groups = 4;
    c.data.resolution = 16;
    c.data.holdout = vec!["grace_hopper_0.png".into()];
    c.pretrain.steps = steps;
    c.pretrain.batch_size = 4;
    c.pretrain.lr = 2e-3;
    c.pretrain.warmup_steps = 2;
    c.pretrain.checkpoint_every = 6;
    c.pretrain.log_every = 2;
    c.pretrain.val_steps = Some(3);
    c
}

fn train(
    cfg: RunConfig,
    run: &Path,
    resume: bool,
    stop_at: Option<u64>,
) -> lrpo_trainer::pretrain::Summary {
    let task = Pretrain {
        cfg,
        data: root().join("data/train/faces"),
        run: run.to_path_buf(),
        resume,
        stop_at,
    };
    with_backend(DeviceChoice::Cpu, task).unwrap()
}

#[test]
fn an_interrupted_and_resumed_run_matches_an_uninterrupted_one() {
    let _one_at_a_time = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("resume");
    let straight = train(micro(12), &dir.join("a"), false, None);
    let first = train(micro(12), &dir.join("b"), false, Some(6));
    assert_eq!(first.step, 6);
    let resumed = train(micro(12), &dir.join("b"), true, None);
    assert_eq!(resumed.step, 12);
    // Every logged loss after the resume equals the uninterrupted run's.
    let tail: Vec<(u64, f64)> = straight
        .losses
        .iter()
        .copied()
        .filter(|(s, _)| *s > 6)
        .collect();
    assert_eq!(tail.len(), resumed.losses.len());
    for ((s1, a), (s2, b)) in tail.iter().zip(&resumed.losses) {
        assert_eq!(s1, s2);
        assert!(
            (a - b).abs() <= 1e-6 * a.abs().max(1e-9),
            "step {s1}: {a} vs {b}"
        );
    }
    let (va, vb) = (straight.validation.unwrap(), resumed.validation.unwrap());
    assert!(
        (va.psnr - vb.psnr).abs() < 1e-6,
        "{} vs {}",
        va.psnr,
        vb.psnr
    );
    // The resumed run's metrics file is one consistent run: no duplicated steps.
    let recs = lrpo_trainer::runlog::read(&dir.join("b/metrics.jsonl")).unwrap();
    let steps: Vec<u64> = recs
        .iter()
        .filter(|r| r["kind"] == "train")
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![2, 4, 6, 8, 10, 12]);
    for f in [
        "config.toml",
        "run.json",
        "plots/loss.png",
        "checkpoints/latest.json",
    ] {
        assert!(dir.join("b").join(f).exists(), "{f}");
    }
    // Finished runs refuse to resume further; corrupt checkpoints are named.
    let again = with_backend(
        DeviceChoice::Cpu,
        Pretrain {
            cfg: micro(12),
            data: root().join("data/train/faces"),
            run: dir.join("b"),
            resume: true,
            stop_at: None,
        },
    );
    let again = again.unwrap_err();
    assert!(matches!(again, lrpo_trainer::Error::Run { .. }));
    assert!(again.to_string().contains("already trained"));
    let ck = dir.join("b/checkpoints/step_0000012/optim.mpk");
    let bytes = std::fs::read(&ck).unwrap();
    std::fs::write(&ck, &bytes[..bytes.len() / 2]).unwrap();
    let e = with_backend(
        DeviceChoice::Cpu,
        Pretrain {
            cfg: micro(20),
            data: root().join("data/train/faces"),
            run: dir.join("b"),
            resume: true,
            stop_at: None,
        },
    )
    .unwrap_err();
    assert!(
        matches!(e.root(), lrpo_trainer::Error::Format { .. }),
        "{e:?}"
    );
    assert!(format!("{e:#}").contains("optim.mpk"), "{e:#}");
}

#[test]
fn the_loss_falls_on_real_faces() {
    let _one_at_a_time = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("falls");
    let mut c = micro(40);
    c.pretrain.log_every = 10;
    let s = train(c, &dir.join("run"), false, None);
    let (first, last) = (s.losses[0].1, s.losses.last().unwrap().1);
    assert!(last < 0.7 * first, "loss {first} -> {last}");
}

#[test]
fn the_cli_trains_samples_and_explains_bad_inputs() {
    let dir = scratch("cli");
    let bin = env!("CARGO_BIN_EXE_lrpo-train");
    let cfg_path = dir.join("micro.toml");
    micro(4).save(&cfg_path).unwrap();
    let run = dir.join("run");
    let o = Command::new(bin)
        .args(["pretrain", "--config"])
        .arg(&cfg_path)
        .arg("--data")
        .arg(root().join("data/train/faces"))
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("held-out (1 faces)"));
    // Sampling an aligned LQ crop of another size comes back at that size.
    let crop = root().join("data/train/faces/obama2_0.png");
    let o = Command::new(bin)
        .args(["sample", "--ckpt"])
        .arg(&run)
        .arg("--input")
        .arg(&crop)
        .arg("-o")
        .arg(dir.join("s"))
        .args(["--steps", "2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = lrpo_shared::image::load_rgb(&dir.join("s/obama2_0_restored.png")).unwrap();
    assert_eq!(out.dim(), (3, 256, 256));
    // The same run folder is not overwritten.
    let o = Command::new(bin)
        .args(["pretrain", "--config"])
        .arg(&cfg_path)
        .arg("--data")
        .arg(root().join("data/train/faces"))
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"));
    // Bad configs name the file and the field.
    std::fs::write(dir.join("bad.toml"), "[pretrain]\nstepz = 3\n").unwrap();
    let o = Command::new(bin)
        .args(["pretrain", "--config"])
        .arg(dir.join("bad.toml"))
        .arg("--data")
        .arg(root().join("data/train/faces"))
        .arg("--out")
        .arg(dir.join("r2"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("bad.toml") && e.contains("stepz"), "{e}");
    std::fs::write(
        dir.join("bad2.toml"),
        "[data]\nresolution = 18\n[model]\nchannel_mult = [1, 2, 2]\n",
    )
    .unwrap();
    let o = Command::new(bin)
        .args(["pretrain", "--config"])
        .arg(dir.join("bad2.toml"))
        .arg("--data")
        .arg(root().join("data/train/faces"))
        .arg("--out")
        .arg(dir.join("r3"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("multiple of 4"));
    // A data folder without images, and a missing one.
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let o = Command::new(bin)
        .args(["pretrain", "--config"])
        .arg(&cfg_path)
        .arg("--data")
        .arg(dir.join("empty"))
        .arg("--out")
        .arg(dir.join("r4"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("no PNG or JPEG images"));
    let o = Command::new(bin)
        .args(["pretrain", "--device", "cuda", "--config"])
        .arg(&cfg_path)
        .arg("--data")
        .arg(root().join("data/train/faces"))
        .arg("--out")
        .arg(dir.join("r5"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        cfg!(feature = "cuda") || e.contains("--features cuda"),
        "{e}"
    );
}

#[test]
fn burn_diffusion_matches_the_shared_schedule() {
    use burn::tensor::{Tensor, TensorData};
    use lrpo_shared::rng::Rng;
    use lrpo_shared::schedule::NoiseSchedule;
    type B = lrpo_trainer::backend::Cpu;
    let dev = Default::default();
    let s = NoiseSchedule::stable_diffusion();
    let mut rng = Rng::new(5);
    let n = 2 * 3 * 4 * 4;
    let mut x0 = vec![0.0f32; n];
    let mut eps = vec![0.0f32; n];
    rng.fill_normal(&mut x0);
    rng.fill_normal(&mut eps);
    let t = [17usize, 901];
    let tx =
        |v: &Vec<f32>| Tensor::<B, 4>::from_data(TensorData::new(v.clone(), [2, 3, 4, 4]), &dev);
    let xt: Vec<f32> = lrpo_trainer::diffusion::q_sample(&s, tx(&x0), tx(&eps), &t)
        .into_data()
        .to_vec()
        .unwrap();
    for i in 0..n {
        let (a, b) = s.q_sample_coefs(t[i / 48]);
        assert!((xt[i] as f64 - (a * x0[i] as f64 + b * eps[i] as f64)).abs() < 1e-5);
    }
    for clip in [false, true] {
        let step = s.ddim_steps(50, 1.0).unwrap()[3];
        let mu: Vec<f32> = lrpo_trainer::diffusion::ddim_mean(&step, tx(&x0), tx(&eps), clip)
            .into_data()
            .to_vec()
            .unwrap();
        let mut want = vec![0.0f32; n];
        step.mean(&x0, &eps, &mut want, clip);
        for i in 0..n {
            assert!(
                (mu[i] - want[i]).abs() < 1e-4 * (1.0 + want[i].abs()),
                "{i}: {} vs {}",
                mu[i],
                want[i]
            );
        }
    }
}

/// The `kind = "train"` losses of a run's metrics file, by step.
fn train_losses(run: &Path) -> Vec<(u64, f64)> {
    lrpo_trainer::runlog::read(&run.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "train")
        .map(|r| (r["step"].as_u64().unwrap(), r["loss"].as_f64().unwrap()))
        .collect()
}

#[test]
fn a_run_killed_with_sigkill_at_random_points_resumes_to_the_uninterrupted_result() {
    let dir = scratch("sigkill");
    let bin = env!("CARGO_BIN_EXE_lrpo-train");
    let mut c = micro(24);
    c.pretrain.checkpoint_every = 2;
    let cfg_path = dir.join("micro.toml");
    c.save(&cfg_path).unwrap();
    let start = |run: &Path, resume: bool| {
        let mut cmd = Command::new(bin);
        cmd.arg("pretrain");
        if resume {
            cmd.arg("--resume").arg(run);
        } else {
            cmd.arg("--config")
                .arg(&cfg_path)
                .arg("--data")
                .arg(root().join("data/train/faces"))
                .arg("--out")
                .arg(run);
        }
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let straight = dir.join("straight");
    assert!(start(&straight, false).wait().unwrap().success());
    // The same run killed (SIGKILL) twice at seeded random moments after its latest
    // checkpoint appeared, then resumed to the end.
    let run = dir.join("killed");
    let mut rng = lrpo_shared::rng::Rng::new(5);
    let mut resume = false;
    let mut killed_at = Vec::new();
    for _ in 0..2 {
        let mut child = start(&run, resume);
        let latest = run.join("checkpoints/latest.json");
        let step_now = || -> u64 {
            std::fs::read(&latest)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["step"].as_u64())
                .unwrap_or(0)
        };
        // Wait for a checkpoint newer than the last kill's, then a random moment more.
        let before = killed_at.last().copied().unwrap_or(0);
        let t0 = std::time::Instant::now();
        while step_now() <= before && t0.elapsed().as_secs() < 120 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        std::thread::sleep(std::time::Duration::from_millis(rng.below(150)));
        let _ = child.kill();
        child.wait().unwrap();
        killed_at.push(step_now());
        resume = true;
    }
    println!("killed with the latest checkpoint at steps {killed_at:?}");
    assert!(
        killed_at.iter().any(|&s| s < 24),
        "every kill came after the end: {killed_at:?}"
    );
    let done = start(&run, true).wait().unwrap();
    if !done.success() {
        // Killed after the last checkpoint was already written: the run had finished.
        let step = std::fs::read_to_string(run.join("checkpoints/latest.json")).unwrap();
        assert!(step.contains("\"step\":24"), "resume failed at {step}");
    }
    // The final weights give the uninterrupted run's losses, and nothing half-written is left
    // in the run folder.
    let (a, b) = (train_losses(&straight), train_losses(&run));
    assert_eq!(a.last().map(|x| x.0), Some(24));
    // One consistent log: every step once, as in the uninterrupted run.
    assert_eq!(
        a.iter().map(|x| x.0).collect::<Vec<_>>(),
        b.iter().map(|x| x.0).collect::<Vec<_>>()
    );
    for (s, lb) in &b {
        let la = a.iter().find(|x| x.0 == *s).unwrap().1;
        assert!((la - lb).abs() <= 1e-6 * la.abs(), "step {s}: {la} vs {lb}");
    }
    for e in walk(&run) {
        let n = e.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!n.contains(".tmp"), "left behind: {}", e.display());
    }
}
