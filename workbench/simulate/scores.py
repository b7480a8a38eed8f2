"""LLM-as-judge scores, as Langfuse stores what its evaluators write.

Each :class:`~workbench.simulate.profiles.Judge` is one evaluator: it samples its share of the
eligible traces (answers of the judged agents that returned one) or tool observations, and
writes one score per sampled item under its own name, the way Langfuse's managed templates name
them: ``Hallucination`` (NUMERIC 0..1, 1 = hallucinates), ``Faithfulness`` (NUMERIC 0..1, the
Ragas template, 1 = faithful), ``Topic Adherence Refusal`` (NUMERIC, 1 = the model refused),
``Check Answer Groundedness`` (CATEGORICAL: ``Grounded``, ``Somewhat grounded``, ``Not
grounded``), ``Out-of-Scope Request`` (BOOLEAN), and ``Tool Correctness`` (BOOLEAN, on the tool
observation). Scores have ``source`` EVAL, a UUID id and a timestamp 20 s to 3 min after the
request ended; a request whose answer ran a faulty prompt version hallucinates
``hallucination_factor`` times as often (ground truth from the injection).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from workbench import schema
from workbench.simulate.plan import TracePlan
from workbench.simulate.profiles import Judge, Profile
from workbench.simulate.styles import ToolObservation

__all__ = ["GROUNDEDNESS_LABELS", "evaluate"]

GROUNDEDNESS_LABELS = ("Not grounded", "Somewhat grounded", "Grounded")
_FAULTY_PROMPT_REFUSAL_FACTOR = 2.0
_FAULTY_PROMPT_GROUNDEDNESS_DROP = 0.08
_OUT_OF_SCOPE_RATE = 0.03


def _uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    raw = rng.bytes(16 * n).hex()
    out = []
    for i in range(n):
        h = raw[i * 32:(i + 1) * 32]
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-"
                   f"{h[20:32]}")
    return np.asarray(out, dtype=object)


def _delay(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.round(rng.uniform(20.0, 180.0, size=n) * 1e6).astype("int64")


def _answers(plans: Sequence[TracePlan], profile: Profile) -> pd.DataFrame:
    """Requests whose answer a judge may see: judged agents, no failure."""
    judged = {a.name for a in profile.agents if a.judged}
    rows = [(p.trace_id, p.agent.name, p.environment, p.start_us + int(round(p.end * 1e6)),
             p.hallucination_factor)
            for p in plans if p.agent.name in judged and p.failure is None]
    return pd.DataFrame(rows, columns=["trace_id", "agent", "environment", "end_us", "factor"])


def _frame(rng: np.random.Generator, trace_id: np.ndarray, observation_id: np.ndarray | None,
           end_us: np.ndarray, environment: np.ndarray, judge: Judge, value: np.ndarray,
           label: np.ndarray | None) -> pd.DataFrame:
    n = len(trace_id)
    ts = pd.to_datetime(end_us + _delay(rng, n), unit="us", utc=True)
    return pd.DataFrame({
        "score_id": _uuids(rng, n), "trace_id": trace_id,
        "observation_id": observation_id if observation_id is not None else [None] * n,
        "timestamp": ts, "name": judge.name, "value": value.astype("float64"),
        "string_value": label if label is not None else [None] * n,
        "data_type": judge.data_type, "source": "EVAL", "environment": environment,
    })


def evaluate(rng: np.random.Generator, plans: Sequence[TracePlan],
             tools: Sequence[ToolObservation], profile: Profile) -> pd.DataFrame:
    """The canonical ``scores`` frame of every judge of ``profile``."""
    answers = _answers(plans, profile)
    n = len(answers)
    factor = answers["factor"].to_numpy(dtype="float64")
    base = answers["agent"].map(profile.hallucination_rate).fillna(0.0).to_numpy(dtype="float64")
    hallucinated = rng.random(n) < np.minimum(0.95, base * factor)
    faulty = factor > 1.0
    parts = []
    for judge in profile.judges:
        if judge.target == "tool":
            keep = rng.random(len(tools)) < judge.sample
            picked = [t for t, k in zip(tools, keep.tolist()) if k]
            valid = (rng.random(len(picked)) < profile.tool_valid_rate).astype("float64")
            parts.append(_frame(
                rng, np.asarray([t.trace_id for t in picked], dtype=object),
                np.asarray([t.observation_id for t in picked], dtype=object),
                np.asarray([t.end_ns // 1000 for t in picked], dtype="int64"),
                np.asarray([t.environment for t in picked], dtype=object), judge, valid, None))
            continue
        keep = rng.random(n) < judge.sample
        h, f = hallucinated[keep], faulty[keep]
        m = int(keep.sum())
        label = None
        if judge.name == "Hallucination":
            value = np.where(h, 0.5 + 0.5 * rng.beta(5, 2, m), 0.5 * rng.beta(2, 8, m))
            value = np.round(value, 2)
        elif judge.name == "Faithfulness":
            value = np.where(h, 0.1 + 0.5 * rng.beta(2, 3, m), 0.6 + 0.4 * rng.beta(6, 2, m))
            value = np.round(np.clip(value - np.where(f, _FAULTY_PROMPT_GROUNDEDNESS_DROP, 0.0),
                                     0, 1), 2)
        elif judge.name == "Topic Adherence Refusal":
            p = profile.refusal_rate * np.where(f, _FAULTY_PROMPT_REFUSAL_FACTOR, 1.0)
            value = (rng.random(m) < p).astype("float64")
        elif judge.name == "Check Answer Groundedness":
            u = rng.random(m)
            idx = np.where(h, np.where(u < 0.7, 0, 1), np.where(u < 0.85, 2, 1))
            label = np.asarray(GROUNDEDNESS_LABELS, dtype=object)[idx]
            value = np.full(m, np.nan)
        elif judge.name == "Out-of-Scope Request":
            value = (rng.random(m) < _OUT_OF_SCOPE_RATE).astype("float64")
        else:
            raise ValueError(f"no simulated evaluator writes {judge.name!r}")
        part = answers[keep]
        parts.append(_frame(rng, part["trace_id"].to_numpy(dtype=object), None,
                            part["end_us"].to_numpy(dtype="int64"),
                            part["environment"].to_numpy(dtype=object), judge, value, label))
    out = pd.concat(parts, ignore_index=True) if parts else schema.empty("scores")
    out = out.sort_values(["timestamp", "score_id"], kind="stable").reset_index(drop=True)
    return schema.conform(out, "scores")
