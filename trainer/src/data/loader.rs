//! Batches of a step, pure functions of the seed and the step, prepared on a background thread.

use super::{DataConfig, FaceSet, make_sample};
use crate::error::{Error, Result};
use crate::tensor::model_values;
use lrpo_shared::degrade::DegradePreset;
use lrpo_shared::rng::Rng;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// A batch in the model's range [−1, 1], `N × 3 × R × R` values each.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Step this batch belongs to.
    pub step: u64,
    /// HQ images, flattened NCHW, in [−1, 1].
    pub hq: Vec<f32>,
    /// LQ images, flattened NCHW, in [−1, 1].
    pub lq: Vec<f32>,
    /// Batch size.
    pub n: usize,
    /// Side in pixels.
    pub size: usize,
}

/// Stream seed for sample draws (kept apart from other uses of the run seed).
const SAMPLE_STREAM: u64 = 0x5A4D_91E5_0000_9E37;

/// The index of the training image used by sample `p` (epoch-wise shuffles).
pub fn image_for_sample(seed: u64, p: u64, n: usize) -> usize {
    let epoch = p / n as u64;
    let mut order: Vec<usize> = (0..n).collect();
    let mut r = Rng::derive(seed ^ 0xE90C, epoch);
    for i in (1..n).rev() {
        let j = r.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order[(p % n as u64) as usize]
}

/// Builds the batch of a step (pure: depends only on the data, the seed and the step).
pub fn batch_for_step(
    set: &FaceSet,
    cfg: &DataConfig,
    preset: &DegradePreset,
    seed: u64,
    step: u64,
    batch: usize,
) -> Result<Batch> {
    let r = cfg.resolution;
    let per = 3 * r * r;
    let (mut hq, mut lq) = (
        Vec::with_capacity(batch * per),
        Vec::with_capacity(batch * per),
    );
    for i in 0..batch {
        let p = step * batch as u64 + i as u64;
        let face = &set.train[image_for_sample(seed, p, set.train.len())];
        let mut rng = Rng::derive(seed ^ SAMPLE_STREAM, p);
        let s = make_sample(face, &cfg.augment, preset, &mut rng)?;
        hq.extend(model_values([&s.hq]));
        lq.extend(model_values([&s.lq]));
    }
    Ok(Batch {
        step,
        hq,
        lq,
        n: batch,
        size: r,
    })
}

/// Prepares batches on a background thread so the device never waits for JPEG and blur.
pub struct Loader {
    rx: Receiver<Result<Batch>>,
    _worker: std::thread::JoinHandle<()>,
}

impl Loader {
    /// Starts producing the batches of steps `start..end`.
    pub fn spawn(
        set: FaceSet,
        cfg: DataConfig,
        seed: u64,
        start: u64,
        end: u64,
        batch: usize,
    ) -> Result<Self> {
        let preset = DegradePreset::by_name(&cfg.preset)?;
        preset.validate()?;
        let (tx, rx): (SyncSender<Result<Batch>>, _) = sync_channel(cfg.prefetch.max(1));
        let worker = std::thread::Builder::new()
            .name("lrpo-data".into())
            .spawn(move || {
                for step in start..end {
                    let b = batch_for_step(&set, &cfg, &preset, seed, step, batch);
                    let failed = b.is_err();
                    if tx.send(b).is_err() || failed {
                        return;
                    }
                }
            })
            .map_err(|e| Error::backend("starting the data loader thread", e.to_string()))?;
        Ok(Loader {
            rx,
            _worker: worker,
        })
    }

    /// The next batch, in step order.
    pub fn next_batch(&self) -> Result<Batch> {
        self.rx.recv().map_err(|_| {
            Error::backend("reading the next batch", "the data loader thread stopped")
        })?
    }
}
