"""HTML fragments of the daily report: header, KPI table, findings, alerts.

Every value that can come from trace data (agent names, summaries, error text) is escaped:
tables go through ``DataFrame.to_html(escape=True)`` and free text through
:func:`workbench.safehtml.escape`; both are :func:`~workbench.safehtml.mathsafe`, so JupyterLab
shows "$0.1757" as written, not as math.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.alerts import Delivery
from workbench.analysis.detect import sensitivity_columns
from workbench.analysis.judge import SIGNALS
from workbench.analysis.signals import SCORE_SIGNALS
from workbench.findings import Finding, urgency
from workbench.plots import flagged_days
from workbench.reports.document import fmt_value
from workbench.safehtml import escape, mathsafe

if TYPE_CHECKING:
    from workbench.reports.daily import DailyReport

__all__ = ["delivery", "findings", "header", "kpi_table", "next_steps", "sensitivity"]

_STYLE = """<style>
.wb-table { border-collapse: collapse; font-size: 13px; margin: 6px 0 14px 0; }
.wb-table th, .wb-table td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
.wb-table td:last-child { text-align: left; }
.wb-degraded { background: #fdecea; border-left: 6px solid #d62728; padding: 8px 12px; }
.wb-ok { background: #eef7ee; border-left: 6px solid #2ca02c; padding: 8px 12px; }
.wb-partial { background: #fff6e0; border-left: 6px solid #e69500; padding: 8px 12px; }
.wb-alert { background: #fdecea; border-left: 6px solid #d62728; padding: 8px 12px; }
.wb-warning { background: #fff3e0; border-left: 6px solid #e65100; padding: 8px 12px; }
.wb-next { border-left: 6px solid #4c72b0; padding: 4px 12px; margin: 8px 0 14px 0; }
.wb-next pre { background: #f6f8fa; padding: 6px 8px; white-space: pre-wrap;
  word-break: break-all; }
</style>"""

_SEVERITY_MARK = {"page": "PAGE", "critical": "CRITICAL", "warning": "WARNING", "info": "info"}


_e = escape


def _table(df: pd.DataFrame) -> str:
    return mathsafe(df.to_html(escape=True, index=False, classes="wb-table", border=0,
                               na_rep="–"))


def header(rep: DailyReport) -> str:
    firing = [f for f in rep.findings if f.status == "firing"]
    today = [f for f in firing if f.end > rep.date]
    lines = [
        _STYLE,
        f"<h1>Daily report — {rep.date:%A %d %B %Y} (UTC)</h1>",
        f"<p>Window: {rep.window_start:%Y-%m-%d} to {rep.date:%Y-%m-%d} ({rep.days} days). "
        f"Source: <b>{_e(rep.source.name)}</b>, {len(rep.window(rep.traces)):,} traces.</p>",
    ]
    if rep.source.degraded:
        lines.append(f"<div class='wb-degraded'><b>DEGRADED REPORT.</b> Source "
                     f"<b>{_e(rep.source.name)}</b> failed: {_e(rep.source.reason)}. "
                     "Numbers below are incomplete and findings on them unconfirmed; do not "
                     "read missing incidents as an all-clear.</div>")
    elif rep.no_data:
        gap = next(f for f in rep.findings if f.signal == "no_data")
        lines.append(f"<div class='wb-degraded'><b>NO DATA.</b> {_e(gap.summary)}.</div>")
    elif rep.degraded:
        why = "; ".join(f"{d['name']}: {d['reason']}" for d in rep.degraded_sources())
        lines.append(f"<div class='wb-degraded'><b>DEGRADED REPORT.</b> {_e(why)}</div>")
    else:
        # the hourly detectors judge the alert window only, the daily checks every day: say
        # which, so a day after an hourly finding does not read "nothing in the window"
        verdict = (f"{len(today)} finding(s) on the report day, {len(firing)} in the window."
                   if firing else "Nothing fired: no daily check in the window, no hourly "
                   f"detector {_detectors_judged(rep)}.")
        # nothing fired is no all-clear where a runbook could not judge the day, or while the
        # judges have yet to score its last traces
        caveats = []
        if rep.judged_until is not None and rep.judged_until <= rep.date:
            caveats.append("<b>Day not begun</b>: nothing of it is judged yet.")
        elif rep.judged_until is not None:
            caveats.append(f"<b>Day in progress</b>: judged up to {rep.judged_until:%H:%M} "
                           "UTC against the same hours of the days before; not the day's "
                           "verdict.")
        if unjudged := rep.not_judged():
            titles = ", ".join(rep.runbooks[r].title if r in rep.runbooks else r
                               for r in unjudged)
            caveats.append(f"<b>Not judged</b> (too little data, see \"Could not judge\" "
                           f"below): {_e(titles)}.")
        if thin := rep.too_little_traffic_note(prefix=""):
            caveats.append(f"<b>Too little traffic to judge</b> on their own: {_e(thin)}.")
        if rep.scores_pending is not None:
            caveats.append(f"<b>Evaluations still arriving</b> for traces after "
                           f"{rep.scores_pending:%Y-%m-%d %H:%M} UTC: score-based findings "
                           "(hallucination) are not final.")
        if urgent := _most_urgent(rep):
            # an alerted incident leads the banner, in its colour: never a green box over a page
            shade = "wb-warning" if urgent.severity == "warning" else "wb-alert"
            said = " ".join([_e(_headline(rep, urgent) + _alongside(rep, urgent)), _e(verdict),
                             "Source ok.", *caveats])
            lines.append(f"<div class='{shade}'><b>{_SEVERITY_MARK[urgent.severity]}</b>: "
                         f"{said}</div>")
        elif caveats:
            lines.append(f"<div class='wb-partial'>Source ok. {_e(verdict)} "
                         f"{' '.join(caveats)}</div>")
        else:
            lines.append(f"<div class='wb-ok'>Source ok. {_e(verdict)}</div>")
    lines += [f"<p><i>{_e(n)}</i></p>" for n in rep.notes]
    if rep.coverage.traces:
        # "prompt 72% unknown" read as a broken mapping where most agents link no prompt:
        # a missing model, prompt or tool call is said as missing, a gap only where used
        u = rep.coverage.unknown
        lines.append(f"<p>Mapping coverage over the {rep.coverage.traces:,} traces pulled (the "
                     "window and the days its checks compare with): agent unknown on "
                     f"{u.get('agent', 0.0):.0%}; no model on {u.get('model', 0.0):.0%}, no "
                     f"prompt on {u.get('prompt', 0.0):.0%}, no tool call on "
                     f"{u.get('tool', 0.0):.0%} of traces (an agent that links no managed "
                     "prompt or calls no tool counts there too: a gap only where yours "
                     "do).</p>")
    return "\n".join(lines)


def _most_urgent(rep: DailyReport) -> Finding | None:
    """The most severe finding the report alerts on (the earliest among equals), or None."""
    alerted = [f for f in rep.alert_findings() if f.status == "firing"]
    return min(alerted, key=urgency, default=None)


def _headline(rep: DailyReport, f: Finding) -> str:
    """"Cost spike in vendor_research, runaway loop, 16:00–22:00 UTC." for the banner."""
    book = rep.runbooks.get(f.runbook)
    title = book.title if book is not None else f.runbook.replace("_", " ")
    who = f" in {f.labels['agent']}" if f.labels.get("agent") else ""
    what = f.signal.removeprefix("daily_").replace("_", " ")
    when = (f"on {f.start:%Y-%m-%d}" if f.end - f.start >= pd.Timedelta(days=1)
            else f"{f.start:%H:%M}–{f.end:%H:%M} UTC" if f.start.normalize() == rep.date
            else f"{f.start:%Y-%m-%d %H:%M}–{f.end:%H:%M} UTC")
    return f"{title}{who}, {what}, {when}."


def _alongside(rep: DailyReport, lead: Finding) -> str:
    """Other runbooks alerting on the lead's agent over overlapping hours: a cost spike that
    slowed the agent pages as a timeout surge too, and the banner naming only one sent the
    reader to one runbook. " With Cost spike (CRITICAL) in the same agent and hours, first
    suspect model=o4-mini as well."."""
    agent = lead.labels.get("agent")
    if not agent:
        return ""
    seen: dict[str, Finding] = {}
    for f in sorted((f for f in rep.alert_findings() if f.status == "firing"), key=urgency):
        if f.runbook != lead.runbook and f.labels.get("agent") == agent and \
                f.start < lead.end and lead.start < f.end:
            seen.setdefault(f.runbook, f)
    if not seen:
        return ""
    same = lead.suspects[0].label if lead.suspects else None
    parts = []
    for f in seen.values():
        book = rep.runbooks.get(f.runbook)
        text = (f"{book.title if book is not None else f.runbook} ({f.severity.upper()}) in "
                "the same agent and hours")
        if same is not None and f.suspects and f.suspects[0].label == same:
            text += f", first suspect {same} as well"
        parts.append(text)
    return f" With {'; '.join(parts)}."


def _detectors_judged(rep: DailyReport) -> str:
    """Where the hourly detectors looked: the report day, or the alert days."""
    return "on the report day" if rep.alert_days == 1 else \
        f"from {rep.alert_start:%Y-%m-%d} to the report day"


def _pct(x: float) -> str:
    return "–" if pd.isna(x) else f"{x:.2%}"


def _num(x: float, fmt: str) -> str:
    return "–" if pd.isna(x) else format(x, fmt)


def kpi_table(kpis: pd.DataFrame, found: Iterable[Finding] = ()) -> str:
    """One row per day, formatted; the ``flags`` column names what fired that day."""
    flags = flagged_days(found)
    view = pd.DataFrame({
        "day": [d.strftime("%a %Y-%m-%d") for d in kpis.index],
        "traces": [f"{n:,}" for n in kpis["traces"]],
        "error rate": [_pct(x) for x in kpis["error_rate"]],
        # reported timeouts and runs past the budget both count; say the reported share
        "timeout rate": [_pct(x) if pd.isna(r) or np.isclose(x, r) else
                         f"{_pct(x)} ({_pct(r)} reported)"
                         for x, r in zip(kpis["timeout_rate"], kpis["reported_timeout_rate"])],
        "p50 s": [_num(x, ".2f") for x in kpis["latency_p50_s"]],
        "p95 s": [_num(x, ".2f") for x in kpis["latency_p95_s"]],
        "p99 s": [_num(x, ".2f") for x in kpis["latency_p99_s"]],
        "input tok": [f"{n:,}" for n in kpis["input_tokens"]],
        "output tok": [f"{n:,}" for n in kpis["output_tokens"]],
        "total tok": [f"{n:,}" for n in kpis["total_tokens"]],
        "cost USD": [_num(x, ",.2f") for x in kpis["cost_usd"]],
        "USD/trace": [_num(x, ".4f") for x in kpis["cost_per_trace_usd"]],
        # of the traces a hallucination judge scored, often one agent's sample: "0.00%" alone
        # read as every answer of the day checked
        "halluc. rate (of scored)": ["–" if n == 0 else f"{_pct(x)} of {n:,}"
                                     for x, n in zip(kpis["hallucination_rate"],
                                                     kpis["scored_traces"])],
        "flags": ["ANOMALOUS: " + ", ".join(sorted(set(flags[d]))) if d in flags else ""
                  for d in kpis.index],
    })
    said = []
    if (kpis["timeout_rate"] - kpis["reported_timeout_rate"]).abs().gt(1e-12).any():
        said.append("timeout rate: the timeouts the source reported and the runs past their "
                    "agent's latency budget; in brackets, the share the source reported")
    caption = f"<p><i>{_e('; '.join(said))}.</i></p>" if said else ""
    return _STYLE + _table(view) + caption


def _check_row(f: Finding, checks: pd.DataFrame | None) -> dict | None:
    """The daily check row behind finding ``f`` (None for the hourly detectors' findings)."""
    if checks is None or checks.empty or not f.signal.startswith("daily_"):
        return None
    rows = checks.loc[(checks["runbook"] == f.runbook) & (checks["day"] == f.start)]
    return rows.iloc[0].to_dict() if len(rows) else None


def _ratio(x: float) -> str:
    # no baseline to divide by (a value that was zero before): new, never "inf"
    return "new" if np.isinf(x) else _num(x, ".2f")


def _expected(row: dict | None, unit: str = "") -> str:
    """The check's primary signal against what the day's traffic expects of it, in the unit
    of the finding's own figures."""
    if row is None or not row.get("signal") or not np.isfinite(row.get("expected", np.nan)):
        return "–"
    return (f"{fmt_value(row['expected'], unit)} ({row['signal']} "
            f"{fmt_value(row['observed'], unit)})")


def _findings_frame(found: list[Finding], checks: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per finding. The hourly detectors compare with their own baseline (mostly what
    the same traffic expects); the daily checks with the median of the days before, and their
    signal with what the day's traffic expects: each in its own, named column (a column no
    row fills is left out)."""
    rows = [_check_row(f, checks) for f in found]
    hourly = [r is None for r in rows]
    days = {int(r["baseline_days"]) for r in rows if r is not None}
    median = f"{days.pop()}-day median" if len(days) == 1 else "median of the days before"
    view = pd.DataFrame({
        "severity": [_SEVERITY_MARK[f.severity] + ("" if f.confirmed else " (unconfirmed)")
                     for f in found],
        "when (UTC)": [f"{f.start:%Y-%m-%d %H:%M} – {f.end:%H:%M}" if f.end - f.start <
                       pd.Timedelta(days=1) else f"{f.start:%Y-%m-%d}" for f in found],
        "runbook": [f.runbook for f in found],
        "signal": [f.signal for f in found],
        "observed": [fmt_value(f.observed, f.unit) for f in found],
        "baseline": [fmt_value(f.baseline, f.unit) if h else "–"
                     for f, h in zip(found, hourly)],
        "ratio": [_ratio(f.ratio) if h else "–" for f, h in zip(found, hourly)],
        median: ["–" if h else fmt_value(f.baseline, f.unit) for f, h in zip(found, hourly)],
        "ratio to median": ["–" if h else _ratio(f.ratio) for f, h in zip(found, hourly)],
        "expected for the day's traffic": [_expected(r, f.unit) for r, f in zip(rows, found)],
        "suspects": ["; ".join(f"{s.label} ({s.contribution:.0%})"
                               for s in f.suspects[:3]) for f in found],
        "summary": [f.summary for f in found],
    })
    empty = [c for c in ("baseline", "ratio", median, "ratio to median",
                         "expected for the day's traffic") if (view[c] == "–").all()]
    return view.drop(columns=empty) if len(view) else view


def findings(rep: DailyReport) -> str:
    firing = [f for f in rep.findings if f.status == "firing"]
    # the report day most urgent first; earlier days keep the report's order (each day's
    # most urgent first)
    today = sorted((f for f in firing if f.end > rep.date), key=urgency)
    earlier = [f for f in firing if f.end <= rep.date]
    # the report day's: an earlier day's "could not judge" is that day's report's to say, and
    # repeated in every report of the window it buried the day's own
    unjudged = [f for f in rep.findings if f.status != "firing" and f.end > rep.date]
    unjudged_before = sum(f.status != "firing" and f.end <= rep.date for f in rep.findings)
    checks = rep.checks
    parts = [_STYLE]
    if rep.degraded and (d := rep.degraded_finding()) is not None:
        parts.append("<h3>Report health</h3>" + _table(_findings_frame([d])))
    parts.append(f"<h3>On {rep.date:%Y-%m-%d}</h3>")
    parts.append(_table(_findings_frame(today, checks)) if today else "<p>Nothing fired.</p>")
    parts.append("<h3>Earlier in the window</h3>")
    if rep.days > rep.alert_days:
        parts.append(f"<p><i>Daily checks only: the hourly detectors judged "
                     f"{_detectors_judged(rep)}; earlier days' reports hold their "
                     "findings.</i></p>")
    # the hourly detectors do not judge earlier days here: "Nothing fired" beside a page two
    # days ago read as a quiet week
    nothing = ("<p>No daily check fired on the earlier days.</p>" if rep.days > rep.alert_days
               else "<p>Nothing fired.</p>")
    parts.append(_table(_findings_frame(earlier, checks)) if earlier else nothing)
    if unjudged_before:
        parts.append(f"<p><i>{unjudged_before} check(s) of earlier days could not judge "
                     "(too little data): their days' reports list them.</i></p>")
    if unjudged:
        parts.append("<h3>Could not judge (insufficient data)</h3>")
        parts.append(_table(_findings_frame(unjudged, checks)))
    if (table := sensitivity(rep)):
        parts.append(table)
    if steps := next_steps(rep, today + earlier):
        parts.append("<h3>Next steps</h3>" + steps)
    return "\n".join(parts)


def _smallest(x: float) -> str:
    if np.isnan(x):
        return "any"
    return "–" if np.isinf(x) else f"{x:.3g}x"


def sensitivity(rep: DailyReport) -> str:
    """"What each agent's traffic could show": per agent (a row) and primary signal (a
    column), the smallest change that could be a finding over an hour, six hours and the
    alert window; empty without agents. A change smaller or shorter than this is missed, not
    absent."""
    sens = rep.sensitivity
    if sens.empty:
        return ""
    span = float(sens["window_h"].iloc[0])
    whole = "the day" if span == 24 else f"the {span / 24:g} days" if span % 24 == 0 \
        else f"the {span:g} h judged"
    short = sensitivity_columns()
    spans = " / ".join([*(c[:-1] + " h" for c in short), whole.removeprefix("the ")])

    def head(runbook: str, signal: str) -> str:
        rb = rep.runbooks.get(runbook)
        at = rb.signal(signal).get("thresholds", {}).get("page") if rb is not None else None
        return signal.replace("_", " ") + ("" if at is None else f" (pages at {float(at):g}x)")

    agents = sorted(set(sens["agent"]))
    scored_by = rep.score_names()
    view = pd.DataFrame({"agent": agents})
    traces = sens[~sens["signal"].map(lambda s: SIGNALS[s].scored)].groupby("agent")["units"]
    view["traces"] = [f"{traces.max().get(a, 0):,}" for a in agents]
    for (runbook, signal), rows in sens.groupby(["runbook", "signal"], sort=False):
        by = rows.set_index("agent")
        scored = SIGNALS[signal].scored
        view[head(runbook, signal)] = [
            (_no_score(signal, scored_by.get(a, [])) if scored else "no traces")
            if a not in by.index else
            " / ".join(_smallest(by.at[a, c]) for c in [*short, "window"])
            + (f" ({by.at[a, 'units']:,} scored)" if scored else "") for a in agents]
    return ("<h3>What each agent's traffic could show</h3>"
            "<p>The smallest change (ratio to the agent's baseline) that could be a finding "
            f"over {spans}, at the agent's average traffic in {whole}; a smaller or shorter "
            "change is missed, not absent. \u2013: none could be; any: never seen in the "
            "baseline, so any few would be new.</p>" + _table(view))


#: the evaluation score a scored signal reads, as a reader names it
_SCORE_OF = {"hallucination_rate": "hallucination", "tool_call_validity": "tool-call validity",
             "unexpected_refusal_rate": "refusal"}


def _no_score(signal: str, names: list[str]) -> str:
    """Why an agent has no row for a scored signal: "no scores" only when its traces carry
    none at all; else which evaluations it does have (a groundedness-judged agent is scored)."""
    score = _SCORE_OF.get(signal, signal.replace("_", " "))
    read = [n for n in names if n in SCORE_SIGNALS]
    if read:
        return f"no {score} score ({', '.join(read)} judged)"
    if names:
        return f"no {score} score (only {', '.join(names)}, which no signal reads)"
    return "no scores"


def _window(f: Finding) -> str:
    if f.end - f.start < pd.Timedelta(days=1):
        return f"{f.start:%Y-%m-%d %H:%M} – {f.end:%H:%M} UTC"
    return f"{f.start:%Y-%m-%d %H:%M} – {f.end:%Y-%m-%d %H:%M} UTC"


def _incidents(rep: DailyReport, found: list[Finding]) -> list[tuple[Finding, list[Finding]]]:
    """The findings of ``found`` that have next steps, one group per incident: those of one
    runbook and agent whose windows overlap (one overlapping the next is enough). Each group
    as (its most urgent finding widened to the union of their windows, its findings most
    urgent first); the most urgent group first."""
    runs: dict[tuple, list[list[Finding]]] = {}
    for f in sorted(found, key=lambda f: (f.start, f.end)):
        if rep.next_steps(f) is None:
            continue
        groups = runs.setdefault((f.runbook, f.labels.get("agent")), [])
        if groups and f.start < max(g.end for g in groups[-1]):
            groups[-1].append(f)
        else:
            groups.append([f])
    out = []
    for groups in runs.values():
        for members in groups:
            members.sort(key=urgency)
            span = replace(members[0], start=min(f.start for f in members),
                           end=max(f.end for f in members))
            out.append((span, members))
    out = _fold_all_traffic(out)
    return sorted(out, key=lambda incident: urgency(incident[1][0]))


def _fold_all_traffic(incidents: list[tuple[Finding, list[Finding]]]
                      ) -> list[tuple[Finding, list[Finding]]]:
    """An all-traffic finding (a whole-day check) of a runbook that overlaps one of its agent
    incidents is that incident seen from afar: its signals join the most urgent such incident,
    whose hours and agent the commands keep (a second block ran the runbook over the whole
    day without the agent)."""
    scoped = [(span, members) for span, members in incidents if span.labels.get("agent")]
    out = []
    for span, members in incidents:
        if span.labels.get("agent"):
            out.append((span, members))
            continue
        near = [m for s, m in scoped if s.runbook == span.runbook
                and s.start < span.end and span.start < s.end]
        if near:
            min(near, key=lambda m: urgency(m[0])).extend(members)
        else:
            out.append((span, members))
    return out


def next_steps(rep: DailyReport, found: list[Finding]) -> str:
    """Per incident of ``found`` (:func:`_incidents`), most urgent first: the runbook's first
    investigation steps and mitigations, a link to it, the signals it covers, and the commands
    for the runbook notebook and the post-mortem over the incident's whole window (those of
    its most urgent finding). Empty when no finding has a runbook."""
    out = []
    for span, members in _incidents(rep, found):
        steps = rep.next_steps(span)
        agent = span.labels.get("agent")
        signals = ", ".join(dict.fromkeys(
            f"{f.signal} ({_SEVERITY_MARK[f.severity]})" if len(members) > 1 else f.signal
            for f in members))
        where = f" in {agent}" if agent else ""
        out.append(
            f"<div class='wb-next' data-runbook='{_e(steps['runbook'])}'>"
            f"<p><b>{_e(steps['title'])}{_e(where)}, {_e(_window(span))}</b> "
            f"({_e(signals)}). Runbook: <a href='{_e(steps['runbook_url'])}'>"
            f"{_e(steps['runbook'])}</a></p>"
            "<p>First steps:</p><ol>"
            + "".join(f"<li>{_e(s)}</li>" for s in steps["investigation"]) +
            "</ol><p>Mitigations:</p><ul>"
            + "".join(f"<li>{_e(s)}</li>" for s in steps["mitigations"]) +
            "</ul><p>Open the runbook notebook on this window:</p>"
            f"<pre class='wb-command'>{_e(steps['runbook_command'])}</pre>"
            "<p>Write the post-mortem:</p>"
            f"<pre class='wb-command'>{_e(steps['postmortem_command'])}</pre></div>")
    return "\n".join(out)


def delivery(result: Delivery | None) -> str:
    """What happened to the run's alerts: problems first (rejected, spooled, dropped), then one
    row per alert with its fate. "No alerts to send." only when there were none at all."""
    if result is None:
        return "<p>Alerts were not sent (send_alerts is off).</p>"
    from workbench.reports.summary import redact_url

    parts = [_STYLE, f"<p>Sink: <code>{_e(redact_url(result.sink))}</code></p>"]
    if result.degraded:
        parts.append("<div class='wb-degraded'><b>ALERTS NOT ALL DELIVERED.</b> "
                     + _e("; ".join(result.problems())) + ".</div>")
    rows = [(a, "sent") for a in result.sent] + \
        [(a, "REJECTED by the receiver") for a in result.rejected] + \
        [(a, "spooled for retry (not delivered yet)") for a in result.spooled] + \
        [(a, f"DROPPED from the spool: {why}") for a, why in result.dropped] + \
        [(a, "redelivered from spool") for a in result.redelivered] + \
        [(a, "already delivered by an earlier run") for a in result.skipped]
    if rows:
        parts.append(_table(pd.DataFrame({
            "alertname": [a.name for a, _ in rows],
            "severity": [a.severity for a, _ in rows],
            "startsAt": [a.starts_at for a, _ in rows],
            "fingerprint": [a.fingerprint for a, _ in rows],
            "delivery": [s for _, s in rows],
        })))
    elif not result.errors:
        parts.append("<p>No alerts to send.</p>")
    parts += [f"<div class='wb-degraded'>{_e(err)}</div>" for err in result.errors]
    return "\n".join(parts)
