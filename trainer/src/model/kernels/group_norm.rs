//! GroupNorm (Wu & He 2018), optionally followed by SiLU, fused into one pass each way.
//!
//! For image `n`, group `g` of `C/G` channels × `H·W` pixels (`L` values):
//! `μ = mean(x)`, `rstd = 1/sqrt(var(x) + ε)` (biased variance, as PyTorch and burn),
//! `x̂ = (x − μ)·rstd`, `z = γ_c·x̂ + β_c`, `y = silu(z) = z·σ(z)` or `y = z`.
//!
//! Backward, with `dz = dy·σ(z)·(1 + z·(1 − σ(z)))` (or `dy`):
//! `∂β_c = Σ dz`, `∂γ_c = Σ dz·x̂`, and with `dx̂ = γ_c·dz`:
//! `∂x = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))`, the means over the group.
//!
//! Work is split over (image, group) pairs; the per-channel sums for `∂γ`, `∂β` are added over
//! images in order, so results do not depend on the thread count.

use super::exp::sigmoid;
use rayon::prelude::*;

/// The shapes of one normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormGeom {
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Pixels per channel (H·W).
    pub hw: usize,
    /// Groups (divides `c`).
    pub groups: usize,
}

impl NormGeom {
    fn group_len(&self) -> usize {
        self.c / self.groups * self.hw
    }

    fn check(&self, x: &[f32], gamma: &[f32], beta: &[f32]) {
        assert!(
            self.groups > 0 && self.c.is_multiple_of(self.groups),
            "group_norm: {} channels in {} groups",
            self.c,
            self.groups
        );
        assert_eq!(
            x.len(),
            self.n * self.c * self.hw,
            "group_norm: input length"
        );
        assert!(
            gamma.len() == self.c && beta.len() == self.c,
            "group_norm: affine length"
        );
    }
}

/// What the forward pass returns: the output and each (image, group)'s statistics.
#[derive(Debug, Clone)]
pub struct NormOutput {
    /// `y`, shaped as `x`.
    pub y: Vec<f32>,
    /// `μ` per (image, group), `[N, G]`.
    pub mean: Vec<f32>,
    /// `rstd` per (image, group), `[N, G]`.
    pub rstd: Vec<f32>,
}

/// Lanes of the blocked sums: enough for one AVX-512 register.
const LANES: usize = 16;
/// Values per block: each block is summed in f32 lanes, the blocks in f64.
const BLOCK: usize = 512;

/// `Σ f(i)` over `0..n`, summed in [`LANES`] f32 lanes per [`BLOCK`] and in f64 across blocks
/// (vectorisable, and as accurate as an f64 sum for the group sizes here).
#[inline(always)]
fn blocked_sum(n: usize, f: impl Fn(usize) -> f32) -> f64 {
    let mut total = 0.0f64;
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        let mut lanes = [0.0f32; LANES];
        let full = start + (end - start) / LANES * LANES;
        let mut i = start;
        while i < full {
            for (l, lane) in lanes.iter_mut().enumerate() {
                *lane += f(i + l);
            }
            i += LANES;
        }
        for k in full..end {
            lanes[0] += f(k);
        }
        total += lanes.iter().map(|&v| v as f64).sum::<f64>();
        start = end;
    }
    total
}

/// Mean and biased variance of `v` (two passes).
#[inline(always)]
fn moments(v: &[f32]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = blocked_sum(v.len(), |i| v[i]) / n;
    let m = mean as f32;
    let var = blocked_sum(v.len(), |i| (v[i] - m) * (v[i] - m)) / n;
    (mean, var)
}

/// One (image, group) of the forward pass, `y = act(γ·(x − μ)·rstd + β)` channel by channel,
/// compiled for the best SIMD level the CPU has.
struct ForwardGroup<'a> {
    y: &'a mut [f32],
    x: &'a [f32],
    gamma: &'a [f32],
    beta: &'a [f32],
    hw: usize,
    eps: f64,
    silu: bool,
}

impl pulp::WithSimd for ForwardGroup<'_> {
    /// The group's `(μ, rstd)`.
    type Output = (f32, f32);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> (f32, f32) {
        let (mean, var) = moments(self.x);
        let rstd = (1.0 / (var + self.eps).sqrt()) as f32;
        let mean = mean as f32;
        let chans = self.y.chunks_mut(self.hw).zip(self.x.chunks(self.hw));
        for ((yc, xc), (&gm, &bt)) in chans.zip(self.gamma.iter().zip(self.beta)) {
            let a = gm * rstd;
            let b = bt - mean * a;
            if self.silu {
                for (o, &v) in yc.iter_mut().zip(xc) {
                    let z = v * a + b;
                    *o = z * sigmoid(z);
                }
            } else {
                for (o, &v) in yc.iter_mut().zip(xc) {
                    *o = v * a + b;
                }
            }
        }
        (mean, rstd)
    }
}

/// The forward pass; `silu` adds the activation.
pub fn forward(
    g: &NormGeom,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
    silu: bool,
) -> NormOutput {
    g.check(x, gamma, beta);
    let (len, cg) = (g.group_len(), g.c / g.groups);
    let mut y = super::zeroed(x.len());
    let stats: Vec<(f32, f32)> = y
        .par_chunks_mut(len)
        .zip(x.par_chunks(len))
        .enumerate()
        .map(|(i, (yg, xg))| {
            let c0 = (i % g.groups) * cg;
            pulp::Arch::new().dispatch(ForwardGroup {
                y: yg,
                x: xg,
                gamma: &gamma[c0..c0 + cg],
                beta: &beta[c0..c0 + cg],
                hw: g.hw,
                eps,
                silu,
            })
        })
        .collect();
    NormOutput {
        y,
        mean: stats.iter().map(|s| s.0).collect(),
        rstd: stats.iter().map(|s| s.1).collect(),
    }
}

/// One (image, group) of the backward pass: writes `∂x` and returns each channel's
/// `(Σ dz·x̂, Σ dz)`.
struct BackwardGroup<'a> {
    dx: &'a mut [f32],
    x: &'a [f32],
    dy: &'a [f32],
    gamma: &'a [f32],
    beta: &'a [f32],
    hw: usize,
    mean: f32,
    rstd: f32,
    silu: bool,
}

impl pulp::WithSimd for BackwardGroup<'_> {
    type Output = Vec<(f64, f64)>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Vec<(f64, f64)> {
        let (m, r, hw) = (self.mean, self.rstd, self.hw);
        let mut per_channel = Vec::with_capacity(self.gamma.len());
        // Pass 1: dz (kept in dx), then the channel sums.
        for (j, (&gm, &bt)) in self.gamma.iter().zip(self.beta).enumerate() {
            let dzc = &mut self.dx[j * hw..(j + 1) * hw];
            let (xc, dyc) = (
                &self.x[j * hw..(j + 1) * hw],
                &self.dy[j * hw..(j + 1) * hw],
            );
            if self.silu {
                for ((dz, &xv), &d) in dzc.iter_mut().zip(xc).zip(dyc) {
                    let z = gm * ((xv - m) * r) + bt;
                    let s = sigmoid(z);
                    *dz = d * s * (1.0 + z * (1.0 - s));
                }
            } else {
                dzc.copy_from_slice(dyc);
            }
            let dzc = &*dzc;
            let s_dz_xh = blocked_sum(hw, |k| dzc[k] * ((xc[k] - m) * r));
            let s_dz = blocked_sum(hw, |k| dzc[k]);
            per_channel.push((s_dz_xh, s_dz));
        }
        // mean(dx̂) and mean(dx̂·x̂) over the group.
        let (mut a, mut b) = (0.0f64, 0.0f64);
        for (&gm, (sxh, sd)) in self.gamma.iter().zip(&per_channel) {
            a += gm as f64 * sd;
            b += gm as f64 * sxh;
        }
        let len = (self.gamma.len() * hw) as f64;
        let (mean_dxh, mean_dxh_xh) = ((a / len) as f32, (b / len) as f32);
        // Pass 2: dx from dz.
        for (j, &gm) in self.gamma.iter().enumerate() {
            let dc = &mut self.dx[j * hw..(j + 1) * hw];
            let xc = &self.x[j * hw..(j + 1) * hw];
            for (d, &xv) in dc.iter_mut().zip(xc) {
                let xh = (xv - m) * r;
                *d = r * (gm * *d - mean_dxh - xh * mean_dxh_xh);
            }
        }
        per_channel
    }
}

/// Gradients of a normalisation.
#[derive(Debug, Clone)]
pub struct NormGrads {
    /// `∂L/∂x`, shaped as `x`.
    pub dx: Vec<f32>,
    /// `∂L/∂γ`, `[C]`.
    pub dgamma: Vec<f32>,
    /// `∂L/∂β`, `[C]`.
    pub dbeta: Vec<f32>,
}

/// The gradients of [`forward`] for the output gradient `dy`, from the forward pass's
/// statistics `mean`, `rstd` (`[N, G]`).
#[allow(clippy::too_many_arguments)]
pub fn backward(
    g: &NormGeom,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    rstd: &[f32],
    dy: &[f32],
    silu: bool,
) -> NormGrads {
    g.check(x, gamma, beta);
    assert_eq!(dy.len(), x.len(), "group_norm: output gradient length");
    assert!(mean.len() == g.n * g.groups && rstd.len() == g.n * g.groups);
    let (len, cg) = (g.group_len(), g.c / g.groups);
    let mut dx = super::zeroed(x.len());
    // Per (image, group): the group's channels' Σdz·x̂ and Σdz.
    let sums: Vec<Vec<(f64, f64)>> = dx
        .par_chunks_mut(len)
        .zip(x.par_chunks(len).zip(dy.par_chunks(len)))
        .enumerate()
        .map(|(i, (dxg, (xg, dyg)))| {
            let c0 = (i % g.groups) * cg;
            pulp::Arch::new().dispatch(BackwardGroup {
                dx: dxg,
                x: xg,
                dy: dyg,
                gamma: &gamma[c0..c0 + cg],
                beta: &beta[c0..c0 + cg],
                hw: g.hw,
                mean: mean[i],
                rstd: rstd[i],
                silu,
            })
        })
        .collect();
    let mut dgamma = vec![0.0f64; g.c];
    let mut dbeta = vec![0.0f64; g.c];
    for (i, per_channel) in sums.iter().enumerate() {
        let c0 = (i % g.groups) * cg;
        for (j, (sxh, sd)) in per_channel.iter().enumerate() {
            dgamma[c0 + j] += sxh;
            dbeta[c0 + j] += sd;
        }
    }
    NormGrads {
        dx,
        dgamma: dgamma.into_iter().map(|v| v as f32).collect(),
        dbeta: dbeta.into_iter().map(|v| v as f32).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104_729) % 1000) as f32 / 250.0) - 2.0)
            .collect()
    }

    /// The forward pass in f64 from the definition, and the loss `Σ dy·y`.
    fn loss(g: &NormGeom, x: &[f64], gamma: &[f64], beta: &[f64], dy: &[f32], silu: bool) -> f64 {
        let (len, cg) = (g.group_len(), g.c / g.groups);
        let mut total = 0.0;
        for (i, xg) in x.chunks(len).enumerate() {
            let mean = xg.iter().sum::<f64>() / len as f64;
            let var = xg.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / len as f64;
            for (k, &v) in xg.iter().enumerate() {
                let c = (i % g.groups) * cg + k / g.hw;
                let z = gamma[c] * (v - mean) / (var + 1e-5).sqrt() + beta[c];
                let y = if silu { z / (1.0 + (-z).exp()) } else { z };
                total += y * dy[i * len + k] as f64;
            }
        }
        total
    }

    #[test]
    fn the_forward_pass_and_every_gradient_match_the_definition_by_central_differences() {
        let g = NormGeom {
            n: 2,
            c: 6,
            hw: 10,
            groups: 3,
        };
        let x = values(g.n * g.c * g.hw, 1);
        let gamma: Vec<f32> = values(g.c, 2).iter().map(|v| 1.0 + v / 4.0).collect();
        let beta = values(g.c, 3);
        let dy = values(x.len(), 4);
        let f64s = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
        for silu in [false, true] {
            let out = forward(&g, &x, &gamma, &beta, 1e-5, silu);
            let got: f64 = out.y.iter().zip(&dy).map(|(a, b)| (a * b) as f64).sum();
            let want = loss(&g, &f64s(&x), &f64s(&gamma), &f64s(&beta), &dy, silu);
            assert!((got - want).abs() < 1e-3, "forward {got} vs {want}");
            let gr = backward(&g, &x, &gamma, &beta, &out.mean, &out.rstd, &dy, silu);
            let h = 1e-4;
            let diff = |which: usize, idx: usize| {
                let (mut xs, mut gs, mut bs) = (f64s(&x), f64s(&gamma), f64s(&beta));
                let at =
                    |xs: &mut Vec<f64>, gs: &mut Vec<f64>, bs: &mut Vec<f64>, d: f64| match which {
                        0 => xs[idx] += d,
                        1 => gs[idx] += d,
                        _ => bs[idx] += d,
                    };
                at(&mut xs, &mut gs, &mut bs, h);
                let up = loss(&g, &xs, &gs, &bs, &dy, silu);
                at(&mut xs, &mut gs, &mut bs, -2.0 * h);
                let down = loss(&g, &xs, &gs, &bs, &dy, silu);
                (up - down) / (2.0 * h)
            };
            for idx in [0, 7, 33, 59, 64, 119] {
                let (a, b) = (gr.dx[idx] as f64, diff(0, idx));
                assert!(
                    (a - b).abs() < 2e-3 * b.abs().max(1.0),
                    "dx[{idx}] {a} vs {b}"
                );
            }
            for c in 0..g.c {
                let (a, b) = (gr.dgamma[c] as f64, diff(1, c));
                assert!(
                    (a - b).abs() < 2e-3 * b.abs().max(1.0),
                    "dγ[{c}] {a} vs {b}"
                );
                let (a, b) = (gr.dbeta[c] as f64, diff(2, c));
                assert!(
                    (a - b).abs() < 2e-3 * b.abs().max(1.0),
                    "dβ[{c}] {a} vs {b}"
                );
            }
        }
    }
}
