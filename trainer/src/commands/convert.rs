//! `lrpo-train convert`: turn third-party models into the ONNX files the project runs.

use anyhow::{Context, Result, ensure};
use clap::{Args, Subcommand};
use lrpo_shared::onnx::OnnxModel;
use lrpo_trainer::convert::{face_descriptor, tfjs};
use std::path::PathBuf;

/// Arguments of `lrpo-train convert`.
#[derive(Args, Debug)]
pub struct ConvertArgs {
    #[command(subcommand)]
    pub what: ConvertWhat,
}

/// What to convert.
#[derive(Subcommand, Debug)]
pub enum ConvertWhat {
    /// The face-api.js / dlib ResNet face descriptor (TF.js manifest + shard) to ONNX, keeping
    /// its uint8 weights quantised. Input `chip` [N,3,150,150] RGB in [0,1], output
    /// `descriptor` [N,128].
    FaceDescriptor {
        /// The TF.js weights manifest (`face_recognition_model-weights_manifest.json`); its
        /// shards are read from the same folder.
        #[arg(long)]
        manifest: PathBuf,
        /// Output ONNX file.
        #[arg(short, long, default_value = "models/face_descriptor.onnx")]
        out: PathBuf,
    },
}

/// Runs the conversion, then loads the written file in tract and runs it once as a check.
pub fn run(args: &ConvertArgs) -> Result<()> {
    match &args.what {
        ConvertWhat::FaceDescriptor { manifest, out } => {
            let tensors = tfjs::read_manifest(manifest)?;
            let n = tensors.len();
            let g =
                face_descriptor::build(tensors).context("building the face-descriptor graph")?;
            g.save(out)?;
            let model = OnnxModel::load(out)?;
            let chip = ndarray::ArrayD::<f32>::from_elem(
                vec![1, 3, face_descriptor::CHIP, face_descriptor::CHIP],
                0.5,
            );
            let d = model.run(&[chip.view()])?;
            ensure!(
                d[0].shape() == [1, 128],
                "{}: output has shape {:?}, expected [1, 128]",
                out.display(),
                d[0].shape()
            );
            ensure!(
                d[0].iter().all(|v| v.is_finite()),
                "{}: output is not finite",
                out.display()
            );
            let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
            println!(
                "wrote {} ({n} tensors, {:.2} MB); checked in tract: [1, 128] descriptor",
                out.display(),
                size as f64 / 1e6
            );
            Ok(())
        }
    }
}
