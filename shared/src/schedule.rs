//! Diffusion noise schedule and the DDIM sampler's step coefficients (DDPM: Ho et al., 2020;
//! DDIM: Song et al., 2021), with the conventions of Stable Diffusion / diffusers' `DDIMScheduler`
//! (`steps_offset = 1`, `set_alpha_to_one = false`, "leading" timestep spacing), which the LRPO
//! reference implementation samples with.
//!
//! Names follow the papers: `alpha_prod_t` is ᾱ_t, `beta_prod_t = 1 − ᾱ_t`, `std_dev_t` is
//! DDIM's σ_t(η). One DDIM step from `t` to the previous sampled timestep (DESIGN §4):
//!
//! ```text
//! x̂0 = (x_t − sqrt(1−ᾱ_t)·ε̂) / sqrt(ᾱ_t)
//! σ_t = η · sqrt((1−ᾱ_prev)/(1−ᾱ_t) · (1 − ᾱ_t/ᾱ_prev))
//! μ   = sqrt(ᾱ_prev)·x̂0 + sqrt(1 − ᾱ_prev − σ_t²)·ε̂
//! x_prev = μ + σ_t·z,   z ~ N(0, I)
//! ```

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// How the per-step variances β_t are laid out over the training steps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BetaSchedule {
    /// Stable Diffusion's "scaled linear": `β_t = (sqrt(start) + t/(T−1)·(sqrt(end) − sqrt(start)))²`.
    /// SD uses start 0.00085, end 0.012.
    ScaledLinear {
        /// β at t = 0.
        start: f64,
        /// β at t = T − 1.
        end: f64,
    },
    /// DDPM's linear betas from `start` to `end` (Ho et al.: 1e-4 to 0.02).
    Linear {
        /// β at t = 0.
        start: f64,
        /// β at t = T − 1.
        end: f64,
    },
    /// Nichol & Dhariwal's cosine schedule: `ᾱ(t) = f(t)/f(0)`, `f(t) = cos²((t/T + s)/(1 + s)·π/2)`,
    /// β clipped at 0.999.
    Cosine {
        /// Offset `s` (0.008 in the paper).
        s: f64,
    },
}

impl Default for BetaSchedule {
    fn default() -> Self {
        BetaSchedule::ScaledLinear {
            start: 0.00085,
            end: 0.012,
        }
    }
}

/// The training-time noise schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Number of training timesteps T. Default 1000.
    pub train_steps: usize,
    /// β layout. Default: SD's scaled linear, 0.00085 → 0.012.
    pub betas: BetaSchedule,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            train_steps: 1000,
            betas: BetaSchedule::default(),
        }
    }
}

/// β_t and ᾱ_t for t = 0 … T−1, computed in f64.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    /// The configuration it was built from.
    pub config: ScheduleConfig,
    /// β_t.
    pub betas: Vec<f64>,
    /// ᾱ_t = Π_{s ≤ t} (1 − β_s).
    pub alphas_cumprod: Vec<f64>,
}

impl NoiseSchedule {
    /// Builds the schedule; fails on a non-positive step count or β outside (0, 1).
    pub fn new(config: ScheduleConfig) -> Result<Self> {
        let n = config.train_steps;
        if n < 2 {
            return Err(Error::invalid(
                "schedule.train_steps",
                format!("{n} (need at least 2)"),
            ));
        }
        let lin = |a: f64, b: f64| (0..n).map(move |i| a + (b - a) * i as f64 / (n - 1) as f64);
        let betas: Vec<f64> = match config.betas {
            BetaSchedule::ScaledLinear { start, end } => {
                lin(start.sqrt(), end.sqrt()).map(|v| v * v).collect()
            }
            BetaSchedule::Linear { start, end } => lin(start, end).collect(),
            BetaSchedule::Cosine { s } => {
                let f = |t: f64| {
                    ((t / n as f64 + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2)
                        .cos()
                        .powi(2)
                };
                (0..n)
                    .map(|i| (1.0 - f(i as f64 + 1.0) / f(i as f64)).min(0.999))
                    .collect()
            }
        };
        if let Some((i, b)) = betas
            .iter()
            .enumerate()
            .find(|(_, b)| !(**b > 0.0 && **b < 1.0))
        {
            return Err(Error::invalid(
                "schedule betas",
                format!("β_{i} = {b} is outside (0, 1)"),
            ));
        }
        let mut alphas_cumprod = Vec::with_capacity(n);
        let mut acc = 1.0;
        for b in &betas {
            acc *= 1.0 - b;
            alphas_cumprod.push(acc);
        }
        Ok(NoiseSchedule {
            config,
            betas,
            alphas_cumprod,
        })
    }

    /// Stable Diffusion's schedule (T = 1000, scaled linear 0.00085 → 0.012).
    pub fn stable_diffusion() -> Self {
        Self::new(ScheduleConfig::default()).expect("the default schedule is valid")
    }

    /// Number of training timesteps T.
    pub fn train_steps(&self) -> usize {
        self.betas.len()
    }

    /// ᾱ_t.
    pub fn alpha_prod(&self, t: usize) -> f64 {
        self.alphas_cumprod[t]
    }

    /// `(sqrt(ᾱ_t), sqrt(1 − ᾱ_t))`: the forward process `x_t = sqrt(ᾱ_t)·x0 + sqrt(1−ᾱ_t)·ε`.
    pub fn q_sample_coefs(&self, t: usize) -> (f64, f64) {
        let a = self.alphas_cumprod[t];
        (a.sqrt(), (1.0 - a).sqrt())
    }

    /// The K sampled timesteps, largest first: `t_k = 1 + k·⌊T/K⌋` for k = K−1 … 0
    /// (diffusers' "leading" spacing with `steps_offset = 1`). K must be in 1..=T.
    pub fn ddim_timesteps(&self, k: usize) -> Result<Vec<usize>> {
        let t = self.train_steps();
        if k == 0 || k > t {
            return Err(Error::invalid(
                "DDIM steps",
                format!("{k} (must be in 1..={t})"),
            ));
        }
        let ratio = t / k;
        Ok((0..k).rev().map(|i| (1 + i * ratio).min(t - 1)).collect())
    }

    /// The K DDIM steps with their coefficients for stochasticity `eta` (0 = deterministic
    /// DDIM, 1 = DDPM-like ancestral variance), in sampling order.
    pub fn ddim_steps(&self, k: usize, eta: f64) -> Result<Vec<DdimStep>> {
        if !(eta.is_finite() && eta >= 0.0) {
            return Err(Error::invalid(
                "DDIM eta",
                format!("{eta} (must be finite and >= 0)"),
            ));
        }
        let ratio = self.train_steps() / k.max(1);
        let steps = self.ddim_timesteps(k)?;
        Ok(steps
            .iter()
            .map(|&t| {
                let prev = t as isize - ratio as isize;
                // set_alpha_to_one = false: the last step goes to ᾱ at t = 0.
                let alpha_prod_t_prev = if prev >= 0 {
                    self.alphas_cumprod[prev as usize]
                } else {
                    self.alphas_cumprod[0]
                };
                DdimStep::new(
                    t,
                    prev.max(0) as usize,
                    self.alphas_cumprod[t],
                    alpha_prod_t_prev,
                    eta,
                )
            })
            .collect())
    }
}

/// One DDIM step's coefficients (`t` → `t_prev`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DdimStep {
    /// The current timestep t.
    pub t: usize,
    /// The previous timestep (0 for the last step).
    pub t_prev: usize,
    /// ᾱ_t.
    pub alpha_prod_t: f64,
    /// ᾱ_prev.
    pub alpha_prod_t_prev: f64,
    /// σ_t(η) = η·sqrt((1−ᾱ_prev)/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_prev)).
    pub std_dev_t: f64,
}

impl DdimStep {
    /// Computes σ_t for the given ᾱ values and η.
    pub fn new(
        t: usize,
        t_prev: usize,
        alpha_prod_t: f64,
        alpha_prod_t_prev: f64,
        eta: f64,
    ) -> Self {
        let beta_prod_t = 1.0 - alpha_prod_t;
        let beta_prod_t_prev = 1.0 - alpha_prod_t_prev;
        let variance = (beta_prod_t_prev / beta_prod_t) * (1.0 - alpha_prod_t / alpha_prod_t_prev);
        DdimStep {
            t,
            t_prev,
            alpha_prod_t,
            alpha_prod_t_prev,
            std_dev_t: eta * variance.max(0.0).sqrt(),
        }
    }

    /// `(a, b)` with `x̂0 = a·x_t + b·ε̂`: `a = 1/sqrt(ᾱ_t)`, `b = −sqrt(1−ᾱ_t)/sqrt(ᾱ_t)`.
    pub fn pred_x0_coefs(&self) -> (f64, f64) {
        let s = self.alpha_prod_t.sqrt();
        (1.0 / s, -(1.0 - self.alpha_prod_t).sqrt() / s)
    }

    /// The coefficient of ε̂ in μ: `sqrt(1 − ᾱ_prev − σ_t²)` (clamped at 0).
    pub fn dir_coef(&self) -> f64 {
        (1.0 - self.alpha_prod_t_prev - self.std_dev_t * self.std_dev_t)
            .max(0.0)
            .sqrt()
    }

    /// μ for flat buffers. With `clip_x0`, x̂0 is clamped to [−1, 1] before μ is formed
    /// (`μ = sqrt(ᾱ_prev)·clamp(x̂0) + dir_coef·ε̂`, diffusers' `clip_sample`), which keeps
    /// pixel-space sampling stable when ε̂ is poor at high noise; without it
    /// `mu[i] = c_x·x_t[i] + c_eps·eps[i]`.
    pub fn mean(&self, x_t: &[f32], eps: &[f32], mu: &mut [f32], clip_x0: bool) {
        let (a, b) = self.pred_x0_coefs();
        let (sp, d) = (self.alpha_prod_t_prev.sqrt(), self.dir_coef());
        for ((m, &x), &e) in mu.iter_mut().zip(x_t).zip(eps) {
            let mut x0 = a * x as f64 + b * e as f64;
            if clip_x0 {
                x0 = x0.clamp(-1.0, 1.0);
            }
            *m = (sp * x0 + d * e as f64) as f32;
        }
    }

    /// x̂0 for flat buffers.
    pub fn pred_x0(&self, x_t: &[f32], eps: &[f32], x0: &mut [f32]) {
        let (a, b) = self.pred_x0_coefs();
        for ((o, &x), &e) in x0.iter_mut().zip(x_t).zip(eps) {
            *o = (a * x as f64 + b * e as f64) as f32;
        }
    }

    /// One full step in place: `x ← μ(x, ε̂) + σ_t·z` (see [`DdimStep::mean`] for `clip_x0`).
    /// `z` may be empty when σ_t = 0.
    pub fn step(&self, x: &mut [f32], eps: &[f32], z: &[f32], clip_x0: bool) {
        let mut mu = vec![0.0f32; x.len()];
        self.mean(x, eps, &mut mu, clip_x0);
        let s = self.std_dev_t;
        for (i, v) in x.iter_mut().enumerate() {
            *v = if s > 0.0 {
                (mu[i] as f64 + s * z[i] as f64) as f32
            } else {
                mu[i]
            };
        }
    }
}

/// `σ_t` of each step (sampling order).
pub fn step_std_devs(steps: &[DdimStep]) -> Vec<f64> {
    steps.iter().map(|s| s.std_dev_t).collect()
}

/// LRPO's noise-level advantage weights `w_j = σ_j / mean_k σ_k` (DESIGN §4, step 5): they
/// average 1 over the K steps and give the early, noisy steps more of the advantage. Returns
/// all ones when every σ is 0 (η = 0).
pub fn noise_level_weights(sigmas: &[f64]) -> Vec<f64> {
    let mean = sigmas.iter().sum::<f64>() / sigmas.len().max(1) as f64;
    if mean <= 0.0 {
        return vec![1.0; sigmas.len()];
    }
    sigmas.iter().map(|s| s / mean).collect()
}

/// Mean over all elements of `log N(x; μ, σ²)`: the per-element-mean log-probability LRPO uses
/// for a DDIM transition (DESIGN §4). σ must be positive.
pub fn gaussian_log_prob_mean(x: &[f32], mu: &[f32], sigma: f64) -> f64 {
    let n = x.len().max(1) as f64;
    let inv = 1.0 / (2.0 * sigma * sigma);
    let log_norm = sigma.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln();
    let sq: f64 = x
        .iter()
        .zip(mu)
        .map(|(&a, &b)| {
            let d = a as f64 - b as f64;
            d * d
        })
        .sum();
    -sq * inv / n - log_norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd_schedule_matches_design_reference_values() {
        let s = NoiseSchedule::stable_diffusion();
        assert!((s.betas[0] - 0.00085).abs() < 1e-12);
        assert!((s.betas[999] - 0.012).abs() < 1e-12);
        // diffusers: alphas_cumprod[999] of SD's schedule = 0.0046.
        assert!(
            (s.alphas_cumprod[999] - 0.004660).abs() < 1e-5,
            "{}",
            s.alphas_cumprod[999]
        );
        let ts = s.ddim_timesteps(50).unwrap();
        assert_eq!(ts[0], 981);
        assert_eq!(ts[1], 961);
        assert_eq!(*ts.last().unwrap(), 1);
        let steps = s.ddim_steps(50, 1.0).unwrap();
        let sig = step_std_devs(&steps);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-4;
        assert!(close(sig[0], 0.4545), "σ_0 {}", sig[0]);
        assert!(close(sig[1], 0.4483), "σ_1 {}", sig[1]);
        assert!(close(sig[48], 0.0395), "σ_48 {}", sig[48]);
        assert!(close(sig[49], 0.0206), "σ_49 {}", sig[49]);
        let mean = sig.iter().sum::<f64>() / 50.0;
        assert!((mean - 0.28356).abs() < 1e-5, "mean σ {mean}");
        let w = noise_level_weights(&sig);
        assert!(close(w[0], 1.6027), "w_0 {}", w[0]);
        assert!(close(w[1], 1.5809), "w_1 {}", w[1]);
        assert!(close(w[47], 0.3523), "w_47 {}", w[47]);
        assert!(close(w[48], 0.1392), "w_48 {}", w[48]);
        assert!(close(w[49], 0.0728), "w_49 {}", w[49]);
        assert!((w.iter().sum::<f64>() / 50.0 - 1.0).abs() < 1e-12);
        // The last step goes to ᾱ at t = 0, not 1.
        assert_eq!(steps[49].alpha_prod_t_prev, s.alphas_cumprod[0]);
    }

    #[test]
    fn ddim_step_is_consistent_with_its_equations() {
        let s = NoiseSchedule::stable_diffusion();
        let step = s.ddim_steps(10, 0.0).unwrap()[3];
        assert_eq!(step.std_dev_t, 0.0);
        // With the true ε, deterministic DDIM maps x_t = sqrt(ᾱ_t)x0 + sqrt(1−ᾱ_t)ε to
        // x_prev = sqrt(ᾱ_prev)x0 + sqrt(1−ᾱ_prev)ε exactly.
        let x0 = [0.3f32, -0.7, 0.9];
        let eps = [1.1f32, -0.4, 0.05];
        let (a, b) = s.q_sample_coefs(step.t);
        let mut x: Vec<f32> = x0
            .iter()
            .zip(&eps)
            .map(|(&x, &e)| (a * x as f64 + b * e as f64) as f32)
            .collect();
        let mut rec = vec![0.0; 3];
        step.pred_x0(&x, &eps, &mut rec);
        for i in 0..3 {
            assert!((rec[i] - x0[i]).abs() < 1e-5);
        }
        step.step(&mut x, &eps, &[], false);
        let (ap, bp) = (
            step.alpha_prod_t_prev.sqrt(),
            (1.0 - step.alpha_prod_t_prev).sqrt(),
        );
        for i in 0..3 {
            let want = ap * x0[i] as f64 + bp * eps[i] as f64;
            assert!((x[i] as f64 - want).abs() < 1e-5);
        }
    }

    #[test]
    fn clipping_bounds_the_predicted_clean_image() {
        let s = NoiseSchedule::stable_diffusion();
        let step = s.ddim_steps(10, 0.0).unwrap()[0];
        // An ε̂ that implies a wildly out-of-range x̂0.
        let (x, e) = ([0.0f32], [-5.0f32]);
        let (mut free, mut clipped) = ([0.0f32], [0.0f32]);
        step.mean(&x, &e, &mut free, false);
        step.mean(&x, &e, &mut clipped, true);
        let (a, b) = step.pred_x0_coefs();
        let want_free =
            step.alpha_prod_t_prev.sqrt() * (a * 0.0 + b * -5.0) + step.dir_coef() * -5.0;
        let want_clip = step.alpha_prod_t_prev.sqrt() * 1.0 + step.dir_coef() * -5.0;
        assert!(
            (free[0] as f64 - want_free).abs() < 1e-4
                && (clipped[0] as f64 - want_clip).abs() < 1e-5
        );
    }

    #[test]
    fn linear_and_cosine_schedules() {
        let lin = NoiseSchedule::new(ScheduleConfig {
            train_steps: 1000,
            betas: BetaSchedule::Linear {
                start: 1e-4,
                end: 0.02,
            },
        })
        .unwrap();
        // DDPM's linear schedule: ᾱ_999 ≈ 4.04e-5.
        assert!(
            (lin.alphas_cumprod[999] - 4.036e-5).abs() < 1e-7,
            "{}",
            lin.alphas_cumprod[999]
        );
        let cos = NoiseSchedule::new(ScheduleConfig {
            train_steps: 1000,
            betas: BetaSchedule::Cosine { s: 0.008 },
        })
        .unwrap();
        // ᾱ follows f(t)/f(0) closely before the 0.999 clip bites.
        let f = |t: f64| {
            ((t / 1000.0 + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2)
                .cos()
                .powi(2)
        };
        assert!((cos.alphas_cumprod[499] - f(500.0) / f(0.0)).abs() < 1e-9);
        assert!(
            NoiseSchedule::new(ScheduleConfig {
                train_steps: 1,
                ..Default::default()
            })
            .is_err()
        );
        assert!(lin.ddim_timesteps(0).is_err());
        assert!(lin.ddim_timesteps(1001).is_err());
    }

    #[test]
    fn gaussian_log_prob_closed_form() {
        // log N(1; 0, 2²) = −1/8 − ln 2 − ½ ln 2π.
        let lp = gaussian_log_prob_mean(&[1.0, -1.0], &[0.0, 0.0], 2.0);
        let want = -0.125 - 2f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
        assert!((lp - want).abs() < 1e-12);
    }
}
