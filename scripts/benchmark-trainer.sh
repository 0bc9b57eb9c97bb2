#!/usr/bin/env bash
# Trainer speed against PyTorch: times one pretraining step and one PPO update of the shipped
# recipe's diffusion policy with `lrpo-train bench` and with its PyTorch twin
# (tools/reference/unet_twin.py) at 64² and 128², batch 8, on 1 and 2 threads, interleaved so
# that both see the same machine, and writes benchmarks/trainer.md (+ the raw JSON in
# benchmarks/trainer/).
#
#     cargo build --release -p lrpo-trainer
#     python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch numpy   # once, scratch
#     PYTHON=/tmp/torch/bin/python scripts/benchmark-trainer.sh
#
# Environment: PYTHON (an interpreter that imports torch; default python3), REPS (timed steps,
# default 5), SIZES (default "64 128"), THREADS (default "1 2"), BEFORE (a second lrpo-train
# binary, e.g. built at an earlier commit, timed as "burn before"; its JSON files are kept in
# benchmarks/trainer/ so later runs keep the column). About 6 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/lrpo-train
[[ -x $bin ]] || { echo "$bin: not built (cargo build --release -p lrpo-trainer)" >&2; exit 1; }
py="${PYTHON:-python3}"
if ! "$py" -c "import torch" 2>/dev/null; then
  echo "$py cannot import torch. Make a scratch virtualenv (never a runtime dependency):" >&2
  echo "  python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch numpy" >&2
  echo "  PYTHON=/tmp/torch/bin/python $0" >&2
  exit 1
fi
reps="${REPS:-5}"
read -r -a sizes <<< "${SIZES:-64 128}"
read -r -a threads <<< "${THREADS:-1 2}"
raw=benchmarks/trainer
mkdir -p "$raw"
for t in "${threads[@]}"; do
  echo "== $t thread(s)" >&2
  if [[ -n "${BEFORE:-}" ]]; then
    "$BEFORE" bench --size "${sizes[@]}" --threads "$t" --reps "$reps" --warmup 2 --json "$raw/before-cpu-$t.json" >&2
  fi
  "$bin" bench --size "${sizes[@]}" --threads "$t" --reps "$reps" --warmup 2 --json "$raw/burn-cpu-$t.json" >&2
  "$py" tools/reference/unet_twin.py --size "${sizes[@]}" --threads "$t" --reps "$reps" --warmup 2 --json "$raw/torch-cpu-$t.json" >&2
done
"$py" tools/reference/unet_twin.py --size "${sizes[0]}" --threads "${threads[-1]}" --profile 2>/dev/null \
  | sed -n '1,22p' > "$raw/torch-profile.txt"
cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores"
python3 tools/reference/trainer_report.py "$raw" --machine "$cpu" > benchmarks/trainer.md
echo "wrote benchmarks/trainer.md" >&2
