//! Graph rewrites that keep a model's function and change how tract runs it.
//!
//! [`prelu_to_fast_ops`]: tract imports ONNX `PRelu(x, s)` as `x > 0 ? x : s · x`, three
//! element-wise operations (compare, multiply, select) whose per-channel broadcast over a batch
//! falls to tract's generic, unvectorised evaluation: on MTCNN's R-Net and O-Net (a batch of
//! candidate crops) they cost more than the convolutions. The same function as
//! `relu(x) + s · min(x, 0)`, with the per-channel product as a 1 × 1 depthwise convolution,
//! uses only operations tract has vector kernels for.
//!
//! [`final_softmax_to_logits`]: a two-class softmax over a large map (P-Net's face scores at
//! every position) is 15 % of P-Net's time in tract; the caller can compare logits instead.

use crate::error::{Error, Result};
use std::path::Path;
use tract_onnx::pb;

/// The f32 values of an initializer (`float_data` or little-endian `raw_data`).
fn f32_values(t: &pb::TensorProto) -> Option<Vec<f32>> {
    if t.data_type != pb::tensor_proto::DataType::Float as i32 {
        return None;
    }
    if !t.float_data.is_empty() {
        return Some(t.float_data.clone());
    }
    if !t.raw_data.len().is_multiple_of(4) {
        return None;
    }
    Some(
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

fn f32_tensor(name: &str, dims: &[i64], data: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.to_string(),
        dims: dims.to_vec(),
        data_type: pb::tensor_proto::DataType::Float as i32,
        float_data: data,
        ..Default::default()
    }
}

fn node(op: &str, name: String, inputs: &[&str], output: &str) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.to_string(),
        name,
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.to_string()],
        ..Default::default()
    }
}

fn int_attr(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

fn ints_attr(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// How [`prelu_to_fast_ops`] multiplies by a per-channel slope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerChannel {
    /// A 1 × 1 depthwise convolution: fast for any batch size.
    DepthwiseConv,
    /// A broadcast `Mul`: tract's by-scalar kernel when the batch is 1 (slightly faster than
    /// the convolution there), its generic evaluation otherwise.
    Mul,
}

/// Replaces every `PRelu(x, s)` whose slope `s` is an f32 initializer by
/// `Add(Relu(x), s · Min(x, 0))`: the product is `per_channel`'s form when `s` is per-channel
/// of an NCHW tensor (shape `[C, 1, 1]` or `[1, C, 1, 1]`), a `Mul` otherwise. Exact in real
/// arithmetic for any slope (for x > 0 the second term is 0, for x ≤ 0 the first is); in f32
/// the results agree to rounding. Returns the number of nodes replaced. `label` names the
/// model in errors.
pub fn prelu_to_fast_ops(
    model: &mut pb::ModelProto,
    label: &Path,
    per_channel: PerChannel,
) -> Result<usize> {
    let err = |reason: String| Error::Onnx {
        path: label.to_path_buf(),
        reason,
    };
    let opset = model
        .opset_import
        .iter()
        .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .max()
        .unwrap_or(1);
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| err("the model has no graph".into()))?;
    // Min with broadcasting needs opset 8; Conv, Relu and Add exist since opset 1.
    if opset < 8 {
        return Ok(0);
    }
    let mut new_nodes = Vec::with_capacity(graph.node.len());
    let mut new_inits = Vec::new();
    let mut replaced = 0;
    let nodes = std::mem::take(&mut graph.node);
    for n in nodes {
        let slope = (n.op_type == "PRelu" && n.domain.is_empty() && n.input.len() == 2)
            .then(|| graph.initializer.iter().find(|t| t.name == n.input[1]))
            .flatten()
            .and_then(|t| f32_values(t).map(|v| (t.dims.clone(), v)));
        let Some((dims, values)) = slope else {
            new_nodes.push(n);
            continue;
        };
        let (x, s, y) = (
            n.input[0].as_str(),
            n.input[1].as_str(),
            n.output[0].as_str(),
        );
        let base = if n.name.is_empty() {
            format!("prelu_{replaced}")
        } else {
            n.name.clone()
        };
        let [zero, min, relu, prod] =
            ["zero", "min", "relu", "prod"].map(|k| format!("{base}.rewrite.{k}"));
        new_inits.push(f32_tensor(&zero, &[], vec![0.0]));
        new_nodes.push(node("Min", min.clone(), &[x, &zero], &min));
        new_nodes.push(node("Relu", relu.clone(), &[x], &relu));
        let c = values.len() as i64;
        let depthwise = per_channel == PerChannel::DepthwiseConv
            && matches!(dims.as_slice(), [cc, 1, 1] | [1, cc, 1, 1] if *cc == c);
        if depthwise {
            let weight = format!("{base}.rewrite.weight");
            new_inits.push(f32_tensor(&weight, &[c, 1, 1, 1], values));
            let mut conv = node("Conv", prod.clone(), &[&min, &weight], &prod);
            conv.attribute = vec![
                int_attr("group", c),
                ints_attr("kernel_shape", &[1, 1]),
                ints_attr("pads", &[0, 0, 0, 0]),
                ints_attr("strides", &[1, 1]),
            ];
            new_nodes.push(conv);
        } else {
            new_nodes.push(node("Mul", prod.clone(), &[&min, s], &prod));
        }
        new_nodes.push(node(
            "Add",
            format!("{base}.rewrite.add"),
            &[&relu, &prod],
            y,
        ));
        replaced += 1;
    }
    graph.node = new_nodes;
    graph.initializer.extend(new_inits);
    Ok(replaced)
}

/// Removes every `Softmax` whose output is a graph output, so that the graph outputs the
/// logits under the same name; returns the names of the outputs changed. The caller applies
/// the softmax (or compares logits) itself.
pub fn final_softmax_to_logits(model: &mut pb::ModelProto) -> Vec<String> {
    let Some(graph) = model.graph.as_mut() else {
        return Vec::new();
    };
    let outputs: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    let mut changed = Vec::new();
    let mut k = 0;
    while k < graph.node.len() {
        let n = &graph.node[k];
        let is_final = n.op_type == "Softmax"
            && n.domain.is_empty()
            && n.input.len() == 1
            && n.output.len() == 1
            && outputs.contains(&n.output[0]);
        // The logits must have no other consumer (they are renamed) and not be an output.
        let logits = n.input[0].clone();
        let used_elsewhere = outputs.contains(&logits)
            || graph
                .node
                .iter()
                .enumerate()
                .any(|(j, m)| j != k && m.input.contains(&logits));
        if !is_final || used_elsewhere {
            k += 1;
            continue;
        }
        let out = graph.node.remove(k).output[0].clone();
        for m in graph.node.iter_mut() {
            for o in m.output.iter_mut().filter(|o| **o == logits) {
                *o = out.clone();
            }
        }
        changed.push(out);
    }
    changed
}
