//! What an LRPO run leaves behind besides checkpoints: reward statistics, sample grids, the
//! batch of a failed iteration and the plots of its log.

use crate::runlog;
use anyhow::Result;
use lrpo_shared::image::save_rgb;
use ndarray::{Array3, Axis, concatenate};
use std::path::{Path, PathBuf};

/// Mean, std, min and max of `v` as a JSON object (`mean`, `std`, `min`, `max`).
pub fn stats(v: &[f64]) -> serde_json::Value {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let s = (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n).sqrt();
    let (lo, hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    serde_json::json!({"mean": m, "std": s, "min": lo, "max": hi})
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
