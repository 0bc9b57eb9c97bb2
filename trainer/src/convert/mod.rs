//! Converters from third-party model formats to the ONNX files the project runs.

pub mod face_descriptor;
pub mod tfjs;
