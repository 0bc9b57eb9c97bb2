"""Build data/scenes/montage_lq.jpg: data/scenes/montage.jpg as a low-quality camera frame
would show it, so that the main job has faces of the size and quality the shipped 64-px
policy is made for: downscaled to 272 x 272 (faces 45-65 px wide), Gaussian blur (radius 1),
Gaussian noise (sigma 6 of 255, seeded) and JPEG quality 35.

    python3 tools/make_lq_scene.py   (needs Pillow and NumPy)
"""
import os

import numpy as np
from PIL import Image, ImageFilter

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def main():
    img = Image.open(os.path.join(ROOT, "data/scenes/montage.jpg")).convert("RGB")
    img = img.resize((272, 272), Image.BICUBIC).filter(ImageFilter.GaussianBlur(1.0))
    a = np.asarray(img).astype(np.float64)
    a += np.random.default_rng(7).normal(0.0, 6.0, a.shape)
    img = Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8))
    img.save(os.path.join(ROOT, "data/scenes/montage_lq.jpg"), quality=35)


if __name__ == "__main__":
    main()
