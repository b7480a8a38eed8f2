"""Post-mortems through ``--source langfuse``: the Langfuse contract double serves the simulated
week (reached through the official SDK), and the post-mortem of each incident shows the same
timeline, impact and cause as the post-mortem of the same week in a local store."""

from __future__ import annotations

import contextlib
import io
import json
import uuid

import pandas as pd
import pytest

from tests.doubles import double_from_dataset
from workbench.cli import EXIT_OK, main
from workbench.reports import postmortem as pm

pytestmark = pytest.mark.notebook

SECRET = f"sk-lf-{uuid.uuid4().hex}"  # unique, so a hit can only be a leak
CAUSE = {"cost_spike": "tool_name=search_api in agent=tool-agent",
         "timeout_surge": "tool_name=web_fetch in agent=planner-agent",
         "hallucination_spike": "prompt_version=8 in prompt_name=rag-answer"}


@pytest.fixture(scope="module")
def dataset():
    from workbench.simulate import generate

    return generate(seed=7, days=7, traces_per_day=800, keep_spans=True)


@pytest.fixture(scope="module")
def store(dataset, tmp_path_factory):
    from workbench.simulate.writer import write_demo

    return write_demo(tmp_path_factory.mktemp("store") / "demo", dataset=dataset)


@pytest.fixture(scope="module")
def double(dataset):
    with double_from_dataset(dataset, secret_key=SECRET) as d:
        yield d


@pytest.fixture(scope="module")
def through_langfuse(double, dataset, tmp_path_factory, own_cache):
    """``workbench postmortem --source langfuse`` for each incident, over its day."""
    out = tmp_path_factory.mktemp("pm-langfuse")
    runs = {}
    env = {"LANGFUSE_BASE_URL": double.base_url, "LANGFUSE_PUBLIC_KEY": "pk-lf-double-0001",
           "LANGFUSE_SECRET_KEY": SECRET,  # a cache (and an alert ledger) of its own
           "WORKBENCH_CACHE_DIR": str(own_cache(tmp_path_factory.mktemp("cache")))}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        for lab in dataset.labels.itertuples():
            day = lab.start.floor("D")
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = main(["postmortem", "--runbook", lab.runbook, "--start",
                             f"{day:%Y-%m-%dT%H:%MZ}", "--end",
                             f"{day + pd.Timedelta(days=1):%Y-%m-%dT%H:%MZ}", "--source",
                             "langfuse", "--out", str(out)])
            runs[lab.runbook] = (code, stdout.getvalue(), stderr.getvalue(), day)
    return out, runs


@pytest.mark.parametrize("name", sorted(CAUSE))
def test_langfuse_postmortem_equals_the_local_stores(through_langfuse, store, dataset, name):
    out, runs = through_langfuse
    code, stdout, stderr, day = runs[name]
    assert code == EXIT_OK, stderr
    stem = f"postmortem-{name}-{day:%Y%m%dT%H%M}"
    s = json.loads((out / f"{stem}.summary.json").read_text())
    assert s["source"] == "langfuse" and s["degraded"] is False
    local = pm.build(name, "local", day, day + pd.Timedelta(days=1), data_dir=store, ledger=[])
    want = json.loads(json.dumps(local.summary({}), default=str))
    lab = dataset.labels[dataset.labels["runbook"] == name].iloc[0]
    assert {e["event"]: e["utc"] for e in s["timeline"]} == \
        {e["event"]: e["utc"] for e in want["timeline"]}
    assert s["timeline"][0]["utc"] == f"{lab['start']:%Y-%m-%d %H:%M}"
    got, exp = s["impact"], want["impact"]
    for key in ("requests", "users", "errors", "timeouts"):
        assert got[key] == exp[key], key
    for key in ("cost_usd", "expected_cost_usd", "excess_cost_usd"):
        assert got[key] == pytest.approx(exp[key], rel=1e-9), key
    for key in ("observed", "expected", "units"):
        assert got["primary"][key] == pytest.approx(exp["primary"][key], rel=1e-9), key
    assert [c["suspect"] for c in s["root_cause"]] == [c["suspect"] for c in want["root_cause"]]
    assert s["root_cause"][0]["suspect"] == CAUSE[name]
    nb = json.loads((out / f"{stem}.ipynb").read_text())
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert [o for o in outputs if o["output_type"] in ("stream", "error")] == []
    assert "widgets" not in nb["metadata"]  # no progress bar in a written document
    md = (out / f"{stem}.md").read_text()
    assert "| Source | langfuse |" in md and "--source langfuse" in md
    assert "## Timeline" in md and "## Impact" in md and "## Root cause" in md


def test_no_secret_in_a_langfuse_postmortem(through_langfuse, double):
    out, runs = through_langfuse
    assert double.requests_to("/api/public/v2/observations")  # really pulled from the double
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path.name
    for code, stdout, stderr, _ in runs.values():
        assert SECRET not in stdout and SECRET not in stderr


def test_a_runbook_rendered_from_langfuse_has_no_progress_bar(double, dataset, tmp_path,
                                                               monkeypatch, own_cache):
    """``workbench runbook --source langfuse`` writes a document: the pull shows no progress
    widget in it, and its findings match the source's data."""
    for k, v in {"LANGFUSE_BASE_URL": double.base_url, "LANGFUSE_PUBLIC_KEY": "pk-lf-double-0001",
                 "LANGFUSE_SECRET_KEY": SECRET,
                 "WORKBENCH_CACHE_DIR": str(own_cache(tmp_path / "cache"))}.items():
        monkeypatch.setenv(k, v)
    lab = dataset.labels[dataset.labels["runbook"] == "cost_spike"].iloc[0]
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        code = main(["runbook", "cost_spike", "--start", f"{lab['start']:%Y-%m-%dT%H:%MZ}",
                     "--end", f"{lab['end']:%Y-%m-%dT%H:%MZ}", "--source", "langfuse",
                     "--out", str(tmp_path / "out")])
    assert code == EXIT_OK, stderr.getvalue()
    (nb_path,) = (tmp_path / "out").glob("*.ipynb")
    nb = json.loads(nb_path.read_text())
    assert "widgets" not in nb["metadata"]
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert [o for o in outputs if o["output_type"] in ("stream", "error")] == []
    (html_path,) = (tmp_path / "out").glob("*.html")
    assert "search_api" in html_path.read_text()  # the injected cause, pulled from the double
    assert SECRET not in html_path.read_text() and SECRET not in nb_path.read_text()
