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


def _grid(rows: int, cols: int, titles: list[str], h_space: float, v_space: float,
          shared_x: bool = False) -> dict[str, Any]:
    """The layout of a ``rows`` x ``cols`` grid of x/y subplots, titled, as
    ``plotly.subplots.make_subplots`` lays it out (same domains, anchors and title
    annotations), without building and validating plotly objects: a fresh report kernel would
    spend a tenth of a second on that."""
    widths = [(1.0 - h_space * (cols - 1)) / cols] * cols
    heights = [(1.0 - v_space * (rows - 1)) / rows] * rows
    layout: dict[str, Any] = {}
    annotations = []
    for r in range(rows):
        below = rows - 1 - r  # the first row is on top
        for c in range(cols):
            n = r * cols + c + 1
            x0 = sum(widths[:c]) + c * h_space
            y0 = sum(heights[:below]) + below * v_space
            x = [max(0.0, x0 + 0.0), min(1.0, x0 + widths[c] - 0.0)]
            y = [y0 + 0.0, y0 + heights[-1 - r] - 0.0]
            y = [0.0 if -0.01 < v < 0.0 else 1.0 if 1.0 < v < 1.01 else v for v in y]
            y = [max(0.0, y[0]), min(1.0, y[1])]
            suffix = "" if n == 1 else str(n)
            layout[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": x}
            layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "domain": y}
            if n <= len(titles) and titles[n - 1]:
                annotations.append({"font": {"size": 16}, "showarrow": False,
                                    "text": titles[n - 1], "x": sum(x) / 2.0,
                                    "xanchor": "center", "xref": "paper", "y": y[1],
                                    "yanchor": "bottom", "yref": "paper"})
    if shared_x and cols == 1:  # every x axis follows the bottom one, which alone has labels
        for r in range(1, rows):
            axis = layout["xaxis" + ("" if r == 1 else str(r))]
            axis.update(matches=f"x{rows}", showticklabels=False)
    layout["annotations"] = annotations
    return layout


def _figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> go.Figure:
    """A figure of trace and layout dicts built here from known-good values, so not validated
    property by property."""
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def daily_kpi_figure(kpis: pd.DataFrame, findings: Iterable[Finding] = ()) -> go.Figure:
    """One bar panel per KPI; a bar is red where that KPI's daily check (or a detector) fired."""
    flagged = flagged_days(findings)
    panels = [c for c in DAILY_PANELS if c in kpis.columns]
    cols = 2
    rows = (len(panels) + cols - 1) // cols
    layout = _grid(rows, cols, [DAILY_PANELS[c] for c in panels], 0.08, 0.08)
    days = [d.strftime("%a %d %b") for d in kpis.index]
    data = []
    for i, col in enumerate(panels):
        colors = [_FLAGGED if any(s == f"daily_{col}" for s in flagged.get(d, [])) else _NORMAL
                  for d in kpis.index]
        n = "" if i == 0 else str(i + 1)
        data.append({"hovertemplate": "%{x}: %{y:" + (".2%" if col in _RATES else ",.4g")
                     + "}<extra></extra>", "marker": {"color": colors},
                     "name": DAILY_PANELS[col], "showlegend": False, "x": days,
                     "y": kpis[col].to_numpy(), "type": "bar", "xaxis": f"x{n}",
                     "yaxis": f"y{n}"})
        if col in _RATES:
            layout[f"yaxis{n}"]["tickformat"] = ".1%"
    layout.update(margin={"t": 40, "b": 20, "l": 40, "r": 20},
                  title={"text": "Daily KPIs (red: the day's check fired)"}, height=260 * rows)
    return _figure(data, layout)


def hourly_figure(units: pd.DataFrame, findings: Iterable[Finding] = ()) -> go.Figure:
    """Hourly cost, p95 latency and hallucination rate of the per-trace signals (the numbers
    the detectors judge) over the window; flagged days shaded."""
    g = units.groupby(units["time"].dt.floor("h"))
    cost = g["cost"].sum()
    p95 = g["duration"].quantile(0.95)
    h = g["hallucinated"].mean()
    layout = _grid(3, 1, ["Cost per hour (USD)", "p95 latency per hour (s)",
                          "Hallucination rate per hour (scored traces)"], 0.2, 0.06,
                   shared_x=True)
    data = []
    for row, series, name in ((1, cost, "cost"), (2, p95, "p95 latency"),
                              (3, h, "hallucination rate")):
        n = "" if row == 1 else str(row)
        data.append({"line": {"width": 1.5}, "mode": "lines", "name": name,
                     "showlegend": False, "x": series.index.to_numpy(dtype=object),
                     "y": series.to_numpy(), "type": "scatter", "xaxis": f"x{n}",
                     "yaxis": f"y{n}"})
    layout["yaxis3"]["tickformat"] = ".0%"
    shades = [{"fillcolor": _SHADE, "layer": "below", "line": {"width": 0}, "type": "rect",
               "x0": day, "x1": day + pd.Timedelta(days=1), "xref": f"x{n}", "y0": 0, "y1": 1,
               "yref": f"y{n} domain"}
              for day in flagged_days(findings) for n in ("", "2", "3")]  # every panel
    if shades:
        layout["shapes"] = shades
    layout.update(margin={"t": 50, "b": 20, "l": 40, "r": 20},
                  title={"text": "The window hour by hour (shaded: flagged days)"}, height=650)
    return _figure(data, layout)


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
