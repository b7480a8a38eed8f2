#!/usr/bin/env bash
# Installs what workbench needs on a fresh Debian/Ubuntu machine: the Python package with its
# test extras (into the active virtualenv/conda env, else into ./.venv, created on first use),
# and (with --servers) the real Prometheus and Alertmanager used by the tests and Debian's
# Chromium, which the browser tests drive through Playwright.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_python.sh

# Reinstall when pyproject.toml changed since the last install into this environment, or when
# the workbench this interpreter imports (outside the checkout) is another copy than this one.
stamp="$("$PY" -c 'import sys; print(sys.prefix)')/.workbench-install-$(sha256sum pyproject.toml | cut -c1-16)"
here="$(pwd -P)/workbench/__init__.py"
imported="$(cd / && "$PY" -c "import os, workbench, pytest, papermill, langfuse, crontab, playwright, opentelemetry.proto; print(os.path.realpath(workbench.__file__))" 2>/dev/null || true)"
if [ ! -e "$stamp" ] || [ "$imported" != "$here" ]; then
  "$PY" -m pip install --quiet --disable-pip-version-check -e '.[test]'
  touch "$stamp" 2>/dev/null || true
fi

if [ "${1:-}" = "--servers" ]; then
  need=()
  command -v prometheus >/dev/null || need+=(prometheus)
  command -v promtool >/dev/null || need+=(prometheus)
  command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
  # Playwright's own browser download is not used: the tests launch /usr/bin/chromium.
  [ -x /usr/bin/chromium ] || need+=(chromium fonts-liberation)
  if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${need[@]}" >/dev/null
    # The Debian packages start system services; tests run their own instances.
    $SUDO systemctl disable --now prometheus prometheus-alertmanager prometheus-node-exporter \
      >/dev/null 2>&1 || true
  fi
fi
