//! The student's parameters as the ONNX writer takes them, and a distillation run's student.

use crate::checkpoint;
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::model::student::{Student, init};
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use std::collections::HashMap;
use std::path::Path;

/// The student's convolutions by layer name.
pub fn layer<'a, B: Backend>(s: &'a Student<B>, name: &str) -> Option<&'a Conv2d<B>> {
    Some(match name {
        "conv_in" => &s.conv_in,
        "down1" => &s.down1,
        "down2" => &s.down2,
        "proj1" => &s.proj1,
        "dec1" => &s.dec1,
        "proj0" => &s.proj0,
        "dec0" => &s.dec0,
        "conv_out" => &s.conv_out,
        _ => {
            let (b, which) = name.strip_prefix("mid")?.split_once('.')?;
            let block = s.mid.get(b.parse::<usize>().ok()?)?;
            match which {
                "conv1" => &block.conv1,
                "conv2" => &block.conv2,
                _ => return None,
            }
        }
    })
}

/// A tensor's values as f32, in row-major order.
pub(crate) fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(Error::tensor_data)
}

/// Every parameter of the student as `{layer}.weight` (OIHW) / `{layer}.bias`.
pub fn parameters<B: Backend>(
    s: &Student<B>,
    cfg: &RunConfig,
) -> Result<HashMap<String, Vec<f32>>> {
    let mut p = HashMap::new();
    for l in cfg.distill.student.layers() {
        let c = layer(s, &l.name)
            .ok_or_else(|| Error::model("student", format!("no layer {}", l.name)))?;
        p.insert(format!("{}.weight", l.name), values(c.weight.val())?);
        let bias = match &c.bias {
            Some(b) => values(b.val())?,
            None => vec![0.0; l.cout],
        };
        p.insert(format!("{}.bias", l.name), bias);
    }
    Ok(p)
}

/// Loads a distillation run's student.
pub fn load_student<B: Backend>(
    run: &Path,
    device: &B::Device,
) -> Result<(RunConfig, Student<B>, u64)> {
    let cfg = RunConfig::load(&run.join("config.toml"))?;
    let mut ck = checkpoint::load_latest(run)?.ok_or_else(|| Error::run(run, "no checkpoint"))?;
    let s: Student<B> = init(&cfg.distill.student, device);
    let s = s.load_record(ck.record::<B, _>("model.mpk", device)?);
    Ok((cfg, s, ck.state.step))
}
