//! Writes the identity fixture's inputs for the Node.js reference
//! (`tools/reference/face_descriptor.cjs`): `OUT/chips/NAME.rgb` (150 × 150 × 3 bytes) and
//! `.png`, `OUT/frames/STEM.rgb` (the whole photo, for face-api's own detector pipeline) and
//! `OUT/manifest.json`.
//!
//!     cargo run --release -p lrpo-devtools --bin identity_inputs -- OUT

#[path = "../../../../shared/tests/common/identity_inputs.rs"]
mod identity_inputs;

use lrpo_shared::image::{load_rgb, save_rgb};
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: identity_inputs OUT_DIR"),
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::create_dir_all(out.join("chips")).unwrap();
    std::fs::create_dir_all(out.join("frames")).unwrap();
    let mut faces = Vec::new();
    let mut frames = std::collections::BTreeMap::new();
    for f in identity_inputs::faces(&root) {
        let bytes = identity_inputs::rgb8(&f.chip);
        std::fs::write(out.join("chips").join(format!("{}.rgb", f.name)), &bytes).unwrap();
        save_rgb(
            &out.join("chips").join(format!("{}.png", f.name)),
            &f.chip.view(),
        )
        .unwrap();
        let stem = f.file.file_stem().unwrap().to_string_lossy().into_owned();
        frames.entry(stem.clone()).or_insert_with(|| {
            let img = load_rgb(&f.file).unwrap();
            std::fs::write(
                out.join("frames").join(format!("{stem}.rgb")),
                identity_inputs::rgb8(&img),
            )
            .unwrap();
            serde_json::json!({ "stem": stem, "width": img.dim().2, "height": img.dim().1 })
        });
        faces.push(serde_json::json!({ "name": f.name, "stem": stem, "chip_fnv1a": format!("{:016x}", identity_inputs::fnv1a(&bytes)) }));
    }
    let manifest =
        serde_json::json!({ "faces": faces, "frames": frames.values().collect::<Vec<_>>() });
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
}
