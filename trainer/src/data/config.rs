//! Data settings (`[data]`, `[data.augment]`).

use crate::error::{Result, ensure_config};
use serde::{Deserialize, Serialize};

/// Data settings (`[data]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Square training resolution in pixels; a multiple of the model's downsampling. Default 64.
    pub resolution: usize,
    /// Degradation preset: `lrpo`, `gfpgan` or `codeformer`. Default `lrpo`.
    pub preset: String,
    /// File names (without folders) held out for validation. When empty, the last `val_count`
    /// images in name order are held out. Not used for a folder with a manifest (its
    /// validation split is).
    pub holdout: Vec<String>,
    /// Held-out images when `holdout` is empty. Default 2. Not used with a manifest.
    pub val_count: usize,
    /// Augmentation.
    pub augment: AugmentConfig,
    /// Batches the background loader prepares ahead. Default 4.
    pub prefetch: usize,
}

impl DataConfig {
    /// Checks the section: resolution in 8..=1024, a known preset and the augmentation
    /// ranges.
    pub fn validate(&self) -> Result<()> {
        ensure_config!(
            (8..=1024).contains(&self.resolution),
            "data.resolution must be in 8..=1024, found {}",
            self.resolution
        );
        lrpo_shared::degrade::DegradePreset::by_name(&self.preset)?;
        self.augment.validate()
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            resolution: 64,
            preset: "lrpo".into(),
            holdout: vec![],
            val_count: 2,
            augment: AugmentConfig::default(),
            prefetch: 4,
        }
    }
}

/// Augmentation settings (`[data.augment]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Random horizontal flips. Default true.
    pub flip: bool,
    /// Largest relative scale change (e.g. 0.1 = ±10 %). Default 0.1.
    pub scale: f64,
    /// Largest rotation in degrees (about the crop centre). Default 10.
    pub rotate: f64,
    /// Largest shift as a fraction of the side. Default 0.03.
    pub shift: f64,
    /// Largest relative brightness/contrast/saturation change. Default 0.05.
    pub color: f64,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            flip: true,
            scale: 0.1,
            rotate: 10.0,
            shift: 0.03,
            color: 0.05,
        }
    }
}

impl AugmentConfig {
    /// No augmentation at all.
    pub fn none() -> Self {
        AugmentConfig {
            flip: false,
            scale: 0.0,
            rotate: 0.0,
            shift: 0.0,
            color: 0.0,
        }
    }

    /// Checks the ranges: scale in [0, 0.5), rotation in [0, 45]°, shift in [0, 0.25], colour
    /// in [0, 0.5].
    pub fn validate(&self) -> Result<()> {
        ensure_config!(
            (0.0..0.5).contains(&self.scale),
            "data.augment.scale must be in [0, 0.5), found {}",
            self.scale
        );
        ensure_config!(
            (0.0..=45.0).contains(&self.rotate),
            "data.augment.rotate must be in [0, 45] degrees, found {}",
            self.rotate
        );
        ensure_config!(
            (0.0..=0.25).contains(&self.shift),
            "data.augment.shift must be in [0, 0.25], found {}",
            self.shift
        );
        ensure_config!(
            (0.0..=0.5).contains(&self.color),
            "data.augment.color must be in [0, 0.5], found {}",
            self.color
        );
        Ok(())
    }
}
