//! Image resampling with OpenCV's conventions.
//!
//! Pixel centres sit at integer coordinates and an output pixel `x` samples the input at
//! `(x + 0.5)·(in/out) − 0.5` (OpenCV's `cv2.resize`); borders replicate the edge pixel. No
//! anti-aliasing is applied when shrinking, exactly as `cv2.INTER_LINEAR` and
//! `cv2.INTER_CUBIC` do, which is what the BFR degradation pipelines (GFPGAN, CodeFormer,
//! DiffBIR) were defined with.

use crate::error::Result;
use crate::image::check_rgb;
use ndarray::{Array2, Array3, ArrayView3};

/// The interpolation kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    /// Bilinear (two taps), as `cv2.INTER_LINEAR`.
    Bilinear,
    /// Keys cubic convolution with a = −0.75 (four taps), as `cv2.INTER_CUBIC`.
    Bicubic,
}

/// For each output index: the first input index and the tap weights (indices already clamped).
struct Taps {
    index: Vec<[usize; 4]>,
    weight: Vec<[f32; 4]>,
    taps: usize,
}

fn cubic(x: f64) -> f64 {
    const A: f64 = -0.75;
    let x = x.abs();
    if x <= 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A
    } else {
        0.0
    }
}

fn taps(input: usize, output: usize, filter: Filter) -> Taps {
    let scale = input as f64 / output as f64;
    let last = input as isize - 1;
    let clamp = |i: isize| i.clamp(0, last) as usize;
    let mut index = Vec::with_capacity(output);
    let mut weight = Vec::with_capacity(output);
    for o in 0..output {
        let s = (o as f64 + 0.5) * scale - 0.5;
        let i0 = s.floor();
        let f = s - i0;
        let i0 = i0 as isize;
        match filter {
            Filter::Bilinear => {
                // OpenCV clamps the left neighbour's weight at the left border.
                let (i0, f) = if i0 < 0 { (0, 0.0) } else { (i0, f) };
                index.push([clamp(i0), clamp(i0 + 1), 0, 0]);
                weight.push([(1.0 - f) as f32, f as f32, 0.0, 0.0]);
            }
            Filter::Bicubic => {
                index.push([clamp(i0 - 1), clamp(i0), clamp(i0 + 1), clamp(i0 + 2)]);
                weight.push([
                    cubic(1.0 + f) as f32,
                    cubic(f) as f32,
                    cubic(1.0 - f) as f32,
                    cubic(2.0 - f) as f32,
                ]);
            }
        }
    }
    let taps = match filter {
        Filter::Bilinear => 2,
        Filter::Bicubic => 4,
    };
    Taps {
        index,
        weight,
        taps,
    }
}

/// Resizes a `[C, H, W]` array to `[C, out_h, out_w]`. Both output sizes must be positive.
pub fn resize_planes(
    img: &ArrayView3<f32>,
    out_h: usize,
    out_w: usize,
    filter: Filter,
) -> Array3<f32> {
    let (c, h, w) = img.dim();
    assert!(
        out_h > 0 && out_w > 0 && h > 0 && w > 0,
        "resize to or from an empty image"
    );
    let tx = taps(w, out_w, filter);
    let ty = taps(h, out_h, filter);
    // Horizontal pass: [C, H, out_w].
    let mut mid = Array3::<f32>::zeros((c, h, out_w));
    for ch in 0..c {
        for y in 0..h {
            let row = img.slice(ndarray::s![ch, y, ..]);
            let row = row.as_slice();
            let owned;
            let row: &[f32] = match row {
                Some(r) => r,
                None => {
                    owned = img.slice(ndarray::s![ch, y, ..]).to_vec();
                    &owned
                }
            };
            let mut out = mid.slice_mut(ndarray::s![ch, y, ..]);
            for x in 0..out_w {
                let (idx, wt) = (&tx.index[x], &tx.weight[x]);
                let mut acc = 0.0f32;
                for k in 0..tx.taps {
                    acc += row[idx[k]] * wt[k];
                }
                out[x] = acc;
            }
        }
    }
    // Vertical pass: [C, out_h, out_w].
    let mut out = Array3::<f32>::zeros((c, out_h, out_w));
    for ch in 0..c {
        for y in 0..out_h {
            let (idx, wt) = (&ty.index[y], &ty.weight[y]);
            for k in 0..ty.taps {
                let src = mid.slice(ndarray::s![ch, idx[k], ..]);
                let wk = wt[k];
                let mut dst = out.slice_mut(ndarray::s![ch, y, ..]);
                dst.zip_mut_with(&src, |d, &s| *d += s * wk);
            }
        }
    }
    out
}

/// Resizes an RGB `[3, H, W]` image to `[3, out_h, out_w]`.
pub fn resize(
    img: &ArrayView3<f32>,
    out_h: usize,
    out_w: usize,
    filter: Filter,
) -> Result<Array3<f32>> {
    check_rgb(img, "image to resize")?;
    check_target(out_h, out_w)?;
    Ok(resize_planes(img, out_h, out_w, filter))
}

/// PIL's `Image.resize(..., BICUBIC)` of a float ('F' mode) image: separable antialiased cubic
/// convolution (a = −0.5, support scaled by the shrink factor), horizontal pass first, each
/// pass accumulated in f64 and stored as f32 as PIL stores 'F' images.
pub fn pil_bicubic_resize(img: &Array2<f64>, out_h: usize, out_w: usize) -> Array2<f64> {
    let (h, w) = img.dim();
    pil_bicubic_resize_of(h, w, |y, x| img[[y, x]], out_h, out_w)
}

/// [`pil_bicubic_resize`] of the `h × w` plane whose value at `(y, x)` is `pixel(y, x)`: the
/// plane itself need not be held (only the horizontal pass, `h × out_w` values).
fn pil_bicubic_resize_of(
    h: usize,
    w: usize,
    pixel: impl Fn(usize, usize) -> f64,
    out_h: usize,
    out_w: usize,
) -> Array2<f64> {
    fn cubic(x: f64) -> f64 {
        const A: f64 = -0.5;
        let x = x.abs();
        if x < 1.0 {
            ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
        } else if x < 2.0 {
            (((x - 5.0) * x + 8.0) * x - 4.0) * A
        } else {
            0.0
        }
    }
    // precompute_coeffs from Pillow's Resample.c.
    fn coeffs(in_size: usize, out_size: usize) -> Vec<(usize, Vec<f64>)> {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = 2.0 * filterscale;
        (0..out_size)
            .map(|xx| {
                let center = (xx as f64 + 0.5) * scale;
                let ss = 1.0 / filterscale;
                let xmin = ((center - support + 0.5) as isize).max(0) as usize;
                let xmax = ((center + support + 0.5) as isize).min(in_size as isize) as usize;
                let mut k: Vec<f64> = (xmin..xmax)
                    .map(|x| cubic((x as f64 - center + 0.5) * ss))
                    .collect();
                let ww: f64 = k.iter().sum();
                if ww != 0.0 {
                    k.iter_mut().for_each(|v| *v /= ww);
                }
                (xmin, k)
            })
            .collect()
    }
    let kx = coeffs(w, out_w);
    let mut tmp = Array2::<f64>::zeros((h, out_w));
    for y in 0..h {
        for (xx, (xmin, k)) in kx.iter().enumerate() {
            let acc: f64 = k
                .iter()
                .enumerate()
                .map(|(i, kv)| pixel(y, xmin + i) * kv)
                .sum();
            tmp[[y, xx]] = acc as f32 as f64;
        }
    }
    let ky = coeffs(h, out_h);
    let mut out = Array2::<f64>::zeros((out_h, out_w));
    for (yy, (ymin, k)) in ky.iter().enumerate() {
        for x in 0..out_w {
            let acc: f64 = k
                .iter()
                .enumerate()
                .map(|(i, kv)| tmp[[ymin + i, x]] * kv)
                .sum();
            out[[yy, x]] = acc as f32 as f64;
        }
    }
    out
}

/// Fails for an output size with a zero side.
fn check_target(out_h: usize, out_w: usize) -> Result<()> {
    if out_h == 0 || out_w == 0 {
        return Err(crate::error::Error::invalid(
            "resize target",
            format!("{out_w}x{out_h} has a zero dimension"),
        ));
    }
    Ok(())
}

/// Antialiased resize of an RGB `[3, H, W]` image with PIL's bicubic filter (support widened
/// by the shrink factor, so shrinking averages instead of aliasing), for preparing training
/// images at a lower resolution. Values are not clamped.
pub fn resize_antialiased(
    img: &ArrayView3<f32>,
    out_h: usize,
    out_w: usize,
) -> Result<Array3<f32>> {
    check_rgb(img, "image to resize")?;
    check_target(out_h, out_w)?;
    let mut out = Array3::<f32>::zeros((3, out_h, out_w));
    for c in 0..3 {
        let plane = img.index_axis(ndarray::Axis(0), c).mapv(|v| v as f64);
        let r = pil_bicubic_resize(&plane, out_h, out_w);
        out.index_axis_mut(ndarray::Axis(0), c)
            .assign(&r.mapv(|v| v as f32));
    }
    Ok(out)
}

/// [`resize_antialiased`] of an 8-bit RGB image (`HWC` bytes, `width × height`), equal to it on
/// the image's f32 form ([`crate::image::from_rgb8`]) without making that form: a large photo's
/// shrunk copy (for detection) costs the output and one pass's rows, not 12 bytes per pixel.
pub fn resize_antialiased_rgb8(
    data: &[u8],
    width: usize,
    height: usize,
    out_h: usize,
    out_w: usize,
) -> Result<Array3<f32>> {
    if width == 0 || height == 0 || data.len() != width * height * 3 {
        return Err(crate::error::Error::invalid(
            "image to resize",
            format!(
                "{} bytes are not a {width}x{height} RGB24 image",
                data.len()
            ),
        ));
    }
    check_target(out_h, out_w)?;
    let mut out = Array3::<f32>::zeros((3, out_h, out_w));
    for c in 0..3 {
        let px = |y: usize, x: usize| (data[(y * width + x) * 3 + c] as f32 / 255.0) as f64;
        let r = pil_bicubic_resize_of(height, width, px, out_h, out_w);
        out.index_axis_mut(ndarray::Axis(0), c)
            .assign(&r.mapv(|v| v as f32));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rgb8_antialiased_shrink_equals_the_f32_one() {
        let (w, h) = (37, 23);
        let data: Vec<u8> = (0..w * h * 3).map(|i| ((i * 7919) % 251) as u8).collect();
        let f32_img = crate::image::from_rgb8(&data, w, h).unwrap();
        let a = resize_antialiased(&f32_img.view(), 9, 14).unwrap();
        let b = resize_antialiased_rgb8(&data, w, h, 9, 14).unwrap();
        assert_eq!(a, b);
        assert!(resize_antialiased_rgb8(&data[1..], w, h, 9, 14).is_err());
    }

    #[test]
    fn identity_size_is_identity() {
        let img = Array3::from_shape_fn((3, 5, 6), |(c, y, x)| (c + 2 * y + 3 * x) as f32 / 30.0);
        for f in [Filter::Bilinear, Filter::Bicubic] {
            let out = resize(&img.view(), 5, 6, f).unwrap();
            let d = (&out - &img).mapv(f32::abs).fold(0.0f32, |a, &b| a.max(b));
            assert!(d < 1e-6, "{f:?} {d}");
        }
    }

    #[test]
    fn opencv_bilinear_2x_upsample_of_a_ramp() {
        // cv2.resize(np.array([[0, 1, 2, 3]], np.float32), (8, 1), interpolation=INTER_LINEAR)
        // = [0, .25, .75, 1.25, 1.75, 2.25, 2.75, 3].
        let img = Array3::from_shape_fn((3, 1, 4), |(_, _, x)| x as f32);
        let out = resize(&img.view(), 1, 8, Filter::Bilinear).unwrap();
        let want = [0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0];
        for (x, w) in want.iter().enumerate() {
            assert!((out[[0, 0, x]] - w).abs() < 1e-6, "{x}: {}", out[[0, 0, x]]);
        }
        // 2x downsample averages pairs: [0.5, 2.5].
        let out = resize(&img.view(), 1, 2, Filter::Bilinear).unwrap();
        assert!((out[[1, 0, 0]] - 0.5).abs() < 1e-6 && (out[[1, 0, 1]] - 2.5).abs() < 1e-6);
    }

    #[test]
    fn matches_opencv_on_reference_vectors() {
        // Expected values from cv2.resize (opencv-python-headless 4.10) on the row
        // [0, 1, 0, 3, 2, 7] (float32).
        let img = Array3::from_shape_fn((3, 1, 6), |(_, _, x)| [0.0, 1.0, 0.0, 3.0, 2.0, 7.0][x]);
        let cases: [(usize, Filter, &[f64]); 4] = [
            (
                13,
                Filter::Bicubic,
                &[
                    -0.10783172,
                    0.19081426,
                    0.78224564,
                    0.94546479,
                    0.17429841,
                    0.06417805,
                    1.5,
                    2.93582249,
                    2.51590395,
                    1.78365624,
                    3.53272939,
                    6.13553905,
                    7.53915882,
                ],
            ),
            (
                4,
                Filter::Bicubic,
                &[0.26171875, -0.0546875, 2.9140625, 5.83203125],
            ),
            (
                13,
                Filter::Bilinear,
                &[
                    0.0, 0.1923077, 0.65384614, 0.88461542, 0.42307687, 0.11538434, 1.5,
                    2.88461566, 2.57692313, 2.11538458, 3.73076868, 6.03846264, 7.0,
                ],
            ),
            (4, Filter::Bilinear, &[0.25, 0.25, 2.75, 5.75]),
        ];
        for (w, f, want) in cases {
            let out = resize(&img.view(), 1, w, f).unwrap();
            for (x, v) in want.iter().enumerate() {
                assert!(
                    (out[[2, 0, x]] as f64 - v).abs() < 2e-5,
                    "{f:?} -> {w}, x {x}: {} vs {v}",
                    out[[2, 0, x]]
                );
            }
        }
    }
}
