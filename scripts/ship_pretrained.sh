#!/usr/bin/env bash
# Regenerate the shipped model's artefacts in qwave/pretrained/default from a training run directory:
#   bash scripts/ship_pretrained.sh runs/default
# (the run made by the command in qwave/pretrained/default/COMMAND.txt, evaluated with `qwave evaluate`).
# Writes beside the target and swaps it in only when the export has passed its parity checks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
run=${1:?usage: ship_pretrained.sh RUN_DIR}
target=qwave/pretrained/default
tmp=$(mktemp -d qwave/pretrained/.default.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rmdir "$tmp"
qwave export "$run" --out "$tmp"
cp "$run/config.json" "$tmp/config.json"
cp "$target/COMMAND.txt" "$tmp/COMMAND.txt"
if [ -f "$run/eval/table.md" ]; then cp "$run/eval/table.md" "$tmp/eval.md"; else cp "$target/eval.md" "$tmp/eval.md"; fi
old=$(mktemp -d qwave/pretrained/.old.XXXXXX)
mv "$target" "$old/default"
mv "$tmp" "$target"
rm -rf "$old"
echo "shipped $run -> $target"
