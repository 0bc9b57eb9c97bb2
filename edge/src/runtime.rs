//! The restoration policy at run time: an ONNX model plus its policy card, validated against
//! each other when loaded, restoring aligned face crops.

use crate::error::{Error, Result};
use lrpo_shared::card::{ModelKind, PolicyCard, SamplingSpec, ValueRange};
use lrpo_shared::image::{check_rgb, from_model_range, to_model_range};
use lrpo_shared::onnx::OnnxModel;
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::NoiseSchedule;
use ndarray::{Array1, Array3, ArrayView3, Axis};
use std::path::{Path, PathBuf};

/// A loaded restoration policy.
#[derive(Debug)]
pub struct Policy {
    model: OnnxModel,
    card: PolicyCard,
    card_path: PathBuf,
    /// DDIM plan for ε-models.
    sampling: Option<Sampler>,
}

/// The K-step sampler of an ε-model.
#[derive(Debug)]
struct Sampler {
    schedule: NoiseSchedule,
    steps: usize,
    eta: f64,
    clip_x0: bool,
    seed: u64,
}

/// Options of the K-step sampler used for ε-models.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SamplerOptions {
    /// DDIM steps (default: the card's).
    pub steps: Option<usize>,
    /// DDIM η (default: the card's).
    pub eta: Option<f64>,
    /// Seed of the initial noise and of the η-noise.
    pub seed: u64,
}

impl Policy {
    /// Loads `model` and the card next to it (`model.card`), and checks they agree.
    pub fn load(model: &Path, sampler: SamplerOptions) -> Result<Self> {
        let card_path = PolicyCard::path_for_model(model);
        if !model.exists() {
            return Err(Error::ModelNotFound {
                path: model.to_path_buf(),
            });
        }
        let card = PolicyCard::load(&card_path).map_err(|error| Error::MissingCard {
            model: model.to_path_buf(),
            error,
        })?;
        let onnx = OnnxModel::load(model)?;
        let policy = Policy {
            sampling: None,
            model: onnx,
            card,
            card_path,
        };
        lrpo_shared::onnx::check_card(&policy.card, &policy.model).map_err(|e| {
            Error::CardMismatch {
                model: model.to_path_buf(),
                card: policy.card_path.clone(),
                reason: e.to_string(),
            }
        })?;
        let sampling = match (&policy.card.kind, &policy.card.sampling) {
            (
                ModelKind::Epsilon,
                Some(SamplingSpec {
                    schedule,
                    steps,
                    eta,
                    clip_x0,
                }),
            ) => {
                let schedule = NoiseSchedule::new(schedule.clone())?;
                let steps = sampler.steps.unwrap_or(*steps as usize);
                let eta = sampler.eta.unwrap_or(*eta as f64);
                schedule.ddim_steps(steps, eta)?;
                Some(Sampler {
                    schedule,
                    steps,
                    eta,
                    clip_x0: *clip_x0,
                    seed: sampler.seed,
                })
            }
            (ModelKind::Epsilon, None) => {
                return Err(Error::CardMismatch {
                    model: model.to_path_buf(),
                    card: policy.card_path.clone(),
                    reason: "an ε-model card needs a sampling section".into(),
                });
            }
            _ => None,
        };
        Ok(Policy { sampling, ..policy })
    }

    fn bad_output(&self, reason: impl Into<String>) -> Error {
        Error::BadOutput {
            model: self.model.path().to_path_buf(),
            reason: reason.into(),
        }
    }

    /// The card.
    pub fn card(&self) -> &PolicyCard {
        &self.card
    }

    /// The model file.
    pub fn model_path(&self) -> &Path {
        self.model.path()
    }

    /// Side of the aligned crop the policy restores.
    pub fn crop_size(&self) -> usize {
        self.card.input.size as usize
    }

    /// Multiply-accumulates of one network run on a `side × side` crop (tract's count; an
    /// ε-model runs this once per sampling step).
    pub fn fma_per_run(&self, side: usize) -> Result<u64> {
        Ok(self.model.fma_count(&self.input_shapes(side))?)
    }

    /// The network's input shapes for one `side × side` crop (`t` is a scalar per image).
    fn input_shapes(&self, side: usize) -> Vec<Vec<usize>> {
        let img = vec![1, 3, side, side];
        self.model
            .input_names()
            .iter()
            .map(|n| if n == "t" { vec![1] } else { img.clone() })
            .collect()
    }

    /// The matrix-multiplication kernels tract's plan for a `side × side` crop uses (e.g.
    /// `avx512_mmm_f32_16x12`, `arm64simd_mmm_i32_8x8`), each once, in plan order: which
    /// kernels a CPU gets decides whether int8 pays on it.
    pub fn kernels(&self, side: usize) -> Result<Vec<String>> {
        let mut found: Vec<String> = Vec::new();
        for line in self.model.plan_summary(&self.input_shapes(side))? {
            let mut rest = line.as_str();
            while let Some(at) = rest.find("with [") {
                rest = &rest[at + 6..];
                let Some(end) = rest.find(']') else { break };
                for k in rest[..end]
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                {
                    if !found.iter().any(|f| f == k) {
                        found.push(k.to_string());
                    }
                }
                rest = &rest[end..];
            }
        }
        Ok(found)
    }

    /// Builds (and caches) tract's plan for a crop side, so the first face is not slowed down.
    pub fn warm_up(&self, side: usize) -> Result<()> {
        let img = Array3::<f32>::from_elem((3, side, side), 0.5);
        self.restore(&img.view())?;
        Ok(())
    }

    /// Restores an aligned face crop `[3, S, S]`, RGB [0, 1]; returns the same shape, clamped
    /// to [0, 1]. ε-models draw their noise from sub-stream 0 of the sampler seed.
    pub fn restore(&self, crop: &ArrayView3<f32>) -> Result<Array3<f32>> {
        self.restore_stream(crop, 0)
    }

    /// [`Policy::restore`] with the sampler noise of ε-models drawn from sub-stream `stream` of
    /// the seed, so that every crop of a test set (or every face of a frame) gets its own noise.
    /// One-step models ignore it.
    pub fn restore_stream(&self, crop: &ArrayView3<f32>, stream: u64) -> Result<Array3<f32>> {
        let (h, w) = check_rgb(crop, "face crop")?;
        if !(self.card.accepts_size(h as u32) && self.card.accepts_size(w as u32)) {
            return Err(Error::input(
                "face crop",
                format!(
                    "a {w}x{h} crop does not fit this policy (card: size {}, multiple of {})",
                    self.card.input.size, self.card.input.multiple_of
                ),
            ));
        }
        let to_model = |x: &ArrayView3<f32>| match self.card.input.value_range {
            ValueRange::ZeroOne => x.to_owned(),
            ValueRange::MinusOneOne => to_model_range(x),
        };
        let from_model = |x: &ArrayView3<f32>| match self.card.input.value_range {
            ValueRange::ZeroOne => x.to_owned(),
            ValueRange::MinusOneOne => from_model_range(x),
        };
        let out = match self.card.kind {
            ModelKind::OneStep => {
                let x = to_model(crop).insert_axis(Axis(0)).into_dyn();
                let y = self.model.run(&[x.view()])?.remove(0);
                if y.shape() != x.shape() {
                    return Err(self.bad_output(format!(
                        "output shape {:?}, expected {:?}",
                        y.shape(),
                        x.shape()
                    )));
                }
                let y = y
                    .index_axis_move(Axis(0), 0)
                    .into_dimensionality::<ndarray::Ix3>()?;
                from_model(&y.view())
            }
            ModelKind::Epsilon => self.sample(crop, stream, &to_model, &from_model)?,
        };
        if out.iter().any(|v| !v.is_finite()) {
            return Err(self.bad_output("the policy produced NaN or infinite values"));
        }
        Ok(out.mapv(|v| v.clamp(0.0, 1.0)))
    }

    /// K-step DDIM sampling of an ε-model conditioned on the crop.
    fn sample(
        &self,
        crop: &ArrayView3<f32>,
        stream: u64,
        to_model: &dyn Fn(&ArrayView3<f32>) -> Array3<f32>,
        from_model: &dyn Fn(&ArrayView3<f32>) -> Array3<f32>,
    ) -> Result<Array3<f32>> {
        let sampler = self
            .sampling
            .as_ref()
            .expect("ε-models have a sampling plan");
        let steps = sampler.schedule.ddim_steps(sampler.steps, sampler.eta)?;
        let lq = to_model(crop).insert_axis(Axis(0)).into_dyn();
        let shape = lq.shape().to_vec();
        let n: usize = shape.iter().product();
        let mut rng = Rng::derive(sampler.seed, stream);
        let mut x = vec![0.0f32; n];
        rng.fill_normal(&mut x);
        let mut z = vec![0.0f32; n];
        for step in &steps {
            let xt = ndarray::ArrayD::from_shape_vec(shape.clone(), x.clone())?;
            let t = Array1::from_elem(1, step.t as f32).into_dyn();
            let eps = self.model.run(&[xt.view(), t.view(), lq.view()])?.remove(0);
            if eps.len() != n {
                return Err(
                    self.bad_output(format!("ε output has {} values, expected {n}", eps.len()))
                );
            }
            if step.std_dev_t > 0.0 {
                rng.fill_normal(&mut z);
            }
            step.step(
                &mut x,
                eps.as_slice().expect("contiguous"),
                &z,
                sampler.clip_x0,
            );
        }
        let x = Array3::from_shape_vec((shape[1], shape[2], shape[3]), x)?;
        Ok(from_model(&x.view()))
    }
}
