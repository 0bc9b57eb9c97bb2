//! The blind-face-restoration degradation model.
//!
//! `LQ = resize_back( JPEG_q( clip( downscale_s( HQ ⊛ k_σ ) + n_δ ) ) )`, the second-order-free
//! pipeline of GFPGAN (Wang et al., 2021), CodeFormer and DiffBIR's face stage:
//!
//! 1. blur with a Gaussian kernel `k`: isotropic (σ) or anisotropic (σx, σy, rotation θ), size
//!    41 at the reference resolution, OpenCV `filter2D` border (reflect-101);
//! 2. downscale by `s` with bilinear interpolation (`cv2.INTER_LINEAR`);
//! 3. add Gaussian noise of standard deviation `δ/255` per sample, clip to [0, 1];
//! 4. JPEG-compress at quality `q` (8-bit, the `image` crate's encoder) and decode;
//! 5. resize back to the input size (bilinear) and quantise to 8 bits.
//!
//! Presets give the parameter ranges ([`DegradePreset::lrpo`], [`DegradePreset::gfpgan`],
//! [`DegradePreset::codeformer`]). Ranges are defined for faces at `reference_size` = 512 px;
//! on an image of side `n` the blur σ and kernel size are multiplied by `n/512` and the
//! downscale factor becomes `max(1, s·n/512)`, so the LQ carries the same information about the
//! face whatever resolution the training runs at (a no-op at 512 px). Sampled parameters are a
//! serde struct ([`DegradeParams`]) that fully determines the output bytes: same parameters
//! (same seed) → same bytes.

use crate::error::{Error, Result};
use crate::image::check_rgb;
use crate::resize::{Filter, resize_planes};
use crate::rng::Rng;
use ndarray::{Array2, Array3, ArrayView3};
use serde::{Deserialize, Serialize};

/// Parameter ranges of a degradation preset; every range is `[low, high]`, sampled uniformly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DegradePreset {
    /// Preset name, recorded with every sample.
    pub name: String,
    /// Face size (pixels) at which the ranges are defined. Default 512.
    pub reference_size: u32,
    /// Blur kernel side at the reference size (odd). Default 41.
    pub kernel_size: u32,
    /// Probability of an isotropic kernel (else anisotropic). Default 0.5.
    pub iso_prob: f64,
    /// Blur σ range in pixels at the reference size.
    pub sigma: [f64; 2],
    /// Downscale factor range (1 = no downscale).
    pub scale: [f64; 2],
    /// Gaussian noise σ range in 8-bit units (0–255).
    pub noise: [f64; 2],
    /// JPEG quality range (integers, 1–100).
    pub jpeg: [u8; 2],
}

impl DegradePreset {
    /// The preset used by LRPO / DiffBIR's face degradation: kernel 41, σ 0.1–12, scale 1–12,
    /// noise 0–15, JPEG 30–100.
    pub fn lrpo() -> Self {
        DegradePreset {
            name: "lrpo".into(),
            reference_size: 512,
            kernel_size: 41,
            iso_prob: 0.5,
            sigma: [0.1, 12.0],
            scale: [1.0, 12.0],
            noise: [0.0, 15.0],
            jpeg: [30, 100],
        }
    }

    /// GFPGAN's training degradation: σ 0.1–10, scale 0.8–8, noise 0–20, JPEG 60–100.
    pub fn gfpgan() -> Self {
        DegradePreset {
            name: "gfpgan".into(),
            sigma: [0.1, 10.0],
            scale: [0.8, 8.0],
            noise: [0.0, 20.0],
            jpeg: [60, 100],
            ..Self::lrpo()
        }
    }

    /// CodeFormer's (heavier) degradation: σ 1–15, scale 4–30, noise 0–20, JPEG 30–80.
    pub fn codeformer() -> Self {
        DegradePreset {
            name: "codeformer".into(),
            sigma: [1.0, 15.0],
            scale: [4.0, 30.0],
            noise: [0.0, 20.0],
            jpeg: [30, 80],
            ..Self::lrpo()
        }
    }

    /// The preset called `name` (`lrpo`, `gfpgan` or `codeformer`).
    pub fn by_name(name: &str) -> Result<Self> {
        match name {
            "lrpo" => Ok(Self::lrpo()),
            "gfpgan" => Ok(Self::gfpgan()),
            "codeformer" => Ok(Self::codeformer()),
            _ => Err(Error::invalid(
                "degradation preset",
                format!("{name:?} (expected lrpo, gfpgan or codeformer)"),
            )),
        }
    }

    /// Checks that every range is ordered and inside its domain.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, reason: String| {
            Err(Error::invalid(
                format!("preset {}: {what}", self.name),
                reason,
            ))
        };
        if self.reference_size == 0 {
            return bad("reference_size", "must be positive".into());
        }
        if self.kernel_size < 3 || self.kernel_size.is_multiple_of(2) {
            return bad(
                "kernel_size",
                format!("{} (must be odd and >= 3)", self.kernel_size),
            );
        }
        if !(0.0..=1.0).contains(&self.iso_prob) {
            return bad("iso_prob", format!("{} (must be in [0, 1])", self.iso_prob));
        }
        for (what, r, min) in [
            ("sigma", self.sigma, 1e-3),
            ("scale", self.scale, 0.1),
            ("noise", self.noise, 0.0),
        ] {
            if !(r[0].is_finite() && r[1].is_finite() && r[0] >= min && r[0] <= r[1]) {
                return bad(
                    what,
                    format!("{r:?} (must be finite, ordered, low >= {min})"),
                );
            }
        }
        if self.jpeg[0] < 1 || self.jpeg[1] > 100 || self.jpeg[0] > self.jpeg[1] {
            return bad(
                "jpeg",
                format!("{:?} (must be ordered within 1..=100)", self.jpeg),
            );
        }
        Ok(())
    }

    /// Draws one set of degradation parameters.
    pub fn sample(&self, rng: &mut Rng) -> DegradeParams {
        let iso = rng.bernoulli(self.iso_prob);
        let kernel = if iso {
            let s = rng.range(self.sigma[0], self.sigma[1]);
            BlurKernel {
                isotropic: true,
                sigma_x: s,
                sigma_y: s,
                theta: 0.0,
            }
        } else {
            let sx = rng.range(self.sigma[0], self.sigma[1]);
            let sy = rng.range(self.sigma[0], self.sigma[1]);
            let theta = rng.range(-std::f64::consts::PI, std::f64::consts::PI);
            BlurKernel {
                isotropic: false,
                sigma_x: sx,
                sigma_y: sy,
                theta,
            }
        };
        let scale = rng.range(self.scale[0], self.scale[1]);
        let noise_sigma = rng.range(self.noise[0], self.noise[1]);
        let jpeg_quality = rng.int_inclusive(self.jpeg[0] as i64, self.jpeg[1] as i64) as u8;
        let noise_seed = rng.next_u64();
        DegradeParams {
            preset: self.name.clone(),
            reference_size: self.reference_size,
            kernel_size: self.kernel_size,
            kernel,
            scale,
            noise_sigma,
            noise_seed,
            jpeg_quality,
        }
    }
}

/// A Gaussian blur kernel, in pixels at the reference size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlurKernel {
    /// Whether σx = σy and θ = 0.
    pub isotropic: bool,
    /// Standard deviation along the kernel's first principal axis (pixels).
    pub sigma_x: f64,
    /// Standard deviation along the second principal axis (pixels).
    pub sigma_y: f64,
    /// Rotation of the first axis, radians in [−π, π).
    pub theta: f64,
}

/// One sampled degradation: everything needed to reproduce an LQ image bit for bit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DegradeParams {
    /// The preset it was drawn from.
    pub preset: String,
    /// Face size the pixel quantities refer to (see the module doc).
    pub reference_size: u32,
    /// Kernel side at the reference size.
    pub kernel_size: u32,
    /// The blur kernel.
    pub kernel: BlurKernel,
    /// Downscale factor at the reference size.
    pub scale: f64,
    /// Noise standard deviation in 8-bit units.
    pub noise_sigma: f64,
    /// Seed of the noise field.
    pub noise_seed: u64,
    /// JPEG quality, 1–100.
    pub jpeg_quality: u8,
}

/// Builds the normalised kernel `exp(−½ pᵀ Σ⁻¹ p)` with `Σ = R diag(σx², σy²) Rᵀ` on a
/// `size × size` grid centred at 0 (BasicSR's `bivariate_Gaussian`).
pub fn gaussian_kernel(size: usize, sigma_x: f64, sigma_y: f64, theta: f64) -> Array2<f32> {
    let (c, s) = (theta.cos(), theta.sin());
    let (vx, vy) = (sigma_x * sigma_x, sigma_y * sigma_y);
    // Σ = R D Rᵀ, Σ⁻¹ = R D⁻¹ Rᵀ.
    let i00 = c * c / vx + s * s / vy;
    let i01 = c * s / vx - c * s / vy;
    let i11 = s * s / vx + c * c / vy;
    let half = (size / 2) as f64;
    let mut k = Array2::<f64>::zeros((size, size));
    for ((y, x), v) in k.indexed_iter_mut() {
        let (px, py) = (x as f64 - half, y as f64 - half);
        *v = (-0.5 * (i00 * px * px + 2.0 * i01 * px * py + i11 * py * py)).exp();
    }
    let sum = k.sum();
    k.mapv(|v| (v / sum) as f32)
}

/// Reflect-101 index (OpenCV's default border): `-1 → 1`, `n → n-2`.
fn reflect101(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let n = n as isize;
    let period = 2 * (n - 1);
    let mut i = i.rem_euclid(period);
    if i >= n {
        i = period - i;
    }
    i as usize
}

/// Correlates every channel of `img` with `kernel` (OpenCV `filter2D`, reflect-101 border).
///
/// Kernel rows and columns whose weights are all below 1e-9 of the peak are trimmed first
/// (a large kernel with a small σ is mostly zeros); the trimmed weights change no output by
/// more than 1e-7.
pub fn filter2d(img: &ArrayView3<f32>, kernel: &Array2<f32>) -> Array3<f32> {
    let (kh, kw) = kernel.dim();
    let peak = kernel.fold(0.0f32, |a, &b| a.max(b.abs()));
    let keep = |v: f32| v.abs() > peak * 1e-9;
    let rows: Vec<usize> = (0..kh)
        .filter(|&r| kernel.row(r).iter().any(|&v| keep(v)))
        .collect();
    let cols: Vec<usize> = (0..kw)
        .filter(|&c| kernel.column(c).iter().any(|&v| keep(v)))
        .collect();
    let (r0, r1) = (rows[0], *rows.last().unwrap());
    let (c0, c1) = (cols[0], *cols.last().unwrap());
    let (cy, cx) = ((kh / 2) as isize, (kw / 2) as isize);
    let (ch, h, w) = img.dim();
    let mut out = Array3::<f32>::zeros((ch, h, w));
    let pad_l = cx - c0 as isize;
    let pad_r = c1 as isize - cx;
    let pw = w + (pad_l + pad_r) as usize;
    let mut padded_row = vec![0.0f32; pw];
    for c in 0..ch {
        let plane = img.slice(ndarray::s![c, .., ..]);
        let mut acc_row = vec![0.0f32; w];
        for y in 0..h {
            acc_row.iter_mut().for_each(|v| *v = 0.0);
            for ky in r0..=r1 {
                let sy = reflect101(y as isize + ky as isize - cy, h);
                let src = plane.row(sy);
                for (i, p) in padded_row.iter_mut().enumerate() {
                    *p = src[reflect101(i as isize - pad_l, w)];
                }
                for kx in c0..=c1 {
                    let wk = kernel[[ky, kx]];
                    if wk == 0.0 {
                        continue;
                    }
                    let off = kx - c0;
                    for (a, &p) in acc_row.iter_mut().zip(&padded_row[off..off + w]) {
                        *a += wk * p;
                    }
                }
            }
            out.slice_mut(ndarray::s![c, y, ..])
                .iter_mut()
                .zip(&acc_row)
                .for_each(|(o, &a)| *o = a);
        }
    }
    out
}

/// The pixel quantities of `params` on an image whose shorter side is `side`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectiveDegradation {
    /// Kernel side in pixels (odd, >= 3).
    pub kernel_size: usize,
    /// σx in pixels.
    pub sigma_x: f64,
    /// σy in pixels.
    pub sigma_y: f64,
    /// Downscale factor (>= 1 unless the preset asks for upscaling).
    pub scale: f64,
}

impl DegradeParams {
    /// Converts the reference-size quantities to pixels on an image of shorter side `side`.
    pub fn effective(&self, side: usize) -> EffectiveDegradation {
        let f = side as f64 / self.reference_size as f64;
        let mut k = (self.kernel_size as f64 * f).round() as usize;
        if k.is_multiple_of(2) {
            k += 1;
        }
        let k = k.max(3);
        let scale = if self.scale >= 1.0 {
            (self.scale * f).max(1.0)
        } else {
            self.scale
        };
        EffectiveDegradation {
            kernel_size: k,
            sigma_x: self.kernel.sigma_x * f,
            sigma_y: self.kernel.sigma_y * f,
            scale,
        }
    }
}

/// Applies a degradation to an RGB image in [0, 1]; returns an 8-bit-exact LQ of the same size.
pub fn degrade(img: &ArrayView3<f32>, params: &DegradeParams) -> Result<Array3<f32>> {
    Ok(degrade_full(img, params)?.lq)
}

/// A degraded image and its low-resolution form.
#[derive(Debug, Clone, PartialEq)]
pub struct Degraded {
    /// The LQ at the input's size (what restorers get).
    pub lq: Array3<f32>,
    /// The LQ at the downscaled size, after noise and JPEG, before being resized back (8-bit
    /// exact): what a bicubic-upsampling baseline starts from.
    pub small: Array3<f32>,
}

/// [`degrade`], also returning the small LQ.
pub fn degrade_full(img: &ArrayView3<f32>, params: &DegradeParams) -> Result<Degraded> {
    let (h, w) = check_rgb(img, "image to degrade")?;
    if !(params.scale.is_finite() && params.scale > 0.0 && params.noise_sigma.is_finite()) {
        return Err(Error::invalid(
            "degradation parameters",
            format!("{params:?}"),
        ));
    }
    let eff = params.effective(h.min(w));
    // 1. Blur.
    let kernel = gaussian_kernel(
        eff.kernel_size,
        eff.sigma_x.max(1e-3),
        eff.sigma_y.max(1e-3),
        params.kernel.theta,
    );
    let blurred = filter2d(img, &kernel);
    // 2. Downscale.
    let lh = ((h as f64 / eff.scale).round() as usize).max(1);
    let lw = ((w as f64 / eff.scale).round() as usize).max(1);
    let mut small = resize_planes(&blurred.view(), lh, lw, Filter::Bilinear);
    // 3. Noise, then clip.
    let mut rng = Rng::new(params.noise_seed);
    let sd = params.noise_sigma / 255.0;
    for v in small.iter_mut() {
        let n = if sd > 0.0 { rng.normal() * sd } else { 0.0 };
        *v = (*v as f64 + n).clamp(0.0, 1.0) as f32;
    }
    // 4. JPEG.
    let raw = crate::image::to_rgb8(&small.view())?;
    let jpeg = crate::image::encode_rgb8(
        &raw,
        lw as u32,
        lh as u32,
        crate::image::OutputFormat::Jpeg(params.jpeg_quality),
    )?;
    let decoded = crate::image::decode_rgb(&jpeg, std::path::Path::new("<jpeg>"), u64::MAX)?;
    // 5. Back to the input size, 8-bit.
    let back = resize_planes(&decoded.view(), h, w, Filter::Bilinear);
    Ok(Degraded {
        lq: crate::image::quantize_u8(&back.view())?,
        small: decoded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_image(h: usize, w: usize) -> Array3<f32> {
        Array3::from_shape_fn((3, h, w), |(c, y, x)| {
            let v = ((x as f32 * 0.21 + c as f32).sin() * (y as f32 * 0.13).cos() + 1.0) * 0.5;
            (v * 255.0).round() / 255.0
        })
    }

    #[test]
    fn kernel_is_normalised_and_rotation_swaps_axes() {
        let k = gaussian_kernel(21, 3.0, 1.0, 0.0);
        assert!((k.sum() - 1.0).abs() < 1e-5);
        // Wider along x than along y.
        assert!(k[[10, 13]] > k[[13, 10]]);
        let r = gaussian_kernel(21, 3.0, 1.0, std::f64::consts::FRAC_PI_2);
        for y in 0..21 {
            for x in 0..21 {
                assert!((k[[y, x]] - r[[x, y]]).abs() < 1e-6);
            }
        }
        // Isotropic kernel is the outer product of 1-D Gaussians.
        let k = gaussian_kernel(9, 1.5, 1.5, 0.0);
        let g: Vec<f64> = (0..9)
            .map(|i| (-((i as f64 - 4.0).powi(2)) / (2.0 * 2.25)).exp())
            .collect();
        let s: f64 = g.iter().sum();
        assert!((k[[2, 6]] as f64 - g[2] * g[6] / (s * s)).abs() < 1e-7);
    }

    #[test]
    fn filter2d_matches_a_direct_reflect101_convolution() {
        let img = test_image(7, 9);
        let k = gaussian_kernel(5, 1.2, 0.7, 0.4);
        let out = filter2d(&img.view(), &k);
        for c in 0..3 {
            for y in 0..7 {
                for x in 0..9 {
                    let mut acc = 0.0f64;
                    for ky in 0..5 {
                        for kx in 0..5 {
                            let sy = reflect101(y as isize + ky as isize - 2, 7);
                            let sx = reflect101(x as isize + kx as isize - 2, 9);
                            acc += k[[ky, kx]] as f64 * img[[c, sy, sx]] as f64;
                        }
                    }
                    assert!((out[[c, y, x]] as f64 - acc).abs() < 1e-5);
                }
            }
        }
        assert_eq!(reflect101(-1, 5), 1);
        assert_eq!(reflect101(5, 5), 3);
        assert_eq!(reflect101(-7, 5), 1);
    }

    #[test]
    fn same_seed_same_bytes_and_parameters_round_trip_as_json() {
        let img = test_image(64, 64);
        for preset in [
            DegradePreset::lrpo(),
            DegradePreset::gfpgan(),
            DegradePreset::codeformer(),
        ] {
            preset.validate().unwrap();
            let p1 = preset.sample(&mut Rng::new(11));
            let p2 = preset.sample(&mut Rng::new(11));
            assert_eq!(p1, p2);
            let json = serde_json::to_string(&p1).unwrap();
            let p3: DegradeParams = serde_json::from_str(&json).unwrap();
            assert_eq!(p1, p3);
            let a = degrade(&img.view(), &p1).unwrap();
            let b = degrade(&img.view(), &p3).unwrap();
            assert_eq!(a, b);
            assert_eq!(a.dim(), img.dim());
            // 8-bit exact.
            assert!(
                a.iter()
                    .all(|&v| ((v * 255.0).round() - v * 255.0).abs() < 1e-4)
            );
            let p4 = preset.sample(&mut Rng::new(12));
            assert_ne!(p1, p4);
        }
    }

    #[test]
    fn samples_stay_in_the_preset_ranges() {
        let preset = DegradePreset::codeformer();
        let mut rng = Rng::new(5);
        let mut saw_iso = false;
        let mut saw_aniso = false;
        for _ in 0..500 {
            let p = preset.sample(&mut rng);
            assert!(
                (1.0..=15.0).contains(&p.kernel.sigma_x)
                    && (1.0..=15.0).contains(&p.kernel.sigma_y)
            );
            assert!((4.0..=30.0).contains(&p.scale));
            assert!((0.0..=20.0).contains(&p.noise_sigma));
            assert!((30..=80).contains(&p.jpeg_quality));
            saw_iso |= p.kernel.isotropic;
            saw_aniso |= !p.kernel.isotropic;
        }
        assert!(saw_iso && saw_aniso);
    }

    #[test]
    fn stronger_degradation_loses_more() {
        let img = test_image(128, 128);
        let mild = DegradeParams {
            preset: "t".into(),
            reference_size: 128,
            kernel_size: 41,
            kernel: BlurKernel {
                isotropic: true,
                sigma_x: 0.5,
                sigma_y: 0.5,
                theta: 0.0,
            },
            scale: 1.0,
            noise_sigma: 0.0,
            noise_seed: 1,
            jpeg_quality: 100,
        };
        let heavy = DegradeParams {
            kernel: BlurKernel {
                isotropic: true,
                sigma_x: 4.0,
                sigma_y: 4.0,
                theta: 0.0,
            },
            scale: 4.0,
            noise_sigma: 10.0,
            jpeg_quality: 30,
            ..mild.clone()
        };
        let err = |p: &DegradeParams| {
            let lq = degrade(&img.view(), p).unwrap();
            (&lq - &img).mapv(|v| v * v).mean().unwrap()
        };
        let (e_mild, e_heavy) = (err(&mild), err(&heavy));
        assert!(e_mild < 2e-4, "{e_mild}");
        assert!(e_heavy > 10.0 * e_mild, "{e_heavy} vs {e_mild}");
    }

    #[test]
    fn effective_parameters_scale_with_image_size() {
        let p = DegradePreset::lrpo().sample(&mut Rng::new(3));
        let at512 = p.effective(512);
        assert_eq!(at512.kernel_size, 41);
        assert!((at512.sigma_x - p.kernel.sigma_x).abs() < 1e-12);
        let at128 = p.effective(128);
        assert_eq!(at128.kernel_size, 11);
        assert!((at128.sigma_x - p.kernel.sigma_x / 4.0).abs() < 1e-12);
        assert!((at128.scale - (p.scale / 4.0).max(1.0)).abs() < 1e-12);
    }

    #[test]
    fn bad_presets_are_refused() {
        assert!(DegradePreset::by_name("nope").is_err());
        let mut p = DegradePreset::lrpo();
        p.jpeg = [90, 30];
        assert!(p.validate().is_err());
        let mut p = DegradePreset::lrpo();
        p.kernel_size = 40;
        assert!(p.validate().is_err());
    }
}
