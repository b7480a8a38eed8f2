"""The sixth blind dataset (bench/blind_lowcode.py): deterministic, labelled, and served by the
Langfuse double the way Langfuse stores Dify, Flowise, Python SDK v2 and LangChain traces."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import blind_lowcode as bl  # noqa: E402
from blind_data import Incident  # noqa: E402

END = "2026-11-25"  # a Wednesday; both days are weekdays
INCIDENTS = (Incident("timeout_surge", END, 9, 8.0), Incident("cost_spike", END, 12, 5.0),
             Incident("hallucination_spike", "2026-11-24", 9, 6.0))


@pytest.fixture(scope="module")
def data():
    return bl.generate(seed=11, end_day=END, days=2, incidents=INCIDENTS)


@pytest.fixture(scope="module")
def records(data):
    with data.double() as dbl:
        return list(dbl.records)


def _inside(rec, label):
    return label.start <= pd.Timestamp(rec["core"]["startTime"]) < label.end


def test_same_seed_same_data_other_seed_other_data(data):
    again = bl.generate(seed=11, end_day=END, days=2, incidents=INCIDENTS)
    key = [(s.context.trace_id, s.context.span_id, s.name, s.start_time, s.end_time,
            dict(s.attributes)) for s in data.spans]
    assert key == [(s.context.trace_id, s.context.span_id, s.name, s.start_time, s.end_time,
                    dict(s.attributes)) for s in again.spans]
    pd.testing.assert_frame_equal(data.truth, again.truth)
    pd.testing.assert_frame_equal(data.scores, again.scores)
    other = bl.generate(seed=12, end_day=END, days=2, incidents=INCIDENTS)
    assert set(other.truth["trace_id"]).isdisjoint(data.truth["trace_id"])


def test_european_day_volumes_environments_and_sessions(data, records):
    t = data.truth
    assert list(t.columns) == ["trace_id", "agent", "start", "duration_s", "timeout", "error",
                               "cost", "scored", "bad"]
    assert t["trace_id"].str.fullmatch(r"[0-9a-f]{32}").all() and t["trace_id"].is_unique
    per_day = t.groupby(t["start"].dt.floor("D")).size()
    assert len(per_day) == 2 and ((per_day > 1000) & (per_day < 1500)).all(), per_day
    hours = t["start"].dt.hour
    assert hours.between(7, 16).sum() > 5 * (~hours.between(6, 19)).sum()
    assert {format(s.context.trace_id, "032x") for s in data.spans} == set(t["trace_id"])
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
    billed = Counter()
    for r in records:
        billed[r["core"]["traceId"]] += r["usage"]["totalCost"] or 0.0
    truth = data.truth.set_index("trace_id")["cost"]
    assert (pd.Series(billed).reindex(truth.index).fillna(0.0) - truth).abs().max() < 1e-9
    warned = [r for r in records if r["basic"]["level"] == "WARNING"]
    assert warned and {r["core"]["type"] for r in warned} == {"EVENT"}


def test_labels_name_each_cause(data):
    by = {lab.runbook: lab for lab in data.labels}
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
    by = {lab.runbook: lab for lab in data.labels}
    ts = by["timeout_surge"]
    runs = [(_inside(r, ts), r["basic"]["level"] == "ERROR") for r in records
            if r["basic"]["name"] == "Order Status API"]
    rate = {w: sum(e for x, e in runs if x == w) / sum(x == w for x, _ in runs)
            for w in (True, False)}
    assert rate[True] > 3 * rate[False] > 0
    msgs = {r["basic"]["statusMessage"] for r in records
            if r["basic"]["name"] == "Order Status API" and r["basic"]["level"] == "ERROR"}
    assert msgs == {f"Reached maximum retries (3) for URL {bl.ERP_URL}"}
    cs = by["cost_spike"]
    models = Counter((_inside(r, cs), r["model"]["providedModelName"]) for r in records
                     if r["basic"]["name"] == "ChatOpenAI" and r["_trace"]["name"] == "AgentExecutor")
    assert {m for w, m in models if w} == {"gpt-4.1"}
    assert {m for w, m in models if not w} == {"gpt-4.1-mini"}
    t = data.truth
    fl = t[t["agent"] == "AgentExecutor"]
    inside = (fl["start"] >= cs.start) & (fl["start"] < cs.end)
    assert 4.0 < fl.loc[inside, "cost"].mean() / fl.loc[~inside, "cost"].mean() < 6.5
    hs = by["hallucination_spike"]
    versions = {(_inside(r, hs), r["prompt"]["promptVersion"], r["basic"]["environment"])
                for r in records if r["prompt"]["promptName"] == "policy-answer"}
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
    ends = t["start"] + pd.to_timedelta(t["duration_s"], unit="s")
    lag = s["timestamp"] - s["trace_id"].map(pd.Series(ends.array, index=t["trace_id"]))
    assert (lag > pd.Timedelta(0)).all()
    assert (lag[s["source"] == "EVAL"] < pd.Timedelta(minutes=31)).all()
    assert {c["name"] for c in data.score_configs} == {"quality", "answer_correct"}


def test_the_real_source_reads_traces_scores_and_configs(data):
    import httpx
    from langfuse.api import LangfuseAPI

    t = data.truth
    lo = pd.Timestamp(END, tz="UTC") - pd.Timedelta(days=1)
    hi = pd.Timestamp(END, tz="UTC") + pd.Timedelta(days=1)
    with data.double() as dbl:
        with dbl.source() as src:
            traces = src.traces(lo, hi)
            scores = src.scores(lo, hi + pd.Timedelta(days=3))
        with httpx.Client(timeout=10) as http:
            api = LangfuseAPI(base_url=dbl.base_url, username=dbl.public_key,
                              password=dbl.secret_key, httpx_client=http)
            configs = api.score_configs.get(page=1, limit=50)
            quality = api.scores.get_many(fields="details", limit=100, name="quality")
            judged = api.scores.get_many(fields="details", limit=100, name="hallucination")
    assert set(traces["trace_id"]) == set(t["trace_id"])
    assert len(scores) == len(data.scores)
    assert sorted(scores["name"].unique()) == sorted(data.scores["name"].unique())
    cost = traces.set_index("trace_id")["cost_usd"].reindex(t["trace_id"]).to_numpy()
    assert abs(cost - t["cost"].to_numpy()).max() < 1e-9
    assert {c.id for c in configs.data} == {c["id"] for c in bl.SCORE_CONFIGS}
    assert quality.data and {s.config_id for s in quality.data} == {"cfg-quality-1to5"}
    assert {s.source for s in quality.data} == {"ANNOTATION"}
    assert judged.data and {s.config_id for s in judged.data} == {None}
    read = scores[scores["name"] == "quality"]
    assert (read["scale_min"].eq(1.0) & read["scale_max"].eq(5.0)).all()


def test_bad_incidents_are_refused():
    with pytest.raises(ValueError, match="unknown runbook 'latency'"):
        bl.generate(1, END, 1, [Incident("latency", END, 3, 2.0)])
    with pytest.raises(ValueError, match="one cost_spike"):
        bl.generate(1, END, 1, [Incident("cost_spike", END, 3, 2.0)] * 2)
    with pytest.raises(ValueError, match="magnitude"):
        bl.generate(1, END, 1, [Incident("cost_spike", END, 3, -1.0)])
    with pytest.raises(ValueError, match="hour"):
        bl.generate(1, END, 1, [Incident("cost_spike", END, 24, 2.0)])
    with pytest.raises(ValueError, match="days"):
        bl.generate(1, END, 0)
