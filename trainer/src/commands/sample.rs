//! `lrpo-train sample`: restore aligned LQ face crops with a trained policy (DDIM).

use anyhow::Result;
use clap::Args;
use lrpo_shared::image::{load_rgb, save_rgb};
use lrpo_trainer::backend::TrainBackend;
use lrpo_trainer::backend::{BackendTask, DeviceChoice, with_backend};
use std::path::PathBuf;

/// Arguments of `lrpo-train sample`.
#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Run folder (its latest checkpoint's EMA weights are used).
    #[arg(long)]
    pub ckpt: PathBuf,
    /// Aligned LQ face crops (resized to the run's resolution for sampling).
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Output folder: NAME_restored.png per input.
    #[arg(short, long)]
    pub out: PathBuf,
    /// DDIM steps (default: the run's `[sampling] steps`).
    #[arg(long)]
    pub steps: Option<usize>,
    /// DDIM η (default: the run's `[sampling] eta`).
    #[arg(long)]
    pub eta: Option<f64>,
    /// Seed of the sampling noise (input i uses sub-stream i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
}

struct Task<'a>(&'a SampleArgs);

impl BackendTask for Task<'_> {
    type Output = ();
    type Error = anyhow::Error;
    fn run<B: TrainBackend>(self, device: B::Device) -> Result<()> {
        let a = self.0;
        let imgs = a
            .input
            .iter()
            .map(|p| load_rgb(p).map_err(anyhow::Error::from))
            .collect::<Result<Vec<_>>>()?;
        let out = lrpo_trainer::pretrain::sample_images::<B::InnerBackend>(
            &a.ckpt, &imgs, a.steps, a.eta, a.seed, &device,
        )?;
        for (p, y) in a.input.iter().zip(&out) {
            let stem = p.file_stem().unwrap_or_default().to_string_lossy();
            let dst = a.out.join(format!("{stem}_restored.png"));
            save_rgb(&dst, &y.view())?;
            println!("{} -> {}", p.display(), dst.display());
        }
        Ok(())
    }
}

/// Samples every input.
pub fn run(args: &SampleArgs) -> Result<()> {
    with_backend(args.device, Task(args))
}
