"""The facts of one incident, read from an investigation: when it started, was detected,
peaked and resolved, what it cost, and which causes explain it.

Every figure comes from the engine the daily report and the runbook notebooks read (the
per-trace signals, :meth:`Judge.interval`, :meth:`Judge.totals`, attribution), so one window
gives one number wherever it is shown.

- **Started**: the first hour of the change the runbook's detectors found in the window, in the
  incident's scope: the agent asked for, or the one agent the findings name, or all traffic.
- **Detected**: the first alert of the runbook the alert ledger recorded as delivered after the
  change started and before it resolved (or the impact window ends, the data ending with the
  change still on), for an alert window starting on the incident's day before its end, of the
  incident's agent or of all traffic, and judged on the same source; an alert delivered only
  after that (a report run after the fact) is said, not taken for a detection. Without
  one, the first hour at whose end an hourly check would have seen a significant change at
  warning or worse (in the scope's traffic, or on a new version's own traffic as the check's
  canary test judges it), said as such.
- **Peaked**: the hour of the largest excess of the runbook's primary signal over what the
  baseline expects of that hour's traffic.
- **Resolved**: the first hour after the changed hours with no change of its own, or none
  ("not yet") when the data ends first.
- **Impact**, from Started to Resolved (or to the end of the data): requests and distinct users
  in scope, errors, timeouts against what the baseline expects, dollars spent against what it
  expects of the same requests (the excess cost), and the share of the error budget of the
  timeout_surge runbook's ``slo.objective`` (over its ``slo.period``, 30 days unless set) the
  excess timeouts used.
- **Causes**: attribution's suspects over the changed hours, each with the window's worst
  traces that fall in its slice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import runbooks as runbook_mod
from workbench.alerts.alert import alertname
from workbench.analysis import ALL, SIGNALS, Judge
from workbench.analysis.attribution import in_slice
from workbench.analysis.detect import Context, first_seen, new_version_interval
from workbench.findings import SEVERITIES, Finding
from workbench.investigate import Investigation
from workbench.reports.document import fmt_ratio, fmt_time, fmt_value

__all__ = ["SLO_PERIOD", "Event", "Incident", "examine"]

#: The period an SLO's error budget is counted over, unless the runbook's ``slo.period`` says.
SLO_PERIOD = pd.Timedelta(days=30)
#: An hourly check alerts at this severity or worse (as the daily report does).
_ALERT_FLOOR = "warning"
#: Root-cause candidates listed, and evidence traces per candidate.
_CAUSES, _EVIDENCE = 5, 3
_PROBLEM_NOTES = ("incomplete", "no traces", "no data")


@dataclass
class Event:
    """One timeline row: ``at`` is None when the event did not happen (or cannot be told)."""

    name: str
    at: pd.Timestamp | None
    what: str
    basis: str


@dataclass
class Incident:
    """What :func:`examine` found; see the module docstring."""

    inv: Investigation
    group: str
    findings: list[Finding]
    changed: tuple[pd.Timestamp, pd.Timestamp] | None
    resolved: pd.Timestamp | None
    data_end: pd.Timestamp | None
    window: tuple[pd.Timestamp, pd.Timestamp]
    timeline: list[Event]
    detected_by: str | None
    impact: dict[str, Any]
    causes: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)
    #: (delivered at, alertname) of the first alert delivered only after the incident was over
    #: (after Resolved, or after the data ends while it is still on), when none came while it
    #: ran: a report run after the fact, no detection
    late_alert: tuple[pd.Timestamp, str] | None = None

    @property
    def started(self) -> pd.Timestamp | None:
        return self.changed[0] if self.changed else None

    @property
    def detected(self) -> pd.Timestamp | None:
        return self.event("Detected").at

    @property
    def state(self) -> str:
        if self.changed is None:
            return "cannot judge (too little data)" if self.inv.too_little else \
                "no change found"
        return "resolved" if self.resolved is not None else "ongoing when the data ends"

    @property
    def severity(self) -> str:
        sevs = [f.severity for f in self.findings]
        return max(sevs, key=SEVERITIES.index) if sevs else "none"

    @property
    def scope(self) -> str:
        return "all traffic" if self.group == ALL else f"agent {self.group}"

    def event(self, name: str) -> Event:
        return next(e for e in self.timeline if e.name == name)


def _common_agent(findings: list[Finding]) -> str | None:
    agents = {f.labels.get("agent") for f in findings}
    return next(iter(agents)) if len(agents) == 1 and None not in agents else None


def _changed(j: Judge, pairs: Iterable[tuple[str, str]], a: pd.Timestamp,
             b: pd.Timestamp) -> bool:
    """Whether any (signal, group) shows a significant change at warning or worse in
    ``[a, b)``."""
    floor = SEVERITIES.index(_ALERT_FLOOR)
    for signal, group in pairs:
        iv = j.interval(signal, a, b, group)
        if iv.significant and iv.severity is not None and \
                SEVERITIES.index(iv.severity) >= floor:
            return True
    return False


def ledger_records(ledger: Any = None) -> list[dict[str, Any]]:
    """The alert ledger's records: ``ledger`` is a list of records, a spool file path, or
    None for the spool in the cache folder. An unreadable ledger is no alert history."""
    from workbench.alerts.spool import Spool
    from workbench.errors import WorkbenchError

    if isinstance(ledger, list):
        return ledger
    try:
        return list(Spool(ledger).ledger().values())
    except (WorkbenchError, OSError):
        return []


def _alerts(records: list[dict[str, Any]], runbook: str, group: str, started: pd.Timestamp,
            until: pd.Timestamp, source_id: str | None = None, *, anonymous: bool = True
            ) -> list[tuple[pd.Timestamp, str]]:
    """The firing alerts of ``runbook`` delivered after ``started`` for a window that starts
    on ``started``'s day before ``until``, earliest first, as (delivered at, alertname).

    For an agent's incident, only that agent's alerts and those on all traffic count (an
    alert on another agent, or on a slice across agents, detected something else). When
    ``source_id`` is known, only alerts judged on that source count: the ledger is shared by
    every project on the machine; a record naming no source (an older ledger's) counts only
    when ``anonymous`` (records the caller passed and vouches for)."""
    prefix = alertname(runbook, "")
    out = []
    for rec in records:
        try:
            if rec.get("outcome") != "delivered" or rec.get("state", "firing") != "firing":
                continue
            name = str(rec.get("alertname", ""))
            if not name.startswith(prefix):
                continue
            agent = rec.get("agent")
            if group != ALL and agent != group and not (rec.get("all_traffic")
                                                        or agent == ALL):
                continue
            rec_source = rec.get("source_id")
            if source_id is not None and rec_source != source_id and \
                    (rec_source or not anonymous):
                continue
            starts = pd.Timestamp(rec["starts_at"]).tz_convert("UTC")
            at = pd.Timestamp(rec["at"]).tz_convert("UTC")
        except (KeyError, TypeError, ValueError):
            continue
        if started.floor("D") <= starts < until and at >= started:
            out.append((at, name))
    return sorted(out)


def _would_alert(ctx: Context, findings: list[Finding]) -> pd.Timestamp | None:
    """The first hour end at which an hourly check would have seen one of ``findings``: the
    change in its scope's traffic, or a new version's own test worse (as the check's
    detectors judge a version the baseline never saw)."""
    j, first = ctx.judge, None
    floor = SEVERITIES.index(_ALERT_FLOOR)
    for f in findings:
        group = f.labels.get("agent") or ALL
        k = f.start + j.bucket
        while k < f.end + j.bucket:
            end = min(k, f.end)
            version = new_version_interval(ctx, f, f.start, end)
            if _changed(j, [(f.signal, group)], f.start, end) or (
                    version is not None and SEVERITIES.index(version.severity) >= floor):
                first = end if first is None else min(first, end)
                break
            k += j.bucket
    return first


def _slo(rbs: Mapping[str, runbook_mod.Runbook], units: pd.DataFrame, start: pd.Timestamp,
         end: pd.Timestamp, excess_timeouts: float | None, group: str = ALL
         ) -> dict[str, Any] | None:
    """The share of the service's SLO error budget the excess timeouts used. The objective is
    the whole service's (``timeout_surge`` ``slo.objective``), so its budget is sized on all
    traffic, an agent's incident included; the basis says so."""
    rb = rbs.get("timeout_surge")
    whose = "" if group == ALL else f" of all traffic, not {group} alone"
    objective = (rb.spec.get("slo") or {}).get("objective") if rb is not None else None
    if objective is None:
        return None
    objective = float(objective)
    period = rb.spec["slo"].get("period")
    period = runbook_mod.parse_duration(period) if period else SLO_PERIOD
    days = period / pd.Timedelta(days=1)
    j = Judge(rb, units, start, end)
    covered = j.baseline_coverage() / pd.Timedelta(days=1)
    if covered <= 0 or excess_timeouts is None:
        return {"objective": objective, "period_days": days, "consumed": None,
                "budget_events": None, "excess_events": excess_timeouts,
                "basis": "no baseline traffic to size the budget with"}
    per_day = j.baseline_units() / covered
    budget = (1.0 - objective) * per_day * days
    used = max(excess_timeouts, 0.0)
    return {"objective": objective, "period_days": days, "budget_events": budget,
            "excess_events": used, "consumed": used / budget if budget > 0 else None,
            "basis": (f"{used:,.1f} timeouts beyond the expected, of a {days:g}-day "
                      f"budget of {budget:,.0f} ({1 - objective:.2%} of ~{per_day:,.0f} "
                      f"requests a day{whose} at the baseline's rate; timeout_surge "
                      f"slo.objective {objective:g})")}


def _impact(inv: Investigation, rbs: Mapping[str, runbook_mod.Runbook], group: str,
            a: pd.Timestamp, b: pd.Timestamp) -> dict[str, Any]:
    rb, j, units = inv.runbook, inv.judge, inv.units
    primary = inv.primary
    t = units["time"]
    m = ((t >= a) & (t < b)).to_numpy()
    if group != ALL:
        m = m & (units["agent"].astype(str) == group).to_numpy()
    users = units.loc[m, "user_id"].dropna().astype(str)
    users = users[users != ""]
    iv = j.interval(primary, a, b, group)
    spec = SIGNALS[primary]
    pr: dict[str, Any] = {"signal": primary, "observed": iv.observed, "expected": iv.expected,
                          "ratio": iv.ratio, "p_value": iv.p_value, "units": iv.units,
                          "severity": iv.severity if iv.significant else None,
                          "direction": rb.signal(primary).get("direction", "up"),
                          "events": None, "expected_events": None}
    if spec.kind == "rate" and not spec.invert_display:
        tot = j.totals(primary, a, b, group)
        pr["events"], pr["expected_events"] = tot.value, tot.expected
    impact: dict[str, Any] = {"requests": int(m.sum()),
                              "users": int(users.nunique()) if len(users) else None,
                              "errors": int(units.loc[m, "error"].sum()), "primary": pr}
    excess_timeouts = None
    if "timeout_surge" in rbs:
        tj = j if rb.name == "timeout_surge" else Judge(rbs["timeout_surge"], units, inv.start,
                                                        inv.end)
        tt = tj.totals("timeout_rate", a, b, group)
        impact["timeouts"], impact["timeouts_expected"] = int(round(tt.value)), tt.expected
        excess_timeouts = tt.excess
    else:
        impact["timeouts"] = int(units.loc[m, "timeout"].sum())
        impact["timeouts_expected"] = None
    if "cost_spike" in rbs:
        cj = j if rb.name == "cost_spike" else Judge(rbs["cost_spike"], units, inv.start,
                                                     inv.end)
        ct = cj.totals("cost_per_request", a, b, group)
        impact.update(cost_usd=ct.value, expected_cost_usd=ct.expected,
                      excess_cost_usd=ct.excess)
    else:
        impact.update(cost_usd=float(units.loc[m, "cost"].sum()), expected_cost_usd=None,
                      excess_cost_usd=None)
    impact["slo"] = _slo(rbs, units, inv.start, inv.end, excess_timeouts, group)
    return impact


def _peak(inv: Investigation, group: str, a: pd.Timestamp, b: pd.Timestamp) -> Event:
    j, primary = inv.judge, inv.primary
    spec = SIGNALS[primary]
    down = inv.runbook.signal(primary).get("direction", "up") == "down" and spec.kind != "rate"
    best, peak = None, None
    h = a.floor(j.bucket)
    while h < b:
        tot = j.totals(primary, h, h + j.bucket, group)
        excess = -tot.excess if down else tot.excess
        if tot.units and (best is None or excess > best):
            best, peak = excess, h
        h += j.bucket
    if peak is None:
        return Event("Peaked", None, "no traffic in the changed hours", "the engine, by hour")
    iv = j.interval(primary, peak, peak + j.bucket, group)
    unit = str(inv.runbook.signal(primary).get("unit", ""))
    return Event("Peaked", peak, f"{primary} {fmt_value(iv.observed, unit)} against "
                 f"{fmt_value(iv.expected, unit)} expected "
                 f"({fmt_ratio(iv.observed, iv.expected)}):"
                 " the hour of the largest excess", "the engine, by hour")


def _causes(inv: Investigation, group: str, a: pd.Timestamp,
            b: pd.Timestamp) -> list[dict[str, Any]]:
    ctx = Context(inv.runbook, inv.judge, inv.view.observations)
    suspects = ctx.suspects(inv.primary, a, b, group, top=_CAUSES)
    worst = ctx.worst(inv.primary, a, b, group, n=500)
    ids = inv.units["trace_id"].astype(str).to_numpy()
    out = []
    for rank, s in enumerate(suspects, 1):
        members = set(ids[in_slice(inv.units, s)].tolist())
        out.append({"rank": rank, "suspect": s.label, "dimension": s.dimension,
                    "value": s.value, "within": dict(s.within), "contribution": s.contribution,
                    "incident": s.incident, "baseline": s.baseline,
                    # a version new since the baseline: when it shipped
                    "first_seen": first_seen(ctx, s),
                    "traces": [x for x in worst if x in members][:_EVIDENCE]})
    return out


def examine(inv: Investigation, *, ledger: Any = None,
            runbooks_dir: str | Path | None = None) -> Incident:
    """The incident in ``inv``'s window (see the module docstring). ``ledger``: the alert
    ledger's records, or the spool file whose ledger to read (default: the cache folder's)."""
    rb, j, units = inv.runbook, inv.judge, inv.units
    rbs = runbook_mod.load_all(runbooks_dir)
    rbs[rb.name] = rb
    firing = [f for f in inv.findings if f.status == "firing" and f.runbook == rb.name]
    group = inv.agent or _common_agent([f for f in firing if f.signal in j.signals()]) or ALL
    in_scope = [f for f in firing if group == ALL or f.labels.get("agent") in (None, group)]
    # the runbook page's rule for naming a cause, so the two agree on whether there is one
    scanned = inv.fired_on(group)
    data_end = units["time"].max() if len(units) else None
    problems = [n for n in inv.notes if any(p in n for p in _PROBLEM_NOTES)]
    changed = (min(f.start for f in scanned), max(f.end for f in scanned)) if scanned else None
    pairs = list(dict.fromkeys((f.signal, f.labels.get("agent") or ALL) for f in scanned))

    resolved = None
    if changed is not None and data_end is not None:
        h = changed[1]
        while h <= data_end:
            if not _changed(j, pairs, h, h + j.bucket):
                resolved = h
                break
            h += j.bucket
    if changed is None:
        window = (inv.start, inv.end)
    elif resolved is not None:
        window = (changed[0], resolved)
    else:
        window = (changed[0], max(changed[1], (data_end or changed[1]).floor(j.bucket)
                                  + j.bucket))
    a, b = window
    impact = _impact(inv, rbs, group, a, b)

    detected_by, late_alert = None, None
    if changed is None:
        timeline = [Event(name, None, "no changed hour in the window", "the runbook's detectors")
                    for name in ("Started", "Detected", "Peaked", "Resolved")]
        causes: list[dict[str, Any]] = []
    else:
        first = next(f for f in scanned if f.start == changed[0])
        timeline = [Event("Started", changed[0], f"first changed hour: {first.signal} "
                          f"{fmt_value(first.observed, first.unit)} against "
                          f"{fmt_value(first.baseline, first.unit)} expected",
                          "the runbook's detectors (hourly scan)")]
        alerts = _alerts(ledger_records(ledger), rb.name, group, changed[0], b,
                         inv.source_id, anonymous=isinstance(ledger, list))
        # an alert delivered once the incident was over (a report run after the fact)
        # detected nothing: said as such, never a detection after it resolved
        during = [x for x in alerts if x[0] <= b]
        late_alert = alerts[0] if alerts and not during else None
        if during:
            detected_by = during[0][1]
            timeline.append(Event("Detected", during[0][0],
                                  f"first alert: {detected_by} delivered", "the alert ledger"))
        else:
            at = _would_alert(Context(inv.runbook, j, inv.view.observations), scanned)
            none = "no alert recorded" if late_alert is None else \
                "no alert delivered while it ran"
            timeline.append(Event(
                "Detected", at, f"{none}; an hourly check would have alerted at this time"
                if at is not None else none,
                "what an hourly check would have seen (no alert in the alert ledger"
                + (")" if late_alert is None else " while it ran)")))
        timeline.append(_peak(inv, group, changed[0], b))
        timeline.append(
            Event("Resolved", resolved, "back to baseline: the first hour after the changed "
                  "hours with no change of its own", "the engine, by hour")
            if resolved is not None else
            Event("Resolved", None, f"not yet: the data ends at {fmt_time(data_end)} UTC with "
                  "the change still on", "the engine, by hour"))
        causes = _causes(inv, group, changed[0], changed[1])
        if causes and causes[0]["first_seen"] is not None:
            # the change the first candidate shipped, on the timeline before or after the
            # first changed hour (a release can go out hours before its effect shows)
            at = causes[0]["first_seen"]
            timeline.insert(0 if at <= changed[0] else 1, Event(
                "Shipped", at, f"{causes[0]['suspect']} first seen, new since the baseline",
                "the traces of the first root-cause candidate"))
    return Incident(inv=inv, group=group, findings=in_scope, changed=changed, resolved=resolved,
                    data_end=data_end, window=window, timeline=timeline,
                    detected_by=detected_by, impact=impact, causes=causes, problems=problems,
                    late_alert=late_alert)
