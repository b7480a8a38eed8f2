"""The demo simulator: determinism, schema, injected incidents, GenAI span conventions, writing."""

import json

import numpy as np
import pandas as pd
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Status, StatusCode

from workbench import schema
from workbench.errors import ConfigError
from workbench.simulate import (
    Incident,
    default_incidents,
    ensure_demo,
    generate,
    generate_spans,
    spans_to_observations,
    write_demo,
)
from workbench.simulate.otel import _Collector

SMALL = {"days": 2, "traces_per_day": 400}


@pytest.fixture(scope="module")
def small():
    return generate(seed=3, **SMALL)


@pytest.fixture(scope="module")
def labelled():
    """Enough traffic that every label window holds dozens of requests per agent."""
    return generate(seed=11, days=3, traces_per_day=1500)


@pytest.fixture(scope="module")
def quiet():
    return generate(seed=11, days=3, traces_per_day=1500, incidents=[])


def _in(df, col, label):
    return df[col].ge(label.start) & df[col].lt(label.end)


def _label(ds, runbook):
    rows = ds.labels[ds.labels["runbook"] == runbook]
    assert len(rows) == 1
    return rows.iloc[0]


def test_same_seed_gives_identical_frames(small):
    again = generate(seed=3, **SMALL)
    for frame in ("observations", "traces", "scores", "labels"):
        pd.testing.assert_frame_equal(getattr(small, frame), getattr(again, frame))


def test_different_seed_gives_different_data(small):
    other = generate(seed=4, **SMALL)
    assert not set(other.traces["trace_id"]) & set(small.traces["trace_id"])
    assert other.traces["cost_usd"].sum() != pytest.approx(small.traces["cost_usd"].sum())


def test_frames_follow_the_canonical_schema(small):
    schema.validate(small.observations, "observations")
    schema.validate(small.traces, "traces")
    schema.validate(small.scores, "scores")
    assert list(small.labels.columns) == ["runbook", "start", "end", "cause_dimension",
                                          "cause_value", "magnitude", "description"]
    assert str(small.labels["start"].dtype) == "datetime64[us, UTC]"
    assert len(small.traces) == 2 * 400
    assert small.observations.groupby("trace_id").size().min() >= 2
    # the stored rollup is the schema's rollup of the observations
    pd.testing.assert_frame_equal(
        small.traces.set_index("trace_id").sort_index(),
        schema.traces_from_observations(small.observations).set_index("trace_id").sort_index())


def test_span_tree_shapes_per_agent(small):
    obs, traces = small.observations, small.traces
    roots = obs[obs["parent_observation_id"].isna()]
    assert set(roots["type"]) == {"agent"}
    assert set(obs.loc[obs["parent_observation_id"].notna(), "type"]) <= {
        "generation", "tool", "retriever"}
    by_agent = obs.groupby("agent")["type"].agg(set)
    assert "retriever" in by_agent["rag-agent"] and "tool" not in by_agent["rag-agent"]
    assert set(obs.loc[obs["agent"] == "planner-agent", "tool_name"].dropna()) == {
        "web_fetch", "search_api", "sql_query"}
    assert set(obs.loc[obs["agent"] == "tool-agent", "tool_name"].dropna()) == {
        "search_api", "sql_query"}
    rag_prompts = obs.loc[(obs["agent"] == "rag-agent") & obs["type"].eq("generation"),
                          "prompt_name"]
    assert set(rag_prompts) == {"rag-answer"}
    gens = obs[obs["type"] == "generation"]
    assert gens["cost_usd"].gt(0).all() and gens["model"].notna().all()
    assert obs.loc[obs["type"] != "generation", "cost_usd"].isna().all()
    ok_planner = traces[(traces["agent"] == "planner-agent") & (traces["status"] == "ok")]
    assert ok_planner["n_tool_calls"].between(2, 8).all()
    assert set(traces["environment"]) == {"production", "staging"}
    assert traces["environment"].eq("production").mean() > 0.85
    assert traces.groupby("agent")["release"].nunique().eq(1).all()


def test_budget_cut_at_eight_seconds(labelled):
    obs, traces = labelled.observations, labelled.traces
    assert traces["duration_s"].max() <= schema.TIMEOUT_BUDGET_S
    timeouts = traces[traces["status"] == "timeout"]
    assert len(timeouts) > 0
    assert np.allclose(timeouts["duration_s"], schema.TIMEOUT_BUDGET_S)
    roots = obs[obs["parent_observation_id"].isna()].set_index("trace_id")
    assert (roots.loc[timeouts["trace_id"], "error_type"] == "timeout").all()
    ends = obs.groupby("trace_id")["end_time"].max()
    assert (ends.loc[roots.index] <= roots["end_time"]).all()


def test_baseline_rates_are_realistic():
    ds = generate(seed=5, days=2, traces_per_day=5000, incidents=[])
    t = ds.traces
    status = t["status"].value_counts(normalize=True)
    assert 0.005 <= status["error"] <= 0.02
    assert 0.002 <= status["timeout"] <= 0.007
    assert 1.5 <= t["duration_s"].median() <= 3.2
    assert t.loc[t["status"] == "ok", "duration_s"].quantile(0.99) < 8.0
    h = ds.scores[ds.scores["name"] == "hallucination"]
    assert 0.035 <= (h["value"] > 0.5).mean() <= 0.065
    # diurnal: the afternoon (UTC) is busier than the night
    hour = t["start_time"].dt.hour
    assert hour.between(13, 17).sum() > 2.5 * hour.between(1, 5).sum()
    # a few heavy users, a long tail
    per_user = t["user_id"].value_counts()
    assert 150 <= len(per_user) <= 300 and per_user.iloc[0] > 5 * per_user.median()
    assert t["session_id"].nunique() < len(t)


def test_cost_spike_window_holds_the_runaway_loop(labelled, quiet):
    label = _label(labelled, "cost_spike")
    assert (label.cause_dimension, label.cause_value) == ("tool_name", "search_api")
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
    malformed = obs[obs["error_type"] == "malformed_json"]
    assert set(malformed["tool_name"]) == {"search_api"}
    assert malformed["level"].eq("ERROR").all()
    assert _in(malformed, "start_time", label).all()
    # magnitude: hourly spend against the same hours of the same traffic without the incident
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
    # the call in flight when the budget cut the request is mostly web_fetch
    cut = obs[(obs["error_type"] == "timeout") & obs["parent_observation_id"].notna()
              & _in(obs, "start_time", label)]
    assert cut["tool_name"].eq("web_fetch").mean() > 0.7


def test_hallucination_spike_follows_prompt_version_8(labelled):
    label = _label(labelled, "hallucination_spike")
    assert (label.cause_dimension, label.cause_value) == ("prompt_version", "8")
    t, sc = labelled.traces, labelled.scores
    v8 = t[t["prompt_version"].eq(8).fillna(False)]
    assert len(v8) > 30 and _in(v8, "start_time", label).all()
    assert set(v8["agent"]) == {"rag-agent"}
    rag = t[t["agent"] == "rag-agent"][["trace_id", "prompt_version"]]

    def by_version(name):
        s = sc[sc["name"] == name].merge(rag, on="trace_id")
        return s.groupby("prompt_version")["value"]

    halluc = by_version("hallucination").apply(lambda v: (v > 0.5).mean())
    assert halluc[8] > 3 * halluc[7]
    grounded = by_version("groundedness").mean()
    assert grounded[8] < grounded[7] - 0.1


def test_scores_cover_answers_and_tool_calls(small):
    sc, t, obs = small.scores, small.traces, small.observations
    assert set(sc["name"]) == {"hallucination", "groundedness", "refusal", "tool_call_valid"}
    assert set(sc["source"]) == {"EVAL"}
    assert sc["value"].between(0, 1).all()
    judged = t[t["agent"].isin(["rag-agent", "planner-agent"]) & t["status"].eq("ok")]
    h = sc[sc["name"] == "hallucination"]
    assert set(h["trace_id"]) == set(judged["trace_id"]) and h["data_type"].eq("NUMERIC").all()
    for name in ("refusal", "tool_call_valid"):
        s = sc[sc["name"] == name]
        assert s["data_type"].eq("BOOLEAN").all() and set(s["value"]) <= {0.0, 1.0}
    valid = sc[sc["name"] == "tool_call_valid"]
    tools = obs[obs["type"] == "tool"]
    assert set(valid["observation_id"]) == set(tools["observation_id"])
    ended = t.set_index("trace_id")["end_time"]
    lag = (h["timestamp"].to_numpy() - ended.loc[h["trace_id"]].to_numpy())
    assert (lag > np.timedelta64(0, "s")).all()


def test_quiet_data_has_no_incident(quiet):
    assert quiet.labels.empty
    assert not quiet.observations["error_type"].eq("malformed_json").any()
    assert not quiet.traces["prompt_version"].eq(8).fillna(False).any()


def test_spans_follow_genai_semantic_conventions():
    spans = generate_spans(seed=2, days=1, traces_per_day=60)
    again = generate_spans(seed=2, days=1, traces_per_day=60)
    assert [s.context.span_id for s in spans] == [s.context.span_id for s in again]
    ops = {}
    for s in spans:
        a = s.attributes
        ops.setdefault(a["gen_ai.operation.name"], []).append(s)
        res = s.resource.attributes
        assert res["service.name"] in {"rag-agent", "tool-agent", "planner-agent"}
        assert res["deployment.environment.name"] in {"production", "staging"}
        assert res["service.version"]
    assert set(ops) == {"invoke_agent", "chat", "execute_tool", "retrieval"}
    for s in ops["invoke_agent"]:
        assert s.parent is None and s.name == f"invoke_agent {s.attributes['gen_ai.agent.name']}"
        assert s.attributes["user.id"].startswith("user-") and s.attributes["session.id"]
    for s in ops["chat"]:
        a = s.attributes
        assert s.name == f"chat {a['gen_ai.request.model']}"
        assert a["gen_ai.response.model"] == a["gen_ai.request.model"]
        assert isinstance(a["gen_ai.usage.input_tokens"], int)
        assert isinstance(a["gen_ai.usage.output_tokens"], int)
        assert a["workbench.cost_usd"] > 0 and a["workbench.prompt.name"]
        assert s.parent is not None and s.end_time > s.start_time
    for s in ops["execute_tool"]:
        assert s.name == f"execute_tool {s.attributes['gen_ai.tool.name']}"
    obs = spans_to_observations(spans)
    assert len(obs) == len(spans) and obs["user_id"].notna().all()


def test_spans_to_observations_reads_foreign_spans():
    collector = _Collector()
    provider = TracerProvider(resource=Resource({"service.name": "svc"}), shutdown_on_exit=False)
    provider.add_span_processor(collector)
    tracer = provider.get_tracer("test")
    from opentelemetry import trace as trace_api
    root = tracer.start_span("handle", attributes={"user.id": "u1"}, start_time=1_000_000_000)
    ctx = trace_api.set_span_in_context(root)
    child = tracer.start_span("chat m", context=ctx, start_time=1_500_000_000, attributes={
        "gen_ai.operation.name": "chat", "gen_ai.response.model": "m",
        "gen_ai.usage.input_tokens": 10, "error.type": "rate_limit"})
    child.set_status(Status(StatusCode.ERROR, "429"))
    child.end(end_time=2_000_000_000)
    root.end(end_time=3_000_000_000)
    obs = spans_to_observations(collector.spans).set_index("name")
    assert obs.loc["handle", "type"] == "span" and obs.loc["handle", "level"] == "DEFAULT"
    assert obs.loc["handle", "environment"] == "unknown"
    c = obs.loc["chat m"]
    assert (c["type"], c["level"], c["status_message"], c["error_type"]) == (
        "generation", "ERROR", "429", "rate_limit")
    assert c["model"] == "m" and c["total_tokens"] == 10 and pd.isna(c["output_tokens"])
    assert c["user_id"] == "u1" and c["duration_s"] == pytest.approx(0.5)
    assert c["parent_observation_id"] == obs.loc["handle", "observation_id"]
    assert spans_to_observations([]).empty


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


_INCIDENT = {"runbook": "cost_spike", "start": "2026-11-02T10:00Z", "end": "2026-11-02T12:00Z",
             "cause_dimension": "tool_name", "cause_value": "search_api", "magnitude": 5.0}


@pytest.mark.parametrize("kwargs, message", [
    ({"runbook": "disk_full"}, "unknown incident runbook"),
    ({"end": "2026-11-02T09:00Z"}, "not after start"),
    ({"magnitude": 0.0}, "magnitude must be > 0"),
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
])
def test_generate_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        generate(**{"days": 1, "traces_per_day": 10, **kwargs})


def test_write_demo_layout_and_ensure_demo(tmp_path, small):
    root = write_demo(tmp_path / "demo", dataset=small)
    for frame in ("observations", "traces", "scores"):
        parts = sorted(p.parent.name for p in (root / frame).glob("day=*/part-0.parquet"))
        assert parts[:2] == ["day=2026-11-02", "day=2026-11-03"]
    back = pd.read_parquet(root / "traces" / "day=2026-11-02" / "part-0.parquet")
    assert len(back) == small.traces["start_time"].dt.day.eq(2).sum()
    labels = json.loads((root / "labels.json").read_text())
    assert [r["runbook"] for r in labels] == list(small.labels["runbook"])
    assert labels[0]["start"].endswith("+00:00")
    manifest = root / "manifest.json"
    before = manifest.stat().st_mtime_ns
    assert ensure_demo(root) == root and manifest.stat().st_mtime_ns == before
    # a rewrite replaces the store in place
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
