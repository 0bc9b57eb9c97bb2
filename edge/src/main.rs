//! `lrpo-edge`: on-camera face restoration and offline evaluation.

/// `say!`: messages on stderr that never panic (`lrpo_shared::say`).
#[macro_use]
extern crate lrpo_shared;

mod commands;
mod eval;
mod inputs;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// LRPO edge runtime: restore faces with an exported LRPO policy (tract), and prepare or
/// score test data.
#[derive(Parser, Debug)]
#[command(name = "lrpo-edge", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Restore the faces in images: detect, align, restore with the policy, paste back.
    Restore(Box<commands::restore::RestoreArgs>),
    /// Restore faces in a stream of raw RGB24 frames from stdin to stdout.
    Stream(Box<commands::stream::StreamArgs>),
    /// Evaluate restoration methods on a test set with every metric; write a report (JSON, CSV,
    /// Markdown, HTML).
    Eval(Box<commands::eval::EvalArgs>),
    /// Measure a policy's latency and peak memory per face crop.
    Bench(commands::bench::BenchArgs),
    /// Measure face detection's time per camera frame (640x480, 720p, 1080p) and its recall on
    /// the face set's labelled photos.
    BenchDetect(Box<commands::bench_detect::BenchDetectArgs>),
    /// Measure the flicker and frame rate of `stream` on a still-camera clip made from photos,
    /// with and without landmark smoothing.
    BenchStream(Box<commands::bench_stream::BenchStreamArgs>),
    /// Degrade images with the BFR degradation model (blur, downscale, noise, JPEG) and report
    /// the sampled parameters and the PSNR of each result against its input.
    Degrade(commands::degrade::DegradeArgs),
}

fn main() -> ExitCode {
    lrpo_edge::allocator::keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Degrade(args) => commands::degrade::run(&args),
        Command::Restore(args) => commands::restore::run(&args),
        Command::Stream(args) => commands::stream::run(&args),
        Command::Bench(args) => commands::bench::run(&args),
        Command::BenchDetect(args) => commands::bench_detect::run(&args),
        Command::BenchStream(args) => commands::bench_stream::run(&args),
        Command::Eval(args) => commands::eval::run(&args),
    };
    match result {
        Ok(code) => code,
        // A closed pipe (`lrpo-edge restore ... | head`) cut the batch short: said briefly, and
        // not a success (the remaining inputs were not processed).
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            say!("stopped: standard output was closed before the work was done");
            ExitCode::from(1)
        }
        Err(e) => {
            say!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
