//! The policy card: what a deployed restoration model is and how to feed it.
//!
//! Every exported ONNX model ships with a card sidecar (`NAME.card`), written by the trainer
//! and checked by the edge runtime before a frame is processed. On disk a card is
//!
//! ```text
//! b"LRPOCARD" | format version (u16, little-endian) | postcard(PolicyCard)
//! ```
//!
//! so that a wrong file, a card from a newer format or a truncated copy gives a clear error
//! instead of garbage fields.

use crate::error::{Error, Result};
use crate::schedule::ScheduleConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Largest crop size a card may declare (px): a face crop larger than this is not a face crop,
/// and its buffers (and a conv net's run over it) would not fit a camera board.
pub const MAX_CARD_SIZE: u32 = 1024;
/// Most DDIM steps a card may declare for an ε-model.
pub const MAX_CARD_STEPS: u32 = 1000;

/// The 8 magic bytes every card starts with.
pub const CARD_MAGIC: [u8; 8] = *b"LRPOCARD";
/// The card format this build writes. Version 2 added [`PolicyCard::graph_sha256`]; version 1
/// cards are still read (with an empty hash, which the runtime refuses: re-export the model).
pub const CARD_FORMAT_VERSION: u16 = 2;

/// What the network computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelKind {
    /// One forward pass from the LQ face to the restored face (the distilled student).
    /// Inputs: `lq`. Output: `restored`.
    OneStep,
    /// The diffusion policy's noise predictor ε_θ(x_t, t, lq). Inputs: `x_t`, `t` (f32 timestep
    /// per batch item), `lq`. Output: `eps`. Sampled with the card's schedule.
    Epsilon,
}

/// The numeric range of image tensors at the model's input and output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueRange {
    /// [0, 1].
    ZeroOne,
    /// [−1, 1] (`x = 2·img − 1`).
    MinusOneOne,
}

/// Tensor layout of image inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    /// Batch, channel (RGB), height, width.
    Nchw,
}

/// How the model's image tensors look.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Side of the square aligned face crop in pixels the model was trained at (e.g. 128):
    /// the smallest side the edge restores a face at.
    pub size: u32,
    /// Any other side must be a multiple of this (the network's total downsampling); 0 means
    /// only `size` is accepted. A one-step model with `multiple_of > 0` is fully convolutional:
    /// the edge restores each face at its own resolution, from `size` up to
    /// `lrpo_edge::pipeline::MAX_CROP_SIDE` (512) px, instead of shrinking it to `size`.
    pub multiple_of: u32,
    /// Channels (3 = RGB).
    pub channels: u32,
    /// Tensor layout.
    pub layout: Layout,
    /// Value range of image inputs and outputs.
    pub value_range: ValueRange,
    /// ONNX input names in order.
    pub input_names: Vec<String>,
    /// ONNX output name.
    pub output_name: String,
}

/// Numeric format of the weights and activations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Quantization {
    /// 32-bit float everywhere.
    F32,
    /// Post-training int8: QuantizeLinear → QLinearConv → DequantizeLinear chains.
    Int8 {
        /// Weights quantised per output channel (else per tensor), symmetric.
        per_channel: bool,
        /// Number of calibration images the activation scales came from.
        calibration_images: u32,
    },
}

/// Sampling settings for [`ModelKind::Epsilon`] models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingSpec {
    /// The training noise schedule.
    pub schedule: ScheduleConfig,
    /// Recommended DDIM steps K.
    pub steps: u32,
    /// Recommended DDIM η.
    pub eta: f32,
    /// Clamp the predicted clean image x̂0 to [−1, 1] at every step (pixel-space policies).
    pub clip_x0: bool,
}

/// Where the model came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Provenance {
    /// Training run folder name.
    pub run: String,
    /// Stages it went through, in order (e.g. `pretrain`, `lrpo`, `distill`, `export`).
    pub stages: Vec<String>,
    /// Optimiser steps or iterations per stage, same order as `stages`.
    pub steps: Vec<u64>,
    /// Training data description (folder, image count).
    pub data: String,
    /// Master seed.
    pub seed: u64,
    /// Creation time, seconds since the Unix epoch.
    pub created_unix: u64,
    /// Version of the tool that wrote the card.
    pub tool_version: String,
}

/// Everything the edge needs to know about a deployed policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyCard {
    /// Model name (file stem).
    pub name: String,
    /// What the network computes.
    pub kind: ModelKind,
    /// Image tensor description.
    pub input: InputSpec,
    /// Present for ε-models: how to sample them.
    pub sampling: Option<SamplingSpec>,
    /// Weight/activation format.
    pub quantization: Quantization,
    /// The reward it was post-trained with: `(component, weight)` pairs (empty if none).
    pub reward: Vec<(String, f64)>,
    /// Training provenance.
    pub provenance: Provenance,
    /// SHA-256 (lowercase hex) of the ONNX graph this card describes: the model's `GraphProto`
    /// as protobuf bytes (nodes, weights, inputs and outputs; not the file's metadata, where a
    /// copy of the card is embedded). Ties the card to its model: a swapped card or an altered
    /// weight is refused at load. Empty in version-1 cards.
    pub graph_sha256: String,
}

/// The fields of a version-1 card (no graph hash), for reading old cards.
#[derive(Deserialize)]
struct PolicyCardV1 {
    name: String,
    kind: ModelKind,
    input: InputSpec,
    sampling: Option<SamplingSpec>,
    quantization: Quantization,
    reward: Vec<(String, f64)>,
    provenance: Provenance,
}

impl From<PolicyCardV1> for PolicyCard {
    fn from(c: PolicyCardV1) -> Self {
        PolicyCard {
            name: c.name,
            kind: c.kind,
            input: c.input,
            sampling: c.sampling,
            quantization: c.quantization,
            reward: c.reward,
            provenance: c.provenance,
            graph_sha256: String::new(),
        }
    }
}

impl PolicyCard {
    /// Serialises to the on-disk format (magic, version, postcard body).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = CARD_MAGIC.to_vec();
        out.extend_from_slice(&CARD_FORMAT_VERSION.to_le_bytes());
        let body = postcard::to_allocvec(self).map_err(|e| Error::Card {
            path: "<memory>".into(),
            reason: format!("cannot encode: {e}"),
        })?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Parses the on-disk format; `label` names the source in errors.
    pub fn from_bytes(bytes: &[u8], label: &Path) -> Result<Self> {
        let err = |reason: String| Error::Card {
            path: label.to_path_buf(),
            reason,
        };
        let header = CARD_MAGIC.len() + 2;
        if bytes.len() < header {
            return Err(err(format!(
                "truncated: {} bytes, the header alone is {header}",
                bytes.len()
            )));
        }
        if bytes[..8] != CARD_MAGIC {
            return Err(err(format!(
                "not a policy card: starts with {:02x?}, expected \"LRPOCARD\"",
                &bytes[..8]
            )));
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        let body_err = |e: postcard::Error| match e {
            postcard::Error::DeserializeUnexpectedEnd => err(format!(
                "truncated: the body ends early ({} bytes)",
                bytes.len()
            )),
            other => err(format!("corrupt body: {other}")),
        };
        let (card, rest) = match version {
            CARD_FORMAT_VERSION => {
                postcard::take_from_bytes::<PolicyCard>(&bytes[header..]).map_err(body_err)?
            }
            1 => {
                let (c, rest) = postcard::take_from_bytes::<PolicyCardV1>(&bytes[header..])
                    .map_err(body_err)?;
                (PolicyCard::from(c), rest)
            }
            _ => {
                return Err(err(format!(
                    "card format version {version}, this build reads versions 1 and {CARD_FORMAT_VERSION}"
                )));
            }
        };
        if !rest.is_empty() {
            return Err(err(format!(
                "{} unexpected bytes after the card",
                rest.len()
            )));
        }
        Ok(card)
    }

    /// Writes the card atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fsio::write_atomic(path, &self.to_bytes()?)
    }

    /// Reads a card file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_bytes(&crate::fsio::read(path)?, path)
    }

    /// The card's path for a model file: `model.onnx` → `model.card`.
    pub fn path_for_model(model: &Path) -> std::path::PathBuf {
        model.with_extension("card")
    }

    /// Checks that an image side is accepted by the model.
    pub fn accepts_size(&self, side: u32) -> bool {
        side == self.input.size
            || (self.input.multiple_of > 0
                && side > 0
                && side.is_multiple_of(self.input.multiple_of))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> PolicyCard {
        PolicyCard {
            name: "student_int8".into(),
            kind: ModelKind::OneStep,
            input: InputSpec {
                size: 256,
                multiple_of: 8,
                channels: 3,
                layout: Layout::Nchw,
                value_range: ValueRange::ZeroOne,
                input_names: vec!["lq".into()],
                output_name: "restored".into(),
            },
            sampling: Some(SamplingSpec {
                schedule: ScheduleConfig::default(),
                steps: 50,
                eta: 0.8,
                clip_x0: true,
            }),
            quantization: Quantization::Int8 {
                per_channel: true,
                calibration_images: 32,
            },
            reward: vec![("dtcwt".into(), 0.3), ("ssim".into(), 0.3)],
            provenance: Provenance {
                run: "runs/default".into(),
                stages: vec!["pretrain".into(), "lrpo".into()],
                steps: vec![2000, 100],
                data: "data/faces (9 images)".into(),
                seed: 7,
                created_unix: 1_800_000_000,
                tool_version: "0.1.0".into(),
            },
            graph_sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn round_trip_through_bytes_and_file() {
        let c = card();
        let bytes = c.to_bytes().unwrap();
        assert_eq!(&bytes[..8], b"LRPOCARD");
        assert_eq!(
            PolicyCard::from_bytes(&bytes, Path::new("x.card")).unwrap(),
            c
        );
        let dir = std::env::temp_dir().join(format!("lrpo-card-{}", std::process::id()));
        let p = dir.join("m.card");
        c.save(&p).unwrap();
        assert_eq!(PolicyCard::load(&p).unwrap(), c);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn truncated_wrong_version_and_foreign_files_are_refused() {
        let bytes = card().to_bytes().unwrap();
        let l = Path::new("m.card");
        for cut in [0, 5, 10, 20, bytes.len() - 1] {
            let e = PolicyCard::from_bytes(&bytes[..cut], l)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("m.card") && e.contains("truncated"),
                "cut {cut}: {e}"
            );
        }
        let mut v3 = bytes.clone();
        v3[8] = 3;
        let e = PolicyCard::from_bytes(&v3, l).unwrap_err().to_string();
        assert!(e.contains("version 3"), "{e}");
        let e = PolicyCard::from_bytes(b"\x08\x01\x12\x04onnx model bytes", l)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a policy card"), "{e}");
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(
            PolicyCard::from_bytes(&extra, l)
                .unwrap_err()
                .to_string()
                .contains("unexpected bytes")
        );
    }

    #[test]
    fn accepted_sizes() {
        let c = card();
        assert!(c.accepts_size(256) && c.accepts_size(512) && c.accepts_size(64));
        assert!(!c.accepts_size(100) && !c.accepts_size(0));
    }
}
