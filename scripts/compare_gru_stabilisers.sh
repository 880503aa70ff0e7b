#!/usr/bin/env bash
# Which stabiliser helps the paper's GRU most, at one equal short budget with qwave's training (the wide
# curriculum, batch 1024, noise, phase and mirror augmentation):
#   gru                      the paper's model
#   gru_res                  + residual (predict the change from the last frame) and a learned linear skip of psi
#   gru_res normalize=true   + the GRU runs on the window's psi / RMS(psi), its output scaled back
#   ... --pushforward 2      + a two-frame (pushforward) loss: the second frame forecast from the first forecast
#                              (qwave/emulator/pushforward.py); twice the network passes per window
# For each: the evaluation table (2 held-out cases per family, 400 frames) and, for all four on the same cases,
# the teacher-forced one-step error against the rollout's error growth (scripts/one_step_vs_growth.py).
#   bash scripts/compare_gru_stabilisers.sh DATA_DIR OUT_DIR [STEPS=8000]
# QWAVE=path/to/qwave and PYTHON=path/to/python select the commands (default: on PATH).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -ge 2 ] || { echo "usage: compare_gru_stabilisers.sh DATA_DIR OUT_DIR [STEPS]" >&2; exit 1; }
data=$1 out=$2 steps=${3:-8000}
qwave=${QWAVE:-qwave} python=${PYTHON:-python}
mkdir -p "$out"
names=(gru gru_res gru_res-norm gru_res-norm-pf2)
models=(gru gru_res gru_res gru_res)
extra=("" "" "--model-arg normalize=true" "--model-arg normalize=true --pushforward 2")
for i in "${!names[@]}"; do
    run="$out/${names[$i]}"
    # shellcheck disable=SC2086  # extra holds zero, two or four words
    "$qwave" train --out "$run" --data tfds:wide --data-dir "$data" --steps "$steps" --model "${models[$i]}" \
        ${extra[$i]} > "$run.log" 2>&1
    "$qwave" evaluate --model "$run" --tests tfds:wide --data-dir "$data" --cases 2 --out "$run/eval2" > /dev/null
    echo "== ${names[$i]}: $(grep '^| overall' "$run/eval2/table.md")"
done
"$python" "$here/one_step_vs_growth.py" --tests tfds:wide --data-dir "$data" --cases 1 --out "$out/growth.json" \
    --model "$out/gru" --model "$out/gru_res" --model "$out/gru_res-norm" --model "$out/gru_res-norm-pf2"
# the artefact (docs/measurements/gru-stabilisers.json): every variant's table, final loss, median throughput, growth
"$python" - "$out" "$steps" "${names[@]}" <<'PY'
import csv
import json
import statistics
import sys
from pathlib import Path

from qwave.io import atomic_path

out, steps, names = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
growth = json.loads((out / "growth.json").read_text())["rows"]
variants = {}
for name in names:
    history = list(csv.DictReader(open(out / name / "history.csv")))
    variants[name] = {
        "table": json.loads((out / name / "eval2" / "table.json").read_text())["rows"],
        "final_loss": float(history[-1]["loss"]),
        "windows_per_s_median": statistics.median(float(r["windows_per_s"]) for r in history),
        "growth": next(row for path, row in growth.items() if Path(path).name == name),
    }
result = {
    "command": f"bash scripts/compare_gru_stabilisers.sh DATA {out} {steps}",
    "budget": f"{steps:,} steps x 1,024 windows each, tfds:wide, qwave's training defaults, seed 0",
    "tests": "tfds:wide held-out cases, 2 per family, 400 frames",
    "variants": variants,
}
with atomic_path(out / "gru-stabilisers.json") as tmp:
    tmp.write_text(json.dumps(result, indent=1) + "\n")
print(f"wrote {out / 'gru-stabilisers.json'}")
print("| variant | mean corr | worst_mean | corr@400 | worst@400 | first<0.99 | one-step 1-corr "
      "| 1-corr@100 (x k one-step) | 1-corr@400 (x k one-step) | final MSE | windows/s |")
print("|---" * 11 + "|")
for name, v in variants.items():
    o, g = v["table"]["overall"], v["growth"]
    print(f"| {name} | {o['mean_corr']:.4f} | {o['worst_mean']:.4f} | {o['corr@400']:.4f} | {o['worst@400']:.4f} "
          f"| {o['first<0.99']} | {g['one_step_error']:.2e} | {g['error@100']:.2e} ({g['amplification@100']:.1f}) "
          f"| {g['error@400']:.2e} ({g['amplification@400']:.1f}) | {v['final_loss']:.2e} "
          f"| {v['windows_per_s_median']:,.0f} |")
PY
