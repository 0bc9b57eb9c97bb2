//! The teacher-labelled pool: training pairs restored once by the teacher and cached on disk.

use super::POOL_STREAM;
use crate::config::RunConfig;
use crate::data::{FaceSet, image_for_sample, make_sample};
use crate::diffusion::ddim_sample;
use crate::error::{Error, Result};
use crate::evaluate::load_policy;
use crate::model::ops::PolicyBackend;
use crate::tensor::model_values;
use crate::tensor::{tensor4, to_image};
use lrpo_shared::degrade::DegradePreset;
use lrpo_shared::image::{load_rgb, save_rgb};
use lrpo_shared::rng::Rng;
use lrpo_shared::schedule::NoiseSchedule;
use ndarray::Array3;
use std::path::Path;
use std::time::Instant;

const TEACHER_STREAM: u64 = 0x0000_7EAC_0000_000C;

/// The teacher-labelled pool.
pub struct Pool {
    /// LQ inputs, [0, 1].
    pub lq: Vec<Array3<f32>>,
    /// Teacher restorations, [0, 1] (8-bit values, as cached).
    pub teacher: Vec<Array3<f32>>,
    /// Ground truth, [0, 1].
    pub gt: Vec<Array3<f32>>,
}

/// Builds (or loads from the cache) the teacher-labelled pool.
pub fn teacher_pool<B: PolicyBackend>(
    cfg: &RunConfig,
    teacher: &Path,
    set: &FaceSet,
    run: &Path,
    device: &B::Device,
) -> Result<(Pool, f64)> {
    let d = &cfg.distill;
    let preset = DegradePreset::by_name(&cfg.data.preset)?;
    let (_, model, what) = load_policy::<B>(teacher, device)?;
    let (teacher_steps, teacher_eta) = cfg.teacher_sampling();
    let key = serde_json::json!({"teacher": teacher, "policy": what, "steps": teacher_steps, "eta": teacher_eta, "seed": d.teacher_seed, "pool": d.pool, "pool_seed": d.seed, "data": cfg.data, "faces": set.train.iter().map(|f| &f.name).collect::<Vec<_>>(), "clip_x0": cfg.sampling.clip_x0});
    let cache = run.join("teacher");
    let mut pool = Pool {
        lq: Vec::new(),
        teacher: Vec::new(),
        gt: Vec::new(),
    };
    let mut samples = Vec::new();
    for p in 0..d.pool {
        let face = &set.train[image_for_sample(d.seed ^ POOL_STREAM, p as u64, set.train.len())];
        let s = make_sample(
            face,
            &cfg.data.augment,
            &preset,
            &mut Rng::derive(d.seed ^ POOL_STREAM, p as u64),
        )?;
        samples.push(s);
    }
    let key_path = cache.join("key.json");
    let cached = key_path.exists()
        && std::fs::read(&key_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            == Some(key.clone())
        && (0..d.pool).all(|p| cache.join(format!("{p:05}.png")).exists());
    let t0 = Instant::now();
    if cached {
        for (p, s) in samples.into_iter().enumerate() {
            pool.teacher
                .push(load_rgb(&cache.join(format!("{p:05}.png")))?);
            pool.lq.push(s.lq);
            pool.gt.push(s.hq);
        }
        return Ok((pool, 0.0));
    }
    let _ = std::fs::remove_dir_all(&cache);
    std::fs::create_dir_all(&cache).map_err(|e| Error::io(&cache, "cannot create", e))?;
    let schedule = NoiseSchedule::new(cfg.schedule.clone())?;
    let r = cfg.data.resolution;
    let mut progress =
        lrpo_shared::progress::Progress::new(d.pool.div_ceil(d.teacher_batch.max(1)));
    for (bi, chunk) in samples.chunks(d.teacher_batch.max(1)).enumerate() {
        let lq = model_values(chunk.iter().map(|s| &s.lq));
        let x = ddim_sample(
            &model,
            &schedule,
            tensor4::<B>(lq, chunk.len(), r, device),
            teacher_steps,
            teacher_eta,
            cfg.sampling.clip_x0,
            &mut Rng::derive(d.teacher_seed ^ TEACHER_STREAM, bi as u64),
        )?;
        for (i, s) in chunk.iter().enumerate() {
            let p = bi * d.teacher_batch.max(1) + i;
            let y = lrpo_shared::image::quantize_u8(&to_image(&x, i)?.view())?;
            save_rgb(&cache.join(format!("{p:05}.png")), &y.view())?;
            pool.teacher.push(y);
            pool.lq.push(s.lq.clone());
            pool.gt.push(s.hq.clone());
        }
        progress.tick(&format!("teacher batch {}", bi + 1));
    }
    lrpo_shared::fsio::write_atomic(&key_path, serde_json::to_string_pretty(&key)?.as_bytes())?;
    Ok((pool, t0.elapsed().as_secs_f64()))
}
