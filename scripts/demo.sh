#!/usr/bin/env bash
# Sets workbench up and runs the main job on the embedded demo data: prints the report's path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
source scripts/_python.sh
exec "$PY" -m workbench.cli demo "$@"
