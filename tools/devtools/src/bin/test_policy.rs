//! Writes a small stand-in restoration policy (a depthwise 3 × 3 sharpening convolution, with
//! its card) for checking the runtime where no trained policy is at hand, e.g. the ARM check:
//!
//!     cargo run -p lrpo-devtools --bin test_policy -- OUT_DIR [CROP_SIZE]
//!
//! writes OUT_DIR/sharpen.onnx and OUT_DIR/sharpen.card.

#[path = "../../../../edge/tests/common/mod.rs"]
mod common;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir =
        std::path::PathBuf::from(args.get(1).expect("usage: test_policy OUT_DIR [CROP_SIZE]"));
    let size: u32 = args
        .get(2)
        .map(|s| s.parse().expect("CROP_SIZE is a number"))
        .unwrap_or(128);
    std::fs::create_dir_all(&dir).unwrap();
    let p = common::sharpen_policy(&dir, "sharpen", size);
    println!("{}", p.display());
}
