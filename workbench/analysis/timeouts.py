"""Timeout surge extras: SLO burn per agent, slow tools, and what a timeout finding shows.

Timeouts, near-timeouts and the p95 latency are judged by the generic scan (:mod:`.judge`),
each trace against its own agent's budget (:func:`workbench.analysis.signals.agent_budgets`:
the runbook's default, ``budget.per_agent``, or a budget derived for an agent that routinely runs
past the default). The runbook's own parts:

- :func:`burn_findings`: the SLO (``slo.objective`` of requests within budget) per agent, with
  multi-window, multi-burn-rate rules: a rule fires when the error budget burns at least
  ``burn_rate`` times too fast over both its long and its short window, and the long window
  holds enough traces and timeouts to mean it: at least 20 traces and 3 timeouts, and more
  timeouts than an agent meeting its SLO would show by chance (binomial tail against the
  allowed share at ``evaluation.alpha``; two timeouts among thirty requests at 4 a.m. are not a
  burn). An agent whose normal traffic already misses the objective would burn every day: it
  gets no burn-rate alerts (the report says so) and is judged against its own baseline.
- :func:`tool_latency`: each tool's calls against the tool's own baseline p95, per tool.
- :func:`evidence`: the latency profile and the slowest spans of a finding's window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.analysis.judge import ALL, Interval, Judge
from workbench.analysis.split import text_array
from workbench.analysis.stats import p_upper
from workbench.findings import SEVERITIES, Finding
from workbench.runbooks import parse_duration

if TYPE_CHECKING:
    from workbench.analysis.detect import Context

__all__ = ["burn_findings", "burn_rates", "evidence", "latency_profile", "slowest",
           "tool_latency"]

# an SLO burn needs at least this many traces in its long window, and this many timeouts
_BURN_MIN_TRACES = 20
_BURN_MIN_BAD = 3


def latency_profile(ctx: Context, group: str = ALL) -> pd.DataFrame:
    """Per bucket of the window: traces, p50/p95/p99 duration, timeout and near shares."""
    j = ctx.judge
    u = ctx.units[["time", "duration", "timeout", "near_timeout"]][
        ctx.window_mask(j.start, j.end, group)]
    b = u["time"].dt.floor(j.bucket).rename("bucket")
    g = u.groupby(b)["duration"]
    prof = pd.DataFrame({"traces": g.size(), "p50_s": g.quantile(0.50),
                         "p95_s": g.quantile(0.95), "p99_s": g.quantile(0.99)})
    prof["timeout_share"] = u.groupby(b)["timeout"].mean()
    prof["near_timeout_share"] = u.groupby(b)["near_timeout"].mean()
    return prof.reset_index()


def slowest(ctx: Context, start: pd.Timestamp, end: pd.Timestamp, n: int = 10) -> pd.DataFrame:
    """Tools and span names ranked by their p95 duration in ``[start, end)`` against their
    baseline p95."""
    obs = ctx.observations
    if obs is None or obs.empty:
        return pd.DataFrame(columns=["kind", "name", "calls", "p50_s", "p95_s",
                                     "baseline_p95_s", "ratio"])
    j = ctx.judge
    spans = _child_spans(ctx)
    st = spans["start_ns"]
    cur_rows = (st >= start.value) & (st < end.value)
    base_rows = (st >= j.baseline_start.value) & (st < j.baseline_end.value) & ~cur_rows

    if (cur_rows | base_rows).any():
        frame = spans["frame"]
    else:  # nothing to show: the table's types as the rows would give them
        none = np.zeros(len(st), dtype=bool)
        frame = pd.DataFrame({"kind": spans["kind"][none], "name": spans["name"][none],
                              "dur": spans["dur"][none]})
        cur_rows = base_rows = none
    cur = frame[cur_rows].groupby(["kind", "name"])["dur"]
    cur = pd.DataFrame({"calls": cur.size(), "p50_s": cur.agg(_quantile(0.5)),
                        "p95_s": cur.agg(_quantile(0.95))})
    # the baseline's p95 per span is the same for every window after the baseline days
    overlaps = start < j.baseline_end and j.baseline_start < end
    base = spans.get("baseline_p95") if not overlaps else None
    if base is None:
        base = frame[base_rows].groupby(["kind", "name"])["dur"].quantile(0.95)
        if not overlaps:
            spans["baseline_p95"] = base
    out = cur.join(base.rename("baseline_p95_s"))
    out["ratio"] = out["p95_s"] / out["baseline_p95_s"]
    return out.sort_values(["ratio", "p95_s"], ascending=False).head(n).reset_index()


def _quantile(q: float):
    """``Series.quantile(q)`` of each group's values (linear, missing values left out), on
    numpy: the same numbers without building a frame per group."""
    qs = np.asarray([q], dtype="float64")

    def of(s: pd.Series) -> float:
        v = s.to_numpy(dtype="float64")
        v = v[~np.isnan(v)]
        return float(np.quantile(v, qs, method="linear")[0]) if len(v) else float("nan")

    return of


def _child_spans(ctx: Context) -> dict:
    """The observations below a trace's root, as arrays, once per observations frame: start
    time (ns), kind (``tool`` or the observation type), name (the tool's or the span's),
    duration. The context's own copy of the dict also keeps its baseline's p95 per span."""
    spans = ctx._spans
    if "start_ns" not in spans:
        spans.update(ctx.derived("child_spans", lambda: _spans_of(ctx.observations)))
    return spans


def _spans_of(obs: pd.DataFrame) -> dict:
    # the five columns read, not the whole observations frame, are filtered
    o = obs[["start_time", "tool_name", "type", "name", "duration_s"]][
        obs["parent_observation_id"].notna().to_numpy()]
    is_tool = o["tool_name"].notna().to_numpy()
    spans: dict = {}
    spans["start_ns"] = o["start_time"].to_numpy(dtype="datetime64[ns]").astype("int64")
    spans["kind"] = np.where(is_tool, "tool", o["type"].astype(str).to_numpy())
    spans["name"] = np.where(is_tool, o["tool_name"].astype(str).to_numpy(dtype=object),
                             o["name"].astype(str).to_numpy(dtype=object))
    spans["dur"] = o["duration_s"].to_numpy()
    spans["frame"] = pd.DataFrame({"kind": spans["kind"], "name": spans["name"],
                                   "dur": spans["dur"]})
    return spans


def evidence(ctx: Context, signal: str, iv: Interval) -> dict[str, pd.DataFrame]:
    return {"latency": latency_profile(ctx, iv.group),
            "slowest": slowest(ctx, iv.start, iv.end)}


def burn_rates(units: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, objective: float,
               rules: list[dict], step: pd.Timedelta) -> pd.DataFrame:
    """Burn rate of each rule's long and short window at every ``step`` of ``[start, end)``,
    with the long window's traces and timeouts: ``at``, ``burn_<w>``, ``n_<w>``, ``bad_<w>``.

    burn rate = share of traces out of budget over the window / (1 - objective).
    """
    budget = 1.0 - objective
    longest = max(parse_duration(r["long"]) for r in rules)
    origin = start - longest
    u = units[(units["time"] >= origin) & (units["time"] < end)]
    grid = pd.date_range(origin, end, freq=step, inclusive="left")
    idx = ((u["time"] - origin) // step).to_numpy().astype("int64")
    bad = np.bincount(idx, weights=u["timeout"].to_numpy(), minlength=len(grid))
    tot = np.bincount(idx, minlength=len(grid)).astype("float64")
    cbad, ctot = np.concatenate([[0], np.cumsum(bad)]), np.concatenate([[0], np.cumsum(tot)])
    ends = np.arange(1, len(grid) + 1)
    out = pd.DataFrame({"at": grid + step})
    for w in sorted({r["long"] for r in rules} | {r["short"] for r in rules}):
        k = int(parse_duration(w) / step)
        lo = np.maximum(ends - k, 0)
        n = ctot[ends] - ctot[lo]
        b = cbad[ends] - cbad[lo]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"burn_{w}"] = np.where(n > 0, b / n / budget, 0.0)
        out[f"n_{w}"], out[f"bad_{w}"] = n, b
    return out[out["at"] > start].reset_index(drop=True)


def burn_findings(ctx: Context) -> list[Finding]:
    """SLO burn findings, per agent (every agent has its own budget)."""
    slo = ctx.runbook.spec.get("slo")
    if not slo:
        return []
    rules = list(slo["burn_rate_windows"])
    step = min(parse_duration(r["short"]) for r in rules)
    j = ctx.judge
    out = []
    allowed = 1.0 - float(slo["objective"])
    for group in j.groups():
        if group == ALL:
            continue
        mine = j.group_mask(group)
        units = ctx.units[["time", "timeout", "budget_s"]][mine]
        base = ctx.units["timeout"].to_numpy()[j.in_base & mine]
        if len(base) >= _BURN_MIN_TRACES and base.mean() >= allowed:
            # the agent misses the objective in its normal traffic: its budget would burn every
            # day. Its timeouts are judged against its own baseline instead; say so once.
            ctx.add_note(f"{group} misses the {slo['objective']:.0%} SLO in its baseline "
                         f"({base.mean():.1%} of traces out of budget): burn-rate alerts are "
                         "off for it, its timeouts are judged against its baseline", agent=group)
            continue
        table = burn_rates(units, j.start, j.end, float(slo["objective"]), rules, step)
        fire = pd.Series([None] * len(table), dtype=object)
        for r in rules:
            n, bad = table[f"n_{r['long']}"], table[f"bad_{r['long']}"]
            table[f"p_{r['long']}"] = p_upper("rate", bad, n * allowed, n=n)
            ok = ((table[f"burn_{r['long']}"] >= r["burn_rate"])
                  & (table[f"burn_{r['short']}"] >= r["burn_rate"])
                  & (n >= _BURN_MIN_TRACES) & (bad >= _BURN_MIN_BAD)
                  & (table[f"p_{r['long']}"] <= j.alpha)).to_numpy()
            for i in np.flatnonzero(ok):
                cur = fire.iloc[i]
                if cur is None or SEVERITIES.index(cur[0]) < SEVERITIES.index(r["severity"]):
                    fire.iloc[i] = (r["severity"], r)
        hot = table[fire.notna().to_numpy()]
        if hot.empty:
            continue
        # instants less than a bucket apart are one burn, not several
        run_id = hot["at"].diff().gt(j.bucket).cumsum()
        for _, run in hot.groupby(run_id.to_numpy()):
            rows = fire.loc[run.index]
            sev, rule = max(rows, key=lambda x: SEVERITIES.index(x[0]))
            a, b = run["at"].min() - step, run["at"].max()
            peak = float(run[f"burn_{rule['long']}"].max())
            p_value = float(run[f"p_{rule['long']}"].min())
            suspects = ctx.suspects("timeout_rate", a, b, group)
            from workbench.analysis.detect import suspects_text

            budget_s = float(units["budget_s"].iloc[0]) if len(units) else float("nan")
            out.append(Finding(
                runbook=ctx.runbook.name, signal="slo_burn_rate", severity=sev, start=a, end=b,
                observed=peak, baseline=float(rule["burn_rate"]), p_value=p_value,
                summary=(f"{group}: error budget of the {slo['objective']:.0%} within "
                         f"{budget_s:g} s SLO burning {peak:.1f}x too fast over "
                         f"{rule['long']} (rule {rule['long']}/{rule['short']}, threshold "
                         f"{rule['burn_rate']:g}x){suspects_text(suspects)}"),
                unit="burn rate", labels={"agent": group}, suspects=suspects,
                trace_ids=ctx.worst("timeout_rate", a, b, group), confirmed=ctx.confirmed,
                evidence={"burn_rates": table, "latency": latency_profile(ctx, group)}))
    return out


def tool_units(ctx: Context) -> pd.DataFrame:
    """Tool calls of the baseline and the window as units: time, tool, agent, duration."""
    obs = ctx.observations
    j = ctx.judge
    if obs is None or obs.empty:
        return pd.DataFrame(columns=["time", "tool_name", "agent", "duration", "trace_id"])
    st = obs["start_time"]
    keep = (obs["tool_name"].notna() & (st >= j.baseline_start) & (st < j.end)).to_numpy()
    o = obs[["start_time", "tool_name", "agent", "duration_s", "trace_id"]][keep]
    return pd.DataFrame({"time": pd.to_datetime(o["start_time"], utc=True).array,
                         "tool_name": text_array(o["tool_name"]),
                         "agent": text_array(o["agent"]),
                         "duration": o["duration_s"].astype("float64").to_numpy(),
                         "trace_id": text_array(o["trace_id"])})


def tool_latency(ctx: Context) -> list[Finding]:
    """Each tool's share of calls over its own baseline p95, per tool."""
    if "tool_latency_p95" not in ctx.runbook.signals:
        return []
    units = tool_units(ctx)
    if units.empty:
        return []
    j = ctx.judge
    tj = Judge(ctx.runbook, units, j.start, j.end, group_by="tool_name",
               segments=["tool_name"])
    spec = ctx.runbook.signal("tool_latency_p95")
    out = []
    from workbench.analysis.attribution import attribute
    from workbench.analysis.detect import _hours, _p, _when, suspects_text

    for tool in tj.groups():
        if tool == ALL:
            continue
        for iv in tj.scan("tool_latency_p95", tool):
            p = tj.prepared("tool_latency_p95")
            mine = tj.group_mask(tool)
            cur = units[tj.between(iv.start, iv.end) & mine]
            base = units[tj.in_base & p.expectation.used & mine]
            cur = cur.assign(slow=p.y[cur.index.to_numpy()])
            base = base.assign(slow=p.y[base.index.to_numpy()])
            suspects = attribute(cur, base, "slow", ["tool_name", "agent/tool_name"],
                                 min_share=float(ctx.runbook.spec["attribution"].get(
                                     "min_share", 0.8)))
            limit = tj.slow_thresholds().get(tool, float("nan"))
            p95 = float(cur["duration"].quantile(0.95)) if len(cur) else float("nan")
            shortest = tj.shortest("tool_latency_p95", iv)
            ids = cur.sort_values("duration", ascending=False)["trace_id"]
            labels = {"tool_name": tool}
            agents = cur["agent"].unique()
            if len(agents) == 1:  # one agent's tool: its finding, as alerts group by agent
                labels["agent"] = str(agents[0])
            out.append(Finding(
                runbook=ctx.runbook.name, signal="tool_latency_p95", severity=iv.severity,
                start=iv.start, end=iv.end, observed=p95, baseline=limit,
                summary=(f"Tool {tool}: {iv.observed:.0%} of {iv.units} calls over its baseline "
                         f"p95 ({limit:.2f} s) against {iv.expected:.0%} expected, p95 "
                         f"{p95:.2f} s over {_when(iv.start, iv.end)}; significant within "
                         f"{_hours(shortest)} ({_p(iv.p_value)}){suspects_text(suspects)}"),
                unit=spec.get("unit", "s"), labels=labels, suspects=suspects,
                trace_ids=list(dict.fromkeys(ids.tolist()))[:20], p_value=iv.p_value,
                shortest=shortest, confirmed=ctx.confirmed,
                evidence={"slowest": slowest(ctx, iv.start, iv.end)}))
    return out
