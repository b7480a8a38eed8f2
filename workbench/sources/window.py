"""One pull of a window from a trace source, shared by the daily report, the scheduled check and
the trace window of the notebooks, so all three read the same frames and say the same problems.

The pull: observations, then traces (the base roll-up of those observations reused, or the
source's own stored traces), then the scores, then every partial frame said, then Langfuse's own
traffic set aside (:func:`workbench.sources.traffic.application_traffic`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from workbench import schema
from workbench.errors import ConfigError, SchemaError, SourceError
from workbench.sources import TraceSource, incomplete_reason, mark_incomplete
from workbench.sources.traffic import application_traffic

__all__ = ["PulledWindow", "ask_health", "pull_window"]


@dataclass
class PulledWindow:
    """The application's observations, traces and scores of a window, and what went wrong."""

    observations: pd.DataFrame
    traces: pd.DataFrame
    scores: pd.DataFrame
    #: pulls that failed, each as "traces: SourceUnavailable: ..." or "scores: ..."
    failures: list[str] = field(default_factory=list)
    #: frames that came back in part, each as "observations incomplete: <reason>"
    incomplete: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Everything that keeps the window from backing an all-clear: failures first."""
        return self.failures + self.incomplete


def ask_health(src: TraceSource) -> None:
    """Ask a remote source's health endpoint before pulling (a source without one is taken as
    up): one that is down raises :class:`SourceError` naming it within seconds, not after every
    time slice of the window has spent its retries."""
    if callable(health := getattr(src, "health", None)):
        health()


def pull_window(src: TraceSource, start: Any, end: Any, *,
                scores: pd.DataFrame | Literal["pull", "skip"] = "pull",
                raise_errors: bool = False) -> PulledWindow:
    """Pull ``[start, end)`` from ``src``.

    ``scores``: ``"pull"`` the scores that may count toward the window's traces
    (:meth:`TraceSource.trace_scores`), ``"skip"`` them (an empty frame), or a frame the caller
    pulled itself (over a wider window); it is set aside with the rest.

    A failed pull (:class:`SourceError`, :class:`SchemaError`) is recorded in ``failures`` and
    leaves its frames empty, or propagates with ``raise_errors`` (a notebook has nobody else to
    tell). A failed trace pull also skips the scores: they only count through their traces, and
    a source that just failed is not asked again within the same deadline (the check still
    has alerts to send in it). A frame marked incomplete stays marked, the base roll-up
    included (it carries its observations' mark), and is said once in ``incomplete``.
    """
    if isinstance(scores, str) and scores not in ("pull", "skip"):
        raise ConfigError(f"scores must be a frame, 'pull' or 'skip', got {scores!r}")
    failures: list[str] = []
    # a frame not pulled is made empty at the end, not beforehand: each costs milliseconds
    obs: pd.DataFrame | None = None
    traces: pd.DataFrame | None = None
    got = scores if isinstance(scores, pd.DataFrame) else None
    rolled_up = type(src).traces is TraceSource.traces
    try:
        obs = src.observations(start, end)
        if rolled_up:  # the base roll-up: reuse what was pulled, its mark with it
            traces = schema.traces_from_observations(obs)
            if why := incomplete_reason(obs):
                mark_incomplete(traces, why)
        else:
            traces = src.traces(start, end)
    except (SourceError, SchemaError) as exc:
        if raise_errors:
            raise
        failures.append(f"traces: {type(exc).__name__}: {exc}")
    if isinstance(scores, str) and scores == "pull" and not failures:
        try:
            got = src.trace_scores(start, end)
        except (SourceError, SchemaError) as exc:
            if raise_errors:
                raise
            failures.append(f"scores: {type(exc).__name__}: {exc}")
    obs = schema.empty("observations") if obs is None else obs
    traces = schema.empty("traces") if traces is None else traces
    got = schema.empty("scores") if got is None else got
    # the roll-up's mark is its observations': said once, as theirs
    said = (("observations", obs),) + ((("traces", traces),) if not rolled_up else ()) \
        + (("scores", got),)
    incomplete = [f"{label} incomplete: {why}" for label, frame in said
                  if (why := incomplete_reason(frame))]
    obs, traces, got = application_traffic(obs, traces, got)
    return PulledWindow(observations=obs, traces=traces, scores=got, failures=failures,
                        incomplete=incomplete)
