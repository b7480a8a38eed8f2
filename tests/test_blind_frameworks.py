"""The second blind dataset (bench/blind_frameworks.py): deterministic, labelled, and ingested by
the Langfuse double the way Langfuse ingests each framework's spans."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from tests import blind_checks as checks  # puts bench/ on the import path

import blind_frameworks as bf  # noqa: E402
from blind_data import Incident  # noqa: E402

from tests.doubles import LangfuseDouble  # noqa: E402

END = "2026-11-25"  # a Wednesday; the two days are weekdays
INCIDENTS = (Incident("timeout_surge", END, 15, 5.0), Incident("cost_spike", END, 14, 3.0),
             Incident("hallucination_spike", "2026-11-24", 14, 4.0))
BLIND = checks.Blind(bf, seed=11, end=END, incidents=INCIDENTS)
data, records = BLIND.fixtures()


def test_same_seed_same_data_other_seed_other_data(data):
    checks.assert_same_seed_same_data_other_seed_other_data(BLIND, data)


def test_volumes_truth_and_scores(data):
    checks.assert_truth_names_every_trace(data)
    t = data.truth
    per_day = t.groupby(t["start"].dt.floor("D")).size()
    assert ((per_day > 1000) & (per_day < 1400)).all(), per_day
    assert set(t["agent"]) == set(bf.AGENTS)
    hours = t["start"].dt.hour
    assert (hours.between(14, 22)).sum() > 4 * (hours.between(4, 10)).sum()  # US hours peak
    judged = t["scored"].mean()
    assert 0.08 < judged < 0.25
    assert t.loc[~t["scored"], "bad"].isna().all()
    s = data.scores
    assert set(s["name"]) == {"groundedness", "faithfulness", "helpful", "user-feedback"}
    assert set(s["data_type"]) == {"CATEGORICAL", "NUMERIC", "BOOLEAN"}
    assert set(s.loc[s["name"] == "groundedness", "string_value"]) <= {
        "grounded", "partially_grounded", "hallucinated"}
    lag = checks.score_lag(data)  # NaT, failing both bounds, for a score of no trace
    assert (lag > pd.Timedelta(0)).all() and (lag < pd.Timedelta(minutes=15)).all()
    dbl = LangfuseDouble.from_spans(data.spans, s, prices=data.prices)
    assert len(dbl.scores) == len(s)


def test_labels_name_each_cause(data):
    by = checks.by_runbook(data)
    ts = by["timeout_surge"]
    assert (ts.agent, ts.cause_dimension, ts.cause_value, ts.within) == (
        "shop-assistant", "tool", "getOrderStatus", {"agent": "shop-assistant"})
    assert ts.start == pd.Timestamp(f"{END} 15:00", tz="UTC")
    assert ts.end - ts.start == pd.Timedelta(hours=4) and ts.magnitude == 5.0
    cs = by["cost_spike"]
    assert (cs.agent, cs.cause_dimension, cs.cause_value) == ("research-graph", "model", "o4-mini")
    hs = by["hallucination_spike"]
    assert (hs.agent, hs.cause_dimension, hs.cause_value, hs.within) == (
        "support-bot", "prompt_version", "15", {"prompt": "support-answer"})


def test_bad_incidents_are_refused():
    checks.assert_bad_incidents_refused(bf, END, magnitude=0.0, hour=False)


def test_double_ingests_each_framework(records):
    seen = Counter((r["metadata"]["metadata"]["scope.name"], r["core"]["type"],
                    r["basic"]["name"]) for r in records)
    expected = {
        ("ai", "SPAN", "shop-assistant:ai.generateText"),
        ("ai", "GENERATION", "shop-assistant:ai.generateText.doGenerate"),
        ("ai", "TOOL", "getOrderStatus"), ("ai", "TOOL", "searchProducts"),
        ("pydantic-ai", "AGENT", "claims-triage run"),
        ("pydantic-ai", "GENERATION", "chat claude-sonnet-4-5"),
        ("pydantic-ai", "TOOL", "fetch_claim_history"),
        ("langfuse-sdk", "CHAIN", "research-graph"), ("langfuse-sdk", "AGENT", "agent"),
        ("langfuse-sdk", "GENERATION", "ChatOpenAI"), ("langfuse-sdk", "TOOL", "web_search"),
        ("langfuse-sdk", "SPAN", "handle_ticket"),
        ("langfuse-sdk", "GENERATION", "OpenAI-generation"),
        ("langfuse-sdk", "RETRIEVER", "search_kb"),
    }
    assert expected <= set(seen), expected - set(seen)
    models = {r["model"]["providedModelName"] for r in records if r["core"]["type"] == "GENERATION"
              and r["usage"]["totalCost"]}
    assert models == {"gpt-4.1-mini-2025-04-14", "claude-sonnet-4-5-20250929",
                      "o4-mini-2025-04-16", "gpt-4.1-2025-04-14"}
    roots = Counter(r["_trace"]["name"] for r in records if r["basic"]["isRootObservation"])
    assert set(roots) == {"shop-assistant:ai.generateText", "claims-triage run", "research-graph",
                          "support-bot"}


def test_double_bills_what_the_generator_billed(data, records):
    checks.assert_double_bills_the_truth(data, records)
    o4 = [r for r in records if r["model"]["providedModelName"] == "o4-mini-2025-04-16"]
    assert all(r["usage"]["usageDetails"]["output_reasoning"] > 0 for r in o4)


def test_incidents_show_in_the_spans(data, records):
    by = checks.by_runbook(data)
    hs = by["hallucination_spike"]
    inside = checks.inside(records, hs)
    versions = {(inside[i], r["prompt"]["promptVersion"]) for i, r in enumerate(records)
                if r["prompt"]["promptName"] == "support-answer"}
    assert versions == {(True, 15), (False, 14)}
    linked = {r["prompt"]["promptName"] for r in records if r["core"]["type"] == "GENERATION"}
    assert {"shop-assistant-system", "support-intent", "support-answer"} <= linked
    rate = checks.error_rates(records, by["timeout_surge"], "getOrderStatus")
    assert rate[True] > 2.5 * rate[False]
    msgs = {r["basic"]["statusMessage"] for r in records
            if r["basic"]["name"] == "getOrderStatus" and r["basic"]["level"] == "ERROR"}
    assert msgs == {"The operation was aborted due to timeout"}
    inside = checks.inside(records, by["cost_spike"])
    o4 = [(inside[i], r["usage"]["totalCost"] / max(1, r["usage"]["usageDetails"]["input"]))
          for i, r in enumerate(records)
          if r["model"]["providedModelName"] == "o4-mini-2025-04-16"]
    during = [c for w, c in o4 if w]
    before = [c for w, c in o4 if not w]
    assert sum(during) / len(during) > 2 * sum(before) / len(before)
