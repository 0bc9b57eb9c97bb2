//! 2-D convolution (NCHW, square kernel, symmetric zero padding, no dilation or groups) and
//! its gradients, as im2col + one matrix product per image, parallel over the batch.
//!
//! With `cols = im2col(x_b)` (`[Ci·k², Ho·Wo]`) for image `b`:
//! - forward: `y_b = W·cols + bias` (`W` is `[Co, Ci·k²]`);
//! - input gradient: `dx_b = col2im(Wᵀ·dy_b)` (col2im is im2col's adjoint);
//! - weight gradient: `dW = Σ_b dy_b·colsᵀ` (computed as `(cols·dy_bᵀ)ᵀ`), bias gradient `db = Σ_b Σ_pixels dy_b`.
//!
//! The batch sums are taken in image order after the parallel part, so the gradients are the
//! same whatever the thread count. 1×1 convolutions with stride 1 use the image itself as
//! `cols`.

use super::gemm::{Threads, View, matmul};
use super::scratch;
use rayon::prelude::*;

/// The shapes of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub ci: usize,
    /// Input height, pixels.
    pub h: usize,
    /// Input width, pixels.
    pub w: usize,
    /// Output channels.
    pub co: usize,
    /// Kernel side.
    pub k: usize,
    /// Stride (both axes).
    pub stride: usize,
    /// Zero padding on every side.
    pub pad: usize,
}

impl ConvGeom {
    /// Output height.
    pub fn ho(&self) -> usize {
        (self.h + 2 * self.pad - self.k) / self.stride + 1
    }

    /// Output width.
    pub fn wo(&self) -> usize {
        (self.w + 2 * self.pad - self.k) / self.stride + 1
    }

    /// Whether the kernel fits the padded input and every size is positive.
    pub fn is_valid(&self) -> bool {
        [
            self.n,
            self.ci,
            self.h,
            self.w,
            self.co,
            self.k,
            self.stride,
        ]
        .iter()
        .all(|&v| v > 0)
            && self.h + 2 * self.pad >= self.k
            && self.w + 2 * self.pad >= self.k
    }

    fn in_len(&self) -> usize {
        self.ci * self.h * self.w
    }

    fn out_pixels(&self) -> usize {
        self.ho() * self.wo()
    }

    fn col_rows(&self) -> usize {
        self.ci * self.k * self.k
    }

    /// A 1×1, stride-1, unpadded convolution: `cols` is the image itself.
    fn is_pointwise(&self) -> bool {
        self.k == 1 && self.stride == 1 && self.pad == 0
    }

    /// Output columns `[lo, hi)` whose input column `ow·stride + kw − pad` is inside the image.
    fn valid_cols(&self, kw: usize) -> (usize, usize) {
        let (s, wo) = (self.stride, self.wo());
        let lo = if self.pad > kw {
            (self.pad - kw).div_ceil(s)
        } else {
            0
        };
        let hi = if self.w + self.pad > kw {
            wo.min((self.w + self.pad - kw - 1) / s + 1)
        } else {
            0
        };
        (lo.min(wo), hi.max(lo).min(wo))
    }
}

/// Rows `(c, kh, kw)` of `cols` (`[Ci·k², Ho·Wo]`) from one image `x` (`[Ci, H, W]`).
fn im2col(g: &ConvGeom, x: &[f32], cols: &mut [f32]) {
    let (ho, wo, hw) = (g.ho(), g.wo(), g.h * g.w);
    for c in 0..g.ci {
        let plane = &x[c * hw..(c + 1) * hw];
        for kh in 0..g.k {
            for kw in 0..g.k {
                let r = (c * g.k + kh) * g.k + kw;
                let row = &mut cols[r * ho * wo..(r + 1) * ho * wo];
                let (lo, hi) = g.valid_cols(kw);
                for oh in 0..ho {
                    let out = &mut row[oh * wo..(oh + 1) * wo];
                    let ih = (oh * g.stride + kh) as isize - g.pad as isize;
                    if ih < 0 || ih as usize >= g.h {
                        out.fill(0.0);
                        continue;
                    }
                    let src = &plane[ih as usize * g.w..(ih as usize + 1) * g.w];
                    out[..lo].fill(0.0);
                    out[hi..].fill(0.0);
                    if g.stride == 1 {
                        let start = lo + kw - g.pad;
                        out[lo..hi].copy_from_slice(&src[start..start + hi - lo]);
                    } else {
                        for (ow, o) in out.iter_mut().enumerate().take(hi).skip(lo) {
                            *o = src[ow * g.stride + kw - g.pad];
                        }
                    }
                }
            }
        }
    }
}

/// `dx += col2im(cols)`: the adjoint of [`im2col`], for one image.
fn col2im_add(g: &ConvGeom, cols: &[f32], dx: &mut [f32]) {
    let (ho, wo, hw) = (g.ho(), g.wo(), g.h * g.w);
    for c in 0..g.ci {
        let plane = &mut dx[c * hw..(c + 1) * hw];
        for kh in 0..g.k {
            for kw in 0..g.k {
                let r = (c * g.k + kh) * g.k + kw;
                let row = &cols[r * ho * wo..(r + 1) * ho * wo];
                let (lo, hi) = g.valid_cols(kw);
                for oh in 0..ho {
                    let ih = (oh * g.stride + kh) as isize - g.pad as isize;
                    if ih < 0 || ih as usize >= g.h {
                        continue;
                    }
                    let src = &row[oh * wo..(oh + 1) * wo];
                    let dst = &mut plane[ih as usize * g.w..(ih as usize + 1) * g.w];
                    if g.stride == 1 {
                        let start = lo + kw - g.pad;
                        for (d, s) in dst[start..start + hi - lo].iter_mut().zip(&src[lo..hi]) {
                            *d += s;
                        }
                    } else {
                        for (ow, s) in src.iter().enumerate().take(hi).skip(lo) {
                            dst[ow * g.stride + kw - g.pad] += s;
                        }
                    }
                }
            }
        }
    }
}

/// One image's `cols`: the image itself for a pointwise convolution, else its im2col in `buf`
/// (a scratch buffer the caller gives back).
fn columns<'a>(g: &ConvGeom, xb: &'a [f32], buf: &'a mut Vec<f32>) -> &'a [f32] {
    if g.is_pointwise() {
        return xb;
    }
    *buf = scratch::take(g.col_rows() * g.out_pixels());
    im2col(g, xb, buf);
    buf
}

/// Threads inside one image's product: none when the batch alone fills the pool.
fn inner_threads(n: usize) -> Threads {
    if n >= rayon::current_num_threads() {
        Threads::One
    } else {
        Threads::Pool
    }
}

fn check(g: &ConvGeom, x: &[f32], w: &[f32]) {
    assert!(g.is_valid(), "conv2d: invalid geometry {g:?}");
    assert_eq!(x.len(), g.n * g.in_len(), "conv2d: input length");
    assert_eq!(w.len(), g.co * g.col_rows(), "conv2d: weight length");
}

/// `y = conv(x, w) + bias`: `x` `[N, Ci, H, W]`, `w` `[Co, Ci, k, k]`, `bias` `[Co]`; returns
/// `[N, Co, Ho, Wo]`.
pub fn forward(g: &ConvGeom, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    check(g, x, w);
    let (p, kr) = (g.out_pixels(), g.col_rows());
    let threads = inner_threads(g.n);
    let mut y = super::zeroed(g.n * g.co * p);
    y.par_chunks_mut(g.co * p)
        .zip(x.par_chunks(g.in_len()))
        .for_each(|(yb, xb)| {
            if let Some(bias) = bias {
                for (row, &b) in yb.chunks_mut(p).zip(bias) {
                    row.fill(b);
                }
            }
            let mut buf = Vec::new();
            let cols = columns(g, xb, &mut buf);
            matmul(
                (g.co, p, kr),
                yb,
                bias.is_some(),
                View::rows(w, kr),
                View::rows(cols, p),
                threads,
            );
            scratch::give(buf);
        });
    y
}

/// Gradients of a convolution.
#[derive(Debug, Clone)]
pub struct ConvGrads {
    /// `∂L/∂x`, `[N, Ci, H, W]`, when asked for.
    pub dx: Option<Vec<f32>>,
    /// `∂L/∂w`, `[Co, Ci, k, k]`.
    pub dw: Vec<f32>,
    /// `∂L/∂bias`, `[Co]`.
    pub db: Vec<f32>,
}

/// The gradients of [`forward`] for the output gradient `dy` (`[N, Co, Ho, Wo]`).
pub fn backward(g: &ConvGeom, x: &[f32], w: &[f32], dy: &[f32], need_dx: bool) -> ConvGrads {
    check(g, x, w);
    let (p, kr) = (g.out_pixels(), g.col_rows());
    assert_eq!(dy.len(), g.n * g.co * p, "conv2d: output gradient length");
    let threads = inner_threads(g.n);
    // One image: its weight and bias gradients, and (into `dxb`) its input gradient.
    let image = |b: usize, dxb: Option<&mut [f32]>| -> (Vec<f32>, Vec<f32>) {
        let xb = &x[b * g.in_len()..(b + 1) * g.in_len()];
        let dyb = &dy[b * g.co * p..(b + 1) * g.co * p];
        let mut buf = Vec::new();
        let cols = columns(g, xb, &mut buf);
        // dWᵀ = cols·dyᵀ (`[Ci·k², Co]`): both operands are read along their rows, which
        // the product packs ~6× faster than dy·colsᵀ.
        let mut dwt = vec![0.0f32; kr * g.co];
        matmul(
            (kr, g.co, p),
            &mut dwt,
            false,
            View::rows(cols, p),
            View::transposed(dyb, p),
            threads,
        );
        let db = dyb.chunks(p).map(|r| r.iter().sum()).collect();
        if let Some(dxb) = dxb {
            let wt = View::transposed(w, kr);
            if g.is_pointwise() {
                matmul((kr, p, g.co), dxb, false, wt, View::rows(dyb, p), threads);
            } else {
                let mut dcols = scratch::take(kr * p);
                matmul(
                    (kr, p, g.co),
                    &mut dcols,
                    false,
                    wt,
                    View::rows(dyb, p),
                    threads,
                );
                dxb.fill(0.0);
                col2im_add(g, &dcols, dxb);
                scratch::give(dcols);
            }
        }
        scratch::give(buf);
        (dwt, db)
    };
    // Per image: (its weight gradient transposed, its bias gradient).
    type Part = (Vec<f32>, Vec<f32>);
    let (dx, parts): (Option<Vec<f32>>, Vec<Part>) = if need_dx {
        let mut dx = super::zeroed(x.len());
        let parts = dx
            .par_chunks_mut(g.in_len())
            .enumerate()
            .map(|(b, dxb)| image(b, Some(dxb)))
            .collect();
        (Some(dx), parts)
    } else {
        (
            None,
            (0..g.n).into_par_iter().map(|b| image(b, None)).collect(),
        )
    };
    let mut dw = vec![0.0f32; g.co * kr];
    let mut db = vec![0.0f32; g.co];
    for (pwt, pb) in &parts {
        for (r, row) in pwt.chunks(g.co).enumerate() {
            for (o, v) in row.iter().enumerate() {
                dw[o * kr + r] += v;
            }
        }
        for (a, v) in db.iter_mut().zip(pb) {
            *a += v;
        }
    }
    ConvGrads { dx, dw, db }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, in f64: `y[b,o,i,j] = bias[o] + Σ x[b,c,i·s+kh−p, j·s+kw−p]·w[o,c,kh,kw]`.
    fn direct(g: &ConvGeom, x: &[f32], w: &[f32], bias: &[f32]) -> Vec<f64> {
        let (ho, wo) = (g.ho(), g.wo());
        let mut y = vec![0.0f64; g.n * g.co * ho * wo];
        for b in 0..g.n {
            for o in 0..g.co {
                for i in 0..ho {
                    for j in 0..wo {
                        let mut s = bias[o] as f64;
                        for c in 0..g.ci {
                            for kh in 0..g.k {
                                for kw in 0..g.k {
                                    let ih = (i * g.stride + kh) as isize - g.pad as isize;
                                    let iw = (j * g.stride + kw) as isize - g.pad as isize;
                                    if ih < 0 || iw < 0 || ih >= g.h as isize || iw >= g.w as isize
                                    {
                                        continue;
                                    }
                                    let xv =
                                        x[((b * g.ci + c) * g.h + ih as usize) * g.w + iw as usize];
                                    let wv = w[((o * g.ci + c) * g.k + kh) * g.k + kw];
                                    s += xv as f64 * wv as f64;
                                }
                            }
                        }
                        y[((b * g.co + o) * ho + i) * wo + j] = s;
                    }
                }
            }
        }
        y
    }

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104_729) % 1000) as f32 / 500.0) - 1.0)
            .collect()
    }

    fn geoms() -> Vec<ConvGeom> {
        let base = ConvGeom {
            n: 3,
            ci: 4,
            h: 9,
            w: 7,
            co: 5,
            k: 3,
            stride: 1,
            pad: 1,
        };
        vec![
            base,
            ConvGeom { stride: 2, ..base },
            ConvGeom {
                k: 1,
                pad: 0,
                ..base
            },
            ConvGeom {
                h: 8,
                w: 8,
                stride: 2,
                ..base
            },
        ]
    }

    #[test]
    fn the_forward_pass_matches_the_definition() {
        for g in geoms() {
            let x = values(g.n * g.ci * g.h * g.w, 1);
            let w = values(g.co * g.ci * g.k * g.k, 2);
            let bias = values(g.co, 3);
            let got = forward(&g, &x, &w, Some(&bias));
            let want = direct(&g, &x, &w, &bias);
            for (a, b) in got.iter().zip(&want) {
                assert!((*a as f64 - b).abs() < 1e-4, "{g:?}: {a} vs {b}");
            }
        }
    }

    /// Gradients against the adjoint identity: for L = Σ dy·y, ∂L/∂x is the input gradient,
    /// checked by the exact linearity of the convolution in x and in w.
    #[test]
    fn the_gradients_are_the_adjoints_of_the_forward_pass() {
        for g in geoms() {
            let x = values(g.n * g.ci * g.h * g.w, 4);
            let w = values(g.co * g.ci * g.k * g.k, 5);
            let dy = values(g.n * g.co * g.ho() * g.wo(), 6);
            let grads = backward(&g, &x, &w, &dy, true);
            let zero = vec![0.0; g.co];
            // <dy, conv(x', w)> = <dx, x'> for any x' (linearity in x).
            let xp = values(x.len(), 7);
            let lhs: f64 = direct(&g, &xp, &w, &zero)
                .iter()
                .zip(&dy)
                .map(|(a, b)| a * *b as f64)
                .sum();
            let dx = grads.dx.as_ref().unwrap();
            let rhs: f64 = dx.iter().zip(&xp).map(|(a, b)| *a as f64 * *b as f64).sum();
            assert!((lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0), "{g:?} dx");
            // <dy, conv(x, w')> = <dw, w'> (linearity in w).
            let wp = values(w.len(), 8);
            let lhs: f64 = direct(&g, &x, &wp, &zero)
                .iter()
                .zip(&dy)
                .map(|(a, b)| a * *b as f64)
                .sum();
            let rhs: f64 = grads
                .dw
                .iter()
                .zip(&wp)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            assert!((lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0), "{g:?} dw");
            // db[o] = Σ dy[:, o].
            let p = g.ho() * g.wo();
            for o in 0..g.co {
                let want: f64 = (0..g.n)
                    .flat_map(|b| dy[(b * g.co + o) * p..(b * g.co + o + 1) * p].iter())
                    .map(|&v| v as f64)
                    .sum();
                assert!((grads.db[o] as f64 - want).abs() < 1e-4);
            }
            let without = backward(&g, &x, &w, &dy, false);
            assert!(without.dx.is_none());
            assert_eq!(without.dw, grads.dw);
        }
    }
}
