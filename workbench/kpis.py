"""The daily KPI table and the runbooks' whole-day checks of the daily report.

One row per UTC day: volume, error and timeout rates, latency percentiles, tokens, cost and the
hallucination rate, all read from the per-trace signals (:func:`workbench.analysis.trace_signals`)
so they are the detectors' numbers: a timeout here is a timeout there, each trace against its
agent's budget.

Each runbook's ``daily:`` section names one KPI and its limits. A day *breaches* when its KPI is
over ``max_ratio_to_baseline`` times the median of the previous ``baseline_days`` days (or over
``max_value``) **and** the runbook's primary signal over the whole day is significant against
the baseline expected for that day's traffic (:meth:`workbench.analysis.Judge.interval`): seven
flagged traces on a quiet day are not an incident, and spend up with traffic is growth, said as
such, not a cost breach. Spend up while cost per request is up too, but on too few traces to be
significant, is neither: the check says it cannot tell. A breach carries suspects, like every
finding.

"ok" is said only where the check could have said otherwise: a day whose traffic could not show
even the runbook's page-size change of the signal as significant (the same whole-day test,
:meth:`workbench.analysis.Judge.detectable`) cannot be judged, and the row says so with the
size it could show (``detectable``, ``reason``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.findings import Finding
from workbench.runbooks import Runbook
from workbench.sources import to_utc

__all__ = ["KPI_COLUMNS", "KPI_UNITS", "OK", "BREACH", "GROWTH", "INSUFFICIENT",
           "check_findings", "check_table", "daily_checks", "daily_kpis"]

KPI_UNITS: Mapping[str, str] = {
    "traces": "traces",
    "error_rate": "ratio",
    "timeout_rate": "ratio",
    "reported_timeout_rate": "ratio",
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
OK, BREACH, GROWTH, INSUFFICIENT = "ok", "breach", "growth", "insufficient_data"

#: significance of a whole-day check unless a runbook's ``daily.alpha`` says otherwise
DAILY_ALPHA = 1e-3

#: earlier days a whole day needs to be judged at ``daily.alpha``: how far one day's rate swings
#: from the next (traffic mix, a busy weekday) shows only across several days, and one or two
#: days' median says nothing of it. With fewer, a day breaches only at the detectors' own
#: ``evaluation.alpha``, or where they find an hour of it.
MIN_DAYS_FOR_A_DAY = 3

#: runbook -> the signal whose whole-day verdict confirms its daily KPI
_CONFIRMED_BY = {"cost_spike": "cost_per_request", "timeout_surge": "timeout_rate",
                 "hallucination_spike": "hallucination_rate"}


def daily_kpis(units: pd.DataFrame, *, days: Iterable[Any] | None = None) -> pd.DataFrame:
    """One row per UTC day (index ``day``), columns :data:`KPI_COLUMNS`, from per-trace signals.

    ``days`` fixes the rows (days without traces get ``traces == 0`` and NaN rates), so a day a
    source returned nothing shows as a gap instead of vanishing.
    """
    u = units
    day = u["time"].dt.floor("D")
    g = u.groupby(day, sort=True)
    scored = u["hallucinated"].notna()
    out = pd.DataFrame({
        "traces": g.size(),
        "error_rate": g["error"].mean(),
        "timeout_rate": g["timeout"].mean(),
        # of them, those the source reported (an error naming a timeout), the rest having run
        # past their agent's budget: a reader can tell a hung tool from slow answers
        "reported_timeout_rate": g["timeout_reported"].mean(),
        "latency_p50_s": g["duration"].quantile(0.50),
        "latency_p95_s": g["duration"].quantile(0.95),
        "latency_p99_s": g["duration"].quantile(0.99),
        "input_tokens": g["input_tokens"].sum(),
        "output_tokens": g["output_tokens"].sum(),
        "total_tokens": g["tokens"].sum(),
        "cost_usd": g["cost"].sum(),
        "scored_traces": scored.groupby(day).sum(),
        "hallucination_rate": u["hallucinated"].groupby(day).mean(),
    })
    if days is not None:
        index = pd.DatetimeIndex([to_utc(d).floor("D") for d in days]).unique()
    elif len(out):
        index = pd.date_range(out.index.min(), out.index.max(), freq="D")
    else:
        index = pd.DatetimeIndex([], tz="UTC")
    out = out.reindex(index.astype("datetime64[us, UTC]"))
    out.index.name = "day"
    for col in ("traces", "scored_traces", "input_tokens", "output_tokens", "total_tokens"):
        out[col] = out[col].fillna(0).astype("int64")
    out["cost_usd"] = out["cost_usd"].fillna(0.0).astype("float64")
    out["cost_per_trace_usd"] = out["cost_usd"] / out["traces"].where(out["traces"] > 0)
    return out[KPI_COLUMNS]


def _runbook_list(runbooks: Mapping[str, Runbook] | Iterable[Runbook]) -> list[Runbook]:
    return list(runbooks.values()) if isinstance(runbooks, Mapping) else list(runbooks)


_CHECK_COLUMNS = ["runbook", "kpi", "day", "value", "baseline", "baseline_days", "ratio",
                  "max_ratio_to_baseline", "max_value", "signal", "observed", "expected",
                  "p_value", "status", "detectable", "reason"]


def check_table(kpis: pd.DataFrame, runbooks: Mapping[str, Runbook] | Iterable[Runbook],
                day: Any, units: pd.DataFrame | None = None, *,
                judges: dict | None = None) -> pd.DataFrame:
    """Every runbook's daily check on ``day``: the KPI against its median, the primary signal's
    whole-day verdict (observed, expected for the day's traffic, p-value), and the status.
    ``judges``: a cache of judges over the same units, shared with :func:`check_findings` and
    the detectors (:func:`workbench.analysis.judge.judge_for`)."""
    from workbench.analysis.judge import judge_for

    day = to_utc(day).floor("D")
    rows = []
    for rb in _runbook_list(runbooks):
        spec = rb.daily
        kpi = spec["kpi"]
        if kpi not in kpis.columns:
            raise ConfigError(f"{rb.path}: daily.kpi {kpi!r} is not a daily KPI; "
                              f"known: {list(kpis.columns)}")
        n = int(spec["baseline_days"])
        has_data = kpis["traces"] > 0
        prior = kpis.index[(kpis.index >= day - pd.Timedelta(days=n)) & (kpis.index < day)]
        base_values = kpis.loc[prior, kpi][has_data.loc[prior]].dropna()
        value = (float(kpis.at[day, kpi]) if day in kpis.index and bool(has_data.get(day))
                 else float("nan"))
        baseline = float(base_values.median()) if len(base_values) else float("nan")
        max_ratio = float(spec["max_ratio_to_baseline"])
        max_value = float(spec["max_value"]) if "max_value" in spec else float("nan")
        signal = _CONFIRMED_BY.get(rb.name)
        observed = expected = p_value = detectable = float("nan")
        page = _page(rb, signal, max_ratio)
        n_units = 0
        flat = True  # the signal's day reaches none of its severities (cost per request as usual)
        held_back = False
        if units is not None and signal in rb.signals and not np.isnan(value):
            judge = judge_for(rb, units, day, day + pd.Timedelta(days=1), judges)
            iv = judge.whole_day(signal)  # a day among the baseline's, however they swing
            observed, expected, p_value = iv.observed, iv.expected, iv.p_value
            flat = iv.severity is None
            alpha = float(spec.get("alpha", DAILY_ALPHA))
            detectable = judge.smallest_finding(signal, alpha=alpha, whole_day=True)
            n_units = iv.units
            significant = iv.p_value <= alpha and judge.enough(iv)
            # a whole day against one or two earlier ones: its p-value cannot know how far
            # days swing, so it must be as improbable as an hour the detectors find
            held_back = significant and len(base_values) < MIN_DAYS_FOR_A_DAY \
                and iv.p_value > judge.alpha
            significant &= not held_back
            if not significant:
                # a few hours of change can drown in a whole day: the day also counts when
                # the hourly scan finds its change, for any agent
                hours = [h for g in judge.groups() for h in judge.scan(signal, g, 1)]
                if hours:
                    significant = True
                    p_value = min(h.p_value for h in hours)
        else:
            significant = units is None  # no units: the KPI alone decides
        if np.isnan(value) or np.isnan(baseline):
            ratio, status = float("nan"), INSUFFICIENT
        else:
            ratio = value / baseline if baseline else (np.inf if value > 0 else float("nan"))
            if not _over_limit(value, ratio, max_ratio, max_value):
                status = OK
            elif significant:
                status = BREACH
            elif rb.name != "cost_spike":
                status = INSUFFICIENT if held_back else OK
            else:  # growth only where cost per request stayed as expected; else too few to tell
                status = GROWTH if flat else INSUFFICIENT
            # "ok" is a verdict only where the day's traffic could show a change the runbook
            # pages for as significant: a handful of values passes any check
            if status == OK and detectable > page:
                status = INSUFFICIENT
        row = {"runbook": rb.name, "kpi": kpi, "day": day, "value": value,
               "baseline": baseline, "baseline_days": len(base_values), "ratio": ratio,
               "max_ratio_to_baseline": max_ratio, "max_value": max_value,
               "signal": signal, "observed": observed, "expected": expected,
               "p_value": p_value, "status": status, "detectable": detectable, "reason": None}
        if status == INSUFFICIENT:
            row["reason"] = _held_back(row) if held_back else \
                _cannot_judge(row, kpis, n_units, page)
        rows.append(row)
    return pd.DataFrame(rows, columns=_CHECK_COLUMNS)


def _page(rb: Runbook, signal: str | None, max_ratio: float) -> float:
    """The largest change the runbook names for the check's signal: its page threshold (a
    ratio to baseline), the check's own limit where it has none."""
    spec = rb.spec.get("signals", {}).get(signal) or {}
    page = spec.get("thresholds", {}).get("page")
    if page is None or spec.get("compare", "ratio") != "ratio":
        return max_ratio
    return max(float(page), max_ratio)


def _cannot_judge(row: Mapping[str, Any], kpis: pd.DataFrame, units: int,
                  page: float) -> str:
    """Why a check cannot judge its day: no value, no earlier days, too few values to show the
    runbook's page-size change (``page``), or spend and cost per request up on too few to
    tell."""
    kpi, when = row["kpi"], row["day"].strftime("%Y-%m-%d")
    unit = KPI_UNITS.get(kpi, "")
    value, baseline = row["value"], row["baseline"]
    if np.isnan(value):
        n = int(kpis["traces"].get(row["day"], 0)) if "traces" in kpis else 0
        if n == 0:
            return f"{kpi} on {when}: no traces that day, cannot judge"
        if kpi == "hallucination_rate":
            return (f"{kpi} on {when}: none of the day's {n:,} traces has a hallucination "
                    "score, cannot judge (the hourly detectors read the other evaluation "
                    "signals)")
        return f"{kpi} on {when}: no value in the day's {n:,} traces, cannot judge"
    if np.isnan(baseline):
        return (f"{kpi} on {when} was {_fmt(value, unit)}; no earlier days to compare with, "
                "cannot judge")
    head = _head(row)
    signal, detectable = row["signal"], row["detectable"]
    if not _over(row):  # "ok" on too few values
        from workbench.analysis import SIGNALS

        what = f"{units:,} {SIGNALS[signal].units_called()}"
        # the size that could show is a ratio to what the day's traffic expects, not to the
        # median: the day's own ratio is quoted beside it
        if np.isfinite(row["observed"]) and np.isfinite(row["expected"]):
            up = f"{row['observed'] / row['expected']:.2f}x" if row["expected"] > 0 else "new"
            head += (f"; {signal} {row['observed']:.4g} against {row['expected']:.4g} "
                     f"expected for the day's traffic ({up})")
        if np.isfinite(detectable):
            return (f"{head}; the day's {what} can only tell apart a {signal} change of "
                    f"{detectable:.1f}x or more (page threshold {page:g}x): too few to "
                    "judge")
        return (f"{head}; the day's {what} cannot show any {signal} change as significant "
                f"(page threshold {page:g}x): too few to judge")
    # over the limit with the signal up too, but not significant on the day's traffic
    up = f"{row['observed'] / row['expected']:.2f}x" if row["expected"] > 0 else "new"
    return (f"{head}; {signal} {row['observed']:.4g} against {row['expected']:.4g} expected "
            f"for the day's traffic ({up}), not significant (p={row['p_value']:.2g}): too few "
            "traces to tell a cost anomaly from growth, cannot judge")


def _head(row: Mapping[str, Any]) -> str:
    """The check's day against its median, as every reason opens."""
    kpi, when = row["kpi"], row["day"].strftime("%Y-%m-%d")
    unit = KPI_UNITS.get(kpi, "")
    ratio = "" if np.isnan(row["ratio"]) else \
        "inf" if np.isinf(row["ratio"]) else f"{row['ratio']:.2f}"
    return (f"{kpi} on {when} was {_fmt(row['value'], unit)}, "
            f"{ratio + 'x ' if ratio else ''}the {row['baseline_days']}-day median "
            f"{_fmt(row['baseline'], unit)} (limit {row['max_ratio_to_baseline']:g}x)")


def _held_back(row: Mapping[str, Any]) -> str:
    """Why a day over its limit and improbable at ``daily.alpha`` is not a breach: too few
    earlier days to know how far days swing, not improbable enough without, and no hour of it
    was a finding."""
    days = row["baseline_days"]
    up = f"{row['observed'] / row['expected']:.2f}x" if row["expected"] > 0 else "new"
    return (f"{_head(row)}; {row['signal']} {row['observed']:.4g} against "
            f"{row['expected']:.4g} expected for the day's traffic ({up}, "
            f"p={row['p_value']:.2g}), but {days} earlier day{'s' if days != 1 else ''} cannot "
            f"show how far a whole day swings (from {MIN_DAYS_FOR_A_DAY} they can) and no hour "
            "of it is a finding: cannot judge")


def _over_limit(value: float, ratio: float, max_ratio: float, max_value: float) -> bool:
    """A day over its check's limits: its ratio to the median, or its value (NaN: no limit)."""
    return bool((not np.isnan(ratio) and ratio > max_ratio)
                or (not np.isnan(max_value) and value > max_value))


def _over(row: Mapping[str, Any]) -> bool:
    """The cost check's own "cannot tell": over its limit, on too few to tell growth apart."""
    return row["runbook"] == "cost_spike" and _over_limit(
        row["value"], row["ratio"], row["max_ratio_to_baseline"], row["max_value"])


def daily_checks(kpis: pd.DataFrame, runbooks: Mapping[str, Runbook] | Iterable[Runbook],
                 day: Any, units: pd.DataFrame | None = None) -> list[Finding]:
    """The findings of ``day``'s checks (:func:`check_table` then :func:`check_findings`)."""
    books = runbooks if isinstance(runbooks, Mapping) else {rb.name: rb for rb in runbooks}
    return check_findings(kpis, check_table(kpis, books, day, units), books, units)


def _fmt(x: float, unit: str) -> str:
    if unit == "ratio":
        return f"{x:.2%}"
    if unit == "USD":
        return f"${x:,.2f}"
    return f"{x:,.4g} {unit}"


def check_findings(kpis: pd.DataFrame, table: pd.DataFrame,
                   runbooks: Mapping[str, Runbook] | None = None,
                   units: pd.DataFrame | None = None,
                   observations: pd.DataFrame | None = None,
                   confirmed: bool = True, *, judges: dict | None = None,
                   said: Iterable[tuple[str, Any]] = ()) -> list[Finding]:
    """Findings for the checks of ``table`` that breach, show growth or cannot be judged.

    A breach is a ``warning`` (the daily view is coarse; the hourly detectors grade severity)
    with suspects when ``runbooks`` and ``units`` are given; growth (spend up with traffic, cost
    per request flat) is ``info``; a check with no value for the day or no baseline days, or
    whose spend and cost per request are both up on too few traces to tell, is an
    ``insufficient_data`` finding, never a silent pass. Signal names are ``daily_<kpi>``; the
    ``day`` label makes each day's breach its own alert.

    A check whose day holds too few values to show the runbook's page-size change is an
    ``insufficient_data`` finding too, except on the ``said`` ``(runbook, day)`` pairs: where
    the runbook's detectors already say they cannot judge that day (one finding says it).
    """
    said = {(name, to_utc(day).floor("D")) for name, day in said}
    out = []
    for row in table.itertuples(index=False):
        if row.status == OK:
            continue
        if row.status == INSUFFICIENT and (row.runbook, row.day) in said \
                and not np.isnan(row.value) and not np.isnan(row.baseline) \
                and not _over(row._asdict()):
            continue  # "ok" on too few values, and the detectors say so already
        unit = KPI_UNITS.get(row.kpi, "")
        start = row.day
        when = start.strftime("%Y-%m-%d")
        suspects = []
        if row.status in (BREACH, GROWTH):
            limits = [f"limit {row.max_ratio_to_baseline:g}x"]
            if not np.isnan(row.max_value):
                limits.append(f"max {_fmt(row.max_value, unit)}")
            ratio = "inf" if np.isinf(row.ratio) else f"{row.ratio:.2f}"
            summary = (f"{row.kpi} on {when} was {_fmt(row.value, unit)}, {ratio}x the "
                       f"{row.baseline_days}-day median {_fmt(row.baseline, unit)} "
                       f"({', '.join(limits)})")
            if row.status == GROWTH:
                summary += (f"; cost per request {row.observed:.4f} against {row.expected:.4f} "
                            "expected: traffic growth, not a cost anomaly")
            elif not np.isnan(row.p_value):
                summary += (f"; {row.signal} {row.observed:.4g} against {row.expected:.4g} "
                            f"expected for the day's traffic (p={row.p_value:.2g})")
                if runbooks is not None and units is not None and row.runbook in runbooks:
                    suspects = _suspects(runbooks[row.runbook], units, observations,
                                         row.signal, start, judges)
                    if suspects:
                        summary += "; suspects: " + ", ".join(
                            f"{s.label} ({s.contribution:.0%})" for s in suspects[:2])
        else:
            summary = row.reason
        window = kpis.loc[(kpis.index >= start - pd.Timedelta(days=int(row.baseline_days or 0)))
                          & (kpis.index <= start)]
        status = {BREACH: "firing", GROWTH: "firing"}.get(row.status, "insufficient_data")
        out.append(Finding(
            runbook=row.runbook, signal=f"daily_{row.kpi}",
            severity="warning" if row.status == BREACH else "info",
            start=start, end=start + pd.Timedelta(days=1),
            observed=row.value, baseline=row.baseline, summary=summary, status=status,
            unit=unit, labels={"day": when}, suspects=suspects,
            p_value=float(row.p_value), confirmed=confirmed,
            evidence={"daily_kpis": window}))
    return out


def _suspects(rb: Runbook, units: pd.DataFrame, observations: pd.DataFrame | None,
              signal: str, day: pd.Timestamp, judges: dict | None = None) -> list:
    from workbench.analysis import ALL
    from workbench.analysis.detect import Context
    from workbench.analysis.judge import judge_for

    end = day + pd.Timedelta(days=1)
    ctx = Context(rb, judge_for(rb, units, day, end, judges), observations)
    return ctx.suspects(signal, day, end, ALL)
