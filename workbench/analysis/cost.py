"""Cost spike detectors: spend judged per request, runaway loops, token waste, the 5-minute page.

Spend is split into traffic and cost per request: ``spend ratio = traffic ratio x per-request
ratio``. Only a per-request rise is an anomaly (``cost_per_request``); spend that grows with
traffic is reported once as an ``info`` finding (``cost_per_hour``, growth) when it passes the
signal's ``min_ratio_to_baseline``, and never pages. The classic incident, a runaway agent loop,
also shows as traces beyond the runbook's ``bounds`` (``runaway_loop``) and as tokens burnt in
traces with errors or retries (``token_waste_ratio``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.analysis import _common as c
from workbench.analysis.series import ALL, bucket_stats, judge, severity_for
from workbench.findings import Finding

__all__ = ["detect_cost"]


def _units(ctx: c.Context) -> pd.DataFrame:
    u = ctx.units
    bounds = ctx.runbook.signal("runaway_loop").get("bounds", {})
    gens = u["n_generations"].astype("float64").fillna(0)
    tokens = u["total_tokens"].astype("float64").fillna(0)
    runaway = pd.Series(False, index=u.index)
    if "max_generations" in bounds:
        runaway |= gens > bounds["max_generations"]
    if "max_total_tokens" in bounds:
        runaway |= tokens > bounds["max_total_tokens"]
    u = u.assign(cost=u["cost_usd"].astype("float64").fillna(0.0), tokens=tokens,
                 generations=gens, runaway=runaway.astype("float64"),
                 waste=np.where(u["n_errors"].astype("float64").fillna(0) > 0, tokens, 0.0))
    ctx.units = u
    return u


def detect_cost(ctx: c.Context) -> list[Finding]:
    u = _units(ctx)
    rb, w = ctx.runbook, ctx.window
    stats = bucket_stats(u, w, "cost")
    verdict = c.volume_verdict(ctx, stats[stats["group"] == ALL], "traces")
    if verdict is not None:
        return [verdict]
    per_req = judge(stats, w, rb.signal("cost_per_request"), min_volume=ctx.min_volume,
                    min_z=ctx.min_z, statistic=ctx.statistic, binary=False, scan=ctx.scan)
    hourly = _hourly_spend(stats, ctx)
    per_req = per_req.merge(hourly, on=["group", "bucket"], how="left")
    out = c.findings_from_runs(per_req, w.bucket, lambda *a: _per_request(ctx, per_req, *a))
    out += _growth(ctx, per_req)
    out += _page_burst(ctx, per_req)
    out += _runaway(ctx)
    out += _waste(ctx)
    return out


def _hourly_spend(stats: pd.DataFrame, ctx: c.Context) -> pd.DataFrame:
    """Spend and traffic per bucket with their baselines (statistic over baseline buckets)."""
    w = ctx.window
    rows = []
    for group, g in stats.groupby("group", sort=False):
        base = g[(g["bucket"] < w.start) & (g["n"] >= ctx.min_volume)]
        agg = "median" if ctx.statistic == "median" else "mean"
        cur = g[g["bucket"] >= w.start][["group", "bucket", "sum", "n"]].copy()
        cur["spend_baseline"] = getattr(base["sum"], agg)() if len(base) else np.nan
        cur["traffic_baseline"] = getattr(base["n"], agg)() if len(base) else np.nan
        rows.append(cur)
    h = pd.concat(rows, ignore_index=True).rename(columns={"sum": "spend", "n": "traffic"})
    h["spend_ratio"] = h["spend"] / h["spend_baseline"]
    h["traffic_ratio"] = h["traffic"] / h["traffic_baseline"]
    return h


def _evidence(per_req: pd.DataFrame, labels) -> pd.DataFrame:
    group = labels.get("agent", ALL)
    g = per_req[per_req["group"] == group]
    return pd.DataFrame({
        "bucket": g["bucket"], "traces": g["n"], "spend_usd": g["spend"],
        "spend_baseline_usd": g["spend_baseline"], "spend_ratio": g["spend_ratio"],
        "traffic_ratio": g["traffic_ratio"], "cost_per_request_usd": g["mean"],
        "cost_per_request_baseline_usd": g["baseline"], "per_request_ratio": g["score"],
        "severity": g["severity"]}).reset_index(drop=True)


def _per_task(ctx: c.Context, start, end, labels) -> pd.DataFrame:
    """Tokens and iterations per task, incident window against baseline (evidence)."""
    u = ctx.units
    if "agent" in labels:
        u = u[u["group"] == labels["agent"]]
    cur = u[(u["time"] >= start) & (u["time"] < end)]
    base = u[u["time"] < ctx.window.start]
    rows = {}
    for name, part in (("incident", cur), ("baseline", base)):
        tok = part["tokens"].sum()
        rows[name] = {"traces": len(part), "tokens_per_task": part["tokens"].mean(),
                      "iterations_per_task": part["generations"].mean(),
                      "cost_per_task_usd": part["cost"].mean(),
                      "token_waste_ratio": part["waste"].sum() / tok if tok else np.nan,
                      "runaway_traces": int(part["runaway"].sum())}
    return pd.DataFrame(rows).T


def _offenders(ctx: c.Context, start, end) -> pd.DataFrame:
    """Spend in the window by agent, model, user and session, largest first (evidence)."""
    u = ctx.units
    cur = u[(u["time"] >= start) & (u["time"] < end)]
    parts = []
    for dim in ("agent", "model", "user_id", "session_id"):
        if dim not in cur.columns:
            continue
        g = cur.groupby(cur[dim].astype(str), sort=False)["cost"].agg(["sum", "count"])
        g = g.sort_values("sum", ascending=False).head(5)
        parts.append(pd.DataFrame({"dimension": dim, "value": g.index, "spend_usd": g["sum"],
                                   "traces": g["count"]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _per_request(ctx, per_req, run, top, start, end, labels) -> Finding:
    suspects = c.attribute_run(ctx, "cost", start, end)
    who = f" in {labels['agent']}" if labels else ""
    summary = (f"Cost per request{who} {c.fmt_ratio(top['score'])} baseline "
               f"(${top['mean']:.4f} vs ${top['baseline']:.4f}); spend "
               f"{c.fmt_ratio(top['spend_ratio'])} on {c.fmt_ratio(top['traffic_ratio'])} traffic"
               f"{c.suspects_text(suspects)}")
    if ctx.note:
        summary += f"; {ctx.note}"
    return Finding(
        runbook=ctx.runbook.name, signal="cost_per_request", severity=top["severity"],
        start=start, end=end, observed=float(top["mean"]), baseline=float(top["baseline"]),
        summary=summary, unit=ctx.runbook.signal("cost_per_request")["unit"], labels=labels,
        suspects=suspects, trace_ids=c.top_trace_ids(ctx.units, start, end, "cost", labels),
        evidence={"series": _evidence(per_req, labels),
                  "per_task": _per_task(ctx, start, end, labels),
                  "offenders": _offenders(ctx, start, end)})


def _growth(ctx: c.Context, per_req: pd.DataFrame) -> list[Finding]:
    """Spend up with traffic, per request flat: growth, reported once as info, never a page."""
    spec = ctx.runbook.signal("cost_per_hour")
    warn = ctx.runbook.signal("cost_per_request")["thresholds"].get("warning", np.inf)
    min_ratio = spec.get("min_ratio_to_baseline", 1.0)
    g = per_req[(per_req["group"] == ALL) & (per_req["n"] >= ctx.min_volume)]
    grown = g[(g["spend_ratio"] >= min_ratio) & (g["score"] < warn)]
    grown = grown[grown["spend_ratio"].map(lambda r: severity_for(r, spec["thresholds"])).notna()]
    if grown.empty:
        return []
    top = grown.sort_values("spend_ratio").iloc[-1]
    start, end = grown["bucket"].min(), grown["bucket"].max() + ctx.window.bucket
    summary = (f"Spend {c.fmt_ratio(top['spend_ratio'])} baseline on "
               f"{c.fmt_ratio(top['traffic_ratio'])} traffic, cost per request "
               f"{c.fmt_ratio(top['score'])}: traffic growth, not a cost anomaly")
    return [Finding(runbook=ctx.runbook.name, signal="cost_per_hour", severity="info",
                    start=start, end=end, observed=float(top["spend"]),
                    baseline=float(top["spend_baseline"]), summary=summary, unit=spec["unit"],
                    evidence={"series": _evidence(per_req, {})})]


def _page_burst(ctx: c.Context, per_req: pd.DataFrame) -> list[Finding]:
    """Spend over the page ratio within the signal's short window, and per request up too."""
    spec = ctx.runbook.signal("page_burst")
    w = ctx.window
    width = c.parse_width(spec.get("window", "5m"))
    need = spec.get("requires", {}).get("cost_per_request_ratio", 1.0)
    g = per_req[per_req["group"] == ALL]
    if g.empty or not np.isfinite(g["spend_baseline"].iloc[0]):
        return []
    base_spend = g["spend_baseline"].iloc[0] * (width / w.bucket)
    base_cpr = g["baseline"].iloc[0]
    u = ctx.units[(ctx.units["time"] >= w.start) & (ctx.units["time"] < w.end)]
    if u.empty or not base_spend > 0:
        return []
    bins = u.groupby(w.floor(u["time"], width))["cost"].agg(["sum", "count"])
    bins["ratio"] = bins["sum"] / base_spend
    bins["cpr_ratio"] = bins["sum"] / bins["count"] / base_cpr
    bins["severity"] = [severity_for(r, spec["thresholds"]) if q >= need else None
                        for r, q in zip(bins["ratio"], bins["cpr_ratio"])]
    hot = bins[bins["severity"].notna()]
    if hot.empty:
        return []
    # bursts less than an evaluation bucket apart are one incident: one page, not a dozen
    step = pd.Series(hot.index, index=hot.index).diff().gt(w.bucket).cumsum()
    out = []
    for _, run in hot.groupby(step.to_numpy()):
        start, end = run.index.min(), run.index.max() + width
        top = run.sort_values("ratio").iloc[-1]
        suspects = c.attribute_run(ctx, "cost", start, end)
        out.append(Finding(
            runbook=ctx.runbook.name, signal="page_burst", severity=top["severity"],
            start=start, end=end, observed=float(top["sum"]), baseline=float(base_spend),
            summary=(f"Spent {c.fmt_ratio(top['ratio'])} the baseline within {spec['window']} "
                     f"with cost per request {c.fmt_ratio(top['cpr_ratio'])}"
                     f"{c.suspects_text(suspects)}"),
            unit=spec["unit"], suspects=suspects,
            trace_ids=c.top_trace_ids(ctx.units, start, end, "cost", {}),
            evidence={"bins": run.reset_index(names="bin")}))
    return out


def _runaway(ctx: c.Context) -> list[Finding]:
    """Traces past the runbook bounds, counted per bucket and agent (no baseline needed)."""
    spec = ctx.runbook.signal("runaway_loop")
    w = ctx.window
    u = ctx.units[(ctx.units["time"] >= w.start) & (ctx.units["runaway"] > 0)]
    if u.empty:
        return []
    counts = u.groupby(["group", w.floor(u["time"]).rename("bucket")]).size()
    judged = counts.rename("n").reset_index()
    judged["score"] = judged["n"].astype("float64")
    judged["severity"] = [severity_for(v, spec["thresholds"]) for v in judged["score"]]

    def build(run, top, start, end, labels):
        suspects = c.attribute_run(ctx, "runaway", start, end)
        mask = ctx.units["runaway"] > 0
        ids = c.top_trace_ids(ctx.units, start, end, "tokens", labels, mask=mask)
        total = int(run["n"].sum())
        return Finding(
            runbook=ctx.runbook.name, signal="runaway_loop", severity=top["severity"],
            start=start, end=end, observed=float(total), baseline=0.0,
            summary=(f"{total} runaway trace(s) in {labels.get('agent', 'all agents')} beyond "
                     f"{spec.get('bounds', {})}{c.suspects_text(suspects)}"),
            unit=spec["unit"], labels=labels, suspects=suspects, trace_ids=ids,
            evidence={"per_task": _per_task(ctx, start, end, labels)})
    return c.findings_from_runs(judged, w.bucket, build)


def _waste(ctx: c.Context) -> list[Finding]:
    """Share of tokens spent in traces with errors or retries, per bucket and agent."""
    spec = ctx.runbook.signal("token_waste_ratio")
    w = ctx.window
    waste = bucket_stats(ctx.units, w, "waste")
    tokens = bucket_stats(ctx.units, w, "tokens")
    stats = waste[["group", "bucket", "n", "sum", "sumsq"]].merge(
        tokens[["group", "bucket", "sum"]].rename(columns={"sum": "tokens"}),
        on=["group", "bucket"])
    stats["mean"] = stats["sum"] / stats["tokens"].where(stats["tokens"] > 0)
    judged = judge(stats, w, spec, min_volume=ctx.min_volume, min_z=-np.inf,
                   statistic=ctx.statistic, binary=False, denominator="tokens")

    def build(run, top, start, end, labels):
        suspects = c.attribute_run(ctx, "waste", start, end)
        mask = ctx.units["waste"] > 0
        return Finding(
            runbook=ctx.runbook.name, signal="token_waste_ratio", severity=top["severity"],
            start=start, end=end, observed=float(top["mean"]), baseline=float(top["baseline"]),
            summary=(f"{top['mean']:.0%} of tokens spent in traces with errors or retries "
                     f"(baseline {top['baseline']:.0%}){c.suspects_text(suspects)}"),
            unit=spec["unit"], labels=labels, suspects=suspects,
            trace_ids=c.top_trace_ids(ctx.units, start, end, "waste", labels, mask=mask),
            evidence={"series": c.evidence_series(judged, labels, w)})
    return c.findings_from_runs(judged, w.bucket, build)
