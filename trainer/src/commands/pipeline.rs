//! `lrpo-train pipeline`: pretrain → LRPO → distill → export in one resumable command.

use anyhow::Result;
use clap::Args;
use lrpo_trainer::backend::DeviceChoice;
use lrpo_trainer::config::RunConfig;
use std::path::PathBuf;

/// Arguments of `lrpo-train pipeline`.
#[derive(Args, Debug)]
pub struct PipelineArgs {
    /// Run configuration (every stage's section).
    #[arg(long)]
    pub config: PathBuf,
    /// Folder of HQ face images.
    #[arg(long)]
    pub data: PathBuf,
    /// Run folder (one sub-folder per stage); running again resumes where it stopped.
    #[arg(long)]
    pub out: PathBuf,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceChoice,
}

/// Runs the unfinished stages.
pub fn run(args: &PipelineArgs) -> Result<()> {
    let cfg = RunConfig::load(&args.config)?;
    Ok(lrpo_trainer::pipeline::run(
        &cfg,
        &args.data,
        &args.out,
        args.device,
    )?)
}
