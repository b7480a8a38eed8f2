"""The seventh blind dataset (bench/blind_telemetry.py): deterministic, labelled, and served by the
Langfuse double the way Langfuse stores OpenLLMetry, Strands, AutoGen and Langfuse SDK v3 traces,
with Langfuse's own evaluator traces and SDK experiments beside them."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from tests import blind_checks as checks  # puts bench/ on the import path

import blind_telemetry as bt  # noqa: E402
from blind_data import Incident  # noqa: E402

END = "2026-11-25"  # a Wednesday; both days are weekdays
INCIDENTS = (Incident("timeout_surge", END, 15, 8.0), Incident("cost_spike", END, 17, 5.0),
             Incident("hallucination_spike", "2026-11-24", 15, 6.0))
BLIND = checks.Blind(bt, seed=11, end=END, incidents=INCIDENTS)
data, records = BLIND.fixtures()
APPS = (bt.CLAIMS, bt.TRAVEL, bt.BILLING, bt.SUPPORT)


def test_same_seed_same_data_other_seed_other_data(data):
    checks.assert_same_seed_same_data_other_seed_other_data(BLIND, data)


def test_us_east_day_volumes_and_langfuse_environments(data, records):
    checks.assert_truth_names_every_trace(data)
    t = data.truth
    app = t[t["agent"].isin(APPS)]
    per_day = app.groupby(app["start"].dt.floor("D")).size()
    assert len(per_day) == 2 and ((per_day > 1050) & (per_day < 1450)).all(), per_day
    hours = app["start"].dt.hour
    assert hours.between(13, 22).sum() > 4 * hours.between(5, 11).sum()
    roots = {r["core"]["traceId"]: r for r in records if r["basic"]["isRootObservation"]}
    assert len(roots) == len(t)
    env = Counter((r["_trace"]["name"].split(":")[0], r["_trace"]["environment"])
                  for r in roots.values())
    assert {e for _, e in env} == {"production", bt.JUDGE_ENV, bt.EXPERIMENT_ENV}
    assert {n for n, e in env if e == bt.JUDGE_ENV} == {"Execute evaluator"}
    assert {n for n, e in env if e == bt.EXPERIMENT_ENV} == {"experiment-item-run"}
    assert env[("experiment-item-run", bt.EXPERIMENT_ENV)] == 2 * bt.EXPERIMENT_ITEMS
    judged = t[t["agent"].isin(APPS) & t["scored"]]
    judges = t[t["agent"].str.startswith("Execute evaluator: ")]
    assert len(judges) == sum(len(bt.JUDGES[a]) for a in judged["agent"])


def test_each_instrumentation_as_langfuse_stores_it(data, records):
    seen = {(r["_trace"]["name"], r["core"]["type"], r["basic"]["name"]) for r in records}
    tr, bi = bt.TRAVEL_TRACE, bt.BILLING_TRACE
    assert seen == {
        (bt.CLAIMS, "SPAN", "claims_intake.workflow"), (bt.CLAIMS, "SPAN", "classify_claim.task"),
        (bt.CLAIMS, "SPAN", "policy_lookup.tool"), (bt.CLAIMS, "SPAN", "draft_decision.task"),
        (bt.CLAIMS, "GENERATION", "openai.chat"),
        (tr, "SPAN", tr), (tr, "SPAN", "execute_event_loop_cycle"), (tr, "GENERATION", "chat"),
        (tr, "TOOL", "flight_search"), (tr, "TOOL", "hotel_search"),
        (tr, "TOOL", "currency_convert"),
        (bi, "AGENT", bi), (bi, "GENERATION", "openai.chat"), (bi, "TOOL", "get_invoice"),
        (bi, "TOOL", "refund_status"),
        (bt.SUPPORT, "AGENT", bt.SUPPORT), (bt.SUPPORT, "RETRIEVER", "search_docs"),
        (bt.SUPPORT, "GENERATION", "answer"),
        ("experiment-item-run", "SPAN", "experiment-item-run"),
        ("experiment-item-run", "SPAN", "experiment-item-task"),
        ("experiment-item-run", "RETRIEVER", "search_docs"),
        ("experiment-item-run", "GENERATION", "answer"),
        ("Execute evaluator: Hallucination", "GENERATION", "ChatOpenAI"),
        ("Execute evaluator: Helpfulness", "GENERATION", "ChatOpenAI"),
        ("Execute evaluator: Correctness", "GENERATION", "ChatOpenAI"),
    }
    meta = [r["metadata"]["metadata"] for r in records]
    ol = [m for r, m in zip(records, meta) if r["basic"]["name"] == "policy_lookup.tool"]
    assert {m["attributes.traceloop.span.kind"] for m in ol} == {"tool"}
    assert {m["scope.name"] for m in ol} == {"traceloop.tracer"}
    models = Counter(r["model"]["providedModelName"] for r in records
                     if r["core"]["type"] == "GENERATION")
    # a failed OpenAI call has no response model: Langfuse falls back to the requested one
    assert set(models) == {"gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "gpt-4o",
                           "gpt-4.1-2025-04-14", bt.BEDROCK_SONNET, "gpt-4.1-mini"}
    # Strands' agent span carries its chat spans' usage and Langfuse bills it again
    agent = [r for r in records if r["basic"]["name"] == bt.TRAVEL_TRACE]
    assert all(r["usage"]["totalCost"] > 0 for r in agent)
    judge = [m for r, m in zip(records, meta) if r["basic"]["environment"] == bt.JUDGE_ENV]
    assert judge and all(m["target_trace_id"] in set(data.truth["trace_id"]) for m in judge)
    assert {m["score_id"] for m in judge} == set(
        data.scores.loc[data.scores["source"] == "EVAL", "score_id"])
    checks.assert_double_bills_the_truth(data, records)


def test_labels_name_each_cause(data):
    by = checks.by_runbook(data)
    ts = by["timeout_surge"]
    assert (ts.agent, ts.cause_dimension, ts.cause_value, ts.within) == (
        bt.TRAVEL, "tool", "flight_search", {"agent": bt.TRAVEL})
    assert ts.start == pd.Timestamp(f"{END} 15:00", tz="UTC")
    assert ts.end - ts.start == pd.Timedelta(hours=4) and ts.magnitude == 8.0
    cs = by["cost_spike"]
    assert (cs.agent, cs.cause_dimension, cs.cause_value) == (bt.BILLING, "model", "gpt-4.1")
    hs = by["hallucination_spike"]
    assert (hs.agent, hs.cause_dimension, hs.cause_value, hs.within) == (
        bt.SUPPORT, "prompt_version", "13", {"prompt": "support-system"})


def test_incidents_show_in_what_langfuse_serves(data, records):
    by = checks.by_runbook(data)
    rate = checks.error_rates(records, by["timeout_surge"], "flight_search")
    assert rate[True] > 3 * rate[False] > 0
    msgs = {r["basic"]["statusMessage"] for r in records
            if r["basic"]["name"] == "flight_search" and r["basic"]["level"] == "ERROR"}
    assert msgs == {"The read operation timed out"}
    t = data.truth
    cs = by["cost_spike"]
    bill = t[t["agent"] == bt.BILLING]
    inside = (bill["start"] >= cs.start) & (bill["start"] < cs.end)
    assert 3.5 < bill.loc[inside, "cost"].mean() / bill.loc[~inside, "cost"].mean() < 6.0
    hs = by["hallucination_spike"]
    within = checks.inside(records, hs)
    versions = {(within[i], r["prompt"]["promptVersion"], r["basic"]["environment"])
                for i, r in enumerate(records) if r["prompt"]["promptName"] == "support-system"}
    assert {v for w, v, e in versions if w and e == "production"} == {13}
    assert {v for w, v, e in versions if not w and e == "production"} == {11, 12}
    sc = t[(t["agent"] == bt.SUPPORT) & t["scored"]]
    inside = (sc["start"] >= hs.start) & (sc["start"] < hs.end)
    assert sc.loc[inside, "bad"].mean() > 2.5 * sc.loc[~inside, "bad"].mean()


def test_judges_experiments_and_feedback(data):
    t, s = data.truth, data.scores
    judged = t[t["agent"].isin(APPS)].groupby("agent")["scored"].mean()
    assert all(0.12 < judged[a] < 0.28 for a in APPS), judged
    kinds = {(n, d, src, env) for n, d, src, env in zip(s["name"], s["data_type"], s["source"],
                                                         s["environment"])}
    assert kinds == {("Hallucination", "NUMERIC", "EVAL", "production"),
                     ("Helpfulness", "NUMERIC", "EVAL", "production"),
                     ("Correctness", "NUMERIC", "EVAL", "production"),
                     ("accuracy", "NUMERIC", "API", bt.EXPERIMENT_ENV),
                     ("user-feedback", "BOOLEAN", "API", "production")}
    obs = s[s["observation_id"].notna()]
    assert len(obs) and set(obs["name"]) == {"Helpfulness"}
    lag = checks.score_lag(data)
    assert (lag > pd.Timedelta(0)).all()
    assert (lag[s["source"] == "EVAL"] < pd.Timedelta(minutes=31)).all()
    exp = s[s["name"] == "accuracy"]
    assert len(exp) == 2 * bt.EXPERIMENT_ITEMS and exp["value"].between(0, 1).all()


def test_a_worse_prompt_variant_one_night():
    d = bt.generate(seed=3, end_day="2026-11-29", days=10)
    s, t = d.scores, d.truth
    acc = s[s["name"] == "accuracy"].merge(t[["trace_id", "start"]], on="trace_id")
    nightly = acc.groupby(acc["start"].dt.floor("D"))["value"].mean()
    worst = nightly.idxmin()
    assert worst == pd.Timestamp("2026-11-21", tz="UTC")
    assert nightly[worst] < nightly.drop(worst).min() - 0.2


def test_the_real_source_reads_traces_scores_and_configs(data):
    traces, scores, configs, pages = checks.read_back(data, END, ("user-feedback", "Helpfulness"),
                                                      scores_later=pd.Timedelta(days=3))
    # judges of the last evening's traces run after midnight, past the window read here
    t = data.truth[data.truth["start"] < pd.Timestamp(END, tz="UTC") + pd.Timedelta(days=1)]
    assert set(traces["trace_id"]) == set(t["trace_id"])
    cost = traces.set_index("trace_id")["cost_usd"].reindex(t["trace_id"]).to_numpy()
    # the source counts Strands' model spend once where Langfuse bills its agent span again
    once = t["cost"].where(t["agent"] != bt.TRAVEL, t["cost"] / 2).to_numpy()
    assert abs(cost - once).max() < 1e-9
    assert len(scores) == len(data.scores)
    assert {c.id for c in configs.data} == {"cfg-user-feedback"}
    fb, helpful = pages["user-feedback"], pages["Helpfulness"]
    assert fb.data and {x.config_id for x in fb.data} == {"cfg-user-feedback"}
    assert helpful.data and {x.source for x in helpful.data} == {"EVAL"}


def test_bad_incidents_are_refused():
    checks.assert_bad_incidents_refused(bt, END, magnitude=0.5, hour=True)
