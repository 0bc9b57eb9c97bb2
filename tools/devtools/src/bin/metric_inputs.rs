//! Writes the metric fixture's input images for the Python reference script:
//! `OUT/hq/NAME.png`, `OUT/lq/NAME.png` and `OUT/manifest.json` (names, degradation parameters,
//! FNV-1a hashes of the 8-bit pixels).
//!
//!     cargo run --release -p lrpo-devtools --bin metric_inputs -- data/faces OUT

#[path = "../../../../shared/tests/common/fixture_inputs.rs"]
mod fixture_inputs;

use lrpo_shared::image::save_rgb;
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: metric_inputs FACES_DIR OUT_DIR");
        std::process::exit(2);
    }
    let (faces, out) = (PathBuf::from(&args[1]), PathBuf::from(&args[2]));
    let mut manifest = Vec::new();
    for (i, path) in fixture_inputs::photos(&faces).iter().enumerate() {
        let pair = fixture_inputs::build(path, i);
        save_rgb(
            &out.join("hq").join(format!("{}.png", pair.name)),
            &pair.hq.view(),
        )
        .unwrap();
        save_rgb(
            &out.join("lq").join(format!("{}.png", pair.name)),
            &pair.lq.view(),
        )
        .unwrap();
        manifest.push(serde_json::json!({
            "name": pair.name,
            "index": i,
            "size": [pair.hq.dim().2, pair.hq.dim().1],
            "params": pair.params,
            "hq_fnv1a": format!("{:016x}", fixture_inputs::fnv1a(&pair.hq)),
            "lq_fnv1a": format!("{:016x}", fixture_inputs::fnv1a(&pair.lq)),
        }));
        eprintln!("{}: {}x{}", pair.name, pair.hq.dim().2, pair.hq.dim().1);
    }
    let json = serde_json::to_string_pretty(&manifest).unwrap();
    lrpo_shared::fsio::write_atomic(&out.join("manifest.json"), json.as_bytes()).unwrap();
}
