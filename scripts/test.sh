#!/usr/bin/env bash
# Runs the whole test suite, real Prometheus and Alertmanager included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --servers
source scripts/_python.sh
exec "$PY" -m pytest -q -p no:cacheprovider "$@"
