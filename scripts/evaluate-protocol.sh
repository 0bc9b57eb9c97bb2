#!/usr/bin/env bash
# The frozen evaluation protocol on a built face set (scripts/build-face-set.sh OUT makes one):
#
#   scripts/evaluate-protocol.sh FACESET_DIR SOURCES_DIR RESULTS_DIR [MODEL.onnx ...]
#
# FACESET_DIR is OUT/faces (crops + faces.json), SOURCES_DIR is OUT/sources (the photos).
# Models default to the shipped int8 students. Writes, for the test split only:
#   RESULTS_DIR/synthetic-128/   4 seeded degradations per test face at 128 px, baselines
#                                `input` and `bicubic`, paired 95 % intervals over identities
#   RESULTS_DIR/real-clean/      the photos holding test faces, through the whole pipeline
#   RESULTS_DIR/real-degraded/   the same photos degraded (lrpo preset, seed 7, --unscaled)
#   RESULTS_DIR/real-clean-gate-off/   the clean photos with the detail gate off (every face
#                                restored, as the pipeline did before the gate)
# Each folder holds report.json / report.csv / README.md / index.html (+ images). Needs release
# binaries: cargo build --release -p lrpo-edge.
set -euo pipefail
cd "$(dirname "$0")/.."
set_dir="${1:?usage: scripts/evaluate-protocol.sh FACESET_DIR SOURCES_DIR RESULTS_DIR [MODEL...]}"
src_dir="${2:?sources folder}"
res="${3:?results folder}"
shift 3
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(models/lrpo_student_int8.onnx models/sft_student_int8.onnx)
E="${LRPO_EDGE:-target/release/lrpo-edge}"
margs=()
for m in "${models[@]}"; do margs+=(--model "$m"); done

"$E" eval --manifest "$set_dir" --split test --per-face 4 --seed 0 --size 128 \
  --baseline input --baseline bicubic "${margs[@]}" -o "$res/synthetic-128"

# The photos that hold test faces (each face of another split in them is left out of the report).
photos="$res/photos"
scripts/split-photos.sh "$set_dir" "$src_dir" test "$photos"
"$E" degrade "$photos" -o "$res/photos-degraded" --seed 7 --unscaled
for m in "${models[@]}"; do
  label="$(basename "${m%.onnx}")"
  "$E" eval --real "$photos" --manifest "$set_dir" --split test --model "$m" -o "$res/real-clean/$label"
  "$E" eval --real "$res"/photos-degraded/*_lq.png --manifest "$set_dir" --split test --model "$m" \
    -o "$res/real-degraded/$label"
  "$E" eval --real "$photos" --manifest "$set_dir" --split test --model "$m" --detail-gate off \
    -o "$res/real-clean-gate-off/$label"
done
