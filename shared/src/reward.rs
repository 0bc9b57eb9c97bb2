//! The composite reward that drives LRPO, scores offline evaluations and on-device checks.
//!
//! The paper's reward is `R = 0.3·face + 0.1·CLIPIQA + 0.3·(1 − LPIPS) + 0.3·exp(−15·L1(DTCWT
//! low-pass))`. Here a reward is any weighted sum of named components, read from TOML
//! ([`RewardSpec`]); each component turns a raw metric into a reward with a documented
//! [`Mapping`]:
//!
//! ```toml
//! [[component]]
//! name = "fidelity"        # unique label, used in logs
//! kind = "dtcwt"           # what is measured (see ComponentKind)
//! weight = 0.3
//! mapping = { kind = "exp", scale = 15.0 }   # optional; each kind has a default
//! ```
//!
//! `R = Σ weight_i · reward_i`. Components that need a learned model (`identity`, `onnx-nr`,
//! `onnx-fr`) get it injected as a [`ModelScorer`], so this crate stays free of inference
//! runtimes; the ONNX-backed scorers live behind the `onnx` feature.

use crate::error::{Error, Result};
use crate::metrics;
use ndarray::ArrayView3;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// What a component measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentKind {
    /// Mean |DTCWT low-pass(x̂) − low-pass(GT)| (J = 3); needs GT. Default mapping exp(−15·raw).
    Dtcwt,
    /// PSNR in dB against GT. Default mapping linear 15 dB → 0, 40 dB → 1.
    Psnr,
    /// PSNR on the BT.601 luma. Default mapping as `psnr`.
    PsnrY,
    /// SSIM against GT (mean over RGB). Default mapping: the raw value.
    Ssim,
    /// SSIM on the BT.601 luma. Default mapping: the raw value.
    SsimY,
    /// NIQE, no reference, lower is better; images must exceed 193 px a side. Default
    /// mapping linear 25 → 0, 5 → 1.
    Niqe,
    /// BRISQUE, no reference, lower is better, any size ≥ 4 px. Default mapping linear
    /// 100 → 0, 0 → 1.
    Brisque,
    /// Face-descriptor distance to the reference (GT, or the LQ input with
    /// `reference = "lq"`), from an injected scorer. Default mapping linear 1.0 → 0, 0 → 1.
    Identity,
    /// A user model's no-reference score (higher is better), from an injected scorer.
    /// Default mapping: the raw value.
    OnnxNr,
    /// A user model's full-reference score (higher is better), from an injected scorer.
    /// Default mapping: the raw value.
    OnnxFr,
}

impl ComponentKind {
    /// Whether the kind needs a learned model injected as a [`ModelScorer`].
    pub fn needs_scorer(self) -> bool {
        matches!(
            self,
            ComponentKind::Identity | ComponentKind::OnnxNr | ComponentKind::OnnxFr
        )
    }

    /// Whether the kind compares against a reference image.
    pub fn full_reference(self) -> bool {
        !matches!(
            self,
            ComponentKind::Niqe | ComponentKind::Brisque | ComponentKind::OnnxNr
        )
    }

    /// The mapping used when the spec gives none.
    pub fn default_mapping(self) -> Mapping {
        match self {
            ComponentKind::Dtcwt => Mapping::Exp {
                scale: metrics::dtcwt::REWARD_SCALE,
            },
            ComponentKind::Psnr | ComponentKind::PsnrY => Mapping::Linear {
                worst: 15.0,
                best: 40.0,
            },
            ComponentKind::Niqe => Mapping::Linear {
                worst: 25.0,
                best: 5.0,
            },
            ComponentKind::Brisque => Mapping::Linear {
                worst: 100.0,
                best: 0.0,
            },
            ComponentKind::Identity => Mapping::Linear {
                worst: 1.0,
                best: 0.0,
            },
            ComponentKind::Ssim
            | ComponentKind::SsimY
            | ComponentKind::OnnxNr
            | ComponentKind::OnnxFr => Mapping::Raw,
        }
    }
}

/// Raw metric → reward.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Mapping {
    /// `reward = raw`.
    Raw,
    /// `reward = exp(−scale·raw)`, for distances (LRPO's DTCWT term uses scale 15).
    Exp {
        /// Positive scale.
        scale: f64,
    },
    /// `reward = clamp((raw − worst) / (best − worst), 0, 1)`: 0 at `worst`, 1 at `best`;
    /// `best < worst` for lower-is-better metrics.
    Linear {
        /// Raw value mapped to 0.
        worst: f64,
        /// Raw value mapped to 1.
        best: f64,
    },
}

impl Mapping {
    /// Applies the mapping.
    pub fn apply(&self, raw: f64) -> f64 {
        match *self {
            Mapping::Raw => raw,
            Mapping::Exp { scale } => (-scale * raw).exp(),
            Mapping::Linear { worst, best } => ((raw - worst) / (best - worst)).clamp(0.0, 1.0),
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        match *self {
            Mapping::Raw => Ok(()),
            Mapping::Exp { scale } if scale.is_finite() && scale > 0.0 => Ok(()),
            Mapping::Exp { scale } => Err(format!("exp scale {scale} must be finite and positive")),
            Mapping::Linear { worst, best }
                if worst.is_finite() && best.is_finite() && worst != best =>
            {
                Ok(())
            }
            Mapping::Linear { worst, best } => Err(format!(
                "linear worst {worst} and best {best} must be finite and differ"
            )),
        }
    }
}

/// Which image a full-reference component compares the restoration with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Reference {
    /// The ground-truth HQ image (default).
    #[default]
    Gt,
    /// The LQ input (for settings without GT, e.g. identity to the input).
    Lq,
}

/// One weighted component of a reward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSpec {
    /// Unique label used in logs and breakdowns.
    pub name: String,
    /// What is measured.
    pub kind: ComponentKind,
    /// Weight in the sum (finite; may be 0 to log a metric without rewarding it).
    pub weight: f64,
    /// Raw → reward mapping; `None` means the kind's default.
    #[serde(default)]
    pub mapping: Option<Mapping>,
    /// Reference image for full-reference kinds (default: GT).
    #[serde(default)]
    pub reference: Reference,
    /// Key of the injected scorer for model kinds (default: the component's name).
    #[serde(default)]
    pub model: Option<String>,
    /// Model file for `onnx-nr` / `onnx-fr` (required) and `identity` (default
    /// `models/face_descriptor.onnx`); relative paths are relative to the spec file.
    #[serde(default)]
    pub path: Option<std::path::PathBuf>,
}

impl ComponentSpec {
    /// The mapping in effect.
    pub fn mapping(&self) -> Mapping {
        self.mapping.unwrap_or_else(|| self.kind.default_mapping())
    }

    /// The scorer key for model kinds.
    pub fn model_key(&self) -> &str {
        self.model.as_deref().unwrap_or(&self.name)
    }

    /// Whether evaluating this component needs a ground-truth image.
    pub fn needs_gt(&self) -> bool {
        self.kind.full_reference() && self.reference == Reference::Gt
    }
}

/// A composite reward: `R = Σ weight_i · mapping_i(raw_i)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardSpec {
    /// The components, in the order they are reported.
    #[serde(rename = "component")]
    pub components: Vec<ComponentSpec>,
}

impl RewardSpec {
    /// Parses TOML; `label` names the source in errors.
    pub fn from_toml_str(text: &str, label: &Path) -> Result<Self> {
        let spec: RewardSpec = toml::from_str(text).map_err(|e| Error::Config {
            path: label.to_path_buf(),
            reason: e.to_string(),
        })?;
        spec.validate().map_err(|e| Error::Config {
            path: label.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(spec)
    }

    /// Reads and validates a TOML file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml_str(&text, path)
    }

    /// Checks names are unique and weights and mappings sane.
    pub fn validate(&self) -> Result<()> {
        if self.components.is_empty() {
            return Err(Error::invalid("reward spec", "no [[component]] given"));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.components {
            if !seen.insert(c.name.as_str()) {
                return Err(Error::invalid(
                    "reward spec",
                    format!("component name {:?} is used twice", c.name),
                ));
            }
            if !c.weight.is_finite() {
                return Err(Error::invalid(
                    format!("reward component {:?}", c.name),
                    format!("weight {} is not finite", c.weight),
                ));
            }
            c.mapping()
                .validate()
                .map_err(|r| Error::invalid(format!("reward component {:?}", c.name), r))?;
            if c.reference == Reference::Lq && !c.kind.full_reference() {
                return Err(Error::invalid(
                    format!("reward component {:?}", c.name),
                    "reference = \"lq\" only applies to full-reference kinds",
                ));
            }
        }
        Ok(())
    }

    /// Whether any component needs GT.
    pub fn needs_gt(&self) -> bool {
        self.components.iter().any(ComponentSpec::needs_gt)
    }

    /// `(name, weight)` pairs, for policy cards and logs.
    pub fn summary(&self) -> Vec<(String, f64)> {
        self.components
            .iter()
            .map(|c| (c.name.clone(), c.weight))
            .collect()
    }
}

/// A learned scorer injected into a reward (identity network, user ONNX model, ...).
pub trait ModelScorer: Send + Sync {
    /// The raw score of `restored` (RGB [0, 1]); `reference` is given for full-reference
    /// scorers. Higher or lower is better as the component's mapping says.
    fn score(&self, restored: &ArrayView3<f32>, reference: Option<&ArrayView3<f32>>)
    -> Result<f64>;
    /// Scores several restorations of the same input against one reference (LRPO's group of
    /// candidates). The default calls [`ModelScorer::score`] for each; scorers that can batch,
    /// or reuse work on the reference, override it.
    fn score_batch(
        &self,
        restored: &[ArrayView3<f32>],
        reference: Option<&ArrayView3<f32>>,
    ) -> Result<Vec<f64>> {
        restored.iter().map(|r| self.score(r, reference)).collect()
    }
    /// A short description for logs (model file, input size).
    fn describe(&self) -> String;
}

/// One component's value in a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentValue {
    /// The component's name.
    pub name: String,
    /// Its kind.
    pub kind: ComponentKind,
    /// The metric before mapping.
    pub raw: f64,
    /// The mapped reward.
    pub reward: f64,
    /// The weight.
    pub weight: f64,
}

/// A reward with its per-component breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardBreakdown {
    /// `Σ weight · reward`.
    pub total: f64,
    /// Every component, in spec order.
    pub components: Vec<ComponentValue>,
}

/// A reward ready to evaluate: a validated spec plus the scorers its model components need.
#[derive(Clone)]
pub struct Reward {
    spec: RewardSpec,
    scorers: Vec<Option<Arc<dyn ModelScorer>>>,
}

impl std::fmt::Debug for Reward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reward").field("spec", &self.spec).finish()
    }
}

impl Reward {
    /// Binds a spec to scorers (keyed by [`ComponentSpec::model_key`]). Fails when a model
    /// component has no scorer.
    pub fn new(spec: RewardSpec, scorers: &HashMap<String, Arc<dyn ModelScorer>>) -> Result<Self> {
        spec.validate()?;
        let mut bound = Vec::with_capacity(spec.components.len());
        for c in &spec.components {
            if c.kind.needs_scorer() {
                let s = scorers.get(c.model_key()).ok_or_else(|| {
                    Error::invalid(
                        format!("reward component {:?}", c.name),
                        format!(
                            "kind {:?} needs a model scorer registered as {:?}; none was provided",
                            c.kind,
                            c.model_key()
                        ),
                    )
                })?;
                bound.push(Some(Arc::clone(s)));
            } else {
                bound.push(None);
            }
        }
        Ok(Reward {
            spec,
            scorers: bound,
        })
    }

    /// The spec.
    pub fn spec(&self) -> &RewardSpec {
        &self.spec
    }

    /// Evaluates the reward of `restored` given the LQ input and, when available, the GT.
    /// A component that needs GT fails clearly when `gt` is `None`; a NaN raw value is an error
    /// naming the component.
    pub fn evaluate(
        &self,
        restored: &ArrayView3<f32>,
        gt: Option<&ArrayView3<f32>>,
        lq: &ArrayView3<f32>,
    ) -> Result<RewardBreakdown> {
        Ok(self
            .evaluate_group(std::slice::from_ref(restored), gt, lq)?
            .remove(0))
    }

    /// Evaluates several restorations of the same LQ input (LRPO's group of candidates) with
    /// one GT; model components score the whole group in one batch.
    pub fn evaluate_group(
        &self,
        restored: &[ArrayView3<f32>],
        gt: Option<&ArrayView3<f32>>,
        lq: &ArrayView3<f32>,
    ) -> Result<Vec<RewardBreakdown>> {
        let mut out: Vec<RewardBreakdown> = restored
            .iter()
            .map(|_| RewardBreakdown {
                total: 0.0,
                components: Vec::new(),
            })
            .collect();
        for (c, scorer) in self.spec.components.iter().zip(&self.scorers) {
            let what = || format!("reward component {:?} ({:?})", c.name, c.kind);
            let reference = if c.kind.full_reference() {
                match c.reference {
                    Reference::Gt => Some(gt.ok_or_else(|| {
                        Error::invalid(what(), "needs a ground-truth image, but none was given")
                    })?),
                    Reference::Lq => Some(lq),
                }
            } else {
                None
            };
            let with_ctx = |e: Error| Error::invalid(what(), e.to_string());
            let raws: Vec<f64> = if let Some(s) = scorer {
                let v = s.score_batch(restored, reference).map_err(with_ctx)?;
                if v.len() != restored.len() {
                    return Err(Error::invalid(
                        what(),
                        format!(
                            "scorer returned {} scores for {} images",
                            v.len(),
                            restored.len()
                        ),
                    ));
                }
                v
            } else {
                restored
                    .iter()
                    .map(|r| self.builtin(c.kind, r, reference).map_err(with_ctx))
                    .collect::<Result<_>>()?
            };
            for (b, raw) in out.iter_mut().zip(raws) {
                let reward = c.mapping().apply(raw);
                // +∞ PSNR (identical images) maps to a finite reward; NaN never does.
                if raw.is_nan() || !reward.is_finite() {
                    return Err(Error::invalid(
                        what(),
                        format!("raw value {raw} gives reward {reward}"),
                    ));
                }
                b.total += c.weight * reward;
                b.components.push(ComponentValue {
                    name: c.name.clone(),
                    kind: c.kind,
                    raw,
                    reward,
                    weight: c.weight,
                });
            }
        }
        Ok(out)
    }

    fn builtin(
        &self,
        kind: ComponentKind,
        restored: &ArrayView3<f32>,
        reference: Option<&ArrayView3<f32>>,
    ) -> Result<f64> {
        let r = || reference.expect("full-reference kinds have a reference");
        match kind {
            ComponentKind::Dtcwt => metrics::dtcwt::lowpass_l1(restored, r()),
            ComponentKind::Psnr => metrics::psnr(restored, r()),
            ComponentKind::PsnrY => metrics::psnr_y(restored, r()),
            ComponentKind::Ssim => metrics::ssim::ssim(restored, r()),
            ComponentKind::SsimY => metrics::ssim::ssim_y(restored, r()),
            ComponentKind::Niqe => metrics::niqe::niqe(restored),
            ComponentKind::Brisque => metrics::brisque::brisque(restored),
            ComponentKind::Identity | ComponentKind::OnnxNr | ComponentKind::OnnxFr => {
                unreachable!("model kinds are bound to scorers in Reward::new")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    struct MeanScorer;
    impl ModelScorer for MeanScorer {
        fn score(
            &self,
            restored: &ArrayView3<f32>,
            reference: Option<&ArrayView3<f32>>,
        ) -> Result<f64> {
            let r = reference.expect("full-reference");
            Ok((restored.mean().unwrap() - r.mean().unwrap()).abs() as f64)
        }
        fn describe(&self) -> String {
            "mean difference".into()
        }
    }

    fn images() -> (Array3<f32>, Array3<f32>, Array3<f32>) {
        let gt = Array3::from_shape_fn((3, 32, 32), |(c, y, x)| {
            ((x * 5 + y * 3 + c * 7) % 23) as f32 / 23.0
        });
        let lq = gt.mapv(|v| (v * 0.8 + 0.1).clamp(0.0, 1.0));
        let restored = gt.mapv(|v| (v * 0.95 + 0.02).clamp(0.0, 1.0));
        (gt, lq, restored)
    }

    #[test]
    fn default_config_parses_and_evaluates_with_an_injected_identity_scorer() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/rewards/default.toml");
        let spec = RewardSpec::load(&path).unwrap();
        let total_weight: f64 = spec.components.iter().map(|c| c.weight).sum();
        assert!((total_weight - 1.0).abs() < 1e-12);
        // Without the identity scorer the reward cannot be built.
        let e = Reward::new(spec.clone(), &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("identity") && e.contains("scorer"), "{e}");
        let mut scorers: HashMap<String, Arc<dyn ModelScorer>> = HashMap::new();
        scorers.insert("identity".into(), Arc::new(MeanScorer));
        let reward = Reward::new(spec, &scorers).unwrap();
        let (gt, lq, restored) = images();
        let b = reward
            .evaluate(&restored.view(), Some(&gt.view()), &lq.view())
            .unwrap();
        let sum: f64 = b.components.iter().map(|c| c.weight * c.reward).sum();
        assert!((b.total - sum).abs() < 1e-12);
        let by = |n: &str| b.components.iter().find(|c| c.name == n).unwrap().clone();
        let d = by("fidelity");
        let l1 = metrics::dtcwt::lowpass_l1(&restored.view(), &gt.view()).unwrap();
        assert!((d.raw - l1).abs() < 1e-15 && (d.reward - (-15.0 * l1).exp()).abs() < 1e-12);
        let s = by("structure");
        assert!((s.raw - metrics::ssim::ssim(&restored.view(), &gt.view()).unwrap()).abs() < 1e-15);
        // The restoration beats the LQ input on the reward.
        let b_lq = reward
            .evaluate(&lq.view(), Some(&gt.view()), &lq.view())
            .unwrap();
        assert!(b.total > b_lq.total, "{} vs {}", b.total, b_lq.total);
    }

    #[test]
    fn missing_gt_is_a_clear_error_and_nr_components_need_none() {
        let spec = RewardSpec::from_toml_str(
            "[[component]]\nname = \"q\"\nkind = \"brisque\"\nweight = 1.0\n[[component]]\nname = \"s\"\nkind = \"ssim\"\nweight = 1.0\n",
            Path::new("r.toml"),
        )
        .unwrap();
        assert!(spec.needs_gt());
        let reward = Reward::new(spec, &HashMap::new()).unwrap();
        let (gt, lq, restored) = images();
        let e = reward
            .evaluate(&restored.view(), None, &lq.view())
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"s\"") && e.contains("ground-truth"), "{e}");
        let nr = RewardSpec::from_toml_str(
            "[[component]]\nname = \"q\"\nkind = \"brisque\"\nweight = 2.0\n",
            Path::new("r.toml"),
        )
        .unwrap();
        assert!(!nr.needs_gt());
        let b = Reward::new(nr, &HashMap::new())
            .unwrap()
            .evaluate(&restored.view(), None, &lq.view())
            .unwrap();
        let raw = metrics::brisque::brisque(&restored.view()).unwrap();
        assert!((b.total - 2.0 * ((100.0 - raw) / 100.0).clamp(0.0, 1.0)).abs() < 1e-12);
        let _ = gt;
    }

    #[test]
    fn bad_specs_are_refused_with_the_file_named() {
        let l = Path::new("bad.toml");
        for (text, needle) in [
            (
                "[[component]]\nname = \"a\"\nkind = \"lpips\"\nweight = 1.0\n",
                "lpips",
            ),
            (
                "[[component]]\nname = \"a\"\nkind = \"ssim\"\nweight = 1.0\n[[component]]\nname = \"a\"\nkind = \"psnr\"\nweight = 1.0\n",
                "twice",
            ),
            (
                "[[component]]\nname = \"a\"\nkind = \"dtcwt\"\nweight = 1.0\nmapping = { kind = \"exp\", scale = -1.0 }\n",
                "scale",
            ),
            (
                "[[component]]\nname = \"a\"\nkind = \"niqe\"\nweight = 1.0\nreference = \"lq\"\n",
                "full-reference",
            ),
            ("component = []\n", "no [[component]]"),
        ] {
            let e = RewardSpec::from_toml_str(text, l).unwrap_err().to_string();
            assert!(e.contains("bad.toml") && e.contains(needle), "{e}");
        }
    }

    #[test]
    fn mappings() {
        assert_eq!(
            Mapping::Linear {
                worst: 100.0,
                best: 0.0
            }
            .apply(25.0),
            0.75
        );
        assert_eq!(
            Mapping::Linear {
                worst: 100.0,
                best: 0.0
            }
            .apply(150.0),
            0.0
        );
        assert_eq!(
            Mapping::Linear {
                worst: 15.0,
                best: 40.0
            }
            .apply(f64::INFINITY),
            1.0
        );
        assert!((Mapping::Exp { scale: 15.0 }.apply(0.1) - (-1.5f64).exp()).abs() < 1e-15);
    }
}
