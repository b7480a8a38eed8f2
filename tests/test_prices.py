"""The model price table: shipped prices with their date, user overrides, and costs filled only
on LLM calls that report tokens without a cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import schema
from workbench.errors import ConfigError
from workbench.sources import prices


def _obs(rows):
    base = dict(trace_id="a" * 32, parent_observation_id=None,
                start_time=pd.Timestamp("2026-11-02T00:00:00Z"),
                end_time=pd.Timestamp("2026-11-02T00:00:01Z"), duration_s=1.0, name="x",
                level="DEFAULT", agent="a", environment="default")
    df = pd.DataFrame([{**base, "observation_id": f"{i:016x}", **r} for i, r in enumerate(rows)])
    return schema.conform(df, "observations")


def test_shipped_table_has_a_date_a_source_and_list_prices():
    t = prices.load()
    assert t.date == "2026-08-21" and "Langfuse" in t.source
    cases = {"gpt-4o": (2.50, 10.00), "openai/gpt-4o-mini": (0.15, 0.60),
             "gpt-4o-2024-08-06": (2.50, 10.00), "claude-sonnet-4-5-20250929": (3.00, 15.00),
             "claude-sonnet-4.5": (3.00, 15.00), "GPT-4.1": (2.00, 8.00),
             "eu.anthropic.claude-3-5-sonnet-20240620-v1:0": (3.00, 15.00),
             "claude-opus-4-1-20250805": (15.00, 75.00), "claude-opus-4-5": (5.00, 25.00),
             "gemini-2.5-flash": (0.30, 2.50), "text-embedding-3-small": (0.02, 0.0)}
    for model, (i, o) in cases.items():
        p = t.price(model)
        assert p is not None, model
        assert (p.input, p.output) == (i, o), model
    assert t.price("gpt-4o-mini-tts") is None and t.price("llama-3") is None
    assert t.price(None) is None and t.price(float("nan")) is None


def test_costs_filled_only_on_llm_calls_without_their_own_cost():
    obs = _obs([
        dict(type="generation", model="gpt-4o", input_tokens=1000, output_tokens=100),
        dict(type="generation", model="gpt-4o", input_tokens=1000, output_tokens=100,
             cost_usd=0.5),                                           # its own cost wins
        dict(type="agent", model="gpt-4o", input_tokens=5000, output_tokens=900),  # roll-up
        dict(type="embedding", model="text-embedding-3-small", total_tokens=2000),
        dict(type="generation", model="llama-3", input_tokens=10, output_tokens=1),
        dict(type="generation", model=None, input_tokens=10, output_tokens=1),
        dict(type="generation", model="gpt-4o"),                       # no tokens: unknown
    ])
    out, filled = prices.load().fill_costs(obs)
    schema.validate(out, "observations")
    cost = out["cost_usd"].tolist()
    assert cost[0] == pytest.approx(1000 * 2.5e-6 + 100 * 1e-5)
    assert cost[1] == 0.5
    assert np.isnan(cost[2]) and np.isnan(cost[4]) and np.isnan(cost[5]) and np.isnan(cost[6])
    assert cost[3] == pytest.approx(2000 * 0.02e-6)
    assert filled.filled == 2
    assert filled.unpriced == {"(no model)": 1, "llama-3": 1}
    assert filled.to_dict() == {"costs_from_price_table": 2,
                                "unpriced_models": {"(no model)": 1, "llama-3": 1}}
    assert np.isnan(obs["cost_usd"][0])  # the input is not changed


def test_user_table_overrides_and_extends(tmp_path, monkeypatch):
    f = tmp_path / "prices.yaml"
    f.write_text("date: '2026-11-01'\nmodels:\n  gpt-4o: {input: 5, output: 20}\n"
                 "  llama-3: {input: 0.1, output: 0.2, match: '(meta/)?llama-3(\\.\\d)?'}\n")
    t = prices.load(f)
    assert (t.price("gpt-4o").input, t.price("gpt-4o").output) == (5.0, 20.0)
    assert t.price("meta/llama-3.1").output == 0.2
    assert t.price("gpt-4o-mini").input == 0.15  # defaults still there
    assert t.date == "2026-11-01" and t.fingerprint != prices.load().fingerprint
    monkeypatch.setenv(prices.ENV_PRICES, str(f))
    assert prices.load().price("gpt-4o").input == 5.0
    only = prices.load({"replace": True, "models": {"m": {"input": 1, "output": 2}}})
    assert [m.name for m in only.models] == ["m"] and only.price("gpt-4o") is None


@pytest.mark.parametrize("text,message", [
    ("models: [1, 2]", "`models` must map"),
    ("models:\n  m: {input: -1, output: 1}", "`input` must be a number >= 0"),
    ("models:\n  m: {input: 1}", "`output` must be a number >= 0"),
    ("models:\n  m: {input: 1, output: 1, cached: 1}", "unknown field"),
    ("models:\n  m: {input: 1, output: 1, cached_input: -0.1}",
     r"model 'm': `cached_input` must be a number >= 0 \(optional; USD per 1M tokens\)"),
    ("models:\n  m: {input: 1, output: 1, cache_write: 'cheap'}",
     r"model 'm': `cache_write` must be a number >= 0 \(optional; USD per 1M tokens\), "
     "got 'cheap'"),
    ("models:\n  m: {input: 1, output: 1, cache_write: true}", "model 'm': `cache_write`"),
    ("models:\n  m: {input: 1, output: 1, match: '('}", "bad `match`"),
    ("currency: EUR", "currency must be USD"),
    ("modls: {}", "unknown key"),
    ("models: {m: 3}", "needs `input:`"),
    (": : :", "not valid YAML"),
    ("- 1", "expected a mapping"),
])
def test_bad_tables_name_what_is_wrong(tmp_path, text, message):
    f = tmp_path / "p.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        prices.load(f)


def test_missing_table_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        prices.load(tmp_path / "nope.yaml")


def test_shipped_table_has_cache_prices_where_langfuse_lists_them():
    t = prices.load()
    cases = {"gpt-4o": (1.25, None), "gpt-4.1-mini": (0.10, None), "o1": (7.50, None),
             "gpt-5": (0.125, None), "gemini-2.5-flash": (0.03, None),
             "claude-sonnet-4-5-20250929": (0.30, 3.75), "claude-haiku-4-5": (0.10, 1.25),
             "claude-opus-4-1-20250805": (1.50, 18.75), "claude-3-5-haiku-20241022": (0.08, 1.00),
             "claude-3-haiku-20240307": (None, None), "gpt-5-pro": (None, None),
             "gemini-2.0-flash": (None, None)}
    for model, (read, write) in cases.items():
        p = t.price(model)
        assert (p.cached_input, p.cache_write) == (read, write), model
    haiku3 = t.price("claude-3-haiku")
    assert (haiku3.cache_read_rate, haiku3.cache_write_rate) == (0.25, 0.25)  # as input


def _cached(model, input_tokens, read=None, write=None, output=100):
    return dict(type="generation", model=model, input_tokens=input_tokens,
                cache_read_tokens=read, cache_write_tokens=write, output_tokens=output)


def test_cache_reads_and_writes_at_their_prices():
    obs = _obs([
        _cached("claude-sonnet-4-5", 10000),                          # no cache
        _cached("claude-sonnet-4-5", 10000, read=8000),               # cache hit
        _cached("claude-sonnet-4-5", 10000, write=8000),              # cache written
        _cached("claude-sonnet-4-5", 10000, read=6000, write=3000),
        _cached("gpt-4o", 2000, read=1600, write=0),
        _cached("claude-3-haiku", 10000, read=8000, write=1000),      # no cache prices
        _cached("claude-sonnet-4-5", 1000, read=3000, write=500),     # parts above the input
    ])
    out, filled = prices.load().fill_costs(obs)
    schema.validate(out, "observations")
    assert filled.filled == 7
    # claude-sonnet-4.5 per 1M: input 3, output 15, cache read 0.30, cache write 3.75
    assert out["cost_usd"].tolist() == pytest.approx([
        (10000 * 3 + 100 * 15) / 1e6,                                 # 0.0315
        (2000 * 3 + 8000 * 0.3 + 100 * 15) / 1e6,                     # 0.0099: cheaper
        (2000 * 3 + 8000 * 3.75 + 100 * 15) / 1e6,                    # 0.0375: dearer
        (1000 * 3 + 6000 * 0.3 + 3000 * 3.75 + 100 * 15) / 1e6,
        (400 * 2.5 + 1600 * 1.25 + 100 * 10) / 1e6,
        (10000 * 0.25 + 100 * 1.25) / 1e6,                            # all as input
        (3000 * 0.3 + 500 * 3.75 + 100 * 15) / 1e6,                   # rest of input: 0
    ], rel=1e-12)
    assert out["cost_usd"].tolist()[:3] == pytest.approx([0.0315, 0.0099, 0.0375], rel=1e-12)
    assert (out["cost_usd"] > 0).all()


def test_a_cache_that_stops_hitting_raises_cost_per_request_at_equal_tokens():
    def day(hit_share):
        hits = int(10 * hit_share)
        return _obs([_cached("gpt-4.1", 5000, read=4000 if i < hits else None, output=200)
                     for i in range(10)])
    before, _ = prices.load().fill_costs(day(0.9))
    after, _ = prices.load().fill_costs(day(0.0))
    assert before["input_tokens"].sum() == after["input_tokens"].sum() == 50000
    assert before["total_tokens"].sum() == after["total_tokens"].sum()
    # gpt-4.1 per 1M: input 2, cached input 0.5, output 8
    hit, miss = (1000 * 2 + 4000 * 0.5 + 200 * 8) / 1e6, (5000 * 2 + 200 * 8) / 1e6
    assert before["cost_usd"].mean() == pytest.approx((9 * hit + miss) / 10, rel=1e-12)
    assert after["cost_usd"].mean() == pytest.approx(miss, rel=1e-12)
    assert (hit, miss) == pytest.approx((0.0056, 0.0116), rel=1e-12)
    assert after["cost_usd"].mean() / before["cost_usd"].mean() == pytest.approx(
        0.0116 / 0.0062, rel=1e-12)


def test_reasoning_tokens_bill_once_at_the_output_price():
    # output_tokens counts the reasoning tokens (reasoning_tokens is a part of it, not more)
    obs = _obs([dict(type="generation", model="o3", input_tokens=1000, output_tokens=5000,
                     reasoning_tokens=4000),
                dict(type="generation", model="o3", input_tokens=1000, output_tokens=1000)])
    out, filled = prices.load().fill_costs(obs)
    assert filled.filled == 2
    # o3 per 1M: input 2, output 8
    assert out["cost_usd"].tolist() == pytest.approx([(1000 * 2 + 5000 * 8) / 1e6,
                                                      (1000 * 2 + 1000 * 8) / 1e6], rel=1e-12)
    assert out["cost_usd"].tolist() == pytest.approx([0.042, 0.010], rel=1e-12)


def test_frames_without_cache_columns_bill_input_as_before():
    obs = _obs([dict(type="generation", model="gpt-4o", input_tokens=1000,
                     output_tokens=100)]).drop(columns=["cache_read_tokens",
                                                        "cache_write_tokens"])
    out, _ = prices.load().fill_costs(obs)
    assert out["cost_usd"].tolist() == pytest.approx([(1000 * 2.5 + 100 * 10) / 1e6], rel=1e-12)


def test_a_user_entry_replaces_the_cache_prices_too():
    t = prices.load({"models": {"gpt-4o": {"input": 5, "output": 20},
                                "my-model": {"input": 1, "output": 2, "cached_input": 0.1,
                                             "cache_write": 1.25}}})
    assert (t.price("gpt-4o").cached_input, t.price("gpt-4o").cache_read_rate) == (None, 5.0)
    mine = t.price("my-model")
    assert (mine.cache_read_rate, mine.cache_write_rate) == (0.1, 1.25)
    out, _ = t.fill_costs(_obs([_cached("my-model", 1000, read=600, write=200, output=10)]))
    assert out["cost_usd"].tolist() == pytest.approx([(200 * 1 + 600 * 0.1 + 200 * 1.25
                                                       + 10 * 2) / 1e6], rel=1e-12)
