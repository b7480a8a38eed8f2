"""The daily report's "Metrics (Prometheus)" section.

Against a REAL Prometheus (Debian ``prometheus``, TSDB backfilled with promtool) holding the
OpenMetrics export of the same simulated days as a local store: the report over the demo
incidents must see the same spikes from Prometheus as from the traces. One papermill run; the
fault paths and the peak arithmetic run in-process.
"""

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from prometheus_server import PrometheusServer, build_tsdb, free_port
from workbench import runbooks
from workbench.cli import EXIT_BAD_INPUT, EXIT_OK, main
from workbench.metrics_overview import (
    MetricsSection,
    hourly_means,
    metric_peaks,
    metrics_section,
)
from workbench.reports import daily
from workbench.reports.summary import jsonable, read_summary
from workbench.runbooks import Runbook
from workbench.sources.local import LocalSource
from workbench.sources.prometheus import PrometheusSource

DAYS = 4  # incidents: timeout surge on day 2, cost spike on day 3, hallucinations on day 4
DAY = "2026-11-05"
STEM = f"daily-report-{DAY}"
H = pd.Timedelta(hours=1)
HALF = pd.Timedelta(minutes=30)  # a sample at half past lands in the hour it is in


@pytest.fixture(scope="module")
def dataset():
    from workbench.simulate import generate

    return generate(seed=7, days=DAYS, traces_per_day=2000, start="2026-11-02")


@pytest.fixture(scope="module")
def store(dataset, tmp_path_factory):
    from workbench.simulate.writer import write_demo

    return write_demo(tmp_path_factory.mktemp("store") / "demo", dataset=dataset)


@pytest.fixture(scope="module")
def server(dataset, tmp_path_factory):
    from workbench.simulate.openmetrics import to_openmetrics

    root = tmp_path_factory.mktemp("prometheus")
    to_openmetrics(dataset, scrape_interval="60s", path=root / "demo.om.txt")
    tsdb = build_tsdb(root / "demo.om.txt", root / "tsdb")
    (root / "demo.om.txt").unlink()  # ~200 MB
    srv = PrometheusServer(tsdb, root / "server").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def run(server, store, tmp_path_factory):
    """``workbench report daily`` over the whole store, Prometheus configured through the env."""
    out = tmp_path_factory.mktemp("out")
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROMETHEUS_URL", server.url)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["report", "daily", "--date", DAY, "--data", str(store),
                         "--days", str(DAYS), "--alert-days", str(DAYS), "--out", str(out)])
    summary = read_summary(out / f"{STEM}.summary.json")
    return {"code": code, "stderr": stderr.getvalue(), "out": out, "summary": summary,
            "html": (out / f"{STEM}.html").read_text()}


@pytest.fixture(scope="module")
def labels(dataset):
    return dataset.labels.set_index("runbook")


def series(summary, query, agent):
    return next(r for r in summary["metrics"]["series"]
                if r["query"] == query and r["labels"].get("agent_id") == agent)


def headline(summary, query):
    return next(r for r in summary["metrics"]["queries"] if r["query"] == query)


def trace_hourly(store, agent, value):
    """The traces' own hourly series for ``agent`` (by end time, as the exporter counts)."""
    t = LocalSource(store).traces("2026-11-02", "2026-11-06")
    t = t[t["agent"] == agent]
    return value(t.groupby(t["end_time"].dt.floor("h")))


def ts(text):
    return pd.Timestamp(text)


# -- the report against the real Prometheus --------------------------------------------------------

@pytest.mark.prometheus
@pytest.mark.notebook
def test_report_has_a_metrics_section_for_every_runbook_query(run, server):
    assert run["code"] == EXIT_OK, run["stderr"]
    s = run["summary"]
    assert s["degraded"] is False and s["degraded_sources"] == []
    m = s["metrics"]
    assert m["source"] == {"name": "prometheus", "status": "ok", "degraded": False,
                           "reason": None, "host": server.url}
    assert m["window"] == {"start": "2026-11-02T00:00:00+00:00",
                           "end": "2026-11-06T00:00:00+00:00"}
    expected = {(rb.name, q) for rb in runbooks.load_all().values() for q in rb.prometheus}
    assert {(q["runbook"], q["query"]) for q in m["queries"]} == expected
    assert {(q["runbook"], q["query"]) for q in m["series"]} == expected
    assert all(q["headline"] for q in m["queries"])
    assert all(r["buckets"] <= DAYS * 24 for r in m["series"])
    html = run["html"]
    assert "Metrics (Prometheus)" in html and "trace findings that hour" in html
    assert html.count("Plotly.newPlot(") == 3  # the two trace charts and the metrics panels
    assert "not configured" not in html


@pytest.mark.prometheus
@pytest.mark.notebook
def test_cost_per_request_peak_is_the_cost_incident_seen_by_the_traces(run, labels, store):
    s = run["summary"]
    incident = labels.loc["cost_spike"]
    top = headline(s, "cost_per_request")
    assert top["labels"] == {"agent_id": "tool-agent"}
    peak = ts(top["peak_start"])
    assert incident.start <= peak < incident.end
    # the hourly detector's finding over the traces covers the same hour, and the section says so
    hourly = [f for f in s["findings"] if f["status"] == "firing"
              and (f["runbook"], f["signal"]) == ("cost_spike", "cost_per_request")]
    assert hourly and any(ts(f["start"]) <= peak < ts(f["end"]) for f in hourly)
    assert "cost_per_request" in top["trace_findings"]
    assert "daily_cost_usd" in top["trace_findings"]
    critical = runbooks.load("cost_spike").signal("cost_per_request")["thresholds"]["critical"]
    assert top["ratio"] > critical
    # the traces' own cost per request in that hour is as high as Prometheus says
    cpr = trace_hourly(store, "tool-agent", lambda g: g["cost_usd"].sum() / g.size())
    assert top["peak_value"] == pytest.approx(cpr[peak], rel=0.5)
    assert cpr[peak] > critical * cpr.median()
    # the other agents' cost per request (planner-agent's priced from the list prices) is flat
    for agent in ("rag-agent", "planner-agent"):
        assert series(s, "cost_per_request", agent)["ratio"] < top["ratio"] / 4


@pytest.mark.prometheus
@pytest.mark.notebook
def test_timeout_rate_peak_is_the_timeout_surge_seen_by_the_traces(run, labels, store):
    s = run["summary"]
    incident = labels.loc["timeout_surge"]
    top = headline(s, "timeout_rate")
    assert top["labels"] == {"agent_id": "planner-agent"}
    peak = ts(top["peak_start"])
    assert incident.start <= peak < incident.end
    hourly = [f for f in s["findings"] if f["status"] == "firing"
              and (f["runbook"], f["signal"]) == ("timeout_surge", "timeout_rate")]
    assert hourly and any(ts(f["start"]) <= peak < ts(f["end"]) for f in hourly)
    assert {"timeout_rate", "daily_timeout_rate"} <= set(top["trace_findings"])
    share = trace_hourly(store, "planner-agent",
                         lambda g: g["status"].agg(lambda x: (x == "timeout").mean()))
    assert top["peak_value"] == pytest.approx(share[peak], rel=0.5)
    # the other agents' worst five minutes: a timeout among a handful of requests, at most
    for agent in ("rag-agent", "tool-agent"):
        assert series(s, "timeout_rate", agent)["peak_value"] < top["peak_value"] / 2
    # a median of 0 has no finite ratio: JSON says null, the number stays in "median"
    assert top["median"] == 0 and top["ratio"] is None


@pytest.mark.prometheus
@pytest.mark.notebook
def test_hallucination_rate_peak_is_the_prompt_rollout_seen_by_the_traces(run, labels):
    s = run["summary"]
    incident = labels.loc["hallucination_spike"]
    rag = series(s, "hallucination_rate", "rag-agent")
    peak = ts(rag["peak_start"])
    assert incident.start <= peak < incident.end
    assert rag["ratio"] > 2
    hourly = [f for f in s["findings"] if f["status"] == "firing"
              and (f["runbook"], f["signal"]) == ("hallucination_spike", "hallucination_rate")]
    assert hourly and any(ts(f["start"]) <= peak < ts(f["end"]) for f in hourly)


# -- faults and the unconfigured case (no kernel) --------------------------------------------------

def test_a_dead_prometheus_degrades_the_report_not_the_trace_part(store, monkeypatch,
                                                                  tmp_path):
    port = free_port()
    monkeypatch.setenv("PROMETHEUS_URL", f"http://127.0.0.1:{port}")
    rep = daily.build(DAY, "local", store, days=2)
    assert rep.degraded and not rep.source.degraded
    reason = rep.metrics.reason
    assert reason.startswith("SourceUnavailable") and "connection refused" in reason
    assert rep.degraded_sources() == [{"name": "prometheus", "reason": reason}]
    head = rep.header_html()
    assert "Source ok." in head and "Source <b>prometheus</b>" in head
    assert f"127.0.0.1:{port}" in head
    assert "DEGRADED REPORT" in rep.metrics_html() and rep.metrics_figure() is None
    delivery = rep.send_alerts(None, tmp_path)
    degraded = [a for a in delivery.sent if a.name == "DailyReportSourceDegraded"]
    assert [a.labels["source"] for a in degraded] == ["prometheus"]
    s = jsonable(rep.summary({"date": DAY}, delivery))
    assert s["degraded"] is True and s["source"]["status"] == "ok"
    assert s["metrics"]["source"]["status"] == "degraded" and s["metrics"]["queries"] == []
    assert s["kpis"] and sum(k["traces"] for k in s["kpis"]) > 0


def test_unconfigured_prometheus_is_one_line_not_an_error(store):
    rep = daily.build(DAY, "local", store, days=2)
    line = rep.metrics_html()
    assert "\n" not in line and line.startswith("<p>") and "PROMETHEUS_URL" in line
    assert not rep.degraded and rep.metrics_figure() is None
    m = jsonable(rep.summary({"date": DAY}, None))["metrics"]
    assert m["configured"] is False and m["source"]["status"] == "not configured"
    assert m["queries"] == [] and m["series"] == []


def test_a_bad_prometheus_url_is_bad_input_before_a_kernel_starts(store, tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", "ftp://metrics.internal")
    code = main(["report", "daily", "--date", DAY, "--data", str(store),
                 "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == EXIT_BAD_INPUT and out == "" and "PROMETHEUS_URL" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.prometheus
def test_a_rejected_query_degrades_the_section_and_keeps_the_rest(server):
    good = runbooks.load("cost_spike")
    spec = {**good.spec, "prometheus": {"broken": "sum(",
                                        "requests": "sum(api_requests_total)"}}
    with PrometheusSource(server.url) as src:
        section = metrics_section([Runbook("cost_spike", good.path, spec)], "2026-11-03",
                                  "2026-11-04", src)
    assert section.degraded and "cost_spike.broken" in section.reason
    assert section.reason.startswith("incomplete:")
    assert list(section.peaks["metric"]) == ["requests"]
    assert section.hourly["timestamp"].min() == ts("2026-11-03T00:00Z")
    assert section.hourly["timestamp"].max() == ts("2026-11-03T23:00Z")
    assert section.figure() is not None


# -- the peak arithmetic ---------------------------------------------------------------------------

def frame(rows):
    df = pd.DataFrame(rows, columns=["timestamp", "metric", "value", "runbook", "agent_id"])
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True).astype("datetime64[us, UTC]")
    for c in ("metric", "runbook", "agent_id"):
        df[c] = df[c].astype("string")
    return df


def test_a_sample_on_the_hour_counts_for_the_hour_before_and_inf_is_a_gap():
    f = frame([("2026-11-03T01:00Z", "q", 1.0, "rb", "a"),   # closes 00:00-01:00
               ("2026-11-03T01:30Z", "q", 3.0, "rb", "a"),
               ("2026-11-03T02:00Z", "q", 5.0, "rb", "a"),
               ("2026-11-03T02:30Z", "q", np.inf, "rb", "a"),  # a gap, not infinity
               ("2026-11-03T03:00Z", "q", 7.0, "rb", "a")])
    h = hourly_means(f, "2026-11-03T01:00Z", "2026-11-04")
    assert list(h["timestamp"]) == [ts("2026-11-03T01:00Z"), ts("2026-11-03T02:00Z")]
    assert list(h["value"]) == [4.0, 7.0]
    assert list(h["agent_id"]) == ["a", "a"] and list(h["runbook"]) == ["rb", "rb"]


def test_the_headline_is_the_largest_excess_not_the_largest_ratio():
    hours = pd.date_range("2026-11-03T01:00Z", periods=6, freq="h")
    spike = [1.0, 1.0, 10.0, 1.0, 1.0, 1.0]   # a real spike: excess 9, ratio 10
    blip = [0.0, 0.0, 0.0, 0.01, 0.0, 0.0]    # a mostly-zero series: ratio inf, excess 0.01
    f = frame([(t + HALF, "q", v, "rb", agent) for agent, vals in (("busy", spike),
                                                                    ("quiet", blip))
               for t, v in zip(hours, vals)])
    peaks = metric_peaks(hourly_means(f)).set_index("series")
    busy, quiet = peaks.loc["agent_id=busy"], peaks.loc["agent_id=quiet"]
    assert busy["peak_start"] == hours[2] and busy["peak_value"] == 10.0
    assert busy["median"] == 1.0 and busy["ratio"] == 10.0 and busy["excess"] == 9.0
    assert quiet["median"] == 0.0 and np.isinf(quiet["ratio"])
    assert bool(busy["headline"]) and not bool(quiet["headline"])
    assert busy["labels"] == {"agent_id": "busy"} and busy["buckets"] == 6


def test_peak_records_name_the_trace_findings_of_their_hour():
    from workbench.findings import Finding

    hours = pd.date_range("2026-11-03T01:00Z", periods=4, freq="h")
    f = frame([(t + HALF, "q", v, "rb", "a") for t, v in zip(hours, [1.0, 9.0, 1.0, 1.0])])
    section = MetricsSection(configured=True, host="http://prom:9090")
    section.hourly = hourly_means(f)
    section.peaks = metric_peaks(section.hourly)

    def finding(runbook, signal, start, hours_long, status="firing"):
        return Finding(runbook=runbook, signal=signal, severity="warning", start=start,
                       end=start + hours_long * H, observed=1.0, baseline=1.0, summary="",
                       status=status)

    found = [finding("rb", "inside", hours[1] - H, 2), finding("rb", "before", hours[0], 1),
             finding("other", "inside", hours[1], 1),
             finding("rb", "unjudged", hours[1], 1, status="insufficient_data")]
    [rec] = section.peak_records(found, headline_only=True)
    assert rec["peak_start"] == hours[1] and rec["peak_end"] == hours[1] + H
    assert rec["trace_findings"] == ["inside"]
    assert "inside" in section.html(found) and "<td>9</td>" in section.html(found)
    assert json.loads(json.dumps(jsonable(section.to_dict(found))))["queries"][0]["ratio"] == 9.0
