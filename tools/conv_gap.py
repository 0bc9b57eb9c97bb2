"""Where tract loses to onnxruntime on the student: each of the student's convolution shapes alone,
in a one-node ONNX graph, timed in tract (with its direct spatial convolution, and with it
disabled so that it uses im2col + matrix product) and in onnxruntime, single-threaded.

    python tools/conv_gap.py --profile target/release/examples/profile_onnx --json OUT.json

Needs onnx, onnxruntime and numpy (scratch virtualenv). Prints one line per shape with the
multiply-accumulates per second each reaches.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

# (name in the student, input channels, output channels, input side, stride) at a 256² face.
SHAPES = [
    ("conv_in", 3, 16, 256, 1),
    ("down1", 16, 32, 256, 2),
    ("down2", 32, 64, 128, 2),
    ("mid0.conv1", 64, 64, 64, 1),
    ("dec1", 32, 32, 128, 1),
    ("dec0", 16, 16, 256, 1),
    ("conv_out", 16, 3, 256, 1),
]


def model(path, cin, cout, side, stride):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((rng.standard_normal((cout, cin, 3, 3)) * 0.1).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(cout, np.float32), "b")
    out_side = (side + 2 - 3) // stride + 1
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                            strides=[stride, stride])
    g = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, side, side])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, out_side, out_side])], [w, b])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(m, path)
    return out_side * out_side * cout * cin * 9


def tract_ms(profile, path, cin, side, direct):
    env = dict(os.environ)
    if not direct:
        env["TRACT_DISABLE_DIRECT_SPATIAL"] = "1"
    out = subprocess.run([profile, path, f"1,{cin},{side},{side}", "--runs", "20"], env=env, check=True,
                         capture_output=True, text=True).stdout
    return float(re.search(r"OnnxModel::run: ([0-9.]+) ms", out).group(1))


def ort_ms(path, cin, side):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).random((1, cin, side, side), dtype=np.float32)
    for _ in range(3):
        s.run(None, {"x": x})
    ts = []
    for _ in range(20):
        t = time.perf_counter()
        s.run(None, {"x": x})
        ts.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", required=True, help="the profile_onnx example binary")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name, cin, cout, side, stride in SHAPES:
            path = os.path.join(d, f"{name}.onnx")
            macs = model(path, cin, cout, side, stride)
            r = {"layer": name, "cin": cin, "cout": cout, "side": side, "stride": stride, "mmac": macs / 1e6,
                 "tract_direct_ms": tract_ms(a.profile, path, cin, side, True),
                 "tract_im2col_ms": tract_ms(a.profile, path, cin, side, False),
                 "ort_ms": ort_ms(path, cin, side)}
            rows.append(r)
            g = lambda ms: macs / ms / 1e6
            print(f"{name:11} {cin:2}->{cout:2} at {side}² s{stride}: {macs / 1e6:6.1f} MMAC; tract direct {r['tract_direct_ms']:.2f} ms "
                  f"({g(r['tract_direct_ms']):.0f} GMAC/s), im2col {r['tract_im2col_ms']:.2f} ms ({g(r['tract_im2col_ms']):.0f}), "
                  f"onnxruntime {r['ort_ms']:.2f} ms ({g(r['ort_ms']):.0f})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"onnxruntime": ort.__version__, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
