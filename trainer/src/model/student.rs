//! The one-step student (burn): the network of `lrpo_shared::onnx::student`, layer for layer
//! and with the same parameter names, so the exporter can write its weights into that graph.
//! Input and output are RGB in [0, 1]; the network predicts a residual added to its input.

use super::ops::{PolicyBackend, conv2d};
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use lrpo_shared::onnx::student::StudentSpec;

/// One residual block at quarter resolution.
#[derive(Module, Debug)]
pub struct MidBlock<B: Backend> {
    /// First 3 × 3 convolution.
    pub conv1: Conv2d<B>,
    /// Second 3 × 3 convolution.
    pub conv2: Conv2d<B>,
}

/// The student network.
#[derive(Module, Debug)]
pub struct Student<B: Backend> {
    /// 3 → c0, full resolution.
    pub conv_in: Conv2d<B>,
    /// c0 → c1, stride 2.
    pub down1: Conv2d<B>,
    /// c1 → c2, stride 2.
    pub down2: Conv2d<B>,
    /// Residual blocks at quarter resolution.
    pub mid: Vec<MidBlock<B>>,
    /// 1 × 1, c2 → c1, before upsampling.
    pub proj1: Conv2d<B>,
    /// 3 × 3, c1 → c1, half resolution.
    pub dec1: Conv2d<B>,
    /// 1 × 1, c1 → c0, before upsampling.
    pub proj0: Conv2d<B>,
    /// 3 × 3, c0 → c0, full resolution.
    pub dec0: Conv2d<B>,
    /// 3 × 3, c0 → 3: the residual.
    pub conv_out: Conv2d<B>,
}

/// Builds the student for `spec` (the residual output layer starts near zero, so an untrained
/// student returns its input).
pub fn init<B: Backend>(spec: &StudentSpec, device: &B::Device) -> Student<B> {
    let conv = |ci: usize, co: usize, k: usize, stride: usize| {
        let pad = if k == 3 {
            PaddingConfig2d::Explicit(1, 1, 1, 1)
        } else {
            PaddingConfig2d::Valid
        };
        Conv2dConfig::new([ci, co], [k, k])
            .with_stride([stride, stride])
            .with_padding(pad)
            .init(device)
    };
    let [c0, c1, c2] = spec.channels;
    Student {
        conv_in: conv(3, c0, 3, 1),
        down1: conv(c0, c1, 3, 2),
        down2: conv(c1, c2, 3, 2),
        mid: (0..spec.mid_blocks)
            .map(|_| MidBlock {
                conv1: conv(c2, c2, 3, 1),
                conv2: conv(c2, c2, 3, 1),
            })
            .collect(),
        proj1: conv(c2, c1, 1, 1),
        dec1: conv(c1, c1, 3, 1),
        proj0: conv(c1, c0, 1, 1),
        dec0: conv(c0, c0, 3, 1),
        conv_out: Conv2dConfig::new([c0, 3], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_initializer(burn::nn::Initializer::Normal {
                mean: 0.0,
                std: 1e-3,
            })
            .init(device),
    }
}

/// Activations the int8 exporter calibrates: the input and output of every convolution, in
/// [`StudentSpec::layers`] order.
pub type Taps<B> = Vec<(Tensor<B, 4>, Tensor<B, 4>)>;

fn up2<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    interpolate(
        x,
        [2 * h, 2 * w],
        InterpolateOptions::new(InterpolateMode::Nearest),
    )
}

impl<B: PolicyBackend> Student<B> {
    /// Restores `lq` (`[N, 3, H, W]`, [0, 1], H and W multiples of 4).
    pub fn forward(&self, lq: Tensor<B, 4>) -> Tensor<B, 4> {
        self.forward_taps(lq, None)
    }

    /// [`Student::forward`], recording every convolution's input and output in `taps`.
    pub fn forward_taps(&self, x: Tensor<B, 4>, mut taps: Option<&mut Taps<B>>) -> Tensor<B, 4> {
        let mut conv = |c: &Conv2d<B>, input: Tensor<B, 4>| {
            let out = conv2d(c, input.clone());
            if let Some(t) = taps.as_deref_mut() {
                t.push((input, out.clone()));
            }
            out
        };
        let e0 = relu(conv(&self.conv_in, x.clone()));
        let e1 = relu(conv(&self.down1, e0.clone()));
        let mut e2 = relu(conv(&self.down2, e1.clone()));
        for b in &self.mid {
            let h = relu(conv(&b.conv1, e2.clone()));
            let h = conv(&b.conv2, h);
            e2 = relu(e2 + h);
        }
        let p1 = conv(&self.proj1, e2);
        let d1 = relu(conv(&self.dec1, up2(p1) + e1));
        let p0 = conv(&self.proj0, d1);
        let d0 = relu(conv(&self.dec0, up2(p0) + e0));
        x + conv(&self.conv_out, d0)
    }
}
