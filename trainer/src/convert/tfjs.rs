//! Reading TensorFlow.js layers-format weights: a JSON manifest and binary shards.
//!
//! The manifest is a list of groups `{ "paths": [shard, ...], "weights": [entry, ...] }`; the
//! group's shards are concatenated and its entries read in order. An entry with a
//! `quantization` of dtype `uint8` holds `prod(shape)` bytes that decode as
//! `q·scale + min`; any other entry holds `prod(shape)` little-endian float32 values.

use crate::error::{Error, Result, ensure_or};
use serde::Deserialize;
use std::path::Path;

/// One tensor's stored values.
#[derive(Debug, Clone, PartialEq)]
pub enum TfjsData {
    /// uint8 codes with their per-tensor affine decoding `value = q·scale + min`.
    Quantized {
        /// The codes.
        q: Vec<u8>,
        /// Step between codes.
        scale: f32,
        /// Value of code 0.
        min: f32,
    },
    /// Plain float32 values.
    F32(Vec<f32>),
}

/// A named weight tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TfjsTensor {
    /// Manifest name (e.g. `conv32_1/conv1/conv/filters`).
    pub name: String,
    /// Shape as stored (filters are HWIO).
    pub shape: Vec<usize>,
    /// The values.
    pub data: TfjsData,
}

impl TfjsTensor {
    /// The decoded float values.
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            TfjsData::Quantized { q, scale, min } => {
                q.iter().map(|&v| v as f32 * scale + min).collect()
            }
            TfjsData::F32(v) => v.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Group {
    paths: Vec<String>,
    weights: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    quantization: Option<Quant>,
}

#[derive(Deserialize)]
struct Quant {
    dtype: String,
    scale: f32,
    min: f32,
}

/// Reads every tensor of a manifest, its shards resolved relative to the manifest's folder.
/// Fails if a shard is missing, the bytes do not add up exactly, or a dtype is unsupported.
pub fn read_manifest(manifest: &Path) -> Result<Vec<TfjsTensor>> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| Error::io(manifest, "cannot read manifest", e))?;
    let groups: Vec<Group> = serde_json::from_str(&text)
        .map_err(|e| Error::format(manifest, format!("not a TF.js weights manifest: {e}")))?;
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for g in groups {
        let mut bytes = Vec::new();
        for p in &g.paths {
            let path = dir.join(p);
            bytes.extend(
                std::fs::read(&path)
                    .map_err(|e| Error::io(&path, "cannot read weight shard", e))?,
            );
        }
        let mut pos = 0usize;
        for e in g.weights {
            ensure_or!(
                e.dtype == "float32",
                Error::format(
                    manifest,
                    format!(
                        "tensor {} has dtype {}, only float32 is supported",
                        e.name, e.dtype
                    )
                )
            );
            let n: usize = e.shape.iter().product();
            let data = match e.quantization {
                Some(q) if q.dtype == "uint8" => {
                    ensure_or!(
                        pos + n <= bytes.len(),
                        Error::format(manifest, format!("shard ends inside {}", e.name))
                    );
                    let q_bytes = bytes[pos..pos + n].to_vec();
                    pos += n;
                    TfjsData::Quantized {
                        q: q_bytes,
                        scale: q.scale,
                        min: q.min,
                    }
                }
                Some(q) => {
                    return Err(Error::format(
                        manifest,
                        format!(
                            "tensor {} uses {} quantization, only uint8 is supported",
                            e.name, q.dtype
                        ),
                    ));
                }
                None => {
                    ensure_or!(
                        pos + 4 * n <= bytes.len(),
                        Error::format(manifest, format!("shard ends inside {}", e.name))
                    );
                    let v = bytes[pos..pos + 4 * n]
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    pos += 4 * n;
                    TfjsData::F32(v)
                }
            };
            out.push(TfjsTensor {
                name: e.name,
                shape: e.shape,
                data,
            });
        }
        ensure_or!(
            pos == bytes.len(),
            Error::format(
                manifest,
                format!(
                    "{} bytes of weights left over after the last tensor",
                    bytes.len() - pos
                )
            )
        );
    }
    Ok(out)
}

/// Reorders a 4-D HWIO tensor's elements to OIHW (works on any element type).
pub fn hwio_to_oihw<T: Copy>(data: &[T], shape: &[usize]) -> Vec<T> {
    let (kh, kw, ci, co) = (shape[0], shape[1], shape[2], shape[3]);
    let mut out = Vec::with_capacity(data.len());
    for o in 0..co {
        for i in 0..ci {
            for y in 0..kh {
                for x in 0..kw {
                    out.push(data[((y * kw + x) * ci + i) * co + o]);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hwio_to_oihw_moves_each_element() {
        let shape = [2, 3, 4, 5];
        let data: Vec<usize> = (0..120).collect();
        let out = hwio_to_oihw(&data, &shape);
        // element (o=4, i=3, y=1, x=2) comes from HWIO index ((1*3+2)*4+3)*5+4.
        assert_eq!(
            out[((4 * 4 + 3) * 2 + 1) * 3 + 2],
            ((3 + 2) * 4 + 3) * 5 + 4
        );
    }

    #[test]
    fn reads_quantized_and_float_tensors_and_checks_sizes() {
        let dir = std::env::temp_dir().join(format!("lrpo-tfjs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = r#"[{"paths":["w.bin"],"weights":[
            {"name":"a","shape":[2,2],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.5,"min":-1.0}},
            {"name":"b","shape":[2],"dtype":"float32"}]}]"#;
        std::fs::write(dir.join("m.json"), manifest).unwrap();
        let mut bin = vec![0u8, 1, 2, 4];
        bin.extend(1.5f32.to_le_bytes());
        bin.extend((-2.0f32).to_le_bytes());
        std::fs::write(dir.join("w.bin"), &bin).unwrap();
        let t = read_manifest(&dir.join("m.json")).unwrap();
        assert_eq!(t[0].to_f32(), vec![-1.0, -0.5, 0.0, 1.0]);
        assert_eq!(t[1].to_f32(), vec![1.5, -2.0]);
        bin.push(0);
        std::fs::write(dir.join("w.bin"), &bin).unwrap();
        let e = read_manifest(&dir.join("m.json")).unwrap_err().to_string();
        assert!(e.contains("left over"), "{e}");
        std::fs::write(dir.join("w.bin"), &bin[..6]).unwrap();
        let e = read_manifest(&dir.join("m.json")).unwrap_err().to_string();
        assert!(e.contains("ends inside b"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
