"""Shared test set-up: every test starts from an environment with no source credentials, so a
developer's own LANGFUSE_* or PROMETHEUS_* variables can never leak into (or change) a test, and
with a cache folder of its own, so no test reads what another one (or a real run) cached."""

import pytest

_SOURCE_ENV_PREFIXES = ("LANGFUSE_", "TEMPO_", "PROMETHEUS_", "ALERTMANAGER_", "WORKBENCH_")


@pytest.fixture(autouse=True)
def _clean_source_env(monkeypatch, tmp_path_factory):
    import os

    for key in list(os.environ):
        if key.startswith(_SOURCE_ENV_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
