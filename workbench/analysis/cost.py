"""Cost spike extras: the 5-minute page and what a cost finding shows.

Cost per request is judged by the generic scan (:mod:`.judge`: mean of log cost per trace against
the agent-and-model baseline, mix-adjusted), so spend that grows with traffic is never an
anomaly. Two things are the cost runbook's own:

- :func:`page_bursts`: spending more than ``page_burst`` times the baseline's spend for the same
  hour of day within a short window (5 minutes) pages someone, but only when cost per request
  rose too (``requires.cost_per_request_ratio``) and significantly: traffic alone never pages.
- :func:`growth`: spend far over the baseline for the hour on traffic that grew with it, cost
  per request as expected: said once, as ``info``, so nobody mistakes it for an anomaly.
- :func:`evidence`: tokens, iterations and cost per task, runaway traces and the biggest spenders
  of a finding's window against the baseline: the runaway-loop story in numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.analysis import stats
from workbench.analysis.judge import ALL, Interval
from workbench.findings import Finding
from workbench.runbooks import parse_duration

if TYPE_CHECKING:
    from workbench.analysis.detect import Context

__all__ = ["evidence", "growth", "page_bursts", "per_task"]


def per_task(ctx: Context, start: pd.Timestamp, end: pd.Timestamp, group: str = ALL
             ) -> pd.DataFrame:
    """Tokens, iterations, cost per task and runaway traces: window against baseline."""
    u = ctx.units[["tokens", "generations", "cost", "waste", "runaway"]]
    rows = {}
    for name, m in (("incident", ctx.window_mask(start, end, group)),
                    ("baseline", ctx.baseline_mask(group))):
        part = u[m]
        tokens = float(part["tokens"].sum())
        rows[name] = {"traces": len(part), "tokens_per_task": part["tokens"].mean(),
                      "iterations_per_task": part["generations"].mean(),
                      "cost_per_task_usd": part["cost"].mean(),
                      "token_waste_ratio": float(part["waste"].sum()) / tokens if tokens
                      else np.nan,
                      "runaway_traces": int(part["runaway"].sum())}
    return pd.DataFrame(rows).T


def offenders(ctx: Context, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Spend in the window by agent, model, user and session, largest first."""
    cur = ctx.units[["agent", "primary_model", "user_id", "session_id", "cost"]][
        ctx.window_mask(start, end, ALL)]
    parts = []
    for dim in ("agent", "primary_model", "user_id", "session_id"):
        g = cur.groupby(cur[dim].astype(str), sort=False)["cost"].agg(["sum", "count"])
        g = g.sort_values("sum", ascending=False).head(5)
        parts.append(pd.DataFrame({"dimension": "model" if dim == "primary_model" else dim,
                                   "value": g.index, "spend_usd": g["sum"],
                                   "traces": g["count"]}))
    return pd.concat(parts, ignore_index=True)


def evidence(ctx: Context, signal: str, iv: Interval) -> dict[str, pd.DataFrame]:
    return {"per_task": per_task(ctx, iv.start, iv.end, iv.group),
            "offenders": offenders(ctx, iv.start, iv.end)}


def page_bursts(ctx: Context) -> list[Finding]:
    """Short bursts of spend far over the baseline for the hour, with cost per request up."""
    rb = ctx.runbook
    if "page_burst" not in rb.signals or "cost_per_request" not in rb.signals:
        return []
    spec = rb.signal("page_burst")
    j = ctx.judge
    width = parse_duration(spec.get("window", "5m"))
    need = float(spec.get("requires", {}).get("cost_per_request_ratio", 1.0))
    page = float(spec["thresholds"].get("page", np.inf))
    p = j.prepared("cost_per_request")
    expected_bin = _hourly_baseline(ctx) * (width / pd.Timedelta(hours=1))
    inw = j.in_window
    if not inw.any():
        return []
    bins = ((j.time_ns[inw] - j.start.value) // width.value).astype("int64")
    nb = int(bins.max()) + 1
    spend = np.bincount(bins, weights=p.shown[inw], minlength=nb)
    exp_cpr = np.bincount(bins, weights=p.shown_e[inw], minlength=nb)
    n = np.bincount(bins, minlength=nb).astype("float64")
    o_log = np.bincount(bins, weights=p.y[inw], minlength=nb)
    e_log = np.bincount(bins, weights=p.e[inw], minlength=nb)
    v_log = np.bincount(bins, weights=p.v[inw], minlength=nb)
    starts = j.start + np.arange(nb) * width
    hour_of = np.asarray([t.hour for t in starts])
    base_spend = expected_bin[hour_of]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(base_spend > 0, spend / base_spend, np.inf)
        cpr_ratio = np.where(exp_cpr > 0, spend / exp_cpr, np.inf)
    phi = p.phi.get(ALL, 1.0)
    hot = np.flatnonzero((ratio >= page) & (cpr_ratio >= need) & (base_spend > 0) & (n > 0))
    if not len(hot):
        return []
    # bursts less than an evaluation bucket apart are one incident: one page, not a dozen;
    # a run pages when its bins together show the per-request rise to be significant
    groups = np.split(hot, np.flatnonzero(np.diff(hot) * width > j.bucket) + 1)
    pooled = {id(g): float(stats.p_upper("mean", o_log[g].sum(), e_log[g].sum(), n=n[g].sum(),
                                         variance=v_log[g].sum(), phi=phi)) for g in groups}
    groups = [g for g in groups if pooled[id(g)] <= j.alpha and n[g].sum() >= j.min_units]
    out = []
    for g in groups:
        a, b = starts[g[0]], starts[g[-1]] + width
        top = g[np.argmax(ratio[g])]
        suspects = ctx.suspects("cost_per_request", a, b, ALL)
        from workbench.analysis.detect import suspects_text

        out.append(Finding(
            runbook=rb.name, signal="page_burst", severity="page", start=a, end=b,
            p_value=pooled[id(g)],
            observed=float(spend[top]), baseline=float(base_spend[top]),
            summary=(f"Spent {ratio[top]:.1f}x the baseline for the hour within "
                     f"{spec.get('window', '5m')} (${spend[top]:.2f} against "
                     f"${base_spend[top]:.2f}) with cost per request {cpr_ratio[top]:.1f}x "
                     f"expected{suspects_text(suspects)}"),
            # the burst's 5-minute spend in dollars (the runbook's unit is its threshold's)
            unit="USD", suspects=suspects,
            trace_ids=ctx.worst("cost_per_request", a, b, ALL), shortest=width,
            confirmed=ctx.confirmed,
            evidence={"bins": pd.DataFrame({"bin": starts[g], "spend_usd": spend[g],
                                            "baseline_usd": base_spend[g],
                                            "ratio": ratio[g], "traces": n[g],
                                            "cost_per_request_ratio": cpr_ratio[g]})}))
    return out


def _hourly_baseline(ctx: Context, traffic: bool = False) -> np.ndarray:
    """Mean spend (or traces, with ``traffic``) per hour of day over the baseline days that
    hold data (24 values)."""
    j = ctx.judge
    p = j.prepared("cost_per_request")
    base = j.in_base & p.expectation.used
    hours = ctx.units["time"].dt.hour.to_numpy()
    days = max(j.baseline_coverage() / pd.Timedelta(days=1), 1.0)
    weights = None if traffic else p.shown[base]
    return np.bincount(hours[base], weights=weights, minlength=24) / days


def _hours(n: int) -> str:
    return "1 hour" if n == 1 else f"{n} hours"


def growth(ctx: Context) -> list[Finding]:
    """One ``info`` finding for the hours whose spend grew past ``cost_per_hour``'s
    ``min_ratio_to_baseline`` while cost per request stayed as expected."""
    rb = ctx.runbook
    if "cost_per_hour" not in rb.signals or "cost_per_request" not in rb.signals:
        return []
    spec = rb.signal("cost_per_hour")
    min_ratio = float(spec.get("min_ratio_to_baseline", 3.0))
    j = ctx.judge
    base = _hourly_baseline(ctx)
    traffic = _hourly_baseline(ctx, traffic=True)
    rows = []
    t = j.start
    while t < j.end:
        b = min(t + j.bucket, j.end)
        iv = j.interval("cost_per_request", t, b)
        spend = iv.observed * iv.units if iv.units else 0.0
        expected_spend = base[t.hour] * (b - t) / pd.Timedelta(hours=1)
        ratio = spend / expected_spend if expected_spend > 0 else np.nan
        expected_n = traffic[t.hour] * (b - t) / pd.Timedelta(hours=1)
        grew = float(stats.p_upper("count", iv.units, expected_n)) <= j.alpha
        if (np.isfinite(ratio) and ratio >= min_ratio and grew
                and not (iv.significant and iv.severity)):
            rows.append((t, b, spend, expected_spend, ratio, iv.ratio))
        t = b
    if not rows:
        return []
    frame = pd.DataFrame(rows, columns=["bucket", "end", "spend_usd", "baseline_usd",
                                        "spend_ratio", "cost_per_request_ratio"])
    top = frame.loc[frame["spend_ratio"].idxmax()]
    return [Finding(
        runbook=rb.name, signal="cost_per_hour", severity="info",
        start=frame["bucket"].min(), end=frame["end"].max(), observed=float(top["spend_usd"]),
        baseline=float(top["baseline_usd"]), unit=spec.get("unit", "USD/h"),
        summary=(f"Spend grew with traffic in {_hours(len(frame))} between "
                 f"{frame['bucket'].min():%H:%M} and {frame['end'].max():%H:%M} UTC, at most "
                 f"{top['spend_ratio']:.1f}x the baseline for the hour "
                 f"({top['bucket']:%H:%M}–{top['end']:%H:%M}), with cost per request "
                 f"{top['cost_per_request_ratio']:.2f}x expected: traffic growth, not a cost "
                 "anomaly"),
        confirmed=ctx.confirmed, evidence={"hours": frame})]
