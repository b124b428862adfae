#!/usr/bin/env bash
# Start LSIP Explorer on http://127.0.0.1:8501 (settings in .streamlit/config.toml). Extra arguments go to
# `streamlit run`, e.g. `bash scripts/run_app.sh --server.port 8600`. The file watcher is off (also in
# .streamlit/config.toml): restart the server after editing the code.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/streamlit ]; then
  echo "run_app: .venv is missing; run 'bash scripts/setup.sh' first" >&2
  exit 1
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
exec .venv/bin/streamlit run app.py --server.fileWatcherType none "$@"
