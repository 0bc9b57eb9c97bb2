#!/usr/bin/env python3
"""Per-iteration LRPO statistics of several runs side by side, as a Markdown table.

    python3 tools/rl_curves.py LABEL=RUN_DIR [LABEL=RUN_DIR ...] [--every N]

Reads each run's metrics.jsonl (records with "kind": "rl") and prints, for every N-th
iteration, the mean candidate reward of each run. Runs with the same [rl] seed see the same
LQ input at the same iteration, so a row compares the policies on identical inputs.
Standard library only.
"""
import json
import sys


def load(run):
    rows = {}
    with open(f"{run}/metrics.jsonl") as f:
        for line in f:
            r = json.loads(line)
            if r.get("kind") == "rl":
                rows[r["step"]] = r
    return rows


def main(argv):
    every = 1
    runs = []
    i = 0
    while i < len(argv):
        if argv[i] == "--every":
            every = int(argv[i + 1])
            i += 2
            continue
        label, _, path = argv[i].partition("=")
        runs.append((label, load(path)))
        i += 1
    steps = sorted(set().union(*(r.keys() for _, r in runs)))
    print("| iteration | " + " | ".join(f"{l}: reward mean (std)" for l, _ in runs) + " |")
    print("|---:|" + "---:|" * len(runs))
    for s in steps:
        if s % every and s != steps[-1]:
            continue
        cells = []
        for _, r in runs:
            if s in r:
                cells.append(f"{r[s]['reward']['mean']:.4f} ({r[s]['reward']['std']:.4f})")
            else:
                cells.append("")
        print(f"| {s} | " + " | ".join(cells) + " |")
    print()
    print("| run | iterations | mean reward, first half | mean reward, second half | "
          "mean ratio | clip fraction | approx KL | s per iteration |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, r in runs:
        ks = sorted(r)
        h = len(ks) // 2
        first = [r[k]["reward"]["mean"] for k in ks[:h]]
        second = [r[k]["reward"]["mean"] for k in ks[h:]]
        ratio = sum(r[k]["ratio"]["mean"] for k in ks) / len(ks)
        clip = sum(r[k]["clip_fraction"] for k in ks) / len(ks)
        kl = sum(r[k]["approx_kl"] for k in ks) / len(ks)
        secs = r[ks[-1]]["elapsed"] / len(ks)
        print(f"| {label} | {len(ks)} | {sum(first)/max(len(first),1):.4f} | "
              f"{sum(second)/max(len(second),1):.4f} | {ratio:.6f} | {clip:.3f} | {kl:.2e} | {secs:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
