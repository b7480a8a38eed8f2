"""The daily report's content: pull a window, compute KPIs and checks, run detectors, alert.

The notebook ``notebooks/daily_report.ipynb`` is a thin shell over :func:`build`; everything it
shows comes from the :class:`DailyReport` returned here, so the same numbers reach the HTML, the
summary JSON and the alerts. A source that fails does not stop the report: it is *degraded*,
says which source failed and why, and raises a degraded-report alert.

Sources: the trace source by name (``local`` reads a folder; ``tempo`` reads ``TEMPO_URL`` and
its optional ``TEMPO_*`` settings; ``langfuse`` reads
``LANGFUSE_PUBLIC_KEY``/``LANGFUSE_SECRET_KEY``/``LANGFUSE_BASE_URL``: credentials never travel
as parameters), and Prometheus whenever ``PROMETHEUS_URL`` is set (the "Metrics (Prometheus)"
section, see :func:`workbench.metrics_overview.metrics_section`).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from workbench import kpis as kpi_mod
from workbench import links
from workbench import runbooks as runbook_mod
from workbench import schema
from workbench.alerts import Alert, Delivery, send
from workbench.analysis.detect import (
    sensitivity_columns,
    sensitivity_table,
    thin_agents,
    thin_note,
    thin_traffic,
    too_little_data,
    units_for,
)
from workbench.analysis.signals import (
    SCORE_SIGNALS,
    score_flags,
    score_notes,
    scores_pending_since,
)
from workbench.deadline import Deadline
from workbench.errors import ConfigError, SourceError, WorkbenchError
from workbench.findings import SEVERITIES, Finding, urgency
from workbench.metrics_overview import DEFAULT_STEP, ENV_URL, MetricsSection, metrics_section
from workbench.reports import html as report_html
from workbench.reports.summary import redact_url, safe_parameters, write_summary
from workbench.sources import SOURCES, TraceSource, open_trace_source, pulling, to_utc
from workbench.sources import conventions as conv
from workbench.sources.conventions import Coverage, coverage
from workbench.sources.freshness import margin_text, settled_end
from workbench.sources.traffic import set_aside_note
from workbench.sources.window import ask_health, pull_window

__all__ = ["DailyReport", "SourceStatus", "build", "check_sources", "open_source",
           "report_stem", "require_trace_source"]

#: Findings at or above this severity raise alerts.
ALERT_MIN_SEVERITY = "warning"
#: How many of a runbook's investigation steps and mitigations a finding shows.
NEXT_STEPS = 3


def report_stem(date: Any) -> str:
    """``daily-report-2026-11-06``: the name shared by the notebook, HTML and summary."""
    return f"daily-report-{to_utc(date):%Y-%m-%d}"


def parse_day(date: Any) -> pd.Timestamp:
    """The UTC day ``date`` falls in; a clear error for anything unparsable."""
    try:
        return to_utc(date).floor("D")
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"bad date {date!r}: expected YYYY-MM-DD") from exc


def require_trace_source(name: str | TraceSource) -> None:
    """Refuse Prometheus as a report's trace source: it joins through its own section."""
    if isinstance(name, str) and name in SOURCES:
        module, cls = SOURCES[name]
        if not issubclass(getattr(importlib.import_module(module), cls), TraceSource):
            raise ConfigError(f"source {name!r} is not a trace source (it serves metrics); "
                              f"Prometheus joins the report through {ENV_URL}")


def open_source(name: str | TraceSource, data_dir: str | Path | None = None) -> TraceSource:
    """The report's trace source, without a progress bar (nobody watches a report)."""
    require_trace_source(name)
    extra = {"progress": False} if name in ("langfuse", "tempo") else {}
    return open_trace_source(name, data_dir, **extra)


def _close(src: Any) -> None:
    close = getattr(src, "close", None)
    if callable(close):
        close()


def check_sources(source: str | TraceSource, data_dir: str | Path | None = None) -> None:
    """Raise :class:`ConfigError` before any kernel starts when the trace source cannot be opened
    with what it was given (its folder, or its environment variables) or a set
    ``PROMETHEUS_URL`` is unusable. Nothing is fetched."""
    _close(open_source(source, data_dir))
    if os.environ.get(ENV_URL):
        from workbench.sources.prometheus import PrometheusSource

        PrometheusSource().close()


def _reachable(src: TraceSource, status: SourceStatus) -> bool:
    """Ask a remote source's health endpoint first: one that is down is reported within
    seconds, not after every time slice of the window has spent its retries."""
    try:
        ask_health(src)
    except SourceError as exc:
        status.problems.append(f"unreachable: {type(exc).__name__}: {exc}")
        return False
    return True


@dataclass
class SourceStatus:
    """Whether the trace source delivered; ``reason`` says what failed when it did not."""

    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def degraded(self) -> bool:
        return bool(self.problems)

    @property
    def reason(self) -> str | None:
        return "; ".join(self.problems) or None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": "degraded" if self.degraded else "ok",
                "degraded": self.degraded, "reason": self.reason}


def _detect(runbooks: dict, traces: pd.DataFrame, obs: pd.DataFrame, scores: pd.DataFrame,
            start: pd.Timestamp, end: pd.Timestamp, units: pd.DataFrame, complete: bool,
            judges: dict | None = None) -> tuple[list[Finding], str | None]:
    """The hourly runbook detectors over ``[start, end)``; a note when they failed on purpose
    (a WorkbenchError), so the daily checks still reach the reader."""
    from workbench.analysis import detect_all

    try:
        return list(detect_all(runbooks, traces, obs, scores, start, end, units=units,
                               confirmed=complete, judges=judges)), None
    except WorkbenchError as exc:
        return [], f"hourly detectors failed: {type(exc).__name__}: {exc}"


def _order(f: Finding) -> tuple:
    """Most urgent first within each day (the notebook says so), then by start: a daily check
    starting at midnight never goes above a worse finding of that afternoon."""
    return (f.start.floor("D"), *urgency(f), f.runbook, f.signal)


@dataclass
class DailyReport:
    """Everything the daily report shows, for ``date`` with ``days`` of context ending on it."""

    date: pd.Timestamp
    days: int
    alert_days: int
    source: SourceStatus
    runbooks: dict[str, runbook_mod.Runbook]
    traces: pd.DataFrame
    observations: pd.DataFrame
    scores: pd.DataFrame
    units: pd.DataFrame
    all_kpis: pd.DataFrame
    checks: pd.DataFrame
    findings: list[Finding]
    coverage: Coverage = field(default_factory=lambda: Coverage(traces=0))
    notes: list[str] = field(default_factory=list)
    metrics: MetricsSection = field(default_factory=MetricsSection)
    #: The run's wall-clock deadline; alert delivery waits within it too.
    deadline: Deadline | None = None
    #: The local source's folder (None for remote sources): the next-step commands name it.
    data_dir: str | None = None
    #: Which data the report judged (:attr:`~workbench.sources.TraceSource.identity`), sent
    #: with its alerts so a post-mortem of another project never counts them.
    source_id: str | None = None
    #: Traces from then on may not have their evaluation scores yet (None: all are in).
    scores_pending: pd.Timestamp | None = None
    #: runbook -> {agent: traces in the alert window}: the agents too small to judge on their
    #: own traffic (:func:`workbench.analysis.detect.too_little_traffic`), for the runbooks
    #: that could judge the window as a whole
    thin: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Per runbook, agent and primary signal, the smallest change the agent's traffic could
    #: show over an hour, six hours and the alert window
    #: (:func:`workbench.analysis.detect.sensitivity`): what a miss would look like
    sensitivity: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The report day is not over: everything is judged up to here (None: the whole day is)
    judged_until: pd.Timestamp | None = None

    @property
    def window_start(self) -> pd.Timestamp:
        return self.date - pd.Timedelta(days=self.days - 1)

    @property
    def window_end(self) -> pd.Timestamp:
        return self.judged_until or self.date + pd.Timedelta(days=1)

    @property
    def alert_start(self) -> pd.Timestamp:
        return self.date - pd.Timedelta(days=self.alert_days - 1)

    @property
    def score_threshold(self) -> float:
        """Above this a hallucination score marks a trace hallucinated."""
        return score_flags(self.runbooks)

    @property
    def no_data(self) -> bool:
        """The report day had no traces (or a tenth of its usual volume)."""
        return any(f.signal == "no_data" for f in self.findings)

    def not_judged(self) -> list[str]:
        """The runbooks whose detectors could not judge the alert window at all (too little
        data): said wherever the report says nothing fired, so silence is no all-clear."""
        return sorted({f.runbook for f in self.findings
                       if too_little_data(f) and f.end > self.alert_start})

    def too_little_traffic(self) -> list[dict[str, Any]]:
        """``[{"agent", "traces", "runbooks"}]``, fewest traces first: the agents whose own
        traffic in the alert window cannot show a page-size change of a runbook that judged
        the window as a whole (so an agent's miss is never silent)."""
        return thin_agents(self.thin)

    def too_little_traffic_note(self, prefix: str = "too little traffic to judge: "
                                ) -> str | None:
        """The one line naming :meth:`too_little_traffic`, None when every agent is judged."""
        return thin_note(self.thin, self._title, prefix)

    def sensitivity_summary(self) -> dict[str, Any]:
        """:attr:`sensitivity` for the summary JSON, where NaN and inf cannot be told apart:
        a ratio, null where no change could be told apart, ``"new"`` where the baseline never
        saw the event (any ``min_events`` of them would be new)."""
        def value(x: float) -> float | str | None:
            return "new" if np.isnan(x) else None if np.isinf(x) else round(float(x), 3)

        windows = [*sensitivity_columns(), "window"]
        rows = [{**{k: r[k] for k in ("runbook", "agent", "signal", "units", "window_h")},
                 **{c: value(r[c]) for c in windows}}
                for r in self.sensitivity.to_dict(orient="records")]
        return {"note": "smallest change (ratio to the agent's baseline) that could be a "
                        "finding over each window at the agent's average traffic; null: none "
                        "could; \"new\": the baseline never saw the event", "rows": rows}

    def score_names(self) -> dict[str, list[str]]:
        """Per agent, the evaluations its traces carry in the alert window: the score signals
        they feed (``groundedness``) and, as named, scores no signal reads (``Correctness``).
        An agent missing one score is then not said to have none."""
        units = self.units.loc[(self.units["time"] >= self.alert_start)
                               & (self.units["time"] < self.window_end)]
        out: dict[str, list[str]] = {}
        for name in SCORE_SIGNALS:
            if name in units:
                for agent in units.loc[units[name].notna(), "agent"].unique():
                    out.setdefault(str(agent), []).append(name)
        unread = set(self.units.attrs.get("unmapped_scores") or ())
        if unread and len(self.scores):
            raw = self.scores.loc[self.scores["name"].isin(unread), ["trace_id", "name"]]
            agents = units.drop_duplicates("trace_id").set_index("trace_id")["agent"]
            raw = raw.assign(agent=raw["trace_id"].map(agents)).dropna(subset=["agent"])
            for agent, names in raw.groupby("agent")["name"]:
                out.setdefault(str(agent), []).extend(sorted(set(names.astype(str))))
        return out

    def _title(self, name: str) -> str:
        return self.runbooks[name].title if name in self.runbooks else name

    @property
    def degraded(self) -> bool:
        """The trace source or Prometheus failed, or the day has no data: the report cannot
        vouch for what it shows."""
        return self.source.degraded or self.metrics.degraded or self.no_data

    def degraded_sources(self) -> list[dict[str, str | None]]:
        """``[{"name", "reason"}]`` of every source that failed."""
        out = [{"name": self.source.name, "reason": self.source.reason}] \
            if self.source.degraded else []
        if self.metrics.degraded:
            out.append({"name": self.metrics.name, "reason": self.metrics.reason})
        return out

    @property
    def kpis(self) -> pd.DataFrame:
        """The KPI table of the window (one row per day), without the baseline days before it."""
        return self.all_kpis.loc[self.all_kpis.index >= self.window_start]

    def window(self, frame: pd.DataFrame, column: str = "start_time") -> pd.DataFrame:
        ts = frame[column]
        return frame.loc[(ts >= self.window_start) & (ts < self.window_end)]

    def _source_finding(self, name: str, reason: str | None) -> Finding:
        return Finding(runbook="daily_report", signal="source_degraded", severity="critical",
                       start=self.window_start, end=self.window_end, observed=float("nan"),
                       baseline=float("nan"), unit="",
                       summary=f"daily report for {self.date:%Y-%m-%d} is degraded: source "
                               f"{name!r} failed: {reason}",
                       labels={"source": name})

    def degraded_finding(self) -> Finding | None:
        """The finding behind the trace source's degraded-report alert, when it failed."""
        if not self.source.degraded:
            return None
        return self._source_finding(self.source.name, self.source.reason)

    def degraded_findings(self) -> list[Finding]:
        """One degraded-report finding per failed source (labelled with the source's name)."""
        return [self._source_finding(d["name"], d["reason"]) for d in self.degraded_sources()]

    def alert_findings(self) -> list[Finding]:
        """Firing findings at warning or worse that touch the alert window, and degradation.

        A finding made on incomplete data is not alerted: missing rows must never page anyone
        for an incident; the degraded-report alert says the data was incomplete instead.
        """
        floor = SEVERITIES.index(ALERT_MIN_SEVERITY)
        out = [f for f in self.findings if f.status == "firing" and f.confirmed
               and SEVERITIES.index(f.severity) >= floor and f.end > self.alert_start]
        return out + self.degraded_findings()

    def send_alerts(self, url: str | None, out_dir: str | Path,
                    report_url: str | None = None) -> Delivery:
        """Send the alert findings to ``url`` (default ``<out_dir>/alerts.jsonl``) within the
        run's deadline; the spool in the cache folder keeps what could not be delivered.
        Each alert's ``generatorURL`` is ``report_url`` (default: where this report's HTML
        is published, see :func:`workbench.links.report_url`)."""
        sink = url or os.environ.get("WORKBENCH_ALERTS_URL") or str(Path(out_dir) /
                                                                    "alerts.jsonl")
        generator = report_url or links.report_url(f"{report_stem(self.date)}.html", out_dir)
        alerts = [Alert.from_finding(f, notebook=self._notebook(f), generator_url=generator,
                                     source_id=self.source_id)
                  for f in self.alert_findings()]
        return send(alerts, sink, deadline=self.deadline)

    def next_steps(self, f: Finding) -> dict[str, Any] | None:
        """What to do about finding ``f``: its runbook's first investigation steps and
        mitigations, the runbook's URL, and the exact commands that open the runbook notebook
        and write the post-mortem over the finding's window (and agent). None for findings
        of no runbook (the report's own health) and for ``info`` ones (traffic growth is no
        incident to mitigate)."""
        rb = self.runbooks.get(f.runbook)
        if rb is None or f.status != "firing" or f.severity == "info":
            return None
        agent = f.labels.get("agent")
        window = (f.start, f.end, self.source.name, self.data_dir, agent)
        return {
            "runbook": rb.name, "title": rb.title,
            "runbook_url": links.runbook_url(rb.name, rb.notebook),
            "investigation": [str(s) for s in rb.spec.get("investigation", [])[:NEXT_STEPS]],
            # the one for the kind of cause the finding names first, then the runbook's
            "mitigations": rb.mitigations(f.suspects, agent, general=NEXT_STEPS),
            "runbook_command": links.runbook_command(rb.name, *window),
            "postmortem_command": links.postmortem_command(rb.name, *window),
        }

    def _notebook(self, f: Finding) -> str | None:
        rb = self.runbooks.get(f.runbook)
        return rb.notebook if rb else "notebooks/daily_report.ipynb"

    # -- what the notebook displays -------------------------------------------------------------
    def header_html(self) -> str:
        # The shared header banners the trace source; a Prometheus failure gets its own banner.
        head = report_html.header(replace(self, metrics=MetricsSection()))
        return head + ("\n" + self.metrics.banner() if self.metrics.degraded else "")

    def kpi_table_html(self) -> str:
        return report_html.kpi_table(self.kpis, self.findings)

    def findings_html(self) -> str:
        return report_html.findings(self)

    def metrics_html(self) -> str:
        return self.metrics.html(self.findings)

    def metrics_figure(self) -> Any:
        """The Prometheus series of the window (a plotly figure), or None without data."""
        return self.metrics.figure()

    # -- the summary JSON -----------------------------------------------------------------------
    def summary(self, parameters: dict[str, Any], delivery: Delivery | None) -> dict[str, Any]:
        alerts: dict[str, Any] = {"sink": None, "sent": [], "spooled": [], "redelivered": [],
                                  "errors": []}
        if delivery is not None:
            alerts = delivery.to_dict()
            alerts["sink"] = redact_url(alerts["sink"])
        day_checks = self.checks.loc[self.checks["day"] == self.date]
        return {
            "report": "daily",
            "date": f"{self.date:%Y-%m-%d}",
            "generated_at": pd.Timestamp.now(tz="UTC"),
            "window": {"start": self.window_start, "end": self.window_end,
                       "alert_start": self.alert_start},
            "parameters": safe_parameters(parameters),
            "source": self.source.to_dict(),
            "degraded": self.degraded,
            "degraded_sources": self.degraded_sources(),
            "no_data": self.no_data,
            "judged_until": self.judged_until,
            "not_judged": self.not_judged(),
            "too_little_traffic": {"note": self.too_little_traffic_note(),
                                   "agents": self.too_little_traffic()},
            "sensitivity": self.sensitivity_summary(),
            "coverage": self.coverage.to_dict(),
            "reconciliation": self.traces.attrs.get("langfuse", {}).get("reconciliation"),
            "kpis": self.kpis,
            "checks": day_checks,
            "findings": [{**f.to_dict(), "next_steps": self.next_steps(f)}
                         for f in self.findings],
            "metrics": self.metrics.to_dict(self.findings),
            "alerts": alerts,
            "notes": list(self.notes),
            "scores_pending_since": self.scores_pending,
        }

    def write_summary(self, out_dir: str | Path, parameters: dict[str, Any],
                      delivery: Delivery | None, *, redact: bool = True) -> Path:
        path = Path(out_dir) / f"{report_stem(self.date)}.summary.json"
        return write_summary(path, self.summary(parameters, delivery), redact=redact)


#: how unlikely a day as quiet as the report day must be, given the usual volume, to be a
#: ``no_data`` finding (with a tenth of the usual volume or less)
NO_DATA_ALPHA = 1e-3


def _no_data(units: pd.DataFrame, day: pd.Timestamp, kpis: pd.DataFrame,
             until: pd.Timestamp | None = None) -> Finding | None:
    """A finding when the report day has no traces (or a tenth of its usual volume) while the
    days before it had them: silence from a source is never an all-clear. ``until``: the day is
    in progress, and ``kpis`` count every day up to that time of day.

    The usual volume is the median of the week before, or the same weekday in the weeks before
    when that was quieter: a weekend of a business-hours agent is its usual quiet, not an outage.
    Of those weekdays the busiest counts, so an outage a week earlier does not make a second
    one look usual. A small team's silence counts too, once it is too unlikely to be chance
    (Poisson, :data:`NO_DATA_ALPHA`): a silent day where 10 traces were usual is a finding, one
    where 4 were usual is not.
    """
    before = kpis.loc[(kpis.index < day) & (kpis.index >= day - pd.Timedelta(days=7)), "traces"]
    usual = float(before[before > 0].median()) if (before > 0).any() else 0.0
    reached = kpis.index[kpis["traces"].to_numpy() > 0]
    # the weekdays the history reaches: their own volume counts
    same = [d for d in (day - pd.Timedelta(weeks=k) for k in range(1, 5))
            if d in kpis.index and len(reached) and reached.min() <= d]
    if same:
        usual = min(usual, max(float(kpis.at[d, "traces"]) for d in same))
    seen = int(kpis.at[day, "traces"]) if day in kpis.index else 0
    if seen >= 0.1 * usual or special.pdtr(seen, usual) > NO_DATA_ALPHA:
        return None
    severity = "critical" if seen == 0 else "warning"
    what = "no traces" if seen == 0 else f"only {seen:,} traces"
    if until is not None:
        what += f" by {until:%H:%M} UTC"
    return Finding(runbook="daily_report", signal="no_data", severity=severity, start=day,
                   end=day + pd.Timedelta(days=1), observed=float(seen), baseline=usual,
                   unit="traces",
                   summary=(f"{what} on {day:%Y-%m-%d} where {usual:,.0f} were usual (the "
                            "median of the week before, or the same weekday in the weeks "
                            "before): "
                            "the source, the instrumentation or the traffic stopped; nothing "
                            "can be judged on this day"),
                   labels={"day": f"{day:%Y-%m-%d}"})


def build(date: Any, source: str | TraceSource = "local", data_dir: str | Path | None = None,
          *, days: int = 7, alert_days: int = 1, runbooks_dir: str | Path | None = None,
          prometheus: Any = None, metrics_step: Any = DEFAULT_STEP,
          deadline: Deadline | None = None, now: Any = None) -> DailyReport:
    """:func:`_build` under one wall-clock ``deadline`` for every network wait of the report.

    ``deadline``: the run's :class:`~workbench.deadline.Deadline`; None takes the one the
    report command handed to this kernel (``WORKBENCH_DEADLINE_AT``), else no bound. It is
    active (:meth:`Deadline.active`) while sources pull, so any httpx client built on
    :class:`~workbench.deadline.DeadlineTransport` obeys it (work handed to threads needs
    :func:`~workbench.deadline.in_context`), and it bounds the alert delivery after.
    ``now``: the clock (default the current time), which says whether the day is over.
    """
    deadline = deadline or Deadline.from_env() or Deadline(None)
    with deadline.active():
        report = _build(date, source, data_dir, days=days, alert_days=alert_days,
                        runbooks_dir=runbooks_dir, prometheus=prometheus,
                        metrics_step=metrics_step,
                        now=to_utc(now) if now is not None else pd.Timestamp.now(tz="UTC"))
    report.deadline = deadline
    return report


def _build(date: Any, source: str | TraceSource = "local", data_dir: str | Path | None = None,
           *, days: int = 7, alert_days: int = 1, runbooks_dir: str | Path | None = None,
           prometheus: Any = None, metrics_step: Any = DEFAULT_STEP,
           now: pd.Timestamp) -> DailyReport:
    """Pull ``days`` days ending on ``date`` (plus the checks' baseline days before them),
    compute the per-trace signals once, and from them the KPIs, the daily checks of every day of
    the window and the detectors over the alert window.

    A report day not over at ``now`` is judged up to where its data has settled
    (:func:`~workbench.sources.freshness.settled_end`), its checks against the same hours of
    the days before: a morning is no outage, and no verdict on the day either.

    ``deadline`` bounds every pull of the report together (one budget, not one per frame);
    slices are pulled newest first, so a pull cut short loses the oldest baseline hours.
    ``prometheus``: None adds the Prometheus section when ``PROMETHEUS_URL`` is set; False
    leaves it out; a ``PrometheusSource`` is used as given.
    """
    day = parse_day(date)
    if int(days) < 1 or int(alert_days) < 1:
        raise ConfigError(f"days ({days}) and alert_days ({alert_days}) must be at least 1")
    runbooks = runbook_mod.load_all(runbooks_dir)
    require_trace_source(source)
    window_start = day - pd.Timedelta(days=int(days) - 1)
    end = settled_end(day + pd.Timedelta(days=1), now)
    judged_until = end if end < day + pd.Timedelta(days=1) else None
    lead = max((int(rb.daily["baseline_days"]) for rb in runbooks.values()), default=0)
    pull_start = window_start - pd.Timedelta(days=lead)
    # every pull of the report under the one deadline, no progress bar in the document
    with pulling(source, data_dir) as src:
        status = SourceStatus(name=source if isinstance(source, str) else src.name)
        source_id = getattr(src, "identity", None)
        if _reachable(src, status):
            pulled = pull_window(src, pull_start, end)
            status.problems += pulled.problems
            obs, traces, scores = pulled.observations, pulled.traces, pulled.scores
        else:
            obs, traces, scores = (schema.empty("observations"), schema.empty("traces"),
                                   schema.empty("scores"))

    notes = []
    if judged_until is not None and judged_until <= day:
        notes.append(f"the report day has not begun yet (data is judged once {margin_text()}"
                     " old): nothing of it is judged")
    elif judged_until is not None:
        notes.append(f"the report day is not over: judged up to {judged_until:%H:%M} UTC (the "
                     f"last {margin_text()} are left to traces still running or "
                     "being ingested); its checks compare the day so far with the same hours of "
                     "the days before")
    complete = not status.degraded
    # The hourly detectors judge the alert window (the report day by default, like the runbooks'
    # 24h lookback); they need a day of data before what they judge as a baseline.
    detect_start = day - pd.Timedelta(days=int(alert_days) - 1)
    if len(traces):
        first_day = traces["start_time"].min().floor("D")
        if detect_start <= first_day:
            detect_start = first_day + pd.Timedelta(days=1)
            notes.append(f"hourly detectors judged from {detect_start:%Y-%m-%d}: the day before "
                         "is their first baseline")
    units = units_for(runbooks, traces, obs, scores, min(detect_start, end))
    notes += list(units.attrs["budgets"].notes)
    cov = coverage(obs, scores)
    if aside := set_aside_note(obs):
        notes.append(aside)
    notes += cov.notes
    if unmapped := units.attrs.get("unmapped_scores"):
        notes.append(f"score names not used by any signal: {', '.join(unmapped[:8])}")
    if lost := units.attrs.get("unmapped_categories"):
        notes.append(conv.unmapped_categories_note(lost))
    notes += units.attrs.get("score_scales", [])
    notes += score_notes(units, end, now)
    pending = scores_pending_since(units, end, now)
    all_days = pd.date_range(pull_start, day, freq="D")
    all_kpis = kpi_mod.daily_kpis(units, days=all_days)
    # a day in progress is compared with the same hours of the days before it, never whole days
    day_kpis = all_kpis if judged_until is None else kpi_mod.daily_kpis(
        units[(units["time"] - units["time"].dt.floor("D")) < judged_until - day], days=all_days)
    window_days = pd.date_range(window_start, day, freq="D")
    judges: dict = {}  # one judge per runbook and window, shared by checks and detectors
    checks = pd.concat([kpi_mod.check_table(day_kpis if d == day else all_kpis, runbooks, d,
                                            units, judges=judges)
                        for d in window_days], ignore_index=True)
    detected: list[Finding] = []
    judged = bool(len(traces)) and detect_start < end
    if judged:
        detected, note = _detect(runbooks, traces, obs, scores, detect_start, end, units,
                                 complete, judges)
        if note:
            notes.append(note)
            judged = False  # the detectors failed: no agent is said to be too small either
    # a day the detectors already say a runbook cannot judge gets no second such finding
    said = [(f.runbook, d) for f in detected if too_little_data(f)
            for d in window_days if f.start <= d < f.end]
    findings = kpi_mod.check_findings(all_kpis, checks, runbooks, units, obs, complete,
                                      judges=judges, said=said)
    unjudged = {f.runbook for f in detected if too_little_data(f)}
    thin = thin_traffic(runbooks, units, detect_start, end, judges, unjudged) if judged else {}
    sens = sensitivity_table(runbooks, units, detect_start, end, judges, unjudged) if judged \
        else pd.DataFrame()
    if (gap := _no_data(units, day, day_kpis, judged_until)) is not None:
        findings.append(gap)
    findings += detected
    if not complete:
        notes.append("findings on incomplete data are unconfirmed: shown, not alerted")
    findings.sort(key=_order)
    metrics = metrics_section(runbooks, window_start, end, prometheus, step=metrics_step)
    return DailyReport(date=day, days=int(days), alert_days=int(alert_days), source=status,
                       runbooks=runbooks, traces=traces, observations=obs, scores=scores,
                       units=units, all_kpis=all_kpis, checks=checks, findings=findings,
                       coverage=cov, notes=notes, metrics=metrics,
                       data_dir=str(Path(data_dir).resolve()) if source == "local" and data_dir
                       else None, scores_pending=pending, thin=thin, sensitivity=sens,
                       judged_until=judged_until, source_id=source_id)
