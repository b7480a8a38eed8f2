"""The third blind dataset (bench/blind_gateways.py): deterministic, labelled, and ingested by
the Langfuse double the way Langfuse ingests LiteLLM, Langfuse JS SDK and OpenInference spans."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import blind_gateways as bg  # noqa: E402
from blind_data import Incident  # noqa: E402

from tests.doubles import LangfuseDouble  # noqa: E402
from tests.doubles import langfuse_ingest as ingest  # noqa: E402

END = "2026-11-25"  # a Wednesday; both days are weekdays
INCIDENTS = (Incident("timeout_surge", END, 9, 5.0), Incident("cost_spike", END, 8, 3.0),
             Incident("hallucination_spike", "2026-11-24", 10, 4.0))


@pytest.fixture(scope="module")
def data():
    return bg.generate(seed=5, end_day=END, days=2, incidents=INCIDENTS)


@pytest.fixture(scope="module")
def records(data):
    return ingest.ingest(data.spans, data.prices)


def _inside(records, label):
    ts = pd.to_datetime([r["core"]["startTime"] for r in records], utc=True)
    return [label.start <= t < label.end for t in ts]


def test_same_seed_same_data_other_seed_other_data(data):
    again = bg.generate(seed=5, end_day=END, days=2, incidents=INCIDENTS)
    key = [(s.context.trace_id, s.context.span_id, s.name, s.start_time, s.end_time)
           for s in data.spans]
    assert key == [(s.context.trace_id, s.context.span_id, s.name, s.start_time, s.end_time)
                   for s in again.spans]
    pd.testing.assert_frame_equal(data.truth, again.truth)
    pd.testing.assert_frame_equal(data.scores, again.scores)
    other = bg.generate(seed=6, end_day=END, days=2, incidents=INCIDENTS)
    assert set(other.truth["trace_id"]).isdisjoint(data.truth["trace_id"])


def test_office_hours_volumes_truth_and_judges(data):
    t = data.truth
    assert list(t.columns) == ["trace_id", "agent", "start", "duration_s", "timeout", "error",
                               "cost", "scored", "bad"]
    assert t["trace_id"].str.fullmatch(r"[0-9a-f]{32}").all() and t["trace_id"].is_unique
    per_day = t.groupby(t["start"].dt.floor("D")).size()
    assert ((per_day > 900) & (per_day < 1400)).all(), per_day
    hours = t["start"].dt.hour
    assert hours.between(7, 16).sum() > 8 * (~hours.between(6, 17)).sum()
    assert {format(s.context.trace_id, "032x") for s in data.spans} == set(t["trace_id"])
    assert t.loc[~t["scored"], "bad"].isna().all()
    judged = t.groupby("agent")["scored"].mean()
    assert 0.18 < judged["helpdesk-agent"] < 0.32 and 0.05 < judged["invoice-copilot"] < 0.16
    s = data.scores
    kinds = dict(zip(s["name"], s["data_type"]))
    assert kinds == {"faithfulness": "NUMERIC", "answer_support": "CATEGORICAL",
                     "hallucination": "BOOLEAN"}
    assert set(s.loc[s["name"] == "faithfulness", "value"]) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert set(s.loc[s["name"] == "answer_support", "string_value"]) == {
        "supported", "partially_supported", "unsupported"}
    ends = t["start"] + pd.to_timedelta(t["duration_s"], unit="s")
    lag = s["timestamp"] - s["trace_id"].map(pd.Series(ends.array, index=t["trace_id"]))
    assert (lag > pd.Timedelta(0)).all() and (lag < pd.Timedelta(minutes=30)).all()
    assert len(LangfuseDouble.from_spans(data.spans, s, prices=data.prices).scores) == len(s)


def test_labels_name_each_cause(data):
    by = {lab.runbook: lab for lab in data.labels}
    ts = by["timeout_surge"]
    assert (ts.agent, ts.cause_dimension, ts.cause_value, ts.within) == (
        "helpdesk-agent", "tool", "create_ticket", {"agent": "helpdesk-agent"})
    assert ts.start == pd.Timestamp(f"{END} 09:00", tz="UTC")
    assert ts.end - ts.start == pd.Timedelta(hours=4) and ts.magnitude == 5.0
    cs = by["cost_spike"]
    assert (cs.agent, cs.cause_dimension, cs.cause_value) == (
        "invoice-copilot", "model", "openai/gpt-4o")
    hs = by["hallucination_spike"]
    assert (hs.agent, hs.cause_dimension, hs.cause_value, hs.within) == (
        "helpdesk-agent", "prompt_version", "8", {"prompt": "helpdesk-reply"})


def test_bad_incidents_are_refused():
    with pytest.raises(ValueError, match="unknown runbook 'latency'"):
        bg.generate(1, END, 1, [Incident("latency", END, 3, 2.0)])
    with pytest.raises(ValueError, match="one cost_spike"):
        bg.generate(1, END, 1, [Incident("cost_spike", END, 3, 2.0)] * 2)
    with pytest.raises(ValueError, match="magnitude"):
        bg.generate(1, END, 1, [Incident("cost_spike", END, 3, -1.0)])
    with pytest.raises(ValueError, match="days"):
        bg.generate(1, END, 0)


def test_double_ingests_each_library(data, records):
    seen = {(r["metadata"]["metadata"]["scope.name"], r["core"]["type"], r["basic"]["name"])
            for r in records}
    assert seen == {
        ("invoice_copilot.agent", "AGENT", "invoke_agent invoice-copilot"),
        ("invoice_copilot.agent", "TOOL", "erp_lookup"),
        ("invoice_copilot.agent", "TOOL", "fx_rate"),
        ("litellm", "GENERATION", "litellm_request"),
        ("langfuse-sdk", "AGENT", "helpdesk-turn"),
        ("langfuse-sdk", "GENERATION", "route-intent"),
        ("langfuse-sdk", "GENERATION", "compose-reply"),
        ("langfuse-sdk", "TOOL", "kb_search"), ("langfuse-sdk", "TOOL", "create_ticket"),
        ("openinference.instrumentation.llama_index", "CHAIN", "RetrieverQueryEngine.query"),
        ("openinference.instrumentation.llama_index", "CHAIN", "CompactAndRefine.get_response"),
        ("openinference.instrumentation.llama_index", "RETRIEVER",
         "VectorIndexRetriever.retrieve"),
        ("openinference.instrumentation.llama_index", "EMBEDDING",
         "OpenAIEmbedding.get_query_embedding"),
        ("openinference.instrumentation.llama_index", "GENERATION", "OpenAI.chat"),
    }
    priced = Counter((r["model"]["providedModelName"], r["model"]["internalModelId"])
                     for r in records if r["usage"]["totalCost"])
    assert set(priced) == {("azure/gpt-4o-mini", "model-gpt-4o-mini"),
                           ("openai/gpt-4o", "model-gpt-4o"),
                           ("gpt-4.1-mini", "model-gpt-4.1-mini"),
                           ("gpt-4.1-2025-04-14", "model-gpt-4.1")}
    roots = Counter(r["_trace"]["name"] for r in records if r["basic"]["isRootObservation"])
    assert set(roots) == {"invoice-copilot", "helpdesk-turn", "RetrieverQueryEngine.query"}
    billed = Counter()
    for r in records:
        billed[r["core"]["traceId"]] += r["usage"]["totalCost"] or 0.0
    truth = data.truth.set_index("trace_id")["cost"]
    assert (pd.Series(billed).reindex(truth.index).fillna(0.0) - truth).abs().max() < 1e-9


def test_incidents_show_in_the_spans(data, records):
    by = {lab.runbook: lab for lab in data.labels}
    hs = by["hallucination_spike"]
    inside = _inside(records, hs)
    versions = {(inside[i], r["prompt"]["promptVersion"]) for i, r in enumerate(records)
                if r["prompt"]["promptName"] == "helpdesk-reply"}
    assert versions == {(True, 8), (False, 7)}
    to = by["timeout_surge"]
    inside = _inside(records, to)
    calls = [(inside[i], r["basic"]["level"] == "ERROR") for i, r in enumerate(records)
             if r["basic"]["name"] == "create_ticket"]
    rate = {w: sum(e for x, e in calls if x == w) / sum(x == w for x, _ in calls)
            for w in (True, False)}
    assert rate[True] > 2.5 * rate[False]
    msgs = {r["basic"]["statusMessage"] for r in records
            if r["basic"]["name"] == "create_ticket" and r["basic"]["level"] == "ERROR"}
    assert msgs == {"HTTP 504 Gateway Timeout from api-gateway (tickets.create)"}
    cs = by["cost_spike"]
    inside = _inside(records, cs)
    gpt4o = Counter(inside[i] for i, r in enumerate(records)
                    if r["model"]["providedModelName"] == "openai/gpt-4o"
                    and r["basic"]["level"] != "ERROR")
    routed = Counter(inside[i] for i, r in enumerate(records)
                     if r["basic"]["name"] == "litellm_request" and r["basic"]["level"] != "ERROR")
    assert gpt4o[True] / routed[True] > 5 * gpt4o[False] / routed[False]
    refusals = {r["basic"]["statusMessage"].split(":")[0] for r in records
                if r["basic"]["name"] == "litellm_request" and r["basic"]["level"] == "ERROR"}
    assert refusals <= {"litellm.RateLimitError", "litellm.Timeout"} and refusals
