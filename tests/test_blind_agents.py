"""The fourth blind dataset (bench/blind_agents.py): deterministic, labelled, and ingested by the
Langfuse double the way Langfuse ingests the OpenAI Agents SDK (OpenInference), CrewAI
(OpenInference with LiteLLM), Google ADK's own spans and the Langfuse Python SDK v3; its judges'
scores and score configs served through the real Langfuse source."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import blind_agents as ba  # noqa: E402
from blind_data import Incident  # noqa: E402

from tests.doubles import langfuse_ingest as ingest  # noqa: E402

END = "2026-11-25"  # a Wednesday; both days are weekdays
INCIDENTS = (Incident("timeout_surge", END, 15, 8.0), Incident("cost_spike", END, 14, 5.0),
             Incident("hallucination_spike", "2026-11-24", 14, 6.0))


@pytest.fixture(scope="module")
def data():
    return ba.generate(seed=5, end_day=END, days=2, incidents=INCIDENTS)


@pytest.fixture(scope="module")
def records(data):
    return ingest.ingest(data.spans, data.prices)


def _inside(records, label):
    ts = pd.to_datetime([r["core"]["startTime"] for r in records], utc=True)
    return [label.start <= t < label.end for t in ts]


def test_same_seed_same_data_other_seed_other_data(data):
    again = ba.generate(seed=5, end_day=END, days=2, incidents=INCIDENTS)
    key = [(s.context.trace_id, s.context.span_id, s.name, s.start_time, s.end_time)
           for s in data.spans]
    assert key == [(s.context.trace_id, s.context.span_id, s.name, s.start_time, s.end_time)
                   for s in again.spans]
    pd.testing.assert_frame_equal(data.truth, again.truth)
    pd.testing.assert_frame_equal(data.scores, again.scores)
    other = ba.generate(seed=6, end_day=END, days=2, incidents=INCIDENTS)
    assert set(other.truth["trace_id"]).isdisjoint(data.truth["trace_id"])


def test_us_hours_volumes_truth_and_judges(data):
    t = data.truth
    assert list(t.columns) == ["trace_id", "agent", "start", "duration_s", "timeout", "error",
                               "cost", "scored", "bad"]
    assert t["trace_id"].str.fullmatch(r"[0-9a-f]{32}").all() and t["trace_id"].is_unique
    assert {format(s.context.trace_id, "032x") for s in data.spans} == set(t["trace_id"])
    per_day = t.groupby(t["start"].dt.floor("D")).size()
    assert len(per_day) == 2 and ((per_day > 1100) & (per_day < 1500)).all(), per_day
    hours = t["start"].dt.hour
    assert hours.between(14, 21).sum() > 10 * hours.between(5, 9).sum()
    # the mix shifts by hour: the travel agent owns the US evening, the assistant the day
    by_hour = t.groupby([hours, "agent"]).size().unstack(fill_value=0)
    assert by_hour.loc[23, ba.TRAVEL] > by_hour.loc[23, ba.KB]
    assert by_hour.loc[16, ba.KB] > 2 * by_hour.loc[16, ba.TRAVEL]
    med = t[~t["error"]].groupby("agent")["duration_s"].median()
    assert med[ba.CREW] > 3 * med.drop(ba.CREW).max()
    # judged traces: ~20 % overall, none that ended in error, bad only where judged
    assert 0.16 < t["scored"].mean() < 0.26
    assert not (t["scored"] & t["error"]).any()
    assert t.loc[~t["scored"], "bad"].isna().all()
    s = data.scores
    assert (s["source"] == "EVAL").all() and s["observation_id"].isna().all()
    kinds = dict(zip(s["name"], s["data_type"]))
    assert kinds == {"Hallucination": "NUMERIC", "Helpfulness": "NUMERIC",
                     "Correctness": "NUMERIC", "Resolved": "BOOLEAN",
                     "report_quality": "NUMERIC", "Groundedness": "CATEGORICAL"}
    per_trace = s.groupby("trace_id").size()
    assert set(per_trace.index) == set(t.loc[t["scored"], "trace_id"])
    for name in ("Hallucination", "Helpfulness", "Correctness"):
        assert s.loc[s["name"] == name, "value"].between(0, 1).all()
    q = s.loc[s["name"] == "report_quality", "value"]
    assert q.between(1, 10).all() and q.max() > 5 and (q == q.round()).all()
    g = s[s["name"] == "Groundedness"]
    assert dict(zip(g["string_value"], g["value"])) == {"grounded": 2.0,
                                                       "partially_grounded": 1.0,
                                                       "ungrounded": 0.0}
    r = s[s["name"] == "Resolved"]
    assert set(zip(r["string_value"], r["value"])) == {("True", 1.0), ("False", 0.0)}
    # hallucinated answers score high on Hallucination (1 = hallucinated)
    kb = s[s["name"] == "Hallucination"].merge(t[["trace_id", "bad"]], on="trace_id")
    assert kb.loc[kb["bad"] == True, "value"].min() >= 0.6  # noqa: E712
    assert kb.loc[kb["bad"] == False, "value"].max() <= 0.4  # noqa: E712
    ends = t["start"] + pd.to_timedelta(t["duration_s"], unit="s")
    lag = s["timestamp"] - s["trace_id"].map(pd.Series(ends.array, index=t["trace_id"]))
    assert (lag > pd.Timedelta(seconds=4)).all() and (lag < pd.Timedelta(minutes=21)).all()


def test_score_configs_define_the_judges_off_the_unit_scale(data):
    by = {c["name"]: c for c in data.score_configs}
    assert set(by) == {"report_quality", "Groundedness", "Resolved"}
    assert (by["report_quality"]["dataType"], by["report_quality"]["minValue"],
            by["report_quality"]["maxValue"]) == ("NUMERIC", 1, 10)
    assert by["Groundedness"]["dataType"] == "CATEGORICAL"
    assert {c["label"]: c["value"] for c in by["Groundedness"]["categories"]} == {
        "ungrounded": 0, "partially_grounded": 1, "grounded": 2}
    assert by["Resolved"]["dataType"] == "BOOLEAN"


def test_the_real_source_and_sdk_read_traces_scores_and_configs(data):
    import httpx
    from langfuse.api import LangfuseAPI

    t = data.truth
    lo, hi = pd.Timestamp(END, tz="UTC") - pd.Timedelta(days=1), pd.Timestamp(END, tz="UTC") \
        + pd.Timedelta(days=1)
    with data.double() as dbl:
        with dbl.source() as src:
            traces, scores = src.traces(lo, hi), src.scores(lo, hi)
        with httpx.Client(timeout=10) as http:
            api = LangfuseAPI(base_url=dbl.base_url, username=dbl.public_key,
                              password=dbl.secret_key, httpx_client=http)
            configs = api.score_configs.get(page=1, limit=50)
            quality = api.scores.get_many(fields="details", limit=100, name="report_quality")
            judged = api.scores.get_many(fields="details", limit=100, name="Hallucination")
    assert set(traces["trace_id"]) == set(t["trace_id"])
    assert len(scores) == len(data.scores)
    assert sorted(scores["name"].unique()) == sorted(data.scores["name"].unique())
    assert Counter(traces["status"])["error"] + Counter(traces["status"])["timeout"] == int(
        t["error"].sum())
    cost = traces.set_index("trace_id")["cost_usd"].reindex(t["trace_id"]).to_numpy()
    assert abs(cost - t["cost"].to_numpy()).max() < 1e-9
    assert {c.id for c in configs.data} == {c["id"] for c in data.score_configs}
    rq = next(c for c in configs.data if c.name == "report_quality")
    assert (rq.data_type, rq.min_value, rq.max_value) == ("NUMERIC", 1, 10)
    assert quality.data and {s.config_id for s in quality.data} == {"cfg-report-quality"}
    assert judged.data and {s.config_id for s in judged.data} == {None}
    assert {s.source for s in judged.data} == {"EVAL"}


def test_labels_name_each_cause(data):
    by = {lab.runbook: lab for lab in data.labels}
    ts = by["timeout_surge"]
    assert (ts.agent, ts.cause_dimension, ts.cause_value, ts.within) == (
        "travel_concierge", "tool", "check_availability", {"agent": "travel_concierge"})
    assert ts.start == pd.Timestamp(f"{END} 15:00", tz="UTC")
    assert ts.end - ts.start == pd.Timedelta(hours=4) and ts.magnitude == 8.0
    cs = by["cost_spike"]
    assert (cs.agent, cs.cause_dimension, cs.cause_value, cs.within) == (
        "vendor_research", "tool", "supplier_catalog", {"agent": "vendor_research"})
    assert cs.end - cs.start == pd.Timedelta(hours=6)
    hs = by["hallucination_spike"]
    assert (hs.agent, hs.cause_dimension, hs.cause_value, hs.within) == (
        "kb-assistant", "prompt_version", "13", {"prompt": "kb-answer"})
    assert hs.end - hs.start == pd.Timedelta(hours=8)


def test_bad_incidents_are_refused():
    with pytest.raises(ValueError, match="unknown runbook 'latency'"):
        ba.generate(1, END, 1, [Incident("latency", END, 3, 2.0)])
    with pytest.raises(ValueError, match="one cost_spike"):
        ba.generate(1, END, 1, [Incident("cost_spike", END, 3, 2.0)] * 2)
    with pytest.raises(ValueError, match="magnitude"):
        ba.generate(1, END, 1, [Incident("cost_spike", END, 3, 0.5)])
    with pytest.raises(ValueError, match="hour"):
        ba.generate(1, END, 1, [Incident("cost_spike", END, 24, 2.0)])
    with pytest.raises(ValueError, match="days"):
        ba.generate(1, END, 0)


def test_double_ingests_each_framework(records):
    seen = {(r["metadata"]["metadata"]["scope.name"], r["core"]["type"], r["basic"]["name"])
            for r in records}
    assert seen == {
        ("langfuse-sdk", "AGENT", "handle_question"),
        ("langfuse-sdk", "GENERATION", "rewrite-query"),
        ("langfuse-sdk", "GENERATION", "compose-answer"),
        ("langfuse-sdk", "RETRIEVER", "vector-search"),
        ("langfuse-sdk", "TOOL", "fetch_account"),
        ("openinference.instrumentation.openai_agents", "AGENT", "Agent workflow"),
        ("openinference.instrumentation.openai_agents", "AGENT", "Triage Agent"),
        ("openinference.instrumentation.openai_agents", "AGENT", "Billing Agent"),
        ("openinference.instrumentation.openai_agents", "GENERATION", "response"),
        ("openinference.instrumentation.openai_agents", "TOOL", "lookup_order"),
        ("openinference.instrumentation.openai_agents", "TOOL", "get_shipping_status"),
        ("openinference.instrumentation.openai_agents", "TOOL", "get_invoice"),
        ("openinference.instrumentation.openai_agents", "TOOL", "handoff to Billing Agent"),
        ("openinference.instrumentation.crewai", "CHAIN", "vendor_research.kickoff"),
        ("openinference.instrumentation.crewai", "AGENT", "Procurement Analyst._execute_core"),
        ("openinference.instrumentation.crewai", "AGENT", "Report Writer._execute_core"),
        ("openinference.instrumentation.crewai", "TOOL", "supplier_catalog._use"),
        ("openinference.instrumentation.crewai", "TOOL", "price_history._use"),
        ("openinference.instrumentation.litellm", "GENERATION", "completion"),
        ("gcp.vertex.agent", "SPAN", "invocation"),
        ("gcp.vertex.agent", "AGENT", "invoke_agent travel_concierge"),
        ("gcp.vertex.agent", "GENERATION", "call_llm"),
        ("gcp.vertex.agent", "TOOL", "check_availability"),
        ("gcp.vertex.agent", "TOOL", "get_weather"),
    }
    priced = Counter((r["model"]["providedModelName"], r["model"]["internalModelId"])
                     for r in records if r["usage"]["totalCost"])
    assert set(priced) == {("gpt-4.1-nano", "model-gpt-4.1-nano"),
                           ("gpt-4.1-2025-04-14", "model-gpt-4.1"),
                           ("gpt-4.1-mini-2025-04-14", "model-gpt-4.1-mini"),
                           ("gpt-4o", "model-gpt-4o"),
                           ("gemini-2.5-flash", "model-gemini-2.5-flash")}
    roots = Counter(r["_trace"]["name"] for r in records if r["basic"]["isRootObservation"])
    assert set(roots) == {"kb-assistant", "Agent workflow", "vendor_research.kickoff",
                          "invocation"}


def test_incidents_show_in_the_spans(data, records):
    by = {lab.runbook: lab for lab in data.labels}
    hs = by["hallucination_spike"]
    inside = _inside(records, hs)
    versions = {(inside[i], r["prompt"]["promptVersion"]) for i, r in enumerate(records)
                if r["prompt"]["promptName"] == "kb-answer"}
    assert versions == {(True, 13), (False, 12)}
    to = by["timeout_surge"]
    inside = _inside(records, to)
    calls = [(inside[i], r["basic"]["level"] == "ERROR") for i, r in enumerate(records)
             if r["basic"]["name"] == "check_availability"]
    rate = {w: sum(e for x, e in calls if x == w) / sum(x == w for x, _ in calls)
            for w in (True, False)}
    assert rate[True] > 4 * rate[False] > 0
    msgs = {r["basic"]["statusMessage"] for r in records
            if r["basic"]["name"] == "check_availability" and r["basic"]["level"] == "ERROR"}
    assert msgs == {"DeadlineExceeded: 504 Deadline Exceeded"}
    exc = {e.attributes["exception.type"] for s in data.spans for e in s.events
           if s.name == "execute_tool check_availability"}
    assert exc == {"google.api_core.exceptions.DeadlineExceeded"}
    cs = by["cost_spike"]
    t = data.truth
    crew = t[t["agent"] == ba.CREW]
    win = crew[(crew["start"] >= cs.start) & (crew["start"] < cs.end)]
    before = crew[crew["start"] < cs.start.floor("D")]
    assert win["cost"].mean() > 2.5 * before["cost"].mean()
    inside = _inside(records, cs)
    catalog = Counter((inside[i], r["io"]["output"].startswith('{"items": [{"sku"'))
                      for i, r in enumerate(records) if r["basic"]["name"] == "supplier_catalog._use")
    assert catalog[(True, True)] > 10 * max(1, catalog[(False, True)]) and not catalog[
        (False, True)]


def test_loop_share_brings_the_expected_cost_to_the_magnitude():
    base, step = ba._crew_costs()
    for m in (2.0, 3.0, 5.0):
        assert base + ba.loop_share(m) * 17 * step == pytest.approx(m * base)
    assert ba.loop_share(1.0) == 0.0 and ba.loop_share(50.0) == 1.0
