#!/usr/bin/env python3
"""Contact sheet of a built face set: every accepted crop, labelled with its identity and
split (train / validation / test), as one PNG.

    python3 tools/face_set_sheet.py FACES_DIR OUT.png [--size 96]

FACES_DIR holds the crops and faces.json (scripts/build-face-set.sh). Needs Pillow (a scratch
virtualenv; never a runtime dependency).
"""
import json
import sys

from PIL import Image, ImageDraw

COLOURS = {"train": (40, 120, 40), "validation": (30, 80, 170), "test": (180, 40, 40)}


def main():
    args = sys.argv[1:]
    size = 96
    if "--size" in args:
        i = args.index("--size")
        size = int(args[i + 1])
        del args[i : i + 2]
    faces_dir, out = args
    m = json.load(open(f"{faces_dir}/faces.json"))
    faces = [f for f in m["faces"] if f["accepted"]]
    faces.sort(key=lambda f: (["train", "validation", "test"].index(f["split"]), f["identity"]))
    cols = 8
    rows = (len(faces) + cols - 1) // cols
    cell_h = size + 24
    sheet = Image.new("RGB", (cols * size, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for k, f in enumerate(faces):
        x, y = (k % cols) * size, (k // cols) * cell_h
        sheet.paste(Image.open(f"{faces_dir}/{f['file']}").convert("RGB").resize((size, size)), (x, y))
        draw.text((x + 2, y + size), f["identity"][:16], fill=COLOURS[f["split"]])
        draw.text((x + 2, y + size + 11), f"{f['split']} {f['crop_size']}px", fill=COLOURS[f["split"]])
    sheet.save(out, optimize=True)


if __name__ == "__main__":
    main()
