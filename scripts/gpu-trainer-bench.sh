#!/usr/bin/env bash
# The trainer benchmark on a GPU machine, in one call: `lrpo-train bench` on burn-cuda in f32
# and bf16, and the PyTorch twin on the GPU in f32, TF32 and bf16, at 64², 128² and 256²,
# batch 8. Builds nothing: pass a release binary built elsewhere with
#   CUDARC_CUDA_VERSION=13000 cargo build --release -p lrpo-trainer --features cuda
# Writes gpu-*.json into OUT (default benchmarks/trainer/) for tools/reference/trainer_report.py,
# and keeps burn's autotune cache in AUTOTUNE (default gpu-cache/autotune) so that a second run,
# with the folder carried back, skips the tuning. The first use of each kernel costs JIT
# compilation and autotuning: two warm-up steps come before the timed ones.
#
#   scripts/gpu-trainer-bench.sh [LRPO_TRAIN]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:-target/release/lrpo-train}")"
out="$(realpath -m "${OUT:-benchmarks/trainer}")"
cache="$(realpath -m "${AUTOTUNE:-gpu-cache/autotune}")"
py="${PYTHON:-python3}"
repo="$(pwd)"
mkdir -p "$out" "$cache"
export CUDA_PATH="${CUDA_PATH:-/usr/local/cuda}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "(nvidia-smi not available)"
# burn (cubecl) reads its autotune settings from cubecl.toml in the working directory.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '[autotune]\ncache = { file = "%s" }\n' "$cache" > "$work/cubecl.toml"
sizes=(64 128 256)
for p in f32 bf16; do
  (cd "$work" && "$bin" bench --device cuda --precision "$p" --size "${sizes[@]}" --reps 10 --warmup 3 --json "$out/gpu-burn-$p.json") || echo "burn-cuda $p failed" >&2
done
for p in f32 tf32 bf16; do
  "$py" "$repo/tools/reference/unet_twin.py" --device cuda --dtype "$p" --size "${sizes[@]}" --reps 10 --warmup 3 --json "$out/gpu-torch-$p.json" || echo "torch $p failed" >&2
done
python3 "$repo/tools/reference/trainer_report.py" "$out" > "$out/trainer-with-gpu.md" || true
ls -l "$out"
