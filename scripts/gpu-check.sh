#!/usr/bin/env bash
# Checks the CUDA build of lrpo-train on a GPU machine: a short pretraining run of the tiny
# configuration on the bundled faces on the GPU and on the CPU with the same seed, reporting
# the step time of each and their losses side by side.
#
#   scripts/gpu-check.sh [LRPO_TRAIN] [STEPS]
#
# LRPO_TRAIN is a release binary built elsewhere with
#   CUDARC_CUDA_VERSION=13000 cargo build --release -p lrpo-trainer --features cuda
# (default target/release/lrpo-train). Needs no Rust toolchain or network here: a CUDA driver,
# and a CUDA toolkit (headers + NVRTC) at CUDA_PATH (default /usr/local/cuda). The first use of
# each kernel costs JIT compilation and autotuning, so the GPU's first steps are slow; the
# table separates them.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/lrpo-train}"
steps="${2:-40}"
export CUDA_PATH="${CUDA_PATH:-/usr/local/cuda}"
work="$(mktemp -d)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "(nvidia-smi not available)"
sed -e "s/^steps = .*/steps = $steps/" -e "s/^checkpoint_every = .*/checkpoint_every = $steps/" -e "s/^validate_every = .*/validate_every = 0/" configs/tiny.toml > "$work/check.toml"
for dev in cuda cpu; do
  echo "== $dev"
  start=$(date +%s.%N)
  "$bin" pretrain --config "$work/check.toml" --data data/train/faces --out "$work/$dev" --device "$dev" 2>"$work/$dev.log" | tee "$work/$dev.out"
  end=$(date +%s.%N)
  echo "wall $(echo "$end - $start" | bc) s" | tee -a "$work/$dev.out"
done
field() { sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" "$1"; }
echo
echo "step | loss cuda | loss cpu | steps/s cuda | steps/s cpu"
paste -d' ' <(grep '"kind":"train"' "$work/cuda/metrics.jsonl" | sed -n 's/.*"step":\([0-9]*\).*/\1/p') \
  <(grep '"kind":"train"' "$work/cuda/metrics.jsonl" > "$work/c.j"; field "$work/c.j" loss) \
  <(grep '"kind":"train"' "$work/cpu/metrics.jsonl" > "$work/p.j"; field "$work/p.j" loss) \
  <(field "$work/c.j" steps_per_sec) <(field "$work/p.j" steps_per_sec) | awk '{printf "%4d | %.5f | %.5f | %.2f | %.2f\n", $1, $2, $3, $4, $5}'
if [ -n "${OUT:-}" ]; then cp -r "$work/cuda/metrics.jsonl" "$OUT/cuda_metrics.jsonl"; cp "$work/cpu/metrics.jsonl" "$OUT/cpu_metrics.jsonl"; fi
