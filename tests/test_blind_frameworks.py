"""The second blind dataset (bench/blind_frameworks.py): deterministic, labelled, and ingested by
the Langfuse double the way Langfuse ingests each framework's spans."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import blind_frameworks as bf  # noqa: E402
from blind_data import Incident  # noqa: E402

from tests.doubles import LangfuseDouble  # noqa: E402
from tests.doubles import langfuse_ingest as ingest  # noqa: E402

END = "2026-11-25"  # a Wednesday; the two days are weekdays
INCIDENTS = (Incident("timeout_surge", END, 15, 5.0), Incident("cost_spike", END, 14, 3.0),
             Incident("hallucination_spike", "2026-11-24", 14, 4.0))


@pytest.fixture(scope="module")
def data():
    return bf.generate(seed=11, end_day=END, days=2, incidents=INCIDENTS)


@pytest.fixture(scope="module")
def records(data):
    return ingest.ingest(data.spans, data.prices)


def _key(d):
    return ([(s.context.trace_id, s.context.span_id, s.name, s.start_time, s.end_time)
             for s in d.spans], d.truth, d.scores)


def test_same_seed_same_data_other_seed_other_data(data):
    again = bf.generate(seed=11, end_day=END, days=2, incidents=INCIDENTS)
    spans, truth, scores = _key(data)
    spans2, truth2, scores2 = _key(again)
    assert spans == spans2
    pd.testing.assert_frame_equal(truth, truth2)
    pd.testing.assert_frame_equal(scores, scores2)
    other = bf.generate(seed=12, end_day=END, days=2, incidents=INCIDENTS)
    assert set(other.truth["trace_id"]).isdisjoint(truth["trace_id"])


def test_volumes_truth_and_scores(data):
    t = data.truth
    assert list(t.columns) == ["trace_id", "agent", "start", "duration_s", "timeout", "error",
                               "cost", "scored", "bad"]
    assert t["trace_id"].str.fullmatch(r"[0-9a-f]{32}").all() and t["trace_id"].is_unique
    per_day = t.groupby(t["start"].dt.floor("D")).size()
    assert ((per_day > 1000) & (per_day < 1400)).all(), per_day
    assert set(t["agent"]) == set(bf.AGENTS)
    hours = t["start"].dt.hour
    assert (hours.between(14, 22)).sum() > 4 * (hours.between(4, 10)).sum()  # US hours peak
    assert {format(s.context.trace_id, "032x") for s in data.spans} == set(t["trace_id"])
    judged = t["scored"].mean()
    assert 0.08 < judged < 0.25
    assert t.loc[~t["scored"], "bad"].isna().all()
    s = data.scores
    assert set(s["name"]) == {"groundedness", "faithfulness", "helpful", "user-feedback"}
    assert set(s["data_type"]) == {"CATEGORICAL", "NUMERIC", "BOOLEAN"}
    assert set(s.loc[s["name"] == "groundedness", "string_value"]) <= {
        "grounded", "partially_grounded", "hallucinated"}
    ends = (t["start"] + pd.to_timedelta(t["duration_s"], unit="s")).rename("end")
    joined = s.merge(pd.concat([t["trace_id"], ends], axis=1), on="trace_id")
    assert len(joined) == len(s)
    lag = joined["timestamp"] - joined["end"]
    assert (lag > pd.Timedelta(0)).all() and (lag < pd.Timedelta(minutes=15)).all()
    dbl = LangfuseDouble.from_spans(data.spans, s, prices=data.prices)
    assert len(dbl.scores) == len(s)


def test_labels_name_each_cause(data):
    by = {lab.runbook: lab for lab in data.labels}
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
    with pytest.raises(ValueError, match="unknown runbook 'latency'"):
        bf.generate(1, END, 1, [Incident("latency", END, 3, 2.0)])
    with pytest.raises(ValueError, match="one cost_spike"):
        bf.generate(1, END, 1, [Incident("cost_spike", END, 3, 2.0)] * 2)
    with pytest.raises(ValueError, match="magnitude"):
        bf.generate(1, END, 1, [Incident("cost_spike", END, 3, 0.0)])
    with pytest.raises(ValueError, match="days"):
        bf.generate(1, END, 0)


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
    billed = Counter()
    for r in records:
        billed[r["core"]["traceId"]] += r["usage"]["totalCost"] or 0.0
    truth = data.truth.set_index("trace_id")["cost"]
    got = pd.Series(billed).reindex(truth.index).fillna(0.0)
    assert (got - truth).abs().max() < 1e-9
    o4 = [r for r in records if r["model"]["providedModelName"] == "o4-mini-2025-04-16"]
    assert all(r["usage"]["usageDetails"]["output_reasoning"] > 0 for r in o4)


def test_incidents_show_in_the_spans(data, records):
    by = {lab.runbook: lab for lab in data.labels}
    ts = pd.to_datetime([r["core"]["startTime"] for r in records], utc=True)

    def inside(i, lab):
        return lab.start <= ts[i] < lab.end

    hs = by["hallucination_spike"]
    versions = {(inside(i, hs), r["prompt"]["promptVersion"]) for i, r in enumerate(records)
                if r["prompt"]["promptName"] == "support-answer"}
    assert versions == {(True, 15), (False, 14)}
    linked = {r["prompt"]["promptName"] for r in records if r["core"]["type"] == "GENERATION"}
    assert {"shop-assistant-system", "support-intent", "support-answer"} <= linked
    to = by["timeout_surge"]
    calls = [(inside(i, to), r["basic"]["level"]) for i, r in enumerate(records)
             if r["basic"]["name"] == "getOrderStatus"]
    rate = {w: sum(lv == "ERROR" for x, lv in calls if x == w) / sum(x == w for x, _ in calls)
            for w in (True, False)}
    assert rate[True] > 2.5 * rate[False]
    msgs = {r["basic"]["statusMessage"] for r in records
            if r["basic"]["name"] == "getOrderStatus" and r["basic"]["level"] == "ERROR"}
    assert msgs == {"The operation was aborted due to timeout"}
    cs = by["cost_spike"]
    o4 = [(inside(i, cs), r["usage"]["totalCost"] / max(1, r["usage"]["usageDetails"]["input"]))
          for i, r in enumerate(records)
          if r["model"]["providedModelName"] == "o4-mini-2025-04-16"]
    during = [c for w, c in o4 if w]
    before = [c for w, c in o4 if not w]
    assert sum(during) / len(during) > 2 * sum(before) / len(before)
