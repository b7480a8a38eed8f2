"""Generate a simulated dataset: agent traffic recorded as OpenTelemetry spans, as frames.

Pipeline: draw traffic (numpy) -> plan each request's calls -> fail a few requests, stall a few
calls, time a few tool calls out -> lay the requests out in time, cut at each agent's budget ->
inject the labelled incidents -> record real OTel spans in each agent's instrumentation style ->
map them with the public conventions (:func:`workbench.sources.otel.raw_from_spans`,
:meth:`workbench.sources.conventions.Conventions.observations`) -> roll up ``traces`` -> judge
``scores``. The canonical frames are what any OTel-reading source would make of the spans: the
simulator never writes canonical columns itself. One seed drives every draw and every span id, so
the same arguments always give identical frames.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry.sdk.trace import ReadableSpan

from workbench import schema
from workbench.errors import ConfigError
from workbench.simulate.incidents import Incident, default_incidents, labels_frame
from workbench.simulate.inject import inject
from workbench.simulate.plan import TracePlan
from workbench.simulate.profiles import Profile, get_profile
from workbench.simulate.scores import evaluate
from workbench.simulate.styles import SpanRecorder
from workbench.simulate.timeline import fail_request, finalize, stall, time_out_tool
from workbench.simulate.traffic import draw_traffic
from workbench.sources import conventions as conv
from workbench.sources import prices
from workbench.sources.otel import raw_from_spans

__all__ = ["DEFAULT_START", "Dataset", "generate", "generate_spans", "plan_requests"]

DEFAULT_START = "2026-11-02"


@dataclass
class Dataset:
    """A simulated dataset's canonical frames, the labels of the incidents injected into it, and
    the arguments that reproduce it (``spans`` are kept only when asked for)."""

    observations: pd.DataFrame
    traces: pd.DataFrame
    scores: pd.DataFrame
    labels: pd.DataFrame
    profile: str = "demo"
    arguments: dict[str, Any] = field(default_factory=dict)
    spans: list[ReadableSpan] | None = None


def _day0(start: str | pd.Timestamp) -> pd.Timestamp:
    try:
        t = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"start {start!r} is not a date or timestamp") from exc
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.normalize()


def _check(days: Any, traces_per_day: Any) -> None:
    if not isinstance(days, (int, np.integer)) or days < 1:
        raise ConfigError(f"days must be a positive integer, got {days!r}")
    if not isinstance(traces_per_day, (int, np.integer)) or traces_per_day < 1:
        raise ConfigError(f"traces_per_day must be a positive integer, got {traces_per_day!r}")


def _baseline_failures(r: random.Random, plans: Sequence[TracePlan], p: Profile) -> None:
    for plan in plans:
        x = r.random()
        if x < p.error_rate:
            fail_request(r, plan)
        elif x < p.error_rate + p.stall_rate:
            stall(r, plan)
        if p.tool_timeout_rate and plan.failure is None:
            for call in list(plan.calls):
                if (call.kind == "tool" and call.failure is None and call in plan.calls
                        and r.random() < p.tool_timeout_rate):
                    time_out_tool(r, plan, call)
                    if plan.failure is not None:
                        break


def plan_requests(seed: int, days: int, traces_per_day: int, start: pd.Timestamp,
                  incidents: Sequence[Incident], profile: str | Profile = "demo"
                  ) -> tuple[list[TracePlan], np.random.Generator]:
    """Every request of the dataset, laid out in time, with failures and incidents applied.

    Returns the plans and the numpy generator, whose later draws (the scores) continue the stream.
    """
    p = get_profile(profile)
    rng = np.random.default_rng(seed)
    traffic = draw_traffic(rng, p, start, days, traces_per_day)
    r = random.Random(int(rng.integers(2**63)))
    agents = p.agents
    plans = []
    for a, e, u, s, t, tag in zip(traffic.agent.tolist(), traffic.environment,
                                  traffic.user_id, traffic.session_id,
                                  traffic.start_us.tolist(), traffic.tags):
        spec = agents[a]
        plans.append(TracePlan(spec, e, u, s, int(t), spec.plan(r, spec),
                               tags=(tag,) if tag else ()))
    _baseline_failures(r, plans, p)
    for plan in plans:
        finalize(r, plan)
    for plan in inject(r, plans, incidents, p):
        finalize(r, plan)
    return plans, rng


def _resolve(seed: int, days: int | None, traces_per_day: int | None,
             start: str | pd.Timestamp, incidents: Sequence[Incident] | None,
             profile: str | Profile) -> tuple[Profile, int, int, pd.Timestamp, list[Incident]]:
    p = get_profile(profile)
    days = p.days if days is None else days
    traces_per_day = p.traces_per_day if traces_per_day is None else traces_per_day
    _check(days, traces_per_day)
    day0 = _day0(start)
    chosen = default_incidents(day0, days, profile=p) if incidents is None else list(incidents)
    for inc in chosen:
        if not isinstance(inc, Incident):
            raise ConfigError(f"incidents must be Incident records, got {type(inc).__name__}")
        inc.check_injectable(p)
    return p, days, traces_per_day, day0, chosen


def _record(seed: int, plans: Sequence[TracePlan]) -> SpanRecorder:
    recorder = SpanRecorder(seed)
    for plan in plans:
        recorder.record(plan)
    return recorder


def generate_spans(seed: int = 7, days: int | None = None, traces_per_day: int | None = None,
                   start: str | pd.Timestamp = DEFAULT_START,
                   incidents: Sequence[Incident] | None = None,
                   profile: str | Profile = "demo") -> list[ReadableSpan]:
    """The dataset's finished OpenTelemetry spans (what an OTLP exporter would ship), in end
    order."""
    p, days, per_day, day0, chosen = _resolve(seed, days, traces_per_day, start, incidents,
                                              profile)
    plans, _ = plan_requests(seed, days, per_day, day0, chosen, p)
    return _record(seed, plans).spans


def generate(seed: int = 7, days: int | None = None, traces_per_day: int | None = None,
             start: str | pd.Timestamp = DEFAULT_START,
             incidents: Sequence[Incident] | None = None, profile: str | Profile = "demo",
             keep_spans: bool = False) -> Dataset:
    """Generate ``days`` days from midnight UTC of ``start``, ``traces_per_day`` a day on average.

    ``profile``: ``"demo"`` (defaults 7 days x 5,000) or ``"realistic"`` (28 days x 1,250).
    ``incidents=None`` injects the profile's :func:`default_incidents`; ``[]`` gives quiet data.
    ``keep_spans`` keeps the OTel spans on the dataset (for a Langfuse double built from them).
    """
    p, days, per_day, day0, chosen = _resolve(seed, days, traces_per_day, start, incidents,
                                              profile)
    plans, rng = plan_requests(seed, days, per_day, day0, chosen, p)
    recorder = _record(seed, plans)
    obs = conv.load().observations(raw_from_spans(recorder.spans))
    # LLM calls whose spans report tokens but no cost (OTel GenAI has no cost attribute) are
    # priced from the list prices, as Langfuse prices them on ingestion and the Tempo source does
    obs, _ = prices.load().fill_costs(obs)
    obs = obs.sort_values(["start_time", "trace_id"], kind="stable").reset_index(drop=True)
    traces = schema.traces_from_observations(obs)
    traces = traces.sort_values(["start_time", "trace_id"], kind="stable").reset_index(drop=True)
    scores = evaluate(rng, plans, recorder.tool_observations, p)
    arguments = {"seed": seed, "days": days, "traces_per_day": per_day, "start": str(day0),
                 "incidents": None if incidents is None else list(chosen), "profile": p.name}
    return Dataset(observations=obs, traces=traces, scores=scores, labels=labels_frame(chosen),
                   profile=p.name, arguments=arguments,
                   spans=recorder.spans if keep_spans else None)
