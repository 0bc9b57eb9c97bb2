"""benchmarks/edge.md from the raw results scripts/benchmark-edge.sh writes into benchmarks/edge/.

    python tools/edge_report.py benchmarks/edge > benchmarks/edge.md

Reads detect-*.json (lrpo-edge bench-detect), runtime-*.json (tools/bench_edge.py),
profile-*.txt (the profile_onnx example) and stream*.txt (lrpo-edge stream's last line). Files
named *-before* are the same measurements of an earlier build, kept for comparison.
"""
import glob
import json
import os
import re
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def detection(d, lines):
    lines += [
        "## Face detection per camera frame",
        "",
        "`lrpo-edge bench-detect`: every photo of the face set's source table placed in a frame of each size "
        "(shrunk to fit when larger, centred on gray), detection timed 3 times after one untimed run; per frame "
        "size the median, 90th percentile and maximum over the photos, and the median of each stage. Recall: "
        "labelled faces (the table's hand-placed centres) with a detection within one eye distance; unmatched: "
        "detections near no label. `min face auto` is the camera default (`stream`): 20 px or a tenth of the "
        "frame's shorter side, whichever is larger; stills (`restore`) keep 20 px.",
        "",
        "| build | min face | threads | frame | median ms | p90 ms | max ms | convert | pyramid | P-Net | R-Net | O-Net | found | unmatched |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    files = sorted(glob.glob(os.path.join(d, "detect-*.json")), key=lambda p: ("before" not in p, p))
    for path in files:
        doc = load(path)
        name = os.path.basename(path)
        build = "before" if "before" in name else "now"
        cfg = doc["config"]
        frac = cfg.get("min_face_fraction")
        minf = f"{cfg['min_face']:g} px" if not frac else f"auto ({cfg['min_face']:g} px or {frac:g} × short side)"
        for fr in doc["frames"]:
            st = fr["stage_ms"]
            lines.append(
                f"| {build} | {minf} | {doc['threads']} | {fr['frame'][0]}×{fr['frame'][1]} | {fr['median_ms']:.1f} | "
                f"{fr['p90_ms']:.1f} | {fr['max_ms']:.1f} | {st[0]:.1f} | {st[1]:.1f} | {st[2]:.1f} | {st[3]:.1f} | "
                f"{st[4]:.1f} | {fr['found']}/{fr['labelled']} | {fr['unmatched']} |"
            )
    lines.append("")


def runtime(d, lines):
    files = sorted(glob.glob(os.path.join(d, "runtime-*.json")), key=lambda p: ("before" not in p, p))
    if not files:
        return
    first = load(files[0])
    lines += [
        "## tract against onnxruntime on the shipped students",
        "",
        f"`tools/bench_edge.py`: {first['cpu']}, {first['cores']} cores; onnxruntime {first['onnxruntime']} "
        f"(CPU provider, sequential); median over {first['rounds']} interleaved rounds of the median of "
        f"{first['runs']} runs after {first['warmup']} warm-up runs. Kernels: the matrix kernels in tract's plan.",
        "",
        "| model | face | threads | GFLOP | tract ms | onnxruntime ms | tract / onnxruntime | tract kernels |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for path in files:
        doc = load(path)
        label = os.path.basename(path)[len("runtime-"):-len(".json")]
        for r in doc["rows"]:
            lines.append(
                f"| {label} | {r['size']}² | {r['threads']} | {r['gflop']:.3f} | {r['tract_ms']:.2f} | "
                f"{r['ort_ms']:.2f} | {r['tract_ms'] / r['ort_ms']:.2f}× | {r['kernels']} |"
            )
    lines.append("")


def profiles(d, lines):
    for path in sorted(glob.glob(os.path.join(d, "profile-*.txt"))):
        text = open(path).read().splitlines()
        head = [l for l in text if not re.match(r"^\s*[0-9.]+ ms", l)]
        rows = []
        for l in text:
            m = re.match(r"^\s*([0-9.]+) ms\s+([0-9.]+)%\s+(\S+): (\S+)", l)
            if m:
                rows.append((float(m.group(1)), m.group(3), m.group(4)))
        by_op = {}
        for ms, _, op in rows:
            by_op[op] = by_op.get(op, 0.0) + ms
        total = sum(by_op.values()) or 1.0
        lines += [f"## tract's profile: {os.path.basename(path)[len('profile-'):-4]}", ""]
        lines += [f"{h}  " for h in head]
        lines += ["", "| operator | ms | share |", "|---|---:|---:|"]
        for op, ms in sorted(by_op.items(), key=lambda kv: -kv[1])[:10]:
            lines.append(f"| {op} | {ms:.2f} | {100 * ms / total:.0f} % |")
        lines += ["", "| slowest nodes | ms |", "|---|---:|"]
        for ms, name, op in sorted(rows, reverse=True)[:6]:
            lines.append(f"| {name}: {op} | {ms:.2f} |")
        lines.append("")


def conv_gap(d, lines):
    path = os.path.join(d, "conv-gap.json")
    if not os.path.exists(path):
        return
    doc = load(path)
    lines += [
        "## Each convolution of the student alone (256² face, one thread)",
        "",
        "`tools/conv_gap.py`: a one-node ONNX graph per convolution shape, timed in tract as it plans it by "
        "default (`default`: its direct spatial convolution where it picks one, which it does for the layers "
        "whose output rows are long), with the direct convolution disabled (`TRACT_DISABLE_DIRECT_SPATIAL=1`: "
        f"im2col + matrix product), and in onnxruntime {doc['onnxruntime']}; GMAC/s = multiply-accumulates per second.",
        "",
        "| layer | channels | input | stride | MMAC | tract default ms (GMAC/s) | tract im2col ms (GMAC/s) | onnxruntime ms (GMAC/s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in doc["rows"]:
        g = lambda ms: r["mmac"] / ms
        lines.append(
            f"| {r['layer']} | {r['cin']}→{r['cout']} | {r['side']}² | {r['stride']} | {r['mmac']:.1f} | "
            f"{r['tract_direct_ms']:.2f} ({g(r['tract_direct_ms']):.0f}) | {r['tract_im2col_ms']:.2f} ({g(r['tract_im2col_ms']):.0f}) | "
            f"{r['ort_ms']:.2f} ({g(r['ort_ms']):.0f}) |"
        )
    lines.append("")


def stream(d, lines):
    files = sorted(glob.glob(os.path.join(d, "stream*.txt")), key=lambda p: ("before" not in p, p))
    if not files:
        return
    lines += [
        "## `lrpo-edge stream`, 640×480, two faces",
        "",
        "`tools/stream_clip.py`: two bundled photos side by side with a seeded camera shake; `--detail-gate off` "
        "so both faces (152 and 208 px) are restored in every frame; detection every 5 frames. `camera`: frames "
        "fed at 30 frames/s (a live camera: latency is arrival to output); `file`: fed as fast as they are taken "
        "(throughput; latency then includes the frames queued ahead).",
        "",
        "| build | threads | feed | frames/s | latency median / p90 / p99 ms | work per frame median / p90 / p99 ms |",
        "|---|---:|---|---:|---|---|",
    ]
    for path in files:
        build = "before" if "before" in os.path.basename(path) else "now"
        for l in open(path):
            m = re.match(r"threads=(\d+) feed=(\w+) (.*)", l.strip())
            if not m:
                continue
            rest = m.group(3)
            fps = re.search(r"([0-9.]+) frames/s", rest)
            lat = re.search(r"latency median ([0-9.]+) ms, p90 ([0-9.]+) ms(?:, p99 ([0-9.]+) ms)?", rest)
            work = re.search(r"work per frame.*?median ([0-9.]+) ms, p90 ([0-9.]+) ms, p99 ([0-9.]+) ms", rest)
            lines.append(
                f"| {build} | {m.group(1)} | {m.group(2)} | {fps.group(1) if fps else '-'} | "
                f"{' / '.join(g or '-' for g in lat.groups()) if lat else '-'} | "
                f"{' / '.join(work.groups()) if work else '-'} |"
            )
    lines.append("")


def video(d, lines):
    path = os.path.join(d, "video.txt")
    if not os.path.exists(path):
        return
    lines += [
        "## A video file through `lrpo-edge restore`",
        "",
        "The stream clip (150 frames, 640×480, 30 frames/s) as H.264 with an AAC tone; `restore --detail-gate off`: "
        "ffmpeg decodes and encodes (libx264, on the same two cores), the frames are restored as `stream` does.",
        "",
    ]
    lines += [f"- `{l.strip()}`" for l in open(path) if l.strip()]
    lines.append("")


def flicker(d, lines):
    path = os.path.join(d, "flicker.txt")
    if not os.path.exists(path):
        return
    lines += [
        "## Flicker on a static camera",
        "",
        "`tools/stream_clip.py make --shake 0 --noise 2` (60 frames, the two faces still, Gaussian sensor noise of "
        "2 levels), restored by `stream --detail-gate off`; `tools/stream_clip.py flicker`: mean absolute "
        "difference between consecutive frames in the restored region, in 8-bit levels. The restorer removes "
        "part of the noise (output below input); landmark jitter from detection adds flicker back. `smoothing` "
        "is the weight of new landmarks (1 = none); detection every 100000 frames keeps the first frame's "
        "landmarks: the floor, where only the input's noise moves the output.",
        "",
        "| smoothing | detect every | output | input | output / input |",
        "|---:|---:|---:|---:|---:|",
    ]
    for l in open(path):
        m = re.match(r"smoothing=(\S+) detect_every=(\S+) .*output ([0-9.]+), input ([0-9.]+).*\(output / input ([0-9.]+)\)", l)
        if m:
            lines.append("| " + " | ".join(m.groups()) + " |")
    lines.append("")


def bench_stream(d, lines):
    path = os.path.join(d, "bench-stream.json")
    if not os.path.exists(path):
        return
    doc = json.load(open(path))
    w, h = doc["frame"]
    lines += [
        "## Flicker inside lrpo-edge (`bench-stream`)",
        "",
        f"`lrpo-edge bench-stream --detail-gate off`: its own still clip ({doc['frames']} frames of {w}x{h}, "
        f"data/faces/obama.jpg and grace_hopper.jpg side by side, Gaussian sensor noise of {doc['noise_levels']} "
        f"levels), run through the stream's frame processor in memory on {doc['workers']} worker(s); the flicker "
        "as above (`lrpo_edge::flicker`). Frames are fed as fast as they are taken, so the latency includes "
        "queueing.",
        "",
        "| setting | detect every | smoothing | output | input | output / input | frames/s | latency median / p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in doc["settings"]:
        f = r["flicker"]
        cells = [f"{f['output']:.3f}", f"{f['input']:.3f}", f"{r['ratio']:.2f}"] if f else ["-", "-", "nothing restored"]
        lines.append(
            f"| {r['setting']} | {r['detect_every']} | {r['smoothing']} | " + " | ".join(cells)
            + f" | {r['frames_per_s']:.1f} | {r['latency_ms'][0]:.0f} / {r['latency_ms'][1]:.0f} |"
        )
    lines.append("")


def main():
    d = sys.argv[1]
    lines = [
        "# Edge runtime speed",
        "",
        "Regenerated by `scripts/benchmark-edge.sh` (raw results in `benchmarks/edge/`). All on this machine's "
        "CPU; rows marked `before` are the same measurements of the build before the changes they compare with.",
        "",
    ]
    detection(d, lines)
    runtime(d, lines)
    profiles(d, lines)
    conv_gap(d, lines)
    stream(d, lines)
    video(d, lines)
    flicker(d, lines)
    bench_stream(d, lines)
    notes = os.path.join(d, "NOTES.md")
    if os.path.exists(notes):
        lines += [open(notes).read().rstrip(), ""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
