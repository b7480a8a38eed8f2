"""``workbench check``: the runbook detectors over the last few hours, alerts sent, no notebook.

The daily report is the human view, once a day; this is the pager's view, every few minutes from
a schedule: pull the recent window (plus the baseline the detectors compare it with), run
:func:`workbench.analysis.detect_all`, send the firing findings at warning or worse through the
spool (so a re-run never sends twice and an outage loses nothing), all within one deadline.

Missing or partial data is never an all-clear: a source that fails or returns no traces for the
window makes the check *degraded* (exit 3) and, when it failed (unreachable, or a partial pull),
raises an alert of its own; findings on a failed or partial pull are shown, not alerted, as the
daily report's are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.alerts.alert import Alert
from workbench.alerts.delivery import Delivery, send
from workbench.deadline import Deadline
from workbench.errors import SourceError, WorkbenchError
from workbench.findings import SEVERITIES, Finding
from workbench.sources.traffic import set_aside_note

__all__ = ["ALERT_MIN_SEVERITY", "CheckResult", "run_check"]

#: Findings at or above this severity raise alerts.
ALERT_MIN_SEVERITY = "warning"


@dataclass
class CheckResult:
    """What one check saw and did."""

    start: pd.Timestamp
    end: pd.Timestamp
    traces: int
    findings: list[Finding]
    delivery: Delivery | None
    problems: list[str] = field(default_factory=list)
    #: runbook -> {agent: traces}: the agents whose own traffic in the window could not show
    #: a page-size change (:func:`workbench.analysis.detect.thin_traffic`)
    thin: dict[str, dict[str, int]] = field(default_factory=dict)
    #: the pull's traces that are not the application's traffic, left out
    #: (:func:`workbench.sources.traffic.set_aside_note`); None when nothing was
    set_aside: str | None = None
    #: the window was cut short of now, the newest minutes left to the next run; None when not
    settled: str | None = None

    @property
    def firing(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "firing"]

    @property
    def not_judged(self) -> list[Finding]:
        """The runbooks' "too little data to judge the window" findings: a check that fired
        nothing is no all-clear for them."""
        return [f for f in self.findings if f.status == "insufficient_data"]

    @property
    def degraded(self) -> bool:
        """The source failed or had nothing for the window, or alerts did not all arrive."""
        return bool(self.problems) or bool(self.delivery and self.delivery.degraded)


def _to_alertable(findings: list[Finding]) -> list[Finding]:
    floor = SEVERITIES.index(ALERT_MIN_SEVERITY)
    return [f for f in findings if f.status == "firing" and f.confirmed
            and SEVERITIES.index(f.severity) >= floor]


def _source_finding(name: str, why: str, start: pd.Timestamp, end: pd.Timestamp) -> Finding:
    return Finding(runbook="workbench_check", signal="source_degraded", severity="critical",
                   start=start, end=end, observed=float("nan"), baseline=float("nan"),
                   summary=f"check of {start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC is degraded: "
                           f"source {name!r}: {why}", labels={"source": name})


def run_check(since: pd.Timedelta, *, at: Any = None, source: str = "local",
              data_dir: str | Path | None = None, sink: str | None = None,
              runbooks_dir: str | Path | None = None,
              deadline: Deadline | None = None, now: Any = None) -> CheckResult:
    """Detect over ``[at - since, at)`` (``at`` default now, UTC) and send the alerts to ``sink``
    (None: send nothing). Every network wait is bounded by ``deadline``.

    A window reaching the last minutes before ``now`` (the clock, default the current time)
    ends where data has settled (:func:`~workbench.sources.freshness.settled_end`): traces
    still running or being ingested are the next run's."""
    from workbench import runbooks as runbook_mod
    from workbench import schema
    from workbench.analysis import detect_all
    from workbench.analysis.detect import thin_traffic, too_little_data, units_for
    from workbench.reports.daily import require_trace_source
    from workbench.sources import pulling, to_utc
    from workbench.sources.freshness import settled_end, settled_note
    from workbench.sources.window import ask_health, pull_window

    deadline = deadline or Deadline(None)
    now = to_utc(now) if now is not None else pd.Timestamp.now(tz="UTC")
    asked = to_utc(at).floor("min") if at is not None else now.floor("min")
    end = settled_end(asked, now)
    settled = settled_note(end) if end < asked else None
    start = end - since
    runbooks = runbook_mod.load_all(runbooks_dir)
    history = max((rb.baseline_window for rb in runbooks.values()), default=pd.Timedelta(0))
    pull_start = start - history
    problems: list[str] = []
    failure: str | None = None
    obs, traces, scores = (schema.empty("observations"), schema.empty("traces"),
                           schema.empty("scores"))
    name = source if isinstance(source, str) else getattr(source, "name", "source")
    require_trace_source(source)
    with deadline.active(), pulling(source, data_dir) as src:
        source_id = getattr(src, "identity", None)  # the ledger counts each source's alerts apart
        try:
            ask_health(src)  # within seconds, not after the check's whole budget
        except SourceError as exc:
            failure = f"{type(exc).__name__}: {exc}"
            problems.append(failure)
        else:
            pulled = pull_window(src, pull_start, end)
            obs, traces, scores = pulled.observations, pulled.traces, pulled.scores
            problems += pulled.problems
            # a partial pull is a failing source too: said by an alert of its own, as the
            # daily report's degraded alert says it
            failure = "; ".join(pulled.failures or pulled.incomplete) or None
    complete = not problems  # the pull failed or came back in part: nothing it shows is confirmed
    recent = int(((traces["start_time"] >= start) & (traces["start_time"] < end)).sum()) \
        if len(traces) else 0
    findings: list[Finding] = []
    thin: dict[str, dict[str, int]] = {}
    if not problems and recent == 0:
        problems.append(f"no traces between {start:%Y-%m-%d %H:%M} and {end:%H:%M} UTC: "
                        "nothing to judge (is the source the right one?)")
    if recent:
        try:
            units = units_for(runbooks, traces, obs, scores, start)
            judges: dict = {}  # the detectors' judges, asked again which agents were too small
            # findings on missing rows are shown, never alerted (the source alert is), as the
            # daily report's are
            findings = list(detect_all(runbooks, traces, obs, scores, start, end, units=units,
                                       confirmed=complete, judges=judges))
            unjudged = {f.runbook for f in findings if too_little_data(f)}
            thin = thin_traffic(runbooks, units, start, end, judges, unjudged)
        except WorkbenchError as exc:
            problems.append(f"detectors failed: {type(exc).__name__}: {exc}")
    alertable = _to_alertable(findings)
    if failure:
        alertable.append(_source_finding(name, failure, start, end))
    delivery = None
    if sink is not None:
        alerts = [Alert.from_finding(f, source_id=source_id) for f in alertable]
        delivery = send(alerts, sink, deadline=deadline)
    return CheckResult(start=start, end=end, traces=recent, findings=findings,
                       delivery=delivery, problems=problems, thin=thin,
                       set_aside=set_aside_note(obs), settled=settled)
