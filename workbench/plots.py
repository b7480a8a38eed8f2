"""Plotly figures for the daily report, and :func:`show` that displays them in a notebook.

Figures mark the days a check or detector flagged, so an incident day stands out at a glance.
:func:`show` emits plotly's own mime type only (interactive in JupyterLab): the executed notebook
holds each figure's data and no copy of plotly.js; the rendered report puts plotly.js in once
(:func:`plotlyjs_html`) and draws each figure with :func:`to_html`, so it opens offline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from workbench.findings import Finding

__all__ = ["DAILY_PANELS", "daily_kpi_figure", "flagged_days", "hourly_figure", "plotlyjs_html",
           "show", "to_html"]

#: KPI column -> panel title, in display order.
DAILY_PANELS: Mapping[str, str] = {
    "traces": "Traces",
    "cost_usd": "Cost (USD)",
    "cost_per_trace_usd": "Cost per trace (USD)",
    "timeout_rate": "Timeout rate",
    "error_rate": "Error rate",
    "latency_p95_s": "p95 latency (s)",
    "hallucination_rate": "Hallucination rate",
    "total_tokens": "Tokens",
}
_RATES = {"timeout_rate", "error_rate", "hallucination_rate"}
_NORMAL, _FLAGGED, _SHADE = "#8da0cb", "#d62728", "rgba(214, 39, 40, 0.10)"


def flagged_days(findings: Iterable[Finding]) -> dict[pd.Timestamp, list[str]]:
    """UTC day -> signals that fired on it (insufficient-data findings left out)."""
    out: dict[pd.Timestamp, list[str]] = {}
    for f in findings:
        if f.status != "firing":
            continue
        day = pd.Timestamp(f.start).tz_convert("UTC").floor("D")
        last = pd.Timestamp(f.end).tz_convert("UTC") - pd.Timedelta(microseconds=1)
        while day <= last:
            out.setdefault(day, []).append(f.signal)
            day += pd.Timedelta(days=1)
    return out


def daily_kpi_figure(kpis: pd.DataFrame, findings: Iterable[Finding] = ()) -> go.Figure:
    """One bar panel per KPI; a bar is red where that KPI's daily check (or a detector) fired."""
    flagged = flagged_days(findings)
    panels = [c for c in DAILY_PANELS if c in kpis.columns]
    cols = 2
    rows = (len(panels) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[DAILY_PANELS[c] for c in panels],
                        vertical_spacing=0.08, horizontal_spacing=0.08)
    days = [d.strftime("%a %d %b") for d in kpis.index]
    for i, col in enumerate(panels):
        colors = [_FLAGGED if any(s == f"daily_{col}" for s in flagged.get(d, [])) else _NORMAL
                  for d in kpis.index]
        fig.add_trace(go.Bar(x=days, y=kpis[col], marker_color=colors, name=DAILY_PANELS[col],
                             showlegend=False,
                             hovertemplate="%{x}: %{y:" + (".2%" if col in _RATES else ",.4g")
                             + "}<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
        if col in _RATES:
            fig.update_yaxes(tickformat=".1%", row=i // cols + 1, col=i % cols + 1)
    fig.update_layout(height=260 * rows, margin={"t": 40, "b": 20, "l": 40, "r": 20},
                      title_text="Daily KPIs (red: the day's check fired)")
    return fig


def hourly_figure(units: pd.DataFrame, findings: Iterable[Finding] = ()) -> go.Figure:
    """Hourly cost, p95 latency and hallucination rate of the per-trace signals (the numbers
    the detectors judge) over the window; flagged days shaded."""
    g = units.groupby(units["time"].dt.floor("h"))
    cost = g["cost"].sum()
    p95 = g["duration"].quantile(0.95)
    h = g["hallucinated"].mean()
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=["Cost per hour (USD)", "p95 latency per hour (s)",
                                        "Hallucination rate per hour (scored traces)"])
    for row, series, name in ((1, cost, "cost"), (2, p95, "p95 latency"),
                              (3, h, "hallucination rate")):
        fig.add_trace(go.Scatter(x=series.index, y=series.to_numpy(), mode="lines", name=name,
                                 showlegend=False, line={"width": 1.5}), row=row, col=1)
    fig.update_yaxes(tickformat=".0%", row=3, col=1)
    for day in flagged_days(findings):
        fig.add_vrect(x0=day, x1=day + pd.Timedelta(days=1), fillcolor=_SHADE, line_width=0,
                      layer="below")
    fig.update_layout(height=650, margin={"t": 50, "b": 20, "l": 40, "r": 20},
                      title_text="The window hour by hour (shaded: flagged days)")
    return fig


def to_html(fig: go.Figure | Mapping[str, Any], *, include_plotlyjs: bool = False) -> str:
    """A ``<div>`` drawing ``fig`` (a figure or its plotly JSON) with the page's plotly.js;
    plotly.js inline only when asked, never fetched from a CDN."""
    return pio.to_html(fig, include_plotlyjs=include_plotlyjs, full_html=False, validate=False,
                       config={"displaylogo": False, "responsive": True})


def plotlyjs_html() -> str:
    """plotly.js as one inline ``<script>``: what a rendered file carries, once, in its head."""
    from plotly.offline import get_plotlyjs

    return ("<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n<script>"
            + get_plotlyjs() + "</script>")


def show(fig: go.Figure) -> None:
    """Display ``fig`` in a notebook as plotly's own mime type only: JupyterLab draws it with its
    plotly extension; a rendered report draws it with the one plotly.js in its head (see
    :mod:`workbench.reports.render`). The notebook holds the figure's data, never the library."""
    from IPython.display import display

    title = fig.layout.title.text or ""
    display({"application/vnd.plotly.v1+json": json.loads(pio.to_json(fig, validate=False)),
             "text/plain": f"<figure: {title}>"}, raw=True)
