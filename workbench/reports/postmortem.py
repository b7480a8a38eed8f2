"""The post-mortem of one incident as a document: title, status, Summary, Impact, Timeline,
Root cause, Contributing factors, What went well, What went badly, Action items and Links.

``notebooks/postmortem.ipynb`` shows each section as HTML under its own heading;
:meth:`PostMortem.write` writes the same sections as Markdown (for wikis, chat and issue
trackers) and the summary JSON. The facts come from :func:`workbench.reports.incident.examine`,
so they are the engine's numbers; the human parts come from a notes file
(:mod:`workbench.reports.postmortem_notes`), and where nothing is written the document suggests
what the data shows and lists the runbook's mitigations as unassigned action items.
"""

from __future__ import annotations

import html as _html
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import links
from workbench import runbooks as runbook_mod
from workbench.analysis import ALL
from workbench.analysis.detect import too_little_data
from workbench.errors import ConfigError, ReportError
from workbench.findings import Suspect
from workbench.investigate import investigate
from workbench.redact import Redactor, redactor
from workbench.reports import document as doc
from workbench.reports.document import (Block, Code, Link, fmt_duration, fmt_excess_usd, fmt_p,
                                        fmt_ratio, fmt_time, fmt_usd, fmt_value, para,
                                        suspect_columns)
from workbench.reports.incident import Incident, examine
from workbench.reports.postmortem_notes import ActionItem, Notes, load_notes
from workbench.reports.runbook import incident_stem
from workbench.safehtml import escape

__all__ = ["SECTIONS", "PostMortem", "build", "postmortem_stem"]

#: The sections, in order; each is a heading in the HTML and in the Markdown.
SECTIONS = ("Summary", "Impact", "Timeline", "Root cause", "Contributing factors",
            "What went well", "What went badly", "Action items", "Links")
_CONTEXT = pd.Timedelta(hours=6)  # drawn around the impact window
#: an alert this soon after the change started went well; a later one went badly
_PROMPT = pd.Timedelta(hours=1)


def postmortem_stem(runbook: str, start: Any, agent: str | None = None) -> str:
    """``postmortem-cost_spike-20261106T0900`` (``-<agent>`` when one agent is examined):
    the name shared by the HTML, Markdown, summary and notebook."""
    return "postmortem-" + incident_stem(runbook, start, agent)


@dataclass
class PostMortem:
    """An incident written up; see the module docstring."""

    incident: Incident
    source: str
    data_dir: str | None
    notes: Notes

    @property
    def runbook(self) -> runbook_mod.Runbook:
        return self.incident.inv.runbook

    @property
    def title(self) -> str:
        if self.notes.title:
            return self.notes.title
        inc = self.incident
        where = "" if inc.group == ALL else f" in {inc.group}"
        when = inc.started if inc.started is not None else inc.inv.start
        return f"{self.runbook.title}{where}, {when:%Y-%m-%d %H:%M} UTC"

    @property
    def degraded(self) -> bool:
        """Partial or missing data: the post-mortem cannot vouch for what it shows."""
        return bool(self.incident.problems)

    def stem(self) -> str:
        inv = self.incident.inv
        return postmortem_stem(self.runbook.name, inv.start, inv.agent)

    def _unit(self, signal: str) -> str:
        """The runbook's unit of ``signal`` (USD, s, ratio, ...): figures are printed in it."""
        return str(self.runbook.signal(signal).get("unit", ""))

    # -- sections ---------------------------------------------------------------------------
    def _status(self) -> list[Block]:
        inc, inv = self.incident, self.incident.inv
        rows = [("Status", self.notes.status), ("Incident", inc.state),
                ("Severity", inc.severity), ("Runbook", self.runbook.title),
                ("Scope", inc.scope),
                ("Window examined", f"{fmt_time(inv.start)} – {fmt_time(inv.end)} UTC"),
                ("Source", self.source)]
        out = [Block("table", pd.DataFrame(rows, columns=["", " "]))]
        if self.degraded:
            out.append(Block("alert", ["Incomplete data: " + "; ".join(inc.problems) + ". The "
                                       "figures may undercount; a change not found here is "
                                       "no all-clear."]))
        return out

    def _summary(self) -> list[Block]:
        """What happened, then what the reader should know about the data it was judged on."""
        out = self._what_happened()
        if notes := self.data_notes():
            out += [para("About the data:"), Block("list", [[n] for n in notes])]
        return out

    def data_notes(self) -> list[str]:
        """The investigation's notes on the data (traffic set aside, cost not counted, an
        agent judged against its own latency): caveats of the figures, not causes of the
        incident. Problems are in the status box already; another agent's derived latency
        budget is no caveat of one agent's incident (the investigation, run on all traffic
        before the findings named the agent, carries every agent's)."""
        inc = self.incident
        held = inc.inv.units.attrs.get("budgets")
        budgets = getattr(held, "notes_by_agent", {})
        others = {n for a, n in budgets.items() if inc.group != ALL and a != inc.group}
        notes = [n for n in inc.inv.notes if n not in inc.problems and n not in others]
        said = [n for n in notes if n in budgets.values()]
        if len(said) > 1 and getattr(held, "notes", None):
            # several slow agents' notes on all traffic: the one line the daily report says
            first = notes.index(said[0])
            notes = [n for n in notes if n not in said]
            notes[first:first] = list(held.notes)
        return notes

    def _what_happened(self) -> list[Block]:
        inc = self.incident
        im, pr = inc.impact, inc.impact["primary"]
        out = [para(self.notes.summary)] if self.notes.summary else []
        name = pr["signal"].replace("_", " ")
        unit = self._unit(pr["signal"])
        scope = "" if inc.group == ALL else f" in {inc.group}"
        if inc.changed is None and inc.inv.too_little:
            why = "; ".join(f.summary.removeprefix(f"{self.runbook.title}: ")
                            for f in inc.inv.findings
                            if too_little_data(f))
            return out + [para(
                f"No change of {name}{scope} could be judged between {fmt_time(inc.inv.start)} "
                f"and {fmt_time(inc.inv.end)} UTC: {why}. Not finding one here is no "
                "all-clear.")]
        if inc.changed is None:
            return out + [para(
                f"No significant change of {name}{scope} between {fmt_time(inc.inv.start)} and"
                f" {fmt_time(inc.inv.end)} UTC: {fmt_value(pr['observed'], unit)} against "
                f"{fmt_value(pr['expected'], unit)} expected for the same traffic "
                f"({fmt_ratio(pr['observed'], pr['expected'])}, {fmt_p(pr['p_value'])})."
                + self._missed_not_absent(pr["signal"]))]
        until = (f"to {fmt_time(inc.resolved)} UTC "
                 f"({fmt_duration(inc.resolved - inc.started)})"
                 if inc.resolved is not None else "until the data ends, still changed")
        verb = "fell to" if pr["direction"] == "down" else "rose to"
        users = (f"{im['users']:,} users" if im["users"] is not None
                 else "an unknown number of users (traces carry no user id)")
        text = (f"{name.capitalize()}{scope} {verb} {fmt_value(pr['observed'], unit)} against "
                f"{fmt_value(pr['expected'], unit)} expected for the same traffic "
                f"({fmt_ratio(pr['observed'], pr['expected'])}, {fmt_p(pr['p_value'])}) from "
                f"{fmt_time(inc.started)} {until}. In those hours: {im['requests']:,} requests "
                f"from {users}; timeouts: {im['timeouts']:,}; errors: {im['errors']:,}; excess "
                f"cost: {fmt_excess_usd(im['excess_cost_usd'])}.")
        if inc.causes:
            top = inc.causes[0]
            text += (f" Top cause candidate: {top['suspect']} ({top['contribution']:.0%} of "
                     "the excess).")
        if inc.detected_by and inc.detected is not None:
            text += f" First alert: {inc.detected_by} at {fmt_time(inc.detected)} UTC."
        elif late := self.late_alert():
            text += f" {late}"
            if inc.detected is not None:
                text += (f" An hourly check would have alerted at {fmt_time(inc.detected)} "
                         "UTC.")
        elif inc.detected is not None:
            text += (" No alert recorded; an hourly check would have alerted at "
                     f"{fmt_time(inc.detected)} UTC.")
        return out + [para(text)]

    def _missed_not_absent(self, signal: str) -> str:
        """What a window with no finding could have missed, and where the change leads: a
        post-mortem of the alert's hours that says only "no change" reads as an all-clear."""
        inv = self.incident.inv
        row = inv.signal_table().set_index("signal").loc[signal]
        could, compare = float(row["could_show"]), row["compare"]
        if np.isinf(could):
            text = (" This window's traffic could not show any change of it as significant: "
                    "not finding one is no all-clear.")
        elif np.isnan(could):
            text = " Not finding a change here is no all-clear."
        else:
            size = f"{could:.3g}x" if compare == "ratio" else f"a drop of {could:.3g}"
            text = (f" This window's traffic could show a change of {size} or more: a smaller "
                    "one would be missed, not absent.")
        leading = inv.suspects().head(1)
        if not leading.empty:
            top = leading.iloc[0]
            text += (f" Leading, not significant: {top['suspect']} "
                     f"({top['contribution']:.0%} of the difference).")
        return text

    def _impact(self) -> list[Block]:
        inc = self.incident
        im, pr = inc.impact, inc.impact["primary"]
        a, b = inc.window
        unit = self._unit(pr["signal"])
        rows = [
            ("Impact window", f"{fmt_time(a)} – {fmt_time(b)} UTC ({fmt_duration(b - a)})",
             "Started to Resolved, or to the end of the data"),
            # every request of the hours, not only the ones that went wrong (those are the
            # events and timeouts below): "affected" overclaimed on a rate's incident
            ("Requests in the window", f"{im['requests']:,}",
             f"requests of {inc.scope} in the impact window"),
            ("Users in the window", "unknown" if im["users"] is None else f"{im['users']:,}",
             "distinct user ids among those requests"),
            (pr["signal"], fmt_value(pr["observed"], unit),
             f"{fmt_value(pr['expected'], unit)} expected for the same traffic "
             f"({fmt_ratio(pr['observed'], pr['expected'])}, {fmt_p(pr['p_value'])})"),
        ]
        # timeout_rate's events are the Timeouts row below: one figure, one row
        if pr.get("events") is not None and pr["signal"] != "timeout_rate":
            rows.append((f"{pr['signal']} events", f"{pr['events']:,.0f}",
                         f"{fmt_value(pr['expected_events'])} expected"))
        rows += [
            ("Errors", f"{im['errors']:,}", "requests that ended in an error"),
            ("Timeouts", f"{im['timeouts']:,}",
             "–" if im["timeouts_expected"] is None else
             f"{im['timeouts_expected']:,.1f} expected for the same traffic"),
            ("Cost", fmt_usd(im["cost_usd"]),
             f"{fmt_usd(im['expected_cost_usd'])} expected for the same traffic"),
            ("Excess cost", fmt_excess_usd(im["excess_cost_usd"]),
             "spent minus what the baseline expects of the same requests"),
        ]
        rows += self._slo_rows(im["slo"])
        return [Block("table", pd.DataFrame(rows, columns=["", "value", "against"]))]

    def _slo_rows(self, slo: dict[str, Any] | None) -> list[tuple[str, str, str]]:
        """The latency SLO's budget, in a timeout incident or where excess timeouts spent it: a
        cost or hallucination incident with no extra timeouts has nothing to say there."""
        spent = slo is not None and (slo.get("excess_events") or 0) > 0
        if self.runbook.name != "timeout_surge" and not spent:
            return []
        if slo is None:
            return [("SLO error budget consumed", "unknown",
                     "no slo.objective in the timeout_surge runbook")]
        used = "unknown" if slo["consumed"] is None else f"{slo['consumed']:.1%}"
        return [("SLO error budget consumed", used, slo["basis"])]

    def _timeline(self) -> list[Block]:
        rows = [(e.name, fmt_time(e.at), e.what, e.basis) for e in self.incident.timeline]
        return [para("Times in UTC."),
                Block("table", pd.DataFrame(rows, columns=["event", "time (UTC)", "what",
                                                           "from"]))]

    def _root_cause(self) -> list[Block]:
        inc = self.incident
        if not inc.causes:
            why = ("no changed hours to explain" if inc.changed is None else
                   "no dimension value explains an excess over the baseline")
            return [para(f"No root-cause candidate: {why}.")]
        signal = inc.impact["primary"]["signal"]
        unit = self._unit(signal)
        rows = [(c["rank"], c["suspect"], f"{c['contribution']:.0%}",
                 fmt_value(c["incident"], unit), fmt_value(c["baseline"], unit),
                 ", ".join(c["traces"]) or "–") for c in inc.causes]
        return [para(f"Candidates from attribution of the excess {signal} over the changed "
                     "hours, the most specific explaining value first; beside each, "
                     f"{signal} over the changed hours' traces holding it and what the "
                     "baseline expects of those same traces; evidence: the worst traces of "
                     "the window in each candidate's slice."),
                Block("table", pd.DataFrame(rows, columns=[
                    "rank", "candidate", "share of the excess", *suspect_columns(signal),
                    "evidence traces"]))]

    @staticmethod
    def _written_or_suggested(written: list[str] | None, suggested: list[str]) -> list[Block]:
        if written is not None:
            return [Block("list", [[x] for x in written])] if written else \
                [para("None written.")]
        if not suggested:
            return [para("Nothing drawn from the data; write yours in the notes file.")]
        return [para("Suggested from the data (edit in the notes file):"),
                Block("list", [[x] for x in suggested])]

    def factors(self) -> list[str]:
        """What the notes file says contributed, else what the data suggests: the runbook's
        other signals that fired (notes on the data are no factor: see :meth:`data_notes`)."""
        if self.notes.contributing_factors is not None:
            return list(self.notes.contributing_factors)
        inc = self.incident
        primary = inc.impact["primary"]["signal"]
        out = [f"{f.signal} ({f.severity}) {fmt_value(f.observed, f.unit)} against "
               f"{fmt_value(f.baseline, f.unit)}, {fmt_time(f.start)} – {fmt_time(f.end)} UTC"
               + (f" in {f.labels['agent']}" if f.labels.get("agent") else "")
               for f in inc.findings if f.signal != primary]
        return out

    def late_alert(self) -> str | None:
        """What the first alert delivered only once the incident was over says: none came
        while it ran (a report run after the fact is no detection, and no detection delay)."""
        inc = self.incident
        if inc.late_alert is None or inc.detected_by:
            return None
        at, name = inc.late_alert
        end, ended = ((inc.resolved, "it was resolved") if inc.resolved is not None else
                      (inc.data_end or inc.window[1], "the data ends, the change still on"))
        return (f"No alert of this runbook was delivered while the incident ran: the first "
                f"recorded, {name} at {fmt_time(at)} UTC, came {fmt_duration(at - end)} after "
                f"{ended} (a report run after the fact).")

    def went_well(self) -> list[str]:
        if self.notes.went_well is not None:
            return list(self.notes.went_well)
        inc, out = self.incident, []
        if inc.detected_by and inc.detected is not None and inc.started is not None and \
                inc.detected - inc.started <= _PROMPT:
            out.append(f"Alerted {fmt_duration(inc.detected - inc.started)} after the change "
                       f"started ({inc.detected_by}).")
        if inc.resolved is not None and inc.started is not None:
            out.append(f"Back to baseline {fmt_duration(inc.resolved - inc.started)} after it "
                       "started.")
        if inc.causes and inc.causes[0]["contribution"] >= 0.8:
            top = inc.causes[0]
            text = (f"Attribution explains {top['contribution']:.0%} of the excess; its first "
                    f"candidate: {top['suspect']}")
            # overlapping slices (the agent, its model, its release) can explain as much:
            # said, not hidden behind "one candidate"
            also = [c["suspect"] for c in inc.causes[1:] if c["contribution"] >= 0.8]
            if also:
                text += (f" ({len(also)} other candidate{'s' if len(also) > 1 else ''} "
                         f"explain{'' if len(also) > 1 else 's'} 80% or more of it too: "
                         f"{', '.join(also)})")
            out.append(text + ".")
        return out

    def went_badly(self) -> list[str]:
        if self.notes.went_badly is not None:
            return list(self.notes.went_badly)
        inc, out = self.incident, []
        if late := self.late_alert():
            out.append(late)
        elif inc.changed is not None and not inc.detected_by:
            out.append("No alert of this runbook was recorded as delivered for the incident.")
        if inc.detected is not None and inc.started is not None and not late and \
                inc.detected - inc.started > _PROMPT:
            delay = fmt_duration(inc.detected - inc.started)
            # with no alert delivered, the time is the one an hourly check would have alerted
            # at: "Detected" there claimed a detection nobody made
            out.append(f"Detected {delay} after the change started." if inc.detected_by else
                       f"An hourly check would have alerted {delay} after the change started.")
        if inc.changed is not None and inc.resolved is None:
            out.append("Not back to baseline when the data ends.")
        return out

    def action_items(self) -> list[ActionItem]:
        """The notes file's, else the mitigation for the kind of cause the first root-cause
        candidate is (a prompt version's rollback, a tool's timeout), then the runbook's."""
        if self.notes.action_items is not None:
            return list(self.notes.action_items)
        inc = self.incident
        if inc.changed is None:  # no incident in the window: nothing to mitigate
            return []
        lead = [Suspect(dimension=c["dimension"], value=c["value"],
                        contribution=c["contribution"], incident=c["incident"],
                        baseline=c["baseline"], within=c["within"]) for c in inc.causes[:1]]
        agent = None if inc.group == ALL else inc.group
        return [ActionItem(action=m) for m in self.runbook.mitigations(lead, agent)]

    def _actions(self) -> list[Block]:
        items = self.action_items()
        lead = [] if self.notes.action_items is not None else [
            para("The runbook's mitigations, the one for the root-cause candidate's kind of "
                 "cause first, unassigned (set owners, dates and trackers in the notes file):")]
        if not items:
            return [para("No action items: no change was found in the window." if
                         self.incident.changed is None else "No action items.")]
        rows = [(i, x.action, x.owner or "unassigned", x.due or "–", x.tracked_in or "–")
                for i, x in enumerate(items, 1)]
        return lead + [Block("table", pd.DataFrame(rows, columns=[
            "#", "action", "owner", "due", "tracked in"]))]

    def _links(self) -> list[Block]:
        inc, rb = self.incident, self.runbook
        day = (inc.started if inc.started is not None else inc.inv.start).floor("D")
        daily = f"daily-report-{day:%Y-%m-%d}.html"
        daily_url = links.report_url(daily) if os.environ.get(links.ENV_REPORT_URL) else daily
        a, b = inc.changed or (inc.inv.start, inc.inv.end)
        agent = None if inc.group == ALL else inc.group
        return [Block("list", [
            ["Runbook: ", Link(f"{rb.title} ({rb.notebook})",
                               links.runbook_url(rb.name, rb.notebook))],
            ["Daily report: ", Link(daily, daily_url)],
            ["The runbook notebook on the changed hours: ",
             Code(links.runbook_command(rb.name, a, b, self.source, self.data_dir, agent))],
            ["This post-mortem again: ",
             Code(links.postmortem_command(rb.name, inc.inv.start, inc.inv.end, self.source,
                                           self.data_dir, inc.inv.agent))],
        ])]

    def blocks(self, section: str) -> list[Block]:
        """The blocks of ``section``: ``status`` or one of :data:`SECTIONS`."""
        table: dict[str, Callable[[], list[Block]]] = {
            "status": self._status, "Summary": self._summary, "Impact": self._impact,
            "Timeline": self._timeline, "Root cause": self._root_cause,
            "Contributing factors": lambda: self._written_or_suggested(
                self.notes.contributing_factors, self.factors()),
            "What went well": lambda: self._written_or_suggested(self.notes.went_well,
                                                                 self.went_well()),
            "What went badly": lambda: self._written_or_suggested(self.notes.went_badly,
                                                                  self.went_badly()),
            "Action items": self._actions, "Links": self._links,
        }
        if section not in table:
            raise ConfigError(f"unknown post-mortem section {section!r}; sections: "
                              f"{['status', *SECTIONS]}")
        return table[section]()

    # -- renderings ----------------------------------------------------------------------------
    def header_html(self) -> str:
        """The title, then the status table: what a reader sees first. (The rendered notebook
        is redacted as a whole, so nothing is redacted here.)"""
        return f"<h1>{escape(self.title)}</h1>\n" + doc.html(self.blocks("status"),
                                                            redactor(False))

    def section_html(self, section: str) -> str:
        return doc.html(self.blocks(section), redactor(False))

    def markdown(self, red: Redactor | None = None) -> str:
        """The whole post-mortem as Markdown: a ``#`` title, the status table, then a ``##``
        heading per section; every value redacted by ``red`` (default: redaction on)."""
        red = red or redactor(True)
        parts = [f"# {doc.md_text(red.text(self.title))}",
                 doc.markdown(self.blocks("status"), red)]
        if not red.enabled:
            parts.append("> **Redaction was turned off**: this file may hold secrets and "
                         "personal data from traces.")
        for section in SECTIONS:
            parts += [f"## {section}", doc.markdown(self.blocks(section), red)]
        return "\n\n".join(parts) + "\n"

    # -- figures -------------------------------------------------------------------------------
    def timeline_figure(self):
        """The primary signal hour by hour against what the baseline expects, the changed
        hours shaded and the timeline's events marked."""
        import plotly.graph_objects as go

        inc = self.incident
        j, signal = inc.inv.judge, inc.impact["primary"]["signal"]
        first = inc.inv.units["time"].min() if len(inc.inv.units) else inc.inv.start
        lo = max((inc.window[0] - _CONTEXT).floor(j.bucket), first.floor(j.bucket))
        hi = min(inc.window[1] + _CONTEXT, (inc.data_end or inc.window[1]).ceil(j.bucket))
        rows, t = [], lo
        while t < hi:
            iv = j.interval(signal, t, t + j.bucket, inc.group)
            rows.append((t, iv.observed, iv.expected))
            t += j.bucket
        frame = pd.DataFrame(rows, columns=["hour", "observed", "expected"])
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=frame["hour"], y=frame["expected"], mode="lines",
                                 name="expected", line={"dash": "dash", "color": "#555"}))
        fig.add_trace(go.Scatter(x=frame["hour"], y=frame["observed"], mode="lines+markers",
                                 name="observed", line={"color": "#4c72b0"}))
        if inc.changed:
            fig.add_vrect(x0=inc.changed[0], x1=inc.changed[1],
                          fillcolor="rgba(214, 39, 40, 0.10)", line_width=0, layer="below")
        for e in inc.timeline:
            if e.at is None or not lo <= e.at <= hi:
                continue
            fig.add_shape(type="line", x0=e.at, x1=e.at, y0=0, y1=1, yref="paper",
                          line={"color": "#d62728", "width": 1, "dash": "dot"})
            fig.add_annotation(x=e.at, y=1.02, yref="paper", text=e.name, showarrow=False,
                               font={"size": 11})
        unit = self.runbook.signal(signal).get("unit", "")
        where = "" if inc.group == ALL else f" in {inc.group}"
        # plotly draws a subset of HTML in text: trace content escaped (quotes need not be)
        fig.update_layout(title_text=_html.escape(f"{signal}{where} per hour ({unit}) against "
                                                  "what the baseline expects (UTC)", quote=False),
                          height=380, margin={"t": 70, "b": 30, "l": 50, "r": 20})
        return fig

    def suspects_figure(self):
        from workbench.runbook_plots import suspects_figure

        causes = self.incident.causes
        # each bar labelled with its whole suspect (a value within an agent and the value
        # alone are two bars)
        table = pd.DataFrame({"suspect": [c["suspect"] for c in causes],
                              "contribution": [c["contribution"] for c in causes]})
        return suspects_figure(table, title="Root-cause candidates: share of the excess "
                                            f"{self.incident.impact['primary']['signal']}")

    # -- the summary JSON and the Markdown file -------------------------------------------------
    def summary(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        from workbench.reports.summary import safe_parameters

        inc = self.incident
        return {
            "report": "postmortem", "name": self.stem(), "title": self.title,
            "status": self.notes.status, "state": inc.state, "severity": inc.severity,
            "generated_at": pd.Timestamp.now(tz="UTC"), "runbook": self.runbook.name,
            "source": self.source,
            "scope": {"agent": None if inc.group == ALL else inc.group, "text": inc.scope},
            "window": {"start": inc.inv.start, "end": inc.inv.end},
            "changed": None if inc.changed is None else
            {"start": inc.changed[0], "end": inc.changed[1]},
            "impact_window": {"start": inc.window[0], "end": inc.window[1]},
            "data_end": inc.data_end, "degraded": self.degraded,
            "problems": list(inc.problems),
            "timeline": [{"event": e.name, "at": e.at, "utc": None if e.at is None
                          else fmt_time(e.at), "what": e.what, "from": e.basis}
                         for e in inc.timeline],
            "detected_by": inc.detected_by,
            # the first alert recorded after the incident had ended (a report run after the
            # fact): no detection, but the alert the reader may have seen
            "alert_after_the_fact": None if inc.late_alert is None or inc.detected_by else {
                "alertname": inc.late_alert[1], "delivered_at": inc.late_alert[0]},
            "impact": inc.impact, "root_cause": inc.causes,
            "data_notes": self.data_notes(),
            "contributing_factors": self.factors(), "went_well": self.went_well(),
            "went_badly": self.went_badly(),
            "action_items": [vars(x) for x in self.action_items()],
            "notes_written": self.notes != Notes(),
            "findings": [f.to_dict() for f in inc.findings],
            "parameters": safe_parameters(parameters),
        }

    def write(self, out_dir: str | Path, parameters: Mapping[str, Any], *,
              redact: bool = True, name: str | None = None) -> dict[str, Path]:
        """Write ``<name>.md`` and ``<name>.summary.json`` into ``out_dir``, both redacted
        unless ``redact`` is False; the summary counts what the Markdown's redaction
        replaced."""
        from workbench.reports.summary import write_summary

        stem, out = name or self.stem(), Path(out_dir)
        red = redactor(redact)
        md = out / f"{stem}.md"
        tmp = md.with_name(f".{md.name}.tmp")
        try:
            out.mkdir(parents=True, exist_ok=True)
            tmp.write_text(self.markdown(red), encoding="utf-8")
            os.replace(tmp, md)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ReportError(f"cannot write {md}: {exc.strerror}") from exc
        data = self.summary(parameters)
        data["redaction"] = {"parts": {"markdown": {"by_kind": dict(red.counts)}}}
        return {"markdown": md,
                "summary": write_summary(out / f"{stem}.summary.json", data, redact=redact)}


def build(runbook: str, source: str, start: Any, end: Any, *,
          data_dir: str | Path | None = None, agent: str | None = None,
          notes: str | Path | Notes | None = None, ledger: Any = None,
          runbooks_dir: str | Path | None = None) -> PostMortem:
    """Investigate ``[start, end)`` with ``runbook`` from ``source`` (for one ``agent``, or
    the agent the findings name) and write up the incident in it. ``notes``: a notes file or
    :class:`Notes`; ``ledger``: the alert ledger (default: the spool's in the cache folder).
    Every network wait of the pull is bounded by the run's deadline
    (``WORKBENCH_DEADLINE_AT``, set by the post-mortem command)."""
    notes = notes if isinstance(notes, Notes) else load_notes(notes)
    # a written document: no progress bars, every pull under the run's deadline
    inv = investigate(runbook, source, start, end, data_dir=data_dir, agent=agent or None,
                      runbooks_dir=runbooks_dir, progress=False)
    return PostMortem(incident=examine(inv, ledger=ledger, runbooks_dir=runbooks_dir),
                      source=source if isinstance(source, str) else inv.source,
                      data_dir=str(Path(data_dir).resolve()) if source == "local" and data_dir
                      else None, notes=notes)
