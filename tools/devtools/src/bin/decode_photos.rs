//! Writes every bundled photograph as this crate decodes it (lossless PNG), so that reference
//! scripts see exactly the pixels the Rust code sees (JPEG decoders differ by a few levels).
//!
//!     cargo run --release -p lrpo-devtools --bin decode_photos -- data/faces OUT

use lrpo_shared::image::{load_rgb, save_rgb};
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (src, out) = (PathBuf::from(&args[1]), PathBuf::from(&args[2]));
    let mut names: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("png" | "jpg")))
        .collect();
    names.sort();
    for p in names {
        let img = load_rgb(&p).unwrap();
        save_rgb(
            &out.join(format!("{}.png", p.file_name().unwrap().to_string_lossy())),
            &img.view(),
        )
        .unwrap();
    }
}
