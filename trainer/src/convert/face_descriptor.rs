//! Converts the face-api.js / dlib ResNet face descriptor (TF.js weights) to ONNX.
//!
//! Network (npm `@vladmandic/face-api@1.7.15`, `src/faceRecognitionNet/`): a 29-convolution
//! ResNet-34-like network on a 150 × 150 RGB chip giving a 128-D descriptor; two faces are the
//! same person when the Euclidean distance of their descriptors is below 0.6.
//!
//! The ONNX model written here:
//! - input `chip`: `[N, 3, 150, 150]` f32, RGB in [0, 1] (face-api feeds 0–255 and normalises
//!   `(x − mean) / 255`; here that is `x − mean/255`);
//! - output `descriptor`: `[N, 128]` f32 (not normalised);
//! - the uint8-quantised weights stay uint8 in the file, each decoded by `Cast → Mul(scale) →
//!   Add(min)` (tract folds these constants when it loads the model), so the file stays
//!   about the size of the original weights.

use super::tfjs::{TfjsData, TfjsTensor, hwio_to_oihw};
use crate::error::{Error, Result};
use lrpo_shared::onnx::writer::ConvAttrs;
use lrpo_shared::onnx::{Dim, ElemType, GraphBuilder};
use std::collections::HashMap;

/// Side of the input chip.
pub const CHIP: usize = 150;
/// face-api's per-channel mean (0–255 scale).
pub const MEAN_RGB: [f32; 3] = [122.782, 117.001, 104.298];

struct Emitter {
    g: GraphBuilder,
    weights: HashMap<String, TfjsTensor>,
}

impl Emitter {
    fn tensor(&self, name: &str) -> Result<&TfjsTensor> {
        self.weights.get(name).ok_or_else(|| {
            Error::model(
                "face descriptor",
                format!("the manifest has no tensor {name:?}"),
            )
        })
    }

    /// Emits a weight as an ONNX value of shape `dims`, reordering HWIO filters to OIHW.
    fn weight(&mut self, name: &str, dims: &[usize]) -> Result<String> {
        let t = self.tensor(name)?.clone();
        let n: usize = t.shape.iter().product();
        if n != dims.iter().product::<usize>() {
            return Err(Error::model(
                format!("tensor {name:?}"),
                format!(
                    "shape {:?}, expected {} values for {dims:?}",
                    t.shape,
                    dims.iter().product::<usize>()
                ),
            ));
        }
        let filter = t.shape.len() == 4;
        let key = name.replace('/', ".");
        Ok(match &t.data {
            TfjsData::Quantized { q, scale, min } => {
                let q = if filter {
                    hwio_to_oihw(q, &t.shape)
                } else {
                    q.clone()
                };
                let qn = self.g.initializer_u8(&format!("{key}.q"), dims, &q);
                let f = self.g.cast(&qn, ElemType::F32);
                let s = self.g.scalar_f32(*scale);
                let m = self.g.scalar_f32(*min);
                let v = self.g.mul(&f, &s);
                self.g.add(&v, &m)
            }
            TfjsData::F32(v) => {
                let v = if filter {
                    hwio_to_oihw(v, &t.shape)
                } else {
                    v.clone()
                };
                self.g.initializer_f32(&key, dims, &v)
            }
        })
    }

    /// `conv → +bias → ×scale.weights → +scale.biases → [ReLU]`; returns (value, channels).
    fn conv_layer(
        &mut self,
        x: &str,
        p: &str,
        cin: usize,
        stride: i64,
        relu: bool,
        same: bool,
    ) -> Result<(String, usize)> {
        let shape = self.tensor(&format!("{p}/conv/filters"))?.shape.clone();
        let (k, co) = (shape[0], shape[3]);
        if shape[2] != cin {
            return Err(Error::model(
                p,
                format!(
                    "filters take {} channels, the network gives {cin}",
                    shape[2]
                ),
            ));
        }
        let w = self.weight(&format!("{p}/conv/filters"), &[co, cin, k, k])?;
        let b = self.weight(&format!("{p}/conv/bias"), &[co])?;
        let attrs = if same {
            ConvAttrs::same(k as i64)
        } else {
            ConvAttrs::valid(k as i64, stride)
        };
        let y = self.g.conv(x, &w, Some(&b), &attrs);
        let sw = self.weight(&format!("{p}/scale/weights"), &[1, co, 1, 1])?;
        let sb = self.weight(&format!("{p}/scale/biases"), &[1, co, 1, 1])?;
        let y = self.g.mul(&y, &sw);
        let y = self.g.add(&y, &sb);
        Ok((if relu { self.g.relu(&y) } else { y }, co))
    }

    fn residual(&mut self, x: &str, p: &str, c: usize) -> Result<String> {
        let (y, c1) = self.conv_layer(x, &format!("{p}/conv1"), c, 1, true, true)?;
        let (y, _) = self.conv_layer(&y, &format!("{p}/conv2"), c1, 1, false, true)?;
        let y = self.g.add(&y, x);
        Ok(self.g.relu(&y))
    }

    /// Residual block with stride-2 downsampling; `size` is the input's spatial side.
    fn residual_down(
        &mut self,
        x: &str,
        p: &str,
        c: usize,
        size: usize,
    ) -> Result<(String, usize, usize)> {
        let (y, c1) = self.conv_layer(x, &format!("{p}/conv1"), c, 2, true, false)?;
        let (mut y, co) = self.conv_layer(&y, &format!("{p}/conv2"), c1, 1, false, true)?;
        let conv_side = (size - 3) / 2 + 1;
        let pool_side = size / 2;
        let mut pooled = self.g.average_pool(x, 2, 2);
        if conv_side < pool_side {
            // face-api appends a zero row at the bottom and a zero column at the right.
            y = self.g.pad_constant(&y, &[0, 0, 0, 0, 0, 0, 1, 1], 0.0);
        }
        if co > c {
            pooled = self
                .g
                .pad_constant(&pooled, &[0, 0, 0, 0, 0, (co - c) as i64, 0, 0], 0.0);
        }
        let y = self.g.add(&pooled, &y);
        Ok((self.g.relu(&y), co, pool_side))
    }
}

/// Builds the ONNX model from the manifest's tensors.
pub fn build(tensors: Vec<TfjsTensor>) -> Result<GraphBuilder> {
    let weights: HashMap<String, TfjsTensor> =
        tensors.into_iter().map(|t| (t.name.clone(), t)).collect();
    let mut e = Emitter {
        g: GraphBuilder::new("face_descriptor"),
        weights,
    };
    let n = Dim::sym("N");
    let chip = e.g.input(
        "chip",
        ElemType::F32,
        &[
            n.clone(),
            Dim::Fixed(3),
            Dim::Fixed(CHIP as i64),
            Dim::Fixed(CHIP as i64),
        ],
    );
    let mean =
        e.g.initializer_f32("mean_rgb", &[1, 3, 1, 1], &MEAN_RGB.map(|m| m / 255.0));
    let x = e.g.sub(&chip, &mean);
    // conv32_down: 7×7 stride 2 valid → 72; max-pool 3×3 stride 2 → 35.
    let (x, c) = e.conv_layer(&x, "conv32_down", 3, 2, true, false)?;
    let x = e.g.max_pool(&x, 3, 2, [0, 0, 0, 0]);
    let mut size = ((CHIP - 7) / 2 + 1 - 3) / 2 + 1;
    let mut x = x;
    for b in ["conv32_1", "conv32_2", "conv32_3"] {
        x = e.residual(&x, b, c)?;
    }
    let mut c = c;
    let stages: [(&str, &[&str]); 4] = [
        ("conv64_down", &["conv64_1", "conv64_2", "conv64_3"]),
        ("conv128_down", &["conv128_1", "conv128_2"]),
        ("conv256_down", &["conv256_1", "conv256_2"]),
        ("conv256_down_out", &[]),
    ];
    for (down, blocks) in stages {
        let (y, co, s) = e.residual_down(&x, down, c, size)?;
        (x, c, size) = (y, co, s);
        for b in blocks {
            x = e.residual(&x, b, c)?;
        }
    }
    let pooled = e.g.global_average_pool(&x);
    let flat = e.g.reshape(&pooled, &[0, -1]);
    let fc_shape = e.tensor("fc")?.shape.clone();
    if fc_shape != [c, 128] {
        return Err(Error::model(
            "fc",
            format!("shape {fc_shape:?}, expected [{c}, 128]"),
        ));
    }
    let fc = e.weight("fc", &[c, 128])?;
    e.g.matmul(&flat, &fc);
    let out = e.g.rename_last_output("descriptor");
    e.g.output(&out, ElemType::F32, &[n, Dim::Fixed(128)]);
    e.g.doc("face-api.js / dlib ResNet face descriptor. Input: chip [N,3,150,150] RGB in [0,1]. Output: descriptor [N,128]; same person when Euclidean distance < 0.6.");
    e.g.metadata("lrpo.model", "face-descriptor");
    e.g.metadata(
        "lrpo.input",
        "chip: [N,3,150,150] f32 RGB [0,1], the identity chip of lrpo_shared::onnx::identity",
    );
    e.g.metadata(
        "lrpo.output",
        "descriptor: [N,128] f32; same person when Euclidean distance < 0.6",
    );
    e.g.metadata(
        "lrpo.source",
        "npm @vladmandic/face-api@1.7.15 model/face_recognition_model (MIT; dlib model CC0)",
    );
    Ok(e.g)
}
