"""The daily report notebook executed through papermill over a small demo store (one run)."""

import json
import re

import nbformat
import pandas as pd
import pytest

from workbench import runbooks
from workbench.findings import Finding
from workbench.reports import daily_report
from workbench.reports.render import external_loads
from workbench.reports.runner import notebooks_dir
from workbench.sources.local import LocalSource

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from shared_datasets import demo_store

    return demo_store(tmp_path_factory.mktemp("store") / "demo", days=7, traces_per_day=500)


@pytest.fixture(scope="module")
def labels(store):
    return {r.runbook: r.start.floor("D") for r in LocalSource(store).labels().itertuples()}


@pytest.fixture(scope="module")
def run(store, labels, tmp_path_factory):
    """The report for the cost spike's day, with the four days before it as context."""
    out = tmp_path_factory.mktemp("out")
    result = daily_report(labels["cost_spike"], "local", store, out, days=5, alert_days=1)
    return result, out


def daily_fingerprint(runbook, kpi, day):
    return Finding(runbook=runbook, signal=f"daily_{kpi}", severity="warning", start=day,
                   end=day, observed=0.0, baseline=0.0, summary="",
                   labels={"day": f"{day:%Y-%m-%d}"}).fingerprint


def test_stored_notebook_has_no_outputs_and_a_parameters_cell():
    nb = nbformat.read(notebooks_dir() / "daily_report.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    names = set(re.findall(r"^(\w+) =", params[0].source, re.MULTILINE))
    assert {"date", "source", "data_dir", "out_dir", "days"} <= names
    assert not {n for n in names if re.search("secret|key|token|password", n)}


def test_outputs_sit_side_by_side(run, labels):
    result, out = run
    stem = f"daily-report-{labels['cost_spike']:%Y-%m-%d}"
    assert result.html == out.resolve() / f"{stem}.html"
    assert result.summary_path == out.resolve() / f"{stem}.summary.json"
    assert result.notebook.is_file() and (out / "alerts.jsonl").is_file()
    assert not list(out.glob("*-err.ipynb"))


def test_html_has_no_code_and_loads_nothing_from_the_network(run):
    html = run[0].html.read_text()
    assert "daily.build(" not in html and "plots.show(" not in html
    assert '<div class="jp-CodeMirrorEditor' not in html and '<div class="highlight' not in html
    assert '<div class="jp-InputPrompt' not in html and '<div class="jp-OutputPrompt' not in html
    assert external_loads(html) == []
    assert html.count("plotly.js v") == 1 and html.count("Plotly.newPlot(") == 2
    assert "Daily report" in html and "Alerts sent" in html
    assert len(html.encode()) <= 6 * 1024 * 1024


def test_executed_notebook_beside_the_report_holds_no_plotlyjs(run):
    result, _ = run
    kept = result.notebook.read_text()
    assert "plotly.js v" not in kept and result.notebook.stat().st_size < 1024 * 1024
    figures = [o for c in nbformat.read(result.notebook, as_version=4).cells
               if c.cell_type == "code" for o in c.outputs
               if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) == 2 and all("text/html" not in o["data"] for o in figures)


def test_summary_says_redaction_was_on_and_what_it_counted(run):
    red = run[0].summary["redaction"]
    assert red["enabled"] is True and set(red["parts"]) == {"summary", "report"}
    assert red["count"] == sum(p["count"] for p in red["parts"].values())
    # The simulated traces hold no secrets: trace ids, timestamps, costs and versions are left.
    assert red["count"] == 0, red
    assert run[0].summary["parameters"]["redact"] is True


def test_kpi_table_has_a_row_per_day_and_flags_the_incident_days(run, labels):
    result, _ = run
    s = result.summary
    days = [k["day"][:10] for k in s["kpis"]]
    cost_day = labels["cost_spike"]
    assert days == [f"{cost_day - pd.Timedelta(days=n):%Y-%m-%d}" for n in range(4, -1, -1)]
    html = result.html.read_text()
    flags = re.findall(r"<td>(ANOMALOUS: [^<]*)</td>", html)
    assert sum("daily_cost_usd" in f for f in flags) == 1
    assert sum("daily_timeout_rate" in f for f in flags) == 1
    row = re.search(rf"{cost_day:%Y-%m-%d}</td>.*?</tr>", html, re.DOTALL).group(0)
    assert "daily_cost_usd" in row and "ANOMALOUS" in row


def test_daily_checks_fire_on_the_injected_days(run, labels):
    s = run[0].summary
    fired = {(f["signal"], f["start"][:10]) for f in s["findings"]
             if f["status"] == "firing" and f["signal"].startswith("daily_")}
    assert fired == {("daily_cost_usd", f"{labels['cost_spike']:%Y-%m-%d}"),
                     ("daily_timeout_rate", f"{labels['timeout_surge']:%Y-%m-%d}")}
    cost = next(f for f in s["findings"] if f["signal"] == "daily_cost_usd"
                and f["status"] == "firing")
    assert cost["ratio"] > 1.5 and cost["observed"] == pytest.approx(
        next(k["cost_usd"] for k in s["kpis"] if k["day"].startswith(cost["start"][:10])))


def test_alerts_file_holds_the_report_day_findings_only(run, store, labels):
    result, out = run
    lines = [json.loads(x) for x in (out / "alerts.jsonl").read_text().splitlines()]
    fingerprints = {a["fingerprint"] for a in lines}
    # the cost day's check alerts; the timeout day is context (alert_days=1), so it does not
    assert daily_fingerprint("cost_spike", "cost_usd", labels["cost_spike"]) in fingerprints
    assert daily_fingerprint("timeout_surge", "timeout_rate",
                             labels["timeout_surge"]) not in fingerprints
    assert fingerprints == {a["fingerprint"] for a in result.summary["alerts"]["sent"]}
    assert len(fingerprints) == len(lines)
    assert all(a["startsAt"] >= f"{labels['cost_spike']:%Y-%m-%d}" or
               a["endsAt"] > f"{labels['cost_spike']:%Y-%m-%d}" for a in lines)
    cost = next(a for a in lines if a["labels"]["signal"] == "daily_cost_usd")
    assert cost["labels"]["alertname"] == "CostSpikeDailyCostUsd"
    assert cost["annotations"]["runbook_notebook"] == runbooks.load("cost_spike").notebook


def test_detector_findings_of_the_report_day_are_in_the_summary(run, store, labels):
    from workbench.analysis import detect_all

    day = labels["cost_spike"]
    src = LocalSource(store)
    lo, hi = day - pd.Timedelta(days=11), day + pd.Timedelta(days=1)
    expected = detect_all(runbooks.load_all(), src.traces(lo, hi), src.observations(lo, hi),
                          src.scores(lo, hi), day, hi)
    got = {f["fingerprint"] for f in run[0].summary["findings"]
           if not f["signal"].startswith("daily_")}
    assert got == {f.fingerprint for f in expected}


def test_summary_content(run, store, labels):
    result, out = run
    s = result.summary
    assert s["report"] == "daily" and s["date"] == f"{labels['cost_spike']:%Y-%m-%d}"
    assert s["source"] == {"name": "local", "status": "ok", "degraded": False, "reason": None}
    assert s["degraded"] is False
    assert s["parameters"]["source"] == "local" and s["parameters"]["days"] == 5
    assert s["parameters"]["data_dir"] == str(store.resolve())
    assert s["outputs"]["html"] == str(result.html)
    assert {c["kpi"] for c in s["checks"]} == {"cost_usd", "timeout_rate", "hallucination_rate"}
    assert s["alerts"]["errors"] == [] and s["alerts"]["spooled"] == []
    for f in s["findings"]:
        assert set(f) >= {"runbook", "signal", "severity", "status", "fingerprint", "summary"}
