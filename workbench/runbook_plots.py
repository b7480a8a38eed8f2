"""Plotly figures of the runbook notebooks and the trace explorer.

Signals per hour against their baseline band, ranked suspects, a trace's span waterfall, and a
latency/cost scatter. Display them with :func:`workbench.plots.show` (plotly.js inline once).
Names and messages come from trace data, which is untrusted: every label and hover text is
HTML-escaped before plotly (which renders a subset of HTML in text) sees it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["latency_cost_scatter", "signals_figure", "span_tree", "suspect_labels",
           "suspects_figure", "waterfall_figure"]

_SHADE = "rgba(214, 39, 40, 0.10)"
_TYPE_COLORS = {"agent": "#4c72b0", "generation": "#55a868", "tool": "#dd8452",
                "retriever": "#8172b3", "span": "#937860", "event": "#da8bc3"}
_ERROR = "#d62728"
_STATUS_COLORS = {"ok": "#4c72b0", "error": "#ff7f0e", "timeout": "#d62728"}


def _esc(values: Iterable[object]) -> list[str]:
    return [html.escape("" if pd.isna(v) else str(v)) for v in values]


def signals_figure(series: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, *,
                   title: str = "Signals against baseline") -> go.Figure:
    """One panel per signal: hourly values, the pooled baseline (dashed) and the baseline's
    10th-90th percentile band; the investigated window shaded."""
    names = list(dict.fromkeys(series["signal"].astype(str)))
    if not names:
        return go.Figure(layout={"title": {"text": f"{title}: no signal to show"}})
    fig = make_subplots(rows=len(names), cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        subplot_titles=[f"{n} ({series.loc[series['signal'] == n, 'unit'].iloc[0]})"
                                        for n in names])
    for row, name in enumerate(names, start=1):
        s = series[series["signal"] == name]
        x = list(s["bucket"])
        if s["band_hi"].notna().any():
            fig.add_trace(go.Scatter(x=x + x[::-1], y=list(s["band_hi"]) + list(s["band_lo"])[::-1],
                                     fill="toself", fillcolor="rgba(100,100,100,0.12)",
                                     line={"width": 0}, hoverinfo="skip", showlegend=row == 1,
                                     name="baseline p10-p90"), row=row, col=1)
        fig.add_trace(go.Scatter(x=x, y=s["baseline"], mode="lines", name="baseline",
                                 line={"dash": "dash", "color": "#555"}, showlegend=row == 1),
                      row=row, col=1)
        fig.add_trace(go.Scatter(x=x, y=s["value"], mode="lines+markers", name="observed",
                                 line={"color": "#4c72b0"}, showlegend=row == 1),
                      row=row, col=1)
    fig.add_vrect(x0=start, x1=end, fillcolor=_SHADE, line_width=0, layer="below")
    fig.update_layout(height=max(300, 200 * len(names)), title_text=title,
                      margin={"t": 60, "b": 20, "l": 50, "r": 20})
    return fig


def suspect_labels(table: pd.DataFrame) -> list[str]:
    """Each row's whole suspect (``tool_name=x in agent=y``): its ``suspect`` column, else its
    dimension, value and ``within``. A value within an agent and the value alone are two
    suspects; labelled alike, plotly drew them as one bar of both shares (195 %)."""
    if "suspect" in table:
        return [str(x) for x in table["suspect"]]
    within = table["within"] if "within" in table else [""] * len(table)
    return [f"{d}={v}" + (f" in {w}" if isinstance(w, str) and w else "")
            for d, v, w in zip(table.get("dimension", []), table.get("value", []), within)]


def suspects_figure(table: pd.DataFrame, *, title: str = "Suspects") -> go.Figure:
    """Horizontal bars of each suspect's share of the excess (0-100 %), the top suspect on top;
    one bar per row, labelled with its whole suspect."""
    labels = _esc(suspect_labels(table))
    # the same label twice (two rows alike) would draw one bar of both: the first row stands
    keep = [i for i, x in enumerate(labels) if x not in labels[:i]]
    labels = [labels[i] for i in keep]
    shares = pd.Series(list(table.get("contribution", [])), dtype="float64")
    shares = shares.iloc[keep].clip(0.0, 1.0).tolist() if len(shares) else []
    fig = go.Figure(go.Bar(x=shares, y=labels, orientation="h",
                           marker_color="#d62728",
                           hovertemplate="%{y}: %{x:.0%} of the excess<extra></extra>"))
    fig.update_layout(title_text=title if labels else f"{title}: nothing to attribute",
                      height=120 + 28 * max(len(labels), 1),
                      yaxis={"autorange": "reversed", "type": "category"},
                      xaxis={"tickformat": ".0%", "range": [0, 1]},
                      margin={"t": 50, "b": 30, "l": 220, "r": 20})
    return fig


def span_tree(spans: pd.DataFrame) -> pd.DataFrame:
    """``spans`` in depth-first order (children by start time) with ``depth`` and ``offset_s``
    from the trace's start. Orphans (parent not in the frame) are treated as roots."""
    s = spans.sort_values(["start_time", "observation_id"]).reset_index(drop=True)
    ids = set(s["observation_id"].astype(str))
    children: dict[str | None, list[int]] = {}
    for i, parent in enumerate(s["parent_observation_id"].tolist()):
        key = str(parent) if not pd.isna(parent) and str(parent) in ids else None
        children.setdefault(key, []).append(i)
    order: list[tuple[int, int]] = []
    stack = [(i, 0) for i in reversed(children.get(None, []))]
    seen: set[int] = set()
    while stack:
        i, depth = stack.pop()
        if i in seen:  # a cycle in bad data: draw each span once
            continue
        seen.add(i)
        order.append((i, depth))
        oid = str(s.at[i, "observation_id"])
        stack += [(c, depth + 1) for c in reversed(children.get(oid, []))]
    order += [(i, 0) for i in range(len(s)) if i not in seen]
    out = s.iloc[[i for i, _ in order]].copy()
    out["depth"] = [d for _, d in order]
    t0 = s["start_time"].min()
    out["offset_s"] = (out["start_time"] - t0).dt.total_seconds()
    return out.reset_index(drop=True)


def waterfall_figure(spans: pd.DataFrame, *, title: str = "Trace") -> go.Figure:
    """A Gantt of one trace's observations: one bar per span, indented by depth, coloured by
    type; spans at level ERROR in red with their status message in the hover."""
    tree = span_tree(spans)
    names = _esc(tree["name"])
    ticks = ["\u2003" * d + n for d, n in zip(tree["depth"], names)]
    colors = [_ERROR if lvl == "ERROR" else _TYPE_COLORS.get(str(t), "#999")
              for lvl, t in zip(tree["level"].astype(str), tree["type"].astype(str))]
    hover = [f"<b>{n}</b> ({html.escape(str(t))})<br>start +{o:.3f} s, {d:.3f} s"
             + (f"<br>{html.escape(str(m))}" if not pd.isna(m) else "")
             for n, t, o, d, m in zip(names, tree["type"], tree["offset_s"], tree["duration_s"],
                                      tree["status_message"])]
    fig = go.Figure(go.Bar(x=tree["duration_s"].astype("float64"), base=tree["offset_s"],
                           y=list(range(len(tree))), orientation="h", marker_color=colors,
                           hovertext=hover, hoverinfo="text"))
    fig.update_layout(title_text=html.escape(title), height=120 + 24 * len(tree),
                      xaxis_title="seconds from trace start", bargap=0.25,
                      yaxis={"tickvals": list(range(len(tree))), "ticktext": ticks,
                             "autorange": "reversed"},
                      margin={"t": 50, "b": 40, "l": 260, "r": 20})
    return fig


def latency_cost_scatter(traces: pd.DataFrame, *, title: str = "Latency against cost"
                         ) -> go.Figure:
    """Each trace as a point (duration, cost), coloured by status; the trace id in the hover."""
    fig = go.Figure()
    for status, g in traces.groupby(traces["status"].astype(str), sort=True):
        fig.add_trace(go.Scattergl(
            x=g["duration_s"], y=g["cost_usd"], mode="markers", name=html.escape(status),
            marker={"color": _STATUS_COLORS.get(status, "#999"), "size": 6, "opacity": 0.7},
            customdata=_esc(g["trace_id"]), text=_esc(g["agent"]),
            hovertemplate="%{customdata}<br>%{text}<br>%{x:.2f} s, $%{y:.4f}<extra></extra>"))
    fig.update_layout(title_text=title, xaxis_title="duration (s)", yaxis_title="cost (USD)",
                      height=420, margin={"t": 50, "b": 40, "l": 60, "r": 20})
    return fig
