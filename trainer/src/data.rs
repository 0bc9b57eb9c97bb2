//! Training data: a folder of HQ face images (aligned FFHQ-style crops) turned into (HQ, LQ)
//! pairs on the fly, deterministically from the seed, by a background loader.
//!
//! - Every PNG/JPEG under the folder (recursively) is loaded once, centre-cropped to a square if
//!   needed, and kept at twice the training resolution (antialiased) as the augmentation
//!   source, and at the training resolution itself. Files that cannot be read are skipped with
//!   a warning and counted, never a crash.
//! - A folder with a face-set manifest (`faces.json`, `lrpo-train prepare-faces --sources`)
//!   is split by its identities: the `train` split trains, the `validation` split validates, and
//!   the `test` split is never loaded.
//! - Sample `p` of the run (step `s`, batch position `i`, `p = s·batch + i`) takes the image at
//!   position `p mod n` of epoch `p / n`'s shuffled order and draws its augmentation and
//!   degradation from `Rng::derive(seed, p)`: the same seed gives the same pairs, and a resumed
//!   run sees exactly the batches an uninterrupted run would.
//! - Augmentation (optional, seeded): horizontal flip, scale (default ±10 %), rotation (±10°)
//!   and translation (±3 % of the side) as one similarity warp applied at alignment time, from
//!   the source at twice the training resolution (the warp's output is then antialiased down,
//!   so the face is resampled once, not warped from a small crop), then brightness / contrast /
//!   saturation jitter. Degradation: `lrpo_shared::degrade` with the configured preset (ranges
//!   defined at 512 px and scaled to the resolution).

use anyhow::{Context, Result, bail, ensure};
use lrpo_shared::align::{Border, Interp, Similarity, warp_to_crop};
use lrpo_shared::degrade::{DegradeParams, DegradePreset, degrade_full};
use lrpo_shared::faceset::{MANIFEST_FILE, Manifest, Split};
use lrpo_shared::image::load_rgb;
use lrpo_shared::resize::resize_antialiased;
use lrpo_shared::rng::Rng;
use ndarray::{Array3, s};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Data settings (`[data]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Square training resolution in pixels; a multiple of the model's downsampling. Default 64.
    pub resolution: usize,
    /// Degradation preset: `lrpo`, `gfpgan` or `codeformer`. Default `lrpo`.
    pub preset: String,
    /// File names (without folders) held out for validation. When empty, the last `val_count`
    /// images in name order are held out. Not used for a folder with a manifest (its
    /// validation split is).
    pub holdout: Vec<String>,
    /// Held-out images when `holdout` is empty. Default 2. Not used with a manifest.
    pub val_count: usize,
    /// Augmentation.
    pub augment: AugmentConfig,
    /// Batches the background loader prepares ahead. Default 4.
    pub prefetch: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            resolution: 64,
            preset: "lrpo".into(),
            holdout: vec![],
            val_count: 2,
            augment: AugmentConfig::default(),
            prefetch: 4,
        }
    }
}

/// Augmentation settings (`[data.augment]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Random horizontal flips. Default true.
    pub flip: bool,
    /// Largest relative scale change (e.g. 0.1 = ±10 %). Default 0.1.
    pub scale: f64,
    /// Largest rotation in degrees (about the crop centre). Default 10.
    pub rotate: f64,
    /// Largest shift as a fraction of the side. Default 0.03.
    pub shift: f64,
    /// Largest relative brightness/contrast/saturation change. Default 0.05.
    pub color: f64,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            flip: true,
            scale: 0.1,
            rotate: 10.0,
            shift: 0.03,
            color: 0.05,
        }
    }
}

impl AugmentConfig {
    /// No augmentation at all.
    pub fn none() -> Self {
        AugmentConfig {
            flip: false,
            scale: 0.0,
            rotate: 0.0,
            shift: 0.0,
            color: 0.0,
        }
    }

    /// Checks the ranges: scale in [0, 0.5), rotation in [0, 45]°, shift in [0, 0.25], colour
    /// in [0, 0.5].
    pub fn validate(&self) -> Result<()> {
        ensure!(
            (0.0..0.5).contains(&self.scale),
            "data.augment.scale must be in [0, 0.5), found {}",
            self.scale
        );
        ensure!(
            (0.0..=45.0).contains(&self.rotate),
            "data.augment.rotate must be in [0, 45] degrees, found {}",
            self.rotate
        );
        ensure!(
            (0.0..=0.25).contains(&self.shift),
            "data.augment.shift must be in [0, 0.25], found {}",
            self.shift
        );
        ensure!(
            (0.0..=0.5).contains(&self.color),
            "data.augment.color must be in [0, 0.5], found {}",
            self.color
        );
        Ok(())
    }
}

/// One face image at the training resolution.
#[derive(Debug, Clone)]
pub struct Face {
    /// File name relative to the data folder.
    pub name: String,
    /// RGB [0, 1], `[3, R, R]`.
    pub hq: Array3<f32>,
    /// The augmentation source, RGB [0, 1], `[3, 2R, 2R]` (None: augment from `hq`).
    pub src: Option<Array3<f32>>,
}

impl Face {
    /// A face from a square image of any size: `hq` at `resolution`, `src` at twice that.
    pub fn from_image(name: String, img: &Array3<f32>, resolution: usize) -> Result<Self> {
        Ok(Face {
            name,
            hq: square_resize(img, resolution)?,
            src: Some(square_resize(img, 2 * resolution)?),
        })
    }
}

/// The loaded data set.
#[derive(Debug, Clone)]
pub struct FaceSet {
    /// Training images.
    pub train: Vec<Face>,
    /// Held-out images.
    pub val: Vec<Face>,
    /// Files that could not be used, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

fn scan(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list folder", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            scan(&p, out)?;
        } else if lrpo_shared::image::is_image_path(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Centre-crops to a square and resizes to `size` (antialiased bicubic), clamped to [0, 1].
pub fn square_resize(img: &Array3<f32>, size: usize) -> Result<Array3<f32>> {
    let (_, h, w) = img.dim();
    let side = h.min(w);
    let (y0, x0) = ((h - side) / 2, (w - side) / 2);
    let sq = img.slice(s![.., y0..y0 + side, x0..x0 + side]);
    let out = if side == size {
        sq.to_owned()
    } else if side > size {
        resize_antialiased(&sq, size, size)?
    } else {
        lrpo_shared::resize::resize(&sq, size, size, lrpo_shared::resize::Filter::Bicubic)?
    };
    Ok(out.mapv(|v| v.clamp(0.0, 1.0)))
}

impl FaceSet {
    /// Loads every image under `dir` at `cfg.resolution` and splits off the held-out ones.
    pub fn load(dir: &Path, cfg: &DataConfig) -> Result<Self> {
        ensure!(
            (8..=1024).contains(&cfg.resolution),
            "data.resolution must be in 8..=1024, found {}",
            cfg.resolution
        );
        cfg.augment.validate()?;
        if dir.join(MANIFEST_FILE).is_file() {
            return Self::load_manifest(dir, cfg);
        }
        let mut files = Vec::new();
        scan(dir, &mut files)?;
        if files.is_empty() {
            bail!(
                "{}: no PNG or JPEG images found (searched recursively)",
                dir.display()
            );
        }
        let mut faces = Vec::new();
        let mut skipped = Vec::new();
        for f in files {
            let name = f
                .strip_prefix(dir)
                .unwrap_or(&f)
                .to_string_lossy()
                .into_owned();
            match load_rgb(&f)
                .map_err(anyhow::Error::from)
                .and_then(|img| Face::from_image(name, &img, cfg.resolution))
            {
                Ok(face) => faces.push(face),
                Err(e) => {
                    eprintln!("warning: skipping {}: {e:#}", f.display());
                    skipped.push((f, format!("{e:#}")));
                }
            }
        }
        let is_val = |name: &str| {
            cfg.holdout.iter().any(|h| {
                Path::new(name)
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy() == *h)
            })
        };
        let (mut train, mut val): (Vec<Face>, Vec<Face>) = if cfg.holdout.is_empty() {
            let n = faces
                .len()
                .saturating_sub(cfg.val_count.min(faces.len().saturating_sub(1)));
            let val = faces.split_off(n);
            (faces, val)
        } else {
            faces.into_iter().partition(|f| !is_val(&f.name))
        };
        if !cfg.holdout.is_empty() && val.len() != cfg.holdout.len() {
            bail!(
                "data.holdout names {:?} but only {:?} were found in {}",
                cfg.holdout,
                val.iter().map(|f| &f.name).collect::<Vec<_>>(),
                dir.display()
            );
        }
        train.sort_by(|a, b| a.name.cmp(&b.name));
        val.sort_by(|a, b| a.name.cmp(&b.name));
        ensure!(
            !train.is_empty(),
            "{}: no training images left after holding out {} for validation",
            dir.display(),
            val.len()
        );
        Ok(FaceSet {
            train,
            val,
            skipped,
        })
    }

    /// Loads the train and validation splits of a face-set folder with a manifest. A listed
    /// crop that is missing or whose bytes do not match the manifest's SHA-256 is an error (the
    /// splits would silently change otherwise).
    fn load_manifest(dir: &Path, cfg: &DataConfig) -> Result<Self> {
        let m = Manifest::load(dir)?;
        let load = |split: Split| -> Result<Vec<Face>> {
            let mut v = Vec::new();
            for f in m.faces_in(split) {
                let Some(file) = &f.file else { continue };
                let p = dir.join(file);
                if let Some(want) = &f.sha256 {
                    let got = crate::faceset::sha256_file(&p)?;
                    ensure!(
                        &got == want,
                        "{}: SHA-256 {got} differs from the manifest's {want}",
                        p.display()
                    );
                }
                let img = load_rgb(&p)?;
                v.push(Face::from_image(file.clone(), &img, cfg.resolution)?);
            }
            v.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(v)
        };
        let (train, val) = (load(Split::Train)?, load(Split::Validation)?);
        ensure!(
            !train.is_empty(),
            "{}: the manifest's train split has no faces",
            dir.display()
        );
        Ok(FaceSet {
            train,
            val,
            skipped: vec![],
        })
    }
}

/// One training pair.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The (augmented) HQ face, RGB [0, 1].
    pub hq: Array3<f32>,
    /// Its degraded version.
    pub lq: Array3<f32>,
    /// The small LQ before resizing back (for a bicubic baseline).
    pub lq_small: Array3<f32>,
    /// The degradation drawn.
    pub params: DegradeParams,
}

/// The augmentation warp from the source (side `n_src`) to the training crop (side `n_out`):
/// whether to mirror the result, then scale, rotation and shift about the centres, drawn from
/// `rng` in that order. Mirroring the warped crop equals mirroring the source first (with the
/// mirrored, equally likely, rotation), so the similarity itself needs no reflection.
fn augment_warp(
    aug: &AugmentConfig,
    n_src: usize,
    n_out: usize,
    rng: &mut Rng,
) -> (bool, Similarity) {
    let flip = aug.flip && rng.bernoulli(0.5);
    let sc = 1.0 + rng.range(-aug.scale, aug.scale);
    let theta = rng.range(-aug.rotate, aug.rotate).to_radians();
    let (dx, dy) = (
        rng.range(-aug.shift, aug.shift) * n_out as f64,
        rng.range(-aug.shift, aug.shift) * n_out as f64,
    );
    let k = n_out as f64 / n_src as f64 * sc;
    let (cs, cd) = ((n_src as f64 - 1.0) / 2.0, (n_out as f64 - 1.0) / 2.0);
    // p_out = k·R(θ)·(p_src − c_src) + c_out + d.
    let (a, b) = (k * theta.cos(), k * theta.sin());
    (
        flip,
        Similarity {
            a,
            b,
            tx: cd + dx - (a * cs - b * cs),
            ty: cd + dy - (b * cs + a * cs),
        },
    )
}

/// Augments `face` and degrades it, drawing everything from `rng`. With a geometric
/// augmentation the face is warped once from its source at twice the resolution, at twice the
/// resolution, and antialiased down.
pub fn make_sample(
    face: &Face,
    aug: &AugmentConfig,
    preset: &DegradePreset,
    rng: &mut Rng,
) -> Result<Sample> {
    let (_, n, _) = face.hq.dim();
    let geometric = aug.flip || aug.scale > 0.0 || aug.rotate > 0.0 || aug.shift > 0.0;
    let mut hq = if geometric {
        let src = face.src.as_ref().unwrap_or(&face.hq);
        let (_, ns, _) = src.dim();
        let big = 2 * n;
        let (flip, t) = augment_warp(aug, ns, big, rng);
        let mut w = warp_to_crop(&src.view(), &t, big, Interp::Bicubic, Border::Replicate)?;
        if flip {
            w.invert_axis(ndarray::Axis(2));
        }
        resize_antialiased(&w.view(), n, n)?.mapv(|v| v.clamp(0.0, 1.0))
    } else {
        face.hq.clone()
    };
    if aug.color > 0.0 {
        let (b, ct, sat) = (
            1.0 + rng.range(-aug.color, aug.color),
            1.0 + rng.range(-aug.color, aug.color),
            1.0 + rng.range(-aug.color, aug.color),
        );
        let mean = hq.mean().unwrap_or(0.5);
        let (_, h, w) = hq.dim();
        for y in 0..h {
            for x in 0..w {
                let px: [f32; 3] =
                    std::array::from_fn(|c| (hq[[c, y, x]] * b as f32 - mean) * ct as f32 + mean);
                let gray = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
                for c in 0..3 {
                    hq[[c, y, x]] = (gray + (px[c] - gray) * sat as f32).clamp(0.0, 1.0);
                }
            }
        }
    }
    let params = preset.sample(rng);
    let d = degrade_full(&hq.view(), &params)?;
    Ok(Sample {
        hq,
        lq: d.lq,
        lq_small: d.small,
        params,
    })
}

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
        hq.extend(s.hq.iter().map(|v| 2.0 * v - 1.0));
        lq.extend(s.lq.iter().map(|v| 2.0 * v - 1.0));
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
            .context("starting the data loader thread")?;
        Ok(Loader {
            rx,
            _worker: worker,
        })
    }

    /// The next batch, in step order.
    pub fn next_batch(&self) -> Result<Batch> {
        self.rx.recv().context("the data loader stopped")?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: usize) -> FaceSet {
        let faces = (0..n)
            .map(|i| Face {
                name: format!("f{i}.png"),
                hq: Array3::from_shape_fn((3, 32, 32), |(c, y, x)| {
                    ((x + 2 * y + 7 * c + i) % 19) as f32 / 19.0
                }),
                src: None,
            })
            .collect();
        FaceSet {
            train: faces,
            val: vec![],
            skipped: vec![],
        }
    }

    #[test]
    fn batches_are_a_pure_function_of_seed_and_step() {
        let s = set(5);
        let cfg = DataConfig {
            resolution: 32,
            ..Default::default()
        };
        let p = DegradePreset::lrpo();
        let a = batch_for_step(&s, &cfg, &p, 3, 7, 4).unwrap();
        let b = batch_for_step(&s, &cfg, &p, 3, 7, 4).unwrap();
        assert_eq!(a.hq, b.hq);
        assert_eq!(a.lq, b.lq);
        let c = batch_for_step(&s, &cfg, &p, 3, 8, 4).unwrap();
        assert_ne!(a.lq, c.lq);
        // A background loader delivers the same batches in order.
        let l = Loader::spawn(s.clone(), cfg.clone(), 3, 6, 9, 4).unwrap();
        assert_eq!(l.next_batch().unwrap().step, 6);
        let b7 = l.next_batch().unwrap();
        assert_eq!((b7.step, &b7.lq), (7, &a.lq));
    }

    #[test]
    fn augmentation_warps_stay_in_their_ranges() {
        let aug = AugmentConfig::default();
        for p in 0..200u64 {
            let mut rng = Rng::derive(5, p);
            let (_, t) = augment_warp(&aug, 256, 128, &mut rng);
            // Scale 0.5·(1 ± 0.1), angle within ±10°, source centre within ±3 % of the centre.
            let k = t.scale() / 0.5;
            assert!((0.9 - 1e-12..=1.1 + 1e-12).contains(&k), "scale {k}");
            let angle = t.b.atan2(t.a).to_degrees();
            assert!(angle.abs() <= 10.0 + 1e-9, "angle {angle}");
            let [cx, cy] = t.apply([127.5, 127.5]);
            assert!((cx - 63.5).abs() <= 0.03 * 128.0 + 1e-9);
            assert!((cy - 63.5).abs() <= 0.03 * 128.0 + 1e-9);
        }
        // No range: the warp is the plain 2:1 resampling about the centres.
        let (flip, t) = augment_warp(&AugmentConfig::none(), 256, 128, &mut Rng::new(1));
        assert!(!flip);
        assert!((t.a - 0.5).abs() < 1e-12 && t.b == 0.0);
        assert!((t.apply([0.0, 0.0])[0] + 0.25).abs() < 1e-12);
    }

    #[test]
    fn geometric_augmentation_resamples_from_the_large_source() {
        // A face whose source holds detail finer than the training resolution: a warp with no
        // jitter reproduces the antialiased training image closely (same content, one
        // resampling), and without augmentation the training image is used as it is.
        let src = Array3::from_shape_fn((3, 64, 64), |(c, y, x)| {
            (0.5 + 0.4 * ((x as f32 * 0.3).sin() * (y as f32 * 0.2 + c as f32).cos()))
                .clamp(0.0, 1.0)
        });
        let face = Face::from_image("f.png".into(), &src, 32).unwrap();
        assert_eq!(face.src.as_ref().unwrap().dim(), (3, 64, 64));
        let p = DegradePreset::lrpo();
        let none = make_sample(&face, &AugmentConfig::none(), &p, &mut Rng::new(2)).unwrap();
        assert_eq!(none.hq, face.hq);
        let tiny = AugmentConfig {
            scale: 1e-9,
            ..AugmentConfig::none()
        };
        let s = make_sample(&face, &tiny, &p, &mut Rng::new(2)).unwrap();
        let psnr = lrpo_shared::metrics::psnr(&s.hq.view(), &face.hq.view()).unwrap();
        assert!(psnr > 30.0, "warped vs direct: {psnr} dB");
        // Rotation changes the picture; a bad range is refused with its key.
        let rot = AugmentConfig {
            rotate: 10.0,
            ..AugmentConfig::none()
        };
        let r = make_sample(&face, &rot, &p, &mut Rng::new(3)).unwrap();
        assert!(lrpo_shared::metrics::psnr(&r.hq.view(), &face.hq.view()).unwrap() < psnr);
        let bad = AugmentConfig {
            rotate: 90.0,
            ..AugmentConfig::none()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("rotate"));
    }

    #[test]
    fn every_image_is_seen_once_per_epoch() {
        for n in [1usize, 4, 7] {
            for epoch in 0..3u64 {
                let mut seen: Vec<usize> = (0..n as u64)
                    .map(|i| image_for_sample(9, epoch * n as u64 + i, n))
                    .collect();
                seen.sort();
                assert_eq!(seen, (0..n).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn folder_loading_skips_bad_files_and_holds_out_images() {
        let dir = std::env::temp_dir().join(format!("lrpo-data-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for (i, name) in ["a.png", "sub/b.png", "c.png", "d.png"].iter().enumerate() {
            let img = Array3::from_elem((3, 40 + i * 10, 50), 0.1 * i as f32);
            lrpo_shared::image::save_rgb(&dir.join(name), &img.view()).unwrap();
        }
        std::fs::write(dir.join("broken.jpg"), b"nope").unwrap();
        let cfg = DataConfig {
            resolution: 16,
            val_count: 1,
            ..Default::default()
        };
        let s = FaceSet::load(&dir, &cfg).unwrap();
        assert_eq!(s.skipped.len(), 1);
        assert_eq!(s.train.len() + s.val.len(), 4);
        assert_eq!(s.val.len(), 1);
        assert!(s.train.iter().all(|f| f.hq.dim() == (3, 16, 16)));
        let cfg = DataConfig {
            resolution: 16,
            holdout: vec!["b.png".into()],
            ..Default::default()
        };
        let s = FaceSet::load(&dir, &cfg).unwrap();
        assert_eq!(s.val[0].name, "sub/b.png");
        let cfg = DataConfig {
            resolution: 16,
            holdout: vec!["zzz.png".into()],
            ..Default::default()
        };
        assert!(
            FaceSet::load(&dir, &cfg)
                .unwrap_err()
                .to_string()
                .contains("zzz.png")
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(FaceSet::load(&dir, &cfg).is_err());
    }
}
