"""The daily report and the trace explorer through ``--source tempo``.

The Tempo double serves the simulator's week as OTLP encoded from real SDK spans, its judges'
results as OpenTelemetry evaluation events on the spans they judged. The local side of the
comparison is a store written from the same spans mapped the same way in-process
(``conventions.observations(raw_from_spans(spans))`` and the price table), with the scores those
events carry, so the comparison checks the transport: search, fetch, OTLP decoding, slicing and
caching must lose nothing and change nothing. A trace whose attributes hold script markup must
reach the HTML escaped.
"""

from __future__ import annotations

import html.parser
from pathlib import Path

import pandas as pd
import pytest

from tests.doubles import TempoDouble
from tests.otel_fixtures import Recorder, _child, ns
from tests.test_report_langfuse import KPI_FLOATS, firing, run_cli
from workbench import schema
from workbench.cli import EXIT_OK
from workbench.reports import daily
from workbench.reports.summary import read_summary
from workbench.sources import conventions as conv
from workbench.sources import prices
from workbench.sources.otel import raw_from_spans

pytestmark = pytest.mark.notebook

DAY = "2026-11-08"
STEM = f"daily-report-{DAY}"


@pytest.fixture(scope="module")
def week():
    from workbench.simulate import generate

    from tests.doubles.evaluations import with_evaluations

    ds = generate(seed=7, days=7, traces_per_day=400, keep_spans=True)
    return with_evaluations(ds.spans, ds.scores), ds.labels


@pytest.fixture(scope="module")
def store(week, tmp_path_factory):
    from workbench.simulate.generator import Dataset
    from workbench.simulate.writer import write_demo
    from workbench.sources.otlp import decode
    from tests.otel_fixtures import otlp_dict

    spans, labels = week
    obs, _ = prices.load().fill_costs(conv.load().observations(raw_from_spans(spans)))
    obs = obs.sort_values(["start_time", "trace_id"], kind="stable").reset_index(drop=True)
    traces = schema.traces_from_observations(obs)
    scores = decode([otlp_dict(spans)]).scores  # the judges' results the spans carry
    ds = Dataset(observations=obs, traces=traces, scores=scores, labels=labels)
    return write_demo(tmp_path_factory.mktemp("store") / "demo", dataset=ds)


@pytest.fixture(scope="module")
def local(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    rep = daily.build(DAY, "local", store, days=7, alert_days=7, prometheus=False)
    return read_summary(rep.write_summary(out, {"date": DAY, "source": "local"}, None))


@pytest.fixture(scope="module")
def live(week, tmp_path_factory):
    spans, _ = week
    out = tmp_path_factory.mktemp("tempo")
    with TempoDouble(spans, org_id="acme") as d:
        code, stdout, stderr, logs = run_cli(
            ["report", "daily", "--date", DAY, "--source", "tempo", "--days", "7",
             "--alert-days", "7", "--out", str(out)], d.env())
        searches = d.requests_to("/api/search")
        tenants = {r.headers.get("x-scope-orgid") for r in d.requests}
    return {"code": code, "stderr": stderr, "out": out, "searches": searches,
            "tenants": tenants, "summary": read_summary(out / f"{STEM}.summary.json")}


def test_tempo_report_is_written_from_the_double(live):
    assert live["code"] == EXIT_OK, live["stderr"]
    s = live["summary"]
    assert s["source"] == {"name": "tempo", "status": "ok", "degraded": False, "reason": None}
    assert live["searches"] and live["tenants"] == {"acme"}
    html = (live["out"] / f"{STEM}.html").read_text()
    assert "Source: <b>tempo</b>" in html


def test_tempo_kpis_and_findings_equal_the_local_stores(live, local, week):
    got = pd.DataFrame(live["summary"]["kpis"]).set_index("day")
    want = pd.DataFrame(local["kpis"]).set_index("day")
    ints = [c for c in want.columns if c not in KPI_FLOATS]
    pd.testing.assert_frame_equal(got[ints], want[ints])
    pd.testing.assert_frame_equal(got[KPI_FLOATS], want[KPI_FLOATS], check_exact=False,
                                  rtol=1e-9, atol=1e-12)
    assert got["traces"].sum() == len({s.context.trace_id for s in week[0]})
    assert firing(live["summary"]) == firing(local) and firing(local)
    fired = {f["runbook"] for f in live["summary"]["findings"] if f["status"] == "firing"}
    # every demo incident, the hallucination spike through the judges' evaluation events
    assert {"cost_spike", "timeout_surge", "hallucination_spike"} <= fired


def test_a_runbook_renders_through_tempo(week, tmp_path):
    spans, labels = week
    inc = labels[labels["runbook"] == "cost_spike"].iloc[0]
    with TempoDouble(spans) as d:
        code, stdout, stderr, _ = run_cli(
            ["runbook", "cost_spike", "--start", inc["start"].isoformat(), "--end",
             inc["end"].isoformat(), "--source", "tempo",
             "--out", str(tmp_path)], d.env())
        assert d.requests_to("/api/v2/traces/")
    assert code == EXIT_OK, stderr
    page = Path(stdout.splitlines()[-1]).read_text()
    assert "tool-agent" in page


@pytest.mark.parametrize("name", ["cost_spike", "timeout_surge"])
def test_a_postmortem_through_tempo_equals_the_local_stores(week, store, tmp_path, own_cache,
                                                            name):
    """The incidents spans alone show (hallucination needs judge scores, not in these spans)."""
    from workbench.reports import postmortem

    spans, labels = week
    inc = labels[labels["runbook"] == name].iloc[0]
    day = inc["start"].floor("D")
    with TempoDouble(spans) as d:
        code, stdout, stderr, _ = run_cli(
            ["postmortem", "--runbook", name, "--start", day.isoformat(), "--end",
             (day + pd.Timedelta(days=1)).isoformat(), "--source", "tempo",
             "--out", str(tmp_path)],
            {**d.env(), "WORKBENCH_CACHE_DIR": str(own_cache(tmp_path / "c"))})
        assert d.requests_to("/api/v2/traces/")
    assert code == EXIT_OK, stderr
    html = Path(stdout.splitlines()[-1])
    s = read_summary(html.with_name(html.name.replace(".html", ".summary.json")))
    want = postmortem.build(name, "local", day, day + pd.Timedelta(days=1), data_dir=store,
                            ledger=[]).summary({})
    assert [e["utc"] for e in s["timeline"]] == [e["utc"] for e in want["timeline"]]
    # within the injected hours (at 400 traces a day the first may be too thin to show)
    assert inc["start"] <= pd.Timestamp(s["timeline"][0]["utc"], tz="UTC") < inc["end"]
    assert s["impact"]["requests"] == want["impact"]["requests"]
    assert s["impact"]["excess_cost_usd"] == pytest.approx(want["impact"]["excess_cost_usd"],
                                                           rel=1e-9)
    assert s["root_cause"][0]["suspect"] == want["root_cause"][0]["suspect"]
    assert "| Source | tempo |" in html.with_suffix(".md").read_text()


# -- script markup in span attributes -----------------------------------------------------------

SCRIPT = "</script><script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"


class _Tags(html.parser.HTMLParser):
    """Every start tag and every script body of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def _hostile_spans():
    rec = Recorder(9)
    t = rec.tracer({"service.name": f"evil{SCRIPT}", "deployment.environment.name": IMG})
    base = pd.Timestamp("2026-11-05T13:30:00Z")
    root = _child(t, f"invoke_agent {IMG}", None, ns(0, base), None,
                  {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": SCRIPT,
                   "user.id": IMG})
    gen = _child(t, f"chat {SCRIPT}", root, ns(0.1, base), None,
                 {"gen_ai.operation.name": "chat", "gen_ai.request.model": SCRIPT,
                  "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5})
    gen.end(ns(1, base))
    tool = _child(t, f"execute_tool {IMG}", root, ns(1.1, base), None,
                  {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": IMG},
                  exception=ValueError(SCRIPT))
    tool.end(ns(2, base))
    root.end(ns(9, base))
    return rec.spans


def _assert_inert(page: str) -> None:
    p = _Tags()
    p.feed(page)
    assert not [a for tag, a in p.tags if tag == "img" and a.get("src") == "x"], "img injected"
    assert not [a for _, a in p.tags if "onerror" in a], "event handler injected"
    assert "alert(1)" not in [s.strip() for s in p.scripts], "script injected"


def test_script_markup_in_attributes_is_escaped_in_the_trace_explorer_html(tmp_path):
    from workbench.reports.execute import run_notebook
    from workbench.reports.render import render_html
    from workbench.reports.runner import notebooks_dir

    with TempoDouble(_hostile_spans()) as d, pytest.MonkeyPatch.context() as mp:
        for k, v in d.env().items():
            mp.setenv(k, v)
        executed = run_notebook(notebooks_dir() / "trace_explorer.ipynb",
                                {"start": "2026-11-05T13:00Z", "end": "2026-11-05T14:00Z",
                                 "source": "tempo", "data_dir": "", "interactive": False},
                                tmp_path, output_name="explorer.ipynb", cwd=tmp_path)
        assert d.requests_to("/api/v2/traces/")
    page = render_html(executed, tmp_path / "explorer.html").read_text()
    assert "evil" in page and "alert(2)" in page  # the hostile trace is shown ...
    _assert_inert(page)  # ... as text


def test_script_markup_is_escaped_in_the_investigation_html():
    from workbench.investigate import explore

    with TempoDouble(_hostile_spans()) as d, pytest.MonkeyPatch.context() as mp:
        for k, v in d.env().items():
            mp.setenv(k, v)
        view = explore("tempo", "2026-11-05T13:00Z", "2026-11-05T14:00Z")
    from workbench.investigate import html_table

    table = html_table(view.table())
    assert "&lt;/script&gt;" in table
    _assert_inert(table)
    fig = view.waterfall(view.table()["trace_id"][0])
    _assert_inert(fig.to_html(include_plotlyjs=False))
