//! The run configuration: one TOML file for every stage (`[model]`, `[schedule]`, `[data]`,
//! `[pretrain]`, and the later stages' sections). Every field has a default and a doc comment;
//! each command writes the fully resolved configuration next to its outputs.

use crate::data::config::DataConfig;
use crate::error::{Context, Error, Result, ensure_config};
use crate::model::unet::UNetConfig;
use lrpo_shared::schedule::ScheduleConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Supervised pretraining settings (`[pretrain]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PretrainConfig {
    /// Optimiser steps. Default 200.
    pub steps: u64,
    /// Images per step. Default 8.
    pub batch_size: usize,
    /// Peak learning rate (AdamW). Default 2e-4.
    pub lr: f64,
    /// Linear warm-up steps. Default 20.
    pub warmup_steps: u64,
    /// Final learning rate of the cosine decay, as a fraction of the peak. Default 0.1.
    pub min_lr_ratio: f64,
    /// AdamW decoupled weight decay. Default 0.
    pub weight_decay: f64,
    /// Global gradient-norm clip (0 = off). Default 1.0.
    pub grad_clip: f64,
    /// EMA decay of the weights used for validation and sampling. Default 0.995.
    pub ema_decay: f64,
    /// Master seed (weights, data order, degradations, noise). Default 0.
    pub seed: u64,
    /// Write a checkpoint every N steps (and at the end). Default 100.
    pub checkpoint_every: u64,
    /// Checkpoints kept (0 = all). Default 3.
    pub keep_checkpoints: usize,
    /// Steps whose checkpoints are written and kept whatever `keep_checkpoints` says. Default
    /// none.
    pub keep_steps: Vec<u64>,
    /// Validate every N steps (0 = only at the end). Default 0.
    pub validate_every: u64,
    /// DDIM steps for validation samples. Default: `[sampling] steps`.
    pub val_steps: Option<usize>,
    /// DDIM η for validation samples. Default: `[sampling] eta`.
    pub val_eta: Option<f64>,
    /// Log the mean training loss every N steps. Default 10.
    pub log_every: u64,
}

impl PretrainConfig {
    /// Checks the section: positive sizes and periods, rates and decays in range.
    pub fn validate(&self) -> Result<()> {
        for (key, v) in [
            ("steps", self.steps),
            ("checkpoint_every", self.checkpoint_every),
            ("log_every", self.log_every),
            ("batch_size", self.batch_size as u64),
        ] {
            ensure_config!(v > 0, "pretrain.{key} must be at least 1, found {v}");
        }
        ensure_config!(
            self.lr.is_finite() && self.lr >= 0.0,
            "pretrain.lr must be a finite number >= 0, found {}",
            self.lr
        );
        ensure_config!(
            (0.0..1.0).contains(&self.ema_decay),
            "pretrain.ema_decay must be in [0, 1), found {}",
            self.ema_decay
        );
        ensure_config!(
            (0.0..=1.0).contains(&self.min_lr_ratio),
            "pretrain.min_lr_ratio must be in [0, 1], found {}",
            self.min_lr_ratio
        );
        ensure_config!(
            self.grad_clip >= 0.0 && self.weight_decay >= 0.0,
            "pretrain.grad_clip and weight_decay must be >= 0, found {} and {}",
            self.grad_clip,
            self.weight_decay
        );
        ensure_config!(
            self.val_steps != Some(0),
            "pretrain.val_steps must be at least 1"
        );
        if let Some(e) = self.val_eta {
            ensure_config!(
                (0.0..=1.0).contains(&e),
                "pretrain.val_eta must be in [0, 1], found {e}"
            );
        }
        Ok(())
    }
}

impl Default for PretrainConfig {
    fn default() -> Self {
        PretrainConfig {
            steps: 200,
            batch_size: 8,
            lr: 2e-4,
            warmup_steps: 20,
            min_lr_ratio: 0.1,
            weight_decay: 0.0,
            grad_clip: 1.0,
            ema_decay: 0.995,
            seed: 0,
            checkpoint_every: 100,
            keep_checkpoints: 3,
            keep_steps: vec![],
            validate_every: 0,
            val_steps: None,
            val_eta: None,
            log_every: 10,
        }
    }
}

/// How the policy is sampled (`[sampling]`): the one default of DDIM steps and η that
/// validation, `sample`, `evaluate`, the teacher's labelling of the distillation pool and the
/// exported card use unless their own setting says otherwise. (LRPO rollouts are not inference:
/// they sample with `[rl] eta`, 1, as DESIGN §4 says.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingConfig {
    /// Clamp the predicted clean image x̂0 to [−1, 1] at every DDIM step. Pixel-space policies
    /// need it early in training, when ε̂ at high noise is poor and x̂0 = (x_t − …)/sqrt(ᾱ_t)
    /// amplifies its errors (the paper's latent-space policy does not clip). Default true.
    pub clip_x0: bool,
    /// DDIM steps K. Default 50 (the paper's).
    pub steps: usize,
    /// DDIM η in [0, 1]. Default 0.8, the teacher's inference η (DESIGN §5).
    pub eta: f64,
}

impl SamplingConfig {
    /// Checks the section: at least one step, η in [0, 1].
    pub fn validate(&self) -> Result<()> {
        ensure_config!(
            self.steps > 0 && (0.0..=1.0).contains(&self.eta),
            "sampling: steps must be >= 1 and eta in [0, 1], found {} and {}",
            self.steps,
            self.eta
        );
        Ok(())
    }
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            clip_x0: true,
            steps: 50,
            eta: 0.8,
        }
    }
}

/// Everything a run is configured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// The diffusion policy's network.
    pub model: UNetConfig,
    /// The noise schedule (shared with the edge).
    pub schedule: ScheduleConfig,
    /// Training data.
    pub data: DataConfig,
    /// Supervised pretraining.
    pub pretrain: PretrainConfig,
    /// DDIM sampling details.
    pub sampling: SamplingConfig,
    /// LRPO post-training.
    pub rl: crate::lrpo::config::RlConfig,
    /// Distillation into the one-step student.
    pub distill: crate::distill::config::DistillConfig,
    /// The `pipeline` command's settings.
    pub pipeline: crate::pipeline::config::PipelineConfig,
}

impl RunConfig {
    /// Reads a TOML file (missing fields take their defaults) and checks it.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(path, "cannot read the config", e))?;
        let cfg: RunConfig =
            toml::from_str(&text).map_err(|e| Error::format(path, format!("bad config: {e}")))?;
        cfg.validate()
            .with_context(|| format!("{}: invalid config", path.display()))?;
        Ok(cfg)
    }

    /// Checks values that TOML types cannot: each section by itself, then what sections must
    /// agree on.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        lrpo_shared::schedule::NoiseSchedule::new(self.schedule.clone())?;
        self.data.validate()?;
        let m = self.model.size_multiple();
        ensure_config!(
            self.data.resolution.is_multiple_of(m),
            "data.resolution {} must be a multiple of {m} (the model's downsampling)",
            self.data.resolution
        );
        self.pretrain.validate()?;
        self.sampling.validate()?;
        self.rl.validate()?;
        self.distill.validate()?;
        self.pipeline.validate()?;
        Ok(())
    }

    /// DDIM steps and η of pretraining's validation samples (`[pretrain] val_*`, else
    /// `[sampling]`).
    pub fn val_sampling(&self) -> (usize, f64) {
        (
            self.pretrain.val_steps.unwrap_or(self.sampling.steps),
            self.pretrain.val_eta.unwrap_or(self.sampling.eta),
        )
    }

    /// DDIM steps and η with which the teacher labels the distillation pool (`[distill]
    /// teacher_*`, else `[sampling]`).
    pub fn teacher_sampling(&self) -> (usize, f64) {
        (
            self.distill.teacher_steps.unwrap_or(self.sampling.steps),
            self.distill.teacher_eta.unwrap_or(self.sampling.eta),
        )
    }

    /// Writes the resolved configuration (every default filled in) atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = format!(
            "# Resolved configuration (every default filled in), written by lrpo-train.\n{}",
            toml::to_string_pretty(self)
                .map_err(|e| Error::format(path, format!("cannot write the config: {e}")))?
        );
        lrpo_shared::fsio::write_atomic(path, text.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(toml_text: &str) -> String {
        let cfg: RunConfig = toml::from_str(toml_text).unwrap();
        format!("{:#}", cfg.validate().unwrap_err())
    }

    #[test]
    fn shipped_configs_are_valid() {
        // Every run configuration under configs/ (the reward files have their own format).
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        let mut checked = Vec::new();
        for dir in ["", "experiments", "ablations"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = entry.unwrap().path();
                if p.extension().is_none_or(|e| e != "toml") {
                    continue;
                }
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                let c = RunConfig::load(&p).unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
                if name.starts_with("student") {
                    // Trained on the ground truth alone: `distill` needs no teacher for them.
                    assert!(!c.distill.uses_teacher(), "{name}");
                    assert!(
                        c.distill.fresh_gt && c.distill.clean_fraction > 0.0,
                        "{name}"
                    );
                }
                checked.push(name);
            }
        }
        for name in ["tiny", "cpu", "default", "gpu", "student-128", "lrpo-128"] {
            assert!(checked.iter().any(|c| c == name), "{name} not found");
        }
    }

    #[test]
    fn values_that_used_to_crash_are_refused_by_key() {
        // Each of these divided by zero, indexed out of bounds or aborted on allocation.
        assert!(err("[distill]\npool = 0").contains("distill.pool"));
        assert!(err("[distill]\nbatch_size = 0").contains("distill.batch_size"));
        assert!(err("[distill]\nteacher_batch = 0").contains("distill.teacher_batch"));
        assert!(err("[model]\nbase_channels = 100000").contains("base_channels"));
        assert!(err("[data.augment]\nrotate = 360.0").contains("rotate"));
        assert!(err("[distill]\nteacher_eta = 2.0").contains("teacher_eta"));
    }

    #[test]
    fn each_section_refuses_its_own_bad_values_by_key() {
        assert!(err("[pretrain]\nsteps = 0").contains("pretrain.steps"));
        assert!(err("[pretrain]\nmin_lr_ratio = 2.0").contains("pretrain.min_lr_ratio"));
        assert!(err("[sampling]\neta = 1.5").contains("sampling"));
        assert!(err("[data]\nresolution = 4").contains("data.resolution"));
        assert!(err("[data]\npreset = \"nope\"").contains("nope"));
        assert!(err("[pipeline]\nname = \"../x\"").contains("pipeline.name"));
        assert!(err("[pipeline]\nsft_name = \"lrpo_student\"").contains("must differ"));
    }

    #[test]
    fn a_bad_config_file_is_an_error_of_its_kind_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("lrpo-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.toml");
        std::fs::write(&p, "[distill]\npool = 0\n").unwrap();
        let e = RunConfig::load(&p).unwrap_err();
        assert!(matches!(e.root(), Error::Config { .. }), "{e:?}");
        assert!(e.to_string().contains("c.toml") && e.to_string().contains("distill.pool"));
        std::fs::write(&p, "[distill]\npool = \"many\"\n").unwrap();
        assert!(matches!(RunConfig::load(&p), Err(Error::Format { .. })));
        let e = RunConfig::load(&dir.join("none.toml")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("none.toml"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
