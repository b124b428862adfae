#!/usr/bin/env bash
# Idempotent setup of the project environment: .venv (Python 3.11) with the pinned requirements and lsip
# installed in editable mode. A second run is instant: pip runs only when requirements.txt or pyproject.toml
# changed since the last successful install (their hash is stamped in .venv/.lsip-setup-stamp).
#   PYTHON=python3.11 bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
VENV=".venv"
STAMP="$VENV/.lsip-setup-stamp"

if [ ! -x "$VENV/bin/python" ]; then
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "setup: $PYTHON not found; install Python 3.11 (Debian: apt-get install python3.11 python3.11-venv)" >&2
    exit 1
  fi
  if ! "$PYTHON" -c "import ensurepip" >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    # Debian ships venv/ensurepip separately
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "setup: installing python3.11-venv (Debian's venv module)"
    $SUDO apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y python3.11-venv
  fi
  echo "setup: creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi

HASH="$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
  echo "setup: $VENV is up to date (requirements.txt and pyproject.toml unchanged)"
  exit 0
fi

start=$SECONDS
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
# pip, not uv: torch==2.13.0 must resolve to the CPU wheel of this machine's package index (see README).
"${PIP[@]}" install -r requirements.txt
"${PIP[@]}" install --no-deps -e .
"${PIP[@]}" check
echo "$HASH" > "$STAMP"
echo "setup: done in $((SECONDS - start)) s"
