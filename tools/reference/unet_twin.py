#!/usr/bin/env python3
"""The trainer's diffusion policy written once in PyTorch, and the same training-step benchmark.

A reference, never a runtime dependency: `scripts/benchmark-trainer.sh` runs it from a scratch
virtualenv (`pip install torch numpy`) beside `lrpo-train bench`, and `benchmarks/trainer.md`
compares the two. The network is `trainer/src/model/unet.rs` layer for layer (same channel
plan, GroupNorm, SiLU, skip 1x1 convs, nearest upsampling, zero-initialised output conv); its
parameter count is asserted equal to the Rust model's (1,047,747 for the default config).

The two timed steps are those of `trainer/src/bench.rs`:
- pretrain: L = mean((eps_theta(x_t, t, lq) - eps)^2), backward, AdamW;
- ppo: mu = DDIM mean(x_t, eps_theta) with x0 clipped, log pi = mean Gaussian log-density of
  x_{t-1}, PPO-clip loss, backward, AdamW.
AdamW: betas 0.9/0.999, eps 1e-8, weight decay 0.01, lr 1e-5 (LRPO's settings).

usage: unet_twin.py [--size 64 128] [--batch 8] [--threads N] [--reps 5] [--warmup 2]
                    [--device cpu|cuda] [--dtype f32|tf32|bf16] [--config run.toml]
                    [--profile] [--json OUT]
(--profile prints torch.profiler's top operations of one pretraining step instead of timing.)
"""

import argparse
import json
import math
import statistics
import sys
import time

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_MODEL = {
    "base_channels": 32,
    "channel_mult": [1, 2, 2],
    "num_res_blocks": 1,
    "attention_levels": [],
    "groups": 8,
}
DEFAULT_PARAMS = 1_047_747


def timestep_embedding(t, dim):
    half = dim // 2
    scale = math.log(10000.0) / (max(half, 2) - 1)
    freqs = torch.exp(-scale * torch.arange(half, dtype=torch.float64, device=t.device))
    a = t.double()[:, None] * freqs[None]
    emb = torch.cat([torch.sin(a), torch.cos(a)], dim=1).float()
    if dim > 2 * half:
        emb = F.pad(emb, (0, dim - 2 * half))
    return emb


def conv3(ci, co, stride=1):
    return nn.Conv2d(ci, co, 3, stride=stride, padding=1)


class ResBlock(nn.Module):
    def __init__(self, ci, co, temb_dim, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, ci, eps=1e-5)
        self.conv1 = conv3(ci, co)
        self.temb = nn.Linear(temb_dim, co)
        self.norm2 = nn.GroupNorm(groups, co, eps=1e-5)
        self.conv2 = conv3(co, co)
        self.skip = nn.Conv2d(ci, co, 1) if ci != co else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class AttnBlock(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, c, eps=1e-5)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.proj = nn.Conv2d(c, c, 1)

    def forward(self, x):
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, h * w).unbind(1)
        a = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(c), dim=2)
        return x + self.proj((v @ a.transpose(1, 2)).reshape(n, c, h, w))


class UNet(nn.Module):
    def __init__(self, base_channels, channel_mult, num_res_blocks, attention_levels, groups):
        super().__init__()
        c0 = base_channels
        temb_dim = 4 * c0
        self.time_dim = c0
        self.time1 = nn.Linear(c0, temb_dim)
        self.time2 = nn.Linear(temb_dim, temb_dim)
        self.stem = conv3(6, c0)
        chans = [m * c0 for m in channel_mult]
        levels = len(chans)
        skips = [c0]
        ch = c0
        self.down = nn.ModuleList()
        for lvl, co in enumerate(chans):
            blocks, attns = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks):
                blocks.append(ResBlock(ch, co, temb_dim, groups))
                ch = co
                attns.append(AttnBlock(ch, groups) if lvl in attention_levels else nn.Identity())
                skips.append(ch)
            level = nn.Module()
            level.blocks, level.attns = blocks, attns
            level.downsample = conv3(ch, ch, stride=2) if lvl + 1 < levels else None
            if level.downsample is not None:
                skips.append(ch)
            self.down.append(level)
        self.mid_block1 = ResBlock(ch, ch, temb_dim, groups)
        self.mid_attn = AttnBlock(ch, groups) if attention_levels else None
        self.mid_block2 = ResBlock(ch, ch, temb_dim, groups)
        self.up = nn.ModuleList()
        for lvl in reversed(range(levels)):
            co = chans[lvl]
            blocks, attns = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                blocks.append(ResBlock(ch + skips.pop(), co, temb_dim, groups))
                ch = co
                attns.append(AttnBlock(ch, groups) if lvl in attention_levels else nn.Identity())
            level = nn.Module()
            level.blocks, level.attns = blocks, attns
            level.upsample = conv3(ch, ch) if lvl > 0 else None
            self.up.append(level)
        self.out_norm = nn.GroupNorm(groups, ch, eps=1e-5)
        self.out_conv = conv3(ch, 3)
        nn.init.zeros_(self.out_conv.weight)
        nn.init.zeros_(self.out_conv.bias)

    def forward(self, x_t, t, lq):
        temb = timestep_embedding(t, self.time_dim)
        temb = self.time2(F.silu(self.time1(temb)))
        h = self.stem(torch.cat([x_t, lq], 1))
        hs = [h]
        for level in self.down:
            for b, a in zip(level.blocks, level.attns):
                h = a(b(h, temb))
                hs.append(h)
            if level.downsample is not None:
                h = level.downsample(h)
                hs.append(h)
        h = self.mid_block1(h, temb)
        if self.mid_attn is not None:
            h = self.mid_attn(h)
        h = self.mid_block2(h, temb)
        for level in self.up:
            for b, a in zip(level.blocks, level.attns):
                h = a(b(torch.cat([h, hs.pop()], 1), temb))
            if level.upsample is not None:
                h = level.upsample(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.out_conv(F.silu(self.out_norm(h)))


def sd_alphas_cumprod(n=1000, beta_start=0.00085, beta_end=0.012):
    """Stable Diffusion's scaled-linear schedule (lrpo_shared::schedule's default)."""
    betas = torch.linspace(beta_start**0.5, beta_end**0.5, n, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, 0)


def ddim_middle_step(k=20, eta=1.0):
    """The middle step of a K-step DDIM plan (leading spacing, as the Rust schedule plans it):
    (alpha_t, alpha_prev, sigma_t)."""
    ac = sd_alphas_cumprod()
    ratio = 1000 // k
    ts = [i * ratio + 1 for i in reversed(range(k))]
    t = ts[k // 2]
    tp = t - ratio
    a, ap = float(ac[t]), float(ac[tp]) if tp >= 0 else 1.0
    sigma = eta * math.sqrt((1 - ap) / (1 - a) * (1 - a / ap))
    return t, a, ap, sigma


def ppo_loss(model, x_t, t, lq, target, adv, step):
    tt, a, ap, sigma = step
    sigma = max(sigma, 1e-3)
    eps = model(x_t, t, lq)
    x0 = ((x_t - math.sqrt(1 - a) * eps) / math.sqrt(a)).clamp(-1, 1)
    mu = math.sqrt(ap) * x0 + math.sqrt(max(1 - ap - sigma**2, 0.0)) * eps
    n = x_t.shape[0]
    msq = (target - mu).pow(2).reshape(n, -1).mean(1)
    logp = msq / (-2 * sigma * sigma) - (math.log(sigma) + 0.5 * math.log(2 * math.pi))
    old = logp.detach() + 0.01
    ratio = torch.exp(logp - old)
    return torch.max(-adv * ratio, -adv * ratio.clamp(1 - 1e-4, 1 + 1e-4)).mean()


def time_step(model_cfg, size, batch, kind, warmup, reps, device, dtype):
    torch.manual_seed(7)
    model = UNet(**model_cfg).to(device)
    opt = torch.optim.AdamW(
        model.parameters(), lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01
    )
    g = torch.Generator().manual_seed(11)
    shape = (batch, 3, size, size)
    x_t = torch.randn(shape, generator=g).to(device)
    lq = torch.randn(shape, generator=g).clamp(-1, 1).to(device)
    target = torch.randn(shape, generator=g).to(device)
    step = ddim_middle_step()
    t = torch.full((batch,), float(step[0]), device=device)
    adv = torch.tensor([1.0 if i % 2 == 0 else -0.5 for i in range(batch)], device=device)
    autocast = (
        torch.autocast(device_type=device, dtype=torch.bfloat16)
        if dtype == "bf16"
        else torch.autocast(device_type=device, enabled=False)
    )

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    fw, bw, op, tot = [], [], [], []
    sync()
    for rep in range(warmup + reps):
        t0 = time.perf_counter()
        with autocast:
            if kind == "pretrain":
                loss = (model(x_t, t, lq).float() - target).pow(2).mean()
            else:
                loss = ppo_loss(model, x_t, t, lq, target, adv, step)
        sync()
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sync()
        t2 = time.perf_counter()
        opt.step()
        sync()
        t3 = time.perf_counter()
        if rep >= warmup:
            fw.append((t1 - t0) * 1e3)
            bw.append((t2 - t1) * 1e3)
            op.append((t3 - t2) * 1e3)
            tot.append((t3 - t0) * 1e3)
    return {
        "kind": kind,
        "forward_ms": statistics.median(fw),
        "backward_ms": statistics.median(bw),
        "optimizer_ms": statistics.median(op),
        "total_ms": statistics.median(tot),
        "totals_ms": tot,
    }


def profile_step(model_cfg, size, batch, device):
    """Top operations of one pretraining step by self time (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    model = UNet(**model_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, eps=1e-8, weight_decay=0.01)
    x = torch.randn(batch, 3, size, size, device=device)
    t = torch.full((batch,), 500.0, device=device)
    for _ in range(2):
        (model(x, t, x) - x).pow(2).mean().backward()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        opt.zero_grad()
        (model(x, t, x) - x).pow(2).mean().backward()
        opt.step()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--dtype", default="f32", choices=["f32", "tf32", "bf16"])
    ap.add_argument("--config", help="run config TOML whose [model] is timed")
    ap.add_argument(
        "--profile", action="store_true", help="only print each size's top operations (no timing)"
    )
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda":
        tf32 = args.dtype == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
    model_cfg = dict(DEFAULT_MODEL)
    if args.config:
        if tomllib is None:
            sys.exit("--config needs Python 3.11 (tomllib)")
        with open(args.config, "rb") as f:
            model_cfg.update(tomllib.load(f).get("model", {}))
    params = sum(p.numel() for p in UNet(**model_cfg).parameters())
    if model_cfg == DEFAULT_MODEL:
        assert params == DEFAULT_PARAMS, f"twin has {params} parameters, Rust {DEFAULT_PARAMS}"
    if args.profile:
        for size in args.size:
            print(f"{size}² batch {args.batch}, {torch.get_num_threads()} threads, pretraining step:")
            print(profile_step(model_cfg, size, args.batch, args.device))
        return
    rows = []
    for size in args.size:
        for kind in ["pretrain", "ppo"]:
            r = time_step(
                model_cfg, size, args.batch, kind, args.warmup, args.reps, args.device, args.dtype
            )
            print(
                f"{size:>4}² batch {args.batch:<3} {kind:<9} forward {r['forward_ms']:>8.1f} ms"
                f"  backward {r['backward_ms']:>8.1f} ms  optimizer {r['optimizer_ms']:>6.1f} ms"
                f"  step {r['total_ms']:>8.1f} ms"
            )
            rows.append({"size": size, "batch": args.batch, **r})
    report = {
        "implementation": f"pytorch {torch.__version__} ({args.dtype})",
        "device": args.device,
        "precision": args.dtype,
        "threads": torch.get_num_threads(),
        "parameters": params,
        "rows": rows,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
