//! `lrpo-train bench`: time one pretraining step and one PPO update of the diffusion policy
//! (forward, backward, optimiser) and print them, optionally as JSON.

use anyhow::{Context, Result, bail};
use clap::Args;
use lrpo_trainer::backend::TrainBackend;
use lrpo_trainer::backend::{BackendTask, DeviceChoice, with_backend};
use lrpo_trainer::bench::{BenchSpec, StepKind, StepTimes, parameter_count, time_step};
use lrpo_trainer::config::RunConfig;
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `lrpo-train bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Run configuration whose `[model]` is timed (default: the built-in defaults, which are
    /// the shipped recipe's network).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Input sides to time, pixels.
    #[arg(long, num_args = 1.., default_values_t = [64usize, 128])]
    pub size: Vec<usize>,
    /// Batch size.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Untimed steps before the timed ones.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Timed steps (medians are reported).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// CPU worker threads (default: every core, or RAYON_NUM_THREADS).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Float precision of parameters and activations: f32, or bf16 (burn-cuda only).
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    /// Also write the results here as JSON (the benchmark script reads it).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Float precision of a benchmark.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats.
    F32,
    /// bfloat16 (burn-cuda's half-precision route).
    Bf16,
}

/// One timed configuration.
#[derive(Serialize)]
struct Row {
    size: usize,
    batch: usize,
    #[serde(flatten)]
    times: StepTimes,
}

/// The JSON report.
#[derive(Serialize)]
struct Report {
    implementation: &'static str,
    device: String,
    precision: Precision,
    threads: usize,
    parameters: usize,
    rows: Vec<Row>,
}

struct Task<'a>(&'a BenchArgs);

impl BackendTask for Task<'_> {
    type Output = Report;
    type Error = anyhow::Error;
    fn run<B: TrainBackend>(self, device: B::Device) -> Result<Report> {
        let a = self.0;
        let model = match &a.config {
            Some(p) => RunConfig::load(p)?.model,
            None => RunConfig::default().model,
        };
        let parameters = parameter_count::<B>(&model, &device);
        let mut rows = Vec::new();
        for &size in &a.size {
            let spec = BenchSpec {
                model: model.clone(),
                size,
                batch: a.batch,
                warmup: a.warmup,
                reps: a.reps,
            };
            for kind in [StepKind::Pretrain, StepKind::Ppo] {
                let times = time_step::<B>(&spec, kind, &device)?;
                println!(
                    "{size:>4}² batch {:<3} {:<9} forward {:>8.1} ms  backward {:>8.1} ms  optimizer {:>6.1} ms  step {:>8.1} ms  cpu {:.2}",
                    a.batch,
                    format!("{kind:?}").to_lowercase(),
                    times.forward_ms,
                    times.backward_ms,
                    times.optimizer_ms,
                    times.total_ms,
                    times.cpu_utilisation
                );
                for (name, ms) in &times.breakdown_ms {
                    println!("        {name:<36} {ms:>8.1} ms");
                }
                rows.push(Row {
                    size,
                    batch: a.batch,
                    times,
                });
            }
        }
        Ok(Report {
            implementation: "burn",
            device: format!("{:?}", a.device).to_lowercase(),
            precision: a.precision,
            threads: rayon::current_num_threads(),
            parameters,
            rows,
        })
    }
}

/// Runs the benchmark.
pub fn run(args: &BenchArgs) -> Result<()> {
    if let Some(n) = args.threads {
        if n == 0 || n > 1024 {
            bail!("--threads must be in 1..=1024, found {n}");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot set up the CPU thread pool")?;
    }
    let report = match (args.precision, args.device) {
        (Precision::F32, device) => with_backend(device, Task(args))?,
        #[cfg(feature = "cuda")]
        (Precision::Bf16, DeviceChoice::Cuda(n)) => {
            type Bf16 = burn::backend::Autodiff<burn::backend::Cuda<burn::tensor::bf16>>;
            Task(args).run::<Bf16>(burn::backend::cuda::CudaDevice::new(n))?
        }
        (Precision::Bf16, _) => {
            bail!(
                "--precision bf16 needs --device cuda (and lrpo-train built with --features cuda)"
            )
        }
    };
    if let Some(path) = &args.json {
        lrpo_shared::fsio::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok(())
}
