//! The policy's two heaviest operations — convolution and GroupNorm (+ SiLU) — as backend
//! operations with their own gradients, so that the CPU backend can run them on the kernels of
//! [`super::kernels`] instead of burn's generic decompositions.
//!
//! [`PolicyBackend`] has a default for every method built from burn's own operations (what
//! every backend but the CPU one uses, the CUDA backend included); burn's CPU backend (`Flex`)
//! overrides them with the fused kernels; `Autodiff<B>` records each call as one graph node
//! whose backward is `B`'s backward method. Models call [`conv2d`] and [`group_norm`] on their
//! burn modules (`Conv2d`, `GroupNorm`), so parameters, records and checkpoints are burn's.
//!
//! Why: on two CPU cores burn 0.21's convolution gradient (a serial col2im and a per-channel
//! weight-gradient convolution) and its GroupNorm (seven broadcast operations, each with its own
//! backward) took most of a training step (benchmarks/trainer.md).

use super::kernels::profile::{self, Kernel};
use super::kernels::{channels as channels_k, conv as conv_k, group_norm as norm_k};
use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, PaddingConfig2d};
use burn::tensor::activation::sigmoid;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::{ConvOptions, FloatTensor, FloatTensorOps};
use burn::tensor::{DType, Shape, Tensor, TensorData, TensorMetadata, TensorPrimitive};
use burn_flex::FlexTensor;

/// Float tensor of backend `B`.
type Ft<B> = FloatTensor<B>;

/// Convolution and GroupNorm with explicit gradients (see the module documentation).
///
/// Shapes: `x` `[N, Ci, H, W]`, `weight` `[Co, Ci, k, k]`, `bias` `[Co]`; GroupNorm's `gamma`,
/// `beta` `[C]` and statistics `[N, G]`.
pub trait PolicyBackend: Backend {
    /// `conv(x, weight) + bias` with `stride` and zero padding `pad` on every side.
    fn policy_conv2d(
        x: Ft<Self>,
        weight: Ft<Self>,
        bias: Ft<Self>,
        stride: usize,
        pad: usize,
    ) -> Ft<Self> {
        generic::conv2d::<Self>(x, weight, bias, stride, pad)
    }

    /// Gradients of [`Self::policy_conv2d`] for the output gradient `dy`: `(∂x if need_dx,
    /// ∂weight, ∂bias)`.
    fn policy_conv2d_backward(
        x: Ft<Self>,
        weight: Ft<Self>,
        dy: Ft<Self>,
        stride: usize,
        pad: usize,
        need_dx: bool,
    ) -> ConvGrads<Self> {
        generic::conv2d_backward::<Self>(x, weight, dy, stride, pad, need_dx)
    }

    /// GroupNorm over `groups` groups with `eps`, then SiLU when `silu`: `(y, mean, rstd)`.
    fn policy_group_norm(
        x: Ft<Self>,
        gamma: Ft<Self>,
        beta: Ft<Self>,
        groups: usize,
        eps: f64,
        silu: bool,
    ) -> (Ft<Self>, Ft<Self>, Ft<Self>) {
        generic::group_norm::<Self>(x, gamma, beta, groups, eps, silu)
    }

    /// Gradients of [`Self::policy_group_norm`] for the output gradient `dy`, from its
    /// statistics: `(∂x, ∂gamma, ∂beta)`.
    #[allow(clippy::too_many_arguments)]
    fn policy_group_norm_backward(
        x: Ft<Self>,
        gamma: Ft<Self>,
        beta: Ft<Self>,
        mean: Ft<Self>,
        rstd: Ft<Self>,
        dy: Ft<Self>,
        groups: usize,
        silu: bool,
    ) -> (Ft<Self>, Ft<Self>, Ft<Self>) {
        generic::group_norm_backward::<Self>(x, gamma, beta, mean, rstd, dy, groups, silu)
    }

    /// `cat([a, b], 1)` of `[N, Ca, H, W]` and `[N, Cb, H, W]` (the UNet's skip connections).
    fn policy_cat_channels(a: Ft<Self>, b: Ft<Self>) -> Ft<Self> {
        Self::float_cat(vec![a, b], 1)
    }

    /// The gradient of [`Self::policy_cat_channels`]: `dy`'s first `ca` channels and the rest.
    fn policy_split_channels(dy: Ft<Self>, ca: usize) -> (Ft<Self>, Ft<Self>) {
        generic::split_channels::<Self>(dy, ca)
    }
}

/// A convolution's gradients: `(∂x when asked for, ∂weight, ∂bias)`.
pub type ConvGrads<B> = (Option<Ft<B>>, Ft<B>, Ft<B>);

/// The operations written with burn's own tensor operations: the defaults of
/// [`PolicyBackend`], and the reference the CPU kernels are tested against.
pub mod generic {
    use super::*;

    /// burn's `narrow` of a channel-concatenation gradient into its two parts.
    pub fn split_channels<B: Backend>(dy: Ft<B>, ca: usize) -> (Ft<B>, Ft<B>) {
        let dy = float::<B, 4>(dy);
        let c = dy.dims()[1];
        (
            dy.clone().narrow(1, 0, ca).into_primitive().tensor(),
            dy.narrow(1, ca, c - ca).into_primitive().tensor(),
        )
    }

    /// burn's `conv2d`.
    pub fn conv2d<B: Backend>(
        x: Ft<B>,
        weight: Ft<B>,
        bias: Ft<B>,
        stride: usize,
        pad: usize,
    ) -> Ft<B> {
        B::conv2d(x, weight, Some(bias), conv_options(stride, pad))
    }

    /// burn's convolution gradients (`conv2d_x_backward`, `conv2d_weight_backward`) and the
    /// bias gradient as a sum.
    pub fn conv2d_backward<B: Backend>(
        x: Ft<B>,
        weight: Ft<B>,
        dy: Ft<B>,
        stride: usize,
        pad: usize,
        need_dx: bool,
    ) -> ConvGrads<B> {
        let opts = conv_options(stride, pad);
        let dx = need_dx
            .then(|| B::conv2d_x_backward(x.clone(), weight.clone(), dy.clone(), opts.clone()));
        let db = {
            let g = float::<B, 4>(dy.clone());
            let co = g.dims()[1];
            g.swap_dims(0, 1)
                .reshape([co as i32, -1])
                .sum_dim(1)
                .reshape([co])
                .into_primitive()
                .tensor()
        };
        let dw = B::conv2d_weight_backward(x, weight, dy, opts);
        (dx, dw, db)
    }

    /// GroupNorm (+ SiLU) from mean, variance and broadcasts.
    pub fn group_norm<B: Backend>(
        x: Ft<B>,
        gamma: Ft<B>,
        beta: Ft<B>,
        groups: usize,
        eps: f64,
        silu: bool,
    ) -> (Ft<B>, Ft<B>, Ft<B>) {
        let x = float::<B, 4>(x);
        let [n, c, h, w] = x.dims();
        let xr = x.reshape([n, groups, c / groups * h * w]);
        let mean = xr.clone().mean_dim(2);
        let xc = xr - mean.clone();
        let rstd = xc
            .clone()
            .powi_scalar(2)
            .mean_dim(2)
            .add_scalar(eps)
            .sqrt()
            .recip();
        let xh = (xc * rstd.clone()).reshape([n, c, h, w]);
        let z = xh * float::<B, 1>(gamma).reshape([1, c, 1, 1])
            + float::<B, 1>(beta).reshape([1, c, 1, 1]);
        let y = if silu { z.clone() * sigmoid(z) } else { z };
        (
            y.into_primitive().tensor(),
            mean.reshape([n, groups]).into_primitive().tensor(),
            rstd.reshape([n, groups]).into_primitive().tensor(),
        )
    }

    /// The closed-form GroupNorm (+ SiLU) gradients (module documentation of the kernels).
    #[allow(clippy::too_many_arguments)]
    pub fn group_norm_backward<B: Backend>(
        x: Ft<B>,
        gamma: Ft<B>,
        beta: Ft<B>,
        mean: Ft<B>,
        rstd: Ft<B>,
        dy: Ft<B>,
        groups: usize,
        silu: bool,
    ) -> (Ft<B>, Ft<B>, Ft<B>) {
        let x = float::<B, 4>(x);
        let [n, c, h, w] = x.dims();
        let len = c / groups * h * w;
        let mean = float::<B, 2>(mean).reshape([n, groups, 1]);
        let rstd = float::<B, 2>(rstd).reshape([n, groups, 1]);
        let gamma = float::<B, 1>(gamma).reshape([1, c, 1, 1]);
        let xh = ((x.reshape([n, groups, len]) - mean) * rstd.clone()).reshape([n, c, h, w]);
        let dy = float::<B, 4>(dy);
        let dz = if silu {
            let z = xh.clone() * gamma.clone() + float::<B, 1>(beta).reshape([1, c, 1, 1]);
            let s = sigmoid(z.clone());
            dy * s.clone() * (z * (s.neg().add_scalar(1.0))).add_scalar(1.0)
        } else {
            dy
        };
        let per_channel = |t: Tensor<B, 4>| -> Ft<B> {
            t.swap_dims(0, 1)
                .reshape([c as i32, -1])
                .sum_dim(1)
                .reshape([c])
                .into_primitive()
                .tensor()
        };
        let dbeta = per_channel(dz.clone());
        let dgamma = per_channel(dz.clone() * xh.clone());
        let dxh = (dz * gamma).reshape([n, groups, len]);
        let xh = xh.reshape([n, groups, len]);
        let m1 = dxh.clone().mean_dim(2);
        let m2 = (dxh.clone() * xh.clone()).mean_dim(2);
        let dx = ((dxh - m1 - xh * m2) * rstd).reshape([n, c, h, w]);
        (dx.into_primitive().tensor(), dgamma, dbeta)
    }
}

fn conv_options(stride: usize, pad: usize) -> ConvOptions<2> {
    ConvOptions::new([stride; 2], [pad; 2], [1, 1], 1)
}

fn float<B: Backend, const D: usize>(t: Ft<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// burn-cuda keeps burn's own operations (the defaults), in f32 and in bf16.
#[cfg(feature = "cuda")]
impl PolicyBackend for burn::backend::Cuda {}

#[cfg(feature = "cuda")]
impl PolicyBackend for burn::backend::Cuda<burn::tensor::bf16> {}

/// burn's CPU tensor as a contiguous `f32` slice owner, or `None` for another dtype.
fn f32_data(t: &FlexTensor) -> Option<FlexTensor> {
    (t.dtype() == DType::F32).then(|| t.to_contiguous())
}

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32 tensor")
}

fn flex(v: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape.into()))
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let s = t.shape();
    [s[0], s[1], s[2], s[3]]
}

fn conv_geom(x: &FlexTensor, w: &FlexTensor, stride: usize, pad: usize) -> conv_k::ConvGeom {
    let ([n, ci, h, wd], [co, _, k, _]) = (dims4(x), dims4(w));
    conv_k::ConvGeom {
        n,
        ci,
        h,
        w: wd,
        co,
        k,
        stride,
        pad,
    }
}

/// Whether the kernels apply: f32 everywhere, a square kernel over every input channel.
fn conv_fits(x: &FlexTensor, w: &FlexTensor) -> bool {
    let (xs, ws) = (x.shape(), w.shape());
    x.dtype() == DType::F32
        && w.dtype() == DType::F32
        && xs.num_dims() == 4
        && ws.num_dims() == 4
        && ws[1] == xs[1]
        && ws[2] == ws[3]
}

impl PolicyBackend for Flex {
    fn policy_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        stride: usize,
        pad: usize,
    ) -> FlexTensor {
        profile::timed(Kernel::ConvForward, || {
            if !conv_fits(&x, &weight) {
                return generic::conv2d::<Self>(x, weight, bias, stride, pad);
            }
            let g = conv_geom(&x, &weight, stride, pad);
            let (x, w, b) = (
                f32_data(&x).unwrap(),
                f32_data(&weight).unwrap(),
                f32_data(&bias).unwrap(),
            );
            let y = conv_k::forward(&g, slice(&x), slice(&w), Some(slice(&b)));
            flex(y, [g.n, g.co, g.ho(), g.wo()])
        })
    }

    fn policy_conv2d_backward(
        x: FlexTensor,
        weight: FlexTensor,
        dy: FlexTensor,
        stride: usize,
        pad: usize,
        need_dx: bool,
    ) -> ConvGrads<Self> {
        profile::timed(Kernel::ConvBackward, || {
            if !conv_fits(&x, &weight) || dy.dtype() != DType::F32 {
                return generic::conv2d_backward::<Self>(x, weight, dy, stride, pad, need_dx);
            }
            let g = conv_geom(&x, &weight, stride, pad);
            let w_shape = weight.shape();
            let (x, w, dy) = (
                f32_data(&x).unwrap(),
                f32_data(&weight).unwrap(),
                f32_data(&dy).unwrap(),
            );
            let gr = conv_k::backward(&g, slice(&x), slice(&w), slice(&dy), need_dx);
            (
                gr.dx.map(|v| flex(v, [g.n, g.ci, g.h, g.w])),
                flex(gr.dw, w_shape),
                flex(gr.db, [g.co]),
            )
        })
    }

    fn policy_group_norm(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        groups: usize,
        eps: f64,
        silu: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        profile::timed(Kernel::NormForward, || {
            let [n, c, h, w] = dims4(&x);
            let g = norm_k::NormGeom {
                n,
                c,
                hw: h * w,
                groups,
            };
            let (Some(xs), Some(gm), Some(bt)) = (f32_data(&x), f32_data(&gamma), f32_data(&beta))
            else {
                return generic::group_norm::<Self>(x, gamma, beta, groups, eps, silu);
            };
            let x = xs;
            let out = norm_k::forward(&g, slice(&x), slice(&gm), slice(&bt), eps, silu);
            (
                flex(out.y, [n, c, h, w]),
                flex(out.mean, [n, groups]),
                flex(out.rstd, [n, groups]),
            )
        })
    }

    fn policy_group_norm_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        mean: FlexTensor,
        rstd: FlexTensor,
        dy: FlexTensor,
        groups: usize,
        silu: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        profile::timed(Kernel::NormBackward, || {
            let [n, c, h, w] = dims4(&x);
            let g = norm_k::NormGeom {
                n,
                c,
                hw: h * w,
                groups,
            };
            let parts = [&x, &gamma, &beta, &mean, &rstd, &dy].map(f32_data);
            let [Some(x), Some(gm), Some(bt), Some(mn), Some(rs), Some(dy)] = &parts else {
                return generic::group_norm_backward::<Self>(
                    x, gamma, beta, mean, rstd, dy, groups, silu,
                );
            };
            let gr = norm_k::backward(
                &g,
                slice(x),
                slice(gm),
                slice(bt),
                slice(mn),
                slice(rs),
                slice(dy),
                silu,
            );
            (
                flex(gr.dx, [n, c, h, w]),
                flex(gr.dgamma, [c]),
                flex(gr.dbeta, [c]),
            )
        })
    }

    fn policy_cat_channels(a: FlexTensor, b: FlexTensor) -> FlexTensor {
        profile::timed(Kernel::Concat, || {
            let ([n, ca, h, w], [nb, cb, hb, wb]) = (dims4(&a), dims4(&b));
            match (f32_data(&a), f32_data(&b)) {
                (Some(a), Some(b)) if n == nb && h == hb && w == wb => {
                    flex(channels_k::cat(slice(&a), slice(&b), n), [n, ca + cb, h, w])
                }
                _ => Self::float_cat(vec![a, b], 1),
            }
        })
    }

    fn policy_split_channels(dy: FlexTensor, ca: usize) -> (FlexTensor, FlexTensor) {
        profile::timed(Kernel::Concat, || {
            let [n, c, h, w] = dims4(&dy);
            match f32_data(&dy) {
                Some(d) => {
                    let (a, b) = channels_k::split(slice(&d), n, ca * h * w);
                    (flex(a, [n, ca, h, w]), flex(b, [n, c - ca, h, w]))
                }
                None => generic::split_channels::<Self>(dy, ca),
            }
        })
    }
}

/// Hands each tracked parent its gradient (parents that need none are `None`).
fn register<B: Backend, const N: usize>(
    grads: &mut Gradients,
    parents: [Option<NodeId>; N],
    values: [Option<Ft<B>>; N],
) {
    for (id, g) in parents.into_iter().zip(values) {
        if let (Some(id), Some(g)) = (id, g) {
            grads.register::<B>(id, g);
        }
    }
}

impl<B: PolicyBackend, C: CheckpointStrategy> PolicyBackend for Autodiff<B, C> {
    fn policy_cat_channels(a: Ft<Self>, b: Ft<Self>) -> Ft<Self> {
        #[derive(Debug)]
        struct CatBackward;

        impl<B: PolicyBackend> Backward<B, 2> for CatBackward {
            type State = usize;

            fn backward(
                self,
                ops: Ops<Self::State, 2>,
                grads: &mut Gradients,
                _checkpointer: &mut Checkpointer,
            ) {
                let parents = ops.parents.map(|p| p.map(|n| n.id));
                let dy = grads.consume::<B>(&ops.node);
                let (da, db) = B::policy_split_channels(dy, ops.state);
                register::<B, 2>(grads, parents, [Some(da), Some(db)]);
            }
        }

        let ca = a.primitive.shape()[1];
        match CatBackward
            .prepare::<C>([a.node.clone(), b.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                prep.finish(ca, B::policy_cat_channels(a.primitive, b.primitive))
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::policy_cat_channels(a.primitive, b.primitive))
            }
        }
    }

    fn policy_conv2d(
        x: Ft<Self>,
        weight: Ft<Self>,
        bias: Ft<Self>,
        stride: usize,
        pad: usize,
    ) -> Ft<Self> {
        #[derive(Debug)]
        struct ConvBackward;

        impl<B: PolicyBackend> Backward<B, 3> for ConvBackward {
            type State = (NodeId, NodeId, usize, usize);

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let parents = ops.parents.map(|p| p.map(|n| n.id));
                let dy = grads.consume::<B>(&ops.node);
                let (x_state, w_state, stride, pad) = ops.state;
                let x = checkpointer.retrieve_node_output::<Ft<B>>(x_state);
                let w = checkpointer.retrieve_node_output::<Ft<B>>(w_state);
                let (dx, dw, db) =
                    B::policy_conv2d_backward(x, w, dy, stride, pad, parents[0].is_some());
                register::<B, 3>(grads, parents, [dx, Some(dw), Some(db)]);
            }
        }

        match ConvBackward
            .prepare::<C>([x.node.clone(), weight.node.clone(), bias.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let w_state = prep.checkpoint(&weight);
                prep.finish(
                    (x_state, w_state, stride, pad),
                    B::policy_conv2d(x.primitive, weight.primitive, bias.primitive, stride, pad),
                )
            }
            OpsKind::UnTracked(prep) => prep.finish(B::policy_conv2d(
                x.primitive,
                weight.primitive,
                bias.primitive,
                stride,
                pad,
            )),
        }
    }

    fn policy_group_norm(
        x: Ft<Self>,
        gamma: Ft<Self>,
        beta: Ft<Self>,
        groups: usize,
        eps: f64,
        silu: bool,
    ) -> (Ft<Self>, Ft<Self>, Ft<Self>) {
        #[derive(Debug)]
        struct NormBackward;

        impl<B: PolicyBackend> Backward<B, 3> for NormBackward {
            type State = (NodeId, NodeId, NodeId, Ft<B>, Ft<B>, usize, bool);

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let parents = ops.parents.map(|p| p.map(|n| n.id));
                let dy = grads.consume::<B>(&ops.node);
                let (x_state, g_state, b_state, mean, rstd, groups, silu) = ops.state;
                let x = checkpointer.retrieve_node_output::<Ft<B>>(x_state);
                let gamma = checkpointer.retrieve_node_output::<Ft<B>>(g_state);
                let beta = checkpointer.retrieve_node_output::<Ft<B>>(b_state);
                let (dx, dg, db) =
                    B::policy_group_norm_backward(x, gamma, beta, mean, rstd, dy, groups, silu);
                register::<B, 3>(grads, parents, [Some(dx), Some(dg), Some(db)]);
            }
        }

        match NormBackward
            .prepare::<C>([x.node.clone(), gamma.node.clone(), beta.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let g_state = prep.checkpoint(&gamma);
                let b_state = prep.checkpoint(&beta);
                let (y, mean, rstd) = B::policy_group_norm(
                    x.primitive,
                    gamma.primitive,
                    beta.primitive,
                    groups,
                    eps,
                    silu,
                );
                let y = prep.finish(
                    (
                        x_state,
                        g_state,
                        b_state,
                        mean.clone(),
                        rstd.clone(),
                        groups,
                        silu,
                    ),
                    y,
                );
                (y, Self::from_inner(mean), Self::from_inner(rstd))
            }
            OpsKind::UnTracked(prep) => {
                let (y, mean, rstd) = B::policy_group_norm(
                    x.primitive,
                    gamma.primitive,
                    beta.primitive,
                    groups,
                    eps,
                    silu,
                );
                (
                    prep.finish(y),
                    Self::from_inner(mean),
                    Self::from_inner(rstd),
                )
            }
        }
    }
}

/// A burn `Conv2d` applied through [`PolicyBackend::policy_conv2d`] when it is one the kernels
/// cover (square kernel, equal strides, symmetric padding, no dilation or groups, a bias), and
/// through burn's own `forward` otherwise.
pub fn conv2d<B: PolicyBackend>(c: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let pad = match c.padding {
        PaddingConfig2d::Valid => Some(0),
        PaddingConfig2d::Explicit(t, l, b, r) if t == l && l == b && b == r => Some(t),
        _ => None,
    };
    match (pad, &c.bias) {
        (Some(pad), Some(bias))
            if c.stride[0] == c.stride[1]
                && c.dilation == [1, 1]
                && c.groups == 1
                && c.kernel_size[0] == c.kernel_size[1] =>
        {
            float(B::policy_conv2d(
                x.into_primitive().tensor(),
                c.weight.val().into_primitive().tensor(),
                bias.val().into_primitive().tensor(),
                c.stride[0],
                pad,
            ))
        }
        _ => c.forward(x),
    }
}

/// `cat([a, b], 1)` through [`PolicyBackend::policy_cat_channels`] (whose gradient parts are
/// contiguous, unlike the views burn's concatenation hands back).
pub fn cat_channels<B: PolicyBackend>(a: Tensor<B, 4>, b: Tensor<B, 4>) -> Tensor<B, 4> {
    float(B::policy_cat_channels(
        a.into_primitive().tensor(),
        b.into_primitive().tensor(),
    ))
}

/// A burn `GroupNorm` (affine) through [`PolicyBackend::policy_group_norm`], followed by SiLU
/// when `silu`: `silu(GN(x))` in one operation.
pub fn group_norm<B: PolicyBackend>(
    gn: &GroupNorm<B>,
    x: Tensor<B, 4>,
    silu: bool,
) -> Tensor<B, 4> {
    match (&gn.gamma, &gn.beta) {
        (Some(gamma), Some(beta)) if gn.affine => {
            let (y, _, _) = B::policy_group_norm(
                x.into_primitive().tensor(),
                gamma.val().into_primitive().tensor(),
                beta.val().into_primitive().tensor(),
                gn.num_groups,
                gn.epsilon,
                silu,
            );
            float(y)
        }
        _ => {
            let y = gn.forward(x);
            if silu {
                burn::tensor::activation::silu(y)
            } else {
                y
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Cpu, CpuAutodiff};
    use crate::diffusion::normal;
    use burn::nn::GroupNormConfig;
    use burn::nn::conv::Conv2dConfig;
    use lrpo_shared::rng::Rng;

    type A = CpuAutodiff;

    fn close(a: Tensor<Cpu, 1>, b: Tensor<Cpu, 1>, tol: f32, what: &str) {
        let (a, b): (Vec<f32>, Vec<f32>) = (
            a.into_data().to_vec().unwrap(),
            b.into_data().to_vec().unwrap(),
        );
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-3);
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                (x - y).abs() <= tol * scale,
                "{what}[{i}]: {x} vs {y} (scale {scale})"
            );
        }
    }

    fn flat<B: Backend, const D: usize>(t: Tensor<B, D>) -> Tensor<B, 1> {
        let n = t.shape().num_elements();
        t.reshape([n])
    }

    /// Our convolution against burn's `Conv2d::forward` and burn's autodiff of it, for the
    /// policy's three kinds (3×3 stride 1, 3×3 stride 2, 1×1), on burn's CPU backend.
    #[test]
    fn convolutions_and_their_gradients_match_burns_own() {
        let d = Default::default();
        let mut rng = Rng::new(3);
        for (k, stride, pad) in [(3, 1, 1), (3, 2, 1), (1, 1, 0)] {
            let padding = if pad == 1 {
                PaddingConfig2d::Explicit(1, 1, 1, 1)
            } else {
                PaddingConfig2d::Valid
            };
            let conv = Conv2dConfig::new([5, 7], [k, k])
                .with_stride([stride, stride])
                .with_padding(padding)
                .init::<A>(&d);
            let x0 = normal::<A, 4>(&mut rng, [3, 5, 10, 12], &d);
            let r = normal::<A, 4>(&mut rng, [3, 7, 10 / stride, 12 / stride], &d);
            let run = |ours: bool| {
                let x = x0.clone().detach().require_grad();
                let y = if ours {
                    conv2d(&conv, x.clone())
                } else {
                    conv.forward(x.clone())
                };
                let g = (y.clone() * r.clone()).sum().backward();
                (
                    flat(y.inner()),
                    flat(x.grad(&g).unwrap()),
                    flat(conv.weight.val().grad(&g).unwrap()),
                    conv.bias.as_ref().unwrap().val().grad(&g).unwrap(),
                )
            };
            let (a, b) = (run(true), run(false));
            close(a.0, b.0, 1e-5, "y");
            close(a.1, b.1, 1e-5, "dx");
            close(a.2, b.2, 1e-5, "dw");
            close(a.3, b.3, 1e-5, "db");
        }
    }

    /// Our fused GroupNorm (+ SiLU) against burn's `GroupNorm::forward` (+ `silu`) and burn's
    /// autodiff of it.
    #[test]
    fn group_norm_with_and_without_silu_and_its_gradients_match_burns_own() {
        let d = Default::default();
        let mut rng = Rng::new(4);
        let mut gn = GroupNormConfig::new(4, 8).init::<A>(&d);
        // Non-trivial affine parameters.
        gn.gamma = Some(burn::module::Param::from_tensor(
            normal::<A, 1>(&mut rng, [8], &d).add_scalar(1.0),
        ));
        gn.beta = Some(burn::module::Param::from_tensor(normal::<A, 1>(
            &mut rng,
            [8],
            &d,
        )));
        let x0 = normal::<A, 4>(&mut rng, [2, 8, 6, 5], &d)
            .mul_scalar(3.0)
            .add_scalar(0.5);
        let r = normal::<A, 4>(&mut rng, [2, 8, 6, 5], &d);
        for silu in [false, true] {
            let run = |ours: bool| {
                let x = x0.clone().detach().require_grad();
                let y = if ours {
                    group_norm(&gn, x.clone(), silu)
                } else if silu {
                    burn::tensor::activation::silu(gn.forward(x.clone()))
                } else {
                    gn.forward(x.clone())
                };
                let g = (y.clone() * r.clone()).sum().backward();
                (
                    flat(y.inner()),
                    flat(x.grad(&g).unwrap()),
                    gn.gamma.as_ref().unwrap().val().grad(&g).unwrap(),
                    gn.beta.as_ref().unwrap().val().grad(&g).unwrap(),
                )
            };
            let (a, b) = (run(true), run(false));
            close(a.0, b.0, 1e-5, "y");
            close(a.1, b.1, 1e-4, "dx");
            close(a.2, b.2, 1e-4, "dgamma");
            close(a.3, b.3, 1e-4, "dbeta");
        }
    }

    /// The defaults other backends use (burn's operations) agree with the CPU kernels.
    #[test]
    fn the_generic_defaults_agree_with_the_cpu_kernels() {
        let d = Default::default();
        let mut rng = Rng::new(5);
        let prim = |t: Tensor<Cpu, 4>| t.into_primitive().tensor();
        let x = normal::<Cpu, 4>(&mut rng, [2, 8, 6, 6], &d);
        let gamma = normal::<Cpu, 1>(&mut rng, [8], &d)
            .into_primitive()
            .tensor();
        let beta = normal::<Cpu, 1>(&mut rng, [8], &d)
            .into_primitive()
            .tensor();
        let dy = normal::<Cpu, 4>(&mut rng, [2, 8, 6, 6], &d);
        let (y1, m1, r1) =
            Cpu::policy_group_norm(prim(x.clone()), gamma.clone(), beta.clone(), 2, 1e-5, true);
        let (y2, m2, r2) =
            generic::group_norm::<Cpu>(prim(x.clone()), gamma.clone(), beta.clone(), 2, 1e-5, true);
        close(
            flat(float::<Cpu, 4>(y1)),
            flat(float::<Cpu, 4>(y2)),
            1e-5,
            "y",
        );
        close(
            flat(float::<Cpu, 2>(m1.clone())),
            flat(float::<Cpu, 2>(m2)),
            1e-5,
            "mean",
        );
        close(
            flat(float::<Cpu, 2>(r1.clone())),
            flat(float::<Cpu, 2>(r2)),
            1e-5,
            "rstd",
        );
        let a = Cpu::policy_group_norm_backward(
            prim(x.clone()),
            gamma.clone(),
            beta.clone(),
            m1.clone(),
            r1.clone(),
            prim(dy.clone()),
            2,
            true,
        );
        let b = generic::group_norm_backward::<Cpu>(
            prim(x.clone()),
            gamma,
            beta,
            m1,
            r1,
            prim(dy.clone()),
            2,
            true,
        );
        close(
            flat(float::<Cpu, 4>(a.0)),
            flat(float::<Cpu, 4>(b.0)),
            1e-4,
            "dx",
        );
        close(float::<Cpu, 1>(a.1), float::<Cpu, 1>(b.1), 1e-4, "dgamma");
        close(float::<Cpu, 1>(a.2), float::<Cpu, 1>(b.2), 1e-4, "dbeta");
        let w = normal::<Cpu, 4>(&mut rng, [4, 8, 3, 3], &d);
        let dy = normal::<Cpu, 4>(&mut rng, [2, 4, 3, 3], &d);
        let a = Cpu::policy_conv2d_backward(
            prim(x.clone()),
            prim(w.clone()),
            prim(dy.clone()),
            2,
            1,
            true,
        );
        let b = generic::conv2d_backward::<Cpu>(prim(x), prim(w), prim(dy), 2, 1, true);
        close(
            flat(float::<Cpu, 4>(a.0.unwrap())),
            flat(float::<Cpu, 4>(b.0.unwrap())),
            1e-5,
            "dx",
        );
        close(
            flat(float::<Cpu, 4>(a.1)),
            flat(float::<Cpu, 4>(b.1)),
            1e-5,
            "dw",
        );
        close(float::<Cpu, 1>(a.2), float::<Cpu, 1>(b.2), 1e-5, "db");
        let y = normal::<Cpu, 4>(&mut rng, [3, 7, 4, 5], &d);
        let a = Cpu::policy_split_channels(prim(y.clone()), 3);
        let b = generic::split_channels::<Cpu>(prim(y), 3);
        close(
            flat(float::<Cpu, 4>(a.0)),
            flat(float::<Cpu, 4>(b.0)),
            0.0,
            "first part",
        );
        close(
            flat(float::<Cpu, 4>(a.1)),
            flat(float::<Cpu, 4>(b.1)),
            0.0,
            "second part",
        );
    }
}
