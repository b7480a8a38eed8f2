"""The runbook notebooks and the trace explorer executed through papermill (one run each)."""

import html as html_mod
import json
import re
import stat
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from workbench import runbooks
from workbench.errors import ConfigError
from workbench.reports import run_notebook
from workbench.reports.render import external_loads
from workbench.reports.runbook import notebook_path, run_runbook, summary_path_of
from workbench.reports.runner import notebooks_dir
from workbench.sources.local import LocalSource

NAMES = ["cost_spike", "timeout_surge", "hallucination_spike"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from shared_datasets import demo_store

    return demo_store(tmp_path_factory.mktemp("rbnb") / "demo", days=8, traces_per_day=600)


@pytest.fixture(scope="module")
def labels(store):
    return {r.runbook: r for r in LocalSource(store).labels().itertuples()}


@pytest.fixture(scope="module")
def reports(store, labels, tmp_path_factory):
    """name -> HTML path; each runbook's notebook is executed once, over its incident window."""
    out = tmp_path_factory.mktemp("reports")
    cache = {}

    def get(name):
        if name not in cache:
            lab = labels[name]
            cache[name] = run_runbook(name, lab.start, lab.end, "local", store, out)
        return cache[name]

    return get


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("name", NAMES)
def test_runbook_names_a_stored_notebook_with_parameters_and_no_outputs(name):
    rb = runbooks.load(name)
    path = notebook_path(rb)
    assert path.is_file() and path == notebooks_dir() / "runbooks" / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cells = code_cells(nb)
    assert all(c.outputs == [] and c.execution_count is None for c in cells)
    params = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    names = set(re.findall(r"^(\w+) =", params[0].source, re.MULTILINE))
    assert {"start", "end", "source", "data_dir", "agent", "interactive", "redact",
            "summary_path"} <= names
    assert not {n for n in names if re.search("secret|key|token|password", n)}


def test_trace_explorer_is_stored_without_outputs():
    nb = nbformat.read(notebooks_dir() / "trace_explorer.ipynb", as_version=4)
    assert all(c.outputs == [] for c in code_cells(nb))
    params = [c for c in code_cells(nb) if "parameters" in c.metadata.get("tags", [])]
    names = set(re.findall(r"^(\w+) =", params[0].source, re.MULTILINE))
    assert {"start", "end", "source", "data_dir", "agent", "model", "status"} <= names


@pytest.mark.notebook
@pytest.mark.parametrize("name", NAMES)
def test_report_shows_the_injected_cause_first_and_every_section(reports, labels, name):
    html = reports(name).read_text()
    lab = labels[name]
    top = re.findall(r"data-top-suspect=[\"']([^\"']*)[\"']", html)
    assert len(top) == 1 and top[0].startswith(f"{lab.cause_dimension}={lab.cause_value}")
    for heading in ("Summary", "Signals over time", "Attribution", "Drill-down",
                    "Investigation steps", "Mitigations", "Rollback"):
        assert f">{heading}<" in html, heading
    rb = runbooks.load(name)
    text = html_mod.unescape(html)
    for step in rb.spec["rollback"] + rb.spec["investigation"]:
        assert step in text
    # signals, suspects and one waterfall; plotly.js embedded once
    assert html.count("Plotly.newPlot(") == 3 and html.count("plotly.js v") == 1
    assert "Share of the excess" in html and "Trace " in html


@pytest.mark.notebook
@pytest.mark.parametrize("name", NAMES)
def test_report_has_no_code_no_widgets_and_loads_nothing_from_the_network(reports, name):
    html_path = reports(name)
    html = html_path.read_text()
    assert external_loads(html) == [] and len(html.encode()) <= 6 * 1024 * 1024
    assert "nothing needed redacting" in html  # no look-alike in simulated traces is taken
    assert "RunbookBoard(" not in html and "investigate(" not in html
    assert '<div class="jp-InputPrompt' not in html and '<div class="highlight' not in html
    assert "VBox(" not in html and "application/vnd.jupyter.widget-view+json" not in html
    assert "plotly.js v" not in html_path.with_suffix(".ipynb").read_text()
    executed = nbformat.read(html_path.with_suffix(".ipynb"), as_version=4)
    assert not [o for c in code_cells(executed) for o in c.outputs if o.output_type == "error"]


@pytest.mark.notebook
def test_trace_explorer_executes_with_filters(store, labels, tmp_path):
    lab = labels["timeout_surge"]
    params = {"start": lab.start.isoformat(), "end": lab.end.isoformat(), "source": "local",
              "data_dir": str(store), "agent": "planner-agent", "status": "timeout",
              "interactive": False}
    executed = run_notebook(notebooks_dir() / "trace_explorer.ipynb", params, tmp_path)
    nb = nbformat.read(executed, as_version=4)
    html = "".join(o.get("data", {}).get("text/html", "") for c in code_cells(nb)
                   for o in c.outputs)
    n = int(re.search(r"<p>([\d,]+) traces match", html).group(1).replace(",", ""))
    view = LocalSource(store).traces(lab.start, lab.end, agent="planner-agent", status="timeout")
    assert n == len(view) > 0
    assert html.count("<td>timeout</td>") == n and "<td>ok</td>" not in html


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="nope"), "runbook file .* not found"),
    (dict(end="2026-11-06T08:00Z"), "is not after its start"),
    (dict(source="jaeger"), "unknown source 'jaeger'"),
    (dict(data_dir="no/such/store"), "data directory no/such/store not found"),
])
def test_run_runbook_refuses_bad_input_before_starting_a_kernel(store, tmp_path, kwargs,
                                                                message):
    args = dict(name="cost_spike", start="2026-11-06T09:00Z", end="2026-11-06T12:00Z",
                source="local", data_dir=store, out_dir=tmp_path)
    args.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        run_runbook(**args)
    assert list(tmp_path.iterdir()) == []


def test_two_agents_runs_of_one_window_keep_their_own_files(store, tmp_path, monkeypatch):
    """The runbook's notebook and HTML are named per agent, as post-mortems are: on-call
    looking at two agents of one incident keeps both."""
    from types import SimpleNamespace

    from workbench.reports import runner
    from workbench.reports.postmortem import postmortem_stem

    written = []

    def executed(nb, params, out, output_name, **_):
        written.append(output_name)
        Path(params["summary_path"]).write_text("{}")
        (out / output_name).write_text("{}")
        return out / output_name

    def rendered(executed, html, **_):
        html.write_text("<html></html>")
        return SimpleNamespace(html=html, redaction={})

    monkeypatch.setattr(runner, "run_notebook", executed)
    monkeypatch.setattr(runner, "render_report", rendered)
    paths = [run_runbook("cost_spike", "2026-11-06T09:00Z", "2026-11-06T12:00Z", "local", store,
                         tmp_path, agent=agent) for agent in (None, "support-bot", "sql agent/2")]
    assert [p.name for p in paths] == ["cost_spike-20261106T0900.html",
                                       "cost_spike-20261106T0900-support-bot.html",
                                       "cost_spike-20261106T0900-sql-agent-2.html"]
    assert written == [p.with_suffix(".ipynb").name for p in paths]
    assert sorted(p.name for p in tmp_path.glob("*.summary.json")) == \
        sorted(summary_path_of(p).name for p in paths)
    assert postmortem_stem("cost_spike", "2026-11-06T09:00Z", "sql agent/2") == \
        "postmortem-" + paths[-1].stem


def test_a_run_whose_notebook_wrote_no_summary_fails(store, tmp_path, monkeypatch):
    """An earlier run's summary beside the HTML is not this run's: a notebook that wrote none
    (an edited copy without the last cell) is a failed run, never a stale verdict."""
    from workbench.errors import ReportError
    from workbench.reports import runner

    stale = tmp_path / "cost_spike-20261106T0900.summary.json"
    stale.write_text('{"severity": "none"}')

    def executed(nb, params, out, output_name, **_):
        (out / output_name).write_text("{}")
        return out / output_name

    monkeypatch.setattr(runner, "run_notebook", executed)
    with pytest.raises(ReportError, match=r"cost_spike\.ipynb ran but wrote no summary "
                                          r"\(cost_spike-20261106T0900\.summary\.json\)"):
        run_runbook("cost_spike", "2026-11-06T09:00Z", "2026-11-06T12:00Z", "local", store,
                    tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [stale.name]  # nothing published
    assert stale.read_text() == '{"severity": "none"}'


@pytest.mark.notebook
@pytest.mark.parametrize("name", NAMES)
def test_summary_json_holds_the_investigations_figures(reports, store, labels, name):
    """``<stem>.summary.json`` beside the HTML: the numbers the summary section shows, from
    the same computation (an investigation of the same window here)."""
    from workbench.investigate import investigate

    html = reports(name)
    path = summary_path_of(html)
    assert path.name == f"{html.stem}.summary.json" and path.parent == html.parent
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    s = json.loads(path.read_text())
    lab = labels[name]
    inv = investigate(name, "local", lab.start, lab.end, data_dir=store)
    want = inv.summary()
    table = inv.signal_table().set_index("signal")
    assert s["report"] == "runbook" and s["runbook"] == name and s["title"] == want["title"]
    assert s["source"] == "local" and s["agent"] is None
    assert s["window"] == {"start": lab.start.isoformat(), "end": lab.end.isoformat()}
    assert s["baseline"] == {"start": inv.baseline_start.isoformat(),
                             "end": inv.judge.baseline_end.isoformat()}
    assert s["severity"] == inv.severity != "none" and s["verdict"] == inv.verdict == inv.severity
    p = s["primary"]
    # the figures the headline quotes: the most urgent finding's, in its own scope
    head = want["headline"]
    assert head["finding"] and p["signal"] == want["signal"] == inv.lead.signal
    assert (p["observed"], p["expected"], p["p_value"], p["units"]) == \
        (want["observed"], want["baseline"], want["p_value"], want["units"]) == \
        (inv.lead.observed, inv.lead.baseline, inv.lead.p_value, head["units"])
    assert p["ratio"] == head["ratio"] == inv.lead.ratio and abs(p["ratio"] - 1) > 0.2
    assert p["unit"] == head["unit"] and p["scope"] == head["scope"]
    assert s["attributed_signal"] == inv.primary == want["primary_signal"]
    assert [r["signal"] for r in s["signals"]] == list(table.index)
    assert [r["observed"] for r in s["signals"]] == \
        [None if pd.isna(x) else x for x in table["observed"]]
    assert s["firing"] == want["firing"] and s["firing"]
    assert [(f["signal"], f["status"], f["fingerprint"]) for f in s["findings"]] == \
        [(f.signal, f.status, f.fingerprint) for f in inv.findings]
    assert s["top_suspect"] == want["top_suspect"]
    assert s["top_suspect"].startswith(f"{lab.cause_dimension}={lab.cause_value}")
    assert [x["suspect"] for x in s["suspects"]] == inv.suspects()["suspect"].head(5).tolist()
    assert s["suspects"][0]["contribution"] == inv.suspects()["contribution"].iloc[0]
    assert s["traces_in_window"] == want["traces_in_window"] > 0
    assert s["notes"] == want["notes"] and s["unjudged"] == want["unjudged"]
    assert s["degraded"] is False and s["problems"] == []
    assert s["parameters"] == {"start": lab.start.isoformat(), "end": lab.end.isoformat(),
                               "source": "local", "data_dir": str(store.resolve()),
                               "agent": ""}
    assert s["outputs"] == {"html": str(html), "notebook": str(html.with_suffix(".ipynb"))}
    assert s["redaction"]["enabled"] is True and "report" in s["redaction"]["parts"]
