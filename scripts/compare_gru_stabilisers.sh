#!/usr/bin/env bash
# Which stabiliser helps the paper's GRU most, at one equal short budget with qwave's training (the wide
# curriculum, batch 1024, noise, phase and mirror augmentation):
#   gru                      the paper's model
#   gru_res                  + residual (predict the change from the last frame) and a learned linear skip of psi
#   gru_res normalize=true   + the GRU runs on the window's psi / RMS(psi), its output scaled back
# For each: the evaluation table (2 held-out cases per family, 400 frames) and, for all three on the same cases,
# the teacher-forced one-step error against the rollout's error growth (scripts/one_step_vs_growth.py).
#   bash scripts/compare_gru_stabilisers.sh DATA_DIR OUT_DIR [STEPS=8000]
# QWAVE=path/to/qwave and PYTHON=path/to/python select the commands (default: on PATH).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -ge 2 ] || { echo "usage: compare_gru_stabilisers.sh DATA_DIR OUT_DIR [STEPS]" >&2; exit 1; }
data=$1 out=$2 steps=${3:-8000}
qwave=${QWAVE:-qwave} python=${PYTHON:-python}
mkdir -p "$out"
names=(gru gru_res gru_res-norm)
models=(gru gru_res gru_res)
extra=("" "" "--model-arg normalize=true")
for i in 0 1 2; do
    run="$out/${names[$i]}"
    # shellcheck disable=SC2086  # extra holds zero or two words
    "$qwave" train --out "$run" --data tfds:wide --data-dir "$data" --steps "$steps" --model "${models[$i]}" \
        ${extra[$i]} > "$run.log" 2>&1
    "$qwave" evaluate --model "$run" --tests tfds:wide --data-dir "$data" --cases 2 --out "$run/eval2" > /dev/null
    echo "== ${names[$i]}: $(grep '^| overall' "$run/eval2/table.md")"
done
"$python" "$here/one_step_vs_growth.py" --tests tfds:wide --data-dir "$data" --cases 1 --out "$out/growth.json" \
    --model "$out/gru" --model "$out/gru_res" --model "$out/gru_res-norm"
