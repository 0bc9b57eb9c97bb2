//! The HQ faces of a run: a folder of aligned crops, or a face set split by its manifest.

use super::DataConfig;
use crate::error::{Error, Result, ensure_or};
use lrpo_shared::faceset::{MANIFEST_FILE, Manifest, Split};
use lrpo_shared::image::load_rgb;
use lrpo_shared::resize::resize_antialiased;
use ndarray::{Array3, s};
use std::path::{Path, PathBuf};

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
        .map_err(|e| Error::io(dir, "cannot list folder", e))?
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
        cfg.validate()?;
        if dir.join(MANIFEST_FILE).is_file() {
            return Self::load_manifest(dir, cfg);
        }
        let mut files = Vec::new();
        scan(dir, &mut files)?;
        if files.is_empty() {
            return Err(Error::data(
                dir,
                "no PNG or JPEG images found (searched recursively)",
            ));
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
                .map_err(Error::from)
                .and_then(|img| Face::from_image(name, &img, cfg.resolution))
            {
                Ok(face) => faces.push(face),
                Err(e) => {
                    say!("warning: skipping {}: {e:#}", f.display());
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
            return Err(Error::data(
                dir,
                format!(
                    "data.holdout names {:?} but only {:?} were found",
                    cfg.holdout,
                    val.iter().map(|f| &f.name).collect::<Vec<_>>()
                ),
            ));
        }
        train.sort_by(|a, b| a.name.cmp(&b.name));
        val.sort_by(|a, b| a.name.cmp(&b.name));
        ensure_or!(
            !train.is_empty(),
            Error::data(
                dir,
                format!(
                    "no training images left after holding out {} for validation",
                    val.len()
                )
            )
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
                    ensure_or!(
                        &got == want,
                        Error::data(
                            &p,
                            format!("SHA-256 {got} differs from the manifest's {want}")
                        )
                    );
                }
                let img = load_rgb(&p)?;
                v.push(Face::from_image(file.clone(), &img, cfg.resolution)?);
            }
            v.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(v)
        };
        let (train, val) = (load(Split::Train)?, load(Split::Validation)?);
        ensure_or!(
            !train.is_empty(),
            Error::data(dir, "the manifest's train split has no faces")
        );
        Ok(FaceSet {
            train,
            val,
            skipped: vec![],
        })
    }
}
