//! `lrpo-edge bench`: latency and peak memory of a policy per face crop.

use super::common::{PolicyArgs, nearest_rank};
use anyhow::{Result, bail};
use clap::Args;
use ndarray::Array3;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `lrpo-edge bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Crop side in pixels (default: the card's).
    #[arg(long)]
    pub size: Option<usize>,
    /// Timed runs.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Untimed warm-up runs (the first builds tract's plan).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
}

/// Peak resident memory of this process (VmHWM) in MiB, where /proc is available.
pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Runs the benchmark and prints one summary line.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let before = peak_rss_mib();
    let t = Instant::now();
    let policy = args.policy.load()?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let size = args.size.unwrap_or(policy.crop_size());
    let limit = lrpo_shared::card::MAX_CARD_SIZE as usize;
    if size == 0 || size > limit {
        bail!("--size must be in 1..={limit} px, got {size}");
    }
    // A smooth, face-sized test pattern (content does not change the cost of a conv net).
    let crop = Array3::from_shape_fn((3, size, size), |(c, y, x)| {
        (0.5 + 0.4 * ((x as f32 * 0.05 + c as f32).sin() * (y as f32 * 0.07).cos())).clamp(0.0, 1.0)
    });
    let t = Instant::now();
    policy.restore(&crop.view())?;
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    for _ in 1..args.warmup {
        policy.restore(&crop.view())?;
    }
    let mut v: Vec<f64> = (0..args.runs)
        .map(|_| {
            let t = Instant::now();
            policy
                .restore(&crop.view())
                .map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<lrpo_edge::Result<_>>()?;
    v.sort_by(f64::total_cmp);
    let q = |p: f64| nearest_rank(&v, p);
    let peak = peak_rss_mib();
    let fma = policy.fma_per_run(size)?;
    let kernels = policy.kernels(size)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: {size}x{size}, {} thread(s): median {:.2} ms, p90 {:.2} ms, min {:.2} ms over {} runs; {:.3} GFLOP per run; load {:.0} ms, first run (plan) {:.0} ms; peak RSS {} (before loading {})",
        policy.model_path().display(),
        args.policy.threads,
        q(0.5),
        q(0.9),
        v[0],
        v.len(),
        2.0 * fma as f64 / 1e9,
        load_ms,
        first_ms,
        peak.map_or("n/a".into(), |m| format!("{m:.1} MiB")),
        before.map_or("n/a".into(), |m| format!("{m:.1} MiB")),
    )?;
    writeln!(out, "tract kernels: {}", kernels.join(", "))?;
    Ok(ExitCode::SUCCESS)
}
