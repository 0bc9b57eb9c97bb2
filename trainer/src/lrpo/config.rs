//! LRPO settings (`[rl]`). Every default is the paper's / DESIGN §4's value or, where the paper
//! is silent, the reference code's (`train_lrpo.py`, `configs/train/train_lrpo.yaml`: AdamW
//! β 0.9/0.999, ε 1e-8, weight decay 0.01 (PyTorch's AdamW default), mini-batches of 6
//! shuffled candidates, each trained over its steps in order, one update per (mini-batch,
//! step), gradient-norm clip 1.0); configurations for the small CPU policies override some of
//! them, with a comment saying why.

use crate::error::{Result, ensure_config};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which target the GT-guided likelihood term uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GtTarget {
    /// The GT noised to the previous timestep's marginal: `sqrt(ᾱ_prev)·x_GT + sqrt(1−ᾱ_prev)·ε`
    /// with fresh ε (default).
    CleanMarginal,
    /// The reference code's variant: the GT noised cumulatively, the noise of each trained step
    /// applied on top of the previous one's (over-noises it).
    Cumulative,
    /// No GT term.
    Off,
}

/// How noise-level weights are assigned to the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepWeights {
    /// `w_j = σ_j / mean σ` (default).
    Sigma,
    /// `w_j = 1`.
    Uniform,
}

/// Which standard deviation normalises the advantages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdvantageStd {
    /// The std over all rewards of the iteration (default).
    Global,
    /// Each group's own std.
    Group,
}

/// How gradient updates are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateMode {
    /// One optimiser update per (mini-batch, step), as the reference does (default).
    PerStep,
    /// Gradients accumulated over all trained steps of a mini-batch, then one update per
    /// mini-batch.
    Accumulate,
}

/// A control arm for experiments: what the rewards the advantages are computed from are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RewardControl {
    /// The candidates' own rewards (LRPO; default).
    None,
    /// The iteration's rewards permuted at random across its candidates before the advantages
    /// are computed: the same distribution of updates, decoupled from what was sampled. A
    /// policy that improves under it improves for reasons other than the reward.
    Shuffled,
}

/// LRPO settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RlConfig {
    /// Iterations. Default 100.
    pub iterations: u64,
    /// HQ faces (groups) per iteration, M. Default 2.
    pub groups: usize,
    /// Candidates per LQ, G. Default 9.
    pub group_size: usize,
    /// DDIM steps of a rollout, K. Default 50.
    pub ddim_steps: usize,
    /// DDIM η of rollouts (their only randomness). Default 1.
    pub eta: f64,
    /// PPO ratio clip ε. Default 1e-4 (small because log-probs are per-element means).
    pub clip_eps: f64,
    /// Advantage clip after the noise-level weighting. Default 5.
    pub adv_clip: f64,
    /// Fraction of the K steps trained (the first ⌊fraction·K⌋). Default 0.99.
    pub timestep_fraction: f64,
    /// GT term target. Default `clean-marginal`.
    pub gt_target: GtTarget,
    /// The GT term is applied on this many last trained steps. Default 5.
    pub gt_steps: usize,
    /// GT term temperature τ. Default 40.
    pub gt_temperature: f64,
    /// GT term weight λ. Default 0.001.
    pub gt_weight: f64,
    /// Step weights. Default `sigma`.
    pub step_weights: StepWeights,
    /// Advantage normalisation. Default `global`.
    pub advantage_std: AdvantageStd,
    /// KL penalty to the frozen initial policy, β. Default 0 (none).
    pub kl_beta: f64,
    /// AdamW learning rate. Default 1e-6.
    pub lr: f64,
    /// AdamW weight decay (decoupled). Default 0.01, as the reference's PyTorch AdamW.
    pub weight_decay: f64,
    /// AdamW ε. Default 1e-8, as the reference's (burn's own default is 1e-5, which damps
    /// updates at the gradient norms LRPO sees, ~0.07).
    pub adam_eps: f64,
    /// Global gradient-norm clip. Default 1.0.
    pub grad_clip: f64,
    /// Update grouping. Default `per-step`.
    pub update: UpdateMode,
    /// Candidates per mini-batch, drawn from a fresh permutation of the iteration's candidates
    /// (0 = all M·G at once). Default 6, the reference's `batch_size`.
    pub minibatch: usize,
    /// Reward specification (TOML), relative to the working folder. Default
    /// `configs/rewards/default.toml`.
    pub reward: PathBuf,
    /// Identity model for `identity` reward components. Default `models/face_descriptor.onnx`.
    pub identity_model: PathBuf,
    /// Seed of the iterations' draws (faces, degradations, noise). Default 0.
    pub seed: u64,
    /// Checkpoint every N iterations (and at the end). Default 10.
    pub checkpoint_every: u64,
    /// Iterations whose checkpoints are written and kept (the three newest are kept anyway),
    /// e.g. `[5, 20]` for an ablation that compares with iteration 5. Default none.
    pub keep_steps: Vec<u64>,
    /// Write a sample grid (LQ | candidates | GT) every N iterations (0 = never). Default 10.
    pub grid_every: u64,
    /// Warn when the reward std falls below this fraction of the first iteration's. Default 0.1.
    pub collapse_ratio: f64,
    /// Control arm (experiments only). Default `none`.
    pub control: RewardControl,
    /// Score the policy on the fixed validation faces every N iterations, and before the first
    /// (0 = never): the same faces, degradations and sampling noise each time, so the curve
    /// shows the policy, not the draws. Default 0.
    pub val_every: u64,
    /// Validation faces for `val_every` (the first of the validation split). Default 4.
    pub val_faces: usize,
}

impl Default for RlConfig {
    fn default() -> Self {
        RlConfig {
            iterations: 100,
            groups: 2,
            group_size: 9,
            ddim_steps: 50,
            eta: 1.0,
            clip_eps: 1e-4,
            adv_clip: 5.0,
            timestep_fraction: 0.99,
            gt_target: GtTarget::CleanMarginal,
            gt_steps: 5,
            gt_temperature: 40.0,
            gt_weight: 0.001,
            step_weights: StepWeights::Sigma,
            advantage_std: AdvantageStd::Global,
            kl_beta: 0.0,
            lr: 1e-6,
            weight_decay: 0.01,
            adam_eps: 1e-8,
            grad_clip: 1.0,
            update: UpdateMode::PerStep,
            minibatch: 6,
            reward: PathBuf::from("configs/rewards/default.toml"),
            identity_model: PathBuf::from("models/face_descriptor.onnx"),
            seed: 0,
            checkpoint_every: 10,
            keep_steps: vec![],
            grid_every: 10,
            collapse_ratio: 0.1,
            control: RewardControl::None,
            val_every: 0,
            val_faces: 4,
        }
    }
}

impl RlConfig {
    /// Number of trained steps: ⌊fraction·K⌋ (at least 1).
    pub fn trained_steps(&self) -> usize {
        ((self.timestep_fraction * self.ddim_steps as f64).floor() as usize)
            .clamp(1, self.ddim_steps)
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        ensure_config!(
            self.groups > 0 && self.group_size >= 2,
            "rl: groups must be >= 1 and group_size >= 2"
        );
        ensure_config!(
            self.ddim_steps > 0 && self.eta > 0.0,
            "rl: ddim_steps must be >= 1 and eta > 0 (rollouts need stochastic steps)"
        );
        ensure_config!(
            self.clip_eps > 0.0 && self.adv_clip > 0.0 && self.gt_temperature > 0.0,
            "rl: clip_eps, adv_clip and gt_temperature must be positive"
        );
        ensure_config!(
            self.timestep_fraction > 0.0 && self.timestep_fraction <= 1.0,
            "rl: timestep_fraction must be in (0, 1]"
        );
        ensure_config!(
            self.lr >= 0.0 && self.kl_beta >= 0.0 && self.gt_weight >= 0.0,
            "rl: lr, kl_beta and gt_weight must be >= 0"
        );
        ensure_config!(
            self.checkpoint_every > 0,
            "rl: checkpoint_every must be positive"
        );
        ensure_config!(
            self.val_every == 0 || self.val_faces > 0,
            "rl.val_faces must be at least 1 when rl.val_every is on"
        );
        ensure_config!(
            self.weight_decay >= 0.0 && self.adam_eps > 0.0 && self.adam_eps < 1.0,
            "rl: weight_decay must be >= 0 and adam_eps in (0, 1), found {} and {}",
            self.weight_decay,
            self.adam_eps
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimiser_and_batching_defaults_are_the_reference_codes() {
        // configs/train/train_lrpo.yaml: batch_size 6, max_grad_norm 1.0, clip_range 1e-4,
        // adv_clip_max 5, timestep_fraction 0.99, sample_steps 50, learning_rate 1e-6;
        // torch.optim.AdamW defaults: eps 1e-8, weight_decay 0.01.
        let c = RlConfig::default();
        assert_eq!(c.minibatch, 6);
        assert_eq!(c.grad_clip, 1.0);
        assert_eq!(c.clip_eps, 1e-4);
        assert_eq!(c.adv_clip, 5.0);
        assert_eq!(c.timestep_fraction, 0.99);
        assert_eq!(c.ddim_steps, 50);
        assert_eq!(c.lr, 1e-6);
        assert_eq!(c.adam_eps, 1e-8);
        assert_eq!(c.weight_decay, 0.01);
        assert_eq!(c.update, UpdateMode::PerStep);
        assert_eq!(c.trained_steps(), 49);
        let bad = RlConfig {
            adam_eps: 0.0,
            ..RlConfig::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("adam_eps"));
    }
}
