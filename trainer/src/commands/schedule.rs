//! `lrpo-train schedule`: print the DDIM sampling plan and LRPO's noise-level weights.

use anyhow::Result;
use clap::Args;
use lrpo_shared::schedule::{NoiseSchedule, noise_level_weights, step_std_devs};
use std::io::Write;

/// Arguments of `lrpo-train schedule`.
#[derive(Args, Debug)]
pub struct ScheduleArgs {
    /// DDIM steps K.
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// DDIM η (1 = the stochasticity LRPO's rollouts use).
    #[arg(long, default_value_t = 1.0)]
    pub eta: f64,
}

/// Prints one line per DDIM step of the default (Stable Diffusion) schedule.
pub fn run(args: &ScheduleArgs, out: &mut dyn Write) -> Result<()> {
    let schedule = NoiseSchedule::stable_diffusion();
    let plan = schedule.ddim_steps(args.steps, args.eta)?;
    let w = noise_level_weights(&step_std_devs(&plan));
    writeln!(
        out,
        "{:>4} {:>5} {:>6} {:>10} {:>10} {:>8} {:>7}",
        "j", "t", "t_prev", "ᾱ_t", "ᾱ_prev", "σ_t", "w_j"
    )?;
    for (j, (s, w)) in plan.iter().zip(&w).enumerate() {
        writeln!(
            out,
            "{j:>4} {:>5} {:>6} {:>10.6} {:>10.6} {:>8.4} {:>7.4}",
            s.t, s.t_prev, s.alpha_prod_t, s.alpha_prod_t_prev, s.std_dev_t, w
        )?;
    }
    Ok(())
}
