"""Aggregates pushed down to TraceQL metrics equal the same aggregates computed from a raw pull;
the server's metrics range limit is learnt; bad queries keep Tempo's words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.doubles import TempoDouble
from tests.otel_fixtures import T0, Recorder, prompt_cache, reasoning, record
from workbench.errors import ConfigError, SourceQueryError
from workbench.sources import incomplete_reason, prices

DAY = ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")
LATER = pd.Timestamp("2026-12-01", tz="UTC")


@pytest.fixture(scope="module")
def spans():
    from workbench.simulate import generate_spans

    rec = Recorder(seed=7)  # ids apart from record()'s
    prompt_cache(rec, T0 + pd.Timedelta(hours=3))
    reasoning(rec, T0 + pd.Timedelta(hours=4))  # counted in the output counts
    return (generate_spans(seed=11, days=1, traces_per_day=200, start="2026-11-02") + record()
            + rec.spans)


@pytest.fixture(scope="module")
def double(spans):
    with TempoDouble(spans, max_metrics_s=6 * 3600) as d:
        yield d


@pytest.fixture(scope="module")
def raw(double):
    with double.source(now=lambda: LATER) as src:
        return src.observations(*DAY)


def _interval_start(ts: pd.Series) -> pd.Series:
    """The start of the hour interval (t - 1h, t] a timestamp is counted in."""
    return ts.dt.ceil("h") - pd.Timedelta(hours=1)


def test_token_and_cost_aggregates_equal_the_raw_pull(double, raw, spans):
    with double.source(now=lambda: LATER) as src:
        agg = src.aggregate(*DAY, ["input_tokens", "output_tokens", "cost_usd"], by=["model"])
        learnt = src.max_metrics_s
    assert learnt == 6 * 3600  # the 24 h default was refused and the limit learnt
    assert incomplete_reason(agg) is None
    gens = raw[raw["type"].isin(["generation", "embedding"]).to_numpy()].copy()
    # pushdown prices every LLM call's tokens; the raw pull keeps a call's own reported cost
    # spans typed by the Langfuse SDK alone (no operation name) are not LLM calls to TraceQL
    langfuse_typed = {format(s.context.span_id, "016x") for s in spans
                      if "langfuse.observation.type" in (s.attributes or {})
                      and "gen_ai.operation.name" not in (s.attributes or {})}
    gens = gens[~gens["observation_id"].isin(langfuse_typed).to_numpy()]
    gens["hour"] = _interval_start(gens["start_time"])
    want = gens.groupby(["hour", "model"])[["input_tokens", "output_tokens"]].sum().astype(
        "float64")
    got = agg.pivot_table(index=["timestamp", "model"], columns="metric", values="value",
                          aggfunc="sum")
    got.index.names = ["hour", "model"]
    got.columns = got.columns.astype(object)
    pd.testing.assert_frame_equal(got[["input_tokens", "output_tokens"]], want,
                                  check_names=False, check_index_type=False,
                                  check_column_type=False)
    table = prices.load()
    # the Agents SDK response's cached prompt, the GenAI and OpenInference prompt caches
    assert gens["cache_read_tokens"].sum() == 128 + 8000 + 3000
    assert gens["cache_write_tokens"].sum() == 8000 + 1000
    # reasoning tokens of the GenAI and OpenInference calls, inside their output counts
    assert gens["reasoning_tokens"].sum() == 2500 + 1000

    def list_cost(r):
        p = table.price(r.model)
        n = {k: 0 if pd.isna(v) else v for k, v in r._asdict().items()}
        uncached = n["input_tokens"] - n["cache_read_tokens"] - n["cache_write_tokens"]
        return (uncached * p.input + n["cache_read_tokens"] * p.cache_read_rate
                + n["cache_write_tokens"] * p.cache_write_rate
                + n["output_tokens"] * p.output) / 1e6

    want_cost = sum(list_cost(r) for r in gens.itertuples())
    # every LLM call priced from its tokens (the raw pull keeps ChatOpenAI's own cost instead)
    assert got["cost_usd"].sum() == pytest.approx(want_cost, rel=1e-9)
    # the raw pull keeps a call's own reported cost and prices the others the same way
    own = {format(s.context.span_id, "016x") for s in spans
           if any(k.startswith(("llm.cost", "gen_ai.usage.cost", "langfuse.observation.cost"))
                  for k in (s.attributes or {}))}
    assert own and "ChatOpenAI" in set(raw.loc[raw["observation_id"].isin(own), "name"])
    priced = gens[~gens["observation_id"].isin(own).to_numpy()
                  & (gens["input_tokens"].notna() | gens["output_tokens"].notna()).to_numpy()]
    assert len(priced) and all(r.cost_usd == pytest.approx(list_cost(r), rel=1e-9)
                               for r in priced.itertuples())


def test_counts_by_agent_equal_the_raw_pull(double, raw, spans):
    with double.source(now=lambda: LATER) as src:
        agg = src.aggregate(*DAY, ["spans", "traces", "errors"], by=["agent"])
    raw = raw.assign(hour=_interval_start(raw["start_time"]))
    spans_by_hour = raw.groupby("hour").size()
    got = agg[agg["metric"] == "spans"].groupby("timestamp")["value"].sum()
    pd.testing.assert_series_equal(got[got > 0].astype("int64"), spans_by_hour,
                                   check_names=False, check_index_type=False)
    roots = raw[raw["parent_observation_id"].isna()]
    got_traces = agg[agg["metric"] == "traces"]["value"].sum()
    assert got_traces == len(roots) == raw["trace_id"].nunique()
    assert agg[agg["metric"] == "errors"]["value"].sum() > 0
    services = {str(s.resource.attributes["service.name"]) for s in spans}
    assert set(agg["agent"].dropna()) == services


def test_a_raw_metrics_query(double):
    with double.source() as src:
        df = src.metrics("{ } | count_over_time() by (resource.service.name)", *DAY, step="6h")
    assert list(df.columns) == ["timestamp", "metric", "resource.service.name", "value"]
    assert df["timestamp"].dt.hour.isin([0, 6, 12, 18]).all()
    assert df["value"].sum() > 0


def test_bad_metrics_requests(double):
    with double.source() as src:
        with pytest.raises(ConfigError, match="unknown measure"):
            src.aggregate(*DAY, ["latency"])
        with pytest.raises(ConfigError, match="token and cost measures only"):
            src.aggregate(*DAY, ["spans"], by=["model"])
        with pytest.raises(ConfigError, match="unknown grouping"):
            src.aggregate(*DAY, ["spans"], by=["colour"])
        with pytest.raises(ConfigError, match="one spanset filter"):
            src.aggregate(*DAY, ["traces"], q="{ } | rate()")
        with pytest.raises(SourceQueryError, match="invalid TraceQL query"):
            src.metrics("{ } | frobnicate()", *DAY)
        with pytest.raises(ConfigError, match="step"):
            src.metrics("{ } | rate()", *DAY, step="fast")
        with pytest.raises(ConfigError, match="longer than the server's TraceQL metrics range"):
            src.metrics("{ } | rate()", *DAY, step=86400)


def test_unpriced_models_are_named_not_zero():
    with TempoDouble(record("genai")) as d, d.source() as src:
        agg = src.aggregate("2026-11-02T09:00Z", "2026-11-02T12:00Z", ["cost_usd"],
                            by=["model"], q='{ resource.deployment.environment.name = "x" }')
        assert agg.empty
    rec = record("genai")
    with TempoDouble(rec) as d, d.source(prices={"models": {
            "gpt-4o": {"input": 1, "output": 1, "match": r"gpt-4o(-\d{4}-\d{2}-\d{2})?"}},
            "replace": True}) as src:
        agg = src.aggregate("2026-11-02T09:00Z", "2026-11-02T12:00Z", ["cost_usd"],
                            by=["model"])
    cost = agg.set_index("model")["value"]
    assert np.isnan(cost["gpt-4o-mini"]) and cost["gpt-4o-2024-08-06"] == pytest.approx(1.5e-3)
    assert agg.attrs["tempo"]["unpriced_tokens_by_model"]["gpt-4o-mini"] == 340
