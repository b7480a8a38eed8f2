"""The fourth blind dataset (bench/blind_agents.py): deterministic, labelled, and ingested by the
Langfuse double the way Langfuse ingests the OpenAI Agents SDK (OpenInference), CrewAI
(OpenInference with LiteLLM), Google ADK's own spans and the Langfuse Python SDK v3; its judges'
scores and score configs served through the real Langfuse source."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from tests import blind_checks as checks  # puts bench/ on the import path

import blind_agents as ba  # noqa: E402
from blind_data import Incident  # noqa: E402

END = "2026-11-25"  # a Wednesday; both days are weekdays
INCIDENTS = (Incident("timeout_surge", END, 15, 8.0), Incident("cost_spike", END, 14, 5.0),
             Incident("hallucination_spike", "2026-11-24", 14, 6.0))
BLIND = checks.Blind(ba, seed=5, end=END, incidents=INCIDENTS)
data, records = BLIND.fixtures()


def test_same_seed_same_data_other_seed_other_data(data):
    checks.assert_same_seed_same_data_other_seed_other_data(BLIND, data)


def test_us_hours_volumes_truth_and_judges(data):
    checks.assert_truth_names_every_trace(data)
    t = data.truth
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
    lag = checks.score_lag(data)
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
    traces, scores, configs, pages = checks.read_back(data, END,
                                                      ("report_quality", "Hallucination"))
    checks.assert_read_back_as_generated(data, traces, scores)
    assert Counter(traces["status"])["error"] + Counter(traces["status"])["timeout"] == int(
        data.truth["error"].sum())
    quality, judged = pages["report_quality"], pages["Hallucination"]
    assert {c.id for c in configs.data} == {c["id"] for c in data.score_configs}
    rq = next(c for c in configs.data if c.name == "report_quality")
    assert (rq.data_type, rq.min_value, rq.max_value) == ("NUMERIC", 1, 10)
    assert quality.data and {s.config_id for s in quality.data} == {"cfg-report-quality"}
    assert judged.data and {s.config_id for s in judged.data} == {None}
    assert {s.source for s in judged.data} == {"EVAL"}


def test_labels_name_each_cause(data):
    by = checks.by_runbook(data)
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
    checks.assert_bad_incidents_refused(ba, END, magnitude=0.5, hour=True)


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
    by = checks.by_runbook(data)
    hs = by["hallucination_spike"]
    inside = checks.inside(records, hs)
    versions = {(inside[i], r["prompt"]["promptVersion"]) for i, r in enumerate(records)
                if r["prompt"]["promptName"] == "kb-answer"}
    assert versions == {(True, 13), (False, 12)}
    rate = checks.error_rates(records, by["timeout_surge"], "check_availability")
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
    inside = checks.inside(records, cs)
    catalog = Counter((inside[i], r["io"]["output"].startswith('{"items": [{"sku"'))
                      for i, r in enumerate(records) if r["basic"]["name"] == "supplier_catalog._use")
    assert catalog[(True, True)] > 10 * max(1, catalog[(False, True)]) and not catalog[
        (False, True)]


def test_loop_share_brings_the_expected_cost_to_the_magnitude():
    base, step = ba._crew_costs()
    for m in (2.0, 3.0, 5.0):
        assert base + ba.loop_share(m) * 17 * step == pytest.approx(m * base)
    assert ba.loop_share(1.0) == 0.0 and ba.loop_share(50.0) == 1.0
