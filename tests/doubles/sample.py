"""A small deterministic sample of agent traffic, as OpenTelemetry spans and what becomes of them.

The simulator's realistic agents (the Langfuse Python SDK, OTel GenAI semconv, OpenInference and
the OpenAI Agents SDK, in turn), laid out to stress what a Langfuse client gets wrong: traces
sharing one ``startTime`` (cursor tie-breaks), microsecond timestamps, tool time-outs in several
libraries' words, failed requests, spans without usage. The same spans give the canonical frames
the way any OTel source maps them (:attr:`Sample.observations`) and the records Langfuse stores
(:attr:`Sample.records`): a pull through the double must equal the former.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench import schema
from workbench.simulate.plan import TracePlan
from workbench.simulate.profiles import REALISTIC
from workbench.simulate.scores import evaluate
from workbench.simulate.styles import SpanRecorder
from workbench.simulate.timeline import fail_request, finalize, time_out_tool
from workbench.sources import conventions as conv
from workbench.sources.otel import raw_from_spans

from .langfuse_ingest import DEFAULT_PRICES, ingest

#: Every judge on every eligible item, so a small sample still holds each kind of score.
PROFILE = dataclasses.replace(REALISTIC, judges=tuple(
    dataclasses.replace(j, sample=1.0) for j in REALISTIC.judges))


@dataclass
class Sample:
    spans: list[Any]
    observations: pd.DataFrame  # canonical, through raw_from_spans + conventions
    traces: pd.DataFrame
    scores: pd.DataFrame
    records: list[dict[str, Any]]  # what Langfuse stores

    @property
    def frames(self) -> tuple[list[dict[str, Any]], pd.DataFrame]:
        """What a :class:`LangfuseDouble` is built from."""
        return self.records, self.scores


def settled_now() -> pd.Timestamp:
    """A ``now`` for a source reading a sample from its default ``start``: weeks later, so every
    hour of it is settled (and may be cached)."""
    return pd.Timestamp("2026-11-20T00:00:00Z")


def sample(n_traces: int = 60, start: str = "2026-11-02T00:00:00Z", hours: float = 6.0,
           seed: int = 7, prices: Any = DEFAULT_PRICES) -> Sample:
    """``n_traces`` requests spread over ``hours`` from ``start``, agents in turn."""
    r = random.Random(seed)
    rng = np.random.default_rng(seed)
    t0 = int(pd.Timestamp(start).value // 1000)
    span_us = int(hours * 3600 * 1e6)
    plans: list[TracePlan] = []
    last = 0
    for t in range(n_traces):
        spec = PROFILE.agents[t % len(PROFILE.agents)]
        # every fifth request starts with the one before it: ties across traces
        offset = int(rng.integers(0, span_us)) if t % 5 else last
        if t % 7 == 3:
            offset = offset - offset % 1000 + 123  # a microsecond-precision timestamp
        else:
            offset -= offset % 1000
        last = offset
        plan = TracePlan(spec, "production" if t % 4 else "staging", f"user-{t % 9}",
                         f"sess-{t % 13}", t0 + offset, spec.plan(r, spec),
                         tags=("web",) if t % 3 else ("slack",))
        tools = [c for c in plan.calls if c.kind == "tool"]
        if t % 11 == 5 and tools:
            time_out_tool(r, plan, tools[0])
        elif t % 6 == 0:
            fail_request(r, plan)
        finalize(r, plan)
        plans.append(plan)
    recorder = SpanRecorder(seed)
    for plan in plans:
        recorder.record(plan)
    spans = recorder.spans
    obs = conv.load().observations(raw_from_spans(spans))
    obs = obs.sort_values(["start_time", "trace_id", "observation_id"]).reset_index(drop=True)
    scores = evaluate(rng, plans, recorder.tool_observations, PROFILE)
    return Sample(spans=spans, observations=obs, traces=schema.traces_from_observations(obs),
                  scores=scores, records=ingest(spans, prices))
