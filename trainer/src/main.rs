//! `lrpo-train`: trains, post-trains (LRPO), distills and exports face-restoration policies.

/// `say!`: messages on stderr that never panic (`lrpo_shared::say`).
#[macro_use]
extern crate lrpo_shared;

mod commands;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// LRPO trainer: diffusion restoration policies post-trained with likelihood-regularized
/// policy optimization, distilled to a one-step student and exported to ONNX.
#[derive(Parser, Debug)]
#[command(name = "lrpo-train", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the DDIM sampling plan of the default (Stable Diffusion) noise schedule: timesteps,
    /// ᾱ, σ_t(η) and LRPO's noise-level advantage weights w_j = σ_j / mean σ.
    Schedule(commands::schedule::ScheduleArgs),
    /// Convert a third-party model to ONNX (`face-descriptor`: the face-api.js/dlib identity
    /// network used by the identity reward and metric).
    Convert(commands::convert::ConvertArgs),
    /// Detect and align the faces in photos into FFHQ-style training crops.
    PrepareFaces(commands::prepare::PrepareArgs),
    /// Supervised pretraining of the diffusion policy (DDPM ε-prediction).
    Pretrain(commands::pretrain::PretrainArgs),
    /// LRPO post-training: online RL of a pretrained policy with the composite reward.
    Rl(commands::rl::RlArgs),
    /// Distil a diffusion policy into the one-step student (teacher samples cached on disk).
    Distill(commands::distill::DistillArgs),
    /// Export a distilled student to ONNX (f32, and int8 with --int8) with its policy card.
    Export(commands::export::ExportArgs),
    /// The whole recipe, resumable stage by stage: pretrain -> LRPO -> distill -> export.
    Pipeline(commands::pipeline::PipelineArgs),
    /// Time one pretraining step and one PPO update of the diffusion policy (forward,
    /// backward, optimizer), as benchmarks/trainer.md reports them.
    Bench(commands::bench::BenchArgs),
    /// Compare policies on held-out degraded faces (reward components, PSNR, SSIM, NIQE, identity).
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Restore aligned LQ crops with a trained policy (DDIM sampling).
    Sample(commands::sample::SampleArgs),
}

/// Keeps freed memory in the process for the next training step instead of handing it back to
/// the kernel and faulting it in again: a step frees and reallocates hundreds of megabytes of
/// activations and gradients, and with glibc's defaults (blocks over 128 KiB mapped and
/// unmapped one by one) page faults and page zeroing took ~20 % of a step's time.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only changes allocator parameters; it is called before any thread starts.
    unsafe {
        // The largest threshold glibc accepts on 64-bit targets (32 MiB).
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Schedule(args) => commands::schedule::run(&args, &mut std::io::stdout().lock()),
        Command::Convert(args) => commands::convert::run(&args),
        Command::PrepareFaces(args) => commands::prepare::run(&args),
        Command::Pretrain(args) => commands::pretrain::run(&args),
        Command::Sample(args) => commands::sample::run(&args),
        Command::Rl(args) => commands::rl::run(&args),
        Command::Evaluate(args) => commands::evaluate::run(&args),
        Command::Bench(args) => commands::bench::run(&args),
        Command::Distill(args) => commands::distill::run(&args),
        Command::Export(args) => commands::export::run(&args),
        Command::Pipeline(args) => commands::pipeline::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`lrpo-train schedule | head`) is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            say!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
