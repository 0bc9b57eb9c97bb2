//! The memory budget of `lrpo-edge restore`: the largest photo it takes follows from how much
//! memory the process may use (`--max-memory`), from peak memory measured per pixel on each
//! route a photo can take (`benchmarks/memory.md`, `scripts/benchmark-memory.sh`).

use crate::error::{Error, Result};
use lrpo_shared::image::DEFAULT_MAX_PIXELS;

/// Default budget (MiB): half of a 2 GB camera board, the rest left to its system and camera
/// stack.
pub const DEFAULT_MAX_MEMORY_MIB: u64 = 1024;

/// Memory (MiB) a restore holds whatever the photo's size: code, the policy and detector with
/// their tract plans (65 MB measured on a 272-px photo), and the shrunk copy faces are detected
/// on (up to 1600 px on the long side, with its resampling rows: ~90 MB).
pub const FIXED_MIB: u64 = 160;

/// Smallest budget accepted (MiB): the fixed part and a few megapixels of photo.
pub const MIN_MAX_MEMORY_MIB: u64 = 256;

/// How a photo is restored, which decides its memory per pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// In its 8-bit buffer ([`crate::in_place`]): the decoded bytes, the decoder's own
    /// buffers and the encoded output; 6.3–7.0 bytes per pixel measured at 33–67 megapixels.
    InPlace,
    /// The same with a side-by-side comparison (a copy of the input and a double-width
    /// output): 16 bytes per pixel measured.
    InPlaceWithComparison,
    /// As an f32 frame ([`crate::pipeline::Pipeline::process`]: aligned crops, upscaling),
    /// with the output this many times wider and higher: 23 bytes per input pixel measured at
    /// 1x, the output frame's 12 bytes per pixel growing with the square of the factor.
    F32 {
        /// The upscaling factor (1, 2 or 4).
        upscale: usize,
    },
}

/// Extra peak bytes per pixel when faces are detected on the full frame
/// (`--detect-max-side off`): its f32 copy and MTCNN's image pyramid; 77–83 bytes per pixel
/// in all were measured.
pub const FULL_FRAME_DETECTION_BYTES_PER_PIXEL: u64 = 76;

impl Route {
    /// Peak bytes per input pixel on this route (measured, rounded up), with faces detected
    /// on the full frame when `full_frame_detection`, else on a copy bounded in size.
    pub fn bytes_per_pixel(self, full_frame_detection: bool) -> u64 {
        let base = match self {
            Route::InPlace => 8,
            Route::InPlaceWithComparison => 17,
            Route::F32 { upscale } => 12 + 12 * (upscale * upscale) as u64,
        };
        base + if full_frame_detection {
            FULL_FRAME_DETECTION_BYTES_PER_PIXEL
        } else {
            0
        }
    }
}

/// The most pixels a photo may have to be restored within `budget_mib` at `bytes_per_pixel`
/// ([`Route::bytes_per_pixel`]), never above [`DEFAULT_MAX_PIXELS`] (the decoder's own limit).
/// Fails for a budget below [`MIN_MAX_MEMORY_MIB`].
pub fn max_pixels(budget_mib: u64, bytes_per_pixel: u64) -> Result<u64> {
    if budget_mib < MIN_MAX_MEMORY_MIB {
        return Err(Error::input(
            "memory budget",
            format!(
                "{budget_mib} MiB is less than the {MIN_MAX_MEMORY_MIB} MiB a restore needs (about {FIXED_MIB} MiB for the models and detection, the rest for the photo)"
            ),
        ));
    }
    let for_photo = (budget_mib - FIXED_MIB).saturating_mul(1 << 20);
    Ok((for_photo / bytes_per_pixel.max(1)).min(DEFAULT_MAX_PIXELS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_budget_takes_the_largest_photo_in_place_but_not_with_a_comparison() {
        let bpp = |r: Route| r.bytes_per_pixel(false);
        assert_eq!(
            max_pixels(DEFAULT_MAX_MEMORY_MIB, bpp(Route::InPlace)).unwrap(),
            DEFAULT_MAX_PIXELS
        );
        // (1024 − 160) MiB / 17 B = 53.3 megapixels: a 7680 x 4320 photo, not 8192 x 8192.
        let cmp = max_pixels(DEFAULT_MAX_MEMORY_MIB, bpp(Route::InPlaceWithComparison)).unwrap();
        assert_eq!(cmp, 864 * (1 << 20) / 17);
        assert!(cmp > 7680 * 4320 && cmp < 8192 * 8192);
        // Upscaling 4x: 204 bytes per input pixel.
        let up4 = max_pixels(DEFAULT_MAX_MEMORY_MIB, bpp(Route::F32 { upscale: 4 })).unwrap();
        assert_eq!(up4, 864 * (1 << 20) / 204);
        // Detection on the full frame: 84 bytes per pixel, 10.8 megapixels.
        let full = Route::InPlace.bytes_per_pixel(true);
        assert_eq!(
            max_pixels(DEFAULT_MAX_MEMORY_MIB, full).unwrap(),
            864 * (1 << 20) / 84
        );
        assert!(max_pixels(100, bpp(Route::InPlace)).is_err());
    }
}
