//! ONNX-backed reward scorers, and building every scorer a [`RewardSpec`] needs.

use crate::error::{Error, Result};
use crate::image::check_rgb;
use crate::onnx::OnnxModel;
use crate::onnx::identity::IdentityScorer;
use crate::reward::{ComponentKind, ModelScorer, RewardSpec};
use ndarray::ArrayView3;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A user-supplied ONNX image-quality model.
///
/// Interface: `onnx-nr` models take one input `[1, 3, H, W]` (RGB in [0, 1], the image being
/// scored); `onnx-fr` models take two (the image, then its reference). The output must hold
/// exactly one value, the score (higher is better unless the component's mapping says
/// otherwise).
#[derive(Debug)]
pub struct OnnxImageScorer {
    model: OnnxModel,
    full_reference: bool,
}

impl OnnxImageScorer {
    /// Loads a model and checks its input count.
    pub fn load(path: &Path, full_reference: bool) -> Result<Self> {
        let model = OnnxModel::load(path)?;
        let want = if full_reference { 2 } else { 1 };
        if model.input_names().len() != want || model.output_names().is_empty() {
            return Err(Error::Onnx {
                path: path.to_path_buf(),
                reason: format!(
                    "an {} scorer needs {want} image input(s) and a scalar output; the model has inputs {:?} and outputs {:?}",
                    if full_reference { "onnx-fr" } else { "onnx-nr" },
                    model.input_names(),
                    model.output_names()
                ),
            });
        }
        Ok(OnnxImageScorer {
            model,
            full_reference,
        })
    }
}

impl ModelScorer for OnnxImageScorer {
    fn score(
        &self,
        restored: &ArrayView3<f32>,
        reference: Option<&ArrayView3<f32>>,
    ) -> Result<f64> {
        check_rgb(restored, "image to score")?;
        let mut inputs = vec![restored.to_owned().insert_axis(ndarray::Axis(0)).into_dyn()];
        if self.full_reference {
            let r = reference
                .ok_or_else(|| Error::invalid("onnx-fr scorer", "needs a reference image"))?;
            inputs.push(r.to_owned().insert_axis(ndarray::Axis(0)).into_dyn());
        }
        let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();
        let out = self.model.run(&views)?;
        if out[0].len() != 1 {
            return Err(Error::Onnx {
                path: self.model.path().to_path_buf(),
                reason: format!(
                    "output has shape {:?}, expected a single value",
                    out[0].shape()
                ),
            });
        }
        Ok(out[0].iter().next().copied().unwrap_or(f32::NAN) as f64)
    }

    fn describe(&self) -> String {
        format!(
            "{} ({})",
            if self.full_reference {
                "onnx-fr"
            } else {
                "onnx-nr"
            },
            self.model.path().display()
        )
    }
}

/// Loads the scorer of every model component of `spec`, keyed as the components expect
/// ([`crate::reward::ComponentSpec::model_key`]). Relative `path`s are resolved against
/// `spec_dir`; `identity` components without a path use `default_identity`. Components that
/// share a key share one scorer.
pub fn scorers_for(
    spec: &RewardSpec,
    spec_dir: &Path,
    default_identity: &Path,
) -> Result<HashMap<String, Arc<dyn ModelScorer>>> {
    let mut out: HashMap<String, Arc<dyn ModelScorer>> = HashMap::new();
    for c in &spec.components {
        if !c.kind.needs_scorer() || out.contains_key(c.model_key()) {
            continue;
        }
        let resolve = |p: &PathBuf| {
            if p.is_absolute() {
                p.clone()
            } else {
                spec_dir.join(p)
            }
        };
        let scorer: Arc<dyn ModelScorer> = match c.kind {
            ComponentKind::Identity => {
                let p = c
                    .path
                    .as_ref()
                    .map(resolve)
                    .unwrap_or_else(|| default_identity.to_path_buf());
                Arc::new(IdentityScorer::load(&p)?)
            }
            ComponentKind::OnnxNr | ComponentKind::OnnxFr => {
                let p = c.path.as_ref().map(resolve).ok_or_else(|| {
                    Error::invalid(
                        format!("reward component {:?}", c.name),
                        "an onnx-nr/onnx-fr component needs `path = \"model.onnx\"`",
                    )
                })?;
                Arc::new(OnnxImageScorer::load(&p, c.kind == ComponentKind::OnnxFr)?)
            }
            _ => unreachable!("only model kinds need scorers"),
        };
        out.insert(c.model_key().to_string(), scorer);
    }
    Ok(out)
}
