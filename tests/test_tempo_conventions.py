"""Each public span convention, recorded by the OpenTelemetry SDK, encoded by its OTLP exporter's
encoder, served by the Tempo double and read back by ``TempoSource``: the values each
instrumentation wrote reach the canonical columns, and child spans never roll up into parents."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.doubles import TempoDouble
from tests.otel_fixtures import Recorder, audio, prompt_cache, reasoning, record
from workbench import schema

WINDOW = ("2026-11-02T09:00:00Z", "2026-11-02T12:00:00Z")
LATER = pd.Timestamp("2026-12-01", tz="UTC")


def pull(name):
    with TempoDouble(record(name)) as d, d.source(now=lambda: LATER) as src:
        obs = src.observations(*WINDOW)
        return obs, src.traces(*WINDOW), src.scores(*WINDOW)


def row(obs, name):
    hits = obs[obs["name"] == name]
    assert len(hits) == 1, (name, obs["name"].tolist())
    return hits.iloc[0]


def test_opentelemetry_genai():
    obs, traces, scores = pull("genai")
    chat = row(obs, "chat gpt-4o")
    assert (chat["type"], chat["model"], chat["input_tokens"], chat["output_tokens"]) == \
        ("generation", "gpt-4o-2024-08-06", 1200, 300)  # the response model wins
    assert chat["cost_usd"] == pytest.approx(1200 * 2.5e-6 + 300 * 10e-6)  # priced
    old = row(obs, "chat claude-sonnet-4-5")  # deprecated gen_ai.system / prompt_tokens
    assert (old["input_tokens"], old["output_tokens"]) == (800, 120)
    assert old["cost_usd"] == pytest.approx(800 * 3e-6 + 120 * 15e-6)
    tool = row(obs, "get_weather")  # named after gen_ai.tool.name
    assert (tool["type"], tool["tool_name"], tool["level"], tool["error_type"]) == \
        ("tool", "get_weather", "ERROR", "timeout")
    emb = row(obs, "embeddings text-embedding-3-small")
    assert emb["type"] == "embedding" and emb["cost_usd"] == pytest.approx(64 * 0.02e-6)
    first = obs[obs["environment"] == "production"]
    assert set(first["agent"]) == {"support-bot"} and set(first["release"]) == {"2.1.0"}
    assert set(first["session_id"]) == {"conv-17"} and set(first["user_id"]) == {"user-4"}
    # the invoke_agent span carries its children's usage (2000 / 420): counted once
    t = traces.set_index("environment").loc["production"]
    assert (t["input_tokens"], t["output_tokens"]) == (2000, 420)
    assert t["cost_usd"] == pytest.approx(chat["cost_usd"] + old["cost_usd"])
    assert (t["n_generations"], t["n_tool_calls"], t["status"]) == (2, 1, "timeout")
    assert scores["name"].tolist() == ["groundedness"]
    schema.validate(scores, "scores")


def test_openinference():
    obs, traces, _ = pull("openinference")
    llm = row(obs, "ChatOpenAI")
    assert (llm["type"], llm["model"], llm["input_tokens"], llm["output_tokens"],
            llm["total_tokens"]) == ("generation", "gpt-4o-mini", 900, 80, 980)
    assert llm["cost_usd"] == 0.00042  # its own llm.cost.total, not the price table's
    agent = row(obs, "research-agent")
    assert agent["type"] == "agent" and agent["total_tokens"] == 999 and pd.isna(
        agent["cost_usd"])
    tool = row(obs, "search")
    assert (tool["type"], tool["tool_name"], tool["error_type"]) == ("tool", "search",
                                                                    "rate_limit")
    assert row(obs, "retrieve")["type"] == "retriever"
    assert row(obs, "rerank")["type"] == "retriever"
    assert set(obs["session_id"]) == {"sess-9"} and set(obs["tags"]) == {"beta,eu"}
    t = traces.iloc[0]
    assert (t["agent"], t["total_tokens"], t["cost_usd"]) == ("research-agent", 980, 0.00042)


def test_langfuse_otel_attributes():
    obs, traces, _ = pull("langfuse_otel")
    gen = row(obs, "draft-reply")
    assert (gen["type"], gen["model"], gen["input_tokens"], gen["output_tokens"],
            gen["total_tokens"], gen["cost_usd"]) == ("generation", "gpt-4.1", 500, 50, 550,
                                                      0.0014)
    assert (gen["level"], gen["status_message"]) == ("WARNING", "slow model")
    assert (gen["prompt_name"], gen["prompt_version"]) == ("reply", 3)
    mini = row(obs, "summarise")
    assert mini["cost_usd"] == pytest.approx(200 * 0.4e-6 + 20 * 1.6e-6)
    tool = row(obs, "charge-card")
    assert (tool["type"], tool["level"], tool["error_type"]) == ("tool", "ERROR", "rate_limit")
    assert set(obs["agent"]) == {"checkout-bot"} and set(obs["user_id"]) == {"u-77"}
    assert set(obs["session_id"]) == {"s-77"} and set(obs["release"]) == {"rel-7"}
    assert set(obs["environment"]) == {"production"} and set(obs["tags"]) == {"vip"}
    assert traces.iloc[0]["name"] == "handle-checkout"


def test_openai_agents_sdk_through_openinference():
    obs, traces, _ = pull("agents_openinference")
    assert dict(zip(obs["name"], obs["type"])) == {
        "Agent workflow": "agent", "Triage": "agent", "response": "generation",
        "get_weather": "tool", "handoff to Billing": "tool", "pii_check": "guardrail"}
    resp = row(obs, "response")
    assert (resp["model"], resp["input_tokens"], resp["output_tokens"]) == ("gpt-4o", 640, 55)
    guard = row(obs, "pii_check")
    assert guard["level"] == "ERROR" and guard["status_message"].startswith(
        "Guardrail tripwire triggered")
    assert traces.iloc[0]["n_tool_calls"] == 2


def test_openai_agents_sdk_through_logfire():
    obs, traces, _ = pull("agents_logfire")
    resp = row(obs, "Responses API with 'gpt-4o'")  # logfire.msg is the display name
    assert (resp["type"], resp["model"], resp["input_tokens"]) == \
        ("generation", "gpt-4o-2024-08-06", 410)
    fn = row(obs, "Function: get_weather")
    assert (fn["type"], fn["tool_name"], fn["error_type"]) == ("tool", "get_weather", "timeout")
    assert set(obs["agent"]) == {"agents-logfire"}
    t = traces.iloc[0]
    assert (t["n_generations"], t["n_tool_calls"], t["status"]) == (1, 1, "timeout")


def test_prompt_cache_tokens_in_each_convention_and_their_prices():
    rec = Recorder()
    prompt_cache(rec)
    with TempoDouble(rec.spans) as d, d.source(now=lambda: LATER) as src:
        obs = src.observations(*WINDOW)
        traces = src.traces(*WINDOW)
    cols = ["input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
            "total_tokens", "cost_usd"]

    def usage(name):
        return tuple(None if pd.isna(v) else v for v in row(obs, name)[cols])

    # claude-sonnet-4.5: input 3, output 15, cache read 0.3, cache write 3.75 USD per 1M
    assert usage("chat hit") == (10000, 8000, None, 200, 10200, 0.0114)
    assert usage("chat write") == (10000, None, 8000, 200, 10200, 0.039)
    assert usage("chat miss") == (10000, None, None, 200, 10200, 0.033)
    # OpenInference, claude-haiku-4.5: 1000 x 1 + 3000 x 0.1 + 1000 x 1.25 + 100 x 5
    assert usage("Messages") == (5000, 3000, 1000, 100, 5100, 0.00305)
    # Langfuse usage details leave the cached part out of `input`: it is added back
    assert usage("cached-answer") == (2000, 1600, None, 50, 2050, 0.0035)
    # the cache stopped hitting: same tokens per request, cost up 2.9x
    per = traces.set_index("name").loc[["invoke_agent cache-bot hit",
                                        "invoke_agent cache-bot miss"]]
    assert per["input_tokens"].tolist() == [10000, 10000]
    assert per["cost_usd"].tolist() == [0.0114, 0.033]


def test_reasoning_tokens_in_each_convention_and_their_prices():
    rec = Recorder()
    reasoning(rec)
    with TempoDouble(rec.spans) as d, d.source(now=lambda: LATER) as src:
        obs = src.observations(*WINDOW)
    cols = ["input_tokens", "output_tokens", "reasoning_tokens", "total_tokens", "cost_usd"]

    def usage(name):
        return tuple(None if pd.isna(v) else v for v in row(obs, name)[cols])

    # output tokens count the reasoning ones and bill at the output price
    # GenAI, o4-mini: 1000 x 1.10 + 3000 x 4.40 USD per 1M
    assert usage("chat o4-mini") == (1000, 3000, 2500, 4000, pytest.approx(0.0143))
    # OpenInference, o3: 500 x 2 + 1200 x 8
    assert usage("ChatCompletion") == (500, 1200, 1000, 1700, pytest.approx(0.0106))
    # OpenInference audio tokens are part of the completion count as it is: 100 x 2.5 + 600 x 10
    assert usage("AudioCompletion") == (100, 600, None, 700, pytest.approx(0.00625))
    # Langfuse usage details leave the reasoning tokens out of `output`: added back
    # gpt-5-mini: 400 x 0.25 + (100 + 900) x 2
    assert usage("reasoned-answer") == (400, 1000, 900, 1400, pytest.approx(0.0021))
    # Genkit's output_reasoning, gemini-2.5-flash: 50 x 0.30 + (20 + 30) x 2.50
    assert usage("thought-answer") == (50, 50, 30, 100, pytest.approx(0.00014))


def test_audio_and_prediction_tokens_in_each_convention_and_their_prices():
    rec = Recorder()
    audio(rec)
    with TempoDouble(rec.spans) as d, d.source(now=lambda: LATER) as src:
        obs = src.observations(*WINDOW)
    cols = ["input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens",
            "total_tokens", "cost_usd"]

    def usage(name):
        return tuple(None if pd.isna(v) else v for v in row(obs, name)[cols])

    # audio input tokens bill at the input price, audio output and prediction tokens at the
    # output price (the table has no audio prices)
    # the Langfuse Python SDK's OpenAI usage object, gpt-4o:
    # (1200 - 200 cached) x 2.50 + 200 x 1.25 + 900 x 10 USD per 1M
    assert usage("voice-answer") == (1200, 900, 200, 0, 2100, pytest.approx(0.01175))
    # the JS SDK's flattened usage types leave the prediction tokens out of `output`: added
    # back; gpt-4o-mini: 500 x 0.15 + (120 + 120 + 60) x 0.60
    assert usage("predicted-edit") == (500, 300, 0, 0, 800, pytest.approx(0.000255))
    # OpenInference audio and reasoning details are inside the counts: 300 x 2.5 + 600 x 10
    assert usage("AudioChat") == (300, 600, None, 100, 900, pytest.approx(0.00675))
    # GenAI audio counts are subsets of the counts: 250 x 2.5 + 500 x 10
    assert usage("chat gpt-4o") == (250, 500, None, None, 750, pytest.approx(0.005625))
