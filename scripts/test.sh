#!/usr/bin/env bash
# Set up (idempotent), install Debian's chromium for the browser tests if /usr/bin/chromium is missing, then run
# `ruff check` and the default pytest suite (everything not marked slow, browser tests included).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` or `bash scripts/test.sh tests/model/test_units.py`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "test: installing Debian chromium for the browser tests (playwright never downloads a browser here)"
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
# Run both checks even when the first fails; the exit status is non-zero if either failed.
ruff_status=0
.venv/bin/ruff check . || ruff_status=$?
pytest_status=0
.venv/bin/python -m pytest -ra "$@" || pytest_status=$?
if [ "$ruff_status" -ne 0 ]; then echo "test: ruff check failed (exit $ruff_status)" >&2; fi
if [ "$pytest_status" -ne 0 ]; then echo "test: pytest failed (exit $pytest_status)" >&2; exit "$pytest_status"; fi
exit "$ruff_status"
