//! What an LRPO run leaves behind besides checkpoints: reward statistics, sample grids, the
//! batch of a failed iteration and the plots of its log.

use crate::error::Result;
use crate::runlog;
use lrpo_shared::image::save_rgb;
use ndarray::{Array3, Axis, concatenate};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Mean, std (population), min and max of a set of values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Smallest value (+∞ for none, written as `null`).
    pub min: f64,
    /// Largest value (−∞ for none, written as `null`).
    pub max: f64,
}

/// [`Stats`] of `v`.
pub fn stats(v: &[f64]) -> Stats {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let std = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
    let (min, max) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    Stats {
        mean,
        std,
        min,
        max,
    }
}

/// One reward component's statistics over an iteration's candidates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ComponentStats {
    /// The metric's raw value.
    pub raw: Stats,
    /// Its reward after normalisation (before the component's weight).
    pub reward: Stats,
}

/// One line of an LRPO run's `metrics.jsonl` (`kind = "rl"`): what iteration `step` sampled,
/// scored and trained.
#[derive(Debug, Clone, Serialize)]
pub struct IterationRecord {
    /// Always `"rl"`.
    pub kind: &'static str,
    /// Iterations completed (1 after the first).
    pub step: u64,
    /// Composite reward of the candidates.
    pub reward: Stats,
    /// Advantages of the kept candidates.
    pub advantage: Stats,
    /// Groups kept (groups whose rewards were all equal are dropped).
    pub groups_kept: usize,
    /// Probability ratios `π/π_old` over the updates.
    pub ratio: Stats,
    /// Share of ratios outside `1 ± clip_eps`.
    pub clip_fraction: f64,
    /// Mean approximate KL `(r − 1) − ln r` of the ratios.
    pub approx_kl: f64,
    /// Mean PPO-clip loss per (mini-batch, step).
    pub loss_pol: f64,
    /// Mean GT term per (mini-batch, GT step), before λ.
    pub loss_gt: f64,
    /// Mean KL to the reference per (mini-batch, step), before β.
    pub kl_ref: f64,
    /// Mean gradient norm before clipping, per update.
    pub grad_norm: f64,
    /// `λ·‖∇L_GT‖ / ‖∇L_pol‖` at the iteration's start (absent when the GT term is off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gt_grad_ratio: Option<f64>,
    /// Optimiser updates.
    pub updates: usize,
    /// Seconds sampling the rollouts.
    pub time_sampling: f64,
    /// Seconds scoring them.
    pub time_reward: f64,
    /// Seconds in the PPO updates.
    pub time_training: f64,
    /// Candidates per second over the iteration.
    pub trajectories_per_sec: f64,
    /// Seconds since the run (or its resumption) started.
    pub elapsed: f64,
    /// Each reward component's statistics, as `reward_{name}`.
    #[serde(flatten)]
    pub components: BTreeMap<String, ComponentStats>,
    /// A guard rail's warning (reward spread collapse), when one fired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Saves the LQ, GT and finite candidates of a failed iteration under
/// `RUN/failures/iteration_N/`; returns that folder.
pub fn save_failure(
    run: &Path,
    it: u64,
    lqs: &[Array3<f32>],
    gts: &[Array3<f32>],
    finals: &[Array3<f32>],
) -> Result<PathBuf> {
    let dir = run.join(format!("failures/iteration_{it:06}"));
    for (k, (l, g)) in lqs.iter().zip(gts).enumerate() {
        save_rgb(&dir.join(format!("group{k}_lq.png")), &l.view())?;
        save_rgb(&dir.join(format!("group{k}_gt.png")), &g.view())?;
    }
    for (i, f) in finals.iter().enumerate() {
        if f.iter().all(|v| v.is_finite()) {
            save_rgb(&dir.join(format!("candidate{i}.png")), &f.view())?;
        }
    }
    Ok(dir)
}

/// `RUN/grids/iteration_N_groupK.png`: LQ | candidates | GT.
pub fn save_grid(
    run: &Path,
    it: u64,
    lqs: &[Array3<f32>],
    gts: &[Array3<f32>],
    finals: &[Array3<f32>],
    g: usize,
) -> Result<()> {
    for (k, (l, gt)) in lqs.iter().zip(gts).enumerate() {
        let mut row = vec![l.view()];
        row.extend(finals[k * g..(k + 1) * g].iter().map(|f| f.view()));
        row.push(gt.view());
        let grid = concatenate(Axis(2), &row)?;
        save_rgb(
            &run.join(format!("grids/iteration_{it:06}_group{k}.png")),
            &grid.view(),
        )?;
    }
    Ok(())
}

/// `RUN/plots/reward.png` and component curves from `RUN/metrics.jsonl`.
pub fn plot_rl(run: &Path) -> Result<()> {
    use crate::plot::{Series, line_chart};
    let recs = runlog::read(&run.join("metrics.jsonl"))?;
    let pick = |f: &dyn Fn(&serde_json::Value) -> Option<f64>| -> Vec<(f64, f64)> {
        recs.iter()
            .filter(|r| r["kind"] == "rl")
            .filter_map(|r| Some((r["step"].as_f64()?, f(r)?)))
            .collect()
    };
    let mean = pick(&|r| r["reward"]["mean"].as_f64());
    let hi = pick(&|r| r["reward"]["max"].as_f64());
    let lo = pick(&|r| r["reward"]["min"].as_f64());
    line_chart(
        &run.join("plots/reward.png"),
        "LRPO reward per iteration",
        "iteration",
        &[
            Series {
                label: "mean",
                color: [30, 90, 200],
                points: &mean,
            },
            Series {
                label: "max",
                color: [60, 170, 60],
                points: &hi,
            },
            Series {
                label: "min",
                color: [200, 60, 60],
                points: &lo,
            },
        ],
        false,
    )?;
    let val = runlog::series(&recs, "val", "reward");
    if !val.is_empty() {
        line_chart(
            &run.join("plots/val_reward.png"),
            "LRPO reward on the fixed validation faces",
            "iteration",
            &[Series {
                label: "mean",
                color: [30, 90, 200],
                points: &val,
            }],
            false,
        )?;
    }
    let kl = pick(&|r| r["approx_kl"].as_f64());
    let clip = pick(&|r| r["clip_fraction"].as_f64());
    line_chart(
        &run.join("plots/ppo.png"),
        "PPO: approx KL and clip fraction",
        "iteration",
        &[
            Series {
                label: "approx KL",
                color: [200, 40, 40],
                points: &kl,
            },
            Series {
                label: "clip fraction",
                color: [120, 120, 120],
                points: &clip,
            },
        ],
        false,
    )?;
    Ok(())
}
