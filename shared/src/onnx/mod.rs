//! ONNX support (feature `onnx`): face detection ([`detect`]), a graph writer over tract's protobuf types ([`writer`]), graph rewrites that tract runs faster ([`rewrite`]), a
//! tract runner with a plan cache per input shape ([`runner`]), and the face-identity network
//! used as a reward component and metric ([`identity`]), and the scorers a reward spec's model
//! components need ([`scorers`]), and the one-step student's graph ([`student`]).

pub mod detect;
pub mod identity;
pub mod rewrite;
pub mod runner;
pub mod scorers;
pub mod student;
pub mod writer;

pub use runner::OnnxModel;
pub use writer::{Attr, Dim, ElemType, GraphBuilder};

/// SHA-256 (lowercase hex) of an ONNX graph's protobuf bytes: what
/// [`PolicyCard::graph_sha256`] records. The same graph gives the same hash whether it is
/// hashed as built ([`GraphBuilder::graph_sha256`]) or as decoded from the file
/// ([`OnnxModel::graph_sha256`]): prost's encoding is canonical.
pub fn graph_sha256(graph: &tract_onnx::pb::GraphProto) -> String {
    use prost::Message;
    use sha2::Digest;
    sha2::Sha256::digest(graph.encode_to_vec())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads and decodes an ONNX file (the protobuf only; nothing is checked or optimised).
pub fn read_model(path: &Path) -> Result<tract_onnx::pb::ModelProto> {
    use prost::Message;
    let bytes = crate::fsio::read(path)?;
    tract_onnx::pb::ModelProto::decode(bytes.as_slice()).map_err(|e| Error::Onnx {
        path: path.to_path_buf(),
        reason: format!("not an ONNX model (protobuf: {e})"),
    })
}

/// [`graph_sha256`] of an ONNX file's graph.
pub fn graph_sha256_file(path: &Path) -> Result<String> {
    Ok(graph_sha256(&read_model(path)?.graph.unwrap_or_default()))
}

use crate::card::{Layout, ModelKind, PolicyCard};
use crate::error::{Error, Result};
use std::path::Path;

/// Checks that a policy card describes the ONNX model it sits beside: RGB NCHW, the input and
/// output names its kind requires (`lq` → `restored` for one-step policies; `x_t`, `t`, `lq` →
/// `eps` style for ε-models), and fixed spatial dims, where the graph has them, equal to the
/// card's size.
pub fn check_card(card: &PolicyCard, model: &OnnxModel) -> Result<()> {
    let bad = |reason: String| {
        Err(Error::Card {
            path: model.path().with_extension("card"),
            reason,
        })
    };
    if card.graph_sha256.is_empty() {
        return bad(
            "the card (format 1) does not carry its model's graph hash, so it cannot be tied to \
             this model; re-export the model with lrpo-train export"
                .into(),
        );
    }
    if card.graph_sha256 != model.graph_sha256() {
        return bad(format!(
            "the card was made for another model: it records graph SHA-256 {}…, this model's is \
             {}… (a card swapped between models, or altered weights)",
            card.graph_sha256.chars().take(12).collect::<String>(),
            model.graph_sha256().chars().take(12).collect::<String>()
        ));
    }
    if card.input.channels != 3 {
        return bad(format!(
            "card says {} channels; only RGB (3) is supported",
            card.input.channels
        ));
    }
    if card.input.layout != Layout::Nchw {
        return bad(format!(
            "card layout {:?} is not supported",
            card.input.layout
        ));
    }
    if card.input.size == 0 || card.input.size > crate::card::MAX_CARD_SIZE {
        return bad(format!(
            "card input size {} is outside 1..={} px",
            card.input.size,
            crate::card::MAX_CARD_SIZE
        ));
    }
    if let Some(s) = &card.sampling
        && (s.steps == 0 || s.steps > crate::card::MAX_CARD_STEPS)
    {
        return bad(format!(
            "card sampling steps {} are outside 1..={}",
            s.steps,
            crate::card::MAX_CARD_STEPS
        ));
    }
    let want: &[&str] = match card.kind {
        ModelKind::OneStep => &["lq"],
        ModelKind::Epsilon => &["x_t", "t", "lq"],
    };
    if !card
        .input
        .input_names
        .iter()
        .map(String::as_str)
        .eq(want.iter().copied())
    {
        return bad(format!(
            "a {:?} policy has inputs {want:?}; the card lists {:?}",
            card.kind, card.input.input_names
        ));
    }
    if model.input_names() != card.input.input_names.as_slice() {
        return bad(format!(
            "the model's inputs are {:?}, the card lists {:?}",
            model.input_names(),
            card.input.input_names
        ));
    }
    if model.output_names().first() != Some(&card.input.output_name) {
        return bad(format!(
            "the model's outputs are {:?}, the card names {:?}",
            model.output_names(),
            card.input.output_name
        ));
    }
    for (name, dims) in model.input_names().iter().zip(model.input_dims()) {
        if name == "t" {
            continue;
        }
        if dims.len() != 4 {
            return bad(format!(
                "input {name:?} has rank {}, expected NCHW",
                dims.len()
            ));
        }
        if dims[1].is_some_and(|d| d != 3) {
            return bad(format!(
                "input {name:?} has {:?} channels, the card says 3",
                dims[1]
            ));
        }
        for (axis, d) in [(2, dims[2]), (3, dims[3])] {
            if let Some(d) = d
                && d != card.input.size as usize
            {
                return bad(format!(
                    "input {name:?} axis {axis} is fixed at {d}, the card says {}",
                    card.input.size
                ));
            }
        }
    }
    Ok(())
}
