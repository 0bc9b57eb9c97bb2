//! Evaluation sets.
//!
//! - **HQ folder** (default): every PNG/JPEG face (aligned crop) is resized to the evaluation
//!   size and degraded with a preset and seed (`per_face` times, each with its own sub-stream:
//!   face i, degradation r uses sub-stream `i·per_face + r`); the LQ, its small
//!   (pre-upsampling) version and
//!   the sampled parameters are cached as files under `REPORT/lq/`, and reused byte for byte
//!   when the same preset, seed and size are asked for again. Every method sees these bytes.
//! - **Pairs**: `DIR/lq/` and `DIR/gt/` with the same file names (CelebA-Test style).
//! - **LQ only**: `DIR/lq/` without `gt/` (real degraded photos): no-reference metrics only.

use anyhow::{Context, Result, bail};
use lrpo_shared::degrade::{DegradeParams, DegradePreset, degrade_full};
use lrpo_shared::image::{load_rgb, quantize_u8, save_rgb};
use lrpo_shared::resize::{Filter, resize, resize_antialiased};
use lrpo_shared::rng::Rng;
use ndarray::{Array3, s};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One evaluation item.
#[derive(Debug, Clone)]
pub struct Item {
    /// Name (file stem).
    pub name: String,
    /// The LQ input, RGB [0, 1].
    pub lq: Array3<f32>,
    /// The LQ before upsampling (for the bicubic baseline), when known.
    pub lq_small: Option<Array3<f32>>,
    /// Ground truth, when there is one.
    pub gt: Option<Array3<f32>>,
}

/// The kind of set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetKind {
    /// HQ faces degraded here.
    Synthetic,
    /// LQ/GT pairs.
    Pairs,
    /// LQ only.
    LqOnly,
}

/// A loaded evaluation set (and the files that could not be used).
#[derive(Debug)]
pub struct EvalSet {
    /// What it is.
    pub kind: SetKind,
    /// The items, in name order.
    pub items: Vec<Item>,
    /// Skipped files and why.
    pub skipped: Vec<(PathBuf, String)>,
}

fn images_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && crate::inputs::is_image_path(p))
        .collect();
    v.sort();
    Ok(v)
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// Square centre crop resized to `size` (antialiased when shrinking, bicubic when enlarging).
pub fn fit(img: &Array3<f32>, size: usize) -> Result<Array3<f32>> {
    let (_, h, w) = img.dim();
    let side = h.min(w);
    let sq = img.slice(s![
        ..,
        (h - side) / 2..(h - side) / 2 + side,
        (w - side) / 2..(w - side) / 2 + side
    ]);
    let out = if side == size {
        sq.to_owned()
    } else if side > size {
        resize_antialiased(&sq, size, size)?
    } else {
        resize(&sq, size, size, Filter::Bicubic)?
    };
    Ok(quantize_u8(&out.mapv(|v| v.clamp(0.0, 1.0)).view())?)
}

/// What is cached beside each LQ.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Cached {
    source: String,
    size: usize,
    seed: u64,
    index: usize,
    params: DegradeParams,
}

/// Degradation number `index` (sub-stream of `seed`) of the HQ face `hq` read from `source`,
/// as item `name`: reused from `cache` when the cached parameters match, else made and cached.
#[allow(clippy::too_many_arguments)]
fn degraded_item(
    source: &Path,
    hq: &Array3<f32>,
    name: String,
    index: usize,
    preset: &DegradePreset,
    seed: u64,
    size: usize,
    cache: &Path,
) -> Result<Item> {
    let (lq_path, small_path, meta_path) = (
        cache.join(format!("{name}.png")),
        cache.join(format!("{name}_small.png")),
        cache.join(format!("{name}.json")),
    );
    let params = preset.sample(&mut Rng::derive(seed, index as u64));
    let want = Cached {
        source: source.display().to_string(),
        size,
        seed,
        index,
        params: params.clone(),
    };
    let reuse = meta_path.exists()
        && serde_json::from_slice::<Cached>(&std::fs::read(&meta_path)?)
            .ok()
            .as_ref()
            == Some(&want)
        && lq_path.exists()
        && small_path.exists();
    let (lq, small) = if reuse {
        (load_rgb(&lq_path)?, load_rgb(&small_path)?)
    } else {
        let d = degrade_full(&hq.view(), &params)?;
        save_rgb(&lq_path, &d.lq.view())?;
        save_rgb(&small_path, &d.small.view())?;
        lrpo_shared::fsio::write_atomic(
            &meta_path,
            serde_json::to_string_pretty(&want)?.as_bytes(),
        )?;
        (d.lq, d.small)
    };
    Ok(Item {
        name,
        lq,
        lq_small: Some(small),
        gt: Some(hq.clone()),
    })
}

/// Loads an evaluation set from `dir` (see the module doc); `include` filters file names by
/// glob. HQ faces are degraded `per_face` times (≥ 1; items are named `STEM` when 1, else
/// `STEM_dR`). Synthetic LQs are cached under `cache`.
pub fn load(
    dir: &Path,
    include: &[String],
    preset: &DegradePreset,
    seed: u64,
    size: usize,
    per_face: usize,
    cache: &Path,
) -> Result<EvalSet> {
    if per_face == 0 {
        bail!("the number of degradations per face must be at least 1");
    }
    let keep = |p: &Path| {
        include.is_empty()
            || include.iter().any(|g| {
                crate::inputs::glob_match(g, &p.file_name().unwrap_or_default().to_string_lossy())
            })
    };
    let (lq_dir, gt_dir) = (dir.join("lq"), dir.join("gt"));
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    if lq_dir.is_dir() {
        let kind = if gt_dir.is_dir() {
            SetKind::Pairs
        } else {
            SetKind::LqOnly
        };
        for p in images_in(&lq_dir)?.into_iter().filter(|p| keep(p)) {
            let r = (|| -> Result<Item> {
                let lq = load_rgb(&p)?;
                let gt = if kind == SetKind::Pairs {
                    let g = images_in(&gt_dir)?
                        .into_iter()
                        .find(|q| stem(q) == stem(&p))
                        .with_context(|| {
                            format!(
                                "{}: no GT with this name in {}",
                                p.display(),
                                gt_dir.display()
                            )
                        })?;
                    let g = load_rgb(&g)?;
                    Some(g)
                } else {
                    None
                };
                let (lq, lq_small) = match &gt {
                    Some(g) if g.dim() != lq.dim() => {
                        let (_, h, w) = g.dim();
                        (
                            resize(&lq.view(), h, w, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0)),
                            Some(lq),
                        )
                    }
                    _ => (lq, None),
                };
                Ok(Item {
                    name: stem(&p),
                    lq,
                    lq_small,
                    gt,
                })
            })();
            match r {
                Ok(i) => items.push(i),
                Err(e) => {
                    say!("warning: skipping {}: {e:#}", p.display());
                    skipped.push((p, format!("{e:#}")));
                }
            }
        }
        if items.is_empty() {
            bail!("{}: no usable LQ images", lq_dir.display());
        }
        return Ok(EvalSet {
            kind,
            items,
            skipped,
        });
    }
    std::fs::create_dir_all(cache)
        .with_context(|| format!("{}: cannot create", cache.display()))?;
    for (face, p) in images_in(dir)?.into_iter().filter(|p| keep(p)).enumerate() {
        let hq = match load_rgb(&p)
            .map_err(anyhow::Error::from)
            .and_then(|img| fit(&img, size))
        {
            Ok(hq) => hq,
            Err(e) => {
                say!("warning: skipping {}: {e:#}", p.display());
                skipped.push((p, format!("{e:#}")));
                continue;
            }
        };
        for rep in 0..per_face {
            let index = face * per_face + rep;
            let name = if per_face == 1 {
                stem(&p)
            } else {
                format!("{}_d{rep}", stem(&p))
            };
            let r = degraded_item(&p, &hq, name, index, preset, seed, size, cache);
            match r {
                Ok(i) => items.push(i),
                Err(e) => {
                    say!("warning: skipping {}: {e:#}", p.display());
                    skipped.push((p.clone(), format!("{e:#}")));
                }
            }
        }
    }
    if items.is_empty() {
        bail!("{}: no usable images", dir.display());
    }
    Ok(EvalSet {
        kind: SetKind::Synthetic,
        items,
        skipped,
    })
}
