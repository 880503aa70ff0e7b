#!/usr/bin/env bash
# Regenerate a shipped model's artefacts in qwave/pretrained/NAME (NAME: default unless given):
#   bash scripts/ship_pretrained.sh runs/default        # from a training run: the run made by the command in
#                                                       # qwave/pretrained/default/COMMAND.txt, evaluated with `qwave evaluate`
#   bash scripts/ship_pretrained.sh runs/gru gru        # ship a run as a new model: its COMMAND.txt comes from the run dir
#   bash scripts/ship_pretrained.sh                     # re-export a shipped model.keras itself, no retraining:
#   bash scripts/ship_pretrained.sh qwave/pretrained/gru gru   # fresh ONNX files (rollout.onnx, ...) for the same
#                                                       # weights, keeping config.json, COMMAND.txt, eval.md,
#                                                       # evaluation/ and the recorded source
# Exports into a staging directory and swaps it in only when the export has passed its parity checks.
# QWAVE=path/to/qwave selects the command (default: qwave on PATH).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
name=${2:-default}
target=qwave/pretrained/$name
run=${1:-$target}
qwave=${QWAVE:-qwave}
[ -f "$run/model.keras" ] || { echo "usage: ship_pretrained.sh [RUN_DIR [NAME]]  ($run holds no model.keras)" >&2; exit 1; }
command_txt=$target/COMMAND.txt
[ -f "$command_txt" ] || command_txt=$run/COMMAND.txt
[ -f "$command_txt" ] || { echo "ship_pretrained.sh: neither $target nor $run holds a COMMAND.txt" >&2; exit 1; }
# nested one level down, so that the staging copy is never taken for a second shipped model
stage=$(mktemp -d qwave/pretrained/.staging.XXXXXX)
trap 'rm -rf "$stage"' EXIT
"$qwave" export "$run" --out "$stage/new"
cp "$run/config.json" "$stage/new/config.json"
cp "$command_txt" "$stage/new/COMMAND.txt"
# eval.md: the run's fidelity report (scripts/fidelity_report.py) if it has one, else its evaluation table;
# never the target's old one, which describes other weights (a re-export's run is the target, so keeps its own)
if [ -f "$run/eval.md" ]; then cp "$run/eval.md" "$stage/new/eval.md"
elif [ -f "$run/eval/table.md" ]; then cp "$run/eval/table.md" "$stage/new/eval.md"
else echo "ship_pretrained.sh: $run holds no evaluation (run qwave evaluate --out $run/eval first)" >&2; exit 1; fi
if [ "$run" = "$target" ]; then  # a re-export: keep the provenance of the original export
    python3 - "$target/metadata.json" "$stage/new/metadata.json" <<'EOF'
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
[ ! -e "$target" ] || mv "$target" "$stage/old"
mv "$stage/new" "$target" || { [ ! -e "$stage/old" ] || mv "$stage/old" "$target"; exit 1; }
echo "shipped $run -> $target"
