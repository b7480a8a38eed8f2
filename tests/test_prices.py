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
