#!/usr/bin/env bash
# Runs the whole test suite, real Prometheus and Alertmanager included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --servers
source scripts/_python.sh
# Two workers, each taking whole test files (module fixtures such as a real Alertmanager start
# once per file); WORKBENCH_TEST_WORKERS=0 runs everything in this process.
exec "$PY" -m pytest -q -p no:cacheprovider -n "${WORKBENCH_TEST_WORKERS:-2}" --dist loadfile "$@"
