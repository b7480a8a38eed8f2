"""The fifth blind dataset (bench/blind_stacks.py): deterministic, labelled, shaped like a Tokyo
product's traffic, and served by the Langfuse double the way Langfuse ingests Mastra, Haystack's
LangfuseConnector, OpenInference smolagents and Semantic Kernel spans."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from tests import blind_checks as checks  # puts bench/ on the import path

import blind_stacks as bs  # noqa: E402
from blind_data import Incident  # noqa: E402

END = "2026-11-18"  # UTC Tue 17th and Wed 18th: Tokyo weekdays from Tue 09:00 to Thu 09:00
INCIDENTS = (Incident("timeout_surge", END, 2, 5.0), Incident("cost_spike", END, 1, 3.0),
             Incident("hallucination_spike", "2026-11-17", 3, 4.0))
BLIND = checks.Blind(bs, seed=5, end=END, incidents=INCIDENTS)
data, records = BLIND.fixtures()


def test_same_seed_same_data_other_seed_other_data(data):
    checks.assert_same_seed_same_data_other_seed_other_data(BLIND, data)


def test_tokyo_day_shape_volumes_and_mix(data):
    checks.assert_truth_names_every_trace(data)
    t = data.truth
    per_day = t.groupby(t["start"].dt.floor("D")).size()
    assert len(per_day) == 2 and ((per_day > 1100) & (per_day < 1400)).all(), per_day
    hours = t["start"].dt.hour
    office = hours.between(0, 8).sum()        # 09-18 JST
    night = hours.between(15, 20).sum()       # 00-06 JST
    assert office > 0.55 * len(t) and night < 0.03 * len(t)
    # the mix moves with the hour: trip planning is an evening (JST) thing
    evening = t[hours.between(9, 13)]         # 18-23 JST
    assert (evening["agent"] == "trip-planner").mean() > 2 * (
        t.loc[hours.between(0, 8), "agent"] == "trip-planner").mean()
    # agents of different latency and cost
    med = t[~t["timeout"]].groupby("agent")[["duration_s", "cost"]].median()
    assert med.loc["sales_analyst", "duration_s"] > 4 * med.loc["trip-planner", "duration_s"]
    assert med.loc["trip-planner", "duration_s"] > 2 * med.loc["kb-rag", "duration_s"]
    assert med["cost"].idxmax() == "sales_analyst" and med["cost"].idxmin() == "kb-rag"
    assert med.loc["sales_analyst", "cost"] > 100 * med.loc["kb-rag", "cost"]


def test_weekends_are_quieter_with_another_mix():
    sat = bs.generate(seed=5, end_day="2026-11-21", days=1).truth  # Sat 09:00 - Sun 09:00 JST
    assert 600 < len(sat) < 900
    wed = bs.generate(seed=5, end_day="2026-11-18", days=1).truth
    share = {k: v["agent"].value_counts(normalize=True) for k, v in (("sat", sat), ("wed", wed))}
    assert share["sat"]["trip-planner"] > 1.5 * share["wed"]["trip-planner"]
    assert share["sat"]["sales_analyst"] < 0.5 * share["wed"]["sales_analyst"]


def test_judges_feedback_and_late_batch_scores(data):
    t, s = data.truth, data.scores
    kinds = dict(zip(s["name"], s["data_type"]))
    assert kinds == {"faithfulness": "NUMERIC", "answer_relevancy": "NUMERIC",
                     "context_precision": "NUMERIC", "Hallucination": "NUMERIC",
                     "Answer Relevancy": "NUMERIC", "Task Completion": "NUMERIC",
                     "user-feedback": "BOOLEAN"}
    num = s[s["data_type"] == "NUMERIC"]
    assert num["value"].between(0, 1).all()
    fb = s[s["name"] == "user-feedback"]
    assert set(zip(fb["value"], fb["string_value"])) == {(1.0, "True"), (0.0, "False")}
    assert set(s["source"]) == {"API"}
    assert 0.10 < s["trace_id"].nunique() / len(t) < 0.25
    assert t.loc[~t["scored"], "bad"].isna().all()
    lag = checks.score_lag(data)
    assert (lag > pd.Timedelta(0)).all()
    ragas = lag[s["name"] == "faithfulness"]
    # the nightly batch (02:00 JST): every RAGAS score lands hours after its trace
    assert (ragas > pd.Timedelta(hours=2)).mean() > 0.9
    assert (s.loc[s["name"] == "faithfulness", "timestamp"].dt.hour == 17).all()
    assert (lag[s["name"] == "user-feedback"] < pd.Timedelta(minutes=11)).all()
    by = {c["name"]: c for c in data.score_configs}
    assert (by["faithfulness"]["minValue"], by["faithfulness"]["maxValue"]) == (0.0, 1.0)
    assert by["user-feedback"]["dataType"] == "BOOLEAN"


def test_labels_name_each_cause(data):
    by = checks.by_runbook(data)
    ts = by["timeout_surge"]
    assert (ts.agent, ts.cause_dimension, ts.cause_value, ts.within) == (
        "billing-assistant", "model", "gpt-4o", {"agent": "billing-assistant"})
    assert ts.start == pd.Timestamp(f"{END} 02:00", tz="UTC")
    assert ts.end - ts.start == pd.Timedelta(hours=4) and ts.magnitude == 5.0
    cs = by["cost_spike"]
    assert (cs.agent, cs.cause_dimension, cs.cause_value, cs.within) == (
        "trip-planner", "prompt_version", "14", {"prompt": "trip-planner-system"})
    hs = by["hallucination_spike"]
    assert (hs.agent, hs.cause_dimension, hs.cause_value, hs.within) == (
        "kb-rag", "model", "text-embedding-3-large", {"agent": "kb-rag"})
    assert hs.end - hs.start == pd.Timedelta(hours=8)


def test_bad_incidents_are_refused():
    checks.assert_bad_incidents_refused(bs, END, magnitude=0.0, hour=False)


def test_double_ingests_each_stack(data, records):
    seen = {(r["metadata"]["metadata"]["scope.name"], r["core"]["type"], r["basic"]["name"])
            for r in records if not r["basic"]["name"].startswith(("step ", "Step "))}
    assert seen == {
        ("@mastra/langfuse", "AGENT", "invoke_agent trip-planner"),
        ("@mastra/langfuse", "GENERATION", "chat gpt-4.1-mini"),
        ("@mastra/langfuse", "TOOL", "searchFlights"),
        ("@mastra/langfuse", "TOOL", "searchHotels"),
        ("@mastra/langfuse", "TOOL", "getWeather"),
        ("langfuse-sdk", "SPAN", "kb-rag"),
        ("langfuse-sdk", "EMBEDDING", "query_embedder"),
        ("langfuse-sdk", "RETRIEVER", "retriever"),
        ("langfuse-sdk", "SPAN", "prompt_builder"),
        ("langfuse-sdk", "GENERATION", "llm"),
        ("openinference.instrumentation.smolagents", "AGENT", "sales_analyst.run"),
        ("openinference.instrumentation.smolagents", "GENERATION", "LiteLLMModel.generate"),
        ("openinference.instrumentation.smolagents", "TOOL", "SQLQueryTool"),
        ("openinference.instrumentation.smolagents", "TOOL", "ChartTool"),
        ("openinference.instrumentation.smolagents", "TOOL", "FinalAnswerTool"),
        ("semantic_kernel.utils.telemetry.agent_diagnostics.decorators", "AGENT",
         "invoke_agent billing-assistant"),
        ("semantic_kernel.utils.telemetry.model_diagnostics.decorators", "GENERATION",
         "chat.completions gpt-4o"),
        ("semantic_kernel.utils.telemetry.model_diagnostics.decorators", "GENERATION",
         "chat.completions gpt-4o-mini"),
        ("semantic_kernel.functions.kernel_function", "TOOL", "Billing-get_invoice"),
        ("semantic_kernel.functions.kernel_function", "TOOL", "Billing-explain_charges"),
    }
    steps = Counter((r["core"]["type"], r["basic"]["name"].split()[0]) for r in records
                    if r["basic"]["name"].startswith(("step ", "Step ")))
    assert set(steps) == {("SPAN", "step"), ("CHAIN", "Step")}
    roots = Counter(r["_trace"]["name"] for r in records if r["basic"]["isRootObservation"])
    assert set(roots) == {"invoke_agent trip-planner", "kb-rag", "sales_analyst.run",
                          "invoke_agent billing-assistant"}
    priced = {(r["model"]["providedModelName"], r["model"]["internalModelId"])
              for r in records if r["usage"]["totalCost"]}
    assert priced == {("gpt-4.1-mini-2025-04-14", "model-gpt-4.1-mini"),
                      ("gpt-4o-mini-2024-07-18", "model-gpt-4o-mini"),
                      (bs._CLAUDE, "model-claude-sonnet-4-5"),
                      ("gpt-4o", "model-gpt-4o"), ("gpt-4o-mini", "model-gpt-4o-mini")}
    checks.assert_double_bills_the_truth(data, records)
    prompts = {(r["prompt"]["promptName"], r["prompt"]["promptVersion"]) for r in records
               if r["prompt"]["promptName"]}
    assert prompts == {("trip-planner-system", 12), ("trip-planner-system", 14)}


def test_incidents_and_background_errors_show_in_the_spans(data, records):
    by = checks.by_runbook(data)
    rate = checks.error_rates(records, by["timeout_surge"], "chat.completions gpt-4o")
    assert rate[True] > 2.5 * rate[False] > 0
    msgs = {r["basic"]["statusMessage"] for r in records
            if r["basic"]["name"].startswith("chat.completions") and r["basic"]["level"] == "ERROR"}
    assert msgs == {bs._SK_TIMEOUT}
    assert not any(r["basic"]["level"] == "ERROR" for r in records
                   if r["basic"]["name"] == "chat.completions gpt-4o-mini")
    cs = by["cost_spike"]
    inside = checks.inside(records, cs)
    tokens = {True: [], False: []}
    for i, r in enumerate(records):
        if r["basic"]["name"] == "chat gpt-4.1-mini" and r["usage"]["usageDetails"]:
            tokens[inside[i]].append(r["usage"]["usageDetails"]["input"])
    ratio = (sum(tokens[True]) / len(tokens[True])) / (sum(tokens[False]) / len(tokens[False]))
    assert 2.2 < ratio < 3.2
    hs = by["hallucination_spike"]
    inside = checks.inside(records, hs)
    embed = {(inside[i], r["model"]["providedModelName"]) for i, r in enumerate(records)
             if r["core"]["type"] == "EMBEDDING"}
    assert embed == {(True, "text-embedding-3-large"), (False, "text-embedding-3-small")}
    t = data.truth
    kb = t[t["agent"] == "kb-rag"]
    win = (kb["start"] >= hs.start) & (kb["start"] < hs.end)
    judged = kb[kb["scored"]]
    assert judged.loc[win[kb["scored"]], "bad"].mean() > 2 * judged.loc[
        ~win[kb["scored"]], "bad"].mean()
    errors = Counter(r["basic"]["statusMessage"].split(":")[0] for r in records
                     if r["basic"]["level"] == "ERROR" and not r["basic"]["isRootObservation"])
    assert {"RateLimitError", "AgentExecutionError", "FunctionExecutionException"} <= set(errors)


def test_the_real_source_reads_traces_scores_and_configs(data):
    traces, scores, configs, pages = checks.read_back(
        data, END, ("faithfulness", "context_precision"), scores_later=pd.Timedelta(days=1))
    checks.assert_read_back_as_generated(data, traces, scores)
    faith, ragas = pages["faithfulness"], pages["context_precision"]
    assert {c.id for c in configs.data} == {c["id"] for c in bs.SCORE_CONFIGS}
    assert faith.data and {s.config_id for s in faith.data} == {"cfg-faithfulness-01"}
    assert ragas.data and {s.config_id for s in ragas.data} == {None}
    read = scores[scores["name"] == "faithfulness"]
    assert (read["scale_min"].eq(0.0) & read["scale_max"].eq(1.0)).all()
