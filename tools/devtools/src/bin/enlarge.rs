//! Writes an image resized to W x H (bicubic), e.g. large test photos for the memory benchmark.
//!
//!     cargo run --release -p lrpo-devtools --bin enlarge -- IN OUT.jpg W H

use lrpo_shared::image::{load_rgb, save_rgb};
use lrpo_shared::resize::{Filter, resize};
use std::process::ExitCode;

fn main() -> ExitCode {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let (Some(w), Some(h)) = (
        a.get(2).and_then(|v| v.parse::<usize>().ok()),
        a.get(3).and_then(|v| v.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: enlarge IN OUT W H");
        return ExitCode::from(2);
    };
    let run = || -> lrpo_shared::Result<()> {
        let img = load_rgb(a[0].as_ref())?;
        let out = resize(&img.view(), h, w, Filter::Bicubic)?.mapv(|v| v.clamp(0.0, 1.0));
        save_rgb(a[1].as_ref(), &out.view())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
