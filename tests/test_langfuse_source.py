"""LangfuseSource against the contract double: same frames and KPIs as the canonical data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.doubles import LangfuseDouble, double_from_dataset, sample
from workbench import schema
from workbench.errors import ConfigError
from workbench.sources import get_source, incomplete_reason

DAY = ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")


pytestmark = pytest.mark.usefixtures("forget_legacy")


@pytest.fixture(scope="module")
def frames(smp):
    return smp.observations, smp.scores


@pytest.fixture(scope="module")
def double(smp):
    with LangfuseDouble(*smp.frames) as d:
        yield d


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.sort_values(keys).reset_index(drop=True)


def test_observations_round_trip_equal_to_the_served_frame(double, frames):
    obs, _ = frames
    with double.source() as src:
        got = src.observations(*DAY)
    assert incomplete_reason(got) is None
    pd.testing.assert_frame_equal(_sorted(got, ["observation_id"]),
                                  _sorted(obs, ["observation_id"]))
    assert got["start_time"].is_monotonic_increasing
    # rows are ordered by start time, then trace and observation id where start times tie
    assert got[["start_time", "trace_id", "observation_id"]].duplicated().sum() == 0
    assert got["start_time"].duplicated().any()  # the sample has children starting with parents
    pd.testing.assert_frame_equal(
        got, got.sort_values(["start_time", "trace_id", "observation_id"]).reset_index(drop=True))


def test_merged_rows_sorted_by_time_then_keys_whatever_the_ties():
    from workbench.sources.langfuse._source import _sorted as merged_order

    rng = np.random.default_rng(1)
    n = 5000
    df = pd.DataFrame({"t": pd.to_datetime(rng.integers(0, 300, n), unit="s", utc=True),
                       "a": rng.choice(list("xyz"), n).astype(str),
                       "b": [f"id{i}" for i in rng.permutation(n)]})
    want = df.sort_values(["t", "a", "b"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(merged_order(df, "t", ["a", "b"]), want)
    untied = df.drop_duplicates("t")
    pd.testing.assert_frame_equal(merged_order(untied, "t", ["a", "b"]),
                                  untied.sort_values("t").reset_index(drop=True))


def test_traces_roll_up_equal_and_kpis_match(double, frames):
    obs, _ = frames
    with double.source() as src:
        got = src.traces(*DAY)
    want = schema.traces_from_observations(obs)
    pd.testing.assert_frame_equal(_sorted(got, ["trace_id"]), _sorted(want, ["trace_id"]))
    assert got["cost_usd"].sum() == pytest.approx(obs["cost_usd"].sum())
    assert (got["status"] == "timeout").sum() == (want["status"] == "timeout").sum() > 0


def test_scores_round_trip_and_join_on_trace_and_observation(double, frames):
    obs, scores = frames
    with double.source() as src:
        got = src.scores(*DAY)
    pd.testing.assert_frame_equal(_sorted(got, ["score_id"]), _sorted(scores, ["score_id"]))
    assert got["trace_id"].isin(obs["trace_id"]).all()
    scored = got["observation_id"].dropna()
    assert len(scored) and scored.isin(obs["observation_id"]).all()


def test_window_is_half_open_and_partial(double, frames):
    obs, _ = frames
    lo, hi = pd.Timestamp("2026-11-02T01:10:00Z"), pd.Timestamp("2026-11-02T03:50:00Z")
    with double.source(slice_s=1800) as src:
        got = src.observations(lo, hi)
    want = obs[(obs["start_time"] >= lo) & (obs["start_time"] < hi)]
    assert sorted(got["observation_id"]) == sorted(want["observation_id"])


def test_every_pull_asks_for_the_field_groups_the_conventions_read(double):
    double.reset_log()
    with double.source() as src:
        src.observations(*DAY)
    fields = {r.param("fields") for r in double.requests_to("/api/public/v2/observations")
              if r.param("fromStartTime")}
    assert fields == {"core,basic,metadata,model,usage,prompt,trace_context"}  # never io


def test_environment_is_pushed_the_derived_filters_apply_after_mapping(double, frames):
    obs, _ = frames
    pick = obs[(obs["type"] == "tool") & (obs["environment"] == "production")].iloc[0]
    double.reset_log()
    with double.source() as src:
        got = src.observations(*DAY, type="tool", environment="production",
                               user_id=pick["user_id"], agent=pick["agent"])
    want = obs[(obs["type"] == "tool") & (obs["environment"] == "production")
               & (obs["user_id"] == pick["user_id"]) & (obs["agent"] == pick["agent"])]
    assert sorted(got["observation_id"]) == sorted(want["observation_id"]) and len(want)
    req = [r for r in double.requests_to("/api/public/v2/observations")
           if r.param("fromStartTime")][-1]
    assert req.param("environment") == "production"
    assert req.param("type") is None and req.param("userId") is None  # derived: not pushed


def test_metadata_filters_go_into_the_filter_json(double, frames):
    obs, _ = frames
    double.reset_log()
    with double.source() as src:
        got = src.observations(*DAY, metadata={"attributes.gen_ai.tool.name": "run_sql"},
                               environment=["production"], type="tool")
    want = obs[(obs["tool_name"] == "run_sql") & (obs["environment"] == "production")]
    assert sorted(got["observation_id"]) == sorted(want["observation_id"]) and len(want)
    req = [r for r in double.requests_to("/api/public/v2/observations") if r.param("filter")]
    assert req and all(r.param("fromStartTime") is None for r in req)


def test_aggregate_pushes_cost_by_model_down_to_the_metrics_api(double, frames):
    obs, _ = frames
    double.reset_log()
    with double.source() as src:
        got = src.aggregate(*DAY, measures=["totalCost", "count"], by=["model"],
                            granularity="hour")
    assert not double.requests_to("/api/public/v2/observations")[1:]  # at most the probe
    assert list(got.columns) == ["timestamp", "model", "sum_totalCost", "count_count"]
    assert got["count_count"].dtype == "float64" and got["count_count"].sum() == len(obs)
    gens = obs[obs["type"] == "generation"]
    per_model = got.groupby("model")["sum_totalCost"].sum()
    for model, cost in gens.groupby("model")["cost_usd"].sum().items():
        assert per_model[model] == pytest.approx(cost)
    hourly = obs.assign(h=obs["start_time"].dt.floor("h")).groupby("h").size()
    counted = got.groupby("timestamp")["count_count"].sum()
    assert counted.to_dict() == {k: float(v) for k, v in hourly.items()}


def test_aggregate_latency_percentile_and_string_numbers(smp, frames):
    obs, _ = frames
    with LangfuseDouble(*smp.frames, metrics_numbers_as_strings=True) as d, \
            d.source() as src:
        got = src.aggregate(*DAY, measures=["latency:p95", "totalTokens"], by=["name"],
                            type="generation")
    gens = obs[obs["type"] == "generation"]
    for name, part in gens.groupby("name"):
        row = got[got["name"] == name].iloc[0]
        assert row["p95_latency"] == pytest.approx(part["duration_s"].quantile(.95) * 1000)
        assert row["sum_totalTokens"] == part["total_tokens"].sum()


@pytest.mark.parametrize("legacy", [False, True], ids=["metrics-api", "local"])
def test_token_aggregates_count_cached_and_reasoning_tokens_as_the_frames_do(legacy):
    """The Metrics API sums every usage type named input / output: the cache parts and the
    reasoning and audio tokens, as the canonical frames count them (and as the local fallback of
    older servers sums them)."""
    from tests.otel_fixtures import Recorder, prompt_cache, reasoning

    rec = Recorder()
    prompt_cache(rec)
    reasoning(rec)
    with LangfuseDouble.from_spans(rec.spans, prices=(), legacy=legacy) as d, \
            d.source() as src:
        obs = src.observations(*DAY)
        got = src.aggregate(*DAY, measures=["inputTokens", "outputTokens"], by=["model"])
    sums = got.set_index("model")[["sum_inputTokens", "sum_outputTokens"]]
    want = obs.groupby("model")[["input_tokens", "output_tokens"]].sum()
    for model, row in want.iterrows():
        assert sums.loc[model].tolist() == row.astype("float64").tolist(), model
    assert sums.loc["o4-mini"].tolist() == [1000, 3000]
    assert sums.loc["gpt-5-mini"].tolist() == [400, 1000]
    assert sums.loc["gpt-4o"].tolist() == [2000 + 100, 50 + 600]


def test_env_vars_only_through_the_registry(monkeypatch, double, frames):
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", double.public_key)
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", double.secret_key)
    monkeypatch.setenv("LANGFUSE_BASE_URL", double.base_url + "/")
    src = get_source("langfuse")
    try:
        assert src.health()["status"] == "OK"
        assert len(src.observations(*DAY)) == len(frames[0])
        assert double.secret_key not in repr(src)
    finally:
        src.close()


def test_missing_configuration_names_the_variables(monkeypatch):
    monkeypatch.setenv("LANGFUSE_BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(ConfigError) as err:
        get_source("langfuse")
    assert "LANGFUSE_PUBLIC_KEY" in str(err.value) and "LANGFUSE_SECRET_KEY" in str(err.value)
    assert "LANGFUSE_BASE_URL" not in str(err.value).split("(")[0]


def test_bad_arguments_are_named(double):
    with double.source() as src:
        with pytest.raises(ConfigError, match="unknown Langfuse filter"):
            src.observations(*DAY, colour="red")
        with pytest.raises(ConfigError, match="empty window"):
            src.observations(DAY[1], DAY[0])
        with pytest.raises(ConfigError, match="unknown measure"):
            src.aggregate(*DAY, measures=["bananas"])
        with pytest.raises(ConfigError, match="granularity"):
            src.aggregate(*DAY, measures=["count"], granularity="fortnight")
    with pytest.raises(ConfigError, match="timeout_s"):
        double.source(timeout_s=30)


@pytest.mark.parametrize("profile", ["demo", "realistic"])
def test_simulated_traffic_pulled_from_langfuse_equals_the_local_store(profile):
    """The key consistency check: the same spans read two ways, through Langfuse's ingestion
    and the v2 API, and straight from the OTel SDK, give the same canonical frames (calls
    without a cost of their own priced by Langfuse's model table on one side and by
    workbench's list prices on the other: the same prices)."""
    from workbench.simulate import generate

    ds = generate(seed=2, days=1, traces_per_day=300 if profile == "demo" else 1200,
                  profile=profile, keep_spans=True)
    with double_from_dataset(ds) as d, d.source() as src:
        got_obs = src.observations(*DAY)
        got_traces = src.traces(*DAY)
        got_scores = src.scores(*DAY)
    assert incomplete_reason(got_obs) is None
    assert got_obs.attrs["langfuse"]["reconciled"] == "checked"
    pd.testing.assert_frame_equal(_sorted(got_obs, ["trace_id", "observation_id"]),
                                  _sorted(ds.observations, ["trace_id", "observation_id"]))
    pd.testing.assert_frame_equal(_sorted(got_traces, ["trace_id"]),
                                  _sorted(ds.traces, ["trace_id"]))
    day_scores = ds.scores[ds.scores["timestamp"] < pd.Timestamp(DAY[1])]
    pd.testing.assert_frame_equal(_sorted(got_scores, ["score_id"]),
                                  _sorted(day_scores, ["score_id"]))
    assert got_traces["status"].value_counts().to_dict() == \
        ds.traces["status"].value_counts().to_dict()
    assert got_obs["agent"].ne("unknown").all() and got_obs["error_type"].eq("timeout").any()


def test_langfuse_prices_the_calls_whose_spans_carry_no_cost():
    smp = sample(n_traces=40)  # Langfuse's default model table
    with LangfuseDouble(*smp.frames) as d, d.source() as src:
        got = src.observations(*DAY).set_index("observation_id")
    want = smp.observations.set_index("observation_id").loc[got.index]
    carried = want["cost_usd"].notna()
    assert (got.loc[carried, "cost_usd"] == want.loc[carried, "cost_usd"]).all()
    priced = got[~carried & got["cost_usd"].notna()]
    assert len(priced) and set(priced["agent"]) == {"billing-agent", "shop-assistant"}
    from workbench.simulate.catalog import MODELS

    for _, row in priced.iterrows():
        m = MODELS[row["model"]]
        assert row["cost_usd"] == pytest.approx(
            (row["input_tokens"] * m.input_per_m + row["output_tokens"] * m.output_per_m) / 1e6)
    assert got.drop(columns="cost_usd").equals(want.drop(columns="cost_usd"))


def test_a_trace_crossing_a_slice_edge_keeps_its_agent_user_and_release(smp):
    """Slices are mapped one by one; a trace's children in the next slice still belong to it."""
    import copy

    from tests.doubles.langfuse_ingest import iso

    records = copy.deepcopy(smp.records)
    trace = next(r["core"]["traceId"] for r in records
                 if r["core"]["parentObservationId"] is None
                 and r["basic"]["name"] == "LangGraph")
    mine = [r for r in records if r["core"]["traceId"] == trace]
    t0 = min(pd.Timestamp(r["core"]["startTime"]) for r in mine)
    shift = pd.Timestamp("2026-11-02T04:59:59.900Z") - t0  # the root just before 05:00
    for r in mine:
        for key in ("startTime", "endTime"):
            r["core"][key] = iso((pd.Timestamp(r["core"][key]) + shift).value)
    with LangfuseDouble(records, smp.scores) as d, d.source(slice_s=3600) as src:
        got = src.observations(*DAY)
    part = got[got["trace_id"] == trace]
    assert part["start_time"].min() < pd.Timestamp("2026-11-02T05:00:00Z") < \
        part["start_time"].max()
    want = smp.observations[smp.observations["trace_id"] == trace]
    for col in ("agent", "user_id", "session_id", "release", "environment", "tags"):
        assert set(part[col]) == set(want[col]) and part[col].nunique() == 1, col
