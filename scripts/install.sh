#!/usr/bin/env bash
# Installs what workbench needs on a fresh Debian/Ubuntu machine: the Python package with its
# test extras, and (with --servers) the real Prometheus and Alertmanager used by the tests and
# Debian's Chromium, which the browser tests drive through Playwright.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import workbench, pytest, papermill, langfuse, playwright, opentelemetry.proto, opentelemetry.exporter.otlp.proto.common" 2>/dev/null \
   || [ pyproject.toml -nt "$(python3 -c 'import workbench,os;print(os.path.dirname(workbench.__file__))' 2>/dev/null || echo /nonexistent)" ]; then
  python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
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
