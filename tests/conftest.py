"""Shared test set-up: every test starts from an environment with no source credentials, so a
developer's own LANGFUSE_* or PROMETHEUS_* variables can never leak into (or change) a test, and
with a cache folder of its own, so no test reads what another one (or a real run) cached.

One part of that folder is the session's: ``runbooks-valid``, where a clean validation of a
runbook is noted by the hash of its content and the schema (:mod:`workbench.runbooks`). A note
says only that exactly that content passed, so sharing it changes no outcome; without it every
report kernel and alert-sending process a test starts would import jsonschema and validate the
shipped runbooks again (about a second each, a hundred times and more a session)."""

import pytest

_SOURCE_ENV_PREFIXES = ("LANGFUSE_", "TEMPO_", "PROMETHEUS_", "ALERTMANAGER_", "WORKBENCH_")


@pytest.fixture(scope="session")
def own_cache(tmp_path_factory):
    """``own_cache(path)``: ``path`` made a cache folder of its own (for a run a test starts with
    its own ``WORKBENCH_CACHE_DIR``), sharing only the session's runbook verdicts."""
    verdicts = tmp_path_factory.mktemp("runbooks-valid")

    def make(path):
        path.mkdir(parents=True, exist_ok=True)
        (path / "runbooks-valid").symlink_to(verdicts, target_is_directory=True)
        return path

    return make


@pytest.fixture(autouse=True)
def _clean_source_env(monkeypatch, tmp_path_factory, own_cache):
    import os

    for key in list(os.environ):
        if key.startswith(_SOURCE_ENV_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(own_cache(tmp_path_factory.mktemp("cache"))))


@pytest.fixture(scope="module")
def smp():
    """The doubles' sample project, 60 traces, under a model table that prices nothing: costs
    are exactly what the spans carry. One per module; a module may define a ``smp`` of its own."""
    from tests.doubles import sample

    return sample(n_traces=60, prices=())


@pytest.fixture
def forget_legacy():
    """Forget which Langfuse servers answered only the legacy API, so no test inherits what an
    earlier one probed (``pytestmark = pytest.mark.usefixtures("forget_legacy")``)."""
    from workbench.sources.langfuse import _legacy

    _legacy.forget()


@pytest.fixture(scope="module")
def am_receiver():
    """The webhook receiver a module's Alertmanager forwards every alert to."""
    from alertmanager_server import Receiver

    with Receiver() as recv:
        yield recv


@pytest.fixture(scope="module")
def am(am_receiver, tmp_path_factory):
    """A real Alertmanager for the module (basic auth on), routing to ``am_receiver``."""
    from alertmanager_server import AlertmanagerServer

    with AlertmanagerServer(tmp_path_factory.mktemp("alertmanager"), am_receiver.url) as server:
        yield server


def pytest_sessionstart(session):
    import time

    session.config._workbench_started = time.time()


def pytest_terminal_summary(terminalreporter, config):
    """Name the folder of this run's screenshots, so CI keeps them as artifacts."""
    from browser import artifacts_dir

    folder = artifacts_dir(create=False)
    started = getattr(config, "_workbench_started", 0)
    shots = [p for p in folder.glob("*.png") if p.stat().st_mtime >= started] \
        if folder.is_dir() else []
    if shots:
        terminalreporter.write_line(f"browser screenshots ({len(shots)}): {folder}")
