"""The third blind dataset (bench/blind_gateways.py): deterministic, labelled, and ingested by
the Langfuse double the way Langfuse ingests LiteLLM, Langfuse JS SDK and OpenInference spans."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from tests import blind_checks as checks  # puts bench/ on the import path

import blind_gateways as bg  # noqa: E402
from blind_data import Incident  # noqa: E402

from tests.doubles import LangfuseDouble  # noqa: E402

END = "2026-11-25"  # a Wednesday; both days are weekdays
INCIDENTS = (Incident("timeout_surge", END, 9, 5.0), Incident("cost_spike", END, 8, 3.0),
             Incident("hallucination_spike", "2026-11-24", 10, 4.0))
BLIND = checks.Blind(bg, seed=5, end=END, incidents=INCIDENTS)
data, records = BLIND.fixtures()


def test_same_seed_same_data_other_seed_other_data(data):
    checks.assert_same_seed_same_data_other_seed_other_data(BLIND, data)


def test_office_hours_volumes_truth_and_judges(data):
    checks.assert_truth_names_every_trace(data)
    t = data.truth
    per_day = t.groupby(t["start"].dt.floor("D")).size()
    assert ((per_day > 900) & (per_day < 1400)).all(), per_day
    hours = t["start"].dt.hour
    assert hours.between(7, 16).sum() > 8 * (~hours.between(6, 17)).sum()
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
    lag = checks.score_lag(data)
    assert (lag > pd.Timedelta(0)).all() and (lag < pd.Timedelta(minutes=30)).all()
    assert len(LangfuseDouble.from_spans(data.spans, s, prices=data.prices).scores) == len(s)


def test_labels_name_each_cause(data):
    by = checks.by_runbook(data)
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
    checks.assert_bad_incidents_refused(bg, END, magnitude=-1.0, hour=False)


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
    checks.assert_double_bills_the_truth(data, records)


def test_incidents_show_in_the_spans(data, records):
    by = checks.by_runbook(data)
    hs = by["hallucination_spike"]
    inside = checks.inside(records, hs)
    versions = {(inside[i], r["prompt"]["promptVersion"]) for i, r in enumerate(records)
                if r["prompt"]["promptName"] == "helpdesk-reply"}
    assert versions == {(True, 8), (False, 7)}
    rate = checks.error_rates(records, by["timeout_surge"], "create_ticket")
    assert rate[True] > 2.5 * rate[False]
    msgs = {r["basic"]["statusMessage"] for r in records
            if r["basic"]["name"] == "create_ticket" and r["basic"]["level"] == "ERROR"}
    assert msgs == {"HTTP 504 Gateway Timeout from api-gateway (tickets.create)"}
    cs = by["cost_spike"]
    inside = checks.inside(records, cs)
    gpt4o = Counter(inside[i] for i, r in enumerate(records)
                    if r["model"]["providedModelName"] == "openai/gpt-4o"
                    and r["basic"]["level"] != "ERROR")
    routed = Counter(inside[i] for i, r in enumerate(records)
                     if r["basic"]["name"] == "litellm_request" and r["basic"]["level"] != "ERROR")
    assert gpt4o[True] / routed[True] > 5 * gpt4o[False] / routed[False]
    refusals = {r["basic"]["statusMessage"].split(":")[0] for r in records
                if r["basic"]["name"] == "litellm_request" and r["basic"]["level"] == "ERROR"}
    assert refusals <= {"litellm.RateLimitError", "litellm.Timeout"} and refusals
