# Sourced by the other scripts: picks the Python environment workbench is installed into and run
# from, exports PY (its interpreter) and puts its bin folder first on PATH.
#
# Inside an activated virtualenv or conda env, that env is used. Otherwise a project-local .venv
# is created and used: a stock Debian/Ubuntu python3 is "externally managed" (PEP 668) and
# refuses pip installs into the system interpreter, so nothing is ever installed there.

_wb_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ -n "${VIRTUAL_ENV:-}" ] || [ -n "${CONDA_PREFIX:-}" ] \
   || python3 -c 'import sys; sys.exit(0 if sys.prefix != sys.base_prefix else 1)' 2>/dev/null; then
  PY="$(command -v python3)"
else
  if [ ! -x "$_wb_root/.venv/bin/python" ]; then
    if ! python3 -m venv "$_wb_root/.venv" >/dev/null 2>&1; then
      # Debian/Ubuntu ship venv's ensurepip separately.
      rm -rf "$_wb_root/.venv"
      _wb_sudo=""; [ "$(id -u)" -ne 0 ] && _wb_sudo="sudo"
      $_wb_sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $_wb_sudo apt-get install -y -qq --no-install-recommends \
        python3-venv >/dev/null
      python3 -m venv "$_wb_root/.venv"
    fi
  fi
  PY="$_wb_root/.venv/bin/python"
fi
export PY
PATH="$(dirname "$PY"):$PATH"
export PATH
unset _wb_root _wb_sudo
