#!/usr/bin/env bash
# Same seed, same bytes: runs a short pretraining, LRPO and distillation on the tiny config and
# prints the SHA-256 of every weight record they checkpoint (model and EMA). burn writes a random
# 13-character id beside every parameter; the ids are masked before hashing, so the hash covers
# the values. Optimiser records are keyed by those ids (in hash-map order) and are left out, as
# are the run state files (wall-clock times); exact resume of the optimiser is tested instead. Run it before and after a change that should not alter
# training (a refactor) and compare the two outputs; run it twice to check determinism.
#
#     cargo build --release -p lrpo-trainer
#     scripts/check-determinism.sh [OUT.txt]
#
# About a minute on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/lrpo-train
[[ -x $bin ]] || { echo "$bin: not built (cargo build --release -p lrpo-trainer)" >&2; exit 1; }
out="${1:-/dev/stdout}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat configs/tiny.toml - > "$work/config.toml" <<'EOF'

[rl]
iterations = 2
groups = 1
group_size = 3
ddim_steps = 6
checkpoint_every = 2
grid_every = 0

[distill]
w_teacher = 0.0
w_gt = 1.0
fresh_gt = true
steps = 6
batch_size = 4
checkpoint_every = 6
log_every = 2

[sampling]
steps = 6
EOF
# The tiny config's 200 steps cut to 12 by --stop-at (a checkpoint at the stop).
"$bin" pretrain --config "$work/config.toml" --data data/train/faces --out "$work/pre" --stop-at 12 >/dev/null
"$bin" rl --init "$work/pre" --config "$work/config.toml" --out "$work/rl" >/dev/null
"$bin" distill --config "$work/config.toml" --data data/train/faces --out "$work/student" >/dev/null

(cd "$work" && find . -name model.mpk -o -name ema.mpk | sort | python3 -c '
import hashlib, re, sys
ids = re.compile(rb"\xa2id\xad.{13}", re.S)
for name in sys.stdin.read().split():
    data = ids.sub(b"\xa2id\xad" + b"_" * 13, open(name, "rb").read())
    print(hashlib.sha256(data).hexdigest(), name)
') > "$out"
