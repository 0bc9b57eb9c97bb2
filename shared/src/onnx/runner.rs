//! Running ONNX models with tract: load once, optimise once per input shape, run many times.

use crate::error::{Error, Result};
use ndarray::{ArrayD, ArrayViewD};
use prost::Message;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tract_onnx::pb;
use tract_onnx::prelude::*;

type Plan = Arc<TypedRunnableModel>;

/// One node's share of a run ([`OnnxModel::profile`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeTime {
    /// The node's name in tract's optimised plan.
    pub name: String,
    /// tract's operator (e.g. `OptMatMul`, `DirectSpatialConv`).
    pub op: String,
    /// tract's details on it (e.g. the matrix-multiplication kernel).
    pub info: String,
    /// Median milliseconds per run.
    pub ms: f64,
}

/// An ONNX model with f32 inputs and outputs, run by tract. Thread-safe: plans are shared.
pub struct OnnxModel {
    label: PathBuf,
    model: InferenceModel,
    inputs: Vec<String>,
    /// Declared input dims: `Some(n)` fixed, `None` symbolic or unknown.
    input_dims: Vec<Vec<Option<usize>>>,
    outputs: Vec<String>,
    metadata: Vec<(String, String)>,
    graph_sha256: String,
    plans: Mutex<HashMap<Vec<Vec<usize>>, Plan>>,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("path", &self.label)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .finish()
    }
}

/// The dims an ONNX graph input declares (`None` for symbolic or missing dims; an empty list
/// when no shape is declared at all).
fn declared_dims(info: &pb::ValueInfoProto) -> Vec<Option<usize>> {
    use pb::tensor_shape_proto::dimension::Value;
    let Some(pb::type_proto::Value::TensorType(t)) =
        info.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Vec::new();
    };
    let Some(shape) = &t.shape else {
        return Vec::new();
    };
    shape
        .dim
        .iter()
        .map(|d| match d.value {
            Some(Value::DimValue(v)) if v > 0 => Some(v as usize),
            _ => None,
        })
        .collect()
}

impl OnnxModel {
    /// Loads an ONNX file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::fsio::read(path)?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses ONNX bytes; `label` names the source in errors.
    pub fn from_bytes(bytes: &[u8], label: &Path) -> Result<Self> {
        let err = |reason: String| Error::Onnx {
            path: label.to_path_buf(),
            reason,
        };
        if bytes.is_empty() {
            return Err(err("the file is empty".into()));
        }
        let proto = pb::ModelProto::decode(bytes)
            .map_err(|e| err(format!("not an ONNX model (protobuf: {e})")))?;
        Self::from_proto(&proto, label)
    }

    /// Loads a decoded ONNX model; `label` names the source in errors.
    pub fn from_proto(proto: &pb::ModelProto, label: &Path) -> Result<Self> {
        let err = |reason: String| Error::Onnx {
            path: label.to_path_buf(),
            reason,
        };
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| err("the model has no graph".into()))?;
        let init: std::collections::HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let declared: Vec<&pb::ValueInfoProto> = graph
            .input
            .iter()
            .filter(|i| !init.contains(i.name.as_str()))
            .collect();
        let inputs: Vec<String> = declared.iter().map(|i| i.name.clone()).collect();
        let input_dims = declared.iter().map(|i| declared_dims(i)).collect();
        let outputs: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
        let metadata = proto
            .metadata_props
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        let graph_sha256 = super::graph_sha256(graph);
        let model = tract_onnx::onnx()
            .model_for_proto_model(proto)
            .map_err(|e| err(format!("tract cannot load it: {e:#}")))?;
        Ok(OnnxModel {
            label: label.to_path_buf(),
            model,
            inputs,
            input_dims,
            outputs,
            metadata,
            graph_sha256,
            plans: Mutex::new(HashMap::new()),
        })
    }

    /// The file the model came from.
    pub fn path(&self) -> &Path {
        &self.label
    }

    /// Graph input names, in order.
    pub fn input_names(&self) -> &[String] {
        &self.inputs
    }

    /// Declared input dims (`None` where symbolic), in input order.
    pub fn input_dims(&self) -> &[Vec<Option<usize>>] {
        &self.input_dims
    }

    /// Graph output names, in order.
    pub fn output_names(&self) -> &[String] {
        &self.outputs
    }

    /// SHA-256 of the model's graph ([`super::graph_sha256`]), what its card must record.
    pub fn graph_sha256(&self) -> &str {
        &self.graph_sha256
    }

    /// The model's metadata properties.
    pub fn metadata(&self) -> &[(String, String)] {
        &self.metadata
    }

    /// The optimised plan for these input shapes, built on first use and cached.
    pub fn plan(&self, shapes: &[Vec<usize>]) -> Result<Plan> {
        let err = |reason: String| Error::Onnx {
            path: self.label.clone(),
            reason,
        };
        if shapes.len() != self.inputs.len() {
            return Err(err(format!(
                "expects {} inputs ({:?}), got {}",
                self.inputs.len(),
                self.inputs,
                shapes.len()
            )));
        }
        for ((name, dims), s) in self.inputs.iter().zip(&self.input_dims).zip(shapes) {
            let fits = dims.is_empty()
                || (dims.len() == s.len()
                    && dims.iter().zip(s).all(|(d, v)| d.is_none_or(|d| d == *v)));
            if !fits {
                let want: Vec<String> = dims
                    .iter()
                    .map(|d| d.map_or("?".to_string(), |v| v.to_string()))
                    .collect();
                return Err(err(format!(
                    "input {name:?} expects shape [{}], got {s:?}",
                    want.join(", ")
                )));
            }
        }
        if let Some(p) = self.plans.lock().expect("plan cache").get(shapes) {
            return Ok(Arc::clone(p));
        }
        let mut m = self.model.clone();
        for (i, s) in shapes.iter().enumerate() {
            m = m
                .with_input_fact(i, InferenceFact::dt_shape(f32::datum_type(), s.as_slice()))
                .map_err(|e| {
                    err(format!(
                        "input {:?} cannot take shape {s:?}: {e:#}",
                        self.inputs[i]
                    ))
                })?;
        }
        let plan = m
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| err(format!("cannot prepare for input shapes {shapes:?}: {e:#}")))?;
        self.plans
            .lock()
            .expect("plan cache")
            .insert(shapes.to_vec(), Arc::clone(&plan));
        Ok(plan)
    }

    /// One line per node of the optimised plan for these shapes: `name: op (details)`, where the
    /// details include the matrix-multiplication kernel tract chose (e.g. an `i32` kernel for
    /// integer convolutions). For checking what actually runs.
    pub fn plan_summary(&self, shapes: &[Vec<usize>]) -> Result<Vec<String>> {
        let plan = self.plan(shapes)?;
        let model = plan.model();
        Ok(model
            .nodes()
            .iter()
            .map(|n| {
                let info = n.op.info().map(|v| v.join("; ")).unwrap_or_default();
                format!("{}: {} ({info})", n.name, n.op.name())
            })
            .collect())
    }

    /// Multiply-accumulate operations of one run on these input shapes, as tract's cost model
    /// counts them (convolutions and matrix products; element-wise work is not counted). FLOPs
    /// are about twice this.
    pub fn fma_count(&self, shapes: &[Vec<usize>]) -> Result<u64> {
        let err = |reason: String| Error::Onnx {
            path: self.label.clone(),
            reason,
        };
        let mut m = self.model.clone();
        for (i, s) in shapes.iter().enumerate() {
            m = m
                .with_input_fact(i, InferenceFact::dt_shape(f32::datum_type(), s.as_slice()))
                .map_err(|e| err(format!("{e:#}")))?;
        }
        let typed = m
            .into_typed()
            .and_then(|m| m.into_decluttered())
            .map_err(|e| err(format!("cannot type the model: {e:#}")))?;
        let mut total = 0u64;
        for id in typed.eval_order().map_err(|e| err(format!("{e:#}")))? {
            let node = typed.node(id);
            let facts = typed
                .node_input_facts(id)
                .map_err(|e| err(format!("{e:#}")))?;
            for (cost, n) in node.op.cost(&facts).map_err(|e| err(format!("{e:#}")))? {
                if let tract_onnx::tract_core::ops::Cost::FMA(_) = cost {
                    total += n
                        .to_i64()
                        .map_err(|e| err(format!("symbolic cost: {e:#}")))?
                        as u64;
                }
            }
        }
        Ok(total)
    }

    /// Time per node of the optimised plan for these inputs: one untimed run, then `runs`
    /// timed ones; per node the median over runs, in plan order. Nodes that cost nothing
    /// (constants, sources) are listed with their time too, so the rows add up to a run.
    pub fn profile(&self, inputs: &[ArrayViewD<f32>], runs: usize) -> Result<Vec<NodeTime>> {
        let err = |reason: String| Error::Onnx {
            path: self.label.clone(),
            reason,
        };
        let shapes: Vec<Vec<usize>> = inputs.iter().map(|a| a.shape().to_vec()).collect();
        let plan = self.plan(&shapes)?;
        let model = plan.model();
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); model.nodes().len()];
        let mut state = plan.spawn().map_err(|e| err(format!("{e:#}")))?;
        for run in 0..=runs {
            let tv: TVec<TValue> = inputs
                .iter()
                .map(|a| Tensor::from(a.to_owned()).into_tvalue())
                .collect();
            state
                .run_plan_with_eval(tv, |ctx, st, node, input| {
                    let t = std::time::Instant::now();
                    let out = tract_onnx::tract_core::plan::eval(ctx, st, node, input);
                    if run > 0 {
                        times[node.id].push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    out
                })
                .map_err(|e| err(format!("run failed: {e:#}")))?;
        }
        Ok(model
            .nodes()
            .iter()
            .zip(times.iter_mut())
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| {
                v.sort_by(f64::total_cmp);
                NodeTime {
                    name: n.name.clone(),
                    op: n.op.name().to_string(),
                    info: n.op.info().map(|v| v.join("; ")).unwrap_or_default(),
                    ms: v[v.len() / 2],
                }
            })
            .collect())
    }

    /// Runs the model on f32 inputs and returns its f32 outputs.
    pub fn run(&self, inputs: &[ArrayViewD<f32>]) -> Result<Vec<ArrayD<f32>>> {
        let shapes: Vec<Vec<usize>> = inputs.iter().map(|a| a.shape().to_vec()).collect();
        let plan = self.plan(&shapes)?;
        let tv: TVec<TValue> = inputs
            .iter()
            .map(|a| Tensor::from(a.to_owned()).into_tvalue())
            .collect();
        let out = plan.run(tv).map_err(|e| Error::Onnx {
            path: self.label.clone(),
            reason: format!("run failed: {e:#}"),
        })?;
        out.into_iter()
            .map(|t| {
                t.to_plain_array_view::<f32>()
                    .map(|v| v.to_owned())
                    .map_err(|e| Error::Onnx {
                        path: self.label.clone(),
                        reason: format!("output is not f32: {e:#}"),
                    })
            })
            .collect()
    }
}
