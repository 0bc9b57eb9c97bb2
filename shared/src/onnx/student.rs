//! The one-step student's network as an ONNX graph: the topology both the trainer (which
//! exports its trained weights through [`build_f32`]) and the edge (which runs it) agree on.
//!
//! A small U-shaped convolutional network, export- and int8-friendly by construction (Conv,
//! ReLU, Add, nearest Resize; no normalisation layers):
//!
//! ```text
//! e0 = relu(conv_in(x))                    c0 channels, H      (3 × 3)
//! e1 = relu(down1(e0))                     c1,          H/2    (3 × 3, stride 2)
//! e2 = relu(down2(e1))                     c2,          H/4    (3 × 3, stride 2)
//! e2 = relu(e2 + mid{b}.conv2(relu(mid{b}.conv1(e2))))        for each residual block b
//! d1 = relu(dec1(up2x(proj1(e2)) + e1))    c1,          H/2    (proj 1 × 1, dec 3 × 3)
//! d0 = relu(dec0(up2x(proj0(d1)) + e0))    c0,          H
//! y  = x + conv_out(d0)                    3,           H      (3 × 3)
//! ```
//!
//! Input `lq` `[N, 3, H, W]` RGB in [0, 1] with H, W multiples of 4; output `restored`, same
//! shape (the runtime clamps it to [0, 1]). Every convolution has a bias. Parameters are named
//! `{layer}.weight` (OIHW) and `{layer}.bias`.

use crate::error::{Error, Result};
use crate::onnx::writer::ConvAttrs;
use crate::onnx::{Dim, ElemType, GraphBuilder};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The student's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StudentSpec {
    /// Channels at full, half and quarter resolution. Default 16, 32, 64.
    pub channels: [usize; 3],
    /// Residual blocks at quarter resolution. Default 1.
    pub mid_blocks: usize,
}

impl Default for StudentSpec {
    fn default() -> Self {
        StudentSpec {
            channels: [16, 32, 64],
            mid_blocks: 1,
        }
    }
}

/// One convolution layer: name, output and input channels, kernel side, stride.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvLayer {
    /// Parameter prefix.
    pub name: String,
    /// Output channels.
    pub cout: usize,
    /// Input channels.
    pub cin: usize,
    /// Kernel side (1 or 3).
    pub k: usize,
    /// Stride (1 or 2).
    pub stride: usize,
}

impl StudentSpec {
    /// Every convolution, in execution order.
    pub fn layers(&self) -> Vec<ConvLayer> {
        let [c0, c1, c2] = self.channels;
        let l = |name: &str, cout, cin, k, stride| ConvLayer {
            name: name.to_string(),
            cout,
            cin,
            k,
            stride,
        };
        let mut v = vec![
            l("conv_in", c0, 3, 3, 1),
            l("down1", c1, c0, 3, 2),
            l("down2", c2, c1, 3, 2),
        ];
        for b in 0..self.mid_blocks {
            v.push(l(&format!("mid{b}.conv1"), c2, c2, 3, 1));
            v.push(l(&format!("mid{b}.conv2"), c2, c2, 3, 1));
        }
        v.extend([
            l("proj1", c1, c2, 1, 1),
            l("dec1", c1, c1, 3, 1),
            l("proj0", c0, c1, 1, 1),
            l("dec0", c0, c0, 3, 1),
            l("conv_out", 3, c0, 3, 1),
        ]);
        v
    }

    /// Multiply-accumulates per face of side `size` (convolutions only).
    pub fn fma_per_face(&self, size: usize) -> u64 {
        self.layers()
            .iter()
            .map(|c| {
                let side = match c.name.as_str() {
                    "conv_in" | "dec0" | "conv_out" => size,
                    "down1" | "proj0" | "dec1" => size / 2,
                    _ => size / 4,
                };
                (side * side * c.cout * c.cin * c.k * c.k) as u64
            })
            .sum()
    }

    /// Total parameter count.
    pub fn parameter_count(&self) -> usize {
        self.layers()
            .iter()
            .map(|c| c.cout * c.cin * c.k * c.k + c.cout)
            .sum()
    }
}

/// Writes the student with the given f32 parameters (`{layer}.weight` OIHW, `{layer}.bias`).
pub fn build_f32(spec: &StudentSpec, params: &HashMap<String, Vec<f32>>) -> Result<GraphBuilder> {
    let mut g = GraphBuilder::new("lrpo_student");
    let dims = [Dim::sym("N"), Dim::Fixed(3), Dim::sym("H"), Dim::sym("W")];
    let x = g.input("lq", ElemType::F32, &dims);
    let layers: HashMap<String, ConvLayer> = spec
        .layers()
        .into_iter()
        .map(|c| (c.name.clone(), c))
        .collect();
    let conv = |g: &mut GraphBuilder, name: &str, input: &str| -> Result<String> {
        let c = &layers[name];
        let get = |suffix: &str, n: usize| -> Result<&Vec<f32>> {
            let key = format!("{name}.{suffix}");
            let v = params
                .get(&key)
                .ok_or_else(|| Error::invalid("student parameters", format!("{key} is missing")))?;
            if v.len() != n {
                return Err(Error::invalid(
                    "student parameters",
                    format!("{key} has {} values, expected {n}", v.len()),
                ));
            }
            Ok(v)
        };
        let w = g.initializer_f32(
            &format!("{name}.weight"),
            &[c.cout, c.cin, c.k, c.k],
            get("weight", c.cout * c.cin * c.k * c.k)?,
        );
        let b = g.initializer_f32(&format!("{name}.bias"), &[c.cout], get("bias", c.cout)?);
        let attrs = if c.k == 1 {
            ConvAttrs::valid(1, 1)
        } else {
            ConvAttrs {
                strides: [c.stride as i64; 2],
                ..ConvAttrs::same(3)
            }
        };
        Ok(g.conv(input, &w, Some(&b), &attrs))
    };
    let e0 = conv(&mut g, "conv_in", &x)?;
    let e0 = g.relu(&e0);
    let e1 = conv(&mut g, "down1", &e0)?;
    let e1 = g.relu(&e1);
    let e2 = conv(&mut g, "down2", &e1)?;
    let mut e2 = g.relu(&e2);
    for b in 0..spec.mid_blocks {
        let h = conv(&mut g, &format!("mid{b}.conv1"), &e2)?;
        let h = g.relu(&h);
        let h = conv(&mut g, &format!("mid{b}.conv2"), &h)?;
        let s = g.add(&e2, &h);
        e2 = g.relu(&s);
    }
    let p1 = conv(&mut g, "proj1", &e2)?;
    let u1 = g.resize(&p1, 2.0, 2.0, "nearest");
    let s1 = g.add(&u1, &e1);
    let d1 = conv(&mut g, "dec1", &s1)?;
    let d1 = g.relu(&d1);
    let p0 = conv(&mut g, "proj0", &d1)?;
    let u0 = g.resize(&p0, 2.0, 2.0, "nearest");
    let s0 = g.add(&u0, &e0);
    let d0 = conv(&mut g, "dec0", &s0)?;
    let d0 = g.relu(&d0);
    let r = conv(&mut g, "conv_out", &d0)?;
    g.add(&x, &r);
    let y = g.rename_last_output("restored");
    g.output(&y, ElemType::F32, &dims);
    g.metadata("lrpo.model", "one-step student");
    g.metadata(
        "lrpo.student",
        &serde_json::to_string(spec).unwrap_or_default(),
    );
    Ok(g)
}

/// Observed value range of a convolution's input and output over calibration images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConvRange {
    /// Smallest input value.
    pub in_min: f32,
    /// Largest input value.
    pub in_max: f32,
    /// Smallest output value (before any ReLU).
    pub out_min: f32,
    /// Largest output value.
    pub out_max: f32,
}

/// Asymmetric uint8 quantisation parameters covering `[lo, hi]` (extended to include 0, as
/// ONNX requires zero to be exactly representable): `(scale, zero_point)`.
pub fn u8_params(lo: f32, hi: f32) -> (f32, u8) {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    let scale = ((hi - lo) / 255.0).max(1e-8);
    let zp = (-lo / scale).round().clamp(0.0, 255.0) as u8;
    (scale, zp)
}

/// Symmetric per-tensor int8 quantisation of weights: `(q, scale)` with
/// `scale = max|w| / 127`. One scale per convolution, not per output channel: tract fuses a
/// per-tensor requantisation into its integer matrix kernel, while per-channel scales add
/// separate scale, offset and clamp passes that cost more than the products (the shipped
/// student at 128²: 33.6 ms per-channel against 13.5 ms per-tensor in tract on an AVX-512
/// VNNI x86 core; 55.3 against 54.6 dB PSNR to the f32 export on face-set crops).
pub fn quantize_weights(w: &[f32]) -> (Vec<i8>, f32) {
    let m = w.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
    let s = (m / 127.0).max(1e-12);
    let q = w
        .iter()
        .map(|&v| (v / s).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (q, s)
}

/// A quantised tensor of the int8 graph: its uint8 value, the names and values of its scale
/// and zero point, and its float (dequantised) value once something needs it.
struct QTensor {
    u8_name: String,
    scale: f32,
    scale_name: String,
    zero_name: String,
    f32_name: Option<String>,
}

/// Writes the int8 student: every convolution is a `QLinearConv` (uint8 activations with
/// scales from `ranges`, int8 weights with one scale per convolution, int32 biases), so tract
/// runs it with integer kernels; the residual adds, their ReLU and the upsampling stay in
/// float, with `QuantizeLinear` / `DequantizeLinear` at the boundaries. A convolution followed
/// by ReLU gets an output range starting at 0 with zero point 0, so the quantised output
/// saturates negative values to 0: the ReLU is folded into the requantisation; and when the
/// next convolution reads exactly that output (conv → ReLU → conv), it takes the uint8 tensor
/// with its scale directly instead of a dequantise–quantise round trip.
pub fn build_int8(
    spec: &StudentSpec,
    params: &HashMap<String, Vec<f32>>,
    ranges: &HashMap<String, ConvRange>,
) -> Result<GraphBuilder> {
    let mut g = GraphBuilder::new("lrpo_student_int8");
    let dims = [Dim::sym("N"), Dim::Fixed(3), Dim::sym("H"), Dim::sym("W")];
    let x = g.input("lq", ElemType::F32, &dims);
    let layers: HashMap<String, ConvLayer> = spec
        .layers()
        .into_iter()
        .map(|c| (c.name.clone(), c))
        .collect();
    let relu_after = |name: &str| {
        matches!(name, "conv_in" | "down1" | "down2" | "dec1" | "dec0") || name.ends_with(".conv1")
    };
    // A float tensor's value as a QLinearConv input: the uint8 output it was dequantised from
    // (same scale), or a fresh QuantizeLinear with the calibrated input range.
    enum Input<'a> {
        Float(&'a str),
        Quantised(&'a QTensor),
    }
    let qconv = |g: &mut GraphBuilder, name: &str, input: Input| -> Result<QTensor> {
        let c = &layers[name];
        let get = |key: String, n: usize| -> Result<Vec<f32>> {
            let v = params
                .get(&key)
                .ok_or_else(|| Error::invalid("student parameters", format!("{key} is missing")))?;
            if v.len() != n {
                return Err(Error::invalid(
                    "student parameters",
                    format!("{key} has {} values, expected {n}", v.len()),
                ));
            }
            Ok(v.clone())
        };
        let r = ranges
            .get(name)
            .ok_or_else(|| Error::invalid("calibration ranges", format!("none for {name}")))?;
        let w = get(format!("{name}.weight"), c.cout * c.cin * c.k * c.k)?;
        let b = get(format!("{name}.bias"), c.cout)?;
        let (q, xs, xsn, xzn) = match input {
            Input::Quantised(t) => (
                t.u8_name.clone(),
                t.scale,
                t.scale_name.clone(),
                t.zero_name.clone(),
            ),
            Input::Float(f) => {
                let (xs, xz) = u8_params(r.in_min, r.in_max);
                let xsn = g.initializer_f32(&format!("{name}.x_scale"), &[], &[xs]);
                let xzn = g.initializer_u8(&format!("{name}.x_zero_point"), &[], &[xz]);
                (g.quantize_linear(f, &xsn, &xzn, None), xs, xsn, xzn)
            }
        };
        let (ys, yz) = if relu_after(name) {
            u8_params(0.0, r.out_max)
        } else {
            u8_params(r.out_min, r.out_max)
        };
        let (wq, ws) = quantize_weights(&w);
        let bq: Vec<i32> = b
            .iter()
            .map(|&bv| {
                (bv as f64 / (xs as f64 * ws as f64))
                    .round()
                    .clamp(i32::MIN as f64, i32::MAX as f64) as i32
            })
            .collect();
        let wn = g.initializer_i8(&format!("{name}.weight_q"), &[c.cout, c.cin, c.k, c.k], &wq);
        let wsn = g.initializer_f32(&format!("{name}.w_scale"), &[], &[ws]);
        let wzn = g.initializer_i8(&format!("{name}.w_zero_point"), &[], &[0]);
        let ysn = g.initializer_f32(&format!("{name}.y_scale"), &[], &[ys]);
        let yzn = g.initializer_u8(&format!("{name}.y_zero_point"), &[], &[yz]);
        let bn = g.initializer_i32(&format!("{name}.bias_q"), &[c.cout], &bq);
        let attrs = if c.k == 1 {
            ConvAttrs::valid(1, 1)
        } else {
            ConvAttrs {
                strides: [c.stride as i64; 2],
                ..ConvAttrs::same(3)
            }
        };
        let y = g.qlinear_conv(
            &q,
            &xsn,
            &xzn,
            &wn,
            &wsn,
            &wzn,
            &ysn,
            &yzn,
            Some(&bn),
            &attrs,
        );
        Ok(QTensor {
            u8_name: y,
            scale: ys,
            scale_name: ysn,
            zero_name: yzn,
            f32_name: None,
        })
    };
    let float = |g: &mut GraphBuilder, t: &mut QTensor| -> String {
        if t.f32_name.is_none() {
            t.f32_name = Some(g.dequantize_linear(&t.u8_name, &t.scale_name, &t.zero_name, None));
        }
        t.f32_name.clone().expect("set above")
    };
    let mut e0 = qconv(&mut g, "conv_in", Input::Float(&x))?;
    let mut e1 = qconv(&mut g, "down1", Input::Quantised(&e0))?;
    let mut e2 = qconv(&mut g, "down2", Input::Quantised(&e1))?;
    // The quarter-resolution features as the next convolution sees them: down2's output
    // first, then each block's ReLU(e + h) (float, quantised by the convolution that reads it).
    let mut mid_f32: Option<String> = None;
    for b in 0..spec.mid_blocks {
        let h = match &mid_f32 {
            None => qconv(&mut g, &format!("mid{b}.conv1"), Input::Quantised(&e2))?,
            Some(f) => qconv(&mut g, &format!("mid{b}.conv1"), Input::Float(f))?,
        };
        let mut h2 = qconv(&mut g, &format!("mid{b}.conv2"), Input::Quantised(&h))?;
        let e = match &mid_f32 {
            None => float(&mut g, &mut e2),
            Some(f) => f.clone(),
        };
        let hf = float(&mut g, &mut h2);
        let s = g.add(&e, &hf);
        mid_f32 = Some(g.relu(&s));
    }
    let mid = match &mid_f32 {
        None => float(&mut g, &mut e2),
        Some(f) => f.clone(),
    };
    let mut p1 = qconv(&mut g, "proj1", Input::Float(&mid))?;
    let p1f = float(&mut g, &mut p1);
    let u1 = g.resize(&p1f, 2.0, 2.0, "nearest");
    let e1f = float(&mut g, &mut e1);
    let s1 = g.add(&u1, &e1f);
    let d1 = qconv(&mut g, "dec1", Input::Float(&s1))?;
    let mut p0 = qconv(&mut g, "proj0", Input::Quantised(&d1))?;
    let p0f = float(&mut g, &mut p0);
    let u0 = g.resize(&p0f, 2.0, 2.0, "nearest");
    let e0f = float(&mut g, &mut e0);
    let s0 = g.add(&u0, &e0f);
    let d0 = qconv(&mut g, "dec0", Input::Float(&s0))?;
    let mut r = qconv(&mut g, "conv_out", Input::Quantised(&d0))?;
    let rf = float(&mut g, &mut r);
    g.add(&x, &rf);
    let y = g.rename_last_output("restored");
    g.output(&y, ElemType::F32, &dims);
    g.metadata("lrpo.model", "one-step student, int8");
    g.metadata(
        "lrpo.student",
        &serde_json::to_string(spec).unwrap_or_default(),
    );
    Ok(g)
}

/// Seeded random parameters (He-normal weights scaled by `gain`, zero biases), for speed
/// measurements and tests of the graph itself.
pub fn random_params(spec: &StudentSpec, seed: u64, gain: f64) -> HashMap<String, Vec<f32>> {
    let mut rng = crate::rng::Rng::new(seed);
    let mut p = HashMap::new();
    for c in spec.layers() {
        let fan_in = (c.cin * c.k * c.k) as f64;
        let sd = gain * (2.0 / fan_in).sqrt();
        p.insert(
            format!("{}.weight", c.name),
            (0..c.cout * c.cin * c.k * c.k)
                .map(|_| (rng.normal() * sd) as f32)
                .collect(),
        );
        p.insert(format!("{}.bias", c.name), vec![0.0; c.cout]);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_student_fits_the_budget_and_tract_counts_the_same_work() {
        let spec = StudentSpec::default();
        let fma = spec.fma_per_face(256);
        // At most 2 GFLOP (1 G multiply-accumulates) per 256 × 256 face.
        assert!(fma <= 1_000_000_000, "{fma}");
        let g = build_f32(&spec, &random_params(&spec, 1, 1.0)).unwrap();
        let m =
            crate::onnx::OnnxModel::from_bytes(&g.to_bytes(), std::path::Path::new("student.onnx"))
                .unwrap();
        assert_eq!(m.fma_count(&[vec![1, 3, 256, 256]]).unwrap(), fma);
        let x = ndarray::ArrayD::<f32>::from_elem(vec![1, 3, 64, 64], 0.5);
        let y = m.run(&[x.view()]).unwrap();
        assert_eq!(y[0].shape(), &[1, 3, 64, 64]);
        let mut missing = random_params(&spec, 1, 1.0);
        missing.remove("dec1.bias");
        assert!(
            build_f32(&spec, &missing)
                .unwrap_err()
                .to_string()
                .contains("dec1.bias")
        );
    }
}
