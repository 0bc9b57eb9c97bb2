//! Every op the ONNX writer emits, written to a model, run by tract, and compared with a
//! pure-Rust computation of the same thing.

use lrpo_shared::onnx::writer::ConvAttrs;
use lrpo_shared::onnx::{Dim, ElemType, GraphBuilder, OnnxModel};
use lrpo_shared::rng::Rng;
use ndarray::{Array4, ArrayD, IxDyn};
use std::path::Path;

fn rand_vec(n: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.normal() as f32).collect()
}

fn nchw(shape: [usize; 4], seed: u64) -> Array4<f32> {
    Array4::from_shape_vec(shape, rand_vec(shape.iter().product(), seed)).unwrap()
}

fn fixed(shape: &[usize]) -> Vec<Dim> {
    shape.iter().map(|&d| Dim::Fixed(d as i64)).collect()
}

/// Builds with `f`, which gets the builder and the input names and returns the output name and
/// shape, then runs the written bytes in tract.
fn run(
    inputs: &[ArrayD<f32>],
    f: impl FnOnce(&mut GraphBuilder, &[String]) -> (String, Vec<usize>),
) -> ArrayD<f32> {
    let mut g = GraphBuilder::new("t");
    let names: Vec<String> = inputs
        .iter()
        .enumerate()
        .map(|(i, a)| g.input(&format!("in{i}"), ElemType::F32, &fixed(a.shape())))
        .collect();
    let (out, shape) = f(&mut g, &names);
    g.output(&out, ElemType::F32, &fixed(&shape));
    let bytes = g.to_bytes();
    let model = OnnxModel::from_bytes(&bytes, Path::new("test.onnx")).unwrap();
    let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();
    let mut outs = model.run(&views).unwrap();
    assert_eq!(outs[0].shape(), &shape[..]);
    outs.remove(0)
}

fn assert_close(a: &ArrayD<f32>, b: &ArrayD<f32>, tol: f32) {
    assert_eq!(a.shape(), b.shape());
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "element {i}: {x} vs {y}"
        );
    }
}

/// Naive NCHW convolution (cross-correlation), zero padding.
fn conv_ref(x: &Array4<f32>, w: &Array4<f32>, b: Option<&[f32]>, a: &ConvAttrs) -> Array4<f32> {
    let (n, c, h, wd) = x.dim();
    let (o, ci, kh, kw) = w.dim();
    let g = a.group as usize;
    assert_eq!(ci * g, c);
    let oh = (h as i64 + a.pads[0] + a.pads[2] - a.dilations[0] * (kh as i64 - 1) - 1)
        / a.strides[0]
        + 1;
    let ow = (wd as i64 + a.pads[1] + a.pads[3] - a.dilations[1] * (kw as i64 - 1) - 1)
        / a.strides[1]
        + 1;
    let mut y = Array4::<f32>::zeros((n, o, oh as usize, ow as usize));
    let opg = o / g;
    for ni in 0..n {
        for oc in 0..o {
            let grp = oc / opg;
            for yy in 0..oh as usize {
                for xx in 0..ow as usize {
                    let mut acc = b.map_or(0.0, |b| b[oc] as f64);
                    for icg in 0..ci {
                        let ic = grp * ci + icg;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = yy as i64 * a.strides[0] - a.pads[0]
                                    + ky as i64 * a.dilations[0];
                                let ix = xx as i64 * a.strides[1] - a.pads[1]
                                    + kx as i64 * a.dilations[1];
                                if iy < 0 || ix < 0 || iy >= h as i64 || ix >= wd as i64 {
                                    continue;
                                }
                                acc += x[[ni, ic, iy as usize, ix as usize]] as f64
                                    * w[[oc, icg, ky, kx]] as f64;
                            }
                        }
                    }
                    y[[ni, oc, yy, xx]] = acc as f32;
                }
            }
        }
    }
    y
}

#[test]
fn conv_with_bias_stride_padding_dilation_and_groups() {
    for a in [
        ConvAttrs::same(3),
        ConvAttrs::valid(3, 2),
        ConvAttrs {
            kernel: [3, 3],
            strides: [1, 2],
            pads: [2, 1, 0, 1],
            dilations: [2, 1],
            group: 1,
        },
        ConvAttrs {
            kernel: [1, 1],
            strides: [1, 1],
            pads: [0; 4],
            dilations: [1, 1],
            group: 2,
        },
    ] {
        let x = nchw([2, 4, 9, 11], 1);
        let w = nchw(
            [
                6,
                4 / a.group as usize,
                a.kernel[0] as usize,
                a.kernel[1] as usize,
            ],
            2,
        );
        let b = rand_vec(6, 3);
        let want = conv_ref(&x, &w, Some(&b), &a);
        let got = run(&[x.clone().into_dyn()], |g, i| {
            let wn = g.initializer_f32("w", w.shape(), w.as_slice().unwrap());
            let bn = g.initializer_f32("b", &[6], &b);
            (g.conv(&i[0], &wn, Some(&bn), &a), want.shape().to_vec())
        });
        assert_close(&got, &want.into_dyn(), 1e-5);
    }
}

#[test]
fn elementwise_add_mul_sub_relu_sigmoid() {
    let x = nchw([1, 3, 4, 5], 4).into_dyn();
    let y = nchw([1, 3, 4, 5], 5).into_dyn();
    let got = run(&[x.clone(), y.clone()], |g, i| {
        let a = g.add(&i[0], &i[1]);
        let m = g.mul(&a, &i[1]);
        let s = g.sub(&m, &i[0]);
        let r = g.relu(&s);
        let c = g.scalar_f32(0.5);
        let r2 = g.mul(&r, &c);
        (g.sigmoid(&r2), vec![1, 3, 4, 5])
    });
    let want = ndarray::Zip::from(&x).and(&y).map_collect(|&a, &b| {
        let v = ((a + b) * b - a).max(0.0) * 0.5;
        1.0 / (1.0 + (-v).exp())
    });
    assert_close(&got, &want, 1e-6);
}

#[test]
fn max_and_average_pooling_and_global_average() {
    let x = nchw([1, 2, 7, 8], 6);
    let got = run(&[x.clone().into_dyn()], |g, i| {
        (g.max_pool(&i[0], 3, 2, [0, 0, 0, 0]), vec![1, 2, 3, 3])
    });
    let mut want = Array4::<f32>::zeros((1, 2, 3, 3));
    for c in 0..2 {
        for oy in 0..3 {
            for ox in 0..3 {
                let mut m = f32::NEG_INFINITY;
                for ky in 0..3 {
                    for kx in 0..3 {
                        m = m.max(x[[0, c, oy * 2 + ky, ox * 2 + kx]]);
                    }
                }
                want[[0, c, oy, ox]] = m;
            }
        }
    }
    assert_close(&got, &want.into_dyn(), 0.0);
    let got = run(&[x.clone().into_dyn()], |g, i| {
        (g.average_pool(&i[0], 2, 2), vec![1, 2, 3, 4])
    });
    let want = Array4::from_shape_fn((1, 2, 3, 4), |(_, c, y, xx)| {
        (x[[0, c, 2 * y, 2 * xx]]
            + x[[0, c, 2 * y + 1, 2 * xx]]
            + x[[0, c, 2 * y, 2 * xx + 1]]
            + x[[0, c, 2 * y + 1, 2 * xx + 1]])
            / 4.0
    });
    assert_close(&got, &want.into_dyn(), 1e-6);
    let got = run(&[x.clone().into_dyn()], |g, i| {
        (g.global_average_pool(&i[0]), vec![1, 2, 1, 1])
    });
    for c in 0..2 {
        let m = x.slice(ndarray::s![0, c, .., ..]).mean().unwrap();
        assert!((got[[0, c, 0, 0]] - m).abs() < 1e-6);
    }
}

#[test]
fn pad_concat_reshape_transpose_matmul() {
    let x = nchw([1, 2, 3, 4], 7);
    let y = nchw([1, 3, 3, 4], 8);
    // Pad one row at the bottom and one column at the right with zeros, and two channels.
    let got = run(&[x.clone().into_dyn()], |g, i| {
        (
            g.pad_constant(&i[0], &[0, 0, 0, 0, 0, 2, 1, 1], 0.0),
            vec![1, 4, 4, 5],
        )
    });
    for c in 0..4 {
        for yy in 0..4 {
            for xx in 0..5 {
                let want = if c < 2 && yy < 3 && xx < 4 {
                    x[[0, c, yy, xx]]
                } else {
                    0.0
                };
                assert_eq!(got[[0, c, yy, xx]], want);
            }
        }
    }
    let got = run(&[x.clone().into_dyn(), y.clone().into_dyn()], |g, i| {
        (g.concat(&[&i[0], &i[1]], 1), vec![1, 5, 3, 4])
    });
    let want = ndarray::concatenate(ndarray::Axis(1), &[x.view(), y.view()]).unwrap();
    assert_close(&got, &want.into_dyn(), 0.0);
    let got = run(&[x.clone().into_dyn()], |g, i| {
        let t = g.transpose(&i[0], &[0, 2, 3, 1]);
        (g.reshape(&t, &[1, 12, 2]), vec![1, 12, 2])
    });
    let want = x
        .view()
        .permuted_axes([0, 2, 3, 1])
        .as_standard_layout()
        .into_shape_with_order((1, 12, 2))
        .unwrap()
        .to_owned();
    assert_close(&got, &want.into_dyn(), 0.0);
    let m = rand_vec(4 * 5, 9);
    let got = run(&[x.clone().into_dyn()], |g, i| {
        let w = g.initializer_f32("m", &[4, 5], &m);
        (g.matmul(&i[0], &w), vec![1, 2, 3, 5])
    });
    for c in 0..2 {
        for r in 0..3 {
            for k in 0..5 {
                let want: f32 = (0..4).map(|j| x[[0, c, r, j]] * m[j * 5 + k]).sum();
                assert!((got[[0, c, r, k]] - want).abs() < 1e-5);
            }
        }
    }
}

#[test]
fn resize_nearest_and_linear() {
    let x = nchw([1, 3, 4, 5], 10);
    let got = run(&[x.clone().into_dyn()], |g, i| {
        (g.resize(&i[0], 2.0, 2.0, "nearest"), vec![1, 3, 8, 10])
    });
    let want = Array4::from_shape_fn((1, 3, 8, 10), |(_, c, yy, xx)| x[[0, c, yy / 2, xx / 2]]);
    assert_close(&got, &want.into_dyn(), 0.0);
    let got = run(&[x.clone().into_dyn()], |g, i| {
        (g.resize(&i[0], 2.0, 2.0, "linear"), vec![1, 3, 8, 10])
    });
    // Half-pixel bilinear upsampling is OpenCV's INTER_LINEAR (shared::resize).
    let chw = x.index_axis(ndarray::Axis(0), 0).to_owned();
    let want = lrpo_shared::resize::resize_planes(
        &chw.view(),
        8,
        10,
        lrpo_shared::resize::Filter::Bilinear,
    )
    .insert_axis(ndarray::Axis(0));
    assert_close(&got, &want.into_dyn(), 1e-5);
}

#[test]
fn cast_and_uint8_dequantisation_by_cast_mul_add() {
    // What the face-descriptor converter writes: q (u8) → f32 → q·scale + min.
    let q: Vec<u8> = (0..24).map(|i| (i * 11 % 256) as u8).collect();
    let x = ArrayD::<f32>::zeros(IxDyn(&[2, 3, 4]));
    let got = run(std::slice::from_ref(&x), |g, i| {
        let qn = g.initializer_u8("q", &[2, 3, 4], &q);
        let f = g.cast(&qn, ElemType::F32);
        let s = g.scalar_f32(0.25);
        let m = g.scalar_f32(-3.0);
        let v = g.mul(&f, &s);
        let v = g.add(&v, &m);
        (g.add(&v, &i[0]), vec![2, 3, 4])
    });
    for (k, v) in got.iter().enumerate() {
        assert_eq!(*v, q[k] as f32 * 0.25 - 3.0);
    }
}

#[test]
fn quantize_dequantize_round_trip_per_tensor_and_per_channel() {
    let x = nchw([1, 2, 3, 3], 11).into_dyn();
    let got = run(std::slice::from_ref(&x), |g, i| {
        let s = g.initializer_f32("s", &[], &[0.05]);
        let z = g.initializer_u8("z", &[], &[128]);
        let q = g.quantize_linear(&i[0], &s, &z, None);
        (g.dequantize_linear(&q, &s, &z, None), vec![1, 2, 3, 3])
    });
    let want =
        x.mapv(|v| (((v / 0.05).round_ties_even() + 128.0).clamp(0.0, 255.0) - 128.0) * 0.05);
    assert_close(&got, &want, 1e-6);
    // Per-channel int8 on axis 1.
    let got = run(std::slice::from_ref(&x), |g, i| {
        let s = g.initializer_f32("s", &[2], &[0.02, 0.1]);
        let z = g.initializer_i8("z", &[2], &[0, 0]);
        let q = g.quantize_linear(&i[0], &s, &z, Some(1));
        (g.dequantize_linear(&q, &s, &z, Some(1)), vec![1, 2, 3, 3])
    });
    let want = ndarray::Array::from_shape_fn(IxDyn(&[1, 2, 3, 3]), |ix| {
        let s = [0.02f32, 0.1][ix[1]];
        (x[&ix] / s).round_ties_even().clamp(-128.0, 127.0) * s
    });
    assert_close(&got, &want, 1e-6);
}

#[test]
fn qlinear_conv_matches_integer_arithmetic() {
    // u8 activations, i8 per-channel weights (the op allows them), i32 bias, u8 output.
    let x = nchw([1, 3, 6, 6], 12).mapv(|v| (v * 0.5).clamp(-1.0, 1.0));
    let w = nchw([4, 3, 3, 3], 13).mapv(|v| v * 0.2);
    let (xs, xz) = (2.0f32 / 255.0, 128u8);
    let ws: Vec<f32> = (0..4)
        .map(|o| {
            w.slice(ndarray::s![o, .., .., ..])
                .fold(0.0f32, |a, &b| a.max(b.abs()))
                / 127.0
        })
        .collect();
    let wq: Vec<i8> = w
        .indexed_iter()
        .map(|((o, _, _, _), &v)| (v / ws[o]).round().clamp(-127.0, 127.0) as i8)
        .collect();
    let bias: Vec<i32> = vec![100, -50, 0, 7];
    let (ys, yz) = (0.02f32, 128u8);
    let a = ConvAttrs::same(3);
    let got = run(&[x.clone().into_dyn()], |g, i| {
        let (xsn, xzn) = (
            g.initializer_f32("xs", &[], &[xs]),
            g.initializer_u8("xz", &[], &[xz]),
        );
        let q = g.quantize_linear(&i[0], &xsn, &xzn, None);
        let wn = g.initializer_i8("w", &[4, 3, 3, 3], &wq);
        let wsn = g.initializer_f32("ws", &[4], &ws);
        let wzn = g.initializer_i8("wz", &[4], &[0; 4]);
        let (ysn, yzn) = (
            g.initializer_f32("ys", &[], &[ys]),
            g.initializer_u8("yz", &[], &[yz]),
        );
        let bn = g.initializer_i32("b", &[4], &bias);
        let y = g.qlinear_conv(&q, &xsn, &xzn, &wn, &wsn, &wzn, &ysn, &yzn, Some(&bn), &a);
        (g.dequantize_linear(&y, &ysn, &yzn, None), vec![1, 4, 6, 6])
    });
    // Integer reference: quantise x, accumulate (xq − xz)·wq + bias in i32, requantise.
    let xq =
        x.mapv(|v| ((v / xs).round_ties_even() + xz as f32).clamp(0.0, 255.0) as i32 - xz as i32);
    let mut max_step = 0.0f32;
    for o in 0..4 {
        for yy in 0..6i64 {
            for xx in 0..6i64 {
                let mut acc = bias[o];
                for c in 0..3 {
                    for ky in 0..3i64 {
                        for kx in 0..3i64 {
                            let (iy, ix) = (yy + ky - 1, xx + kx - 1);
                            if iy < 0 || ix < 0 || iy >= 6 || ix >= 6 {
                                continue;
                            }
                            acc += xq[[0, c, iy as usize, ix as usize]]
                                * wq[((o * 3 + c) * 3 + ky as usize) * 3 + kx as usize] as i32;
                        }
                    }
                }
                let yq = ((acc as f32 * xs * ws[o] / ys).round_ties_even() + yz as f32)
                    .clamp(0.0, 255.0);
                let want = (yq - yz as f32) * ys;
                let d = (got[[0, o, yy as usize, xx as usize]] - want).abs();
                max_step = max_step.max(d / ys);
            }
        }
    }
    // Rounding of the requantisation may differ by one output step.
    assert!(max_step <= 1.0 + 1e-4, "off by {max_step} output steps");
}

#[test]
fn metadata_and_symbolic_dims_survive_the_round_trip() {
    let mut g = GraphBuilder::new("meta");
    let x = g.input(
        "x",
        ElemType::F32,
        &[Dim::sym("N"), Dim::Fixed(3), Dim::sym("H"), Dim::sym("W")],
    );
    g.relu(&x);
    let y = g.rename_last_output("y");
    g.output(
        &y,
        ElemType::F32,
        &[Dim::sym("N"), Dim::Fixed(3), Dim::sym("H"), Dim::sym("W")],
    );
    g.metadata("lrpo.kind", "test");
    let bytes = g.to_bytes();
    let meta = lrpo_shared::onnx::writer::read_metadata(&bytes, Path::new("m.onnx")).unwrap();
    assert_eq!(meta, vec![("lrpo.kind".to_string(), "test".to_string())]);
    let model = OnnxModel::from_bytes(&bytes, Path::new("m.onnx")).unwrap();
    assert_eq!(model.input_names(), &["x".to_string()]);
    assert_eq!(model.output_names(), &["y".to_string()]);
    // Two different sizes run through the same model (two cached plans).
    for (h, w) in [(4, 6), (8, 2)] {
        let x = ArrayD::from_shape_vec(IxDyn(&[1, 3, h, w]), rand_vec(3 * h * w, 14)).unwrap();
        let out = model.run(&[x.view()]).unwrap();
        assert_close(&out[0], &x.mapv(|v| v.max(0.0)), 0.0);
    }
}

#[test]
fn broken_models_give_clear_errors() {
    let e = OnnxModel::from_bytes(b"", Path::new("empty.onnx"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty.onnx") && e.contains("empty"), "{e}");
    let e = OnnxModel::from_bytes(b"\x01\x02garbage", Path::new("junk.onnx"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("junk.onnx"), "{e}");
    let mut g = GraphBuilder::new("t");
    let x = g.input("x", ElemType::F32, &fixed(&[1, 3, 4, 4]));
    let y = g.relu(&x);
    g.output(&y, ElemType::F32, &fixed(&[1, 3, 4, 4]));
    let bytes = g.to_bytes();
    let e = OnnxModel::from_bytes(&bytes[..bytes.len() / 2], Path::new("cut.onnx"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cut.onnx"), "{e}");
    let model = OnnxModel::from_bytes(&bytes, Path::new("ok.onnx")).unwrap();
    let wrong = ArrayD::<f32>::zeros(IxDyn(&[1, 3, 4]));
    let e = model.run(&[wrong.view()]).unwrap_err().to_string();
    assert!(
        e.contains("ok.onnx") && e.contains("expects shape [1, 3, 4, 4]"),
        "{e}"
    );
    let e = model.run(&[]).unwrap_err().to_string();
    assert!(e.contains("expects 1 inputs"), "{e}");
}

#[test]
fn fma_count_matches_the_convolution_arithmetic() {
    let mut g = GraphBuilder::new("flops");
    let x = g.input(
        "x",
        ElemType::F32,
        &[Dim::Fixed(1), Dim::Fixed(3), Dim::sym("H"), Dim::sym("W")],
    );
    let w = g.initializer_f32("w", &[8, 3, 3, 3], &rand_vec(8 * 27, 1));
    let y = g.conv(&x, &w, None, &ConvAttrs::same(3));
    let w2 = g.initializer_f32("w2", &[4, 8, 3, 3], &rand_vec(288, 2));
    g.conv(&y, &w2, None, &ConvAttrs::valid(3, 2));
    let out = g.rename_last_output("y");
    g.output(
        &out,
        ElemType::F32,
        &[Dim::Fixed(1), Dim::Fixed(4), Dim::sym("h"), Dim::sym("w")],
    );
    let m = OnnxModel::from_bytes(&g.to_bytes(), Path::new("f.onnx")).unwrap();
    // 32×32 output × 8 channels × 27 taps, then 15×15 × 4 × 72. (A strided 1 × 1 conv would
    // not do: tract pushes the stride into the conv before it and counts only what it runs.)
    assert_eq!(
        m.fma_count(&[vec![1, 3, 32, 32]]).unwrap(),
        32 * 32 * 8 * 27 + 15 * 15 * 4 * 72
    );
}

#[test]
fn int8_student_runs_with_integer_kernels_and_tracks_the_f32_graph() {
    use lrpo_shared::onnx::student::{
        ConvRange, StudentSpec, build_f32, build_int8, random_params,
    };
    let spec = StudentSpec::default();
    let params = random_params(&spec, 3, 0.5);
    let f32m = OnnxModel::from_bytes(
        &build_f32(&spec, &params).unwrap().to_bytes(),
        Path::new("f.onnx"),
    )
    .unwrap();
    // Generous ranges (no calibration here): inputs in [0, 1], activations within ±8.
    let ranges = spec
        .layers()
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                ConvRange {
                    in_min: if l.name == "conv_in" { 0.0 } else { -8.0 },
                    in_max: if l.name == "conv_in" { 1.0 } else { 8.0 },
                    out_min: -8.0,
                    out_max: 8.0,
                },
            )
        })
        .collect();
    let q = build_int8(&spec, &params, &ranges).unwrap();
    let bytes = q.to_bytes();
    // conv → ReLU → conv passes uint8 straight on: quantisation only where a float (the input,
    // a residual sum, an upsampled sum) enters a convolution, one weight scale per convolution
    // (the form whose requantisation tract fuses into its integer kernel).
    {
        use prost::Message;
        let proto = tract_onnx::pb::ModelProto::decode(bytes.as_slice()).unwrap();
        let g = proto.graph.unwrap();
        let count = |op: &str| g.node.iter().filter(|n| n.op_type == op).count();
        assert_eq!(count("QLinearConv"), spec.layers().len());
        // conv_in (the input), proj1 (the residual sum), dec1 and dec0 (the upsampled sums);
        // mid0.conv1 reads down2's uint8.
        assert_eq!(count("QuantizeLinear"), 4);
        for t in g
            .initializer
            .iter()
            .filter(|t| t.name.ends_with(".w_scale"))
        {
            assert!(t.dims.is_empty(), "{} has dims {:?}", t.name, t.dims);
        }
    }
    let int8 = OnnxModel::from_bytes(&bytes, Path::new("q.onnx")).unwrap();
    let x = ArrayD::from_shape_fn(IxDyn(&[1, 3, 32, 32]), |ix| {
        ((ix[3] * 7 + ix[2] * 3 + ix[1]) % 11) as f32 / 11.0
    });
    let a = &f32m.run(&[x.view()]).unwrap()[0];
    let b = &int8.run(&[x.view()]).unwrap()[0];
    let mse = a
        .iter()
        .zip(b.iter())
        .map(|(u, v)| ((u - v) as f64).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    assert!(mse < 1e-3, "int8 vs f32 MSE {mse}");
    let plan = int8.plan_summary(&[vec![1, 3, 32, 32]]).unwrap();
    let int_kernels: Vec<&String> = plan.iter().filter(|l| l.contains("i32")).collect();
    println!(
        "{}",
        int_kernels
            .iter()
            .take(3)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        !int_kernels.is_empty(),
        "no integer kernel in the plan:\n{}",
        plan.join("\n")
    );
}
