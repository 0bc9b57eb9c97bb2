//! Camera pixel formats: raw frames as cameras and V4L2/ISP buffers deliver them, converted to
//! and from the RGB f32 CHW [0, 1] images the pipeline works on.
//!
//! - `rgb24`, `bgr24`: 3 bytes per pixel, packed.
//! - `nv12`: a full-resolution Y plane, then one plane of interleaved U, V samples at half
//!   resolution in both directions (4:2:0); width and height even.
//! - `yuyv422` (YUY2): `Y0 U Y1 V` per two pixels (4:2:2); width even.
//!
//! YUV is BT.601 (the camera default), limited range (Y 16–235, U/V 16–240) unless
//! [`YuvRange::Full`] is asked for (0–255, as JPEG). With `R, G, B` in [0, 1]:
//! `Y' = 0.299 R + 0.587 G + 0.114 B`, `Pb = (B − Y') / 1.772`, `Pr = (R − Y') / 1.402`;
//! limited: `Y = 16 + 219 Y'`, `U = 128 + 224 Pb`, `V = 128 + 224 Pr`; full: `Y = 255 Y'`,
//! `U = 128 + 255 Pb`, `V = 128 + 255 Pr` (rounded, clamped to 0–255). Chroma is subsampled by
//! averaging the pixels a sample covers and upsampled by repeating it (each pixel takes the
//! chroma of the block it belongs to), the cheapest choice and what a frame's faces need.

use crate::error::{Error, Result};
use ndarray::{Array3, ArrayView3};
use serde::{Deserialize, Serialize};

/// A raw frame layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// Packed R, G, B bytes.
    Rgb24,
    /// Packed B, G, R bytes.
    Bgr24,
    /// Y plane, then interleaved U/V at half resolution (4:2:0).
    Nv12,
    /// `Y0 U Y1 V` per pixel pair (4:2:2).
    Yuyv422,
}

/// The value range of YUV samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum YuvRange {
    /// Y 16–235, U/V 16–240 (BT.601 "TV" range; cameras' default).
    #[default]
    Limited,
    /// 0–255 for all three (JPEG's).
    Full,
}

impl PixelFormat {
    /// Every format, with its name.
    pub const ALL: [(&'static str, PixelFormat); 4] = [
        ("rgb24", PixelFormat::Rgb24),
        ("bgr24", PixelFormat::Bgr24),
        ("nv12", PixelFormat::Nv12),
        ("yuyv422", PixelFormat::Yuyv422),
    ];

    /// The format of a name (`rgb24`, `bgr24`, `nv12`, `yuyv422`; ffmpeg's `-pix_fmt` names).
    pub fn by_name(name: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                Error::invalid(
                    "pixel format",
                    format!("{name:?}; expected one of rgb24, bgr24, nv12, yuyv422"),
                )
            })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    /// Bytes of one `width × height` frame, after checking that the format can hold that size
    /// (even sides for nv12, an even width for yuyv422) and that the product does not
    /// overflow.
    pub fn frame_bytes(self, width: usize, height: usize) -> Result<usize> {
        let bad = |reason: String| Error::invalid("frame size", reason);
        if width == 0 || height == 0 {
            return Err(bad(format!("{width}x{height} is empty")));
        }
        let px = width
            .checked_mul(height)
            .ok_or_else(|| bad(format!("{width}x{height} overflows")))?;
        match self {
            PixelFormat::Rgb24 | PixelFormat::Bgr24 => px.checked_mul(3),
            PixelFormat::Nv12 => {
                if !width.is_multiple_of(2) || !height.is_multiple_of(2) {
                    return Err(bad(format!("nv12 needs even sides, got {width}x{height}")));
                }
                px.checked_mul(3).map(|b| b / 2)
            }
            PixelFormat::Yuyv422 => {
                if !width.is_multiple_of(2) {
                    return Err(bad(format!("yuyv422 needs an even width, got {width}")));
                }
                px.checked_mul(2)
            }
        }
        .ok_or_else(|| bad(format!("{width}x{height} overflows")))
    }
}

/// `(Y, U, V)` bytes of one RGB pixel ([0, 1]); chroma before any subsampling.
fn yuv_of(r: f32, g: f32, b: f32, range: YuvRange) -> (f32, f32, f32) {
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let (pb, pr) = ((b - y) / 1.772, (r - y) / 1.402);
    match range {
        YuvRange::Limited => (16.0 + 219.0 * y, 128.0 + 224.0 * pb, 128.0 + 224.0 * pr),
        YuvRange::Full => (255.0 * y, 128.0 + 255.0 * pb, 128.0 + 255.0 * pr),
    }
}

/// RGB in [0, 1] (clamped) of one `(Y, U, V)` byte triple.
fn rgb_of(y: u8, u: u8, v: u8, range: YuvRange) -> [f32; 3] {
    let (y, pb, pr) = match range {
        YuvRange::Limited => (
            (y as f32 - 16.0) / 219.0,
            (u as f32 - 128.0) / 224.0,
            (v as f32 - 128.0) / 224.0,
        ),
        YuvRange::Full => (
            y as f32 / 255.0,
            (u as f32 - 128.0) / 255.0,
            (v as f32 - 128.0) / 255.0,
        ),
    };
    let r = y + 1.402 * pr;
    let b = y + 1.772 * pb;
    let g = (y - 0.299 * r - 0.114 * b) / 0.587;
    [r, g, b].map(|c| c.clamp(0.0, 1.0))
}

/// Rounds half up to 0–255 (`v + 0.5` truncated: the same as `round` for v ≥ 0, without a
/// libm call per value).
fn byte(v: f32) -> u8 {
    (v.clamp(0.0, 255.0) + 0.5) as u8
}

/// Decodes one raw frame into RGB f32 `[3, height, width]` in [0, 1].
pub fn to_rgb(
    bytes: &[u8],
    width: usize,
    height: usize,
    format: PixelFormat,
    range: YuvRange,
) -> Result<Array3<f32>> {
    let need = format.frame_bytes(width, height)?;
    if bytes.len() != need {
        return Err(Error::invalid(
            "frame",
            format!(
                "a {width}x{height} {} frame is {need} bytes, got {}",
                format.name(),
                bytes.len()
            ),
        ));
    }
    let (w, h) = (width, height);
    let mut out = Array3::<f32>::zeros((3, h, w));
    let mut put = |y: usize, x: usize, rgb: [f32; 3]| {
        for (c, v) in rgb.into_iter().enumerate() {
            out[[c, y, x]] = v;
        }
    };
    match format {
        PixelFormat::Rgb24 | PixelFormat::Bgr24 => {
            let swap = format == PixelFormat::Bgr24;
            for (i, p) in bytes.chunks_exact(3).enumerate() {
                let [a, g, b] = [p[0], p[1], p[2]].map(|v| v as f32 / 255.0);
                put(i / w, i % w, if swap { [b, g, a] } else { [a, g, b] });
            }
        }
        PixelFormat::Nv12 => {
            let (luma, chroma) = bytes.split_at(w * h);
            for y in 0..h {
                for x in 0..w {
                    let c = (y / 2) * w + (x / 2) * 2;
                    put(
                        y,
                        x,
                        rgb_of(luma[y * w + x], chroma[c], chroma[c + 1], range),
                    );
                }
            }
        }
        PixelFormat::Yuyv422 => {
            for y in 0..h {
                for x in 0..w {
                    let q = (y * w + (x & !1)) * 2;
                    let luma = bytes[(y * w + x) * 2];
                    put(y, x, rgb_of(luma, bytes[q + 1], bytes[q + 3], range));
                }
            }
        }
    }
    Ok(out)
}

/// Encodes an RGB image (`[3, H, W]`, values clamped to [0, 1]) as one raw frame, replacing
/// the contents of `out`.
pub fn from_rgb(
    img: &ArrayView3<f32>,
    format: PixelFormat,
    range: YuvRange,
    out: &mut Vec<u8>,
) -> Result<()> {
    let (h, w) = crate::image::check_rgb(img, "frame")?;
    let need = format.frame_bytes(w, h)?;
    out.clear();
    out.reserve(need);
    let px = |y: usize, x: usize| {
        let v = |c: usize| img[[c, y, x]].clamp(0.0, 1.0);
        (v(0), v(1), v(2))
    };
    match format {
        PixelFormat::Rgb24 | PixelFormat::Bgr24 => {
            for y in 0..h {
                for x in 0..w {
                    let (r, g, b) = px(y, x);
                    let p = if format == PixelFormat::Bgr24 {
                        [b, g, r]
                    } else {
                        [r, g, b]
                    };
                    out.extend(p.map(|v| byte(v * 255.0)));
                }
            }
        }
        PixelFormat::Nv12 => {
            for y in 0..h {
                for x in 0..w {
                    let (r, g, b) = px(y, x);
                    out.push(byte(yuv_of(r, g, b, range).0));
                }
            }
            for y in (0..h).step_by(2) {
                for x in (0..w).step_by(2) {
                    let (mut u, mut v) = (0.0, 0.0);
                    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let (r, g, b) = px(y + dy, x + dx);
                        let (_, pu, pv) = yuv_of(r, g, b, range);
                        u += pu;
                        v += pv;
                    }
                    out.extend([byte(u / 4.0), byte(v / 4.0)]);
                }
            }
        }
        PixelFormat::Yuyv422 => {
            for y in 0..h {
                for x in (0..w).step_by(2) {
                    let (r0, g0, b0) = px(y, x);
                    let (r1, g1, b1) = px(y, x + 1);
                    let (y0, u0, v0) = yuv_of(r0, g0, b0, range);
                    let (y1, u1, v1) = yuv_of(r1, g1, b1, range);
                    out.extend([
                        byte(y0),
                        byte((u0 + u1) / 2.0),
                        byte(y1),
                        byte((v0 + v1) / 2.0),
                    ]);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Colours constant over each 2 × 2 block (what 4:2:0 chroma can carry exactly), varying
    /// from block to block.
    fn test_image(h: usize, w: usize) -> Array3<f32> {
        Array3::from_shape_fn((3, h, w), |(c, y, x)| {
            let (by, bx) = ((y / 2) as f32, (x / 2) as f32);
            (0.5 + 0.4 * ((bx * 0.37 + c as f32 * 1.3).sin() * (by * 0.21).cos())).clamp(0.0, 1.0)
        })
    }

    #[test]
    fn primaries_and_greys_have_bt601_values() {
        // Closed form: white (235, 128, 128), black (16, 128, 128), red Y = 16 + 219·0.299.
        let white = yuv_of(1.0, 1.0, 1.0, YuvRange::Limited);
        assert!((white.0 - 235.0).abs() < 1e-3 && (white.1 - 128.0).abs() < 1e-3);
        let black = yuv_of(0.0, 0.0, 0.0, YuvRange::Limited);
        assert!((black.0 - 16.0).abs() < 1e-3 && (black.2 - 128.0).abs() < 1e-3);
        let red = yuv_of(1.0, 0.0, 0.0, YuvRange::Limited);
        assert!((red.0 - (16.0 + 219.0 * 0.299)).abs() < 1e-3);
        assert!(
            (red.2 - 240.0).abs() < 1e-3,
            "Cr of pure red is the top of its range"
        );
        let blue = yuv_of(0.0, 0.0, 1.0, YuvRange::Full);
        assert!(
            (blue.1 - 255.5).abs() < 1e-3 && byte(blue.1) == 255,
            "full-range Cb clamps"
        );
        for range in [YuvRange::Limited, YuvRange::Full] {
            for g in [0.0f32, 0.25, 0.5, 1.0] {
                let (y, u, v) = yuv_of(g, g, g, range);
                let back = rgb_of(byte(y), byte(u), byte(v), range);
                assert!(back.iter().all(|c| (c - g).abs() < 1.0 / 255.0), "{back:?}");
            }
        }
    }

    #[test]
    fn every_format_round_trips_within_its_quantisation() {
        let img = test_image(48, 64);
        for (name, f) in PixelFormat::ALL {
            for range in [YuvRange::Limited, YuvRange::Full] {
                let mut raw = Vec::new();
                from_rgb(&img.view(), f, range, &mut raw).unwrap();
                assert_eq!(raw.len(), f.frame_bytes(64, 48).unwrap());
                let back = to_rgb(&raw, 64, 48, f, range).unwrap();
                let err: Vec<f32> = back
                    .iter()
                    .zip(img.iter())
                    .map(|(a, b)| (a - b).abs())
                    .collect();
                let mean = err.iter().sum::<f32>() / err.len() as f32;
                let max = err.iter().copied().fold(0.0, f32::max);
                // Packed RGB: half a level. YUV: the rounding of three 8-bit samples, amplified
                // by the inverse matrix (limited range: 255/219 and 1.772·255/224), at most
                // about 2 levels; the chroma of a 2 × 2 block is exact before rounding.
                let (mean_lim, max_lim) = match f {
                    PixelFormat::Rgb24 | PixelFormat::Bgr24 => (0.5 / 255.0, 0.51 / 255.0),
                    _ => (1.0 / 255.0, 2.5 / 255.0),
                };
                assert!(
                    mean <= mean_lim && max <= max_lim,
                    "{name} {range:?}: mean {:.2}, max {:.2} levels",
                    mean * 255.0,
                    max * 255.0
                );
            }
        }
    }

    #[test]
    fn sizes_the_formats_cannot_hold_are_refused() {
        assert_eq!(PixelFormat::Nv12.frame_bytes(640, 480).unwrap(), 460_800);
        assert_eq!(PixelFormat::Yuyv422.frame_bytes(640, 480).unwrap(), 614_400);
        assert!(PixelFormat::Nv12.frame_bytes(641, 480).is_err());
        assert!(PixelFormat::Yuyv422.frame_bytes(641, 480).is_err());
        assert!(PixelFormat::Rgb24.frame_bytes(usize::MAX, 2).is_err());
        assert!(PixelFormat::Rgb24.frame_bytes(0, 2).is_err());
        assert!(to_rgb(&[0; 10], 4, 4, PixelFormat::Nv12, YuvRange::Limited).is_err());
        assert!(PixelFormat::by_name("nv21").is_err());
        assert_eq!(PixelFormat::by_name("yuyv422").unwrap().name(), "yuyv422");
    }
}
