#!/usr/bin/env bash
# Regenerate the shipped model's artefacts in qwave/pretrained/default:
#   bash scripts/ship_pretrained.sh runs/default   # from a training run: the run made by the command in
#                                                  # qwave/pretrained/default/COMMAND.txt, evaluated with `qwave evaluate`
#   bash scripts/ship_pretrained.sh                # re-export the shipped model.keras itself, no retraining: fresh
#                                                  # ONNX files (rollout.onnx, ...) for the same weights, keeping
#                                                  # config.json, COMMAND.txt, eval.md, evaluation/ and the recorded source
# Exports into a staging directory and swaps it in only when the export has passed its parity checks.
# QWAVE=path/to/qwave selects the command (default: qwave on PATH).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target=qwave/pretrained/default
run=${1:-$target}
qwave=${QWAVE:-qwave}
[ -f "$run/model.keras" ] || { echo "usage: ship_pretrained.sh [RUN_DIR]  ($run holds no model.keras)" >&2; exit 1; }
# nested one level down, so that the staging copy is never taken for a second shipped model
stage=$(mktemp -d qwave/pretrained/.staging.XXXXXX)
trap 'rm -rf "$stage"' EXIT
"$qwave" export "$run" --out "$stage/default"
cp "$run/config.json" "$stage/default/config.json"
cp "$target/COMMAND.txt" "$stage/default/COMMAND.txt"
# eval.md: the run's fidelity report (scripts/fidelity_report.py) if it has one, else its evaluation table
if [ -f "$run/eval.md" ]; then cp "$run/eval.md" "$stage/default/eval.md"
elif [ -f "$run/eval/table.md" ]; then cp "$run/eval/table.md" "$stage/default/eval.md"
else cp "$target/eval.md" "$stage/default/eval.md"; fi
if [ "$run" = "$target" ]; then  # a re-export: keep the provenance of the original export
    python3 - "$target/metadata.json" "$stage/default/metadata.json" <<'EOF'
import json
import sys

old, new = (json.load(open(p)) for p in sys.argv[1:])
new["reexported"] = {"from": new["source"], "previous_created": old.get("created")}
new["source"] = old.get("source", new["source"])
if old.get("evaluation") and new.get("evaluation") and old["evaluation"]["rows"] == new["evaluation"]["rows"]:
    new["evaluation"] = old["evaluation"]
with open(sys.argv[2], "w") as f:
    f.write(json.dumps(new, indent=2) + "\n")
EOF
fi
mv "$target" "$stage/old"
mv "$stage/default" "$target" || { mv "$stage/old" "$target"; exit 1; }
echo "shipped $run -> $target"
