#!/usr/bin/env bash
# Set up ./.venv and run qwave's main job end to end on its embedded defaults, into ./out/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
mkdir -p out
.venv/bin/qwave simulate --potential barrier -p height=5 -p width=7 --x0 20 --s0 2 --e0 3,6 \
  -o out/simulation.npz --plot out/simulation.png
