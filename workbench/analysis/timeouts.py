"""Timeout surge detectors: timeouts against the latency budget, near-timeouts, p95, SLO burn.

A trace is a timeout when its status says so or it ran for the whole budget (``budget.seconds``);
a near-timeout when it used at least ``budget.warning_fraction`` of it (timeouts included), which
rises first and gives warning. The SLO (``slo.objective`` of requests within the budget) is judged
with the runbook's multi-window, multi-burn-rate rules: a rule fires at an instant when the error
budget burns at least ``burn_rate`` times too fast over both its long and its short window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.analysis import _common as c
from workbench.analysis.series import ALL, bucket_stats, judge
from workbench.findings import SEVERITIES, Finding

__all__ = ["burn_rates", "detect_timeouts", "latency_profile", "slowest"]


def _units(ctx: c.Context) -> pd.DataFrame:
    budget = ctx.runbook.spec.get("budget", {"seconds": 8.0, "warning_fraction": 0.75})
    u = ctx.units
    dur = u["duration_s"].astype("float64")
    timeout = u["status"].astype(str).eq("timeout").to_numpy() | (dur >= budget["seconds"])
    near = timeout | (dur >= budget["seconds"] * budget["warning_fraction"])
    ctx.units = u.assign(duration=dur, timeout=timeout.astype("float64"),
                         near=near.astype("float64"))
    ctx.units.attrs["budget_s"] = float(budget["seconds"])
    ctx.extra["budget"] = budget
    return ctx.units


def detect_timeouts(ctx: c.Context, observations: pd.DataFrame | None) -> list[Finding]:
    u = _units(ctx)
    rb, w = ctx.runbook, ctx.window
    timeout_stats = bucket_stats(u, w, "timeout")
    verdict = c.volume_verdict(ctx, timeout_stats[timeout_stats["group"] == ALL], "traces")
    if verdict is not None:
        return [verdict]
    profile = latency_profile(u, w)
    out: list[Finding] = []
    for signal, column in (("timeout_rate", "timeout"), ("near_timeout_share", "near")):
        stats = timeout_stats if column == "timeout" else bucket_stats(u, w, column)
        judged = judge(stats, w, rb.signal(signal), min_volume=ctx.min_volume, min_z=ctx.min_z,
                       statistic=ctx.statistic, binary=True, scan=ctx.scan)
        out += c.findings_from_runs(judged, w.bucket, _builder(ctx, signal, column, judged,
                                                               profile, observations))
    out += _p95(ctx, profile, observations)
    if "tool_latency_p95" in rb.signals:
        out += _tool_p95(ctx, observations)
    out += _burn(ctx, profile, observations)
    return out


def latency_profile(units: pd.DataFrame, window) -> pd.DataFrame:
    """Latency distribution per bucket (all traffic): count, p50/p95/p99, timeout and near shares.

    Covers baseline and window, so a plot shows the change against what came before.
    """
    u = units[(units["time"] >= window.base_start) & (units["time"] < window.end)]
    b = window.floor(u["time"]).rename("bucket")
    g = u.groupby(b)["duration"]
    prof = pd.DataFrame({"traces": g.size(), "p50_s": g.quantile(0.50),
                         "p95_s": g.quantile(0.95), "p99_s": g.quantile(0.99)})
    prof["timeout_share"] = u.groupby(b)["timeout"].mean()
    prof["near_timeout_share"] = u.groupby(b)["near"].mean()
    # the distribution itself: share of traces per latency band, in quarters of the budget
    budget = float(units.attrs.get("budget_s", 8.0))
    edges = [0.0, 0.25 * budget, 0.5 * budget, 0.75 * budget, budget, np.inf]
    band = pd.cut(u["duration"], edges, right=False,
                  labels=[f"share_{lo:g}_{hi:g}s" for lo, hi in zip(edges[:-1], edges[1:])])
    shares = pd.crosstab(b, band, normalize="index")
    return prof.join(shares).reset_index()


def slowest(observations: pd.DataFrame | None, ctx: c.Context, start, end,
            n: int = 10) -> pd.DataFrame:
    """Tools and span names ranked by p95 duration in ``[start, end)``, with baseline p95."""
    if observations is None or observations.empty:
        return pd.DataFrame()
    spans, keys = _child_spans(observations, ctx, end)
    frame = spans[(spans["time"] < end).to_numpy()]
    cur_mask = (frame["time"] >= start).to_numpy()
    cur = frame[cur_mask].groupby("key")["dur"].agg(
        calls="size", p50_s=lambda s: s.quantile(0.5), p95_s=lambda s: s.quantile(0.95))
    base = frame[~cur_mask & (frame["time"] < ctx.window.start).to_numpy()]
    base = base.groupby("key")["dur"].quantile(0.95).rename("baseline_p95_s")
    out = cur.join(base)
    out.index = keys[out.index.to_numpy(dtype="int64")]
    out["ratio"] = out["p95_s"] / out["baseline_p95_s"]
    return out.sort_values(["ratio", "p95_s"], ascending=False).head(n).reset_index()


def _child_spans(observations: pd.DataFrame, ctx: c.Context, end
                 ) -> tuple[pd.DataFrame, pd.MultiIndex]:
    """Child spans from the baseline's start to the window's end (or ``end`` when later):
    ``key``, ``dur``, ``time``, and the (``kind``, ``name``) of each key. Reduced once per
    detector run; every finding's :func:`slowest` slices it. The key numbers (kind, name) in
    sorted order, so grouping by it orders groups as grouping by the two strings would, without
    taking strings row by row."""
    until = max(ctx.window.end, pd.Timestamp(end))
    cached = ctx.extra.get("child_spans")
    if cached is not None and cached[0] is observations and cached[1] >= until:
        return cached[2]
    st = observations["start_time"]
    keep = ((st >= ctx.window.base_start) & (st < until)
            & observations["parent_observation_id"].notna()).to_numpy()
    # only the columns used: every string column taken row by row costs
    o = observations[["tool_name", "name", "type", "duration_s", "start_time"]][keep]
    key, keys = _span_keys(o)
    named = key >= 0
    frame = pd.DataFrame({"key": key[named], "dur": o["duration_s"].to_numpy()[named],
                          "time": o["start_time"].array[named]})
    found = (frame, keys)
    ctx.extra["child_spans"] = (observations, until, found)
    return found


def _span_keys(spans: pd.DataFrame) -> tuple[np.ndarray, pd.MultiIndex]:
    """Each span's (kind, name) key, numbered in sorted order (-1: kind or name missing), and
    the keys: a tool call is (``tool``, tool name), any other span (type, span name). Worked
    out on integer codes, so no string is built per span."""
    tool = spans["tool_name"]
    t_code, t_names = pd.factorize(tool)
    y_code, y_names = pd.factorize(spans["type"])
    n_code, n_names = pd.factorize(spans["name"])
    # one integer per (kind, name) pair of codes: tool names first, then type x span name
    width = max(len(n_names), 1)
    pair = np.where(tool.notna().to_numpy(), t_code,
                    np.where((y_code >= 0) & (n_code >= 0),
                             len(t_names) + y_code * width + n_code, -1))
    seen = np.unique(pair[pair >= 0])
    labels = [("tool", str(t_names[i])) if i < len(t_names) else
              (str(y_names[(i - len(t_names)) // width]),
               str(n_names[(i - len(t_names)) % width])) for i in seen.tolist()]
    ordered = sorted(set(labels))
    rank = {label: k for k, label in enumerate(ordered)}
    by_pair = np.full(len(t_names) + len(y_names) * width + 1, -1)
    by_pair[seen] = [rank[label] for label in labels]
    dtype = "str" if ordered else object  # as grouping the strings gives
    keys = pd.MultiIndex.from_arrays(
        [pd.Index([k for k, _ in ordered], dtype=dtype),
         pd.Index([n for _, n in ordered], dtype=dtype)], names=["kind", "name"])
    return by_pair[pair], keys


def _builder(ctx, signal, column, judged, profile, observations):
    spec = ctx.runbook.signal(signal)
    label = {"timeout": "Timeout rate", "near": "Near-timeout share"}[column]

    def build(run, top, start, end, labels):
        suspects = c.attribute_run(ctx, column, start, end)
        who = f" in {labels['agent']}" if labels else ""
        summary = (f"{label}{who} {top['mean']:.1%} (baseline {top['baseline']:.1%}, "
                   f"{top['n']:.0f} traces in the worst hour){c.suspects_text(suspects)}")
        if ctx.note:
            summary += f"; {ctx.note}"
        return Finding(
            runbook=ctx.runbook.name, signal=signal, severity=top["severity"], start=start,
            end=end, observed=float(top["mean"]), baseline=float(top["baseline"]),
            summary=summary, unit=spec["unit"], labels=labels, suspects=suspects,
            trace_ids=c.top_trace_ids(ctx.units, start, end, "duration", labels),
            evidence={"series": c.evidence_series(judged, labels, ctx.window),
                      "latency": profile, "slowest": slowest(observations, ctx, start, end)})
    return build


def _p95(ctx: c.Context, profile: pd.DataFrame, observations) -> list[Finding]:
    """p95 latency per bucket and agent against its baseline p95 (ratio thresholds)."""
    spec = ctx.runbook.signal("latency_p95")
    w = ctx.window
    u = ctx.units
    stats = bucket_stats(u, w, "duration")
    v = u[["group", "time", "duration"]]
    both = pd.concat([v.assign(_g=v["group"]), v.assign(_g=ALL)], ignore_index=True)
    q = both.groupby(["_g", w.floor(both["time"]).rename("bucket")])["duration"].quantile(0.95)
    q = q.rename("p95").reset_index().rename(columns={"_g": "group"})
    stats = stats.merge(q, on=["group", "bucket"], how="left")
    judged = judge(stats, w, spec, min_volume=ctx.min_volume, min_z=-np.inf,
                   statistic=ctx.statistic, binary=False, observed="p95")
    judged = _gate_by_shift(judged, u, "duration", ctx)

    def build(run, top, start, end, labels):
        suspects = c.attribute_run(ctx, "duration", start, end)
        return Finding(
            runbook=ctx.runbook.name, signal="latency_p95", severity=top["severity"],
            start=start, end=end, observed=float(top["p95"]), baseline=float(top["baseline"]),
            summary=(f"p95 latency {top['p95']:.2f} s, {c.fmt_ratio(top['score'])} baseline "
                     f"({top['baseline']:.2f} s){c.suspects_text(suspects)}"),
            unit=spec["unit"], labels=labels, suspects=suspects,
            trace_ids=c.top_trace_ids(ctx.units, start, end, "duration", labels),
            evidence={"series": c.evidence_series(judged, labels, w, observed="p95"),
                      "latency": profile, "slowest": slowest(observations, ctx, start, end)})
    return c.findings_from_runs(judged, w.bucket, build)


def _gate_by_shift(judged: pd.DataFrame, units: pd.DataFrame, value: str, ctx: c.Context
                   ) -> pd.DataFrame:
    """Keep a quantile verdict only where the log-duration mean moved significantly too.

    A p95 over a hundred calls is noisy; latencies are roughly lognormal, so a slowdown is a shift
    of the mean log-duration, whose z-test is sharp. Buckets whose shift is under the runbook's
    ``min_zscore`` lose their verdict.
    """
    logs = units[["time", "group"]].assign(_log=np.log(units[value].clip(lower=1e-6)))
    shift = judge(bucket_stats(logs, ctx.window, "_log"), ctx.window,
                  {"direction": "up", "compare": "delta", "thresholds": {"warning": 0.0}},
                  min_volume=ctx.min_volume, min_z=ctx.min_z, statistic="mean", binary=False)
    ok = shift.loc[shift["severity"].notna(), ["group", "bucket"]].assign(_ok=True)
    out = judged.merge(ok, on=["group", "bucket"], how="left")
    out["severity"] = out["severity"].where(out["_ok"].eq(True).to_numpy(), None)
    return out.drop(columns="_ok")


def _tool_p95(ctx: c.Context, observations: pd.DataFrame | None) -> list[Finding]:
    """p95 duration of each tool's calls per bucket against the tool's own baseline."""
    if observations is None or observations.empty:
        return []
    spec = ctx.runbook.signal("tool_latency_p95")
    w = ctx.window
    keep = (observations["tool_name"].notna() & (observations["start_time"] >= w.base_start)
            & (observations["start_time"] < w.end)).to_numpy()
    o = observations[["start_time", "tool_name", "duration_s", "agent", "trace_id"]][keep]
    if o.empty:
        return []
    calls = pd.DataFrame({"time": o["start_time"], "group": o["tool_name"].astype(str),
                          "duration": o["duration_s"].astype("float64"),
                          "tool_name": o["tool_name"].astype(str),
                          "agent": o["agent"].astype(str), "trace_id": o["trace_id"]})
    stats = bucket_stats(calls, w, "duration")
    q = calls.groupby(["group", w.floor(calls["time"]).rename("bucket")])["duration"]
    stats = stats.merge(q.quantile(0.95).rename("p95").reset_index(), on=["group", "bucket"],
                        how="left")
    stats = stats[stats["group"] != ALL]
    judged = judge(stats, w, spec, min_volume=ctx.min_volume, min_z=-np.inf,
                   statistic=ctx.statistic, binary=False, observed="p95")
    judged = _gate_by_shift(judged, calls[calls["group"] != ALL], "duration", ctx)

    def build(run, top, start, end, labels):
        tool = labels.pop("agent")
        labels = {"tool_name": tool}
        suspects = c.attribute_run(ctx, "duration", start, end, units=calls)
        ids = calls[(calls["time"] >= start) & (calls["time"] < end)
                    & (calls["group"] == tool)].sort_values("duration", ascending=False)
        return Finding(
            runbook=ctx.runbook.name, signal="tool_latency_p95", severity=top["severity"],
            start=start, end=end, observed=float(top["p95"]), baseline=float(top["baseline"]),
            summary=(f"Tool {tool} p95 {top['p95']:.2f} s, {c.fmt_ratio(top['score'])} its "
                     f"baseline ({top['baseline']:.2f} s){c.suspects_text(suspects)}"),
            unit=spec["unit"], labels=labels, suspects=suspects,
            trace_ids=list(dict.fromkeys(ids["trace_id"].astype(str)))[:20],
            evidence={"series": c.evidence_series(judged, {"agent": tool}, w, observed="p95"),
                      "slowest": slowest(observations, ctx, start, end)})
    return c.findings_from_runs(judged, w.bucket, build)


def burn_rates(units: pd.DataFrame, window, objective: float, rules, min_volume: int,
               step: pd.Timedelta) -> pd.DataFrame:
    """Burn rate of each rule's long and short window at every ``step`` in the judged window.

    burn rate = bad share over the window / (1 - objective). A rule fires at an instant when
    both its windows burn at least ``burn_rate`` and the long window holds ``min_volume`` traces.
    """
    budget = 1.0 - objective
    longest = max(c.parse_width(r["long"]) for r in rules)
    u = units[(units["time"] >= window.start - longest) & (units["time"] < window.end)]
    origin = window.start - longest
    grid = pd.date_range(origin, window.end, freq=step, inclusive="left")
    idx = ((u["time"] - origin) // step).to_numpy()
    bad = np.bincount(idx, weights=u["timeout"].to_numpy(), minlength=len(grid))
    tot = np.bincount(idx, minlength=len(grid)).astype("float64")
    cbad, ctot = np.concatenate([[0], np.cumsum(bad)]), np.concatenate([[0], np.cumsum(tot)])
    ends = np.arange(1, len(grid) + 1)
    out = pd.DataFrame({"at": grid + step})
    firing = pd.Series([None] * len(grid), dtype=object)
    for r in rules:
        sev_rank = SEVERITIES.index(r["severity"])
        rates = {}
        for which in ("long", "short"):
            k = int(c.parse_width(r[which]) / step)
            lo = np.maximum(ends - k, 0)
            n = ctot[ends] - ctot[lo]
            with np.errstate(divide="ignore", invalid="ignore"):
                rates[which] = np.where(n > 0, (cbad[ends] - cbad[lo]) / n / budget, 0.0)
            if which == "long":
                long_n = n
        name = f"{r['long']}/{r['short']}"
        out[f"burn_{r['long']}"] = rates["long"]
        out[f"burn_{r['short']}"] = rates["short"]
        fire = ((rates["long"] >= r["burn_rate"]) & (rates["short"] >= r["burn_rate"])
                & (long_n >= min_volume))
        for i in np.flatnonzero(fire):
            cur = firing.iloc[i]
            if cur is None or SEVERITIES.index(cur.split(":")[0]) < sev_rank:
                firing.iloc[i] = f"{r['severity']}:{name}"
    out["rule"] = firing.to_numpy()
    return out[out["at"] > window.start].reset_index(drop=True)


def _burn(ctx: c.Context, profile: pd.DataFrame, observations) -> list[Finding]:
    slo = ctx.runbook.spec.get("slo")
    if not slo:
        return []
    rules = slo["burn_rate_windows"]
    step = min(c.parse_width(r["short"]) for r in rules)
    table = burn_rates(ctx.units, ctx.window, slo["objective"], rules, ctx.min_volume, step)
    hot = table[table["rule"].notna()]
    if hot.empty:
        return []
    # one finding per run of firing instants; severity the most urgent rule seen in it
    run_id = hot["at"].diff().ne(step).cumsum()
    out = []
    for _, run in hot.groupby(run_id.to_numpy()):
        start, end = run["at"].min() - step, run["at"].max()
        sev = max((r.split(":")[0] for r in run["rule"]), key=SEVERITIES.index)
        rule = next(r for r in run["rule"] if r.startswith(sev + ":")).split(":")[1]
        long_col = f"burn_{rule.split('/')[0]}"
        peak = float(run[long_col].max())
        threshold = next(r["burn_rate"] for r in rules if f"{r['long']}/{r['short']}" == rule)
        suspects = c.attribute_run(ctx, "timeout", start, end)
        out.append(Finding(
            runbook=ctx.runbook.name, signal="slo_burn_rate", severity=sev, start=start,
            end=end, observed=peak, baseline=float(threshold),
            summary=(f"Error budget of the {slo['objective']:.0%} within "
                     f"{ctx.extra['budget']['seconds']:g} s SLO burning {peak:.1f}x too fast "
                     f"over {rule.split('/')[0]} (rule {rule}, threshold {threshold:g}x)"
                     f"{c.suspects_text(suspects)}"),
            unit="burn rate", suspects=suspects,
            trace_ids=c.top_trace_ids(ctx.units, start, end, "duration", {}),
            evidence={"burn_rates": table, "latency": profile}))
    return out
