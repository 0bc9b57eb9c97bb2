//! The diffusion policy: a conditional UNet ε_θ(x_t, t, lq) predicting the noise in `x_t`
//! (DDPM, Ho et al. 2020), conditioned on the degraded face by channel concatenation.
//!
//! ```text
//! temb = MLP(sinusoidal(t))                                   (base → 4·base → 4·base, SiLU)
//! h    = conv3×3(concat(x_t, lq))                             6 → c_0
//! down: per level l, `num_res_blocks` × ResBlock(c_l) [+ self-attention], then a stride-2
//!       conv3×3 (not after the last level); every output is kept as a skip
//! mid:  ResBlock, self-attention, ResBlock
//! up:   per level l (reversed), `num_res_blocks + 1` × ResBlock(concat(h, skip)) [+ attention],
//!       then nearest ×2 upsampling + conv3×3 (not after level 0)
//! ε    = conv3×3(SiLU(GroupNorm(h)))                          c_0 → 3 (zero-initialised)
//! ResBlock(x) = skip(x) + conv(SiLU(GN(conv(SiLU(GN(x))) + Linear(SiLU(temb))))))
//! ```
//!
//! Fully convolutional: any H, W divisible by 2^(levels − 1) work. Images are in [−1, 1].

use super::ops::{PolicyBackend, cat_channels, conv2d, group_norm};
use crate::error::{Result, ensure_config};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{silu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Size and shape of the UNet (a `[model]` table in the training config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UNetConfig {
    /// Channels at full resolution. Default 32.
    pub base_channels: usize,
    /// Channel multiplier per resolution level; its length is the number of levels.
    /// Default [1, 2, 2].
    pub channel_mult: Vec<usize>,
    /// Residual blocks per level on the way down (one more on the way up). Default 1.
    pub num_res_blocks: usize,
    /// Levels (0 = full resolution) with self-attention after each residual block; the
    /// middle block always has it when this is non-empty. Default none.
    pub attention_levels: Vec<usize>,
    /// GroupNorm groups (must divide every channel count). Default 8.
    pub groups: usize,
}

impl Default for UNetConfig {
    fn default() -> Self {
        UNetConfig {
            base_channels: 32,
            channel_mult: vec![1, 2, 2],
            num_res_blocks: 1,
            attention_levels: vec![],
            groups: 8,
        }
    }
}

impl UNetConfig {
    /// Image sides must be multiples of this.
    pub fn size_multiple(&self) -> usize {
        1 << (self.channel_mult.len().saturating_sub(1))
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<()> {
        ensure_config!(
            self.base_channels > 0 && !self.channel_mult.is_empty() && self.groups > 0,
            "model: base_channels, channel_mult and groups must be positive/non-empty"
        );
        // Bounds that keep a typo from asking for terabytes (the paper-scale GPU config uses
        // 128 base channels and multipliers up to 4).
        ensure_config!(
            self.base_channels <= 1024 && self.channel_mult.len() <= 8,
            "model: base_channels must be at most 1024 and channel_mult at most 8 levels, found {} and {} levels",
            self.base_channels,
            self.channel_mult.len()
        );
        ensure_config!(
            self.channel_mult.iter().all(|m| (1..=16).contains(m)),
            "model: every channel_mult entry must be in 1..=16, found {:?}",
            self.channel_mult
        );
        ensure_config!(
            self.num_res_blocks <= 16,
            "model: num_res_blocks must be at most 16, found {}",
            self.num_res_blocks
        );
        for m in &self.channel_mult {
            let c = m * self.base_channels;
            ensure_config!(
                c > 0 && c.is_multiple_of(self.groups),
                "model: {c} channels are not divisible into {} groups",
                self.groups
            );
        }
        for l in &self.attention_levels {
            ensure_config!(
                *l < self.channel_mult.len(),
                "model: attention level {l} does not exist ({} levels)",
                self.channel_mult.len()
            );
        }
        Ok(())
    }

    /// Builds the network on `device` (weights from the backend's seeded generator).
    pub fn init<B: Backend>(&self, device: &B::Device) -> UNet<B> {
        let c0 = self.base_channels;
        let temb_dim = 4 * c0;
        let conv3 = |ci: usize, co: usize| {
            Conv2dConfig::new([ci, co], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let res = |ci: usize, co: usize| ResBlock::new(ci, co, temb_dim, self.groups, device);
        let attn = |c: usize| AttnBlock::new(c, self.groups, device);
        let chans: Vec<usize> = self.channel_mult.iter().map(|m| m * c0).collect();
        let levels = chans.len();
        let mut down = Vec::new();
        let mut skips = vec![c0];
        let mut ch = c0;
        for (l, &co) in chans.iter().enumerate() {
            let mut blocks = Vec::new();
            let mut attns = Vec::new();
            for _ in 0..self.num_res_blocks {
                blocks.push(res(ch, co));
                ch = co;
                attns.push(self.attention_levels.contains(&l).then(|| attn(ch)));
                skips.push(ch);
            }
            let downsample = (l + 1 < levels).then(|| {
                Conv2dConfig::new([ch, ch], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            });
            if downsample.is_some() {
                skips.push(ch);
            }
            down.push(DownLevel {
                blocks,
                attns,
                downsample,
            });
        }
        let mid_attn = (!self.attention_levels.is_empty()).then(|| attn(ch));
        let mid = (res(ch, ch), mid_attn, res(ch, ch));
        let mut up = Vec::new();
        for (l, &co) in chans.iter().enumerate().rev() {
            let mut blocks = Vec::new();
            let mut attns = Vec::new();
            for _ in 0..=self.num_res_blocks {
                let skip = skips.pop().expect("one skip per block");
                blocks.push(res(ch + skip, co));
                ch = co;
                attns.push(self.attention_levels.contains(&l).then(|| attn(ch)));
            }
            let upsample = (l > 0).then(|| conv3(ch, ch));
            up.push(UpLevel {
                blocks,
                attns,
                upsample,
            });
        }
        let out_conv = Conv2dConfig::new([ch, 3], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_initializer(Initializer::Zeros)
            .init(device);
        UNet {
            time1: LinearConfig::new(c0, temb_dim).init(device),
            time2: LinearConfig::new(temb_dim, temb_dim).init(device),
            stem: conv3(6, c0),
            down,
            mid_block1: mid.0,
            mid_attn: mid.1,
            mid_block2: mid.2,
            up,
            out_norm: GroupNormConfig::new(self.groups, ch).init(device),
            out_conv,
            time_dim: c0,
        }
    }
}

/// Residual block with a time-embedding bias.
#[derive(Module, Debug)]
pub struct ResBlock<B: Backend> {
    pub(crate) norm1: GroupNorm<B>,
    pub(crate) conv1: Conv2d<B>,
    pub(crate) temb: Linear<B>,
    pub(crate) norm2: GroupNorm<B>,
    pub(crate) conv2: Conv2d<B>,
    pub(crate) skip: Option<Conv2d<B>>,
}

impl<B: Backend> ResBlock<B> {
    fn new(ci: usize, co: usize, temb_dim: usize, groups: usize, device: &B::Device) -> Self {
        let conv3 = |a: usize, b: usize| {
            Conv2dConfig::new([a, b], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        ResBlock {
            norm1: GroupNormConfig::new(groups, ci).init(device),
            conv1: conv3(ci, co),
            temb: LinearConfig::new(temb_dim, co).init(device),
            norm2: GroupNormConfig::new(groups, co).init(device),
            conv2: conv3(co, co),
            skip: (ci != co).then(|| Conv2dConfig::new([ci, co], [1, 1]).init(device)),
        }
    }
}

impl<B: PolicyBackend> ResBlock<B> {
    fn forward(&self, x: Tensor<B, 4>, temb: Tensor<B, 2>) -> Tensor<B, 4> {
        let h = conv2d(&self.conv1, group_norm(&self.norm1, x.clone(), true));
        let [n, c, _, _] = h.dims();
        let h = h + self.temb.forward(silu(temb)).reshape([n, c, 1, 1]);
        let h = conv2d(&self.conv2, group_norm(&self.norm2, h, true));
        let skip = match &self.skip {
            Some(s) => conv2d(s, x),
            None => x,
        };
        skip + h
    }
}

/// Single-head self-attention over spatial positions.
#[derive(Module, Debug)]
pub struct AttnBlock<B: Backend> {
    pub(crate) norm: GroupNorm<B>,
    pub(crate) qkv: Conv2d<B>,
    pub(crate) proj: Conv2d<B>,
}

impl<B: Backend> AttnBlock<B> {
    fn new(c: usize, groups: usize, device: &B::Device) -> Self {
        AttnBlock {
            norm: GroupNormConfig::new(groups, c).init(device),
            qkv: Conv2dConfig::new([c, 3 * c], [1, 1]).init(device),
            proj: Conv2dConfig::new([c, c], [1, 1]).init(device),
        }
    }
}

impl<B: PolicyBackend> AttnBlock<B> {
    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, c, h, w] = x.dims();
        let qkv =
            conv2d(&self.qkv, group_norm(&self.norm, x.clone(), false)).reshape([n, 3, c, h * w]);
        let q = qkv.clone().narrow(1, 0, 1).reshape([n, c, h * w]);
        let k = qkv.clone().narrow(1, 1, 1).reshape([n, c, h * w]);
        let v = qkv.narrow(1, 2, 1).reshape([n, c, h * w]);
        let scores = q.swap_dims(1, 2).matmul(k).div_scalar((c as f64).sqrt());
        let a = softmax(scores, 2);
        let out = v.matmul(a.swap_dims(1, 2)).reshape([n, c, h, w]);
        x + conv2d(&self.proj, out)
    }
}

/// One resolution level on the way down.
#[derive(Module, Debug)]
pub struct DownLevel<B: Backend> {
    pub(crate) blocks: Vec<ResBlock<B>>,
    pub(crate) attns: Vec<Option<AttnBlock<B>>>,
    pub(crate) downsample: Option<Conv2d<B>>,
}

/// One resolution level on the way up.
#[derive(Module, Debug)]
pub struct UpLevel<B: Backend> {
    pub(crate) blocks: Vec<ResBlock<B>>,
    pub(crate) attns: Vec<Option<AttnBlock<B>>>,
    pub(crate) upsample: Option<Conv2d<B>>,
}

/// The conditional UNet.
#[derive(Module, Debug)]
pub struct UNet<B: Backend> {
    pub(crate) time1: Linear<B>,
    pub(crate) time2: Linear<B>,
    pub(crate) stem: Conv2d<B>,
    pub(crate) down: Vec<DownLevel<B>>,
    pub(crate) mid_block1: ResBlock<B>,
    pub(crate) mid_attn: Option<AttnBlock<B>>,
    pub(crate) mid_block2: ResBlock<B>,
    pub(crate) up: Vec<UpLevel<B>>,
    pub(crate) out_norm: GroupNorm<B>,
    pub(crate) out_conv: Conv2d<B>,
    pub(crate) time_dim: usize,
}

/// Sinusoidal embedding of timesteps `t` (`[N]`) into `dim` features (Vaswani et al.;
/// DDPM's `get_timestep_embedding`): `[sin(t·f_i), cos(t·f_i)]`, `f_i = 10000^(−i/(dim/2 − 1))`.
pub fn timestep_embedding<B: Backend>(t: &[f32], dim: usize, device: &B::Device) -> Tensor<B, 2> {
    let half = dim / 2;
    let scale = (10000f64).ln() / (half.max(2) - 1) as f64;
    let mut v = Vec::with_capacity(t.len() * dim);
    for &ti in t {
        for i in 0..half {
            v.push((ti as f64 * (-(i as f64) * scale).exp()).sin() as f32);
        }
        for i in 0..half {
            v.push((ti as f64 * (-(i as f64) * scale).exp()).cos() as f32);
        }
        v.extend(std::iter::repeat_n(0.0, dim - 2 * half));
    }
    Tensor::from_data(TensorData::new(v, [t.len(), dim]), device)
}

impl<B: PolicyBackend> UNet<B> {
    /// ε̂ for `x_t` and `lq` (`[N, 3, H, W]` in [−1, 1]) at timesteps `t` (one per batch item).
    pub fn forward(&self, x_t: Tensor<B, 4>, t: &[f32], lq: Tensor<B, 4>) -> Tensor<B, 4> {
        let device = x_t.device();
        let temb = timestep_embedding::<B>(t, self.time_dim, &device);
        let temb = self.time2.forward(silu(self.time1.forward(temb)));
        let mut h = conv2d(&self.stem, Tensor::cat(vec![x_t, lq], 1));
        let mut hs = vec![h.clone()];
        for level in &self.down {
            for (b, a) in level.blocks.iter().zip(&level.attns) {
                h = b.forward(h, temb.clone());
                if let Some(a) = a {
                    h = a.forward(h);
                }
                hs.push(h.clone());
            }
            if let Some(d) = &level.downsample {
                h = conv2d(d, h);
                hs.push(h.clone());
            }
        }
        h = self.mid_block1.forward(h, temb.clone());
        if let Some(a) = &self.mid_attn {
            h = a.forward(h);
        }
        h = self.mid_block2.forward(h, temb.clone());
        for level in &self.up {
            for (b, a) in level.blocks.iter().zip(&level.attns) {
                let skip = hs.pop().expect("a skip per up block");
                h = b.forward(cat_channels(h, skip), temb.clone());
                if let Some(a) = a {
                    h = a.forward(h);
                }
            }
            if let Some(u) = &level.upsample {
                let [_, _, hh, ww] = h.dims();
                h = conv2d(
                    u,
                    interpolate(
                        h,
                        [hh * 2, ww * 2],
                        InterpolateOptions::new(InterpolateMode::Nearest),
                    ),
                );
            }
        }
        conv2d(&self.out_conv, group_norm(&self.out_norm, h, true))
    }
}
