"""The edge runtime (tract, via `lrpo-edge bench`) against onnxruntime on the same ONNX policy,
at several face sizes and thread counts; writes benchmarks/edge.md.

    python tools/bench_edge.py --edge target/release/lrpo-edge --model M.onnx [--label TEXT]
        [--json OUT.json] [--out REPORT.md]

Needs `onnxruntime` and `numpy` (scratch virtualenv). For every (size, threads) pair and every
round, tract runs `--runs` timed restorations in a fresh `lrpo-edge bench` process (after its
warm-up runs, which build tract's plan) and onnxruntime runs as many in one session (after the
same number of warm-up runs); the rounds alternate between the two runtimes, and each figure is
the median over rounds of the per-round medians. The FLOP count is tract's own count of the
multiply-accumulates in the graph, times two.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort

A76_GHZ = 2.4
A76_FLOP_PER_CYCLE = 16  # two 128-bit NEON FMA pipes: 2 x 4 lanes x 2 flops


def tract_ms(edge, model, size, threads, runs, warmup):
    out = subprocess.run([edge, "bench", "--model", model, "--size", str(size), "--threads", str(threads),
                          "--runs", str(runs), "--warmup", str(warmup)], check=True, capture_output=True, text=True).stdout
    med = float(re.search(r"median ([0-9.]+) ms", out).group(1))
    gflop = float(re.search(r"([0-9.]+) GFLOP per run", out).group(1))
    rss = re.search(r"peak RSS ([0-9.]+) MiB", out)
    kernels = re.search(r"tract kernels: (.*)", out)
    return med, gflop, float(rss.group(1)) if rss else float("nan"), kernels.group(1).strip() if kernels else ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edge", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out", default=None, help="also write a Markdown table here")
    ap.add_argument("--json", default=None, help="write the results here")
    a = ap.parse_args()
    sessions = {}
    for t in a.threads:
        so = ort.SessionOptions()
        so.intra_op_num_threads = t
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sessions[t] = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    name = sessions[a.threads[0]].get_inputs()[0].name
    res = {}
    for r in range(a.rounds):
        for size in a.sizes:
            x = np.random.default_rng(r).random((1, 3, size, size), dtype=np.float32)
            for t in a.threads:
                key = (size, t)
                d = res.setdefault(key, {"tract": [], "ort": [], "gflop": 0.0, "rss": 0.0, "kernels": ""})
                tm, gflop, rss, kernels = tract_ms(a.edge, a.model, size, t, a.runs, a.warmup)
                d["tract"].append(tm)
                d["gflop"], d["rss"], d["kernels"] = gflop, rss, kernels
                s = sessions[t]
                for _ in range(a.warmup):
                    s.run(None, {name: x})
                ts = []
                for _ in range(a.runs):
                    t0 = time.perf_counter()
                    s.run(None, {name: x})
                    ts.append((time.perf_counter() - t0) * 1e3)
                d["ort"].append(statistics.median(ts))
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
    lines = [
        "# Edge runtime speed: tract against onnxruntime",
        "",
        f"Model: `{os.path.basename(a.model)}`{(' — ' + a.label) if a.label else ''}. Machine: {cpu}, {os.cpu_count()} cores. "
        f"tract-onnx 0.23.9 through `lrpo-edge bench`; onnxruntime {ort.__version__} (CPU provider, sequential). "
        f"Each figure is the median over {a.rounds} interleaved rounds of the median of {a.runs} runs after {a.warmup} warm-up runs.",
        "",
        f"The last column is the time the graph's arithmetic alone would take on Cortex-A76 cores at their fp32 peak "
        f"({A76_FLOP_PER_CYCLE} FLOP per cycle per core: two 128-bit NEON FMA pipes; {A76_GHZ} GHz as on RK3588 or Raspberry Pi 5 boards), "
        f"one core per thread: the physical limit to aim at, not a measurement.",
        "",
        "| face | threads | GFLOP per face | tract (ms) | onnxruntime (ms) | tract / onnxruntime | tract peak RSS (MiB) | A76 at fp32 peak (ms) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (size, t), d in sorted(res.items()):
        tm, om = statistics.median(d["tract"]), statistics.median(d["ort"])
        a76 = d["gflop"] * 1e9 / (A76_FLOP_PER_CYCLE * A76_GHZ * 1e9 * t) * 1e3
        lines.append(f"| {size}² | {t} | {d['gflop']:.3f} | {tm:.2f} | {om:.2f} | {tm / om:.2f}× | {d['rss']:.0f} | {a76:.1f} |")
    lines += ["", f"Reproduce: `python tools/bench_edge.py --edge target/release/lrpo-edge --model {a.model}`" + (f" --label \"{a.label}\"" if a.label else "") + "."]
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    if a.json:
        rows = [{"model": a.model, "size": size, "threads": t, "gflop": d["gflop"],
                 "tract_ms": statistics.median(d["tract"]), "ort_ms": statistics.median(d["ort"]),
                 "tract_rss_mib": d["rss"], "kernels": d["kernels"]}
                for (size, t), d in sorted(res.items())]
        doc = {"cpu": cpu, "cores": os.cpu_count(), "onnxruntime": ort.__version__,
               "rounds": a.rounds, "runs": a.runs, "warmup": a.warmup, "rows": rows}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
