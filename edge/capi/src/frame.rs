//! Caller-owned frame buffers: checking a [`LrpoFrame`] description, reading its pixels into a
//! packed frame and writing packed pixels (a whole frame, or a rectangle of it) back.

use crate::Failure;
use lrpo_shared::align::FrameRect;
use lrpo_shared::image::DEFAULT_MAX_PIXELS;
use lrpo_shared::pixfmt::PixelFormat;

/// Packed R, G, B bytes (3 per pixel).
pub const LRPO_PIX_RGB24: u32 = 0;
/// Packed B, G, R bytes (3 per pixel).
pub const LRPO_PIX_BGR24: u32 = 1;
/// NV12: a Y plane (1 byte per pixel), then a plane of interleaved U, V bytes at half the
/// width and height (4:2:0). Width and height even.
pub const LRPO_PIX_NV12: u32 = 2;
/// YUYV 4:2:2 (YUY2): `Y0 U Y1 V` per two pixels. Width even.
pub const LRPO_PIX_YUYV422: u32 = 3;

/// A frame in memory the caller owns, as a camera driver or ISP delivers it.
///
/// Rows are `stride` bytes apart (`stride` ≥ the row's bytes: 3 × width for RGB/BGR, width for
/// NV12's Y plane, 2 × width for YUYV; 0 means exactly that). An NV12 frame's UV plane is at
/// `chroma` with rows `chroma_stride` bytes apart (NULL: right after the Y plane, at
/// `data + stride × height`; 0: `stride`). YUV frames are BT.601, limited range unless the
/// restorer was opened with `LRPO_YUV_FULL`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LrpoFrame {
    /// First byte of the first row (of the Y plane for NV12).
    pub data: *mut u8,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next (0: packed rows).
    pub stride: u32,
    /// Pixel format: `LRPO_PIX_RGB24`, `LRPO_PIX_BGR24`, `LRPO_PIX_NV12` or `LRPO_PIX_YUYV422`.
    pub format: u32,
    /// NV12 only: first byte of the UV plane (NULL: `data + stride × height`).
    pub chroma: *mut u8,
    /// NV12 only: bytes from one UV row to the next (0: `stride`).
    pub chroma_stride: u32,
}

/// One plane of a checked frame: where it starts, how many rows of how many bytes.
#[derive(Debug, Clone, Copy)]
struct Plane {
    ptr: *mut u8,
    rows: usize,
    row_bytes: usize,
    stride: usize,
}

/// A checked [`LrpoFrame`]: its format, size and planes.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// Pixel format.
    pub format: PixelFormat,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    planes: [Option<Plane>; 2],
}

/// The format of a `LRPO_PIX_*` value.
pub fn pixel_format(v: u32) -> Result<PixelFormat, Failure> {
    Ok(match v {
        LRPO_PIX_RGB24 => PixelFormat::Rgb24,
        LRPO_PIX_BGR24 => PixelFormat::Bgr24,
        LRPO_PIX_NV12 => PixelFormat::Nv12,
        LRPO_PIX_YUYV422 => PixelFormat::Yuyv422,
        other => {
            return Err(Failure::argument(format!(
                "unknown pixel format {other} (LRPO_PIX_RGB24 0, LRPO_PIX_BGR24 1, LRPO_PIX_NV12 2, LRPO_PIX_YUYV422 3)"
            )));
        }
    })
}

impl Frame {
    /// Checks the description `f` (named `what` in errors): a known format, a non-empty size
    /// within the pixel limit that the format can hold, non-null planes, strides that hold a
    /// row, and plane sizes that fit in memory. The memory itself cannot be checked: the
    /// caller promises `stride × height` readable (and, for an output, writable) bytes.
    pub fn check(f: &LrpoFrame, what: &str) -> Result<Frame, Failure> {
        let bad = |reason: String| Failure::argument(format!("{what}: {reason}"));
        let format = pixel_format(f.format).map_err(|e| bad(e.message))?;
        let (width, height) = (f.width as usize, f.height as usize);
        if (f.width as u64) * (f.height as u64) > DEFAULT_MAX_PIXELS {
            return Err(bad(format!(
                "{width}x{height} is more than the {DEFAULT_MAX_PIXELS} pixel limit"
            )));
        }
        format
            .frame_bytes(width, height)
            .map_err(|e| bad(e.to_string()))?;
        if f.data.is_null() {
            return Err(bad("data is NULL".into()));
        }
        let row_bytes = match format {
            PixelFormat::Rgb24 | PixelFormat::Bgr24 => 3 * width,
            PixelFormat::Nv12 => width,
            PixelFormat::Yuyv422 => 2 * width,
        };
        let plane = |ptr: *mut u8, rows: usize, stride: u32, name: &str| {
            let stride = if stride == 0 {
                row_bytes
            } else {
                stride as usize
            };
            if stride < row_bytes {
                return Err(bad(format!(
                    "{name} {stride} is less than a row of {width} {} pixels ({row_bytes} bytes)",
                    format.name()
                )));
            }
            if stride
                .checked_mul(rows)
                .is_none_or(|b| b > isize::MAX as usize)
            {
                return Err(bad(format!(
                    "{name}: {rows} rows of {stride} bytes overflow"
                )));
            }
            Ok(Plane {
                ptr,
                rows,
                row_bytes,
                stride,
            })
        };
        let main = plane(f.data, height, f.stride, "stride")?;
        let chroma = if format == PixelFormat::Nv12 {
            let ptr = if f.chroma.is_null() {
                // In bounds of the caller's buffer by the layout this default describes.
                f.data.wrapping_add(main.stride * height)
            } else {
                f.chroma
            };
            let cs = if f.chroma_stride == 0 {
                main.stride as u32
            } else {
                f.chroma_stride
            };
            Some(plane(ptr, height / 2, cs, "chroma_stride")?)
        } else {
            None
        };
        Ok(Frame {
            format,
            width,
            height,
            planes: [Some(main), chroma],
        })
    }

    /// The frame's pixels, packed (rows without padding, NV12's UV plane after the Y plane):
    /// the layout [`lrpo_shared::pixfmt::to_rgb`] reads.
    ///
    /// # Safety
    /// Every plane's `rows × stride` bytes must be readable.
    pub unsafe fn read_packed(&self, out: &mut Vec<u8>) {
        out.clear();
        for p in self.planes.iter().flatten() {
            for r in 0..p.rows {
                // SAFETY: row r lies inside the plane the caller vouched for.
                let row =
                    unsafe { std::slice::from_raw_parts(p.ptr.add(r * p.stride), p.row_bytes) };
                out.extend_from_slice(row);
            }
        }
    }

    /// Writes `packed`, the pixels of rectangle `rect` of this frame in packed layout (as
    /// [`lrpo_shared::pixfmt::from_rgb`] writes a `rect`-sized image), into the frame. `rect`
    /// must lie in the frame and be aligned to the format's chroma blocks ([`align_rect`]).
    ///
    /// # Safety
    /// Every plane's `rows × stride` bytes must be writable, and not borrowed elsewhere.
    pub unsafe fn write_rect(&self, rect: FrameRect, packed: &[u8]) {
        let (rw, rh) = (rect.x1 - rect.x0, rect.y1 - rect.y0);
        let bpp = match self.format {
            PixelFormat::Rgb24 | PixelFormat::Bgr24 => 3,
            PixelFormat::Nv12 => 1,
            PixelFormat::Yuyv422 => 2,
        };
        let mut at = 0;
        let mut put = |p: &Plane, first_row: usize, rows: usize, x_byte: usize, bytes: usize| {
            for r in 0..rows {
                let src = &packed[at..at + bytes];
                at += bytes;
                // SAFETY: the row lies inside the plane (rect inside the frame) and the
                // caller vouched for the plane's memory.
                unsafe {
                    let dst = p.ptr.add((first_row + r) * p.stride + x_byte);
                    std::ptr::copy_nonoverlapping(src.as_ptr(), dst, bytes);
                }
            }
        };
        if let Some(p) = &self.planes[0] {
            put(p, rect.y0, rh, rect.x0 * bpp, rw * bpp);
        }
        if let Some(p) = &self.planes[1] {
            // NV12's UV plane: one row per two frame rows, 2 bytes per two pixels.
            put(p, rect.y0 / 2, rh / 2, rect.x0, rw);
        }
    }

    /// Copies every pixel of `self` into `to` (same format and size; strides may differ).
    ///
    /// # Safety
    /// `self`'s planes readable, `to`'s writable, and the two not overlapping.
    pub unsafe fn copy_to(&self, to: &Frame) {
        for (a, b) in self.planes.iter().zip(&to.planes) {
            if let (Some(a), Some(b)) = (a, b) {
                for r in 0..a.rows {
                    // SAFETY: both rows lie inside their planes; the buffers do not overlap.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            a.ptr.add(r * a.stride),
                            b.ptr.add(r * b.stride),
                            a.row_bytes,
                        );
                    }
                }
            }
        }
    }

    /// The bytes the frame's planes span, as `(start, end)` address ranges (for the overlap
    /// check of an input and an output).
    pub fn spans(&self) -> Vec<(usize, usize)> {
        self.planes
            .iter()
            .flatten()
            .map(|p| {
                let start = p.ptr as usize;
                (start, start + (p.rows - 1) * p.stride + p.row_bytes)
            })
            .collect()
    }
}

/// `rect` grown to whole chroma blocks of `format` (even columns for NV12 and YUYV, even rows
/// for NV12), within a `width × height` frame whose sides the format already made even.
pub fn align_rect(rect: FrameRect, format: PixelFormat, width: usize, height: usize) -> FrameRect {
    let down = |v: usize| v & !1;
    let up = |v: usize, n: usize| (v + (v & 1)).min(n);
    match format {
        PixelFormat::Rgb24 | PixelFormat::Bgr24 => rect,
        PixelFormat::Yuyv422 => FrameRect {
            x0: down(rect.x0),
            x1: up(rect.x1, width),
            ..rect
        },
        PixelFormat::Nv12 => FrameRect {
            x0: down(rect.x0),
            x1: up(rect.x1, width),
            y0: down(rect.y0),
            y1: up(rect.y1, height),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(data: &mut [u8], w: u32, h: u32, stride: u32, format: u32) -> LrpoFrame {
        LrpoFrame {
            data: data.as_mut_ptr(),
            width: w,
            height: h,
            stride,
            format,
            chroma: std::ptr::null_mut(),
            chroma_stride: 0,
        }
    }

    #[test]
    fn a_padded_nv12_frame_reads_packed_and_a_rect_lands_on_its_rows() {
        // 4x2 NV12 with rows padded to 6 bytes: Y rows, then one UV row.
        let mut buf: Vec<u8> = (0..18).collect();
        let f = Frame::check(&desc(&mut buf, 4, 2, 6, LRPO_PIX_NV12), "frame").unwrap();
        let mut packed = Vec::new();
        unsafe { f.read_packed(&mut packed) };
        assert_eq!(packed, [0, 1, 2, 3, 6, 7, 8, 9, 12, 13, 14, 15]);
        // The right half: 2x2 Y bytes then one U, V pair.
        let rect = FrameRect {
            x0: 2,
            y0: 0,
            x1: 4,
            y1: 2,
        };
        unsafe { f.write_rect(rect, &[100, 101, 102, 103, 104, 105]) };
        assert_eq!(
            buf,
            [
                0, 1, 100, 101, 4, 5, 6, 7, 102, 103, 10, 11, 12, 13, 104, 105, 16, 17
            ]
        );
    }

    #[test]
    fn descriptions_that_cannot_be_right_are_refused_with_the_reason() {
        let mut buf = vec![0u8; 64];
        let err = |d: LrpoFrame| Frame::check(&d, "input").unwrap_err().message;
        assert!(err(desc(&mut buf, 4, 2, 11, LRPO_PIX_RGB24)).contains("stride 11 is less"));
        assert!(err(desc(&mut buf, 3, 2, 0, LRPO_PIX_NV12)).contains("even"));
        assert!(err(desc(&mut buf, 4, 2, 0, 9)).contains("unknown pixel format 9"));
        assert!(err(desc(&mut buf, 0, 2, 0, LRPO_PIX_RGB24)).contains("empty"));
        assert!(err(desc(&mut buf, 100_000, 100_000, 0, LRPO_PIX_RGB24)).contains("limit"));
        let mut d = desc(&mut buf, 4, 2, 0, LRPO_PIX_RGB24);
        d.data = std::ptr::null_mut();
        assert!(err(d).contains("NULL"));
    }

    #[test]
    fn rects_grow_to_whole_chroma_blocks() {
        let r = FrameRect {
            x0: 3,
            y0: 5,
            x1: 8,
            y1: 9,
        };
        let nv = align_rect(r, PixelFormat::Nv12, 10, 10);
        assert_eq!((nv.x0, nv.y0, nv.x1, nv.y1), (2, 4, 8, 10));
        let yu = align_rect(r, PixelFormat::Yuyv422, 10, 9);
        assert_eq!((yu.x0, yu.y0, yu.x1, yu.y1), (2, 5, 8, 9));
        assert_eq!(align_rect(r, PixelFormat::Rgb24, 10, 10), r);
    }
}
