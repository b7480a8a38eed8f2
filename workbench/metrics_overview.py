"""The "Metrics (Prometheus)" section of a report: the runbooks' PromQL over the report window.

``metrics_overview`` runs every runbook's ``prometheus:`` queries and stacks the answers in one
tidy frame (the canonical ``metrics`` columns plus ``runbook``, with ``metric`` = the query's name
in the runbook); ``plot_metrics_overview`` draws one panel per query, one line per series.
``hourly_means`` puts the series on the same hourly buckets as the trace detectors, and
``metric_peaks`` names each series' peak hour and its ratio to the window's median hour, so a
spike seen by Prometheus can be set beside the trace findings of the same hour.

A query the server rejects is left out and the frame is marked incomplete (the report shows it as
degraded); a server that cannot be reached, times out or refuses the credentials raises, since no
other query would fare better.

``metrics_section`` is all of that for one report: Prometheus from ``PROMETHEUS_URL`` when it is
set (a one-line "not configured" otherwise), failures recorded rather than raised, and the
section's HTML, figure and summary block (:class:`MetricsSection`).
"""

from __future__ import annotations

import html as _html
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench import schema
from workbench.errors import ConfigError, SchemaError, SourceError, SourceQueryError
from workbench.sources import incomplete_reason, mark_incomplete, to_utc

if TYPE_CHECKING:
    from workbench.findings import Finding

__all__ = ["ENV_URL", "MetricsSection", "hourly_means", "metric_peaks", "metrics_overview",
           "metrics_section", "plot_metrics_overview", "series_names"]

#: The section is on when this variable is set; the source reads its other settings itself.
ENV_URL = "PROMETHEUS_URL"
#: The runbooks' rates look back 5 minutes: a 5-minute step sees every increment once.
DEFAULT_STEP = "5m"

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


def _labels(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in _FIXED]


def series_names(frame: pd.DataFrame) -> pd.Series:
    """``agent_id=tool-agent model=gpt-4o``: each row's set labels (``value`` when none)."""
    labels = _labels(frame)
    if not labels or frame.empty:
        return pd.Series("value", index=frame.index, dtype="string")
    combos = frame[labels].astype("string").drop_duplicates()
    names = [" ".join(f"{c}={v}" for c, v in zip(labels, row) if not pd.isna(v)) or "value"
             for row in combos.itertuples(index=False)]
    lookup = combos.assign(_series=pd.array(names, dtype="string"))
    merged = frame[labels].astype("string").merge(lookup, on=labels, how="left")
    return pd.Series(merged["_series"].to_numpy(), index=frame.index, dtype="string")


def hourly_means(frame: pd.DataFrame, start: Any = None, end: Any = None,
                 freq: str = "1h") -> pd.DataFrame:
    """Each series' mean per ``freq`` bucket, stamped with the bucket's start.

    A range sample at ``t`` is a rate over the minutes *before* ``t``, so it counts for the
    bucket ``t`` closes: the sample on the hour belongs to the hour before. Inf is a gap (not a
    mean of infinity); buckets outside ``[start, end)`` are dropped. Same columns as the input.
    """
    if frame.empty:
        return frame.copy()
    bucket = (frame["timestamp"] - pd.Timedelta(microseconds=1)).dt.floor(freq)
    values = frame["value"].to_numpy(dtype=np.float64)
    work = frame.assign(timestamp=bucket, value=np.where(np.isfinite(values), values, np.nan),
                        _series=series_names(frame))
    if start is not None:
        work = work[work["timestamp"] >= to_utc(start)]
    if end is not None:
        work = work[work["timestamp"] < to_utc(end)]
    keys = ["runbook", "metric", "_series", "timestamp"]
    means = work.groupby(keys, sort=True, observed=True)["value"].mean()
    firsts = work.drop_duplicates(keys).set_index(keys)[_labels(frame)]
    out = firsts.join(means).reset_index().drop(columns="_series")
    out = schema.conform(out, "metrics")
    return out[[*_FIXED, *_labels(frame)]].reset_index(drop=True)


def _ratio(peak: float, median: float) -> float:
    if median != 0:
        return peak / median
    return float("inf") if peak > 0 else float("nan")


def metric_peaks(hourly: pd.DataFrame) -> pd.DataFrame:
    """One row per runbook query and series: its peak bucket against the window's median bucket.

    Columns: ``runbook, metric, series, labels`` (dict), ``peak_start``, ``peak_value``,
    ``median``, ``ratio`` (peak / median; inf when the median is 0), ``excess`` (peak - median),
    ``buckets`` (with data) and ``headline``: the series of each query with the largest excess.
    The series of one query share a unit, so the largest excess is the one a reader should look
    at; a ratio alone would crown any mostly-zero series that blipped once.
    """
    cols = ["runbook", "metric", "series", "labels", "peak_start", "peak_value", "median",
            "ratio", "excess", "buckets", "headline"]
    if hourly.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    labels = _labels(hourly)
    work = hourly.assign(_series=series_names(hourly)).dropna(subset=["value"])
    rows = []
    for (runbook, metric, series), g in work.groupby(["runbook", "metric", "_series"],
                                                      sort=True, observed=True):
        i = g["value"].to_numpy().argmax()
        peak, median = float(g["value"].iloc[i]), float(g["value"].median())
        first = g.iloc[0]
        rows.append({"runbook": runbook, "metric": metric, "series": series,
                     "labels": {c: str(first[c]) for c in labels if not pd.isna(first[c])},
                     "peak_start": g["timestamp"].iloc[i], "peak_value": peak,
                     "median": median, "ratio": _ratio(peak, median),
                     "excess": peak - median, "buckets": len(g)})
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    out = pd.DataFrame(rows)
    top = out.groupby(["runbook", "metric"], sort=False)["excess"].idxmax()
    out["headline"] = out.index.isin(top.to_numpy())
    return out[cols]


# -- the report section --------------------------------------------------------------------------

def _fmt(x: Any) -> str:
    x = float(x)
    if np.isnan(x):
        return "–"
    return "inf" if np.isinf(x) else format(x, ".4g")


def _overlapping(findings: Iterable[Finding], runbook: str, lo: pd.Timestamp,
                 hi: pd.Timestamp) -> list[str]:
    """Signals of the runbook's firing trace findings that overlap ``[lo, hi)``."""
    return sorted({f.signal for f in findings if f.status == "firing" and f.runbook == runbook
                   and f.start < hi and f.end > lo})


@dataclass
class MetricsSection:
    """The report's "Metrics (Prometheus)" section: whether Prometheus is configured, what
    failed (``problems``; any makes the report degraded), the runbook series on hourly buckets
    and each series' peak. ``frame`` keeps the raw range samples for notebook users."""

    configured: bool = False
    host: str | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    step: str = DEFAULT_STEP
    bucket: str = "1h"
    problems: list[str] = field(default_factory=list)
    frame: pd.DataFrame | None = field(default=None, repr=False)
    hourly: pd.DataFrame | None = field(default=None, repr=False)
    peaks: pd.DataFrame | None = field(default=None, repr=False)

    name = "prometheus"

    @property
    def degraded(self) -> bool:
        return bool(self.problems)

    @property
    def reason(self) -> str | None:
        return "; ".join(self.problems) or None

    @property
    def has_data(self) -> bool:
        return self.hourly is not None and not self.hourly.empty

    def status(self) -> dict[str, Any]:
        """Like the trace source's status in the summary, plus the (credential-free) host."""
        state = "not configured" if not self.configured else \
            "degraded" if self.degraded else "ok"
        return {"name": self.name, "status": state, "degraded": self.degraded,
                "reason": self.reason, "host": self.host}

    def peak_records(self, findings: Iterable[Finding] = (), headline_only: bool = False
                     ) -> list[dict[str, Any]]:
        """Peaks as plain records, each with the trace findings firing in its bucket."""
        if self.peaks is None or self.peaks.empty:
            return []
        found = list(findings)
        width = pd.Timedelta(self.bucket)
        rows = self.peaks[self.peaks["headline"]] if headline_only else self.peaks
        return [{"runbook": r.runbook, "query": r.metric, "series": r.series,
                 "labels": dict(r.labels), "peak_start": r.peak_start,
                 "peak_end": r.peak_start + width, "peak_value": r.peak_value,
                 "median": r.median, "ratio": r.ratio, "buckets": int(r.buckets),
                 "headline": bool(r.headline),
                 "trace_findings": _overlapping(found, r.runbook, r.peak_start,
                                                r.peak_start + width)}
                for r in rows.itertuples(index=False)]

    def to_dict(self, findings: Iterable[Finding] = ()) -> dict[str, Any]:
        """The summary's ``metrics`` block: ``queries`` holds each query's headline series,
        ``series`` every series."""
        found = list(findings)
        return {"source": self.status(), "configured": self.configured,
                "window": {"start": self.start, "end": self.end},
                "step": self.step, "bucket": self.bucket,
                "queries": self.peak_records(found, headline_only=True),
                "series": self.peak_records(found)}

    def banner(self) -> str:
        """The degraded-report banner naming Prometheus and why it failed ('' when it did not)."""
        if not self.degraded:
            return ""
        return (f"<div class='wb-degraded'><b>DEGRADED REPORT.</b> Source <b>prometheus</b> "
                f"({_html.escape(str(self.host or ENV_URL))}) failed: "
                f"{_html.escape(str(self.reason))}. The metrics section is incomplete; do not "
                "read a missing spike as an all-clear.</div>")

    def html(self, findings: Iterable[Finding] = ()) -> str:
        """The section's text: one line when not configured, the failure when degraded, else a
        table of each query's headline peak beside the trace findings of that hour."""
        if not self.configured:
            return (f"<p>Prometheus is not configured: set <code>{ENV_URL}</code> to add the "
                    "runbooks' key series for this window.</p>")
        parts = [self.banner()] if self.degraded else []
        records = self.peak_records(findings, headline_only=True)
        if not records:
            if not self.degraded:
                parts.append("<p>Prometheus answered, but no runbook series has data in this "
                             "window.</p>")
            return "\n".join(parts)
        parts.append(f"<p>Runbook PromQL from {_html.escape(str(self.host))}, step {self.step}, "
                     f"averaged per {self.bucket}: each query's series with the largest peak "
                     "over its window median.</p>")
        view = pd.DataFrame({
            "query": [f"{r['runbook']} · {r['query']}" for r in records],
            "series": [r["series"] for r in records],
            "peak hour (UTC)": [f"{r['peak_start']:%Y-%m-%d %H:%M}" for r in records],
            "peak": [_fmt(r["peak_value"]) for r in records],
            "window median": [_fmt(r["median"]) for r in records],
            "ratio": [_fmt(r["ratio"]) for r in records],
            "trace findings that hour": [", ".join(r["trace_findings"]) for r in records],
        })
        parts.append(view.to_html(escape=True, index=False, classes="wb-table", border=0,
                                  na_rep="–"))
        return "\n".join(parts)

    def figure(self) -> go.Figure | None:
        """The hourly series, one panel per query; None when there is nothing to draw."""
        if not self.has_data:
            return None
        assert self.hourly is not None
        return plot_metrics_overview(self.hourly, title=f"Metrics (Prometheus), hourly means "
                                                        f"of {self.step} samples")


def metrics_section(runbooks: Any, start: Any, end: Any, source: Any = None, *,
                    step: Any = DEFAULT_STEP, bucket: str = "1h") -> MetricsSection:
    """The report section over ``[start, end)``; failures are recorded, never raised.

    ``source``: None reads ``$PROMETHEUS_URL`` (unset: not configured); False turns the section
    off; otherwise a :class:`~workbench.sources.prometheus.PrometheusSource` (left open).
    """
    lo, hi = to_utc(start), to_utc(end)
    if source is False or (source is None and not os.environ.get(ENV_URL)):
        return MetricsSection(start=lo, end=hi, step=str(step), bucket=bucket)
    section = MetricsSection(configured=True, start=lo, end=hi, step=str(step), bucket=bucket)
    owned = source is None
    if owned:
        from workbench.sources.prometheus import PrometheusSource

        try:
            source = PrometheusSource()
        except ConfigError as exc:
            section.problems.append(f"ConfigError: {exc}")
            return section
    section.host = getattr(source, "host", None)
    try:
        frame = metrics_overview(source, runbooks, lo, hi, step=step)
    except (SourceError, SchemaError, ConfigError) as exc:
        section.problems.append(f"{type(exc).__name__}: {exc}")
        return section
    finally:
        if owned:
            source.close()
    if reason := incomplete_reason(frame):
        section.problems.append(f"incomplete: {reason}")
    section.frame = frame
    section.hourly = hourly_means(frame, lo, hi, freq=bucket)
    section.peaks = metric_peaks(section.hourly)
    return section
