"""The sixth blind dataset (bench/blind_lowcode.py): deterministic, labelled, and served by the
Langfuse double the way Langfuse stores Dify, Flowise, Python SDK v2 and LangChain traces."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from tests import blind_checks as checks  # puts bench/ on the import path

import blind_lowcode as bl  # noqa: E402
from blind_data import Incident  # noqa: E402

END = "2026-11-25"  # a Wednesday; both days are weekdays
INCIDENTS = (Incident("timeout_surge", END, 9, 8.0), Incident("cost_spike", END, 12, 5.0),
             Incident("hallucination_spike", "2026-11-24", 9, 6.0))
BLIND = checks.Blind(bl, seed=11, end=END, incidents=INCIDENTS)
data, records = BLIND.fixtures()


def test_same_seed_same_data_other_seed_other_data(data):
    checks.assert_same_seed_same_data_other_seed_other_data(BLIND, data)


def test_european_day_volumes_environments_and_sessions(data, records):
    checks.assert_truth_names_every_trace(data)
    t = data.truth
    per_day = t.groupby(t["start"].dt.floor("D")).size()
    assert len(per_day) == 2 and ((per_day > 1000) & (per_day < 1500)).all(), per_day
    hours = t["start"].dt.hour
    assert hours.between(7, 16).sum() > 5 * (~hours.between(6, 19)).sum()
    roots = {r["core"]["traceId"]: r for r in records if r["basic"]["isRootObservation"]}
    assert len(roots) == len(t)
    env = Counter(r["_trace"]["environment"] for r in roots.values())
    assert set(env) == {"default", "production", "staging"}   # Dify sets no environment
    assert 0.06 < env["staging"] / len(t) < 0.16, env
    by_agent = Counter((r["_trace"]["name"], r["_trace"]["environment"]) for r in roots.values())
    assert {a for a, e in by_agent if e == "staging"} == {"policy-qa", "travel-agent"}
    assert {a for a, e in by_agent if e == "default"} == {"message"}
    sessions = Counter(r["_trace"]["sessionId"] for r in roots.values())
    assert all(r["_trace"]["sessionId"] for r in roots.values())
    assert 1.1 < len(t) / len(sessions) < 3.0
    users = {r["_trace"]["userId"] for r in roots.values() if r["_trace"]["name"] != "AgentExecutor"}
    assert None not in users and len(users) > 300
    # Flowise sends no user; every event of a v2 client carries its environment
    assert {r["_trace"]["userId"] for r in roots.values()
            if r["_trace"]["name"] == "AgentExecutor"} == {None}
    assert {r["basic"]["environment"] for r in records if r["_trace"]["name"] == "policy-qa"
            } == {"production", "staging"}


def test_each_platform_as_langfuse_stores_it(data, records):
    seen = {(r["_trace"]["name"], r["core"]["type"], r["basic"]["name"]) for r in records}
    assert seen == {
        ("message", "SPAN", "workflow"), ("message", "SPAN", "Start"),
        ("message", "GENERATION", "Question Classifier"), ("message", "SPAN", "Order Status API"),
        ("message", "SPAN", "Knowledge Retrieval"), ("message", "GENERATION", "LLM"),
        ("message", "SPAN", "LLM"), ("message", "SPAN", "Answer"),
        ("AgentExecutor", "SPAN", "AgentExecutor"), ("AgentExecutor", "GENERATION", "ChatOpenAI"),
        ("AgentExecutor", "SPAN", "order_lookup"), ("AgentExecutor", "SPAN", "shipping_quote"),
        ("AgentExecutor", "SPAN", "calculator"),
        ("policy-qa", "SPAN", "handle-question"), ("policy-qa", "SPAN", "retrieve-policies"),
        ("policy-qa", "SPAN", "rerank"), ("policy-qa", "GENERATION", "answer"),
        ("policy-qa", "EVENT", "pii-redaction"),
        ("travel-agent", "AGENT", "travel-agent"), ("travel-agent", "CHAIN", "RunnableSequence"),
        ("travel-agent", "GENERATION", "ChatOpenAI"), ("travel-agent", "TOOL", "search_flights"),
        ("travel-agent", "TOOL", "get_weather"), ("travel-agent", "TOOL", "convert_currency"),
    }
    # ingestion-API observations carry only the metadata the platform sent
    dify = [r["metadata"]["metadata"] for r in records if r["_trace"]["name"] == "message"]
    assert not any(k.startswith(("scope.", "resourceAttributes.")) for m in dify for k in m)
    http = [m for m in dify if m.get("node_name") == "Order Status API"]
    assert http and {m["node_type"] for m in http} == {"http-request"}
    assert {m["status"] for m in http} == {"succeeded", "failed"}
    lc = [r["metadata"]["metadata"] for r in records if r["_trace"]["name"] == "travel-agent"]
    assert {m["scope.name"] for m in lc} == {"langfuse-sdk"}
    tags = {tuple(r["_trace"]["tags"]) for r in records if r["_trace"]["name"] == "message"}
    assert tags == {("message", "workflow")}
    versions = {r["_trace"]["version"] for r in records if r["_trace"]["name"] == "message"}
    assert versions == {"2026-11-17 08:41:17.482113", "2026-11-24 08:41:17.482113"}
    checks.assert_double_bills_the_truth(data, records)
    warned = [r for r in records if r["basic"]["level"] == "WARNING"]
    assert warned and {r["core"]["type"] for r in warned} == {"EVENT"}


def test_labels_name_each_cause(data):
    by = checks.by_runbook(data)
    ts = by["timeout_surge"]
    assert (ts.agent, ts.cause_dimension, ts.cause_value, ts.within) == (
        "message", "tool", "Order Status API", {"agent": "message"})
    assert ts.start == pd.Timestamp(f"{END} 09:00", tz="UTC")
    assert ts.end - ts.start == pd.Timedelta(hours=4) and ts.magnitude == 8.0
    cs = by["cost_spike"]
    assert (cs.agent, cs.cause_dimension, cs.cause_value) == ("AgentExecutor", "model", "gpt-4.1")
    hs = by["hallucination_spike"]
    assert (hs.agent, hs.cause_dimension, hs.cause_value, hs.within) == (
        "policy-qa", "prompt_version", "13", {"prompt": "policy-answer"})


def test_incidents_show_in_what_langfuse_serves(data, records):
    by = checks.by_runbook(data)
    rate = checks.error_rates(records, by["timeout_surge"], "Order Status API")
    assert rate[True] > 3 * rate[False] > 0
    msgs = {r["basic"]["statusMessage"] for r in records
            if r["basic"]["name"] == "Order Status API" and r["basic"]["level"] == "ERROR"}
    assert msgs == {f"Reached maximum retries (3) for URL {bl.ERP_URL}"}
    cs = by["cost_spike"]
    within = checks.inside(records, cs)
    models = Counter((within[i], r["model"]["providedModelName"]) for i, r in enumerate(records)
                     if r["basic"]["name"] == "ChatOpenAI" and r["_trace"]["name"] == "AgentExecutor")
    assert {m for w, m in models if w} == {"gpt-4.1"}
    assert {m for w, m in models if not w} == {"gpt-4.1-mini"}
    t = data.truth
    fl = t[t["agent"] == "AgentExecutor"]
    inside = (fl["start"] >= cs.start) & (fl["start"] < cs.end)
    assert 4.0 < fl.loc[inside, "cost"].mean() / fl.loc[~inside, "cost"].mean() < 6.5
    hs = by["hallucination_spike"]
    within = checks.inside(records, hs)
    versions = {(within[i], r["prompt"]["promptVersion"], r["basic"]["environment"])
                for i, r in enumerate(records) if r["prompt"]["promptName"] == "policy-answer"}
    assert {v for w, v, e in versions if w and e == "production"} == {13}
    assert {v for w, v, e in versions if not w or e == "staging"} == {12}
    pq = t[(t["agent"] == "policy-qa") & t["scored"]]
    inside = (pq["start"] >= hs.start) & (pq["start"] < hs.end)
    assert pq.loc[inside, "bad"].mean() > 2.5 * pq.loc[~inside, "bad"].mean()


def test_judges_annotations_feedback_and_configs(data):
    t, s = data.truth, data.scores
    judged = t.groupby("agent")["scored"].mean()
    assert all(0.10 < judged[a] < 0.30 for a in bl.AGENTS), judged
    assert t.loc[~t["scored"], "bad"].isna().all()
    kinds = {(n, d, src) for n, d, src in zip(s["name"], s["data_type"], s["source"])}
    assert kinds == {("hallucination", "NUMERIC", "EVAL"), ("helpfulness", "NUMERIC", "EVAL"),
                     ("toxicity", "NUMERIC", "EVAL"), ("quality", "NUMERIC", "ANNOTATION"),
                     ("answer_correct", "BOOLEAN", "ANNOTATION"),
                     ("user-feedback", "BOOLEAN", "API")}
    ev = s[s["source"] == "EVAL"]
    assert ev["value"].between(0, 1).all()
    ann = s[s["name"] == "quality"]
    assert 0.005 < len(ann) / len(t) < 0.03 and set(ann["value"]) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert set(ann["environment"]) <= {"production", "default"}
    hours = ann["timestamp"].dt.hour
    assert hours.between(8, 15).all() and (ann["timestamp"].dt.day_of_week < 5).all()
    lag = checks.score_lag(data)
    assert (lag > pd.Timedelta(0)).all()
    assert (lag[s["source"] == "EVAL"] < pd.Timedelta(minutes=31)).all()
    assert {c["name"] for c in data.score_configs} == {"quality", "answer_correct"}


def test_the_real_source_reads_traces_scores_and_configs(data):
    traces, scores, configs, pages = checks.read_back(data, END, ("quality", "hallucination"),
                                                      scores_later=pd.Timedelta(days=3))
    checks.assert_read_back_as_generated(data, traces, scores)
    quality, judged = pages["quality"], pages["hallucination"]
    assert {c.id for c in configs.data} == {c["id"] for c in bl.SCORE_CONFIGS}
    assert quality.data and {s.config_id for s in quality.data} == {"cfg-quality-1to5"}
    assert {s.source for s in quality.data} == {"ANNOTATION"}
    assert judged.data and {s.config_id for s in judged.data} == {None}
    read = scores[scores["name"] == "quality"]
    assert (read["scale_min"].eq(1.0) & read["scale_max"].eq(5.0)).all()


def test_bad_incidents_are_refused():
    checks.assert_bad_incidents_refused(bl, END, magnitude=-1.0, hour=True)
