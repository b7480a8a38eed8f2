"""Entry points: run one runbook's detectors, or all of them, over canonical frames.

``[start, end)`` is the window judged; the frames must also hold the trailing baseline before
``start`` (the runbook's ``baseline.trailing``). With less history the detectors judge with what
there is and say so in every finding's summary; with none, or with too little volume in the window,
they return a single ``insufficient_data`` finding for the runbook, never a silent all-clear.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from workbench import schema
from workbench.analysis import _common as c
from workbench.analysis.cost import detect_cost
from workbench.analysis.hallucination import detect_hallucination
from workbench.analysis.timeouts import detect_timeouts
from workbench.errors import ConfigError
from workbench.findings import SEVERITIES, Finding
from workbench.runbooks import Runbook

__all__ = ["DETECTORS", "detect", "detect_all"]

Detector = Callable[[c.Context, pd.DataFrame, pd.DataFrame], list[Finding]]

#: runbook name -> detector(context, observations, scores)
DETECTORS: dict[str, Detector] = {
    "cost_spike": lambda ctx, obs, scores: detect_cost(ctx),
    "timeout_surge": lambda ctx, obs, scores: detect_timeouts(ctx, obs),
    "hallucination_spike": lambda ctx, obs, scores: detect_hallucination(ctx, scores),
}


def _frame(df: Any, name: str) -> pd.DataFrame:
    if df is None:
        return schema.empty(name)
    return schema.validate(df, name)


def detect(runbook: Runbook, traces: pd.DataFrame, observations: pd.DataFrame | None,
           scores: pd.DataFrame | None, start: Any, end: Any) -> list[Finding]:
    """Findings of ``runbook`` in ``[start, end)``, most urgent first.

    Frames are the canonical ``traces``, ``observations`` (tool spans: attribution by tool, the
    slowest spans) and ``scores``; ``observations`` and ``scores`` may be ``None``.
    """
    try:
        run = DETECTORS[runbook.name]
    except KeyError:
        raise ConfigError(f"no detector for runbook {runbook.name!r} ({runbook.path}); "
                          f"detectors exist for {sorted(DETECTORS)}") from None
    return _detect(run, runbook, _frame(traces, "traces"), _frame(observations, "observations"),
                   _frame(scores, "scores"), start, end, {})


def _detect(run: Detector, runbook: Runbook, traces: pd.DataFrame, observations: pd.DataFrame,
            scores: pd.DataFrame, start: Any, end: Any, shared: dict) -> list[Finding]:
    """One runbook over validated frames; ``shared`` keeps the trace units of each window so
    runbooks judging the same window and baseline reduce the traces once."""
    window = c.make_window(runbook, start, end)
    key = (window.base_start, window.end)
    if key not in shared:
        shared[key] = c.trace_units(traces, observations, window)
    units = shared[key]
    evaluation = runbook.spec["evaluation"]
    min_z = float(evaluation.get("min_zscore", 4.0))
    scan = max(1, int(c.parse_width(evaluation.get("scan", evaluation["bucket"])) / window.bucket))
    ctx = c.Context(runbook=runbook, window=window, units=units, min_z=min_z, scan=scan,
                    note=c.coverage_note(units, window))
    found = run(ctx, observations, scores)
    return sorted(found, key=lambda f: (-SEVERITIES.index(f.severity), f.start, f.signal))


def detect_all(runbooks: Mapping[str, Runbook], traces: pd.DataFrame,
               observations: pd.DataFrame | None, scores: pd.DataFrame | None, start: Any,
               end: Any) -> list[Finding]:
    """:func:`detect` for every runbook that has a detector; most urgent first."""
    out: list[Finding] = []
    names = [name for name in sorted(runbooks) if name in DETECTORS]
    if not names:
        return out
    traces = _frame(traces, "traces")
    observations = _frame(observations, "observations")
    scores = _frame(scores, "scores")
    shared: dict = {}
    for name in names:
        out += _detect(DETECTORS[name], runbooks[name], traces, observations, scores, start, end,
                       shared)
    return sorted(out, key=lambda f: (-SEVERITIES.index(f.severity), f.start, f.runbook))
