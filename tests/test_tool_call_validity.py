"""Tool-call validity read from the spans: calls the model got wrong, rejected as the public
frameworks reject them, are counted on every trace that calls tools, without an evaluator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import runbooks, schema
from workbench.analysis import detect, trace_signals
from workbench.sources import conventions as conv

T0 = pd.Timestamp("2026-11-10 12:00", tz="UTC")
DAY0 = pd.Timestamp("2026-11-10", tz="UTC")
H, D = pd.Timedelta(hours=1), pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def books():
    return runbooks.load_all()


def _row(trace: str, oid: str, name: str, parent: str | None = None, **extra) -> dict:
    return {"trace_id": trace, "observation_id": oid, "parent_observation_id": parent,
            "start_time": "2026-11-10T12:00:00Z", "name": name, **extra}


def _classified(rows: list[dict]) -> pd.Series:
    cols = sorted({k for r in rows for k in r})
    raw = conv.raw_frame({c: [r.get(c) for r in rows] for c in cols})
    return conv.load().observations(raw).set_index("observation_id")["error_type"]


def test_a_rejected_call_is_told_from_a_timeout_and_a_malformed_tool_output():
    """The messages and exception types the frameworks write when they reject a model's tool
    call, even where the quoted arguments mention a timeout."""
    rows = [
        # OpenAI Agents SDK: ModelBehaviorError on the function span, the arguments quoted
        _row("t", "a", "lookup_order", level="ERROR", status_message=(
            'Invalid JSON input for tool lookup_order: {"order_id": 12, "timeout": 30')),
        # Vercel AI SDK, read from the OTel `exception` event
        _row("t", "b", "ai.toolCall", level="ERROR",
             exception_type="AI_InvalidToolArgumentsError",
             exception_message="Invalid arguments for tool getWeather: Type validation failed"),
        _row("t", "c", "ai.generateText", level="ERROR", status_message=(
            "Model tried to call unavailable tool 'searchWeb'. Available tools: getWeather.")),
        # LangGraph's ToolNode and LangChain agents
        _row("t", "d", "tools", level="ERROR", status_message=(
            "Error: refund_order is not a valid tool, try one of [lookup_order, issue_refund].")),
        _row("t", "e", "call_tool", level="ERROR",
             status_message="ValueError: Unknown tool name: 'translate'"),
        # the tool answered, with something that does not parse: the tool's fault
        _row("t", "f", "search_api", level="ERROR",
             status_message="JSONDecodeError: Expecting value: line 1 column 1 (char 0)"),
        _row("t", "g", "search_api", level="ERROR",
             status_message="httpx.ReadTimeout: timed out"),
    ]
    assert _classified(rows).to_dict() == {
        "a": "invalid_tool_call", "b": "invalid_tool_call", "c": "invalid_tool_call",
        "d": "invalid_tool_call", "e": "invalid_tool_call", "f": "malformed_output",
        "g": "timeout"}


def _obs(rows: list[tuple[str, str, str | None, str | None]]) -> pd.DataFrame:
    """(trace, type, tool name, error type) per observation."""
    out = []
    for k, (trace, kind, tool, error) in enumerate(rows):
        out.append({"trace_id": trace, "observation_id": f"o{k}", "start_time": T0,
                    "end_time": T0 + pd.Timedelta(seconds=1), "duration_s": 1.0,
                    "name": tool or kind, "type": kind, "tool_name": tool,
                    "level": "ERROR" if error else "DEFAULT", "error_type": error,
                    "agent": "support", "environment": "production"})
    return schema.conform(pd.DataFrame(out), "observations")


def test_each_trace_counts_its_calls_and_the_rejected_ones_once():
    obs = _obs([
        # three calls, one rejected on its own span
        ("t0", "generation", None, None), ("t0", "tool", "lookup", None),
        ("t0", "tool", "lookup", "invalid_tool_call"), ("t0", "tool", "refund", None),
        # a call to a tool that does not exist: no tool span, the rejection on the generation
        # and again on the agent span around it; one call, not two
        ("t1", "agent", None, "invalid_tool_call"),
        ("t1", "generation", None, "invalid_tool_call"), ("t1", "tool", "lookup", None),
        # a timeout is a valid call that failed
        ("t2", "tool", "lookup", "timeout"),
        # no tools: nothing to judge
        ("t3", "generation", None, None),
        # an evaluator scored this trace's calls as valid; the spans say one was rejected
        ("t4", "tool", "lookup", "invalid_tool_call"), ("t4", "tool", "lookup", None),
    ])
    scores = schema.conform(pd.DataFrame({
        "score_id": ["s4"], "trace_id": ["t4"], "observation_id": [None],
        "timestamp": [T0 + pd.Timedelta(minutes=5)], "name": ["tool_call_valid"],
        "value": [1.0], "string_value": [None], "data_type": ["NUMERIC"],
        "source": ["EVAL"]}), "scores")
    u = trace_signals(schema.traces_from_observations(obs), obs, scores).set_index("trace_id")
    got = u[["rejected_calls", "checked_calls"]]
    assert got.loc["t0"].tolist() == [1.0, 3.0]
    assert got.loc["t1"].tolist() == [1.0, 2.0]
    assert got.loc["t2"].tolist() == [0.0, 1.0]
    assert got.loc["t3"].isna().all()
    assert got.loc["t4"].tolist() == [1.0, 2.0]
    # the evaluator's verdict is its own signal, on the traces it scored alone
    judged = u[["invalid_tool_calls", "scored_tool_calls"]]
    assert judged.loc["t4"].tolist() == [0.0, 1.0]
    assert judged.drop(index="t4").isna().all().all()


def _release(days: int = 8, per_hour: int = 10, seed: int = 7):
    """Agent ``support``: one generation (prompt ``answer``) and two tool calls a trace, no
    evaluator at all. 1 % of calls are rejected; version 9 ships 09:00-17:00 on the judged day
    and makes the model get 20 % of its calls wrong."""
    rng = np.random.default_rng(seed)
    t_rows, o_rows = [], []
    for h in range(days * 24):
        t0 = DAY0 - 7 * D + h * H
        for _ in range(per_hour):
            t = t0 + pd.Timedelta(seconds=float(rng.uniform(0, 3500)))
            tid = f"{len(t_rows):032x}"
            v = 9 if DAY0 + 9 * H <= t < DAY0 + 17 * H else 8
            t_rows.append(tid)
            base = {"trace_id": tid, "start_time": t, "end_time": t + pd.Timedelta(seconds=1),
                    "duration_s": 1.0, "agent": "support", "environment": "production"}
            o_rows.append({**base, "observation_id": f"{len(o_rows):016x}", "name": "answer",
                           "type": "generation", "level": "DEFAULT", "model": "m",
                           "prompt_name": "answer", "prompt_version": v, "input_tokens": 10,
                           "output_tokens": 5, "total_tokens": 15, "cost_usd": 0.001})
            for tool in ("lookup_order", "refund_policy"):
                bad = rng.random() < (0.20 if v == 9 else 0.01)
                o_rows.append({**base, "observation_id": f"{len(o_rows):016x}", "name": tool,
                               "type": "tool", "tool_name": tool,
                               "level": "ERROR" if bad else "DEFAULT",
                               "error_type": "invalid_tool_call" if bad else None})
    obs = schema.conform(pd.DataFrame(o_rows), "observations")
    return schema.traces_from_observations(obs), obs


def test_a_release_that_gets_tool_calls_wrong_is_found_without_an_evaluator(books):
    t, o = _release()
    found = [f for f in detect(books["hallucination_spike"], t, o, None, DAY0, DAY0 + D)
             if f.status == "firing" and f.signal == "tool_call_rejections"]
    assert found, "no tool_call_rejections finding"
    f = found[0]
    assert f.severity in ("critical", "page")
    # the version's hours (its first drew a single rejection: the scan may start after it)
    assert DAY0 + 9 * H <= f.start <= DAY0 + 10 * H and f.end == DAY0 + 17 * H
    assert f.observed > 0.15 > 0.02 > f.baseline
    assert (f.suspects[0].dimension, f.suspects[0].value) == ("prompt_version", "9")
    assert "traces with tool calls" in f.summary


def test_steady_rejections_are_no_finding(books):
    t, o = _release()
    o = o.copy()
    quiet = o["prompt_version"].eq(9).fillna(False)
    o.loc[quiet, "prompt_version"] = 8  # the same day, no release
    day = (o["start_time"] >= DAY0 + 9 * H) & (o["start_time"] < DAY0 + 17 * H)
    rng = np.random.default_rng(1)
    redo = day & o["type"].eq("tool")
    bad = rng.random(int(redo.sum())) < 0.01
    o.loc[redo, "error_type"] = np.where(bad, "invalid_tool_call", None)
    o.loc[redo, "level"] = np.where(bad, "ERROR", "DEFAULT")
    found = [f for f in detect(books["hallucination_spike"], t, o, None, DAY0, DAY0 + D)
             if f.signal == "tool_call_rejections" and f.status == "firing"]
    assert not found, [x.summary for x in found]
