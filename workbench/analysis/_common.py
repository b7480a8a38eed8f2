"""Plumbing every detector shares: the window, units, coverage notes, runs -> findings."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.analysis.attribution import attribute, tool_sets
from workbench.analysis.series import ALL, Window, runs, worst
from workbench.errors import SchemaError
from workbench.findings import Finding, Suspect
from workbench.runbooks import Runbook, parse_duration
from workbench.sources import to_utc

# Trace columns carried on every unit so attribution can split by them.
DIMENSION_COLUMNS = ("agent", "model", "prompt_name", "prompt_version", "release", "user_id",
                     "session_id", "environment")
# Unit columns held as categoricals: every time slice and attribution of the units then moves
# integer codes, not a string per row.
CATEGORY_COLUMNS = DIMENSION_COLUMNS + ("name", "status")


@dataclass
class Context:
    """What one detector run knows: runbook, window, units and a note on baseline coverage."""

    runbook: Runbook
    window: Window
    units: pd.DataFrame
    note: str = ""
    min_z: float = 4.0
    scan: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def min_volume(self) -> int:
        return self.runbook.min_volume

    @property
    def statistic(self) -> str:
        return self.runbook.spec["baseline"]["statistic"]


def make_window(runbook: Runbook, start: Any, end: Any) -> Window:
    s, e = to_utc(start), to_utc(end)
    if not e > s:
        raise ValueError(f"window end {e} is not after start {s}")
    return Window(start=s, end=e, bucket=runbook.bucket, trailing=runbook.baseline_window)


def trace_units(traces: pd.DataFrame, observations: pd.DataFrame | None,
                window: Window) -> pd.DataFrame:
    """Traces in ``[base_start, end)`` as units: ``time``, ``group`` (agent), dimensions, tools."""
    need = {"trace_id", "start_time", "agent"}
    missing = need - set(traces.columns)
    if missing:
        raise SchemaError(f"traces frame lacks column(s) {sorted(missing)}")
    t = traces[(traces["start_time"] >= window.base_start) & (traces["start_time"] < window.end)]
    units = t.copy()
    units["time"] = units["start_time"]
    units["group"] = units["agent"].astype(str)
    if "prompt_version" in units.columns:
        units["prompt_version"] = units["prompt_version"].astype("string")
    for col in CATEGORY_COLUMNS:
        if col in units.columns and isinstance(units[col].dtype, pd.StringDtype):
            units[col] = units[col].astype("category")
    if observations is not None and len(observations) and "tool_name" in observations.columns:
        # by time, not by trace id: a range test is far cheaper than a string isin, and spans
        # run for at most a request's budget past their trace's start
        st = observations["start_time"]
        keep = (observations["tool_name"].notna() & (st >= window.base_start)
                & (st < window.end + pd.Timedelta(hours=1))).to_numpy()
        obs = observations[["trace_id", "tool_name"]][keep]
        tools = tool_sets(obs)
        lookup = dict(zip(tools.index.tolist(), tools.tolist()))
        units["tool_name"] = pd.Series([lookup.get(t, ()) for t in
                                        units["trace_id"].astype(str).tolist()],
                                       index=units.index, dtype=object)
    return units.reset_index(drop=True)


def coverage_note(units: pd.DataFrame, window: Window) -> str:
    """Say how much of the trailing baseline the data covers, when it is not all of it."""
    base = units[units["time"] < window.start]
    if base.empty:
        return "no data before the window: there is no baseline to judge against"
    first = base["time"].min()
    covered = window.start - max(first.floor(window.bucket), window.base_start)
    if covered < window.trailing - window.bucket:
        hours = covered / pd.Timedelta(hours=1)
        want = window.trailing / pd.Timedelta(hours=1)
        return (f"baseline covers only {hours:.0f} h of the {want:.0f} h trailing window; "
                "judged with what there is")
    return ""


def volume_verdict(ctx: Context, volume: pd.DataFrame, what: str) -> Finding | None:
    """One ``insufficient_data`` finding when fewer than half the window's buckets can be judged.

    ``volume`` is the ALL-group stats of the window (``bucket``, ``n``). A window with judged
    buckets but no baseline is insufficient too: a verdict needs something to compare with.
    """
    w = ctx.window
    buckets = w.buckets()
    cur = volume[(volume["bucket"] >= w.start) & (volume["bucket"] < w.end)]
    n_ok = int((cur["n"] >= ctx.min_volume).sum())
    base_ok = int(((volume["bucket"] < w.start) & (volume["n"] >= ctx.min_volume)).sum())
    total = int(cur["n"].sum())
    if n_ok * 2 >= len(buckets) and base_ok > 0:
        return None
    if base_ok == 0:
        why = f"no baseline bucket with at least {ctx.min_volume} {what}"
    else:
        why = (f"only {n_ok} of {len(buckets)} buckets have at least {ctx.min_volume} {what}")
    summary = f"{ctx.runbook.title}: insufficient data to judge ({why}; {total} {what} in window)"
    if ctx.note:
        summary += f"; {ctx.note}"
    return Finding(runbook=ctx.runbook.name, signal="data_volume", severity="info",
                   start=w.start, end=w.end, observed=float(total),
                   baseline=float(ctx.min_volume), summary=summary,
                   status="insufficient_data", unit=what)


def attribute_run(ctx: Context, metric: str, start: pd.Timestamp, end: pd.Timestamp,
                  units: pd.DataFrame | None = None, kind: str = "mean") -> list[Suspect]:
    """Suspects for ``metric`` in ``[start, end)`` against the baseline period, all traffic."""
    u = ctx.units if units is None else units
    # only the columns attribution reads: every other column would be copied by each slice
    cols = [c for c in dict.fromkeys([metric, *ctx.runbook.dimensions]) if c in u.columns]
    t = u["time"]
    cur = u.loc[((t >= start) & (t < end)).to_numpy(), cols]
    base = u.loc[(t < ctx.window.start).to_numpy(), cols]
    share = ctx.runbook.spec["attribution"].get("min_share", 0.8)
    return attribute(cur, base, metric, ctx.runbook.dimensions, kind=kind, min_share=share)


def parse_width(text: str) -> pd.Timedelta:
    return parse_duration(text)


def overlaps(a_start, a_end, b_start, b_end) -> bool:
    return a_start < b_end and b_start < a_end


Builder = Callable[[pd.DataFrame, pd.Series, pd.Timestamp, pd.Timestamp, dict[str, str]],
                   Finding]


def findings_from_runs(judged: pd.DataFrame, width: pd.Timedelta, build: Builder
                       ) -> list[Finding]:
    """One finding per run of adjacent firing buckets; an all-traffic run that overlaps a run of
    one agent is dropped (the agent's finding is the more specific one of the same incident)."""
    found = []
    for run in runs(judged, width):
        group = run["group"].iloc[0]
        start = run["bucket"].min()
        end = run["bucket"].max() + width
        found.append((group, start, end, run))
    agent_runs = [(s, e) for g, s, e, _ in found if g != ALL]
    out = []
    for group, start, end, run in found:
        if group == ALL and any(overlaps(start, end, s, e) for s, e in agent_runs):
            continue
        labels = {} if group == ALL else {"agent": group}
        out.append(build(run, worst(run), start, end, labels))
    return out


def top_trace_ids(units: pd.DataFrame, start, end, by: str, labels: Mapping[str, str],
                  n: int = 20, mask: pd.Series | None = None) -> list[str]:
    """The ``n`` worst traces by ``by`` in ``[start, end)`` (within the labelled agent)."""
    sel = (units["time"] >= start) & (units["time"] < end)
    if "agent" in labels:
        sel &= units["group"] == labels["agent"]
    if mask is not None:
        sel &= mask
    top = units.loc[sel, [by, "trace_id"]].sort_values(by, ascending=False).head(n)
    return top["trace_id"].astype(str).tolist()


def evidence_series(judged: pd.DataFrame, labels: Mapping[str, str], window: Window,
                    observed: str = "mean") -> pd.DataFrame:
    """The judged window's series for the finding's group: bucket, volume, value, baseline."""
    group = labels.get("agent", ALL)
    g = judged[judged["group"] == group]
    cols = ["bucket", "n", observed, "baseline", "score", "z", "severity"]
    out = g[cols].rename(columns={observed: "observed"}).reset_index(drop=True)
    return out


def fmt_ratio(x: float) -> str:
    return "inf" if not np.isfinite(x) else f"{x:.2f}x"


def suspects_text(suspects: Sequence[Suspect], k: int = 2) -> str:
    if not suspects:
        return ""
    parts = [f"{s.dimension}={s.value} ({s.contribution:.0%})" for s in suspects[:k]]
    return "; suspects: " + ", ".join(parts)
