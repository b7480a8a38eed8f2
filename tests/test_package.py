import importlib
import subprocess
import sys

import pytest

import workbench
from workbench import sources
from workbench.errors import ConfigError


def test_import_is_cheap_and_lazy():
    # A notebook's first line must not pull in every client library.
    code = ("import sys, workbench; heavy = [m for m in ('langfuse', 'prometheus_api_client', "
            "'papermill', 'plotly', 'duckdb') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_report_kernel_imports_no_http_client_for_a_local_store():
    # The daily report notebook's imports, and a deadline, without httpx: it loads with the
    # first source or sink that speaks HTTP.
    code = ("import sys\nfrom workbench import plots\nfrom workbench.reports import daily, html\n"
            "from workbench.deadline import Deadline\nDeadline.after(5)\n"
            "print('httpx' in sys.modules)\n"
            "from workbench.deadline import DeadlineTransport\nprint('httpx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_every_listed_submodule_exists():
    for name in workbench.__all__:
        if name != "__version__":
            assert importlib.util.find_spec(f"workbench.{name}") is not None, name


def test_unknown_attribute_and_unknown_source_are_named():
    with pytest.raises(AttributeError, match="nope"):
        workbench.nope  # noqa: B018
    with pytest.raises(ConfigError, match="unknown source 'tempo2'.*'langfuse'"):
        sources.get_source("tempo2")


def test_incomplete_marks_accumulate():
    import pandas as pd

    df = pd.DataFrame()
    assert sources.incomplete_reason(df) is None
    sources.mark_incomplete(df, "budget spent")
    sources.mark_incomplete(df, "3 malformed items")
    assert sources.incomplete_reason(df) == "budget spent; 3 malformed items"


def test_to_utc_treats_naive_as_utc():
    assert str(sources.to_utc("2026-11-02 03:00")) == "2026-11-02 03:00:00+00:00"
    assert str(sources.to_utc("2026-11-02T03:00+02:00")) == "2026-11-02 01:00:00+00:00"


def test_open_trace_source_checks_before_constructing(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="not a trace source"):
        sources.open_trace_source("prometheus")  # refused by class: PROMETHEUS_URL is unset
    with pytest.raises(ConfigError, match="needs a data directory"):
        sources.open_trace_source("local")
    with pytest.raises(ConfigError, match="nowhere not found.*workbench demo"):
        sources.open_trace_source("local", "nowhere")
    with pytest.raises(ConfigError, match="unknown source 'x'"):
        sources.open_trace_source("x")


def test_langfuse_pulls_are_cached_under_the_workbench_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-test")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test")
    monkeypatch.setenv("LANGFUSE_BASE_URL", "http://127.0.0.1:9")
    src = sources.open_trace_source("langfuse")
    assert str(src.cache_dir) == str(tmp_path / "langfuse")
