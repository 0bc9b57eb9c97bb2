//! A small ONNX graph writer over `tract_onnx::pb` (burn 0.21 has no ONNX export).
//!
//! ```ignore
//! let mut g = GraphBuilder::new("tiny");
//! let x = g.input("x", ElemType::F32, &[Dim::sym("N"), Dim::Fixed(3), Dim::sym("H"), Dim::sym("W")]);
//! let w = g.initializer_f32("w", &[8, 3, 3, 3], &weights);
//! let y = g.conv(&x, &w, None, ConvAttrs::same(3));
//! let y = g.relu(&y);
//! g.output(&y, ElemType::F32, &[...]);
//! let bytes = g.to_bytes();
//! ```
//!
//! Node outputs are named `"{op}_{n}"` unless given; initializers keep the names they are given
//! (which must be unique). Opset 17 by default, IR version 8.

use crate::error::{Error, Result};
use prost::Message;
use std::path::Path;
use tract_onnx::pb;

/// Element types the writer can declare and store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemType {
    /// 32-bit float.
    F32,
    /// Unsigned 8-bit.
    U8,
    /// Signed 8-bit.
    I8,
    /// Signed 32-bit.
    I32,
    /// Signed 64-bit.
    I64,
}

impl ElemType {
    /// The ONNX `TensorProto.DataType` code.
    pub fn code(self) -> i32 {
        use pb::tensor_proto::DataType as D;
        (match self {
            ElemType::F32 => D::Float,
            ElemType::U8 => D::Uint8,
            ElemType::I8 => D::Int8,
            ElemType::I32 => D::Int32,
            ElemType::I64 => D::Int64,
        }) as i32
    }
}

/// A tensor dimension in a graph input/output declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A named symbolic size (e.g. `N`, `H`).
    Sym(String),
}

impl Dim {
    /// A symbolic dimension.
    pub fn sym(name: &str) -> Dim {
        Dim::Sym(name.to_string())
    }
}

/// A node attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// Integer attribute.
    Int(&'static str, i64),
    /// List of integers.
    Ints(&'static str, Vec<i64>),
    /// Float attribute.
    Float(&'static str, f32),
    /// List of floats.
    Floats(&'static str, Vec<f32>),
    /// String attribute.
    Str(&'static str, String),
}

impl Attr {
    fn to_proto(&self) -> pb::AttributeProto {
        use pb::attribute_proto::AttributeType as T;
        let mut a = pb::AttributeProto::default();
        match self {
            Attr::Int(n, v) => {
                a.name = n.to_string();
                a.r#type = T::Int as i32;
                a.i = *v;
            }
            Attr::Ints(n, v) => {
                a.name = n.to_string();
                a.r#type = T::Ints as i32;
                a.ints = v.clone();
            }
            Attr::Float(n, v) => {
                a.name = n.to_string();
                a.r#type = T::Float as i32;
                a.f = *v;
            }
            Attr::Floats(n, v) => {
                a.name = n.to_string();
                a.r#type = T::Floats as i32;
                a.floats = v.clone();
            }
            Attr::Str(n, v) => {
                a.name = n.to_string();
                a.r#type = T::String as i32;
                a.s = v.as_bytes().to_vec();
            }
        }
        a
    }
}

/// Convolution attributes (2-D).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvAttrs {
    /// Kernel height and width.
    pub kernel: [i64; 2],
    /// Strides (h, w).
    pub strides: [i64; 2],
    /// Padding: top, left, bottom, right (ONNX order: begins then ends).
    pub pads: [i64; 4],
    /// Dilations (h, w).
    pub dilations: [i64; 2],
    /// Groups.
    pub group: i64,
}

impl ConvAttrs {
    /// Stride 1, "same" padding for an odd `k × k` kernel.
    pub fn same(k: i64) -> Self {
        let p = k / 2;
        ConvAttrs {
            kernel: [k, k],
            strides: [1, 1],
            pads: [p, p, p, p],
            dilations: [1, 1],
            group: 1,
        }
    }

    /// No padding, the given stride.
    pub fn valid(k: i64, stride: i64) -> Self {
        ConvAttrs {
            kernel: [k, k],
            strides: [stride, stride],
            pads: [0; 4],
            dilations: [1, 1],
            group: 1,
        }
    }

    fn attrs(&self) -> Vec<Attr> {
        vec![
            Attr::Ints("kernel_shape", self.kernel.to_vec()),
            Attr::Ints("strides", self.strides.to_vec()),
            Attr::Ints("pads", self.pads.to_vec()),
            Attr::Ints("dilations", self.dilations.to_vec()),
            Attr::Int("group", self.group),
        ]
    }
}

/// Builds one ONNX model.
#[derive(Debug, Clone)]
pub struct GraphBuilder {
    graph: pb::GraphProto,
    opset: i64,
    metadata: Vec<(String, String)>,
    doc: String,
    counter: usize,
}

fn value_info(name: &str, elem: ElemType, dims: &[Dim]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            denotation: String::new(),
            value: Some(match d {
                Dim::Fixed(v) => Value::DimValue(*v),
                Dim::Sym(s) => Value::DimParam(s.clone()),
            }),
        })
        .collect();
    pb::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: elem.code(),
                shape: Some(pb::TensorShapeProto { dim }),
            })),
        }),
        doc_string: String::new(),
    }
}

impl GraphBuilder {
    /// An empty graph called `name`, opset 17.
    pub fn new(name: &str) -> Self {
        GraphBuilder {
            graph: pb::GraphProto {
                name: name.to_string(),
                ..Default::default()
            },
            opset: 17,
            metadata: Vec::new(),
            doc: String::new(),
            counter: 0,
        }
    }

    /// Sets the default-domain opset version.
    pub fn opset(mut self, version: i64) -> Self {
        self.opset = version;
        self
    }

    /// Sets the model's documentation string.
    pub fn doc(&mut self, doc: &str) {
        self.doc = doc.to_string();
    }

    /// Adds a metadata property (`metadata_props`).
    pub fn metadata(&mut self, key: &str, value: &str) {
        self.metadata.push((key.to_string(), value.to_string()));
    }

    /// Declares a graph input and returns its name.
    pub fn input(&mut self, name: &str, elem: ElemType, dims: &[Dim]) -> String {
        self.graph.input.push(value_info(name, elem, dims));
        name.to_string()
    }

    /// Declares a graph output (an existing value) with its type and shape.
    pub fn output(&mut self, name: &str, elem: ElemType, dims: &[Dim]) {
        self.graph.output.push(value_info(name, elem, dims));
    }

    fn tensor(name: &str, dims: &[usize], elem: ElemType, raw: Vec<u8>) -> pb::TensorProto {
        pb::TensorProto {
            name: name.to_string(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: elem.code(),
            raw_data: raw,
            ..Default::default()
        }
    }

    fn check_len(name: &str, dims: &[usize], len: usize) {
        let n: usize = dims.iter().product();
        assert_eq!(
            n, len,
            "initializer {name}: shape {dims:?} needs {n} values, got {len}"
        );
    }

    /// Adds an f32 initializer (little-endian raw data) and returns its name.
    pub fn initializer_f32(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        Self::check_len(name, dims, data.len());
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph
            .initializer
            .push(Self::tensor(name, dims, ElemType::F32, raw));
        name.to_string()
    }

    /// Adds a u8 initializer and returns its name.
    pub fn initializer_u8(&mut self, name: &str, dims: &[usize], data: &[u8]) -> String {
        Self::check_len(name, dims, data.len());
        self.graph
            .initializer
            .push(Self::tensor(name, dims, ElemType::U8, data.to_vec()));
        name.to_string()
    }

    /// Adds an i8 initializer and returns its name.
    pub fn initializer_i8(&mut self, name: &str, dims: &[usize], data: &[i8]) -> String {
        Self::check_len(name, dims, data.len());
        self.graph.initializer.push(Self::tensor(
            name,
            dims,
            ElemType::I8,
            data.iter().map(|&v| v as u8).collect(),
        ));
        name.to_string()
    }

    /// Adds an i32 initializer and returns its name.
    pub fn initializer_i32(&mut self, name: &str, dims: &[usize], data: &[i32]) -> String {
        Self::check_len(name, dims, data.len());
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph
            .initializer
            .push(Self::tensor(name, dims, ElemType::I32, raw));
        name.to_string()
    }

    /// Adds an i64 initializer and returns its name.
    pub fn initializer_i64(&mut self, name: &str, dims: &[usize], data: &[i64]) -> String {
        Self::check_len(name, dims, data.len());
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph
            .initializer
            .push(Self::tensor(name, dims, ElemType::I64, raw));
        name.to_string()
    }

    /// A scalar f32 constant (an initializer of shape `[]`) with a generated name.
    pub fn scalar_f32(&mut self, value: f32) -> String {
        let name = self.fresh("const");
        self.initializer_f32(&name, &[], &[value])
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{}_{}", prefix.to_ascii_lowercase(), self.counter)
    }

    /// Adds a node with explicit output names.
    pub fn node_with_outputs(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: &[Attr],
    ) {
        let name = self.fresh(op);
        self.graph.node.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name,
            op_type: op.to_string(),
            domain: String::new(),
            attribute: attrs.iter().map(Attr::to_proto).collect(),
            doc_string: String::new(),
        });
    }

    /// Adds a single-output node and returns its output's (generated) name. An empty input
    /// name marks an omitted optional input.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: &[Attr]) -> String {
        let out = self.fresh(op);
        self.node_with_outputs(op, inputs, &[&out], attrs);
        out
    }

    /// Renames the output of the most recently added node (to give a graph output its name).
    pub fn rename_last_output(&mut self, name: &str) -> String {
        let node = self.graph.node.last_mut().expect("a node to rename");
        node.output[0] = name.to_string();
        name.to_string()
    }

    /// `Conv(x, w[, b])`.
    pub fn conv(&mut self, x: &str, w: &str, b: Option<&str>, a: &ConvAttrs) -> String {
        let mut inputs = vec![x, w];
        if let Some(b) = b {
            inputs.push(b);
        }
        self.node("Conv", &inputs, &a.attrs())
    }

    /// `Add(a, b)` (broadcasting).
    pub fn add(&mut self, a: &str, b: &str) -> String {
        self.node("Add", &[a, b], &[])
    }

    /// `Mul(a, b)` (broadcasting).
    pub fn mul(&mut self, a: &str, b: &str) -> String {
        self.node("Mul", &[a, b], &[])
    }

    /// `Sub(a, b)` (broadcasting).
    pub fn sub(&mut self, a: &str, b: &str) -> String {
        self.node("Sub", &[a, b], &[])
    }

    /// `Relu(x)`.
    pub fn relu(&mut self, x: &str) -> String {
        self.node("Relu", &[x], &[])
    }

    /// `Sigmoid(x)`.
    pub fn sigmoid(&mut self, x: &str) -> String {
        self.node("Sigmoid", &[x], &[])
    }

    /// `MaxPool` with a square kernel, stride and pads (top, left, bottom, right).
    pub fn max_pool(&mut self, x: &str, kernel: i64, stride: i64, pads: [i64; 4]) -> String {
        self.node(
            "MaxPool",
            &[x],
            &[
                Attr::Ints("kernel_shape", vec![kernel, kernel]),
                Attr::Ints("strides", vec![stride, stride]),
                Attr::Ints("pads", pads.to_vec()),
            ],
        )
    }

    /// `AveragePool` with a square kernel and stride, no padding.
    pub fn average_pool(&mut self, x: &str, kernel: i64, stride: i64) -> String {
        self.node(
            "AveragePool",
            &[x],
            &[
                Attr::Ints("kernel_shape", vec![kernel, kernel]),
                Attr::Ints("strides", vec![stride, stride]),
            ],
        )
    }

    /// `GlobalAveragePool(x)`.
    pub fn global_average_pool(&mut self, x: &str) -> String {
        self.node("GlobalAveragePool", &[x], &[])
    }

    /// `Pad(x, pads)` in constant mode with `value`; `pads` lists the begins of every axis,
    /// then the ends (ONNX order).
    pub fn pad_constant(&mut self, x: &str, pads: &[i64], value: f32) -> String {
        let p = self.fresh("pads");
        self.initializer_i64(&p, &[pads.len()], pads);
        let v = self.scalar_f32(value);
        self.node("Pad", &[x, &p, &v], &[Attr::Str("mode", "constant".into())])
    }

    /// `Concat(xs, axis)`.
    pub fn concat(&mut self, xs: &[&str], axis: i64) -> String {
        self.node("Concat", xs, &[Attr::Int("axis", axis)])
    }

    /// `Reshape(x, shape)` with a constant target shape (0 copies, −1 infers).
    pub fn reshape(&mut self, x: &str, shape: &[i64]) -> String {
        let s = self.fresh("shape");
        self.initializer_i64(&s, &[shape.len()], shape);
        self.node("Reshape", &[x, &s], &[])
    }

    /// `Transpose(x, perm)`.
    pub fn transpose(&mut self, x: &str, perm: &[i64]) -> String {
        self.node("Transpose", &[x], &[Attr::Ints("perm", perm.to_vec())])
    }

    /// `Resize(x, scales)` on NCHW with spatial scale factors, `mode` `nearest` or `linear`
    /// (half-pixel coordinates; nearest rounds down as PyTorch's `nearest` does).
    pub fn resize(&mut self, x: &str, scale_h: f32, scale_w: f32, mode: &str) -> String {
        let s = self.fresh("scales");
        self.initializer_f32(&s, &[4], &[1.0, 1.0, scale_h, scale_w]);
        let mut attrs = vec![Attr::Str("mode", mode.to_string())];
        if mode == "nearest" {
            attrs.push(Attr::Str(
                "coordinate_transformation_mode",
                "asymmetric".into(),
            ));
            attrs.push(Attr::Str("nearest_mode", "floor".into()));
        } else {
            attrs.push(Attr::Str(
                "coordinate_transformation_mode",
                "half_pixel".into(),
            ));
        }
        self.node("Resize", &[x, "", &s], &attrs)
    }

    /// `MatMul(a, b)`.
    pub fn matmul(&mut self, a: &str, b: &str) -> String {
        self.node("MatMul", &[a, b], &[])
    }

    /// `Cast(x, to)`.
    pub fn cast(&mut self, x: &str, to: ElemType) -> String {
        self.node("Cast", &[x], &[Attr::Int("to", to.code() as i64)])
    }

    /// `QuantizeLinear(x, scale, zero_point[, axis])`.
    pub fn quantize_linear(
        &mut self,
        x: &str,
        scale: &str,
        zero_point: &str,
        axis: Option<i64>,
    ) -> String {
        let attrs: Vec<Attr> = axis.map(|a| vec![Attr::Int("axis", a)]).unwrap_or_default();
        self.node("QuantizeLinear", &[x, scale, zero_point], &attrs)
    }

    /// `DequantizeLinear(x, scale, zero_point[, axis])`.
    pub fn dequantize_linear(
        &mut self,
        x: &str,
        scale: &str,
        zero_point: &str,
        axis: Option<i64>,
    ) -> String {
        let attrs: Vec<Attr> = axis.map(|a| vec![Attr::Int("axis", a)]).unwrap_or_default();
        self.node("DequantizeLinear", &[x, scale, zero_point], &attrs)
    }

    /// `QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp[, bias_i32])`.
    #[allow(clippy::too_many_arguments)]
    pub fn qlinear_conv(
        &mut self,
        x: &str,
        x_scale: &str,
        x_zp: &str,
        w: &str,
        w_scale: &str,
        w_zp: &str,
        y_scale: &str,
        y_zp: &str,
        bias: Option<&str>,
        a: &ConvAttrs,
    ) -> String {
        let mut inputs = vec![x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp];
        if let Some(b) = bias {
            inputs.push(b);
        }
        self.node("QLinearConv", &inputs, &a.attrs())
    }

    /// SHA-256 of the graph as built so far ([`super::graph_sha256`]): what the card of the
    /// model this builder writes must record. Metadata does not enter it.
    pub fn graph_sha256(&self) -> String {
        super::graph_sha256(&self.graph)
    }

    /// The finished `ModelProto`.
    pub fn finish(self) -> pb::ModelProto {
        pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
            }],
            producer_name: "lrpo".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            doc_string: self.doc,
            graph: Some(self.graph),
            metadata_props: self
                .metadata
                .into_iter()
                .map(|(key, value)| pb::StringStringEntryProto { key, value })
                .collect(),
            ..Default::default()
        }
    }

    /// The serialised model.
    pub fn to_bytes(self) -> Vec<u8> {
        self.finish().encode_to_vec()
    }

    /// Writes the model atomically.
    pub fn save(self, path: &Path) -> Result<()> {
        crate::fsio::write_atomic(path, &self.to_bytes())
    }
}

/// Reads the metadata properties of an ONNX file's bytes.
pub fn read_metadata(bytes: &[u8], label: &Path) -> Result<Vec<(String, String)>> {
    let m = pb::ModelProto::decode(bytes).map_err(|e| Error::Onnx {
        path: label.to_path_buf(),
        reason: format!("not an ONNX model: {e}"),
    })?;
    Ok(m.metadata_props
        .into_iter()
        .map(|p| (p.key, p.value))
        .collect())
}
