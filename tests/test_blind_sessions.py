"""The eighth blind dataset (bench/blind_sessions.py): deterministic, labelled, and served by the
Langfuse double the way Langfuse stores Agno and DSPy (OpenInference), LangGraph JS (the JS
CallbackHandler) and a multi-turn chat on the Langfuse Python SDK v3, with session, feedback,
annotation and judge scores."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from tests import blind_checks as checks  # puts bench/ on the import path

import blind_sessions as bs  # noqa: E402
from blind_data import Incident  # noqa: E402

END = "2026-11-25"  # a Wednesday; both days are weekdays
INCIDENTS = (Incident("timeout_surge", END, 9, 8.0), Incident("cost_spike", END, 13, 4.0),
             Incident("hallucination_spike", "2026-11-24", 10, 6.0))
BLIND = checks.Blind(bs, seed=17, end=END, incidents=INCIDENTS)
data, records = BLIND.fixtures()


def _roots(records):
    return {r["core"]["traceId"]: r for r in records if r["basic"]["isRootObservation"]}


def test_same_seed_same_data_other_seed_other_data(data):
    checks.assert_same_seed_same_data_other_seed_other_data(BLIND, data)
    again = BLIND.generate()
    pd.testing.assert_frame_equal(data.session_scores, again.session_scores)


def test_european_day_volumes_and_nightly_run(data):
    checks.assert_truth_names_every_trace(data)
    t = data.truth
    per_day = t.groupby(t["start"].dt.floor("D")).size()
    assert len(per_day) >= 2 and ((per_day.iloc[:2] > 1000) & (per_day.iloc[:2] < 1500)).all()
    assert set(t["agent"]) == set(bs.AGENTS)
    share = t["agent"].value_counts(normalize=True)
    assert 0.30 < share[bs.CHAT] < 0.45 and 0.10 < share[bs.FARES] < 0.22
    hours = t["start"].dt.hour
    live = t[~((t["agent"] == bs.FARES) & (hours == 1))]
    lh = live["start"].dt.hour
    assert lh.between(7, 17).sum() > 8 * (lh.isin([22, 23, 0, 1, 2, 3, 4])).sum()
    nightly = t[(t["agent"] == bs.FARES) & (hours == 1)]
    assert len(nightly) >= 2 * bs.NIGHTLY_RUNS


def test_weekends_are_quieter():
    d = bs.generate(seed=5, end_day="2026-11-29", days=7, weekday_traces=300)
    t = d.truth
    t = t[~((t["agent"] == bs.FARES) & (t["start"].dt.hour == 1))]
    per_day = t.groupby(t["start"].dt.floor("D")).size()
    weekend = per_day[per_day.index.day_of_week >= 5].mean()
    weekday = per_day[per_day.index.day_of_week < 5].mean()
    assert 0.35 < weekend / weekday < 0.65
    assert 250 < weekday < 360


def test_each_instrumentation_as_langfuse_stores_it(data, records):
    seen = {(r["_trace"]["name"], r["core"]["type"], r["basic"]["name"]) for r in records}
    ag, fq, jp, ch = "refund_agent.run", "FareRulesQA.forward", "journey_planner", bs.CHAT
    assert seen == {
        (ag, "AGENT", ag), (ag, "GENERATION", "OpenAIChat.invoke"), (ag, "TOOL", "get_booking"),
        (ag, "TOOL", "ticket_status_api"), (ag, "TOOL", "issue_refund"),
        (fq, "CHAIN", fq), (fq, "CHAIN", "ReAct.forward"),
        (fq, "CHAIN", "Predict(StringSignature).forward"), (fq, "CHAIN", "ChatAdapter.__call__"),
        (fq, "GENERATION", "LM.__call__"), (fq, "GENERATION", "completion"),
        (fq, "TOOL", "search_tariffs.__call__"), (fq, "TOOL", "finish.__call__"),
        (fq, "CHAIN", "ChainOfThought.forward"),
        (jp, "SPAN", jp), (jp, "SPAN", "__start__"), (jp, "SPAN", "agent"),
        (jp, "SPAN", "RunnableSequence"), (jp, "SPAN", "ChatPromptTemplate"),
        (jp, "GENERATION", "ChatOpenAI"), (jp, "SPAN", "tools"),
        (jp, "TOOL", bs.TIMEOUT_TOOL), (jp, "TOOL", "fare_lookup"), (jp, "TOOL", "seat_map"),
        (ch, "SPAN", "handle_turn"), (ch, "RETRIEVER", "search_help_center"),
        (ch, "GENERATION", "claude-answer"),
    }
    scopes = Counter((r["_trace"]["name"], r["metadata"]["metadata"]["scope.name"])
                     for r in records)
    assert {s for (n, s) in scopes if n == fq} == {"openinference.instrumentation.dspy",
                                                   "openinference.instrumentation.litellm"}
    assert {s for (n, s) in scopes if n == ag} == {"openinference.instrumentation.agno"}
    assert {s for (n, s) in scopes if n in (jp, ch)} == {"langfuse-sdk"}
    models = {(r["basic"]["name"], r["model"]["providedModelName"]) for r in records
              if r["core"]["type"] == "GENERATION"}
    assert models == {("OpenAIChat.invoke", "gpt-4.1-mini"), ("LM.__call__", "gpt-4o-mini"),
                      ("completion", "openai/gpt-4o-mini"), ("ChatOpenAI", "gpt-4.1-2025-04-14"),
                      ("claude-answer", bs.CLAUDE)}
    # DSPy's own LM span carries no usage: LiteLLM's completion span is the one Langfuse bills
    lm = [r for r in records if r["basic"]["name"] == "LM.__call__"]
    assert lm and all(r["usage"]["totalCost"] is None for r in lm)
    assert all(r["usage"]["totalCost"] > 0 for r in records if r["basic"]["name"] == "completion")
    agent = [r for r in records if r["basic"]["name"] == ag]
    assert {r["metadata"]["metadata"]["attributes.agent.name"] for r in agent} == {bs.REFUND}
    tools = [r for r in records if r["core"]["type"] == "TOOL" and r["_trace"]["name"] == ag]
    assert all(r["metadata"]["metadata"]["attributes.tool.name"] == r["basic"]["name"]
               for r in tools)
    gens = [r for r in records if r["basic"]["name"] == "claude-answer"
            and r["basic"]["level"] != "ERROR"]
    assert all({"cache_read_input_tokens", "cache_creation_input_tokens"}
               <= r["usage"]["usageDetails"].keys() for r in gens)
    assert {r["prompt"]["promptName"] for r in records if r["prompt"]["promptName"]} == {
        bs.PROMPT, bs.JOURNEY_PROMPT}
    checks.assert_double_bills_the_truth(data, records)


def test_chat_turns_share_sessions(data, records):
    roots = _roots(records)
    chat = [r for r in roots.values() if r["_trace"]["name"] == bs.CHAT]
    assert chat and all(r["_trace"]["sessionId"] for r in chat)
    turns = Counter(r["_trace"]["sessionId"] for r in chat)
    assert max(turns.values()) <= 8 and min(turns.values()) >= 1
    assert 2.5 < sum(turns.values()) / len(turns) < 4.0
    assert Counter(turns.values())[1] < 0.4 * len(turns)
    s = data.session_scores
    assert len(s) and set(s["session_id"]) <= set(turns)
    assert set(zip(s["name"], s["data_type"], s["source"])) == {("resolved", "BOOLEAN", "API")}
    assert 0.4 < len(s) / len(turns) < 0.7
    assert "session_id" not in data.scores.columns


def test_labels_name_each_cause(data):
    by = checks.by_runbook(data)
    ts = by["timeout_surge"]
    assert (ts.agent, ts.cause_dimension, ts.cause_value, ts.within) == (
        bs.JOURNEY, "tool", "live_departures", {"agent": bs.JOURNEY})
    assert ts.start == pd.Timestamp(f"{END} 09:00", tz="UTC")
    assert ts.end - ts.start == pd.Timedelta(hours=4) and ts.magnitude == 8.0
    cs = by["cost_spike"]
    assert (cs.agent, cs.cause_dimension, cs.cause_value, cs.within) == (
        bs.REFUND, "tool", "get_booking", {"agent": bs.REFUND})
    assert cs.end - cs.start == pd.Timedelta(hours=5)
    hs = by["hallucination_spike"]
    assert (hs.agent, hs.cause_dimension, hs.cause_value, hs.within) == (
        bs.CHAT, "prompt_version", "23", {"prompt": "support-chat-system"})


def test_incidents_show_in_what_langfuse_serves(data, records):
    by = checks.by_runbook(data)
    rate = checks.error_rates(records, by["timeout_surge"], bs.TIMEOUT_TOOL)
    assert rate[True] > 3 * rate[False] > 0
    msgs = {r["basic"]["statusMessage"] for r in records
            if r["basic"]["name"] == bs.TIMEOUT_TOOL and r["basic"]["level"] == "ERROR"}
    assert msgs == {"TimeoutError: The operation was aborted due to timeout"}
    # the Agno tool's rare timeouts: status ERROR, the error text as the status message
    agno = {r["basic"]["statusMessage"] for r in records
            if r["basic"]["name"] == "ticket_status_api" and r["basic"]["level"] == "ERROR"}
    assert agno == {"The read operation timed out"}
    t = data.truth
    cs = by["cost_spike"]
    ref = t[t["agent"] == bs.REFUND]
    inside = (ref["start"] >= cs.start) & (ref["start"] < cs.end)
    ratio = ref.loc[inside, "cost"].mean() / ref.loc[~inside, "cost"].mean()
    assert 3.0 < ratio < 5.5, ratio
    calls = Counter((r["core"]["traceId"]) for r in records if r["basic"]["name"] == "get_booking")
    within = set(ref.loc[inside, "trace_id"])
    assert min(calls[x] for x in within) >= 2
    assert all(calls[x] == 1 for x in ref.loc[~inside, "trace_id"])
    hs = by["hallucination_spike"]
    win = checks.inside(records, hs)
    versions = {(win[i], r["prompt"]["promptVersion"]) for i, r in enumerate(records)
                if r["prompt"]["promptName"] == bs.PROMPT}
    assert {v for w, v in versions if w} == {23}
    assert {v for w, v in versions if not w} == {21, 22}
    sc = t[(t["agent"] == bs.CHAT) & t["scored"]]
    inside = (sc["start"] >= hs.start) & (sc["start"] < hs.end)
    assert sc.loc[inside, "bad"].mean() > 2.5 * sc.loc[~inside, "bad"].mean()


def test_judges_feedback_and_annotations(data):
    t, s = data.truth, data.scores
    judged = t.groupby("agent")["scored"].mean()
    assert all(0.14 < judged[a] < 0.27 for a in bs.AGENTS), judged
    kinds = {(n, d, src) for n, d, src in zip(s["name"], s["data_type"], s["source"])}
    assert kinds == {("hallucination", "NUMERIC", "EVAL"), ("correctness", "NUMERIC", "EVAL"),
                     ("faithfulness", "NUMERIC", "EVAL"), ("helpfulness", "NUMERIC", "EVAL"),
                     ("thumbs", "BOOLEAN", "API"), ("human-review", "CATEGORICAL", "ANNOTATION")}
    assert t.loc[~t["scored"], "bad"].isna().all()
    lag = checks.score_lag(data)
    assert (lag > pd.Timedelta(0)).all()
    assert (lag[s["source"] == "EVAL"] < pd.Timedelta(minutes=26)).all()
    assert (lag[s["source"] == "ANNOTATION"] > pd.Timedelta(hours=2)).all()
    review = s[s["name"] == "human-review"]
    assert set(review["string_value"]) <= set(bs.REVIEW_LABELS) and len(review)
    chat = set(t.loc[t["agent"] == bs.CHAT, "trace_id"])
    assert set(s.loc[s["source"] != "EVAL", "trace_id"]) <= chat
    hall = s[s["name"] == "hallucination"].merge(t[["trace_id", "bad"]], on="trace_id")
    assert ((hall["value"] > 0.5) == hall["bad"].astype(bool)).all()


def test_the_real_source_reads_traces_scores_and_configs(data):
    traces, scores, configs, pages = checks.read_back(data, END, ("thumbs", "human-review"),
                                                      scores_later=pd.Timedelta(days=3))
    # a session begun late on the last evening may go on past midnight, beyond the window read
    t = data.truth[data.truth["start"] < pd.Timestamp(END, tz="UTC") + pd.Timedelta(days=1)]
    assert set(traces["trace_id"]) == set(t["trace_id"])
    cost = traces.set_index("trace_id")["cost_usd"].reindex(t["trace_id"]).to_numpy()
    assert abs(cost - t["cost"].to_numpy()).max() < 1e-9
    assert len(scores) == len(data.scores)
    assert {c.id for c in configs.data} == {"cfg-thumbs", "cfg-human-review", "cfg-resolved"}
    assert pages["thumbs"].data and {x.config_id for x in pages["thumbs"].data} == {"cfg-thumbs"}
    assert {x.source for x in pages["human-review"].data} == {"ANNOTATION"}


def test_bad_incidents_are_refused():
    checks.assert_bad_incidents_refused(bs, END, magnitude=0.5, hour=True)
