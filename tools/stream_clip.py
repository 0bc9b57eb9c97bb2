"""A camera-like test clip for `lrpo-edge stream`, and a feeder that plays it at a camera's rate.

    python tools/stream_clip.py make OUT.rgb [--frames 100] [--seed 0]
    python tools/stream_clip.py feed OUT.rgb --fps 30 | lrpo-edge stream --width 640 --height 480 ...

`make` writes raw RGB24 640x480 frames: two bundled photos (data/faces/obama.jpg and
grace_hopper.jpg, see data/faces/NOTICE.md) side by side on mid-gray, each frame shifted by a
seeded integer camera shake of up to 3 px. `feed` writes the frames to stdout no faster than
`--fps` (as a camera delivers them), so the latency `stream` reports is a live camera's, not
that of frames queued from a file. Needs Pillow (scratch virtualenv).
"""
import argparse
import random
import sys
import time

W, H = 640, 480


def make(out, frames, seed):
    from PIL import Image

    base = Image.new("RGB", (W, H), (128, 128, 128))
    for i, path in enumerate(["data/faces/obama.jpg", "data/faces/grace_hopper.jpg"]):
        im = Image.open(path).convert("RGB")
        s = min(320 / im.width, 480 / im.height)
        im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
        base.paste(im, (i * 320 + (320 - im.width) // 2, (480 - im.height) // 2))
    rng = random.Random(seed)
    with open(out, "wb") as f:
        for _ in range(frames):
            dx, dy = rng.randint(-3, 3), rng.randint(-3, 3)
            frame = Image.new("RGB", (W, H), (128, 128, 128))
            frame.paste(base, (dx, dy))
            f.write(frame.tobytes())


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


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out")
    m.add_argument("--frames", type=int, default=100)
    m.add_argument("--seed", type=int, default=0)
    f = sub.add_parser("feed")
    f.add_argument("clip")
    f.add_argument("--fps", type=float, default=30.0)
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.out, a.frames, a.seed)
    else:
        feed(a.clip, a.fps)


if __name__ == "__main__":
    main()
