//! Compares two images of the same size: PSNR, largest per-sample difference (8-bit levels)
//! and the share of samples that differ. Exit code 1 when the largest difference exceeds
//! `MAX_LEVELS` (default 0: identical).
//!
//!     cargo run -p lrpo-devtools --bin compare_images -- A.png B.png [MAX_LEVELS]

use lrpo_shared::image::{load_rgb, to_rgb8};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: compare_images A B [MAX_LEVELS]");
        std::process::exit(2);
    }
    let max_levels: u8 = args
        .get(3)
        .map(|s| s.parse().expect("MAX_LEVELS is 0-255"))
        .unwrap_or(0);
    let a = load_rgb(std::path::Path::new(&args[1])).unwrap_or_else(|e| panic!("{e}"));
    let b = load_rgb(std::path::Path::new(&args[2])).unwrap_or_else(|e| panic!("{e}"));
    if a.dim() != b.dim() {
        eprintln!("sizes differ: {:?} vs {:?}", a.dim(), b.dim());
        std::process::exit(1);
    }
    let (ra, rb) = (to_rgb8(&a.view()).unwrap(), to_rgb8(&b.view()).unwrap());
    let diff: Vec<u8> = ra.iter().zip(&rb).map(|(x, y)| x.abs_diff(*y)).collect();
    let max = diff.iter().copied().max().unwrap_or(0);
    let differing = diff.iter().filter(|&&d| d > 0).count();
    let psnr = lrpo_shared::metrics::psnr(&a.view(), &b.view()).unwrap();
    println!(
        "max difference {max} levels, {differing} of {} samples differ ({:.4}%), PSNR {psnr:.2} dB",
        diff.len(),
        100.0 * differing as f64 / diff.len() as f64
    );
    std::process::exit(if max > max_levels { 1 } else { 0 });
}
