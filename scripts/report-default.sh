#!/usr/bin/env bash
# Regenerates the evidence committed under benchmarks/ for the shipped model, from the runs of
#
#   lrpo-train pipeline --config configs/default.toml --data data/train/faces --out runs/default
#   lrpo-train rl --init runs/default/pretrain --config configs/ablations/no_gt.toml \
#       --data data/train/faces --out runs/ablation_no_gt          (and uniform_weights)
#
# plus runs/lrpo_at5, a copy of runs/default/lrpo whose latest.json points at iteration 5 (the
# main run at the ablations' length). Needs release binaries
# (cargo build --release -p lrpo-trainer -p lrpo-edge). Writes:
#   benchmarks/lrpo/heldout.{json,md} + heldout_grid.png   diffusion policies, held-out faces
#   benchmarks/lrpo/curves.md                               per-iteration rewards of the RL runs
#   benchmarks/report/                                      lrpo-edge eval: bicubic, teachers,
#                                                           students f32 and int8
#   benchmarks/training/RUN/                                metrics.jsonl, config.toml, plots
set -euo pipefail
cd "$(dirname "$0")/.."
T=target/release/lrpo-train
E=target/release/lrpo-edge
held=(--include grace_hopper_0.png obama3_0.png)

mkdir -p benchmarks/lrpo benchmarks/training target/teachers
# 1. The diffusion policies before and after LRPO, sampled as LRPO trains them (20 DDIM steps,
#    eta 1), 4 degradations of each held-out face, the same inputs and noise for every policy.
$T evaluate --run runs/default/pretrain runs/lrpo_at5 runs/ablation_no_gt \
  runs/ablation_uniform_weights runs/default/lrpo \
  --label pretrained "LRPO 5 it" "LRPO 5 it, GT term off" "LRPO 5 it, uniform weights" "LRPO 20 it" \
  --data data/train/faces --per-face 4 --steps 20 --eta 1 --seed 1 -o benchmarks/lrpo/heldout
python3 tools/rl_curves.py "LRPO=runs/default/lrpo" "GT term off=runs/ablation_no_gt" \
  "uniform weights=runs/ablation_uniform_weights" > benchmarks/lrpo/curves.md

# 2. Teachers as ONNX epsilon-networks (20 DDIM steps on the edge), then every method on the
#    same held-out LQs with lrpo-edge eval.
$T export --ckpt runs/default/lrpo --out target/teachers/lrpo_teacher --steps 20 --eta 1
$T export --ckpt runs/default/pretrain --out target/teachers/sft_teacher --steps 20 --eta 1
$E eval --data data/train/faces "${held[@]}" --per-face 4 --seed 0 --baseline bicubic \
  --model target/teachers/sft_teacher.onnx --model target/teachers/lrpo_teacher.onnx \
  --model models/sft_student.onnx --model models/sft_student_int8.onnx \
  --model models/lrpo_student.onnx --model models/lrpo_student_int8.onnx \
  --label "SFT teacher (20 steps)" --label "LRPO teacher (20 steps)" \
  --label "SFT student f32" --label "SFT student int8" \
  --label "LRPO student f32" --label "LRPO student int8" \
  -o benchmarks/report

# 3. Training records.
for r in default/pretrain default/lrpo default/distill default/distill_sft \
         ablation_no_gt ablation_uniform_weights; do
  d="benchmarks/training/$(basename "$r")"
  mkdir -p "$d"
  cp "runs/$r/metrics.jsonl" "runs/$r/config.toml" "$d/"
  if [ -d "runs/$r/plots" ]; then cp -r "runs/$r/plots" "$d/"; fi
done
echo "done"
