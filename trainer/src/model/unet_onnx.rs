//! The diffusion policy's ε-network as an ONNX graph, so the edge can sample it with K DDIM
//! steps (`ModelKind::Epsilon`): inputs `x_t` `[N,3,H,W]`, `t` `[N]` (f32 timesteps) and `lq`
//! `[N,3,H,W]`, both images in [−1, 1]; output `eps`. Every layer is written with standard ops:
//! GroupNorm as reshape/mean/variance, SiLU as `x·sigmoid(x)`, the sinusoidal time embedding
//! with Sin/Cos, self-attention with MatMul/Softmax.

use super::unet::{AttnBlock, ResBlock, UNet};
use crate::error::{Error, Result};
use burn::nn::conv::Conv2d;
use burn::nn::{GroupNorm, Linear};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use lrpo_shared::onnx::writer::ConvAttrs;
use lrpo_shared::onnx::{Attr, Dim, ElemType, GraphBuilder};

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(Error::tensor_data)
}

struct W<'a> {
    g: &'a mut GraphBuilder,
    n: usize,
}

impl W<'_> {
    fn name(&mut self, p: &str) -> String {
        self.n += 1;
        format!("{p}_{}", self.n)
    }

    fn conv<B: Backend>(&mut self, c: &Conv2d<B>, x: &str) -> Result<String> {
        let w = c.weight.val();
        let [o, i, kh, kw] = w.dims();
        let wn = self.name("conv_w");
        let wn = self.g.initializer_f32(&wn, &[o, i, kh, kw], &values(w)?);
        let b = match &c.bias {
            Some(b) => {
                let bn = self.name("conv_b");
                Some(self.g.initializer_f32(&bn, &[o], &values(b.val())?))
            }
            None => None,
        };
        let pad = (kh / 2) as i64;
        let a = ConvAttrs {
            kernel: [kh as i64, kw as i64],
            strides: [c.stride[0] as i64, c.stride[1] as i64],
            pads: [pad; 4],
            dilations: [1, 1],
            group: c.groups as i64,
        };
        Ok(self.g.conv(x, &wn, b.as_deref(), &a))
    }

    fn linear<B: Backend>(&mut self, l: &Linear<B>, x: &str) -> Result<String> {
        let w = l.weight.val();
        let [i, o] = w.dims();
        let wn = self.name("lin_w");
        let wn = self.g.initializer_f32(&wn, &[i, o], &values(w)?);
        let y = self.g.matmul(x, &wn);
        Ok(match &l.bias {
            Some(b) => {
                let bn = self.name("lin_b");
                let bn = self.g.initializer_f32(&bn, &[o], &values(b.val())?);
                self.g.add(&y, &bn)
            }
            None => y,
        })
    }

    fn silu(&mut self, x: &str) -> String {
        let s = self.g.sigmoid(x);
        self.g.mul(x, &s)
    }

    fn group_norm<B: Backend>(&mut self, gn: &GroupNorm<B>, x: &str) -> Result<String> {
        let c = gn.num_channels;
        let shape = self.g.node("Shape", &[x], &[]);
        let r = self.g.reshape(x, &[0, gn.num_groups as i64, -1]);
        let mean = self.g.node(
            "ReduceMean",
            &[&r],
            &[Attr::Ints("axes", vec![2]), Attr::Int("keepdims", 1)],
        );
        let d = self.g.sub(&r, &mean);
        let d2 = self.g.mul(&d, &d);
        let var = self.g.node(
            "ReduceMean",
            &[&d2],
            &[Attr::Ints("axes", vec![2]), Attr::Int("keepdims", 1)],
        );
        let eps = self.g.scalar_f32(gn.epsilon as f32);
        let v = self.g.add(&var, &eps);
        let sd = self.g.node("Sqrt", &[&v], &[]);
        let y = self.g.node("Div", &[&d, &sd], &[]);
        let y = self.g.node("Reshape", &[&y, &shape], &[]);
        let (gamma, beta) = (
            gn.gamma.as_ref().map(|p| values(p.val())).transpose()?,
            gn.beta.as_ref().map(|p| values(p.val())).transpose()?,
        );
        let mut y = y;
        if let Some(g) = gamma {
            let n = self.name("gn_gamma");
            let gname = self.g.initializer_f32(&n, &[1, c, 1, 1], &g);
            y = self.g.mul(&y, &gname);
        }
        if let Some(b) = beta {
            let n = self.name("gn_beta");
            let bname = self.g.initializer_f32(&n, &[1, c, 1, 1], &b);
            y = self.g.add(&y, &bname);
        }
        Ok(y)
    }

    fn res<B: Backend>(&mut self, rb: &ResBlock<B>, x: &str, temb: &str) -> Result<String> {
        let h = self.group_norm(&rb.norm1, x)?;
        let h = self.silu(&h);
        let h = self.conv(&rb.conv1, &h)?;
        let t = self.silu(temb);
        let t = self.linear(&rb.temb, &t)?;
        let t = self.g.reshape(&t, &[0, -1, 1, 1]);
        let h = self.g.add(&h, &t);
        let h = self.group_norm(&rb.norm2, &h)?;
        let h = self.silu(&h);
        let h = self.conv(&rb.conv2, &h)?;
        let skip = match &rb.skip {
            Some(s) => self.conv(s, x)?,
            None => x.to_string(),
        };
        Ok(self.g.add(&skip, &h))
    }

    fn attn<B: Backend>(&mut self, a: &AttnBlock<B>, x: &str) -> Result<String> {
        let c = a.proj.weight.val().dims()[0];
        let shape = self.g.node("Shape", &[x], &[]);
        let h = self.group_norm(&a.norm, x)?;
        // The fused qkv convolution split into three.
        let w = values(a.qkv.weight.val())?;
        let b = a.qkv.bias.as_ref().map(|b| values(b.val())).transpose()?;
        let mut parts = Vec::new();
        for k in 0..3 {
            let wn = self.name("qkv_w");
            let wn = self
                .g
                .initializer_f32(&wn, &[c, c, 1, 1], &w[k * c * c..(k + 1) * c * c]);
            let bn = match &b {
                Some(b) => {
                    let n = self.name("qkv_b");
                    Some(self.g.initializer_f32(&n, &[c], &b[k * c..(k + 1) * c]))
                }
                None => None,
            };
            let y = self.g.conv(&h, &wn, bn.as_deref(), &ConvAttrs::valid(1, 1));
            parts.push(self.g.reshape(&y, &[0, c as i64, -1]));
        }
        let qt = self.g.transpose(&parts[0], &[0, 2, 1]);
        let s = self.g.matmul(&qt, &parts[1]);
        let scale = self.g.scalar_f32(1.0 / (c as f32).sqrt());
        let s = self.g.mul(&s, &scale);
        let p = self.g.node("Softmax", &[&s], &[Attr::Int("axis", 2)]);
        let pt = self.g.transpose(&p, &[0, 2, 1]);
        let o = self.g.matmul(&parts[2], &pt);
        let o = self.g.node("Reshape", &[&o, &shape], &[]);
        let o = self.conv(&a.proj, &o)?;
        Ok(self.g.add(x, &o))
    }
}

/// Writes the ε-network with its current weights.
pub fn build<B: Backend>(m: &UNet<B>) -> Result<GraphBuilder> {
    let mut g = GraphBuilder::new("lrpo_eps");
    let img = [Dim::sym("N"), Dim::Fixed(3), Dim::sym("H"), Dim::sym("W")];
    let x = g.input("x_t", ElemType::F32, &img);
    let t = g.input("t", ElemType::F32, &[Dim::sym("N")]);
    let lq = g.input("lq", ElemType::F32, &img);
    let mut w = W { g: &mut g, n: 0 };
    // Sinusoidal embedding: [sin(t·f_i), cos(t·f_i)], f_i = 10000^(−i/(half − 1)).
    let dim = m.time_dim;
    let half = dim / 2;
    let scale = (10000f64).ln() / (half.max(2) - 1) as f64;
    let freqs: Vec<f32> = (0..half)
        .map(|i| (-(i as f64) * scale).exp() as f32)
        .collect();
    let f = w.g.initializer_f32("time_freqs", &[1, half], &freqs);
    let tc = w.g.reshape(&t, &[-1, 1]);
    let arg = w.g.mul(&tc, &f);
    let sin = w.g.node("Sin", &[&arg], &[]);
    let cos = w.g.node("Cos", &[&arg], &[]);
    let mut emb = w.g.concat(&[&sin, &cos], 1);
    if dim > 2 * half {
        emb =
            w.g.pad_constant(&emb, &[0, 0, 0, (dim - 2 * half) as i64], 0.0);
    }
    let temb = w.linear(&m.time1, &emb)?;
    let temb = w.silu(&temb);
    let temb = w.linear(&m.time2, &temb)?;
    let inp = w.g.concat(&[&x, &lq], 1);
    let mut h = w.conv(&m.stem, &inp)?;
    let mut hs = vec![h.clone()];
    for level in &m.down {
        for (b, a) in level.blocks.iter().zip(&level.attns) {
            h = w.res(b, &h, &temb)?;
            if let Some(a) = a {
                h = w.attn(a, &h)?;
            }
            hs.push(h.clone());
        }
        if let Some(d) = &level.downsample {
            h = w.conv(d, &h)?;
            hs.push(h.clone());
        }
    }
    h = w.res(&m.mid_block1, &h, &temb)?;
    if let Some(a) = &m.mid_attn {
        h = w.attn(a, &h)?;
    }
    h = w.res(&m.mid_block2, &h, &temb)?;
    for level in &m.up {
        for (b, a) in level.blocks.iter().zip(&level.attns) {
            let skip = hs.pop().expect("a skip per up block");
            let cat = w.g.concat(&[&h, &skip], 1);
            h = w.res(b, &cat, &temb)?;
            if let Some(a) = a {
                h = w.attn(a, &h)?;
            }
        }
        if let Some(u) = &level.upsample {
            let up = w.g.resize(&h, 2.0, 2.0, "nearest");
            h = w.conv(u, &up)?;
        }
    }
    let o = w.group_norm(&m.out_norm, &h)?;
    let o = w.silu(&o);
    w.conv(&m.out_conv, &o)?;
    let out = g.rename_last_output("eps");
    g.output(&out, ElemType::F32, &img);
    g.metadata("lrpo.model", "diffusion policy epsilon-network");
    Ok(g)
}
