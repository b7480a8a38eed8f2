"""HTML fragments of the daily report: header, KPI table, findings, alerts.

Every value that can come from trace data (agent names, summaries, error text) is escaped:
tables go through ``DataFrame.to_html(escape=True)`` and free text through
:func:`workbench.safehtml.escape`; both are :func:`~workbench.safehtml.mathsafe`, so JupyterLab
shows "$0.1757" as written, not as math.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.alerts import Delivery
from workbench.analysis.detect import sensitivity_columns
from workbench.analysis.judge import SIGNALS
from workbench.findings import SEVERITIES, Finding
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
            said = " ".join([_e(_headline(rep, urgent)), _e(verdict), "Source ok.", *caveats])
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
    return min(alerted, key=lambda f: (-SEVERITIES.index(f.severity), f.start), default=None)


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
        "timeout rate": [_pct(x) for x in kpis["timeout_rate"]],
        "p50 s": [_num(x, ".2f") for x in kpis["latency_p50_s"]],
        "p95 s": [_num(x, ".2f") for x in kpis["latency_p95_s"]],
        "p99 s": [_num(x, ".2f") for x in kpis["latency_p99_s"]],
        "input tok": [f"{n:,}" for n in kpis["input_tokens"]],
        "output tok": [f"{n:,}" for n in kpis["output_tokens"]],
        "total tok": [f"{n:,}" for n in kpis["total_tokens"]],
        "cost USD": [_num(x, ",.2f") for x in kpis["cost_usd"]],
        "USD/trace": [_num(x, ".4f") for x in kpis["cost_per_trace_usd"]],
        "halluc. rate": [_pct(x) for x in kpis["hallucination_rate"]],
        "flags": ["ANOMALOUS: " + ", ".join(sorted(set(flags[d]))) if d in flags else ""
                  for d in kpis.index],
    })
    return _STYLE + _table(view)


def _findings_frame(found: list[Finding]) -> pd.DataFrame:
    return pd.DataFrame({
        "severity": [_SEVERITY_MARK[f.severity] + ("" if f.confirmed else " (unconfirmed)")
                     for f in found],
        "when (UTC)": [f"{f.start:%Y-%m-%d %H:%M} – {f.end:%H:%M}" if f.end - f.start <
                       pd.Timedelta(days=1) else f"{f.start:%Y-%m-%d}" for f in found],
        "runbook": [f.runbook for f in found],
        "signal": [f.signal for f in found],
        "observed": [fmt_value(f.observed, f.unit) for f in found],
        "baseline": [fmt_value(f.baseline, f.unit) for f in found],
        # no baseline to divide by (a value that was zero before): new, never "inf"
        "ratio": ["new" if np.isinf(f.ratio) else _num(f.ratio, ".2f") for f in found],
        "suspects": ["; ".join(f"{s.label} ({s.contribution:.0%})"
                               for s in f.suspects[:3]) for f in found],
        "summary": [f.summary for f in found],
    })


def findings(rep: DailyReport) -> str:
    firing = [f for f in rep.findings if f.status == "firing"]
    today = [f for f in firing if f.end > rep.date]
    earlier = [f for f in firing if f.end <= rep.date]
    unjudged = [f for f in rep.findings if f.status != "firing"]
    parts = [_STYLE]
    if rep.degraded and (d := rep.degraded_finding()) is not None:
        parts.append("<h3>Report health</h3>" + _table(_findings_frame([d])))
    parts.append(f"<h3>On {rep.date:%Y-%m-%d}</h3>")
    parts.append(_table(_findings_frame(today)) if today else "<p>Nothing fired.</p>")
    parts.append("<h3>Earlier in the window</h3>")
    if rep.days > rep.alert_days:
        parts.append(f"<p><i>Daily checks only: the hourly detectors judged "
                     f"{_detectors_judged(rep)}; earlier days' reports hold their "
                     "findings.</i></p>")
    parts.append(_table(_findings_frame(earlier)) if earlier else "<p>Nothing fired.</p>")
    if unjudged:
        parts.append("<h3>Could not judge (insufficient data)</h3>")
        parts.append(_table(_findings_frame(unjudged)))
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
    view = pd.DataFrame({"agent": agents})
    traces = sens[~sens["signal"].map(lambda s: SIGNALS[s].scored)].groupby("agent")["units"]
    view["traces"] = [f"{traces.max().get(a, 0):,}" for a in agents]
    for (runbook, signal), rows in sens.groupby(["runbook", "signal"], sort=False):
        by = rows.set_index("agent")
        scored = SIGNALS[signal].scored
        view[head(runbook, signal)] = [
            ("no scores" if scored else "no traces") if a not in by.index else
            " / ".join(_smallest(by.at[a, c]) for c in [*short, "window"])
            + (f" ({by.at[a, 'units']:,} scored)" if scored else "") for a in agents]
    return ("<h3>What each agent's traffic could show</h3>"
            "<p>The smallest change (ratio to the agent's baseline) that could be a finding "
            f"over {spans}, at the agent's average traffic in {whole}; a smaller or shorter "
            "change is missed, not absent. \u2013: none could be; any: never seen in the "
            "baseline, so any few would be new.</p>" + _table(view))


def _window(f: Finding) -> str:
    if f.end - f.start < pd.Timedelta(days=1):
        return f"{f.start:%Y-%m-%d %H:%M} – {f.end:%H:%M} UTC"
    return f"{f.start:%Y-%m-%d %H:%M} – {f.end:%Y-%m-%d %H:%M} UTC"


def next_steps(rep: DailyReport, found: list[Finding]) -> str:
    """Per incident (runbook, window, agent) of ``found``: the runbook's first investigation
    steps and mitigations, a link to it, and the commands for the runbook notebook and the
    post-mortem over that window. Empty when no finding has a runbook."""
    blocks: dict[tuple, tuple[dict, list[Finding]]] = {}
    for f in found:
        steps = rep.next_steps(f)
        if steps is None:
            continue
        key = (f.runbook, f.start, f.end, f.labels.get("agent"))
        blocks.setdefault(key, (steps, []))[1].append(f)
    out = []
    for (_, _, _, agent), (steps, members) in blocks.items():
        signals = ", ".join(dict.fromkeys(f.signal for f in members))
        where = f" in {agent}" if agent else ""
        out.append(
            f"<div class='wb-next' data-runbook='{_e(steps['runbook'])}'>"
            f"<p><b>{_e(steps['title'])}{_e(where)}, {_e(_window(members[0]))}</b> "
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
