"""A camera-like test clip for `lrpo-edge stream`, and a feeder that plays it at a camera's rate.

    python tools/stream_clip.py make OUT.rgb [--frames 100] [--seed 0] [--shake 3] [--noise 0]
    python tools/stream_clip.py feed OUT.rgb --fps 30 | lrpo-edge stream --width 640 --height 480 ...
    python tools/stream_clip.py flicker IN.rgb OUT.rgb

`make` writes raw RGB24 640x480 frames: two bundled photos (data/faces/obama.jpg and
grace_hopper.jpg, see data/faces/NOTICE.md) side by side on mid-gray, each frame shifted by a
seeded integer camera shake of up to `--shake` px (0: a static camera) and given seeded
Gaussian sensor noise of `--noise` 8-bit levels. `feed` writes the frames to stdout no faster
than `--fps` (as a camera delivers them), so the latency `stream` reports is a live camera's,
not that of frames queued from a file. `flicker` compares a static clip with its restored
output: in the restored region (pixels the output changes by more than 2 levels on average),
the mean absolute difference between consecutive frames, of the output and of the input, in
8-bit levels; a restorer that does not flicker adds nothing to the input's own. Needs Pillow
and numpy (scratch virtualenv).
"""
import argparse
import random
import sys
import time

W, H = 640, 480


def make(out, frames, seed, shake, noise):
    import numpy as np
    from PIL import Image

    base = Image.new("RGB", (W, H), (128, 128, 128))
    for i, path in enumerate(["data/faces/obama.jpg", "data/faces/grace_hopper.jpg"]):
        im = Image.open(path).convert("RGB")
        s = min(320 / im.width, 480 / im.height)
        im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
        base.paste(im, (i * 320 + (320 - im.width) // 2, (480 - im.height) // 2))
    rng = random.Random(seed)
    noise_rng = np.random.default_rng(seed)
    with open(out, "wb") as f:
        for _ in range(frames):
            dx, dy = rng.randint(-shake, shake), rng.randint(-shake, shake)
            frame = Image.new("RGB", (W, H), (128, 128, 128))
            frame.paste(base, (dx, dy))
            px = np.asarray(frame, dtype=np.float32)
            if noise > 0:
                px = px + noise_rng.normal(0.0, noise, px.shape)
            f.write(np.clip(np.round(px), 0, 255).astype(np.uint8).tobytes())


def feed(path, fps):
    size = W * H * 3
    data = open(path, "rb").read()
    out = sys.stdout.buffer
    t0 = time.perf_counter()
    for k in range(len(data) // size):
        wait = t0 + k / fps - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        out.write(data[k * size:(k + 1) * size])
        out.flush()


def flicker(inp, out):
    import numpy as np

    def frames(path):
        a = np.fromfile(path, dtype=np.uint8)
        n = a.size // (W * H * 3)
        return a[: n * W * H * 3].reshape(n, H, W, 3).astype(np.float32)

    x, y = frames(inp), frames(out)
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    region = np.abs(y - x).mean(axis=(0, 3)) > 2.0
    if n < 2 or not region.any():
        print("no restored region (or fewer than 2 frames)")
        return
    dx = np.abs(np.diff(x, axis=0)).mean(axis=3)[:, region].mean()
    dy = np.abs(np.diff(y, axis=0)).mean(axis=3)[:, region].mean()
    print(f"flicker over {n} frames, {int(region.sum())} restored pixels: output {dy:.3f}, input {dx:.3f} "
          f"levels per frame (output / input {dy / dx:.2f})")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out")
    m.add_argument("--frames", type=int, default=100)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--shake", type=int, default=3)
    m.add_argument("--noise", type=float, default=0.0)
    f = sub.add_parser("feed")
    f.add_argument("clip")
    f.add_argument("--fps", type=float, default=30.0)
    fl = sub.add_parser("flicker")
    fl.add_argument("input")
    fl.add_argument("output")
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.out, a.frames, a.seed, a.shake, a.noise)
    elif a.cmd == "feed":
        feed(a.clip, a.fps)
    else:
        flicker(a.input, a.output)


if __name__ == "__main__":
    main()
