"""Compute every image metric with its reference implementation and write the fixture the
Rust tests read (shared/tests/fixtures/metrics_reference.json).

All metrics see the same pixel values as the Rust side: 8-bit PNG values as float32 `v/255`
(this project's image convention), widened to float64.

Run from the repository root in a scratch virtualenv with requirements.txt installed:

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install -r tools/reference/requirements.txt
    /tmp/ref/bin/python tools/reference/metrics_fixture.py

It first runs the Rust example `metric_inputs`, which decodes the bundled photographs in
data/faces/ with this project's own decoder, shrinks them to at most 640 px, and degrades them
with the shared crate's `lrpo` preset, writing PNGs; both sides therefore see the same pixels.

References:
  PSNR         skimage.metrics.peak_signal_noise_ratio(gt, x, data_range=1)
  PSNR-Y       the same on Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 (BT.601, BasicSR)
  SSIM         skimage.metrics.structural_similarity(gt, x, channel_axis=2, gaussian_weights=True,
               sigma=1.5, use_sample_covariance=False, data_range=1); SSIM-Y on Y
  DTCWT        dtcwt.Transform2d('near_sym_b', 'qshift_b').forward(channel, nlevels=3).lowpass
  NIQE         skvideo.measure.niqe(255 * (0.299 R + 0.587 G + 0.114 B))
  BRISQUE      brisque.BRISQUE(url=False).score(RGB in [0, 1])
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy
import scipy.misc
from PIL import Image

# --- scikit-video 1.1.11 on current NumPy/SciPy -------------------------------------------------
# It uses the aliases np.int / np.float (removed from NumPy) and scipy.misc.imresize (removed
# from SciPy), which wrapped PIL: a float32 image in mode 'F', resized with PIL's filter to
# (int(w*s), int(h*s)), returned as float32. Shim exactly that.
np.int = int
np.float = float


def _imresize(arr, size, interp="bilinear", mode=None):
    assert mode == "F" and isinstance(size, float)
    im = Image.fromarray(np.asarray(arr, dtype=np.float32), mode="F")
    new = tuple((np.array(im.size) * size).astype(int))
    filt = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "nearest": Image.NEAREST}[interp]
    return np.array(im.resize(new, resample=filt), dtype=np.float32)


scipy.misc.imresize = _imresize

import skvideo.measure  # noqa: E402
import dtcwt  # noqa: E402
from brisque import BRISQUE  # noqa: E402
from skimage.metrics import peak_signal_noise_ratio, structural_similarity  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)


def as_unit(u8):
    """The pixel values the Rust side works with: float32 `v / 255`, widened to float64."""
    return (u8.astype(np.float32) / np.float32(255.0)).astype(np.float64)


def luma_bt601(f):
    return (16.0 + 65.481 * f[..., 0] + 128.553 * f[..., 1] + 24.966 * f[..., 2]) / 255.0


def niqe_gray(f):
    return 255.0 * (0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2])


TRANSFORM = dtcwt.Transform2d(biort="near_sym_b", qshift="qshift_b")


def lowpass(plane):
    return TRANSFORM.forward(plane, nlevels=3).lowpass


def versions():
    import importlib.metadata as md
    names = ["numpy", "scipy", "pillow", "scikit-image", "scikit-video", "brisque", "dtcwt",
             "opencv-python-headless", "libsvm-official"]
    return {n: md.version(n) for n in names}


def main():
    work = tempfile.mkdtemp(prefix="lrpo-metric-inputs-")
    subprocess.run(["cargo", "run", "--release", "-q", "-p", "lrpo-devtools", "--bin", "metric_inputs",
                    "--", os.path.join(ROOT, "data/faces"), work], check=True, cwd=ROOT)
    manifest = json.load(open(os.path.join(work, "manifest.json")))
    brisque = BRISQUE(url=False)
    images = []
    for entry in manifest:
        name = entry["name"]
        hq8 = load(os.path.join(work, "hq", name + ".png"))
        lq8 = load(os.path.join(work, "lq", name + ".png"))
        hq, lq = as_unit(hq8), as_unit(lq8)
        low_hq = [lowpass(hq[..., c]) for c in range(3)]
        low_lq = [lowpass(lq[..., c]) for c in range(3)]
        l1 = float(np.mean(np.abs(np.stack(low_lq) - np.stack(low_hq))))
        rec = {
            "name": name,
            "hq_fnv1a": entry["hq_fnv1a"],
            "lq_fnv1a": entry["lq_fnv1a"],
            "psnr": float(peak_signal_noise_ratio(hq, lq, data_range=1)),
            "psnr_y": float(peak_signal_noise_ratio(luma_bt601(hq), luma_bt601(lq), data_range=1)),
            "ssim": float(structural_similarity(hq, lq, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                                use_sample_covariance=False, data_range=1)),
            "ssim_y": float(structural_similarity(luma_bt601(hq), luma_bt601(lq), gaussian_weights=True,
                                                  sigma=1.5, use_sample_covariance=False, data_range=1)),
            "dtcwt_l1": l1,
            "dtcwt_lowpass_shape": list(low_lq[0].shape),
            # Every 8th low-pass coefficient of the LQ's red channel, for an element-wise check.
            "dtcwt_lowpass_lq_r_sub8": low_lq[0][::8, ::8].ravel().tolist(),
            "niqe_hq": float(skvideo.measure.niqe(niqe_gray(hq))[0]),
            "niqe_lq": float(skvideo.measure.niqe(niqe_gray(lq))[0]),
            # rgb2gray leaves float input in [0, 1] as it is.
            "brisque_hq": float(brisque.score(hq)),
            "brisque_lq": float(brisque.score(lq)),
        }
        images.append(rec)
        print(name, {k: v for k, v in rec.items() if isinstance(v, float)}, file=sys.stderr)
    # PIL's float bicubic resize on a small deterministic array (checks the NIQE resize alone).
    ramp = np.fromfunction(lambda y, x: np.sin(0.37 * x) * 40 + np.cos(0.23 * y) * 30 + x * y * 0.1,
                           (20, 30)).astype(np.float32)
    pil_half = _imresize(ramp, 0.5, interp="bicubic", mode="F")
    fixture = {
        "generator": "tools/reference/metrics_fixture.py",
        "versions": versions(),
        "images": images,
        "pil_bicubic_half": {"input": ramp.astype(np.float64).tolist(), "output": pil_half.astype(np.float64).tolist()},
    }
    out = os.path.join(ROOT, "shared/tests/fixtures/metrics_reference.json")
    with open(out, "w") as f:
        json.dump(fixture, f, indent=1)
    print("wrote", out, file=sys.stderr)


if __name__ == "__main__":
    main()
