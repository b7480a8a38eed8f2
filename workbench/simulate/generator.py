"""The deterministic demo: synthetic agent traffic, recorded as OpenTelemetry spans, as frames.

Pipeline: draw traffic (numpy) -> plan each request's span tree -> inject the labelled incidents
-> fail a few requests, stall a few calls, cut at the budget -> record real OTel spans -> convert to
the canonical ``observations`` -> roll up ``traces`` -> evaluate ``scores``. One seed drives every
draw and every span id, so the same arguments always give identical frames.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from opentelemetry.sdk.trace import ReadableSpan

from workbench import schema
from workbench.errors import ConfigError
from workbench.simulate.catalog import BASE_ERROR_RATE
from workbench.simulate.incidents import Incident, default_incidents, labels_frame
from workbench.simulate.inject import inject
from workbench.simulate.otel import SpanRecorder, spans_to_observations
from workbench.simulate.plan import TracePlan, plan_trace
from workbench.simulate.scores import evaluate
from workbench.simulate.timeline import STALL_RATE, fail_request, finalize, stall
from workbench.simulate.traffic import draw_traffic

__all__ = ["DEFAULT_START", "Dataset", "generate", "generate_spans", "plan_requests"]

DEFAULT_START = "2026-11-02"


@dataclass
class Dataset:
    """The demo's canonical frames plus the labels of the incidents injected into them."""

    observations: pd.DataFrame
    traces: pd.DataFrame
    scores: pd.DataFrame
    labels: pd.DataFrame


def _day0(start: str | pd.Timestamp) -> pd.Timestamp:
    try:
        t = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"start {start!r} is not a date or timestamp") from exc
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.normalize()


def _check(days: int, traces_per_day: int) -> None:
    if not isinstance(days, (int, np.integer)) or days < 1:
        raise ConfigError(f"days must be a positive integer, got {days!r}")
    if not isinstance(traces_per_day, (int, np.integer)) or traces_per_day < 1:
        raise ConfigError(f"traces_per_day must be a positive integer, got {traces_per_day!r}")


def plan_requests(seed: int, days: int, traces_per_day: int, start: pd.Timestamp,
                  incidents: Sequence[Incident]) -> tuple[list[TracePlan], np.random.Generator]:
    """Every request of the demo, laid out in time, with incidents and failures applied.

    Returns the plans and the numpy generator, whose later draws (the scores) continue the stream.
    """
    rng = np.random.default_rng(seed)
    traffic = draw_traffic(rng, start, days, traces_per_day)
    r = random.Random(int(rng.integers(2**63)))
    plans = [plan_trace(r, a, e, u, s, t) for a, e, u, s, t in zip(
        traffic.agent, traffic.environment, traffic.user_id, traffic.session_id,
        traffic.start_us.tolist())]
    inject(r, plans, incidents)
    for p in plans:
        if p.level == "DEFAULT":
            x = r.random()
            if x < BASE_ERROR_RATE:
                fail_request(r, p)
            elif x < BASE_ERROR_RATE + STALL_RATE:
                stall(r, p)
        finalize(r, p)
    return plans, rng


def _resolve(seed: int, days: int, traces_per_day: int, start: str | pd.Timestamp,
             incidents: Sequence[Incident] | None) -> tuple[pd.Timestamp, list[Incident]]:
    _check(days, traces_per_day)
    day0 = _day0(start)
    chosen = default_incidents(day0, days) if incidents is None else list(incidents)
    for inc in chosen:
        if not isinstance(inc, Incident):
            raise ConfigError(f"incidents must be Incident records, got {type(inc).__name__}")
        inc.check_injectable()
    return day0, chosen


def generate_spans(seed: int = 7, days: int = 7, traces_per_day: int = 5000,
                   start: str | pd.Timestamp = DEFAULT_START,
                   incidents: Sequence[Incident] | None = None) -> list[ReadableSpan]:
    """The demo's finished OpenTelemetry spans (what an OTLP exporter would ship), in end order."""
    day0, chosen = _resolve(seed, days, traces_per_day, start, incidents)
    plans, _ = plan_requests(seed, days, traces_per_day, day0, chosen)
    recorder = SpanRecorder(seed)
    for p in plans:
        recorder.record(p)
    return recorder.spans


def generate(seed: int = 7, days: int = 7, traces_per_day: int = 5000,
             start: str | pd.Timestamp = DEFAULT_START,
             incidents: Sequence[Incident] | None = None) -> Dataset:
    """Generate the demo: ``days`` days from midnight UTC of ``start``, ``traces_per_day`` each.

    ``incidents=None`` injects :func:`default_incidents`; ``[]`` gives quiet data.
    """
    day0, chosen = _resolve(seed, days, traces_per_day, start, incidents)
    plans, rng = plan_requests(seed, days, traces_per_day, day0, chosen)
    recorder = SpanRecorder(seed)
    for p in plans:
        recorder.record(p)
    del plans
    obs = spans_to_observations(recorder.spans)
    del recorder
    obs = obs.sort_values(["start_time", "trace_id"], kind="stable").reset_index(drop=True)
    traces = schema.traces_from_observations(obs)
    traces = traces.sort_values(["start_time", "trace_id"], kind="stable").reset_index(drop=True)
    scores = evaluate(rng, traces, obs, chosen)
    return Dataset(observations=obs, traces=traces, scores=scores, labels=labels_frame(chosen))
