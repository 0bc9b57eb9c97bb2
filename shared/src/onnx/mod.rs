//! ONNX support (feature `onnx`): face detection ([`detect`]), a graph writer over tract's protobuf types ([`writer`]), a
//! tract runner with a plan cache per input shape ([`runner`]), and the face-identity network
//! used as a reward component and metric ([`identity`]), and the scorers a reward spec's model
//! components need ([`scorers`]), and the one-step student's graph ([`student`]).

pub mod detect;
pub mod identity;
pub mod runner;
pub mod scorers;
pub mod student;
pub mod writer;

pub use runner::OnnxModel;
pub use writer::{Attr, Dim, ElemType, GraphBuilder};
