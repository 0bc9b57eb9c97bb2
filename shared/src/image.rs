//! Image I/O and value-range conversions.
//!
//! Convention (DESIGN §3): an image is an `ndarray::Array3<f32>` of shape `[3, H, W]` (RGB,
//! channel-first), values in [0, 1]. Grayscale inputs are replicated to three channels, alpha
//! is dropped, 16-bit samples are scaled by 1/65535 and 8-bit ones by 1/255. The diffusion
//! model works in [−1, 1]; [`to_model_range`] and [`from_model_range`] are the one conversion
//! each way.

use crate::error::{Error, Result};
use ndarray::{Array3, ArrayView3};
use std::io::Cursor;
use std::path::Path;

/// Largest image (in pixels, width × height) that [`load_rgb`] decodes: 8192 × 8192. A larger
/// header (a decompression bomb or a mistaken input) is refused before any pixel is allocated.
pub const DEFAULT_MAX_PIXELS: u64 = 8192 * 8192;

/// An RGB image, channel-first `[3, H, W]`, values in [0, 1].
pub type RgbImage = Array3<f32>;

/// Checks that `img` is `[3, H, W]` with `H, W > 0` and returns `(H, W)`.
pub fn check_rgb(img: &ArrayView3<f32>, what: &str) -> Result<(usize, usize)> {
    let s = img.shape();
    if s[0] != 3 || s[1] == 0 || s[2] == 0 {
        return Err(Error::Shape {
            what: what.to_string(),
            expected: "[3, H, W] with H, W > 0".to_string(),
            found: s.to_vec(),
        });
    }
    Ok((s[1], s[2]))
}

/// Loads an image file into RGB f32 CHW [0, 1], refusing images above [`DEFAULT_MAX_PIXELS`].
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    load_rgb_limited(path, DEFAULT_MAX_PIXELS)
}

/// Loads an image file into RGB f32 CHW [0, 1], refusing images of more than `max_pixels`.
pub fn load_rgb_limited(path: &Path, max_pixels: u64) -> Result<RgbImage> {
    let bytes = crate::fsio::read(path)?;
    decode_rgb(&bytes, path, max_pixels)
}

/// Deflate's largest compression ratio (a run of one byte value: 258 bytes per 2-bit code,
/// about 1032:1).
const DEFLATE_MAX_RATIO: u64 = 1032;

/// The fewest bytes a well-formed file of `format` can code a `width × height` image in, or
/// `None` for formats without such a bound. A JPEG codes at least one bit per 8×8 luma block
/// (its DC difference; even progressive files, whose later scans can skip whole runs of
/// blocks); a PNG holds at least one bit per pixel plus a filter byte per row, deflated at most
/// [`DEFLATE_MAX_RATIO`]:1. A file far shorter declares a size it does not hold (a corrupt
/// header, or a decompression bomb) and would decode to a frame of filler at that size's full
/// cost in time and memory.
fn min_coded_bytes(format: Option<::image::ImageFormat>, width: u32, height: u32) -> Option<u64> {
    let (w, h) = (width as u64, height as u64);
    match format? {
        ::image::ImageFormat::Jpeg => Some(w.div_ceil(8) * h.div_ceil(8) / 8),
        ::image::ImageFormat::Png => Some((w.div_ceil(8) + 1) * h / DEFLATE_MAX_RATIO),
        _ => None,
    }
}

/// Decodes encoded image bytes (PNG, JPEG, BMP, PNM) into RGB f32 CHW [0, 1], turned by the
/// file's EXIF orientation (as viewers show it). `label` names the source in errors.
pub fn decode_rgb(bytes: &[u8], label: &Path, max_pixels: u64) -> Result<RgbImage> {
    Ok(from_dynamic(&decode_dynamic(bytes, label, max_pixels)?))
}

/// An 8-bit RGB image as it is decoded and saved: interleaved `R, G, B` bytes, row after row
/// (`HWC`, 3 bytes per pixel, a quarter of [`RgbImage`]'s size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb8Image {
    /// `width × height × 3` bytes.
    pub data: Vec<u8>,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

/// [`decode_rgb`] into 8-bit RGB: the same checks and orientation; 8-bit files keep their
/// bytes, others are converted as [`from_dynamic`] and [`to_rgb8`] would (so both routes give
/// the same pixels).
pub fn decode_rgb8(bytes: &[u8], label: &Path, max_pixels: u64) -> Result<Rgb8Image> {
    use ::image::DynamicImage as D;
    let dynamic = decode_dynamic(bytes, label, max_pixels)?;
    let (width, height) = (dynamic.width() as usize, dynamic.height() as usize);
    let data = match dynamic {
        D::ImageRgb8(b) => b.into_raw(),
        d @ (D::ImageLuma8(_) | D::ImageLumaA8(_) | D::ImageRgba8(_)) => d.to_rgb8().into_raw(),
        other => to_rgb8(&from_dynamic(&other).view())?,
    };
    Ok(Rgb8Image {
        data,
        width,
        height,
    })
}

/// Loads an image file into 8-bit RGB ([`decode_rgb8`]), refusing images of more than
/// `max_pixels`.
pub fn load_rgb8_limited(path: &Path, max_pixels: u64) -> Result<Rgb8Image> {
    let bytes = crate::fsio::read(path)?;
    decode_rgb8(&bytes, path, max_pixels)
}

/// Saves an 8-bit RGB image, atomically, as PNG or JPEG by `path`'s extension.
pub fn save_rgb8(path: &Path, img: &Rgb8Image) -> Result<()> {
    let format = OutputFormat::from_path(path)?;
    let bytes = encode_rgb8(&img.data, img.width as u32, img.height as u32, format).map_err(
        |e| match e {
            Error::ImageEncode { reason, .. } => Error::ImageEncode {
                path: path.to_path_buf(),
                reason,
            },
            other => other,
        },
    )?;
    crate::fsio::write_atomic(path, &bytes)
}

/// The checked, oriented decode behind [`decode_rgb`] and [`decode_rgb8`].
fn decode_dynamic(bytes: &[u8], label: &Path, max_pixels: u64) -> Result<::image::DynamicImage> {
    use ::image::ImageDecoder;
    let decode_err = |reason: String| Error::ImageDecode {
        path: label.to_path_buf(),
        reason,
    };
    if bytes.is_empty() {
        return Err(decode_err("file is empty (0 bytes)".to_string()));
    }
    let reader = ::image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_err(e.to_string()))?;
    if reader.format().is_none() {
        return Err(decode_err(
            "unrecognised format (expected PNG or JPEG)".to_string(),
        ));
    }
    // A JPEG cut short still decodes (the missing rows come out flat grey): a complete one
    // ends with an end-of-image marker (0xFFD9), possibly followed by trailing bytes.
    if reader.format() == Some(::image::ImageFormat::Jpeg)
        && !bytes
            .windows(2)
            .rev()
            .take(64 * 1024)
            .any(|w| w == [0xFF, 0xD9])
    {
        return Err(decode_err(format!(
            "truncated JPEG: no end-of-image marker in its {} bytes",
            bytes.len()
        )));
    }
    let reader_format = reader.format();
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decode_err(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(Error::EmptyImage {
            path: label.to_path_buf(),
            width,
            height,
        });
    }
    let pixels = width as u64 * height as u64;
    if pixels > max_pixels {
        return Err(Error::ImageTooLarge {
            path: label.to_path_buf(),
            width,
            height,
            pixels,
            limit: max_pixels,
        });
    }
    if let Some(need) = min_coded_bytes(reader_format, width, height)
        && (bytes.len() as u64) < need
    {
        return Err(decode_err(format!(
            "corrupt: a {width}x{height} image needs at least {need} bytes of coded data, the file has {}",
            bytes.len()
        )));
    }
    // EXIF orientation (JPEG): the pixels are turned the way a viewer shows them. An
    // unreadable orientation tag counts as none.
    let orientation = decoder
        .orientation()
        .unwrap_or(::image::metadata::Orientation::NoTransforms);
    let mut dynamic =
        ::image::DynamicImage::from_decoder(decoder).map_err(|e| decode_err(e.to_string()))?;
    dynamic.apply_orientation(orientation);
    Ok(dynamic)
}

/// Converts any decoded image into RGB f32 CHW [0, 1] (gray replicated, alpha dropped,
/// 8-bit samples divided by 255, 16-bit ones by 65535, float ones clamped).
pub fn from_dynamic(img: &::image::DynamicImage) -> RgbImage {
    use ::image::DynamicImage as D;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut out = Array3::<f32>::zeros((3, h, w));
    let mut fill = |raw: &mut dyn Iterator<Item = f32>| {
        for (i, v) in raw.enumerate() {
            let (p, c) = (i / 3, i % 3);
            out[[c, p / w, p % w]] = v.clamp(0.0, 1.0);
        }
    };
    match img {
        D::ImageLuma8(_) | D::ImageLumaA8(_) | D::ImageRgb8(_) | D::ImageRgba8(_) => fill(
            &mut img
                .to_rgb8()
                .into_raw()
                .into_iter()
                .map(|v| v as f32 / 255.0),
        ),
        D::ImageLuma16(_) | D::ImageLumaA16(_) | D::ImageRgb16(_) | D::ImageRgba16(_) => fill(
            &mut img
                .to_rgb16()
                .into_raw()
                .into_iter()
                .map(|v| v as f32 / 65535.0),
        ),
        _ => fill(&mut img.to_rgb32f().into_raw().into_iter()),
    }
    out
}

/// Converts from interleaved 8-bit RGB (`HWC`, as cameras and `image::RgbImage` give it).
pub fn from_rgb8(data: &[u8], width: usize, height: usize) -> Result<RgbImage> {
    if data.len() != width * height * 3 {
        return Err(Error::Shape {
            what: "RGB24 buffer".to_string(),
            expected: format!("{} bytes ({width}x{height}x3)", width * height * 3),
            found: vec![data.len()],
        });
    }
    let mut out = Array3::<f32>::zeros((3, height, width));
    for (i, px) in data.chunks_exact(3).enumerate() {
        let (y, x) = (i / width, i % width);
        for c in 0..3 {
            out[[c, y, x]] = px[c] as f32 / 255.0;
        }
    }
    Ok(out)
}

/// Converts to interleaved 8-bit RGB (`HWC`): values clamped to [0, 1], scaled by 255 and
/// rounded to nearest. A NaN anywhere is an error, never a silently black pixel.
pub fn to_rgb8(img: &ArrayView3<f32>) -> Result<Vec<u8>> {
    let (h, w) = check_rgb(img, "image")?;
    let mut out = vec![0u8; h * w * 3];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let v = img[[c, y, x]];
                if v.is_nan() {
                    return Err(Error::invalid(
                        "image",
                        format!("NaN at channel {c}, row {y}, column {x}"),
                    ));
                }
                out[(y * w + x) * 3 + c] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
    }
    Ok(out)
}

/// Quantises an image to 8 bits and back (what saving as PNG and reloading does).
pub fn quantize_u8(img: &ArrayView3<f32>) -> Result<RgbImage> {
    let (h, w) = check_rgb(img, "image")?;
    from_rgb8(&to_rgb8(img)?, w, h)
}

/// The file formats [`save_rgb`] writes, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Lossless 8-bit PNG.
    Png,
    /// Baseline JPEG at the given quality (1–100).
    Jpeg(u8),
}

impl OutputFormat {
    /// The format for a path's extension: `png`, or `jpg`/`jpeg` at quality 95.
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "png" => Ok(OutputFormat::Png),
            "jpg" | "jpeg" => Ok(OutputFormat::Jpeg(95)),
            _ => Err(Error::ImageEncode {
                path: path.to_path_buf(),
                reason: format!("unsupported extension {ext:?} (expected png, jpg or jpeg)"),
            }),
        }
    }
}

/// Encodes an image into PNG or JPEG bytes.
pub fn encode_rgb(img: &ArrayView3<f32>, format: OutputFormat) -> Result<Vec<u8>> {
    let (h, w) = check_rgb(img, "image")?;
    let raw = to_rgb8(img)?;
    encode_rgb8(&raw, w as u32, h as u32, format)
}

/// Encodes interleaved 8-bit RGB into PNG or JPEG bytes.
pub fn encode_rgb8(raw: &[u8], width: u32, height: u32, format: OutputFormat) -> Result<Vec<u8>> {
    use ::image::ImageEncoder;
    let mut buf = Vec::new();
    let res = match format {
        OutputFormat::Png => ::image::codecs::png::PngEncoder::new(&mut buf).write_image(
            raw,
            width,
            height,
            ::image::ExtendedColorType::Rgb8,
        ),
        OutputFormat::Jpeg(q) => {
            ::image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, q.clamp(1, 100))
                .write_image(raw, width, height, ::image::ExtendedColorType::Rgb8)
        }
    };
    res.map_err(|e| Error::ImageEncode {
        path: "<memory>".into(),
        reason: e.to_string(),
    })?;
    Ok(buf)
}

/// The file extensions of the images this project reads (any case): PNG, JPEG, and BMP / PNM,
/// which some registry test photos come in. Outputs are PNG or JPEG.
pub const INPUT_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "bmp", "ppm", "pgm", "pnm"];

/// Whether a path has one of the [`INPUT_EXTENSIONS`].
pub fn is_image_path(p: &Path) -> bool {
    p.extension().is_some_and(|e| {
        let e = e.to_string_lossy().to_ascii_lowercase();
        INPUT_EXTENSIONS.contains(&e.as_str())
    })
}

/// Saves an image atomically; the format follows the extension (`png`, `jpg`, `jpeg`).
pub fn save_rgb(path: &Path, img: &ArrayView3<f32>) -> Result<()> {
    let format = OutputFormat::from_path(path)?;
    let bytes = encode_rgb(img, format).map_err(|e| match e {
        Error::ImageEncode { reason, .. } => Error::ImageEncode {
            path: path.to_path_buf(),
            reason,
        },
        Error::Invalid { what: _, reason } => Error::ImageEncode {
            path: path.to_path_buf(),
            reason,
        },
        other => other,
    })?;
    crate::fsio::write_atomic(path, &bytes)
}

/// [0, 1] → [−1, 1]: `x = 2·img − 1` (the diffusion model's range).
pub fn to_model_range(img: &ArrayView3<f32>) -> Array3<f32> {
    img.mapv(|v| 2.0 * v - 1.0)
}

/// [−1, 1] → [0, 1]: `img = (x + 1) / 2`, not clamped.
pub fn from_model_range(x: &ArrayView3<f32>) -> Array3<f32> {
    x.mapv(|v| (v + 1.0) * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("lrpo-image-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// `jpeg` with an APP1 EXIF segment holding one orientation tag (TIFF little-endian).
    fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut tiff = b"II*\0".to_vec();
        tiff.extend(8u32.to_le_bytes()); // IFD0 at offset 8
        tiff.extend(1u16.to_le_bytes()); // one entry
        tiff.extend(0x0112u16.to_le_bytes()); // Orientation
        tiff.extend(3u16.to_le_bytes()); // SHORT
        tiff.extend(1u32.to_le_bytes()); // count
        tiff.extend(orientation.to_le_bytes());
        tiff.extend([0, 0]);
        tiff.extend(0u32.to_le_bytes()); // no next IFD
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff);
        let mut out = jpeg[..2].to_vec(); // SOI
        out.extend([0xFF, 0xE1]);
        out.extend(((app1.len() + 2) as u16).to_be_bytes());
        out.extend(app1);
        out.extend(&jpeg[2..]);
        out
    }

    #[test]
    fn a_truncated_jpeg_is_reported_as_truncated() {
        let img = Array3::from_shape_fn((3, 64, 48), |(c, y, x)| {
            ((x + 2 * y + c) % 17) as f32 / 17.0
        });
        let jpeg = encode_rgb(&img.view(), OutputFormat::Jpeg(90)).unwrap();
        assert!(decode_rgb(&jpeg, Path::new("whole.jpg"), DEFAULT_MAX_PIXELS).is_ok());
        // Trailing bytes after the end marker are tolerated.
        let mut trailing = jpeg.clone();
        trailing.extend_from_slice(b"trailer");
        assert!(decode_rgb(&trailing, Path::new("trailing.jpg"), DEFAULT_MAX_PIXELS).is_ok());
        let half = &jpeg[..jpeg.len() / 2];
        let e = decode_rgb(half, Path::new("half.jpg"), DEFAULT_MAX_PIXELS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("half.jpg") && e.contains("truncated"), "{e}");
    }

    #[test]
    fn a_file_too_short_for_the_size_it_declares_is_refused_before_decoding() {
        let img = Array3::from_shape_fn((3, 48, 64), |(c, y, x)| {
            ((x + 2 * y + c) % 17) as f32 / 17.0
        });
        let jpeg = encode_rgb(&img.view(), OutputFormat::Jpeg(90)).unwrap();
        // Its frame header (SOF0: FF C0, length, precision, height, width) says 8192 x 8192.
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        let mut bomb = jpeg.clone();
        bomb[sof + 5..sof + 9].copy_from_slice(&[0x20, 0x00, 0x20, 0x00]);
        let t = std::time::Instant::now();
        let e = decode_rgb(&bomb, Path::new("bomb.jpg"), DEFAULT_MAX_PIXELS)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bomb.jpg") && e.contains("8192x8192") && e.contains("131072"),
            "{e}"
        );
        assert!(
            t.elapsed().as_secs_f64() < 1.0,
            "refused only after decoding"
        );
        // The tightest real files pass: a uniform 2048 x 2048 frame, as JPEG and as PNG.
        let flat = Array3::from_elem((3, 2048, 2048), 0.5f32);
        for format in [OutputFormat::Jpeg(75), OutputFormat::Png] {
            let bytes = encode_rgb(&flat.view(), format).unwrap();
            assert!(decode_rgb(&bytes, Path::new("flat"), DEFAULT_MAX_PIXELS).is_ok());
        }
        // PNG: one bit per pixel and a filter byte per row, deflated 1032:1 at most.
        let png = Some(::image::ImageFormat::Png);
        assert_eq!(min_coded_bytes(png, 8192, 8192), Some(1025 * 8192 / 1032));
        assert_eq!(
            min_coded_bytes(Some(::image::ImageFormat::Bmp), 8192, 8192),
            None
        );
    }

    #[test]
    fn exif_orientation_is_applied() {
        // 32 x 16, left half dark, right half bright.
        let img = Array3::from_shape_fn((3, 16, 32), |(_, _, x)| if x < 16 { 0.1 } else { 0.9 });
        let jpeg = encode_rgb(&img.view(), OutputFormat::Jpeg(95)).unwrap();
        let plain = decode_rgb(&jpeg, Path::new("plain.jpg"), DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!(plain.dim(), (3, 16, 32));
        // Orientation 6: shown rotated 90° clockwise, so the left half ends up on top.
        let turned = with_exif_orientation(&jpeg, 6);
        let r = decode_rgb(&turned, Path::new("turned.jpg"), DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!(r.dim(), (3, 32, 16));
        assert!(
            r[[0, 4, 8]] < 0.3 && r[[0, 28, 8]] > 0.7,
            "{} {}",
            r[[0, 4, 8]],
            r[[0, 28, 8]]
        );
        // Orientation 1 (none) changes nothing.
        let same = decode_rgb(
            &with_exif_orientation(&jpeg, 1),
            Path::new("one.jpg"),
            DEFAULT_MAX_PIXELS,
        )
        .unwrap();
        assert_eq!(same, plain);
    }

    fn encode_dynamic(img: ::image::DynamicImage) -> Vec<u8> {
        let mut buf = Vec::new();
        img.write_to(&mut Cursor::new(&mut buf), ::image::ImageFormat::Png)
            .unwrap();
        buf
    }

    #[test]
    fn png_round_trip_is_exact_for_8bit_values() {
        let mut img = Array3::<f32>::zeros((3, 5, 7));
        for ((c, y, x), v) in img.indexed_iter_mut() {
            *v = ((c * 50 + y * 20 + x * 3) % 256) as f32 / 255.0;
        }
        let dir = tmpdir("rt");
        let p = dir.join("a.png");
        save_rgb(&p, &img.view()).unwrap();
        let back = load_rgb(&p).unwrap();
        assert_eq!(back.shape(), &[3, 5, 7]);
        let max = (&back - &img).mapv(f32::abs).fold(0.0f32, |a, &b| a.max(b));
        assert!(max < 1e-6, "max diff {max}");
    }

    #[test]
    fn gray_alpha_and_16bit_are_converted() {
        let gray = ::image::GrayImage::from_fn(4, 3, |x, _| ::image::Luma([(x * 60) as u8]));
        let img = decode_rgb(
            &encode_dynamic(gray.into()),
            Path::new("g.png"),
            DEFAULT_MAX_PIXELS,
        )
        .unwrap();
        assert_eq!(img.shape(), &[3, 3, 4]);
        assert_eq!(img[[0, 1, 2]], 120.0 / 255.0);
        assert_eq!(img[[2, 1, 2]], 120.0 / 255.0);

        let rgba = ::image::RgbaImage::from_pixel(2, 2, ::image::Rgba([255, 0, 51, 0]));
        let img = decode_rgb(
            &encode_dynamic(rgba.into()),
            Path::new("a.png"),
            DEFAULT_MAX_PIXELS,
        )
        .unwrap();
        assert_eq!(img[[0, 0, 0]], 1.0);
        assert_eq!(img[[2, 1, 1]], 0.2);

        let g16 = ::image::ImageBuffer::<::image::Luma<u16>, _>::from_pixel(
            2,
            2,
            ::image::Luma([32768u16]),
        );
        let img = decode_rgb(
            &encode_dynamic(::image::DynamicImage::ImageLuma16(g16)),
            Path::new("g16.png"),
            DEFAULT_MAX_PIXELS,
        )
        .unwrap();
        assert_eq!(img[[1, 0, 0]], 32768.0 / 65535.0);
    }

    #[test]
    fn bad_files_name_the_file() {
        let p = Path::new("/some/where/bad.png");
        let e = decode_rgb(b"", p, DEFAULT_MAX_PIXELS).unwrap_err();
        assert!(e.to_string().contains("bad.png") && e.to_string().contains("empty"));
        let e = decode_rgb(b"not an image at all", p, DEFAULT_MAX_PIXELS).unwrap_err();
        assert!(matches!(e, Error::ImageDecode { .. }), "{e}");
        // A truncated PNG.
        let good = encode_dynamic(::image::RgbImage::new(16, 16).into());
        let e = decode_rgb(&good[..good.len() / 2], p, DEFAULT_MAX_PIXELS).unwrap_err();
        assert!(e.to_string().contains("bad.png"), "{e}");
        let e = load_rgb(Path::new("/no/such/file.png")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("file.png"));
    }

    #[test]
    fn huge_header_is_refused_before_decoding() {
        let good = encode_dynamic(::image::RgbImage::new(64, 64).into());
        let e = decode_rgb(&good, Path::new("big.png"), 64 * 63).unwrap_err();
        assert!(matches!(e, Error::ImageTooLarge { .. }), "{e}");
    }

    #[test]
    fn nan_is_refused_on_save_and_ranges_invert() {
        let mut img = Array3::<f32>::from_elem((3, 2, 2), 0.25);
        let x = to_model_range(&img.view());
        assert_eq!(x[[0, 0, 0]], -0.5);
        assert_eq!(from_model_range(&x.view()), img);
        img[[1, 1, 0]] = f32::NAN;
        let dir = tmpdir("nan");
        let e = save_rgb(&dir.join("n.png"), &img.view()).unwrap_err();
        assert!(
            e.to_string().contains("NaN") && e.to_string().contains("n.png"),
            "{e}"
        );
        assert!(!dir.join("n.png").exists());
        let e = save_rgb(&dir.join("n.bmp"), &img.view()).unwrap_err();
        assert!(e.to_string().contains("unsupported extension"), "{e}");
    }
}
