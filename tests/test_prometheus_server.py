"""The Prometheus source and the metrics overview against a REAL Prometheus.

The server (Debian package ``prometheus``) serves a TSDB backfilled with promtool from the
simulator's OpenMetrics export of a 3-day demo with the three default incidents; the runbooks'
PromQL must find those incidents in its answers. Faults a real server will not produce on demand
(slow answers, 401, HTML) come from a tiny local HTTP server; "unreachable" is a closed port.
"""

import httpx
import numpy as np
import pandas as pd
import pytest

from prometheus_server import CannedServer, demo_tsdb, free_port, serve_demo
from workbench import runbooks, schema
from workbench.errors import (
    SourceAuthError,
    SourceQueryError,
    SourceTimeout,
    SourceUnavailable,
)
from workbench.metrics_overview import metrics_overview, plot_metrics_overview
from workbench.runbooks import Runbook
from workbench.sources import incomplete_reason
from workbench.sources.prometheus import PrometheusSource

pytestmark = pytest.mark.prometheus

START, END = pd.Timestamp("2026-11-02", tz="UTC"), pd.Timestamp("2026-11-05", tz="UTC")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = serve_demo(tmp_path_factory.mktemp("prometheus"))
    yield srv
    srv.stop()


@pytest.fixture
def source(server):
    with PrometheusSource(server.url) as src:
        yield src


@pytest.fixture(scope="module")
def incidents():
    return demo_tsdb()[1].labels.set_index("runbook")


def _window_vs_baseline(frame, agent, window):
    """Mean of ``agent``'s series inside ``[start, end)`` and outside it (2 h margin)."""
    s = frame[frame["agent_id"] == agent].set_index("timestamp")["value"]
    s = s[np.isfinite(s)]
    inside = s[(s.index >= window.start) & (s.index < window.end)]
    margin = pd.Timedelta(hours=2)
    outside = s[(s.index < window.start - margin) | (s.index >= window.end + margin)]
    return inside.mean(), outside.mean()


# -- the runbooks' PromQL finds the injected incidents -------------------------------------------

def test_cost_per_request_of_tool_agent_spikes_in_the_cost_incident(source, incidents):
    out = source.runbook_queries("cost_spike", START, END, step="5m")
    assert set(out) == set(runbooks.load("cost_spike").prometheus)
    cpr = out["cost_per_request"]
    assert (cpr["metric"] == "cost_per_request").all()
    inside, baseline = _window_vs_baseline(cpr, "tool-agent", incidents.loc["cost_spike"])
    assert inside > 4 * baseline
    o_in, o_base = _window_vs_baseline(cpr, "rag-agent", incidents.loc["cost_spike"])
    assert o_in < 1.5 * o_base
    # planner-agent's spans (OTel GenAI semconv) carry no cost: priced from the list prices, its
    # cost per request stays flat too
    p_in, p_base = _window_vs_baseline(cpr, "planner-agent", incidents.loc["cost_spike"])
    assert p_in < 1.5 * p_base
    cost = out["cost_per_hour"]
    assert {"agent_id", "model"} <= set(cost.columns) and (cost["value"] >= 0).all()


def test_timeout_rate_of_planner_agent_surges_in_its_window(source, incidents):
    out = source.runbook_queries(runbooks.load("timeout_surge"), START, END, step="5m")
    window = incidents.loc["timeout_surge"]
    inside, baseline = _window_vs_baseline(out["timeout_rate"], "planner-agent", window)
    assert inside > 0.1 and inside > 5 * baseline
    near_in, near_base = _window_vs_baseline(out["near_timeout_share"], "planner-agent", window)
    assert near_in > 2 * near_base
    p95_in, p95_base = _window_vs_baseline(out["latency_p95"], "planner-agent", window)
    assert p95_in > p95_base
    assert set(out["ttft_p95"]["model"].dropna()) == {"gpt-4o", "gpt-4o-mini",
                                                      "claude-sonnet-4-5"}


def test_hallucination_rate_rises_in_its_window(source, incidents):
    out = source.runbook_queries("hallucination_spike", START, END, step="5m")
    inside, baseline = _window_vs_baseline(out["hallucination_rate"], "rag-agent",
                                           incidents.loc["hallucination_spike"])
    assert inside > 2.5 * baseline
    block = out["guardrail_block_rate"]
    assert ((block["value"] >= 0) & (block["value"] <= 1) | block["value"].isna()).all()


def test_series_totals_match_the_dataset(source):
    _, dataset = demo_tsdb()
    f = source.query('sum by (status) (api_requests_total)', at=END + pd.Timedelta(minutes=2))
    served = dict(zip(f["status"], f["value"]))
    expected = dataset.traces["status"].value_counts().to_dict()
    assert served == {k: float(v) for k, v in expected.items()}


# -- the 11,000-point limit ----------------------------------------------------------------------

def test_a_window_beyond_the_point_limit_is_split_without_gaps_or_duplicates(server, source):
    start = START + pd.Timedelta(hours=6)  # every series has samples from here on
    end, step = start + pd.Timedelta(days=2), 15  # 11,520 intervals at 15 s
    promql = 'sum by (agent_id) (api_requests_total)'
    whole = httpx.get(f"{server.url}/api/v1/query_range", params={
        "query": promql, "start": start.timestamp(), "end": end.timestamp(), "step": 15})
    assert whole.status_code == 400 and "11,000 points" in whole.text  # one request is refused

    f = source.query_range(promql, start, end, step=step)
    grid = pd.date_range(start, end, freq="15s").as_unit("us")
    for _agent, g in f.groupby("agent_id"):
        assert g["timestamp"].is_unique
        np.testing.assert_array_equal(g["timestamp"].to_numpy(), grid.to_numpy())

    # Same answer with chunks cut elsewhere on the grid.
    with PrometheusSource(server.url, max_points=997) as small:
        ref = small.query_range(promql, start, end, step=step)
    pd.testing.assert_frame_equal(f, ref)

    # And equal to the raw samples, carried forward onto the grid (Prometheus's lookback).
    raw = source.query("api_requests_total[2d1h]", at=end)
    raw_sum = (raw.pivot_table(index="timestamp", columns=["agent_id", "status"],
                               values="value").T.groupby(level="agent_id").sum(min_count=1).T)
    carried = raw_sum.reindex(raw_sum.index.union(grid)).ffill().reindex(grid)
    for agent, g in f.groupby("agent_id"):
        np.testing.assert_allclose(g["value"].to_numpy(), carried[agent].to_numpy())


# -- faults --------------------------------------------------------------------------------------

def test_unreachable_server_names_the_host_never_the_credentials(monkeypatch):
    port = free_port()  # closed: nothing listens there
    monkeypatch.setenv("PROMETHEUS_USERNAME", "alice")
    monkeypatch.setenv("PROMETHEUS_PASSWORD", "hunter2-secret")
    with PrometheusSource(f"http://127.0.0.1:{port}", retries=0) as src:
        with pytest.raises(SourceUnavailable) as err:
            src.query("up")
    assert f"127.0.0.1:{port}" in str(err.value) and "connection refused" in str(err.value)
    assert "hunter2" not in str(err.value) and "alice" not in str(err.value)
    assert isinstance(err.value.__cause__, httpx.ConnectError)


def test_a_slow_server_times_out():
    with CannedServer(body=b'{"status":"success","data":{"resultType":"vector","result":[]}}',
                      delay_s=3.0) as slow:
        with PrometheusSource(slow.url, timeout=0.5) as src:
            with pytest.raises(SourceTimeout, match="within 0.5 s"):
                src.query("up")
        assert slow.requests == 1  # a read timeout is not retried


def test_syntax_error_shows_the_servers_message(source):
    with pytest.raises(SourceQueryError) as err:
        source.query_range("sum(rate(api_requests_total[5m]) by (", START, START + pd.Timedelta("1h"))
    text = str(err.value)
    assert '{"status":"error","errorType":"bad_data","error":"' in text
    assert "parse error" in text and "HTTP 400" in text
    assert err.value.query.startswith("sum(rate(")


@pytest.mark.parametrize("status,body,kind", [
    (401, b"Unauthorized", SourceAuthError),
    (500, b"internal error", SourceUnavailable),
    (200, b"<html>login page</html>", SourceUnavailable),
])
def test_http_faults(status, body, kind):
    with CannedServer(status=status, body=body, content_type="text/html") as srv:
        with PrometheusSource(srv.url, retries=0) as src:
            with pytest.raises(kind) as err:
                src.query_range("up", START, START + pd.Timedelta("1h"))
    assert srv.url.split("//")[1] in str(err.value)


def test_retries_503_then_reports_unavailable():
    with CannedServer(status=503, body=b"overloaded") as srv:
        with PrometheusSource(srv.url, retries=2) as src:
            with pytest.raises(SourceUnavailable, match="HTTP 503"):
                src.query("up")
    assert srv.requests == 3


def test_empty_results_are_empty_canonical_frames(source):
    f = source.query_range('api_requests_total{agent_id="no-such-agent"}', START, END)
    assert f.empty and list(f.columns) == schema.columns("metrics")
    assert source.query("api_requests_total", at="2020-01-01").empty


def test_nan_and_inf_are_kept_as_floats(source):
    f = source.query("vector(1) / 0", at=START + pd.Timedelta("1h"))
    assert f["value"].tolist() == [np.inf]
    nan = source.query_range("vector(0) / 0", START, START + pd.Timedelta("10m"), step="5m",
                             name="zero_over_zero")
    assert len(nan) == 3 and nan["value"].isna().all()
    assert nan["value"].dtype == np.float64


def test_scalar_is_one_row_and_string_is_a_query_error(source):
    at = END + pd.Timedelta(minutes=2)
    f = source.query("scalar(sum(api_timeout_total))", at=at, name="timeouts")
    _, dataset = demo_tsdb()
    assert len(f) == 1 and f["metric"][0] == "timeouts"
    assert f["value"][0] == (dataset.traces["status"] == "timeout").sum()
    with pytest.raises(SourceQueryError, match="string"):
        source.query('"hello"', at=at)


# -- the report's metrics section ----------------------------------------------------------------

def test_metrics_overview_stacks_every_runbook_query(source, incidents):
    books = runbooks.load_all()
    frame = metrics_overview(source, books, START, END, step="10m")
    schema.validate(frame, "metrics")
    assert list(frame.columns[:4]) == ["timestamp", "metric", "value", "runbook"]
    expected = {(rb.name, q) for rb in books.values() for q in rb.prometheus}
    assert set(map(tuple, frame[["runbook", "metric"]].drop_duplicates().to_numpy())) == expected
    assert incomplete_reason(frame) is None
    cpr = frame[(frame["runbook"] == "cost_spike") & (frame["metric"] == "cost_per_request")]
    inside, baseline = _window_vs_baseline(cpr, "tool-agent", incidents.loc["cost_spike"])
    assert inside > 4 * baseline

    fig = plot_metrics_overview(frame)
    titles = [a.text for a in fig.layout.annotations]
    assert len(titles) == len(expected) and "cost_spike · cost_per_request" in titles
    n_series = sum(
        g.drop(columns=["timestamp", "value"]).dropna(axis=1, how="all").drop_duplicates().shape[0]
        for _, g in frame.groupby(["runbook", "metric"]))
    assert len(fig.data) == n_series


def test_metrics_overview_marks_a_rejected_query_and_keeps_the_rest(source):
    good = runbooks.load("cost_spike")
    spec = {**good.spec, "prometheus": {"broken": "sum(", "requests": "sum(api_requests_total)"}}
    frame = metrics_overview(source, [Runbook("cost_spike", good.path, spec)], START, END)
    assert set(frame["metric"]) == {"requests"}
    assert "cost_spike.broken" in incomplete_reason(frame)
    assert "bad_data" in incomplete_reason(frame)


def test_metrics_overview_raises_when_the_server_is_down():
    with PrometheusSource(f"http://127.0.0.1:{free_port()}", retries=0) as src:
        with pytest.raises(SourceUnavailable):
            metrics_overview(src, "timeout_surge", START, END)


def test_an_empty_overview_plots_a_message():
    fig = plot_metrics_overview(schema.empty("metrics").assign(runbook=pd.array([], "string")))
    assert "No Prometheus data" in fig.layout.annotations[0].text
