"""The simulator: determinism, schema, public conventions per instrumentation style, failures in
library words, injected incidents of both profiles, judges, writing the store."""

import json

import numpy as np
import pandas as pd
import pytest

from workbench import schema
from workbench.errors import ConfigError
from workbench.simulate import (
    Incident,
    default_incidents,
    ensure_demo,
    generate,
    write_demo,
)
from workbench.simulate.traffic import agent_mix
from workbench.sources import conventions as conv
from workbench.sources import prices
from workbench.sources.otel import raw_from_spans

SMALL = {"days": 2, "traces_per_day": 400}


@pytest.fixture(scope="module")
def small():
    return generate(seed=3, keep_spans=True, **SMALL)


@pytest.fixture(scope="module")
def labelled():
    """Enough traffic that every label window holds dozens of requests per agent."""
    return generate(seed=11, days=3, traces_per_day=1500)


@pytest.fixture(scope="module")
def quiet():
    return generate(seed=11, days=3, traces_per_day=1500, incidents=[])


@pytest.fixture(scope="module")
def realistic():
    return generate(seed=5, days=10, profile="realistic", keep_spans=True)


@pytest.fixture(scope="module")
def realistic_quiet():
    return generate(seed=5, days=10, profile="realistic", incidents=[])


def _in(df, col, label):
    return df[col].ge(label.start) & df[col].lt(label.end)


def _label(ds, runbook):
    rows = ds.labels[ds.labels["runbook"] == runbook]
    assert len(rows) == 1
    return rows.iloc[0]


def _by_style(spans):
    out = {}
    for s in spans:
        out.setdefault(s.instrumentation_scope.name, []).append(s)
    return out


# ---- determinism and schema ----------------------------------------------------------------------

def test_same_seed_gives_identical_frames(small):
    again = generate(seed=3, **SMALL)
    for frame in ("observations", "traces", "scores", "labels"):
        pd.testing.assert_frame_equal(getattr(small, frame), getattr(again, frame))


def test_different_seed_gives_different_data(small):
    other = generate(seed=4, **SMALL)
    assert not set(other.traces["trace_id"]) & set(small.traces["trace_id"])
    assert other.traces["cost_usd"].sum() != pytest.approx(small.traces["cost_usd"].sum())


def test_frames_follow_the_canonical_schema_and_come_from_the_spans(small):
    schema.validate(small.observations, "observations")
    schema.validate(small.traces, "traces")
    schema.validate(small.scores, "scores")
    assert list(small.labels.columns) == ["runbook", "start", "end", "cause_dimension",
                                          "cause_value", "cause_within", "magnitude",
                                          "description"]
    assert str(small.labels["start"].dtype) == "datetime64[us, UTC]"
    assert len(small.traces) == 2 * 400
    assert small.observations.groupby("trace_id").size().min() >= 2
    # the observations are exactly what the conventions make of the spans, LLM calls without a
    # cost of their own priced from the list prices
    mapped, _ = prices.load().fill_costs(conv.load().observations(raw_from_spans(small.spans)))
    pd.testing.assert_frame_equal(
        small.observations.sort_values("observation_id").reset_index(drop=True),
        mapped.sort_values("observation_id").reset_index(drop=True))
    pd.testing.assert_frame_equal(
        small.traces.set_index("trace_id").sort_index(),
        schema.traces_from_observations(small.observations).set_index("trace_id").sort_index())


def test_no_private_attribute_anywhere(small, realistic):
    for ds in (small, realistic):
        for s in ds.spans:
            keys = list(s.attributes) + list(s.resource.attributes)
            keys += [k for e in s.events for k in e.attributes]
            assert not [k for k in keys if k.startswith("workbench")], s.name


# ---- each instrumentation style, as its producer writes it ---------------------------------------

def test_demo_agents_map_from_three_styles(small):
    obs = small.observations
    styles = _by_style(small.spans)
    assert set(styles) >= {"langfuse-sdk", "openinference.instrumentation.langchain",
                           "planner_api.agent", "opentelemetry.instrumentation.openai_v2"}
    assert set(obs["agent"]) == {"rag-agent", "tool-agent", "planner-agent"}
    by_agent = {a: set(v) for a, v in obs.groupby("agent")["type"].unique().items()}
    assert by_agent["rag-agent"] == {"agent", "retriever", "generation"}
    assert by_agent["tool-agent"] == {"chain", "agent", "generation", "tool"}
    assert by_agent["planner-agent"] == {"agent", "generation", "tool"}
    assert set(obs.loc[obs["agent"] == "planner-agent", "tool_name"].dropna()) == {
        "web_fetch", "search_api", "sql_query"}
    assert set(obs.loc[obs["agent"] == "tool-agent", "tool_name"].dropna()) == {
        "search_api", "sql_query"}
    gens = obs[obs["type"] == "generation"]
    rag = gens[gens["agent"] == "rag-agent"]
    assert set(rag["prompt_name"]) == {"rag-answer"} and set(rag["prompt_version"]) <= {7, 8}
    assert gens["model"].notna().all() and gens["input_tokens"].gt(0).all()
    # cost where the producer writes it (Langfuse cost details, OpenInference llm.cost.*), and
    # from the list prices where it cannot (OTel GenAI has no cost attribute)
    priced = gens["cost_usd"]
    assert priced.notna().mean() > 0.98 and priced.dropna().gt(0).all()  # none on failed calls
    spans = {format(s.context.span_id, "016x"): s for s in small.spans}
    planner = gens[gens["agent"] == "planner-agent"]
    assert not any(k.startswith(("gen_ai.usage.cost", "llm.cost"))
                   for oid in planner["observation_id"].head(50)
                   for k in spans[oid].attributes)
    traces = small.traces
    assert set(traces["environment"]) == {"production", "staging"}
    assert traces["environment"].eq("production").mean() > 0.85
    assert {a: set(v) for a, v in traces.groupby("agent")["release"].unique().items()} == {
        "rag-agent": {"2.4.1"}, "tool-agent": {"1.9.0"}, "planner-agent": {"0.7.3"}}
    assert traces["user_id"].notna().all() and traces["session_id"].notna().all()


def test_langfuse_sdk_spans(small):
    spans = _by_style(small.spans)["langfuse-sdk"]
    scope = spans[0].instrumentation_scope
    assert scope.version and dict(scope.attributes)["public_key"].startswith("pk-lf-")
    res = spans[0].resource.attributes
    assert res["langfuse.environment"] in {"production", "staging"}
    assert res["langfuse.release"] == "2.4.1" and res["telemetry.sdk.language"] == "python"
    traces = {}
    for s in spans:
        a = s.attributes
        # propagate_attributes: every span of the trace carries the trace-level keys
        assert a["langfuse.trace.name"] == "rag-agent" and a["langfuse.version"] == "2.4.1"
        assert a["user.id"].startswith("user-") and a["session.id"].startswith("sess-")
        assert a["langfuse.observation.type"] in {"agent", "retriever", "generation"}
        traces.setdefault(s.context.trace_id, set()).add(a["user.id"])
        if a["langfuse.observation.type"] == "generation" and s.status.status_code.name == "ERROR":
            assert "langfuse.observation.usage_details" not in a  # no response, no usage
        elif a["langfuse.observation.type"] == "generation":
            usage = json.loads(a["langfuse.observation.usage_details"])
            cost = json.loads(a["langfuse.observation.cost_details"])
            assert set(usage) == {"input", "output"} and cost["total"] == pytest.approx(
                cost["input"] + cost["output"])
            assert a["langfuse.observation.prompt.name"] == "rag-answer"
            assert isinstance(a["langfuse.observation.prompt.version"], int)
            assert a["langfuse.observation.model.name"] in {"gpt-4o", "gpt-4o-mini"}
        if a.get("langfuse.observation.level") == "ERROR":  # as @observe records a failure
            assert s.status.status_code.name == "ERROR"
            assert s.status.description == a["langfuse.observation.status_message"]
            assert not s.events  # the span ended before the exception left it
    assert all(len(users) == 1 for users in traces.values())
    assert any(s.attributes.get("langfuse.observation.level") == "ERROR" for s in spans)


def test_genai_semconv_spans(small):
    spans = [s for s in small.spans if s.resource.attributes["service.name"] == "planner-api"]
    ops = {}
    for s in spans:
        ops.setdefault(s.attributes["gen_ai.operation.name"], []).append(s)
        assert not any(k.startswith(("gen_ai.usage.cost", "llm.cost", "langfuse."))
                       for k in s.attributes)
        res = s.resource.attributes
        assert res["deployment.environment.name"] in {"production", "staging"}
        assert res["service.version"] == "0.7.3"
    assert set(ops) == {"invoke_agent", "chat", "execute_tool"}
    for s in ops["invoke_agent"]:
        assert s.parent is None and s.name == "invoke_agent planner-agent"
        assert s.attributes["gen_ai.agent.name"] == "planner-agent"
        assert s.attributes["gen_ai.conversation.id"].startswith("sess-")
    for s in ops["chat"]:
        a = s.attributes
        assert s.name == f"chat {a['gen_ai.request.model']}" and s.kind.name == "CLIENT"
        assert a["gen_ai.provider.name"] in {"openai", "anthropic"}
        if s.status.status_code.name == "ERROR":
            assert "gen_ai.response.model" not in a and a["error.type"]
        elif "gen_ai.response.model" in a:  # not on a call cancelled before its response
            assert a["gen_ai.response.model"] == a["gen_ai.request.model"]
            assert isinstance(a["gen_ai.usage.input_tokens"], int)
    for s in ops["execute_tool"]:
        assert s.name == f"execute_tool {s.attributes['gen_ai.tool.name']}"
    failed = [s for s in spans if s.status.status_code.name == "ERROR"]
    assert failed
    for s in failed:  # recorded as use_span does: exception event + "Type: message"
        ev = [e for e in s.events if e.name == "exception"]
        assert len(ev) == 1
        etype = ev[0].attributes["exception.type"].rsplit(".", 1)[-1]
        assert s.status.description == f"{etype}: {ev[0].attributes['exception.message']}"


def test_openinference_and_openai_agents_spans(small, realistic):
    oi = _by_style(small.spans)["openinference.instrumentation.langchain"]
    kinds = {s.attributes["openinference.span.kind"] for s in oi}
    assert kinds == {"CHAIN", "AGENT", "LLM", "TOOL"}
    for s in oi:
        a = s.attributes
        assert a["session.id"] and a["user.id"] and json.loads(a["metadata"])["thread_id"]
        if a["openinference.span.kind"] == "LLM" and s.status.status_code.name == "OK":
            assert a["llm.token_count.total"] == (a["llm.token_count.prompt"]
                                                  + a["llm.token_count.completion"])
            assert a["llm.cost.total"] == pytest.approx(a["llm.cost.prompt"]
                                                        + a["llm.cost.completion"])
        if a["openinference.span.kind"] == "TOOL":
            assert s.name == a["tool.name"]
        if a["openinference.span.kind"] == "AGENT":
            assert a["agent.name"] == s.name == "tool-agent"
    agents = _by_style(realistic.spans)["openinference.instrumentation.openai_agents"]
    roots = [s for s in agents if s.parent is None]
    assert {s.name for s in roots} == {"shop-assistant"}
    assert all(s.attributes["openinference.span.kind"] == "AGENT"
               and s.status.status_code.name == "OK" for s in roots)
    names = {(s.name, s.attributes["openinference.span.kind"]) for s in agents}
    assert {("response", "LLM"), ("search_products", "TOOL"),
            ("track_shipment", "TOOL")} <= names
    failed = [s for s in agents if s.status.status_code.name == "ERROR"]
    assert failed and all(s.status.description.startswith(("Error running tool: {",
                                                            "Error getting response: {",
                                                            "Error in agent run: {"))
                          for s in failed)


def test_timeouts_arrive_in_the_words_of_the_library(realistic, small):
    texts = []
    for ds in (small, realistic):
        for s in ds.spans:
            a = s.attributes
            msg = a.get("langfuse.observation.status_message") or s.status.description or ""
            texts.append(msg)
    joined = "\n".join(texts)
    for words in ("ReadTimeout: timed out", "Read timed out. (read timeout=10)",
                  "Deadline Exceeded", "timed out after 10 seconds.", "TimeoutError: ",
                  "\nTimeoutError\n"):
        assert words in joined, words
    assert any(t == "timed out" for t in texts)  # Langfuse @observe: str(e) alone
    # and the conventions layer recognises every one of them
    obs = realistic.observations
    err = obs[obs["level"] == "ERROR"]
    timeouts = err[err["status_message"].str.contains(
        "timed out|Timeout|Deadline Exceeded", regex=True, na=False)]
    assert len(timeouts) > 20 and timeouts["error_type"].eq("timeout").all()


# ---- the demo's story ----------------------------------------------------------------------------

def test_budget_cut_at_eight_seconds(labelled):
    obs, traces = labelled.observations, labelled.traces
    assert traces["duration_s"].max() <= schema.TIMEOUT_BUDGET_S
    cut = traces[np.isclose(traces["duration_s"], schema.TIMEOUT_BUDGET_S)]
    assert len(cut) > 0 and cut["status"].eq("timeout").all()
    roots = obs[obs["parent_observation_id"].isna()].set_index("trace_id")
    assert (roots.loc[cut["trace_id"], "error_type"] == "timeout").all()
    assert roots.loc[cut["trace_id"], "status_message"].str.contains("TimeoutError").all()
    ends = obs.groupby("trace_id")["end_time"].max()
    assert (ends.loc[roots.index] <= roots["end_time"]).all()


def test_baseline_rates_are_realistic():
    ds = generate(seed=5, days=2, traces_per_day=5000, incidents=[])
    t = ds.traces
    status = t["status"].value_counts(normalize=True)
    assert 0.004 <= status["error"] <= 0.02
    assert 0.002 <= status["timeout"] <= 0.008
    assert 1.5 <= t["duration_s"].median() <= 3.5
    assert t.loc[t["status"] == "ok", "duration_s"].quantile(0.99) < 8.0
    h = ds.scores[ds.scores["name"] == "Hallucination"]
    assert 0.035 <= (h["value"] > 0.5).mean() <= 0.065
    hour = t["start_time"].dt.hour
    assert hour.between(13, 17).sum() > 2.5 * hour.between(1, 5).sum()
    per_user = t["user_id"].value_counts()
    assert 150 <= len(per_user) <= 300 and per_user.iloc[0] > 5 * per_user.median()
    assert t["session_id"].nunique() < len(t)


def test_cost_spike_window_holds_the_runaway_loop(labelled, quiet):
    label = _label(labelled, "cost_spike")
    assert (label.cause_dimension, label.cause_value, label.cause_within) == (
        "tool_name", "search_api", "agent=tool-agent")
    t, obs = labelled.traces, labelled.observations
    tool = t[t["agent"] == "tool-agent"]
    inside = tool[_in(tool, "start_time", label)]
    outside = tool[~_in(tool, "start_time", label)]
    assert inside["cost_usd"].mean() > 3 * outside["cost_usd"].mean()
    runaway = inside[inside["n_generations"] > 25]
    assert len(runaway) >= 3 and runaway["total_tokens"].min() > 100_000
    assert runaway["status"].eq("ok").all()  # a cost spike, not a timeout surge
    per_gen = runaway["total_tokens"] / runaway["n_generations"]
    assert per_gen.between(6000, 9000).all()
    malformed = obs[obs["error_type"] == "malformed_output"]
    assert set(malformed["tool_name"]) == {"search_api"}
    assert malformed["status_message"].str.contains("JSONDecodeError: Expecting value").all()
    assert _in(malformed, "start_time", label).all()
    spend = t.loc[_in(t, "start_time", label), "cost_usd"].sum()
    base = quiet.traces.loc[_in(quiet.traces, "start_time", label), "cost_usd"].sum()
    assert 0.6 * label.magnitude <= spend / base <= 1.6 * label.magnitude
    assert len(t[_in(t, "start_time", label)]) == len(
        quiet.traces[_in(quiet.traces, "start_time", label)])  # traffic unchanged


def test_timeout_surge_window_holds_the_slow_tool(labelled):
    label = _label(labelled, "timeout_surge")
    t, obs = labelled.traces, labelled.observations
    planner = t[t["agent"] == "planner-agent"]
    inside = planner[_in(planner, "start_time", label)]
    outside = planner[~_in(planner, "start_time", label)]
    rate_in = inside["status"].eq("timeout").mean()
    rate_out = outside["status"].eq("timeout").mean()
    assert rate_in > 0.15 and rate_in > 10 * max(rate_out, 0.002)
    all_in = t[_in(t, "start_time", label)]["status"].eq("timeout").mean()
    assert all_in > 5 * t[~_in(t, "start_time", label)]["status"].eq("timeout").mean()
    # the calls that timed out in the window are web_fetch, in httpx's words
    timed = obs[(obs["error_type"] == "timeout") & obs["tool_name"].notna()
                & _in(obs, "start_time", label)]
    assert timed["tool_name"].eq("web_fetch").mean() > 0.9
    assert timed["status_message"].eq("ReadTimeout: timed out").all()


def test_hallucination_spike_follows_prompt_version_8(labelled):
    label = _label(labelled, "hallucination_spike")
    assert (label.cause_dimension, label.cause_value, label.cause_within) == (
        "prompt_version", "8", "prompt_name=rag-answer")
    t, sc = labelled.traces, labelled.scores
    v8 = t[t["prompt_version"].eq(8).fillna(False)]
    assert len(v8) > 30 and _in(v8, "start_time", label).all()
    assert set(v8["agent"]) == {"rag-agent"}
    rag = t[t["agent"] == "rag-agent"][["trace_id", "prompt_version"]]

    def by_version(name):
        s = sc[sc["name"] == name].merge(rag, on="trace_id")
        return s.groupby("prompt_version")["value"]

    halluc = by_version("Hallucination").apply(lambda v: (v > 0.5).mean())
    assert halluc[8] > 3 * halluc[7]
    grounded = by_version("Faithfulness").mean()
    assert grounded[8] < grounded[7] - 0.1


def test_demo_judges(small):
    sc, t, obs = small.scores, small.traces, small.observations
    assert set(sc["name"]) == {"Hallucination", "Faithfulness", "Topic Adherence Refusal",
                               "Tool Correctness"}
    assert set(sc["source"]) == {"EVAL"} and sc["score_id"].str.match(
        r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$").all()
    assert sc["value"].between(0, 1).all()
    judged = t[t["agent"].isin(["rag-agent", "planner-agent"]) & t["status"].eq("ok")]
    h = sc[sc["name"] == "Hallucination"]
    assert set(h["trace_id"]) == set(judged["trace_id"]) and h["data_type"].eq("NUMERIC").all()
    valid = sc[sc["name"] == "Tool Correctness"]
    assert valid["data_type"].eq("BOOLEAN").all() and set(valid["value"]) <= {0.0, 1.0}
    assert set(valid["observation_id"]) == set(obs.loc[obs["type"] == "tool",
                                                       "observation_id"])
    ended = t.set_index("trace_id")["end_time"]
    lag = (h["timestamp"].to_numpy() - ended.loc[h["trace_id"]].to_numpy())
    assert (lag > np.timedelta64(0, "s")).all()
    # every judge name feeds a signal of the conventions
    assert {conv.load().score_signal(n) for n in set(sc["name"])} == {
        "hallucination", "groundedness", "refusal", "tool_call_valid"}


def test_quiet_data_has_no_incident(quiet):
    assert quiet.labels.empty
    assert not quiet.observations["error_type"].eq("malformed_output").any()
    assert not quiet.traces["prompt_version"].eq(8).fillna(False).any()


def test_default_incidents_are_on_separate_days():
    incs = default_incidents("2026-11-02", 7)
    assert [i.runbook for i in incs] == ["timeout_surge", "cost_spike", "hallucination_spike"]
    days = [i.start.normalize() for i in incs]
    assert len(set(days)) == 3 and min(days) > pd.Timestamp("2026-11-03", tz="UTC")
    assert all(i.end <= pd.Timestamp("2026-11-09", tz="UTC") for i in incs)
    assert all(pd.Timedelta(hours=2) <= i.end - i.start <= pd.Timedelta(hours=8) for i in incs)
    assert {i.magnitude for i in default_incidents("2026-11-02", 7, magnitude=3)} == {3.0}
    short = default_incidents("2026-11-02", 1)
    assert all(i.start.normalize() == pd.Timestamp("2026-11-02", tz="UTC") for i in short)
    real = default_incidents("2026-11-02", 28, profile="realistic")
    assert [i.start.strftime("%Y-%m-%d") for i in real] == ["2026-11-23", "2026-11-25",
                                                            "2026-11-27"]
    assert [i.cause_within for i in real] == ["agent=support-agent", "agent=research-agent",
                                              "prompt_name=answer"]


# ---- the realistic profile -----------------------------------------------------------------------

def test_realistic_volume_night_troughs_and_weekends(realistic):
    t = realistic.traces
    per_day = t.groupby(t["start_time"].dt.floor("D")).size()
    weekday = per_day[per_day.index.day_of_week < 5]
    weekend = per_day[per_day.index.day_of_week >= 5]
    assert weekday.between(1200, 1900).all() and weekend.between(450, 900).all()
    assert per_day.sum() == 10 * 1250
    hours = t.groupby(t["start_time"].dt.hour).size()
    assert hours.loc[[1, 2, 3, 4]].mean() < 0.08 * hours.max()  # deep night trough
    assert hours.loc[13:15].mean() > 15 * hours.loc[1:4].mean()


def test_realistic_agents_styles_latency_and_evening_mix(realistic):
    t, obs = realistic.traces, realistic.observations
    assert set(t["agent"]) == {"support-agent", "research-agent", "billing-agent",
                               "shop-assistant"}
    scopes = set(_by_style(realistic.spans))
    assert {"langfuse-sdk", "openinference.instrumentation.langchain",
            "openinference.instrumentation.openai_agents", "billing_svc.agent"} <= scopes
    median = t[t["status"] == "ok"].groupby("agent")["duration_s"].median()
    assert median["research-agent"] > 10 > 8 > median.drop("research-agent").max()
    assert (t.loc[t["agent"] == "research-agent", "duration_s"] > 8).mean() > 0.9
    cost = t.groupby("agent")["cost_usd"].mean()
    assert cost["research-agent"] > 8 * cost["support-agent"] > 0
    share = pd.crosstab(t["start_time"].dt.hour, t["agent"], normalize="index")[
        "research-agent"]
    assert share.loc[19:21].mean() > 2.3 * share.loc[9:16].mean()
    mix = agent_mix(realistic_profile(), np.array([12.0, 20.5]))
    assert mix[1, 1] / mix[0, 1] == pytest.approx(2.9, abs=0.3)
    # tools are TOOL observations named after the tool, in every style
    tools = obs[obs["type"] == "tool"]
    assert tools["tool_name"].notna().all() and (tools["tool_name"] == tools["name"]).all()
    assert set(tools["tool_name"]) == {"search_kb", "get_order", "web_search", "fetch_page",
                                       "run_sql", "get_invoice", "search_products",
                                       "track_shipment"}


def realistic_profile():
    from workbench.simulate import get_profile
    return get_profile("realistic")


def test_realistic_judges_sample_a_fifth(realistic):
    sc, obs = realistic.scores, realistic.observations
    roots = obs[obs["parent_observation_id"].isna()]
    answered = roots[roots["agent"].isin(["support-agent", "research-agent"])
                     & roots["level"].ne("ERROR")]
    for name in ("Hallucination", "Check Answer Groundedness", "Out-of-Scope Request"):
        judged = sc[sc["name"] == name]
        assert 0.16 <= judged["trace_id"].nunique() / len(answered) <= 0.24, name
        assert judged["trace_id"].isin(answered["trace_id"]).all()
    g = sc[sc["name"] == "Check Answer Groundedness"]
    assert g["data_type"].eq("CATEGORICAL").all() and g["value"].isna().all()
    assert set(g["string_value"]) == {"Grounded", "Somewhat grounded", "Not grounded"}
    tool = sc[sc["name"] == "Tool Correctness"]
    assert tool["observation_id"].notna().all() and tool["data_type"].eq("BOOLEAN").all()


def test_realistic_timeout_surge_is_one_tool_in_one_agent(realistic, realistic_quiet):
    label = _label(realistic, "timeout_surge")
    obs, t = realistic.observations, realistic.traces
    timed = obs[(obs["error_type"] == "timeout") & obs["tool_name"].eq("search_kb")]
    inside = timed[_in(timed, "start_time", label)]
    assert set(inside["agent"]) == {"support-agent"} and len(inside) >= 5
    assert inside["status_message"].eq("timed out").all()  # httpx, through @observe
    support = t[(t["agent"] == "support-agent") & _in(t, "start_time", label)]
    base = realistic_quiet.traces
    base = base[(base["agent"] == "support-agent") & ~_in(base, "start_time", label)]
    ratio = support["status"].eq("timeout").mean() / base["status"].eq("timeout").mean()
    assert ratio > 0.5 * label.magnitude


def test_realistic_cost_spike_is_one_model_within_one_agent(realistic, realistic_quiet):
    label = _label(realistic, "cost_spike")
    gens = realistic.observations
    gens = gens[(gens["type"] == "generation") & gens["model"].eq("gpt-4.1")
                & _in(gens, "start_time", label)]
    quiet = realistic_quiet.observations
    quiet = quiet[(quiet["type"] == "generation") & quiet["model"].eq("gpt-4.1")
                  & _in(quiet, "start_time", label)]
    research = gens[gens["agent"] == "research-agent"]["cost_usd"].mean()
    before = quiet[quiet["agent"] == "research-agent"]["cost_usd"].mean()
    assert research / before == pytest.approx(label.magnitude, rel=0.1)
    support_in = gens[gens["agent"] == "support-agent"]
    assert len(support_in) > 0 and support_in["cost_usd"].mean() == pytest.approx(
        quiet[quiet["agent"] == "support-agent"]["cost_usd"].mean(), rel=1e-6)


def test_realistic_prompt_release_is_often_the_second_generation(realistic):
    label = _label(realistic, "hallucination_spike")
    obs, sc = realistic.observations, realistic.scores
    v13 = obs[obs["prompt_version"].eq(13).fillna(False)]
    assert set(v13["prompt_name"]) == {"answer"} and _in(v13, "start_time", label).all()
    gens = obs[obs["type"] == "generation"].sort_values("start_time")
    order = gens.groupby("trace_id").cumcount()
    second = order[gens["prompt_version"].eq(13).fillna(False).to_numpy()]
    assert (second >= 1).mean() > 0.6  # not the trace's first generation
    first_v = realistic.traces.set_index("trace_id")["prompt_version"]
    assert first_v.loc[v13["trace_id"].unique()].ne(13).mean() > 0.6
    h = sc[sc["name"] == "Hallucination"].merge(
        v13[["trace_id"]].drop_duplicates().assign(new=True), on="trace_id", how="left")
    h["new"] = h["new"].fillna(False).astype(bool)
    support = realistic.traces.loc[realistic.traces["agent"] == "support-agent", "trace_id"]
    h = h[h["trace_id"].isin(support)]
    rate = h.groupby("new")["value"].apply(lambda v: (v > 0.5).mean())
    assert rate[True] > 2 * rate[False]


def test_realistic_rejects_incidents_it_cannot_inject():
    t0 = pd.Timestamp("2026-11-05T10:00Z")
    cases = [
        (Incident("timeout_surge", t0, t0 + pd.Timedelta(hours=2), "tool_name", "search_kb",
                  3.0), "cause_within must read 'agent=...'"),
        (Incident("timeout_surge", t0, t0 + pd.Timedelta(hours=2), "tool_name", "run_sql",
                  3.0, cause_within="agent=support-agent"), "calls no tool 'run_sql'"),
        (Incident("cost_spike", t0, t0 + pd.Timedelta(hours=2), "model", "gpt-4o", 3.0,
                  cause_within="agent=research-agent"), "calls no model 'gpt-4o'"),
        (Incident("hallucination_spike", t0, t0 + pd.Timedelta(hours=2), "prompt_version", "12",
                  3.0, cause_within="prompt_name=answer"), "must be a new version"),
        (Incident("cost_spike", t0, t0 + pd.Timedelta(hours=2), "tool_name", "search_kb", 3.0,
                  cause_within="agent=support-agent"), "injects a cause on 'model'"),
    ]
    for inc, message in cases:
        with pytest.raises(ConfigError, match=message):
            generate(days=4, traces_per_day=50, profile="realistic", incidents=[inc])


# ---- validation ----------------------------------------------------------------------------------

_INCIDENT = {"runbook": "cost_spike", "start": "2026-11-02T10:00Z", "end": "2026-11-02T12:00Z",
             "cause_dimension": "tool_name", "cause_value": "search_api", "magnitude": 5.0}


@pytest.mark.parametrize("kwargs, message", [
    ({"runbook": "disk_full"}, "unknown incident runbook"),
    ({"end": "2026-11-02T09:00Z"}, "not after start"),
    ({"magnitude": 0.0}, "magnitude must be > 0"),
    ({"cause_within": "support-agent"}, "dimension=value"),
])
def test_incident_rejects_bad_input(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Incident(**{**_INCIDENT, **kwargs})


@pytest.mark.parametrize("kwargs, message", [
    ({"cause_value": "sql_query"}, "injects cause tool_name='search_api'"),
    ({"magnitude": 0.5}, "magnitude must be > 1"),
])
def test_generate_rejects_incidents_it_cannot_inject(kwargs, message):
    inc = Incident(**{**_INCIDENT, **kwargs})  # a valid label, e.g. from a detector
    with pytest.raises(ConfigError, match=message):
        generate(days=1, traces_per_day=10, incidents=[inc])


@pytest.mark.parametrize("kwargs, message", [
    ({"days": 0}, "days"), ({"traces_per_day": -5}, "traces_per_day"),
    ({"start": "not a date"}, "start"), ({"incidents": ["cost_spike"]}, "Incident"),
    ({"profile": "chaos"}, "unknown profile 'chaos'"),
])
def test_generate_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        generate(**{"days": 1, "traces_per_day": 10, **kwargs})


# ---- writing the store ---------------------------------------------------------------------------

def test_write_demo_layout_and_ensure_demo(tmp_path, small):
    root = write_demo(tmp_path / "demo", dataset=small)
    for frame in ("observations", "traces", "scores"):
        parts = sorted(p.parent.name for p in (root / frame).glob("day=*/part-0.parquet"))
        assert parts[:2] == ["day=2026-11-02", "day=2026-11-03"]
    back = pd.read_parquet(root / "traces" / "day=2026-11-02" / "part-0.parquet")
    assert len(back) == small.traces["start_time"].dt.day.eq(2).sum()
    labels = json.loads((root / "labels.json").read_text())
    assert [r["runbook"] for r in labels] == list(small.labels["runbook"])
    assert labels[0]["start"].endswith("+00:00") and "cause_within" in labels[0]
    manifest = root / "manifest.json"
    before = manifest.stat().st_mtime_ns
    assert ensure_demo(root) == root and manifest.stat().st_mtime_ns == before
    write_demo(root, days=1, traces_per_day=20, incidents=[])
    assert json.loads(manifest.read_text())["generator"]["traces_per_day"] == 20
    assert not list(tmp_path.glob(".demo.*"))  # no temporary folder left behind


def test_ensure_demo_creates_a_missing_store(tmp_path, monkeypatch):
    import workbench.simulate.writer as writer
    calls = []
    monkeypatch.setattr(writer, "generate",
                        lambda **kw: calls.append(kw) or generate(days=1, traces_per_day=20))
    root = ensure_demo(tmp_path / "d")
    assert (root / "manifest.json").is_file() and calls[0]["traces_per_day"] == 5000


def test_write_demo_refuses_to_clobber_other_folders(tmp_path, small):
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        write_demo(other, dataset=small)
    assert (other / "keep.txt").read_text() == "mine"
    with pytest.raises(ConfigError, match="either a dataset"):
        write_demo(tmp_path / "x", dataset=small, days=1)


def test_magnitude_sets_the_strength_of_the_injection(labelled, quiet):
    weak = generate(seed=11, days=3, traces_per_day=1500,
                    incidents=default_incidents("2026-11-02", 3, magnitude=3.0))
    cost = _label(weak, "cost_spike")
    spend = weak.traces.loc[_in(weak.traces, "start_time", cost), "cost_usd"].sum()
    base = quiet.traces.loc[_in(quiet.traces, "start_time", cost), "cost_usd"].sum()
    assert 0.6 * 3 <= spend / base <= 1.6 * 3

    def timeouts(ds):
        label = _label(ds, "timeout_surge")
        return ds.traces.loc[_in(ds.traces, "start_time", label), "status"].eq("timeout").sum()

    assert 0 < timeouts(weak) < timeouts(labelled) / 3


def test_failures_read_as_their_library_writes_them():
    from workbench.simulate import errors

    cut = errors.timeout("asyncio")
    assert (cut.observe_message, cut.otel_description, cut.qualified) == (
        "TimeoutError", "TimeoutError: ", "TimeoutError")
    exc = errors.exception(errors.timeout("requests", "orders.internal", 10))
    assert (type(exc).__module__, type(exc).__name__) == ("requests.exceptions", "ReadTimeout")
    assert str(exc).endswith("Read timed out. (read timeout=10)")
    assert isinstance(errors.exception(errors.CANCELLED), BaseException)
    assert not isinstance(errors.exception(errors.CANCELLED), Exception)
    with pytest.raises(ValueError, match="unknown library"):
        errors.timeout("carrier-pigeon")
