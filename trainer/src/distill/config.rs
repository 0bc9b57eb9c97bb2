//! Distillation settings (`[distill]`).

use crate::error::{Result, ensure_config};
use lrpo_shared::onnx::student::StudentSpec;
use serde::{Deserialize, Serialize};

/// Distillation settings (`[distill]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillConfig {
    /// The student's size. Default: 16, 32, 64 channels, one residual block (1.66 GFLOP per
    /// 256 × 256 face).
    pub student: StudentSpec,
    /// Training pairs restored by the teacher. Default 256.
    pub pool: usize,
    /// Teacher DDIM steps. Default: `[sampling] steps`.
    pub teacher_steps: Option<usize>,
    /// Teacher DDIM η. Default: `[sampling] eta`. (η 0 gives the teacher's deterministic
    /// sample, one target per input; η > 0 a sample of its distribution.)
    pub teacher_eta: Option<f64>,
    /// Seed of the teacher's sampling noise. Default 0.
    pub teacher_seed: u64,
    /// Teacher samples computed per batch. Default 16.
    pub teacher_batch: usize,
    /// Optimiser steps. Default 2000.
    pub steps: u64,
    /// Pairs per step. Default 16.
    pub batch_size: usize,
    /// Peak learning rate (AdamW). Default 1e-3.
    pub lr: f64,
    /// Warm-up steps. Default 50.
    pub warmup_steps: u64,
    /// Final learning rate as a fraction of the peak. Default 0.05.
    pub min_lr_ratio: f64,
    /// Global gradient-norm clip (0 = off). Default 1.0.
    pub grad_clip: f64,
    /// Weight of L1 to the teacher's output. Default 1.
    pub w_teacher: f64,
    /// Weight of L1 to the ground truth. Default 0.
    pub w_gt: f64,
    /// Weight of 1 − SSIM to the teacher's output. Default 0.
    pub w_ssim: f64,
    /// Ground-truth term on fresh pairs drawn every step (else on the pool's pairs). Default
    /// true.
    pub fresh_gt: bool,
    /// Share of the fresh pairs whose input is the clean face itself, in [0, 1). Default 0.1.
    pub clean_fraction: f64,
    /// Seed (pool, order, student initialisation). Default 0.
    pub seed: u64,
    /// Checkpoint every N steps. Default 200.
    pub checkpoint_every: u64,
    /// Steps whose checkpoints are written and kept (the three newest are kept anyway).
    /// Default none.
    pub keep_steps: Vec<u64>,
    /// Log every N steps. Default 20.
    pub log_every: u64,
}

impl DistillConfig {
    /// Checks values that TOML types cannot; every message names the `[distill]` key.
    pub fn validate(&self) -> Result<()> {
        for (key, v) in [
            ("pool", self.pool as u64),
            ("teacher_batch", self.teacher_batch as u64),
            ("steps", self.steps),
            ("batch_size", self.batch_size as u64),
            ("checkpoint_every", self.checkpoint_every),
            ("log_every", self.log_every),
        ] {
            ensure_config!(v > 0, "distill.{key} must be at least 1, found {v}");
        }
        ensure_config!(
            self.teacher_steps != Some(0),
            "distill.teacher_steps must be at least 1, found 0"
        );
        if let Some(e) = self.teacher_eta {
            ensure_config!(
                (0.0..=1.0).contains(&e),
                "distill.teacher_eta must be in [0, 1], found {e}"
            );
        }
        ensure_config!(
            self.lr.is_finite() && self.lr >= 0.0,
            "distill.lr must be a finite number >= 0, found {}",
            self.lr
        );
        ensure_config!(
            (0.0..=1.0).contains(&self.min_lr_ratio) && self.grad_clip >= 0.0,
            "distill.min_lr_ratio must be in [0, 1] and grad_clip >= 0, found {} and {}",
            self.min_lr_ratio,
            self.grad_clip
        );
        for (key, w) in [
            ("w_teacher", self.w_teacher),
            ("w_gt", self.w_gt),
            ("w_ssim", self.w_ssim),
        ] {
            ensure_config!(
                w.is_finite() && w >= 0.0,
                "distill.{key} must be a finite weight >= 0, found {w}"
            );
        }
        ensure_config!(
            (0.0..1.0).contains(&self.clean_fraction),
            "distill.clean_fraction must be in [0, 1), found {}",
            self.clean_fraction
        );
        ensure_config!(
            self.w_teacher + self.w_gt + self.w_ssim > 0.0,
            "distill: w_teacher, w_gt and w_ssim are all 0, so there is nothing to learn"
        );
        Ok(())
    }

    /// Whether the loss has a teacher term (else the student is trained on the ground truth
    /// alone and no teacher is needed).
    pub fn uses_teacher(&self) -> bool {
        self.w_teacher > 0.0 || self.w_ssim > 0.0
    }
}

impl Default for DistillConfig {
    fn default() -> Self {
        DistillConfig {
            student: StudentSpec::default(),
            pool: 256,
            teacher_steps: None,
            teacher_eta: None,
            teacher_seed: 0,
            teacher_batch: 16,
            steps: 2000,
            batch_size: 16,
            lr: 1e-3,
            warmup_steps: 50,
            min_lr_ratio: 0.05,
            grad_clip: 1.0,
            w_teacher: 1.0,
            w_gt: 0.0,
            w_ssim: 0.0,
            fresh_gt: true,
            clean_fraction: 0.1,
            seed: 0,
            checkpoint_every: 200,
            keep_steps: vec![],
            log_every: 20,
        }
    }
}
