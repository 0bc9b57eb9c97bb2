//! `lrpo-train evaluate`: compare policies on the held-out faces (same degradations and noise
//! for every policy) and write a JSON report and a Markdown table.

use anyhow::Result;
use clap::Args;
use lrpo_trainer::backend::TrainBackend;
use lrpo_trainer::backend::{BackendTask, DeviceChoice, with_backend};
use lrpo_trainer::data::FaceSet;
use lrpo_trainer::evaluate::{EvalSettings, evaluate, load_policy, paired_difference};
use lrpo_trainer::lrpo::train::build_reward;
use ndarray::{Axis, concatenate};
use std::path::PathBuf;

/// Arguments of `lrpo-train evaluate`.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Run folders to compare (pretraining runs use their EMA weights, LRPO runs their policy).
    #[arg(long = "run", required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Labels for the runs (default: folder names).
    #[arg(long = "label", num_args = 1..)]
    pub labels: Vec<String>,
    /// HQ faces (the held-out ones of the first run's config are evaluated).
    #[arg(long)]
    pub data: PathBuf,
    /// Degradations per held-out face.
    #[arg(long, default_value_t = 4)]
    pub per_face: usize,
    /// DDIM steps (default: the first run's `[sampling] steps`), the same for every run.
    #[arg(long)]
    pub steps: Option<usize>,
    /// DDIM η (default: the first run's `[sampling] eta`), the same for every run.
    #[arg(long)]
    pub eta: Option<f64>,
    /// Seed (degradations and noise, the same for every run).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output: REPORT.json, REPORT.md and REPORT_grid.png next to each other.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Device.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
}

struct Task<'a>(&'a EvaluateArgs);

impl BackendTask for Task<'_> {
    type Output = ();
    type Error = anyhow::Error;
    fn run<B: TrainBackend>(self, device: B::Device) -> Result<()> {
        let a = self.0;
        let first = a
            .runs
            .first()
            .ok_or_else(|| anyhow::anyhow!("evaluate needs at least one run"))?;
        let sampling = lrpo_trainer::config::RunConfig::load(&first.join("config.toml"))?.sampling;
        let s = EvalSettings {
            per_face: a.per_face,
            steps: a.steps.unwrap_or(sampling.steps),
            eta: a.eta.unwrap_or(sampling.eta),
            seed: a.seed,
        };
        let mut results = Vec::new();
        let mut grids = Vec::new();
        let mut set = None;
        for (i, run) in a.runs.iter().enumerate() {
            let (cfg, model, what) = load_policy::<B::InnerBackend>(run, &device)?;
            let set = set.get_or_insert_with(|| FaceSet::load(&a.data, &cfg.data));
            let set = set.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
            let reward = build_reward(&cfg)?;
            let (metrics, images) = evaluate(&model, &cfg, set, &reward, &s, &device)?;
            let label = a.labels.get(i).cloned().unwrap_or_else(|| {
                run.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            });
            match metrics.get("reward") {
                Some(r) => say!("{label} ({what}): reward {:.4}", r.mean),
                None => anyhow::bail!(
                    "{}: nothing was evaluated (no held-out faces in {})",
                    run.display(),
                    a.data.display()
                ),
            }
            if grids.is_empty() {
                grids.push(
                    images
                        .iter()
                        .map(|(lq, _, _)| lq.clone())
                        .collect::<Vec<_>>(),
                );
            }
            grids.push(images.iter().map(|(_, out, _)| out.clone()).collect());
            if i + 1 == a.runs.len() {
                grids.push(images.iter().map(|(_, _, gt)| gt.clone()).collect());
            }
            results.push((label, what, metrics));
        }
        let json = serde_json::json!({"settings": s, "runs": results.iter().map(|(l, w, m)| serde_json::json!({"label": l, "policy": w, "metrics": m})).collect::<Vec<_>>()});
        lrpo_shared::fsio::write_atomic(
            &a.out.with_extension("json"),
            serde_json::to_string_pretty(&json)?.as_bytes(),
        )?;
        let keys: Vec<&String> = results[0].2.keys().collect();
        let mut md = format!(
            "| metric | {} |\n|---|{}\n",
            results
                .iter()
                .map(|r| r.0.as_str())
                .collect::<Vec<_>>()
                .join(" | "),
            "---:|".repeat(results.len())
        );
        for k in keys {
            md.push_str(&format!(
                "| {k} | {} |\n",
                results
                    .iter()
                    .map(|r| format!("{:.4} ± {:.4}", r.2[k].mean, r.2[k].std))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
        if results.len() > 1 {
            md.push_str(&format!(
                "\nPaired differences against {} on the same inputs and noise: mean ± standard \
                 error (samples that increased / all).\n\n| metric | {} |\n|---|{}\n",
                results[0].0,
                results[1..]
                    .iter()
                    .map(|r| r.0.as_str())
                    .collect::<Vec<_>>()
                    .join(" | "),
                "---:|".repeat(results.len() - 1)
            ));
            for k in results[0].2.keys() {
                md.push_str(&format!(
                    "| {k} | {} |\n",
                    results[1..]
                        .iter()
                        .map(|r| {
                            let (m, se, up) = paired_difference(&results[0].2[k], &r.2[k]);
                            format!("{m:+.4} ± {se:.4} ({up}/{})", r.2[k].values.len())
                        })
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
        }
        lrpo_shared::fsio::write_atomic(&a.out.with_extension("md"), md.as_bytes())?;
        // Rows: LQ, each run, GT; columns: evaluation samples.
        let rows: Vec<ndarray::Array3<f32>> = grids
            .iter()
            .map(|row| concatenate(Axis(2), &row.iter().map(|x| x.view()).collect::<Vec<_>>()))
            .collect::<Result<_, _>>()?;
        let grid = concatenate(Axis(1), &rows.iter().map(|x| x.view()).collect::<Vec<_>>())?;
        let stem = a
            .out
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        lrpo_shared::image::save_rgb(
            &a.out.with_file_name(format!("{stem}_grid.png")),
            &grid.view(),
        )?;
        print!("{md}");
        Ok(())
    }
}

/// Runs the comparison.
pub fn run(args: &EvaluateArgs) -> Result<()> {
    with_backend(args.device, Task(args))
}
