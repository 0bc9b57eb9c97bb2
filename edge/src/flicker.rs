//! Flicker of a restored video from a still camera: how much the restored faces change from
//! one frame to the next, against how much the input itself does (its sensor noise).
//!
//! Over the *restored region* (the pixels whose output differs from the input by more than
//! [`RESTORED_LEVELS`] 8-bit levels on average over the clip and the three channels), the mean
//! absolute difference between consecutive frames (averaged over channels, pixels and frame
//! pairs) is measured for the output and for the input. A restorer that is stable over time
//! adds nothing to the input's own change (a ratio ≤ 1; below 1 when it removes part of the
//! noise); landmark jitter between detections moves the restored face and adds flicker.

use crate::error::{Error, Result};

/// A pixel belongs to the restored region when the output differs from the input by more than
/// this many 8-bit levels on average.
pub const RESTORED_LEVELS: f64 = 2.0;

/// The flicker of one clip.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Flicker {
    /// Frames compared.
    pub frames: usize,
    /// Pixels in the restored region.
    pub region_pixels: usize,
    /// Mean absolute temporal difference of the input in the region (8-bit levels per frame).
    pub input: f64,
    /// The same for the output.
    pub output: f64,
}

impl Flicker {
    /// `output / input`: 1 adds no flicker to the input's own.
    pub fn ratio(&self) -> f64 {
        self.output / self.input.max(1e-12)
    }
}

/// Measures the flicker of `output` against `input`, two clips of RGB24 `width × height`
/// frames (same count). `None` when fewer than 2 frames or no pixel was restored.
pub fn flicker(
    input: &[Vec<u8>],
    output: &[Vec<u8>],
    width: usize,
    height: usize,
) -> Result<Option<Flicker>> {
    let px = width * height;
    if input.len() != output.len() || input.iter().chain(output).any(|f| f.len() != 3 * px) {
        return Err(Error::input(
            "flicker",
            format!(
                "two clips of equally many {width}x{height} RGB24 frames are needed, got {} and {}",
                input.len(),
                output.len()
            ),
        ));
    }
    let n = input.len();
    if n < 2 {
        return Ok(None);
    }
    // Mean over frames and channels of |output − input| per pixel.
    let mut change = vec![0.0f64; px];
    for (x, y) in input.iter().zip(output) {
        for (p, c) in change.iter_mut().enumerate() {
            *c += (0..3)
                .map(|k| (x[3 * p + k] as f64 - y[3 * p + k] as f64).abs())
                .sum::<f64>();
        }
    }
    let region: Vec<usize> = (0..px)
        .filter(|&p| change[p] / (3 * n) as f64 > RESTORED_LEVELS)
        .collect();
    if region.is_empty() {
        return Ok(None);
    }
    let temporal = |clip: &[Vec<u8>]| -> f64 {
        let mut sum = 0.0;
        for w in clip.windows(2) {
            for &p in &region {
                sum += (0..3)
                    .map(|k| (w[1][3 * p + k] as f64 - w[0][3 * p + k] as f64).abs())
                    .sum::<f64>();
            }
        }
        sum / (3 * region.len() * (n - 1)) as f64
    };
    Ok(Some(Flicker {
        frames: n,
        region_pixels: region.len(),
        input: temporal(input),
        output: temporal(output),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_form_clip() {
        // 2x1 frames. Pixel 0: input alternates 100/104, output steady at 120 (restored,
        // no flicker). Pixel 1: output = input (not restored).
        let frame = |a: u8, b: u8| vec![a, a, a, b, b, b];
        let input = vec![frame(100, 50), frame(104, 50), frame(100, 50)];
        let output = vec![frame(120, 50), frame(120, 50), frame(120, 50)];
        let f = flicker(&input, &output, 2, 1).unwrap().unwrap();
        assert_eq!((f.frames, f.region_pixels), (3, 1));
        assert_eq!((f.input, f.output), (4.0, 0.0));
        // The output follows the input's change doubled: ratio 2.
        let output = vec![frame(120, 50), frame(128, 50), frame(120, 50)];
        let f = flicker(&input, &output, 2, 1).unwrap().unwrap();
        assert_eq!((f.output, f.ratio()), (8.0, 2.0));
        // Nothing restored, one frame, or mismatched clips.
        assert_eq!(flicker(&input, &input, 2, 1).unwrap(), None);
        assert_eq!(flicker(&input[..1], &output[..1], 2, 1).unwrap(), None);
        assert!(flicker(&input, &output[..2], 2, 1).is_err());
    }
}
