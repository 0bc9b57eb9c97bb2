#!/usr/bin/env bash
# The LRPO ablation: arms x seeds from one pretrained policy, evaluated under the frozen
# protocol on the face set's test identities, written to benchmarks/lrpo-experiment.md
# (the records: benchmarks/lrpo-experiment/).
#
#     cargo build --release -p lrpo-trainer -p lrpo-edge
#     scripts/lrpo-experiment.sh FACESET_DIR [OUT] [CONFIG]
#
# FACESET_DIR is OUT/faces of scripts/build-face-set.sh (train, validation and test splits by
# identity). CONFIG (default configs/experiments/lrpo-32.toml) is the policy and its
# pretraining; OUT (default runs/lrpo-experiment) keeps every run, model and report, and a
# finished step is not redone when the script is run again.
#
# Arms (each from the same pretrained policy, seeds 0, 1, 2 = the LRPO iterations' draws):
#   sft       the pretrained policy itself (no RL)
#   lrpo      LRPO as configured (GT term λ = 0.001, σ step weights)
#   no-gt     without the GT term (λ = 0)
#   uniform   uniform step weights instead of σ
#   shuffled  control: the rewards shuffled across candidates before the advantages
#   gt-0.01, gt-0.1   the GT term at λ = 0.01 and 0.1
# Every arm logs its reward on 6 fixed validation faces every 2 iterations and the GT term's
# gradient norm against the policy term's each iteration.
# ITERATIONS (default 12) and LR (default 5e-4) set the LRPO runs' length and learning rate;
# REPORT (default benchmarks/lrpo-experiment.md) the table, whose records go beside it in a
# folder of the same name.
set -euo pipefail
cd "$(dirname "$0")/.."
faces="${1:?usage: scripts/lrpo-experiment.sh FACESET_DIR [OUT] [CONFIG]}"
out="${2:-runs/lrpo-experiment}"
config="${3:-configs/experiments/lrpo-32.toml}"
iterations="${ITERATIONS:-12}"
lr="${LR:-5e-4}"
report="${REPORT:-benchmarks/lrpo-experiment.md}"
T=target/release/lrpo-train
E=target/release/lrpo-edge
seeds=(0 1 2)
arms=(lrpo no-gt uniform shuffled gt-0.01 gt-0.1)
mkdir -p "$out/arms" "$out/models"

# 1. The pretrained policy (resumed if a previous run was cut short).
if [[ -f "$out/sft/run.json" ]]; then
  "$T" pretrain --resume "$out/sft" >/dev/null 2>&1 || true
else
  "$T" pretrain --config "$config" --data "$faces" --out "$out/sft" >/dev/null
fi

# 2. The LRPO arms.
arm_rl() { # ARM SEED: the arm's [rl] section
  local gt=0.001 weights=sigma control=none
  case "$1" in
    no-gt) gt=0 ;;
    uniform) weights=uniform ;;
    shuffled) control=shuffled ;;
    gt-0.01) gt=0.01 ;;
    gt-0.1) gt=0.1 ;;
  esac
  cat <<TOML
[rl]
iterations = $iterations
groups = 1
group_size = 9
ddim_steps = 20
lr = $lr
gt_weight = $gt
step_weights = "$weights"
control = "$control"
seed = $2
val_every = 2
val_faces = 6
checkpoint_every = 2
grid_every = 0
TOML
}
models=(--model "$out/models/sft.onnx" --label sft)
[[ -f "$out/models/sft.onnx" ]] || "$T" export --ckpt "$out/sft" --out "$out/models/sft" >/dev/null
# Seed by seed, so that a run cut short over several sittings has every arm at one seed first.
# An arm cut short resumes from its last checkpoint (every 2 iterations; exact resume).
for s in "${seeds[@]}"; do
  for arm in "${arms[@]}"; do
    name="$arm-s$s"
    arm_rl "$arm" "$s" >"$out/arms/$name.toml"
    if ! grep -q "\"step\":$iterations," "$out/$name/metrics.jsonl" 2>/dev/null; then
      if ls -d "$out/$name"/checkpoints/step_* >/dev/null 2>&1; then
        "$T" rl --resume "$out/$name" >/dev/null 2>&1
      else
        rm -rf "$out/$name"
        "$T" rl --init "$out/sft" --config "$out/arms/$name.toml" --out "$out/$name" >/dev/null 2>&1
      fi
    fi
  done
done
for arm in "${arms[@]}"; do
  for s in "${seeds[@]}"; do
    name="$arm-s$s"
    [[ -f "$out/models/$name.onnx" ]] || "$T" export --ckpt "$out/$name" --out "$out/models/$name" >/dev/null
    models+=(--model "$out/models/$name.onnx" --label "$arm#$s")
  done
done

# 3. The frozen protocol on the test identities, every arm paired against the SFT policy.
size=$(grep -m1 '^resolution' "$out/sft/config.toml" | tr -dc 0-9)
"$E" eval --manifest "$faces" --split test --per-face 4 --seed 0 --size "$size" \
  "${models[@]}" --reference sft -o "$out/eval" >/dev/null

# 4. The summary.
python3 - "$out" "$iterations" "$lr" "$size" "$config" "${arms[@]}" <<'PY' >"$report"
import json, statistics, sys
out, iterations, lr, size, config, arms = (
    sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:])
seeds = [0, 1, 2]
def records(run):
    return [json.loads(l) for l in open(f"{out}/{run}/metrics.jsonl")]
print("# LRPO ablation: arms x seeds under the frozen protocol\n")
print(f"Written by `scripts/lrpo-experiment.sh` ({size} x {size} policy of "
      f"`{config}`, {iterations} LRPO iterations of 9 candidates, lr {lr}, "
      "seeds 0-2 per arm). Every arm starts from the same pretrained policy (`sft`); each test "
      "face is degraded 4 times; differences are paired against `sft` per identity and pooled "
      "over the three seeds (`arm` rows; `seed sd` is the spread of the seeds' means).\n")
report = json.load(open(f"{out}/eval/report.json"))
print("## Paired differences against the pretrained policy (test identities, 95 % intervals)\n")
metrics = ["reward", "PSNR (dB)", "SSIM", "DTCWT fidelity", "identity distance", "NIQE", "BRISQUE"]
print("| arm | " + " | ".join(metrics) + " |")
print("|---|" + "---|" * len(metrics))
rows = {(p["method"], p["metric"]): p for p in report["paired"]}
for arm in arms:
    cells = []
    for m in metrics:
        p = rows.get((arm, m))
        if p is None:
            cells.append("-")
            continue
        sd = f", seed sd {p['seed_sd']:.3g}" if p.get("seed_sd") is not None else ""
        cells.append(f"{p['mean']:+.3g} [{p['lo']:+.3g}, {p['hi']:+.3g}]{sd}")
    print(f"| {arm} | " + " | ".join(cells) + " |")
n_id = next(iter(rows.values()))["identities"]
print(f"\n{n_id} test identities; higher is better for reward, PSNR, SSIM and DTCWT fidelity, "
      "lower for identity distance, NIQE and BRISQUE.\n")
print("## The GT term's pull: λ·‖∇L_GT‖ / ‖∇L_pol‖ (median over iterations and seeds)\n")
print("| arm | ratio |\n|---|---:|")
for arm in arms:
    v = [r["gt_grad_ratio"] for s in seeds for r in records(f"{arm}-s{s}")
         if r.get("kind") == "rl" and r.get("gt_grad_ratio") is not None]
    print(f"| {arm} | {statistics.median(v):.3g} |" if v else f"| {arm} | (off) |")
print("\n## Reward on the fixed validation faces (6 faces, the same noise at every check)\n")
steps = sorted({r["step"] for r in records(f"{arms[0]}-s0") if r.get("kind") == "val"})
print("| arm | seed | " + " | ".join(f"it {s}" for s in steps) + " | change |")
print("|---|---|" + "---:|" * (len(steps) + 1))
for arm in arms:
    for s in seeds:
        v = {r["step"]: r["reward"] for r in records(f"{arm}-s{s}") if r.get("kind") == "val"}
        cells = [f"{v[k]:.4f}" if k in v else "-" for k in steps]
        change = v[steps[-1]] - v[steps[0]] if steps[0] in v and steps[-1] in v else float("nan")
        print(f"| {arm} | {s} | " + " | ".join(cells) + f" | {change:+.4f} |")
print("\nRecords: every run's `metrics.jsonl` and config under the script's OUT folder; the "
      "evaluation report (JSON, CSV, HTML) in OUT/eval.")
PY
# The records beside the table: every arm's config and metrics, the evaluation's table.
rec="${report%.md}"
rm -rf "$rec" && mkdir -p "$rec"
cp "$out/sft/config.toml" "$rec/sft-config.toml"
cp "$out/sft/metrics.jsonl" "$rec/sft-metrics.jsonl"
for arm in "${arms[@]}"; do
  for s in "${seeds[@]}"; do
    cp "$out/arms/$arm-s$s.toml" "$rec/$arm-s$s.toml"
    cp "$out/$arm-s$s/metrics.jsonl" "$rec/$arm-s$s.metrics.jsonl"
  done
done
cp "$out/eval/README.md" "$rec/eval.md"
cat "$report"
