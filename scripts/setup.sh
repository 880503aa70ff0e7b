#!/usr/bin/env bash
# Create ./.venv (if missing) and install qwave with its test and Beam extras into it.
# Sourced by quickstart.sh and test.sh; safe to rerun (pip skips what is installed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[beam,test]"
