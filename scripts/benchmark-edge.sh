#!/usr/bin/env bash
# The edge runtime's speed on this machine, regenerated into benchmarks/edge/ (raw results) and
# benchmarks/edge.md (the report):
#
# 1. face detection per camera frame (640x480, 1280x720, 1920x1080; 1 and 2 threads; the
#    stills default of 20 px and the camera default `auto`) with its recall on the face set's
#    labelled photos (`lrpo-edge bench-detect`; needs the face set's sources, built by
#    scripts/build-face-set.sh, in FACES);
# 2. tract against onnxruntime on the shipped students, f32 and int8, at 64, 128 and 256 px
#    (tools/bench_edge.py), with the kernels tract picked;
# 3. tract's per-node profile of the shipped students (the `profile_onnx` example), and each of
#    the student's convolution shapes alone in tract and onnxruntime (tools/conv_gap.py);
# 4. `lrpo-edge stream` at 640x480 with two faces (tools/stream_clip.py), fed at 30 frames/s as a
#    camera would and as fast as it takes them, on 1 and 2 threads;
# 5. the same clip as an H.264 file with audio through `lrpo-edge restore` (ffmpeg decoding and
#    encoding on the same cores);
# 6. flicker (tools/stream_clip.py flicker) on a static camera clip with sensor noise, for
#    landmark smoothing and detection intervals, and with the landmarks of the first frame kept
#    (the floor: only the input's noise moves the output);
# 7. the same measure inside lrpo-edge (`lrpo-edge bench-stream`: its own still clip of two
#    bundled photos, sensor noise of 2 levels, the stream's frame processor in memory).
#
#     PYTHON=/path/to/venv/bin/python scripts/benchmark-edge.sh
#
# PYTHON needs onnxruntime, onnx, numpy and Pillow (a scratch virtualenv); FACES defaults to
# runs/face-set/sources. Optional comparisons with an earlier build: BEFORE=path/to/old/lrpo-edge
# (its `stream` rows; `bench-detect` is newer than such builds, so earlier detection results
# are kept as benchmarks/edge/detect-before-*.json), BEFORE_INT8=path/to/old_int8.onnx (with
# its .card beside it). Timings on a shared machine move by ~10 % from run to run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
FACES="${FACES:-runs/face-set/sources}"
out=benchmarks/edge
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release -p lrpo-edge --bins --examples
edge="${CARGO_TARGET_DIR:-target}/release/lrpo-edge"
profile="${CARGO_TARGET_DIR:-target}/release/examples/profile_onnx"

echo "== detection"
for threads in 1 2; do
  for min in 20 auto; do
    "$edge" bench-detect --photos "$FACES" --threads "$threads" --min-face "$min" --runs 3 \
      --json "$out/detect-min$min-${threads}t.json"
  done
done

echo "== tract against onnxruntime"
for model in gt_student gt_student_int8; do
  "$PYTHON" tools/bench_edge.py --edge "$edge" --model "models/$model.onnx" --sizes 64 128 256 \
    --threads 1 2 --json "$out/runtime-$model.json" > /dev/null
done

if [ -n "${BEFORE_INT8:-}" ]; then
  "$PYTHON" tools/bench_edge.py --edge "$edge" --model "$BEFORE_INT8" --sizes 64 128 256 \
    --threads 1 2 --json "$out/runtime-before-int8.json" > /dev/null
fi

echo "== per-node profiles, and each convolution shape alone"
"$profile" models/gt_student.onnx 1,3,256,256 --runs 10 > "$out/profile-gt_student-256.txt"
"$profile" models/gt_student_int8.onnx 1,3,128,128 --runs 10 > "$out/profile-gt_student_int8-128.txt"
"$PYTHON" tools/conv_gap.py --profile "$profile" --json "$out/conv-gap.json"

echo "== stream"
"$PYTHON" tools/stream_clip.py make "$work/clip.rgb" --frames 150
stream_rows() { # BINARY OUTFILE
  : > "$2"
  for threads in 1 2; do
    for feed in camera file; do
      if [ "$feed" = camera ]; then
        line="$("$PYTHON" tools/stream_clip.py feed "$work/clip.rgb" --fps 30 \
          | "$1" stream --width 640 --height 480 --threads "$threads" --detail-gate off \
            --stats-every 0 2>&1 >/dev/null | tail -1)"
      else
        line="$("$1" stream --width 640 --height 480 --threads "$threads" --detail-gate off \
          --stats-every 0 < "$work/clip.rgb" 2>&1 >/dev/null | tail -1)"
      fi
      echo "threads=$threads feed=$feed $line" | tee -a "$2"
    done
  done
}
stream_rows "$edge" "$out/stream.txt"
if [ -n "${BEFORE:-}" ]; then
  stream_rows "$BEFORE" "$out/stream-before.txt"
fi

echo "== a video file (the same clip as H.264 with a tone, through ffmpeg)"
ffmpeg -v error -y -f rawvideo -pix_fmt rgb24 -s 640x480 -framerate 30 -i "$work/clip.rgb" \
  -f lavfi -i sine=frequency=330:duration=5 -c:v libx264 -crf 18 -pix_fmt yuv420p -c:a aac \
  -shortest "$work/clip.mp4"
: > "$out/video.txt"
for threads in 1 2; do
  rm -rf "$work/video-out"
  "$edge" restore "$work/clip.mp4" -o "$work/video-out" --threads "$threads" --detail-gate off \
    2>/dev/null | grep ' video ' | sed "s|^[^:]*: |threads=$threads |" | tee -a "$out/video.txt"
done

echo "== flicker on a static camera (sensor noise of 2 levels)"
"$PYTHON" tools/stream_clip.py make "$work/static.rgb" --frames 60 --shake 0 --noise 2
: > "$out/flicker.txt"
for setting in "1 1" "1 5" "0.5 1" "0.5 5" "0.25 1" "0.25 5" "1 100000"; do
  set -- $setting
  "$edge" stream --width 640 --height 480 --detail-gate off --stats-every 0 --smoothing "$1" \
    --detect-every "$2" < "$work/static.rgb" > "$work/static-out.rgb" 2>/dev/null
  echo "smoothing=$1 detect_every=$2 $("$PYTHON" tools/stream_clip.py flicker "$work/static.rgb" "$work/static-out.rgb")" \
    | tee -a "$out/flicker.txt"
done

echo "== lrpo-edge bench-stream (flicker and frames/s on a still camera, inside lrpo-edge)"
"$edge" bench-stream --detail-gate off --frames 60 --json "$out/bench-stream.json"

"$PYTHON" tools/edge_report.py "$out" > benchmarks/edge.md
echo "wrote benchmarks/edge.md"
