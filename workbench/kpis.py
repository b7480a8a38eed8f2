"""The daily KPI table and the simple daily threshold checks of the daily report.

One row per UTC day: volume, error and timeout rates, latency percentiles, tokens, cost and the
hallucination rate. Each runbook's ``daily:`` section names one KPI and its limits; a day breaches
when its KPI is over ``max_ratio_to_baseline`` times the median of the previous ``baseline_days``
days, or over ``max_value``. These checks are deliberately coarse: the hourly detectors in
:mod:`workbench.analysis` say when and why, the daily checks say which days to look at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench import schema
from workbench.errors import ConfigError
from workbench.findings import Finding
from workbench.runbooks import Runbook
from workbench.sources import to_utc

__all__ = ["KPI_COLUMNS", "KPI_UNITS", "check_findings", "check_table", "daily_checks", "daily_kpis",
           "hallucination_threshold"]

KPI_UNITS: Mapping[str, str] = {
    "traces": "traces",
    "error_rate": "ratio",
    "timeout_rate": "ratio",
    "latency_p50_s": "s",
    "latency_p95_s": "s",
    "latency_p99_s": "s",
    "input_tokens": "tokens",
    "output_tokens": "tokens",
    "total_tokens": "tokens",
    "cost_usd": "USD",
    "cost_per_trace_usd": "USD",
    "scored_traces": "traces",
    "hallucination_rate": "ratio",
}
KPI_COLUMNS = list(KPI_UNITS)

#: Status of one daily check.
OK, BREACH, INSUFFICIENT = "ok", "breach", "insufficient_data"


def hallucination_threshold(runbooks: Mapping[str, Runbook] | None = None) -> float:
    """The hallucination runbook's ``score_threshold`` (a score above it is a hallucination)."""
    if runbooks is None:
        from workbench import runbooks as rb_module

        rb = rb_module.load("hallucination_spike")
    else:
        try:
            rb = runbooks["hallucination_spike"]
        except KeyError:
            raise ConfigError("no hallucination_spike runbook to read score_threshold from; "
                              f"runbooks loaded: {sorted(runbooks)}") from None
    if "score_threshold" not in rb.spec:
        raise ConfigError(f"{rb.path}: score_threshold is missing")
    return float(rb.spec["score_threshold"])


def _day(ts: pd.Series) -> pd.Series:
    return ts.dt.floor("D")


def _hallucination(traces: pd.DataFrame, scores: pd.DataFrame, threshold: float,
                   score_name: str) -> pd.DataFrame:
    """Per day: scored traces and the share whose (worst) hallucination score is over threshold."""
    keep = scores["name"].eq(score_name).fillna(False) & scores["value"].notna()
    s = scores.loc[keep.to_numpy(dtype=bool), ["trace_id", "value", "timestamp"]]
    if s.empty:
        return pd.DataFrame({"scored_traces": pd.Series(dtype="int64"),
                             "hallucination_rate": pd.Series(dtype="float64")})
    per_trace = s.groupby("trace_id", observed=True).agg(value=("value", "max"),
                                                          ts=("timestamp", "min"))
    # A score belongs to the day its trace started; scores of traces outside the frame fall back
    # to their own timestamp.
    trace_day = pd.Series(_day(traces["start_time"]).array, index=traces["trace_id"])
    trace_day = trace_day[~trace_day.index.duplicated()]
    day = trace_day.reindex(per_trace.index)
    day = day.where(day.notna(), _day(per_trace["ts"])).astype(traces["start_time"].dtype)
    hallucinated = (per_trace["value"] > threshold).astype("float64")
    g = hallucinated.groupby(day.to_numpy())
    return pd.DataFrame({"scored_traces": g.size(), "hallucination_rate": g.mean()})


def daily_kpis(traces: pd.DataFrame, scores: pd.DataFrame,
               runbook_score_threshold: float | None = None, *,
               days: Iterable[Any] | None = None,
               score_name: str = "hallucination") -> pd.DataFrame:
    """One row per UTC day (index ``day``), columns :data:`KPI_COLUMNS`.

    ``runbook_score_threshold`` defaults to the hallucination runbook's ``score_threshold``.
    ``days`` fixes the rows (days without traces get ``traces == 0`` and NaN rates), so a day a
    source returned nothing shows as a gap instead of vanishing. Rates are shares of that day's
    traces: ``error_rate`` counts status ``error``, ``timeout_rate`` status ``timeout``.
    """
    schema.validate(traces, "traces")
    schema.validate(scores, "scores")
    threshold = (hallucination_threshold() if runbook_score_threshold is None
                 else float(runbook_score_threshold))
    t = traces
    day = _day(t["start_time"])
    frame = pd.DataFrame({
        "day": day,
        "error": t["status"].eq("error").fillna(False).astype("float64"),
        "timeout": t["status"].eq("timeout").fillna(False).astype("float64"),
        "duration_s": t["duration_s"],
        "input_tokens": t["input_tokens"].astype("float64"),
        "output_tokens": t["output_tokens"].astype("float64"),
        "total_tokens": t["total_tokens"].astype("float64"),
        "cost_usd": t["cost_usd"],
    })
    g = frame.groupby("day", sort=True)
    out = pd.DataFrame({
        "traces": g.size(),
        "error_rate": g["error"].mean(),
        "timeout_rate": g["timeout"].mean(),
        "latency_p50_s": g["duration_s"].quantile(0.50),
        "latency_p95_s": g["duration_s"].quantile(0.95),
        "latency_p99_s": g["duration_s"].quantile(0.99),
        "input_tokens": g["input_tokens"].sum(),
        "output_tokens": g["output_tokens"].sum(),
        "total_tokens": g["total_tokens"].sum(),
        "cost_usd": g["cost_usd"].sum(),
    })
    out = out.join(_hallucination(t, scores, threshold, score_name), how="outer")
    if days is not None:
        index = pd.DatetimeIndex([to_utc(d).floor("D") for d in days]).unique()
    elif len(out):
        index = pd.date_range(out.index.min(), out.index.max(), freq="D")
    else:
        index = pd.DatetimeIndex([], tz="UTC")
    out = out.reindex(index.astype(schema.empty("traces")["start_time"].dtype))
    out.index.name = "day"
    for col in ("traces", "scored_traces", "input_tokens", "output_tokens", "total_tokens"):
        out[col] = out[col].fillna(0).astype("int64")
    out["cost_usd"] = out["cost_usd"].fillna(0.0)
    out["cost_per_trace_usd"] = out["cost_usd"] / out["traces"].where(out["traces"] > 0)
    return out[KPI_COLUMNS]


def _runbook_list(runbooks: Mapping[str, Runbook] | Iterable[Runbook]) -> list[Runbook]:
    return list(runbooks.values()) if isinstance(runbooks, Mapping) else list(runbooks)


def check_table(kpis: pd.DataFrame, runbooks: Mapping[str, Runbook] | Iterable[Runbook],
                day: Any) -> pd.DataFrame:
    """Every runbook's daily check on ``day``: value, baseline median, ratio, limits, status."""
    day = to_utc(day).floor("D")
    rows = []
    for rb in _runbook_list(runbooks):
        spec = rb.daily
        kpi = spec["kpi"]
        if kpi not in kpis.columns:
            raise ConfigError(f"{rb.path}: daily.kpi {kpi!r} is not a daily KPI; "
                              f"known: {list(kpis.columns)}")
        n = int(spec["baseline_days"])
        has_data = kpis["traces"] > 0 if "traces" in kpis.columns else pd.Series(
            True, index=kpis.index)
        prior = kpis.index[(kpis.index >= day - pd.Timedelta(days=n)) & (kpis.index < day)]
        base_values = kpis.loc[prior, kpi][has_data.loc[prior]].dropna()
        value = (float(kpis.at[day, kpi]) if day in kpis.index and bool(has_data.get(day))
                 else float("nan"))
        baseline = float(base_values.median()) if len(base_values) else float("nan")
        max_ratio = float(spec["max_ratio_to_baseline"])
        max_value = float(spec["max_value"]) if "max_value" in spec else float("nan")
        if np.isnan(value) or np.isnan(baseline):
            ratio, status = float("nan"), INSUFFICIENT
        else:
            ratio = value / baseline if baseline else (np.inf if value > 0 else float("nan"))
            over_ratio = bool(ratio > max_ratio) if not np.isnan(ratio) else False
            over_value = bool(value > max_value) if not np.isnan(max_value) else False
            status = BREACH if over_ratio or over_value else OK
        rows.append({"runbook": rb.name, "kpi": kpi, "day": day, "value": value,
                     "baseline": baseline, "baseline_days": len(base_values), "ratio": ratio,
                     "max_ratio_to_baseline": max_ratio, "max_value": max_value,
                     "status": status})
    return pd.DataFrame(rows, columns=["runbook", "kpi", "day", "value", "baseline",
                                       "baseline_days", "ratio", "max_ratio_to_baseline",
                                       "max_value", "status"])


def _fmt(x: float, unit: str) -> str:
    if unit == "ratio":
        return f"{x:.2%}"
    if unit == "USD":
        return f"${x:,.2f}"
    return f"{x:,.4g} {unit}"


def daily_checks(kpis: pd.DataFrame, runbooks: Mapping[str, Runbook] | Iterable[Runbook],
                 day: Any) -> list[Finding]:
    """Findings for the daily checks of ``day`` that breach or cannot be judged.

    A breach is a ``warning`` (the daily view is coarse; the detectors grade severity). A check
    with no value for the day or no baseline days is an ``insufficient_data`` finding at ``info``,
    never a silent pass. Signal names are ``daily_<kpi>``; the ``day`` label makes each day's
    breach its own alert (a breach on Tuesday is not Monday's still firing).
    """
    return check_findings(kpis, check_table(kpis, runbooks, day))


def check_findings(kpis: pd.DataFrame, table: pd.DataFrame) -> list[Finding]:
    """:func:`daily_checks` from check tables already made (one day's, or several days'
    concatenated), in table order; ``kpis`` gives each finding its evidence."""
    out = []
    for row in table.itertuples(index=False):
        if row.status == OK:
            continue
        unit = KPI_UNITS.get(row.kpi, "")
        start = row.day
        when = start.strftime("%Y-%m-%d")
        if row.status == BREACH:
            limits = [f"limit {row.max_ratio_to_baseline:g}x"]
            if not np.isnan(row.max_value):
                limits.append(f"max {_fmt(row.max_value, unit)}")
            ratio = "inf" if np.isinf(row.ratio) else f"{row.ratio:.2f}"
            summary = (f"{row.kpi} on {when} was {_fmt(row.value, unit)}, {ratio}x the "
                       f"{row.baseline_days}-day median {_fmt(row.baseline, unit)} "
                       f"({', '.join(limits)})")
        elif np.isnan(row.value):
            summary = f"{row.kpi} on {when}: no traces that day, cannot judge"
        else:
            summary = (f"{row.kpi} on {when} was {_fmt(row.value, unit)}; no earlier days to "
                       "compare with, cannot judge")
        window = kpis.loc[(kpis.index >= start - pd.Timedelta(days=int(row.baseline_days or 0)))
                          & (kpis.index <= start)]
        out.append(Finding(
            runbook=row.runbook, signal=f"daily_{row.kpi}",
            severity="warning" if row.status == BREACH else "info",
            start=start, end=start + pd.Timedelta(days=1),
            observed=row.value, baseline=row.baseline, summary=summary,
            status="firing" if row.status == BREACH else "insufficient_data", unit=unit,
            labels={"day": when}, evidence={"daily_kpis": window}))
    return out
