"""LLM-as-judge evaluation scores for the demo, as an online evaluator would record them.

Every rag-agent and planner-agent request that returned an answer (status ``ok``) is evaluated:
``hallucination`` (NUMERIC 0..1, above 0.5 means hallucinated), ``groundedness`` (NUMERIC 0..1) and
``refusal`` (BOOLEAN, an unexpected refusal). Every tool call of any agent gets ``tool_call_valid``
(BOOLEAN, the call's name and arguments were valid; a tool that fails afterwards does not make the
call invalid), keyed by its ``observation_id``. Scores land 20 s to 3 min after the request ended.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from workbench import schema
from workbench.simulate.catalog import BASE_HALLUCINATION_RATE, BASE_REFUSAL_RATE
from workbench.simulate.incidents import Incident

__all__ = ["TOOL_CALL_VALID_RATE", "evaluate"]

TOOL_CALL_VALID_RATE = 0.98
_FAULTY_PROMPT_REFUSAL_FACTOR = 2.0
_FAULTY_PROMPT_GROUNDEDNESS_DROP = 0.08


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    h = rng.bytes(16 * n).hex()
    return np.asarray([h[i * 32:(i + 1) * 32] for i in range(n)], dtype=object)


def _delay(rng: np.random.Generator, n: int) -> pd.TimedeltaIndex:
    return pd.to_timedelta(np.round(rng.uniform(20.0, 180.0, size=n), 6), unit="s")


def _faulty_prompt(traces: pd.DataFrame, incidents: Sequence[Incident]) -> np.ndarray:
    """Per trace, the hallucination multiple of the faulty prompt it ran (1 where none)."""
    factor = np.ones(len(traces))
    for inc in incidents:
        if inc.runbook != "hallucination_spike":
            continue
        hit = (traces["start_time"].ge(inc.start) & traces["start_time"].lt(inc.end)
               & traces["prompt_version"].eq(int(inc.cause_value))).fillna(False).to_numpy()
        factor = np.where(hit, np.maximum(factor, inc.magnitude), factor)
    return factor


def _frame(rng: np.random.Generator, trace_id: pd.Series, observation_id: pd.Series | None,
           ended: pd.Series, name: str, value: np.ndarray, data_type: str,
           environment: pd.Series) -> pd.DataFrame:
    n = len(trace_id)
    return pd.DataFrame({
        "score_id": _ids(rng, n),
        "trace_id": trace_id.to_numpy(),
        "observation_id": None if observation_id is None else observation_id.to_numpy(),
        "timestamp": ended.reset_index(drop=True) + _delay(rng, n),
        "name": name,
        "value": value.astype("float64"),
        "data_type": data_type,
        "source": "EVAL",
        "environment": environment.to_numpy(),
    })


def evaluate(rng: np.random.Generator, traces: pd.DataFrame, observations: pd.DataFrame,
             incidents: Sequence[Incident]) -> pd.DataFrame:
    """The canonical ``scores`` frame for ``traces`` and their tool calls."""
    judged = traces[traces["agent"].isin(list(BASE_HALLUCINATION_RATE))
                    & traces["status"].eq("ok")].reset_index(drop=True)
    n = len(judged)
    factor = _faulty_prompt(judged, incidents)
    base = judged["agent"].map(BASE_HALLUCINATION_RATE).astype("float64").to_numpy()
    hallucinated = rng.random(n) < np.minimum(0.95, base * factor)
    faulty = factor > 1.0
    halluc_score = np.where(hallucinated, 0.5 + 0.5 * rng.beta(5, 2, n), 0.5 * rng.beta(2, 8, n))
    grounded = np.where(hallucinated, 0.1 + 0.5 * rng.beta(2, 3, n), 0.6 + 0.4 * rng.beta(6, 2, n))
    grounded = np.clip(grounded - np.where(faulty, _FAULTY_PROMPT_GROUNDEDNESS_DROP, 0.0), 0, 1)
    refusal_p = BASE_REFUSAL_RATE * np.where(faulty, _FAULTY_PROMPT_REFUSAL_FACTOR, 1.0)
    refused = (rng.random(n) < refusal_p).astype("float64")

    tools = observations[observations["type"].eq("tool")].reset_index(drop=True)
    tool_env = tools["environment"]
    valid = (rng.random(len(tools)) < TOOL_CALL_VALID_RATE).astype("float64")

    parts = [
        _frame(rng, judged["trace_id"], None, judged["end_time"], "hallucination", halluc_score,
               "NUMERIC", judged["environment"]),
        _frame(rng, judged["trace_id"], None, judged["end_time"], "groundedness", grounded,
               "NUMERIC", judged["environment"]),
        _frame(rng, judged["trace_id"], None, judged["end_time"], "refusal", refused,
               "BOOLEAN", judged["environment"]),
        _frame(rng, tools["trace_id"], tools["observation_id"], tools["end_time"],
               "tool_call_valid", valid, "BOOLEAN", tool_env),
    ]
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["timestamp", "score_id"], kind="stable").reset_index(drop=True)
    return schema.conform(out, "scores")
