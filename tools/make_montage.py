"""Build data/scenes/montage.jpg: a 2 x 2 montage of four bundled photographs' face regions
(grace_hopper, obama2, biden, kodim04), so that the edge pipeline has a real photo with
several faces at different sizes. Each tile is the square around the face's landmarks
(data/faces/landmarks.json) scaled 3.2x, resized to a different size per tile.

    python3 tools/make_montage.py   (needs Pillow)
"""
import json
import os

from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TILES = [("grace_hopper.jpg", 320), ("obama2.jpg", 280), ("biden.jpg", 240), ("kodim04.png", 360)]


def main():
    lm = json.load(open(os.path.join(ROOT, "data/faces/landmarks.json")))
    canvas = Image.new("RGB", (680, 680), (40, 40, 40))
    spots = [(0, 0), (340, 0), (0, 340), (340, 320)]
    for (name, size), (x0, y0) in zip(TILES, spots):
        face = next(f for f in lm["images"][name] if f["is_face"])
        xs = [p[0] for p in face["landmarks"]]
        ys = [p[1] for p in face["landmarks"]]
        cx, cy = sum(xs) / 5, sum(ys) / 5
        half = 1.6 * max(max(xs) - min(xs), max(ys) - min(ys))
        img = Image.open(os.path.join(ROOT, "data/faces", name)).convert("RGB")
        tile = img.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half))).resize((size, size), Image.LANCZOS)
        tile = tile.crop((0, 0, min(size, 680 - x0), min(size, 680 - y0)))
        canvas.paste(tile, (x0, y0))
    canvas.save(os.path.join(ROOT, "data/scenes/montage.jpg"), quality=95)


if __name__ == "__main__":
    main()
