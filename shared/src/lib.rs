//! `lrpo-shared`: what the LRPO trainer and the edge runtime must agree on byte for byte.
//!
//! - [`image`]: image files ↔ RGB f32 CHW [0, 1] arrays, and the [0, 1] ↔ [−1, 1] conversions.
//! - [`resize`]: OpenCV-convention bilinear and bicubic resampling.
//! - [`degrade`]: the blind-face-restoration degradation model and its presets.
//! - [`schedule`]: the diffusion noise schedule, DDIM step coefficients and LRPO's noise-level
//!   weights.
//! - [`align`]: FFHQ 5-point alignment, crop warping and feathered paste-back.
//! - [`metrics`]: PSNR, SSIM, DTCWT low-pass fidelity, NIQE and BRISQUE, each matching a
//!   reference implementation.
//! - [`reward`]: the composite reward (TOML [`reward::RewardSpec`], per-component breakdown).
//! - [`card`]: the policy card shipped beside every exported model.
//! - [`faceset`]: face-set source tables, manifests and identity-disjoint splits.
//! - [`rng`]: the seeded random number generator every random process uses.
//! - [`fsio`]: atomic file writes.
//! - [`progress`]: a progress bar on stderr for long commands.

/// `eprintln!` that never panics: a message to a closed stderr (`lrpo-edge … 2>&1 | head`) is
/// dropped, so the exit code still says how the run ended. Both binaries print through it.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod align;
pub mod card;
pub mod degrade;
pub mod error;
pub mod faceset;
pub mod fsio;
pub mod image;
pub mod metrics;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod pixfmt;
pub mod progress;
pub mod resize;
pub mod reward;
pub mod rng;
pub mod schedule;

pub use error::{Error, Result};
