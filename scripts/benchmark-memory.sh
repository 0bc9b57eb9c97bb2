#!/usr/bin/env bash
# Peak memory and time of `lrpo-edge restore` on large photos, written to benchmarks/memory.md:
# a real photo (data/faces/obama.jpg) enlarged to 4K, 8K and the largest size the loader
# accepts (8192 x 8192), each restored with the default detection bound and with
# `--detect-max-side off` (detection on the full frame, with a budget raised to let it run), and
# with `--side-by-side` (an input copy and a double-width output). These measurements are what
# `lrpo_edge::memory` (the `--max-memory` budget) takes per pixel.
#
#     cargo build --release -p lrpo-edge -p lrpo-devtools && scripts/benchmark-memory.sh
#
# Needs GNU time (/usr/bin/time). Several minutes on 2 cores (the unbounded 8192 px case
# alone takes about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
E=target/release/lrpo-edge
ENLARGE=target/release/enlarge
[[ -x /usr/bin/time ]] || { echo "needs GNU time at /usr/bin/time" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out=benchmarks/memory.md
{
  echo "# Memory and time of lrpo-edge restore on large photos"
  echo
  echo "Written by \`scripts/benchmark-memory.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores"
  echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)). Input: data/faces/obama.jpg"
  echo "enlarged (bicubic) and saved as JPEG; model models/gt_student.onnx; wall time and peak"
  echo "resident memory of the whole process (decode, detect, restore, paste back, encode)."
  echo
  echo "| image | megapixels | detection | seconds | peak RSS (MB) | bytes per pixel |"
  echo "|---|---:|---|---:|---:|---:|"
} >"$out.tmp"
for size in 3840x2160 7680x4320 8192x8192; do
  w=${size%x*}; h=${size#*x}
  "$ENLARGE" data/faces/obama.jpg "$work/$size.jpg" "$w" "$h"
  for mode in default off compare; do
    extra=()
    [[ $mode == off ]] && extra=(--detect-max-side off --max-memory 16384)
    [[ $mode == compare ]] && extra=(--side-by-side --max-memory 2048)
    /usr/bin/time -f "%e %M" -o "$work/t" "$E" restore "$work/$size.jpg" -o "$work/out-$size-$mode" \
      --model models/gt_student.onnx "${extra[@]}" >/dev/null 2>&1
    read -r secs kb <"$work/t"
    case $mode in
      off) label="full frame (off)" ;;
      compare) label="shrunk to 1600 px, --side-by-side" ;;
      *) label="shrunk to 1600 px (default)" ;;
    esac
    awk -v s="$size" -v w="$w" -v h="$h" -v l="$label" -v t="$secs" -v k="$kb" 'BEGIN {
      mp = w * h / 1e6; printf "| %s | %.1f | %s | %.1f | %.0f | %.0f |\n", s, mp, l, t, k / 1024, k * 1024 / (w * h) }' >>"$out.tmp"
  done
done
{
  echo
  echo "Photos are restored in their 8-bit buffer (\`lrpo_edge::in_place\`): no full-frame f32 copy; only"
  echo "the shrunk detection copy and each face's region are f32. The budget (\`--max-memory\`, default"
  echo "1024 MiB, \`lrpo_edge::memory\`) takes 160 MiB for the models and detection and 8 bytes per pixel"
  echo "(17 with \`--side-by-side\`, 84 with \`--detect-max-side off\`, 24 and more for the f32 routes:"
  echo "\`--aligned\`, \`--upscale\`); a photo that would not fit is refused, naming the budget."
} >>"$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
