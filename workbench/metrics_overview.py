"""The "Metrics (Prometheus)" section of a report: the runbooks' PromQL over the report window.

``metrics_overview`` runs every runbook's ``prometheus:`` queries and stacks the answers in one
tidy frame (the canonical ``metrics`` columns plus ``runbook``, with ``metric`` = the query's name
in the runbook); ``plot_metrics_overview`` draws one panel per query, one line per series.

A query the server rejects is left out and the frame is marked incomplete (the report shows it as
degraded); a server that cannot be reached, times out or refuses the credentials raises, since no
other query would fare better.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench import schema
from workbench.errors import SourceQueryError
from workbench.sources import mark_incomplete

__all__ = ["metrics_overview", "plot_metrics_overview"]

_FIXED = ("timestamp", "metric", "value", "runbook")


def _runbooks(runbooks: Any) -> list[Any]:
    from workbench import runbooks as rb_mod

    if isinstance(runbooks, (str, rb_mod.Runbook)):
        runbooks = [runbooks]
    elif isinstance(runbooks, Mapping):
        runbooks = list(runbooks.values())
    return [rb_mod.load(r) if isinstance(r, str) else r for r in runbooks]


def metrics_overview(source: Any, runbooks: Any, start: Any, end: Any,
                     step: Any = None) -> pd.DataFrame:
    """Every ``prometheus:`` query of ``runbooks`` over ``[start, end]``, as one tidy frame.

    ``source`` is a :class:`~workbench.sources.prometheus.PrometheusSource`; ``runbooks`` a
    runbook, a name, a list of either, or the dict from ``runbooks.load_all()``. Columns:
    ``timestamp, metric, value, runbook`` then the label columns (strings).
    """
    frames, failed = [], []
    for rb in _runbooks(runbooks):
        for name, promql in rb.prometheus.items():
            try:
                f = source.query_range(promql, start, end, step=step, name=name)
            except SourceQueryError as exc:
                failed.append(f"{rb.name}.{name}: {exc}")
                continue
            frames.append(f.assign(runbook=pd.array([rb.name] * len(f), dtype="string")))
    frames = [f for f in frames if len(f)]
    if frames:
        out = schema.conform(pd.concat(frames, ignore_index=True), "metrics")
    else:
        out = schema.empty("metrics").assign(runbook=pd.array([], dtype="string"))
    labels = sorted(c for c in out.columns if c not in _FIXED)
    out = out[[*_FIXED, *labels]].sort_values(["runbook", "metric", "timestamp"],
                                               kind="stable", ignore_index=True)
    for reason in failed:
        mark_incomplete(out, reason)
    return out


def _series_name(frame: pd.DataFrame, labels: Iterable[str]) -> pd.Series:
    parts = [frame[c].astype("string").radd(f"{c}=") for c in labels]
    if not parts:
        return pd.Series("value", index=frame.index, dtype="string")
    joined = parts[0].fillna("")
    for p in parts[1:]:
        joined = joined.str.cat(p.fillna(""), sep=" ")
    return joined.str.strip().replace("", "value")


def plot_metrics_overview(frame: pd.DataFrame, title: str = "Metrics (Prometheus)") -> go.Figure:
    """One panel per runbook query, one line per label set; Inf is drawn as a gap."""
    panels = (frame[["runbook", "metric"]].drop_duplicates().itertuples(index=False)
              if len(frame) else [])
    panels = list(panels)
    if not panels:
        fig = go.Figure()
        fig.add_annotation(text="No Prometheus data in this window", showarrow=False,
                           x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_layout(title=title, xaxis_visible=False, yaxis_visible=False)
        return fig
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True,
                        subplot_titles=[f"{p.runbook} · {p.metric}" for p in panels],
                        vertical_spacing=min(0.08, 0.5 / len(panels)))
    labels = [c for c in frame.columns if c not in _FIXED]
    for row, p in enumerate(panels, start=1):
        part = frame[(frame["runbook"] == p.runbook) & (frame["metric"] == p.metric)]
        used = [c for c in labels if part[c].notna().any()]
        names = _series_name(part, used)
        for series, g in part.groupby(names, sort=True):
            y = g["value"].to_numpy(dtype=np.float64).copy()
            y[~np.isfinite(y)] = np.nan
            fig.add_trace(go.Scatter(x=g["timestamp"], y=y, mode="lines", name=str(series),
                                     legendgroup=str(series), showlegend=True),
                          row=row, col=1)
    fig.update_layout(title=title, height=max(320, 220 * len(panels)),
                      margin={"l": 60, "r": 20, "t": 80, "b": 40})
    return fig
