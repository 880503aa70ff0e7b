#!/usr/bin/env bash
# Set up ./.venv and run the whole check: ruff (lint + format) and the test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
set +e
.venv/bin/python -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then  # pytest: no tests selected
  echo "no tests selected"
  rc=0
fi
exit "$rc"
