"""The simulator's canonical frames as the Prometheus series an instrumented agent exports.

``to_openmetrics`` writes valid OpenMetrics text (``# HELP``/``# TYPE``, ``_total`` counters,
histogram ``_bucket{le=...}``/``_count``/``_sum``, timestamps in seconds, ``# EOF``) that
``promtool tsdb create-blocks-from openmetrics`` backfills. Every series is sampled on one scrape
grid and is cumulative over time, so ``rate``/``increase``/``histogram_quantile`` in the runbooks'
PromQL see the same incidents as the trace analysis.

Series, and what each is derived from (events are counted at the first scrape at or after they
happen: an observation or trace at its ``end_time``, a score at its ``timestamp``):

- ``llm_request_duration_seconds`` (histogram) ``{agent_id, operation, model | tool}``: one
  observation per agent request (root span, ``operation="invoke_agent"``), per LLM call
  (generation, ``operation="chat"``, ``model``) and per tool call (``operation="execute_tool"``,
  ``tool``), the GenAI semantic-convention operation names. Buckets include the 6 s near-timeout
  and the 8 s budget.
- ``llm_ttft_seconds`` (histogram) ``{agent_id, model}``: time to first token of each generation,
  derived deterministically as ``min(duration, 0.05 s + 0.2 * duration)``.
- ``llm_tokens_total`` ``{agent_id, model, token_type=input|output}``.
- ``llm_cost_usd_total`` ``{agent_id, model}``: ``cost_usd`` of every observation that has one.
- ``llm_errors_total`` ``{agent_id, error_type}``: observations at level ERROR (tool errors,
  malformed JSON, timeouts, ...); a missing ``error_type`` reads ``unknown``.
- ``api_requests_total`` ``{agent_id, status=ok|error|timeout}``: one per trace.
- ``api_timeout_total`` ``{agent_id}``: traces cut at the budget (0 from the start for every
  agent, so its rate is 0, not absent).
- ``llm_guardrail_decisions_total`` ``{agent_id, decision=allow|block}``: one per trace; ``block``
  when the trace's refusal score is above 0.5, else ``allow``.
- ``llm_hallucination_score`` (histogram) ``{agent_id}``: the hallucination scores.

Scores are read by signal (``refusal``, ``hallucination``) through the conventions layer, which
knows the names evaluators write (``Hallucination``, ``Topic Adherence Refusal``, ...).

A label without a value (e.g. a root span without a model) is left out of the series, as
Prometheus does with empty labels.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from workbench import schema
from workbench.sources import conventions as conv

__all__ = ["DURATION_BUCKETS", "SCORE_BUCKETS", "TTFT_BUCKETS", "to_openmetrics", "ttft_seconds"]

DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 20.0, 60.0)
TTFT_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
REFUSAL_THRESHOLD = 0.5


def ttft_seconds(duration_s: Any) -> np.ndarray:
    """Time to first token derived from a generation's duration (no randomness)."""
    d = np.asarray(duration_s, dtype=np.float64)
    return np.minimum(d, 0.05 + 0.2 * d)


@dataclass(frozen=True)
class _Grid:
    """The scrape times, epoch seconds: ``t0, t0 + interval, ...`` (``n`` of them)."""

    t0: int
    interval: int
    n: int

    def index(self, ts: pd.Series) -> np.ndarray:
        """Index of the first scrape at or after each event."""
        secs = ts.astype("int64").to_numpy() / 1e6  # datetime64[us] -> seconds
        return np.ceil((secs - self.t0) / self.interval).astype(np.int64)

    @property
    def times(self) -> np.ndarray:
        return (self.t0 + self.interval * np.arange(self.n)).astype(np.int64).astype(str)


def _interval_s(scrape_interval: str | int | float | pd.Timedelta) -> int:
    if isinstance(scrape_interval, (int, float)) and not isinstance(scrape_interval, bool):
        seconds = float(scrape_interval)
    else:
        seconds = pd.Timedelta(scrape_interval).total_seconds()
    if seconds < 1 or seconds != int(seconds):
        raise ValueError(f"scrape_interval {scrape_interval!r} must be a whole number of "
                         "seconds, at least 1")
    return int(seconds)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels_text(pairs: Sequence[tuple[str, str]]) -> str:
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs if v not in ("", None))
    return f"{{{body}}}" if body else ""


def _fmt(values: np.ndarray) -> np.ndarray:
    if np.all(values == np.floor(values)):
        return values.astype(np.int64).astype(str)
    return np.round(values, 9).astype(str)


class _Writer:
    """Accumulates the text of each family; every series spans the whole grid."""

    def __init__(self, grid: _Grid) -> None:
        self.grid = grid
        self.times = grid.times
        self.parts: list[str] = []

    def _lines(self, names: Sequence[str], labels: Sequence[Sequence[tuple[str, str]]],
               values: Sequence[np.ndarray]) -> None:
        """Samples of one metric point group (a counter, or a histogram's buckets, count and
        sum) at each scrape, time-major: OpenMetrics wants a group's timestamps never to go back.
        """
        prefixes = np.asarray([f"{n}{_labels_text(ls)} " for n, ls in zip(names, labels)])
        vals = np.stack([_fmt(v) for v in values])  # (samples per point, ticks)
        lines = np.strings.add(np.strings.add(prefixes[:, None], vals),
                               np.strings.add(" ", self.times)[None, :])
        self.parts.append("\n".join(lines.T.ravel().tolist()))

    def _matrix(self, events: pd.DataFrame, label_cols: list[str],
                value_cols: list[str]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
        """Per series (unique label set) and column: cumulative sums on the grid."""
        keys = events[label_cols].astype("string").fillna("")
        codes, uniques = pd.MultiIndex.from_frame(keys).factorize()
        idx = np.clip(self.grid.index(events["ts"]), 0, self.grid.n - 1)
        out = {}
        for col in value_cols:
            m = np.zeros((len(uniques), self.grid.n))
            np.add.at(m, (codes, idx), events[col].to_numpy(dtype=np.float64))
            out[col] = np.cumsum(m, axis=1)
        return uniques.to_frame(index=False), out

    def counter(self, name: str, help_text: str, events: pd.DataFrame,
                label_cols: list[str]) -> None:
        self.parts.append(f"# HELP {name} {help_text}\n# TYPE {name} counter")
        if events.empty:
            return
        series, sums = self._matrix(events, label_cols, ["value"])
        for i, row in enumerate(series.itertuples(index=False)):
            self._lines([f"{name}_total"], [list(zip(label_cols, row))], [sums["value"][i]])

    def histogram(self, name: str, help_text: str, events: pd.DataFrame,
                  label_cols: list[str], buckets: Sequence[float]) -> None:
        self.parts.append(f"# HELP {name} {help_text}\n# TYPE {name} histogram")
        if events.empty:
            return
        v = events["value"].to_numpy(dtype=np.float64)
        cols = {f"le{i}": (v <= b).astype(np.float64) for i, b in enumerate(buckets)}
        events = events.assign(count=1.0, **cols)
        series, sums = self._matrix(events, label_cols, ["count", "value", *cols])
        for i, row in enumerate(series.itertuples(index=False)):
            labels = list(zip(label_cols, row))
            les = [*(_le(b) for b in buckets), "+Inf"]
            self._lines(
                [f"{name}_bucket"] * len(les) + [f"{name}_count", f"{name}_sum"],
                [*([*labels, ("le", le)] for le in les), labels, labels],
                [*(sums[f"le{j}"][i] for j in range(len(buckets))), sums["count"][i],
                 sums["count"][i], sums["value"][i]])

    def text(self) -> str:
        return "\n".join([*self.parts, "# EOF"]) + "\n"


def _le(bound: float) -> str:
    return repr(float(bound))


def _frames(dataset: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    get = dataset.get if isinstance(dataset, dict) else (lambda k: getattr(dataset, k, None))
    obs = get("observations")
    if obs is None:
        raise ValueError("dataset has no 'observations' frame")
    obs = schema.validate(obs, "observations")
    traces = get("traces")
    traces = schema.traces_from_observations(obs) if traces is None else schema.validate(
        traces, "traces")
    scores = get("scores")
    scores = schema.empty("scores") if scores is None else schema.validate(scores, "scores")
    return obs, traces, scores


def _grid(obs: pd.DataFrame, scores: pd.DataFrame, interval: int) -> _Grid:
    times = [obs["end_time"], obs["start_time"], scores["timestamp"]]
    lo = min(t.min() for t in times if len(t))
    hi = max(t.max() for t in times if len(t))
    t0 = int(lo.timestamp() // interval * interval)
    # Two scrapes past the last event, so the last increments are visible to rate().
    n = int(np.ceil((hi.timestamp() - t0) / interval)) + 3
    return _Grid(t0=t0, interval=interval, n=n)


def _events(frame: pd.DataFrame, ts: str, value: Any, **labels: Any) -> pd.DataFrame:
    out = pd.DataFrame({"ts": frame[ts], "value": value}, index=frame.index)
    for k, v in labels.items():
        out[k] = v
    return out


def to_openmetrics(dataset: Any, scrape_interval: str | int | float | pd.Timedelta = "60s",
                   path: str | os.PathLike | IO[str] | None = None) -> str:
    """OpenMetrics text of the dataset's series; also written to ``path`` (file or stream).

    ``dataset`` has ``observations`` and ``scores`` (and ``traces``, else rolled up) canonical
    frames, as attributes or keys. All series share one grid of ``scrape_interval`` steps.
    """
    interval = _interval_s(scrape_interval)
    obs, traces, scores = _frames(dataset)
    if obs.empty:
        text = "# EOF\n"
    else:
        text = _render(obs, traces, scores, _grid(obs, scores, interval))
    if path is not None:
        if isinstance(path, io.TextIOBase) or hasattr(path, "write"):
            path.write(text)
        else:
            Path(path).write_text(text)
    return text


def _render(obs: pd.DataFrame, traces: pd.DataFrame, scores: pd.DataFrame, grid: _Grid) -> str:
    w = _Writer(grid)
    roots = obs[obs["parent_observation_id"].isna()]
    gens = obs[obs["type"] == "generation"]
    tools = obs[obs["type"] == "tool"]
    trace_model = traces.set_index("trace_id")["model"]

    durations = pd.concat([
        _events(roots, "end_time", roots["duration_s"], agent_id=roots["agent"],
                operation="invoke_agent", model=roots["trace_id"].map(trace_model), tool=""),
        _events(gens, "end_time", gens["duration_s"], agent_id=gens["agent"], operation="chat",
                model=gens["model"], tool=""),
        _events(tools, "end_time", tools["duration_s"], agent_id=tools["agent"],
                operation="execute_tool", model="", tool=tools["tool_name"]),
    ], ignore_index=True)
    w.histogram("llm_request_duration_seconds",
                "Duration of agent requests, LLM calls and tool calls.",
                durations, ["agent_id", "operation", "model", "tool"], DURATION_BUCKETS)
    w.histogram("llm_ttft_seconds", "Time to first token of LLM calls.",
                _events(gens, "end_time", ttft_seconds(gens["duration_s"]),
                        agent_id=gens["agent"], model=gens["model"]),
                ["agent_id", "model"], TTFT_BUCKETS)

    tok = obs[obs["input_tokens"].notna() | obs["output_tokens"].notna()]
    tokens = pd.concat([
        _events(tok, "end_time", tok[col].fillna(0).astype("float64"), agent_id=tok["agent"],
                model=tok["model"], token_type=kind)
        for col, kind in (("input_tokens", "input"), ("output_tokens", "output"))
    ], ignore_index=True)
    w.counter("llm_tokens", "Tokens used by LLM calls.", tokens,
              ["agent_id", "model", "token_type"])
    costly = obs[obs["cost_usd"].notna()]
    w.counter("llm_cost_usd", "Spend on LLM calls in USD.",
              _events(costly, "end_time", costly["cost_usd"], agent_id=costly["agent"],
                      model=costly["model"]), ["agent_id", "model"])
    errs = obs[obs["level"] == "ERROR"]
    w.counter("llm_errors", "Observations that ended in an error, by error type.",
              _events(errs, "end_time", 1.0, agent_id=errs["agent"],
                      error_type=errs["error_type"].fillna("unknown")),
              ["agent_id", "error_type"])

    w.counter("api_requests", "Agent requests served, by outcome.",
              _events(traces, "end_time", 1.0, agent_id=traces["agent"],
                      status=traces["status"]), ["agent_id", "status"])
    timeouts = traces[traces["status"] == "timeout"]
    # Every agent gets a timeout series from the start (at 0), so a timeout *rate* is 0 rather
    # than absent for an agent that never timed out.
    first = traces.drop_duplicates("agent")
    w.counter("api_timeout", "Agent requests cut at the latency budget.",
              pd.concat([_events(first, "start_time", 0.0, agent_id=first["agent"]),
                         _events(timeouts, "end_time", 1.0, agent_id=timeouts["agent"])],
                        ignore_index=True), ["agent_id"])

    trace_agent = traces.set_index("trace_id")["agent"]
    # score names are the evaluators' own: the conventions say which feed which signal
    signals = conv.load().score_values(scores) if len(scores) else pd.DataFrame(
        columns=["trace_id", "timestamp", "signal", "value"])
    refusal = signals[signals["signal"] == "refusal"].groupby("trace_id")["value"].max()
    blocked = traces["trace_id"].map(refusal).gt(REFUSAL_THRESHOLD).fillna(False)
    w.counter("llm_guardrail_decisions", "Guardrail decision on each agent request.",
              _events(traces, "end_time", 1.0, agent_id=traces["agent"],
                      decision=np.where(blocked.to_numpy(dtype=bool), "block", "allow")),
              ["agent_id", "decision"])
    hall = signals[(signals["signal"] == "hallucination") & signals["value"].notna()]
    hall = hall[hall["trace_id"].isin(trace_agent.index)]
    w.histogram("llm_hallucination_score", "LLM-as-judge hallucination score of responses.",
                _events(hall, "timestamp", hall["value"],
                        agent_id=hall["trace_id"].map(trace_agent)),
                ["agent_id"], SCORE_BUCKETS)
    return w.text()
