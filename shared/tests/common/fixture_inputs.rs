//! The images the metric fixture is computed on, rebuilt deterministically from the bundled
//! photographs: each photo decoded by this crate, shrunk (bicubic) so its longer side is at
//! most 640 px, quantised to 8 bits (HQ), and degraded with the `lrpo` preset (LQ). Shared by
//! `examples/metric_inputs.rs` (which writes them for the Python references) and the
//! reference test (which rebuilds them and checks their hashes against the fixture).

use lrpo_shared::degrade::{DegradeParams, DegradePreset, degrade};
use lrpo_shared::image::{load_rgb, quantize_u8, to_rgb8};
use lrpo_shared::resize::{Filter, resize};
use lrpo_shared::rng::Rng;
use ndarray::Array3;
use std::path::{Path, PathBuf};

/// Seed of the degradations.
pub const SEED: u64 = 2025;
/// Longest side of a fixture image.
pub const MAX_SIDE: usize = 640;

/// One fixture pair.
pub struct Pair {
    pub name: String,
    pub hq: Array3<f32>,
    pub lq: Array3<f32>,
    /// Written by the example; the test checks pixels through their hashes instead.
    #[allow(dead_code)]
    pub params: DegradeParams,
}

/// The bundled photographs, in name order.
pub fn photos(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("png" | "jpg")))
        .collect();
    v.sort();
    v
}

/// Builds pair number `index` from a photo.
pub fn build(path: &Path, index: usize) -> Pair {
    let img = load_rgb(path).unwrap();
    let (_, h, w) = img.dim();
    let f = MAX_SIDE as f64 / h.max(w) as f64;
    let img = if f < 1.0 {
        let (nh, nw) = (
            ((h as f64) * f).round() as usize,
            ((w as f64) * f).round() as usize,
        );
        resize(&img.view(), nh, nw, Filter::Bicubic).unwrap()
    } else {
        img
    };
    let hq = quantize_u8(&img.view()).unwrap();
    let params = DegradePreset::lrpo().sample(&mut Rng::derive(SEED, index as u64));
    let lq = degrade(&hq.view(), &params).unwrap();
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    Pair {
        name,
        hq,
        lq,
        params,
    }
}

/// FNV-1a (64-bit) of an image's 8-bit interleaved RGB bytes.
pub fn fnv1a(img: &Array3<f32>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in to_rgb8(&img.view()).unwrap() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
