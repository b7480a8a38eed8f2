"""The facade a runbook notebook calls: one window, its baseline, the runbook, and every section.

``investigate("cost_spike", "local", start, end, data_dir=...)`` pulls the window ``[start, end)``
plus the runbook's baseline days before the day it starts in (and a little after it, to see
recovery), computes the per-trace signals once (:func:`workbench.analysis.units_for`), runs the
runbook's detectors, and returns an :class:`Investigation` whose methods give each section of the
runbook notebook: summary, signals against baseline, attribution, worst traces and their span
trees, and the runbook's checklists. Notebooks only call these, so the logic is tested without a
kernel.

Every number here comes from the same engine as the daily report's
(:class:`workbench.analysis.Judge`): the signal table of a window is the verdict of
:meth:`Judge.interval` on it, so a notebook opened on a finding's hours shows the finding's
numbers. Attribution does not wait for a detector to fire: a window an engineer points at gets
suspects for the runbook's primary signal whatever the detectors said.
"""

from __future__ import annotations

import html as _html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import runbooks as runbook_mod
from workbench import schema
from workbench.analysis import ALL, PRIMARY, SIGNALS, Judge, detect_all, units_for
from workbench.analysis.detect import (Context, baseline_period, new_version_interval,
                                         too_little_data)
from workbench.analysis.signals import SCORE_SIGNALS, score_notes
from workbench.deadline import Deadline, active_deadline
from workbench.errors import ConfigError
from workbench.findings import SEVERITIES, Finding
from workbench.reports.document import fmt_p, fmt_ratio, fmt_value, suspect_columns
from workbench.runbooks import Runbook
from workbench.sources import (TraceSource, incomplete_reason, open_trace_source, pulling,
                               to_window)
from workbench.sources.freshness import settled_end, settled_note
from workbench.sources.traffic import set_aside_note
from workbench.sources.window import ask_health, pull_window

__all__ = ["Investigation", "TraceWindow", "explore", "html_table", "investigate",
           "open_trace_source"]

_CONTEXT = pd.Timedelta(hours=6)  # shown around the window in the signal charts
_STYLE = """<style>
.wb-table { border-collapse: collapse; font-size: 13px; margin: 6px 0 14px 0; }
.wb-table th, .wb-table td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
.wb-sev-page, .wb-sev-critical { background: #fdecea; border-left: 6px solid #d62728; }
.wb-sev-warning, .wb-sev-unknown { background: #fff4e5; border-left: 6px solid #ff7f0e; }
.wb-sev-info, .wb-sev-none { background: #eef7ee; border-left: 6px solid #2ca02c; }
[class^=wb-sev] { padding: 8px 12px; } .wb-checklist { list-style: none; padding-left: 6px; }
</style>"""


def _e(text: object) -> str:
    return _html.escape(str(text))


def _number(x: float) -> str:
    """Four significant digits, but a count or an amount of 10,000 or more in full
    (24,170 tokens, never 2.417e+04)."""
    return f"{x:,.0f}" if abs(x) >= 1e4 and np.isfinite(x) else f"{x:.4g}"


def html_table(df: pd.DataFrame) -> str:
    """``df`` as an escaped HTML table: numbers as :func:`_number` says, times to the second
    (UTC), missing values as a dash."""
    shown = df.copy()
    for col in shown.columns:
        if isinstance(shown[col].dtype, pd.DatetimeTZDtype) or \
                pd.api.types.is_datetime64_any_dtype(shown[col]):
            shown[col] = shown[col].dt.strftime("%Y-%m-%d %H:%M:%S")
    return _STYLE + shown.to_html(escape=True, index=False, classes="wb-table", border=0,
                                  na_rep="–", float_format=_number)


_FILTERS = ("agent", "model", "status")
_TABLE_COLUMNS = ["signal", "unit", "observed", "expected", "ratio", "p_value", "severity",
                  "units", "compare", "could_show", "fired"]
#: why a runbook signal has no verdict over the window (its detector reads it its own way)
_NOT_JUDGED = {
    "cost_per_hour": "its detector reads spend growth per hour",
    "page_burst": "its detector reads 5-minute bins",
}


def could_show_text(x: float, compare: str) -> str:
    """What a window could show, as the page says it: "≥ 3.2x" (a drop "≥ 0.12"), "none"
    where no change could be told apart, "any" for a rate its baseline never saw."""
    if np.isnan(x):
        return "any" if compare == "ratio" else "–"
    if np.isinf(x):
        return "none"
    return f"≥ {x:.3g}x" if compare == "ratio" else f"≥ {x:.3g}"


def row_verdict(iv: Any) -> str:
    """A signal table row's verdict on judged interval ``iv``: its severity where the change
    is significant and crosses a threshold; "below threshold" where it is significant but
    under the runbook's lowest threshold (a near-zero p beside "ok" read as a bug); "not
    significant" where the ratio crosses a threshold the p-value cannot back; else "ok"."""
    if iv.significant:
        return iv.severity or "below threshold"
    return "not significant" if iv.severity else "ok"
#: what a note says when the data cannot back an all-clear
_PROBLEM_NOTES = ("incomplete", "no traces", "no data")


@dataclass
class TraceWindow:
    """Traces and observations of one window, for tables, scatter plots and waterfalls."""

    source: str
    start: pd.Timestamp
    end: pd.Timestamp
    traces: pd.DataFrame
    observations: pd.DataFrame
    units: pd.DataFrame
    scores: pd.DataFrame | None = None  # the scores the units were computed with

    @classmethod
    def load(cls, src: TraceSource, start: pd.Timestamp, end: pd.Timestamp,
             scores: pd.DataFrame | None = None, judged_from: pd.Timestamp | None = None,
             runbooks: Mapping[str, Runbook] | None = None) -> TraceWindow:
        """Pull ``[start, end)`` (a failed pull raises: the caller tells the reader); the units'
        budgets come from the baseline days before ``judged_from`` (default ``start``).
        ``scores``: the caller's, pulled over a wider window; None pulls none."""
        pulled = pull_window(src, start, end, raise_errors=True,
                             scores=scores if scores is not None else "skip")
        obs, traces = pulled.observations, pulled.traces
        scores = pulled.scores if scores is not None else None
        rbs = runbooks if runbooks is not None else runbook_mod.load_all()
        units = units_for(rbs, traces, obs, scores, judged_from or start)
        return cls(source=getattr(src, "name", "?"), start=start, end=end, traces=traces,
                   observations=obs, units=units, scores=scores)

    def options(self, column: str) -> list[str]:
        """The values a filter on ``column`` can take in this window, sorted."""
        if column not in _FILTERS:
            raise ConfigError(f"unknown trace filter {column!r}; filters: {list(_FILTERS)}")
        return sorted(self.traces[column].dropna().astype(str).unique().tolist())

    def table(self, **filters: str | None) -> pd.DataFrame:
        """Traces matching ``agent``/``model``/``status`` (None or '' means any), slowest first."""
        t = self.traces
        for key, value in filters.items():
            if key not in _FILTERS:
                raise ConfigError(f"unknown trace filter {key!r}; filters: {list(_FILTERS)}")
            if value:
                if value not in self.options(key):
                    raise ConfigError(f"{key} {value!r} has no traces in this window; "
                                      f"known: {self.options(key)}")
                t = t[t[key].astype(str) == value]
        cols = ["trace_id", "start_time", "agent", "model", "status", "duration_s", "cost_usd",
                "total_tokens", "n_generations", "n_tool_calls", "n_errors"]
        return t.sort_values("duration_s", ascending=False)[cols].reset_index(drop=True)

    def spans(self, trace_id: str) -> pd.DataFrame:
        """The observations of one trace; a clear error for an id not in the window."""
        spans = self.observations[self.observations["trace_id"].astype(str) == str(trace_id)]
        if spans.empty:
            raise ConfigError(f"trace {trace_id!r} is not in the window "
                              f"{self.start} – {self.end}")
        return spans

    def waterfall(self, trace_id: str):
        from workbench.runbook_plots import waterfall_figure

        return waterfall_figure(self.spans(trace_id), title=f"Trace {trace_id}")

    def scatter(self, **filters: str | None):
        from workbench.runbook_plots import latency_cost_scatter

        return latency_cost_scatter(self.table(**filters))


def explore(source: str | TraceSource, start: Any, end: Any, *,
            data_dir: str | Path | None = None, progress: bool | None = None) -> TraceWindow:
    """The traces of ``[start, end)`` for the trace explorer."""
    t0, t1 = to_window(start, end)
    deadline = active_deadline() or Deadline.from_env() or Deadline(None)
    with deadline.active(), pulling(source, data_dir, progress=progress) as src:
        ask_health(src)
        return TraceWindow.load(src, t0, _settled(t0, t1))


def _settled(start: pd.Timestamp, end: pd.Timestamp) -> pd.Timestamp:
    """``end``, short of the newest minutes that are still arriving
    (:func:`~workbench.sources.freshness.settled_end`); as asked for a window that would be
    left with nothing (one yet to come)."""
    cut = settled_end(end)
    return cut if cut > start else end




@dataclass
class Investigation:
    """One runbook over one window: frames, units, the judge, findings, and section builders."""

    runbook: Runbook
    source: str
    start: pd.Timestamp
    end: pd.Timestamp
    baseline_start: pd.Timestamp
    view: TraceWindow
    scores: pd.DataFrame
    findings: list[Finding]
    judge: Judge
    agent: str | None = None
    notes: list[str] = field(default_factory=list)
    #: which data was judged (:attr:`~workbench.sources.TraceSource.identity`); None: unknown
    source_id: str | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def units(self) -> pd.DataFrame:
        """Per-trace signals of the whole pull (baseline, window, after)."""
        return self.view.units

    @property
    def group(self) -> str:
        return self.agent or ALL

    @property
    def context(self) -> Context:
        return Context(self.runbook, self.judge, self.view.observations)

    @property
    def signal_names(self) -> list[str]:
        """The runbook's signals the engine computes, in runbook order."""
        return self.judge.signals()

    @property
    def primary(self) -> str:
        """The signal the summary, attribution and drill-down explain: of the runbook's primary
        signals with baseline units in this investigation's scope, the first that fired; where
        none of them fired but another signal did (a slow agent's near-timeouts), the most
        urgent of those, so the post-mortem does not lead with a timeout rate the page calls
        "ok"; else the first primary signal. An agent judged only by a groundedness judge is
        explained by groundedness, even when other agents' hallucination judges fill the
        project's baseline."""
        usable = [name for name in PRIMARY.get(self.runbook.name, ())
                  if name in self.signal_names and self.judge.baseline_units(name, self.group)]
        firing = [f for f in self.findings if f.status == "firing"
                  and f.signal in self.signal_names
                  and self.judge.baseline_units(f.signal, self.group)]
        fired = {f.signal for f in firing}
        if usable and fired & set(usable):
            return min(usable, key=lambda n: n not in fired)  # stable: the first that fired
        if firing:  # only another signal fired (near-timeouts of a slow agent): that one,
            # or the post-mortem led with a timeout rate the page calls "ok"
            return max(firing, key=lambda f: (SEVERITIES.index(f.severity),
                                              -(f.p_value if np.isfinite(f.p_value)
                                                else 1.0))).signal
        if usable:
            return usable[0]
        names = [s for s in self.signal_names if not SIGNALS[s].scored] or self.signal_names
        if not names:
            raise ConfigError(f"runbook {self.runbook.name!r} has no signal the engine knows; "
                              f"known: {sorted(SIGNALS)}")
        return names[0]

    # -- summary ------------------------------------------------------------------------------
    def signal_table(self) -> pd.DataFrame:
        """Per signal the runbook defines: the window's value, what the baseline expects of the
        same traffic, the ratio, p-value and verdict (:func:`row_verdict`; "no data" where the
        window holds nothing to judge the signal on, "not judged: why" for a signal only its
        detector reads; a tool's latency over tool calls), and ``could_show``: the
        smallest change the window's traffic could show as a finding (a ratio, or a drop for
        a score compared by its difference; inf where none could), so "ok" is read beside
        what "ok" could have missed.

        A row's severity is the verdict on its own numbers (the whole window, the whole
        scope). What the detectors fired on the signal in a narrower scope (one agent, some
        hours, a new prompt version's traffic) is in ``fired``, each with its scope and
        ratio: an agent's "warning" on a row reading 1.00x over all traffic said neither."""
        if "signal_table" in self._cache:
            return self._cache["signal_table"].copy()
        fired: dict[str, list[str]] = {}
        for f in sorted(self.firing, key=self._urgency, reverse=True):
            fired.setdefault(f.signal, []).append(
                f"{f.severity} {self._scope(f)} ({fmt_ratio(f.observed, f.baseline)})")
        rows = []
        for name in self.signal_names:
            iv = self.judge.interval(name, self.start, self.end, self.group)
            # a signal with nothing to read in the window (no scored trace) is not "ok"
            empty = not iv.units or not np.isfinite(iv.observed)
            spec = self.runbook.signal(name)
            rows.append({"signal": name, "unit": spec.get("unit", ""),
                         "observed": iv.observed, "expected": iv.expected, "ratio": iv.ratio,
                         "p_value": float("nan") if empty else iv.p_value,
                         "severity": "no data" if empty else row_verdict(iv), "units": iv.units,
                         "compare": spec.get("compare", "ratio"),
                         "could_show": self._could_show(name),
                         "fired": "; ".join(fired.get(name, []))})
        rows += self._per_call_rows(fired)
        table = pd.DataFrame(rows, columns=_TABLE_COLUMNS)
        # every signal the runbook defines has a row, so a missing one never reads as judged
        order = {n: i for i, n in enumerate(self.runbook.signals)}
        table = table.sort_values("signal", key=lambda c: c.map(order), kind="stable")
        table = table.reset_index(drop=True)
        self._cache["signal_table"] = table
        return table.copy()

    def _per_call_rows(self, fired: dict[str, list[str]]) -> list[dict[str, Any]]:
        """The rows of the runbook's signals the trace judge does not compute: a tool's latency
        judged over the window's tool calls (all tools pooled, each against its own baseline
        p95), any other said "not judged" with why."""
        rows = []
        for name in self.runbook.signals:
            if name in self.signal_names:
                continue
            spec = self.runbook.signal(name)
            row = dict.fromkeys(_TABLE_COLUMNS, float("nan"))
            row.update(signal=name, unit=spec.get("unit", ""), units=0,
                       compare=spec.get("compare", "ratio"),
                       fired="; ".join(fired.get(name, [])))
            judged = self._tool_interval(name) if name in SIGNALS else None
            if judged is None:
                why = _NOT_JUDGED.get(name, "no per-trace measure, only its detector's")
                row["severity"] = f"not judged: {why}"
            else:
                iv, could = judged
                empty = not iv.units or not np.isfinite(iv.observed)
                row.update(observed=iv.observed, expected=iv.expected, ratio=iv.ratio,
                           p_value=float("nan") if empty else iv.p_value, units=iv.units,
                           severity="no data" if empty else row_verdict(iv), could_show=could,
                           unit="ratio")  # a share of calls, whatever the runbook's unit
            rows.append(row)
        return rows

    def _tool_interval(self, name: str) -> tuple[Any, float] | None:
        """``name`` judged over the window's tool calls in this scope, and the smallest change
        that many calls could show; None for a signal not read per tool call."""
        from workbench.analysis.timeouts import tool_units

        if name != "tool_latency_p95":
            return None
        units = tool_units(self.context).reset_index(drop=True)
        if units.empty:
            units = pd.DataFrame({"time": pd.to_datetime([self.start]), "tool_name": ["-"],
                                  "agent": ["-"], "duration": [np.nan], "trace_id": ["-"]})
        tj = Judge(self.runbook, units, self.judge.start, self.judge.end, group_by="tool_name",
                   segments=["tool_name"])
        mine = np.ones(len(units), dtype=bool) if self.agent is None else \
            (units["agent"].astype(str) == self.agent).to_numpy()
        iv = tj.rows(name, mine, self.start, self.end)
        could = tj.smallest_finding(name, iv.units) if iv.units else float("inf")
        return iv, could

    @property
    def firing(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "firing"]

    def fired_on(self, group: str | None = None) -> list[Finding]:
        """The firing findings of the runbook's scanned signals in ``group``'s traffic (default:
        this investigation's; all traffic takes every agent's). The one rule for naming a
        cause: where none fired, a ranking of dimension values explains no significant change,
        so the runbook page names no top suspect and the post-mortem no root-cause candidate."""
        group = group or self.group
        return [f for f in self.firing if f.runbook == self.runbook.name
                and f.signal in self.signal_names
                and (group == ALL or f.labels.get("agent") in (None, group))]

    def _urgency(self, f: Finding) -> tuple[int, bool, float]:
        """Most urgent first: the worst severity, then the primary signal's, then the surest."""
        p = f.p_value if np.isfinite(f.p_value) else 1.0
        return SEVERITIES.index(f.severity), f.signal == self.primary, -p

    @property
    def lead(self) -> Finding | None:
        """The most urgent firing finding: the one the summary's figures are about."""
        return max(self.firing, key=self._urgency) if self.firing else None

    def _scope(self, f: Finding) -> str:
        """Where and when finding ``f`` holds: "in agent=trip-planner, 01:00–07:00 UTC"."""
        where = ", ".join(f"{k}={v}" for k, v in f.labels.items())
        return (f"in {where}, " if where else "over all traffic, ") + self._hours(f.start, f.end)

    def _hours(self, start: pd.Timestamp, end: pd.Timestamp) -> str:
        """"01:00–07:00 UTC", with the day where it is not the window's."""
        day = "" if start.floor("D") == self.start.floor("D") else f"{start:%Y-%m-%d} "
        last = f"{end:%H:%M}" if end - start < pd.Timedelta(days=1) else f"{end:%Y-%m-%d %H:%M}"
        return f"{day}{start:%H:%M}–{last} UTC"

    @property
    def attribution_scope(self) -> tuple[str, str, pd.Timestamp, pd.Timestamp]:
        """``(signal, group, start, end)`` the attribution and the worst traces read: the
        investigation's primary signal over its window and scope, but where no agent was asked
        for and the finding the headline quotes fired in one agent, that finding's signal,
        agent and hours. All traffic's ranking beside an agent's finding put other agents' tools
        first and its cause third (and the worst traces came from other agents); in the
        finding's scope the ranking is the one its top suspect comes from."""
        f = self.lead
        agent = f.labels.get("agent") if f is not None else None
        if self.agent or not agent or not self.fired_on():
            return self.primary, self.group, self.start, self.end
        signal = f.signal if f.signal in self.signal_names else self.primary
        return signal, str(agent), f.start, f.end

    @property
    def attribution_note(self) -> str:
        """One line saying the attribution follows the finding's scope ("" where it is the
        investigation's own)."""
        _, group, start, end = self.attribution_scope
        if group == self.group:
            return ""
        return (f"<p data-scope='agent={_e(group)}'>In agent={_e(group)}, "
                f"{_e(self._hours(start, end))}, where the finding fired (not over all "
                "traffic).</p>")

    def _finding_units(self, f: Finding) -> int | None:
        """How many traces finding ``f``'s numbers stand on, as the judge counts them (a new
        version's traffic, or its agent's hours); None where the judge cannot retell them."""
        if f.signal not in self.signal_names:
            return None
        iv = new_version_interval(self.context, f, f.start, f.end) or self.judge.interval(
            f.signal, f.start, f.end, f.labels.get("agent") or ALL)
        return iv.units if np.isclose(iv.observed, f.observed, rtol=1e-9, equal_nan=True) \
            else None

    def headline(self) -> dict[str, Any]:
        """The figures the summary quotes, all of one scope: the most urgent firing finding's
        (its signal, agent or version, hours and numbers) when one fired, else the primary
        signal over the whole window and scope (:meth:`signal_table`'s row)."""
        f = self.lead
        if f is not None:
            p = f.p_value
            return {"signal": f.signal, "unit": f.unit or str(
                        self.runbook.signal(f.signal).get("unit", "") if f.signal in
                        self.runbook.signals else ""),
                    "scope": self._scope(f), "labels": dict(f.labels), "start": f.start,
                    "end": f.end, "observed": float(f.observed), "expected": float(f.baseline),
                    "ratio": float(f.ratio), "p_value": float(p),
                    "units": self._finding_units(f), "severity": f.severity, "finding": True}
        row = self.signal_table().set_index("signal").loc[self.primary]
        scope = f"over all of {self.agent}" if self.agent else "over all traffic"
        return {"signal": self.primary, "unit": str(row["unit"]),
                "scope": f"{scope} in the window",
                "labels": {"agent": self.agent} if self.agent else {}, "start": self.start,
                "end": self.end, "observed": float(row["observed"]),
                "expected": float(row["expected"]), "ratio": float(row["ratio"]),
                "p_value": float(row["p_value"]), "units": int(row["units"]),
                "severity": row["severity"], "finding": False}

    @property
    def severity(self) -> str:
        """The worst of the detectors' findings and the window's significant signal verdicts
        ("none" for a quiet window)."""
        sevs = [f.severity for f in self.firing]
        sevs += [s for s in self.signal_table()["severity"] if s in SEVERITIES]
        return max(sevs, key=SEVERITIES.index) if sevs else "none"

    @property
    def verdict(self) -> str:
        """The severity the summary shows: :attr:`severity`, but "unknown" when nothing fired
        on data that could not show it (a partial pull, no traces, no baseline, nothing to
        judge the primary signal on, too few units for even a page-size change), never a
        green all-clear."""
        sev = self.severity
        observed = self.signal_table().set_index("signal").loc[self.primary, "observed"]
        if sev == "none" and (self.problems or not np.isfinite(observed) or self.too_little):
            return "unknown"
        return sev

    @property
    def too_little(self) -> bool:
        """The detectors said the window holds too little data to judge the runbook at all."""
        return any(too_little_data(f) for f in self.findings)

    def summary(self) -> dict[str, Any]:
        """What the summary section says, as data (used by the HTML and by tests)."""
        head = self.headline()
        return {
            "runbook": self.runbook.name, "title": self.runbook.title, "source": self.source,
            "start": self.start, "end": self.end, "baseline_start": self.baseline_start,
            "agent": self.agent, "severity": self.severity, "primary_signal": self.primary,
            "headline": head, "signal": head["signal"], "scope": head["scope"],
            "observed": head["observed"], "baseline": head["expected"],
            "p_value": head["p_value"], "units": head["units"],
            "firing": [f"{f.signal} ({f.severity})" for f in self.firing],
            "unjudged": [f.summary for f in self.findings if f.status != "firing"],
            "top_suspect": self.top_suspect, "leading_change": self.leading_change(),
            "traces_in_window": self.judge.window_units(group=self.group),
            "notes": list(self.notes),
        }

    @property
    def top_suspect(self) -> str | None:
        """The first suspect of the finding the summary quotes (its scope, its hours); None
        where no scanned signal fired (:meth:`fired_on`): then nothing is a suspect."""
        lead = self.lead
        if not self.fired_on() or lead is None or not lead.suspects:
            return None
        return lead.suspects[0].label

    @property
    def problems(self) -> list[str]:
        """The notes saying the data cannot back an all-clear: a partial pull, no traces in the
        window, no baseline."""
        return [n for n in self.notes if any(p in n for p in _PROBLEM_NOTES)]

    def summary_html(self) -> str:
        s = self.summary()
        sev = s["severity"]
        fired = ", ".join(s["firing"]) or "no detector fired"
        head = s["headline"]
        unit, name = head["unit"], head["signal"]
        what = SIGNALS[name].units_called() if name in SIGNALS else "traces"
        if np.isfinite(head["observed"]):
            # one scope's figures, said as such: the finding that sets the severity quotes its
            # own (its agent, its hours), never the whole window's beside its severity
            counted = f" ({head['units']:,} {what})" if head["units"] is not None else ""
            lead = "Most urgent finding: " if head["finding"] else ""
            judged = (f"{lead}{_e(name)} {_e(head['scope'])}{counted}: "
                      f"{fmt_value(head['observed'], unit)} against "
                      f"{fmt_value(head['expected'], unit)} expected for the same traffic "
                      f"({fmt_ratio(head['observed'], head['expected'])}"
                      + (f", {fmt_p(head['p_value'])}" if np.isfinite(head["p_value"]) else "")
                      + ").")
        else:
            judged = f"{_e(name)}: cannot judge, no {what} in the window."
        box = self.verdict
        why = "incomplete data" if self.problems or not np.isfinite(s["observed"]) \
            else "too little data to judge"
        label = f"UNKNOWN ({why}, see below)" if box == "unknown" else sev.upper()
        if box == "none":  # never a bare NONE: nothing fired is not an all-clear
            label += " (no finding; not an all-clear)"
        judged += self._leading_html()
        who = f" Agent <b>{_e(s['agent'])}</b>." if s["agent"] else ""
        lines = [_STYLE, f"<h1>{_e(s['title'])}</h1>",
                 f"<p>Window {s['start']:%Y-%m-%d %H:%M} – {s['end']:%Y-%m-%d %H:%M} UTC, "
                 f"baseline {s['baseline_start']:%Y-%m-%d} – {self.judge.baseline_end:%Y-%m-%d}."
                 f" Source <b>{_e(s['source'])}</b>, {s['traces_in_window']:,} traces in the "
                 f"window.{who}</p>",
                 f"<div class='wb-sev-{_e(box)}'><b>Severity: {_e(label)}</b>. "
                 f"Detectors: {_e(fired)}. {judged}</div>"]
        if s["top_suspect"]:
            lines.append(f"<p data-top-suspect='{_e(s['top_suspect'])}'>Top suspect: "
                         f"<b>{_e(s['top_suspect'])}</b></p>")
        lines += [f"<p><i>{_e(n)}</i></p>" for n in s["unjudged"] + s["notes"]]
        lines.append(f"<p>{_e(self.runbook.spec.get('summary', ''))}</p>")
        return "\n".join(lines)

    def _could_show(self, name: str, group: str | None = None) -> float:
        """The judge's smallest finding for ``name`` over the window in ``group`` (default:
        this investigation's scope; the daily report's "what each agent's traffic could show"
        asks the same question): a ratio, or for a score compared by difference the drop; NaN
        where neither applies."""
        spec, group = SIGNALS[name], group or self.group
        if self.runbook.signal(name).get("compare", "ratio") == "ratio":
            return self.judge.smallest_finding(name, None, group)
        if spec.kind == "mean" and not spec.log:
            return self.judge.detectable_shift(name, group)
        return float("nan")

    def leading_change(self) -> dict[str, Any] | None:
        """Where nothing fired: the most improbable change for the worse of the runbook's
        signals over the window, in all traffic or one agent's (only the asked agent's when
        one was), with what the window could show there; None where something fired or no
        signal is worse than its baseline expects. A window holding a real change short of a
        finding (4.11x, p=0.0002 in one agent) must not read as an all-clear."""
        if self.firing:
            return None
        if "leading_change" not in self._cache:  # the summary JSON and its HTML both say it
            self._cache["leading_change"] = self._leading_change()
        return self._cache["leading_change"]

    def _leading_change(self) -> dict[str, Any] | None:
        best = None
        for name in self.signal_names:
            up = self.runbook.signal(name).get("direction", "up") != "down"
            for group in [self.group] if self.agent else self.judge.groups():
                iv = self.judge.interval(name, self.start, self.end, group)
                if not (iv.units and np.isfinite(iv.observed) and np.isfinite(iv.expected)
                        and np.isfinite(iv.p_value)):
                    continue
                worse = iv.observed > iv.expected if up else iv.observed < iv.expected
                if worse and (best is None or iv.p_value < best.p_value):
                    best = iv
        if best is None:
            return None
        where = "over all traffic" if best.group == ALL else f"in agent={best.group}"
        return {"signal": best.signal, "unit": str(self.runbook.signal(best.signal).get(
                    "unit", "")), "labels": {} if best.group == ALL else {"agent": best.group},
                "scope": f"{where}, {self._hours(self.start, self.end)}",
                "observed": best.observed, "expected": best.expected, "ratio": best.ratio,
                "p_value": best.p_value, "units": best.units, "significant": best.significant,
                "severity": best.severity,
                "alpha": self.judge.alpha,
                "compare": self.runbook.signal(best.signal).get("compare", "ratio"),
                "could_show": self._could_show(best.signal, best.group)}

    def _leading_html(self) -> str:
        """The headline's sentence on :meth:`leading_change` ("" where something fired)."""
        if self.firing:
            return ""
        lead = self.leading_change()
        if lead is None:
            could = could_show_text(self._could_show(self.primary),
                                    self.runbook.signal(self.primary).get("compare", "ratio"))
            return (f" No signal is worse than its baseline expects in any scope; "
                    f"{_e(self.primary)} could show {_e(could)} here: a smaller change is "
                    "missed, not absent.")
        unit = lead["unit"]
        if not lead["significant"]:
            why = (f"not significant (the runbook asks p ≤ {lead['alpha']:g}) over the window, "
                   "and no detector fired on it in the windows they scanned")
        elif lead["severity"] is None:
            why = "significant but under the runbook's lowest threshold"
        else:
            why = "significant, yet no detector fired on it"
        what = SIGNALS[lead["signal"]].units_called()
        could = could_show_text(lead["could_show"], lead["compare"])
        return (f" Leading change: {_e(lead['signal'])} {_e(lead['scope'])} "
                f"({lead['units']:,} {what}): {fmt_value(lead['observed'], unit)} against "
                f"{fmt_value(lead['expected'], unit)} expected "
                f"({fmt_ratio(lead['observed'], lead['expected'])}, {fmt_p(lead['p_value'])}), "
                f"{why}; there the window could show {_e(could)}: a smaller change is "
                "missed, not absent.")

    def signal_table_html(self) -> str:
        """:meth:`signal_table` as shown: what the window could show as "≥ 3.2x" (or a drop
        "≥ 0.12"), "none" where no change could be told apart."""
        table = self.signal_table()
        table["could_show"] = [could_show_text(x, c) if not str(v).startswith("not judged")
                               else "–" for x, c, v in zip(table["could_show"],
                                                           table["compare"],
                                                           table["severity"])]
        # a signal whose name is not what it measures says what it is: latency_p95 is a share
        # of slow traces, not seconds ("ratio 0.11" beside it read as a p95 of 0.11 s)
        labels = [self.runbook.signal(n).get("label") for n in table["signal"]]
        # each figure in its signal's unit, as the daily report and the post-mortem print it
        units = [str(self.runbook.signal(n).get("unit", "")) for n in table["signal"]]
        for col in ("observed", "expected"):
            table[col] = [fmt_value(x, u) for x, u in zip(table[col], units)]
        table["signal"] = [f"{n} ({label[:1].lower()}{label[1:]})" if label else n
                           for n, label in zip(table["signal"], labels)]
        return html_table(table.drop(columns=["compare"]).rename(
            columns={"could_show": "could show"}))

    def findings_table(self) -> pd.DataFrame:
        cols = ["severity", "status", "signal", "start", "end", "observed", "baseline", "summary"]
        return pd.DataFrame([{k: f.to_dict()[k] for k in cols} for f in self.findings],
                            columns=cols)

    def findings_html(self) -> str:
        if not self.findings:
            # "no change" beside a signal at 3.9x (p=0.001) reads as an all-clear: say that
            # what fell short of a finding is missed, not absent
            return ("<p>The detectors found no significant change in this window: a change "
                    "smaller than a signal's “could show” above is missed, not absent.</p>")
        return html_table(self.findings_table())

    # -- signals over time --------------------------------------------------------------------
    def signal_series(self) -> pd.DataFrame:
        """Per bucket around the window: each signal's value and what the baseline expected of
        that bucket's traffic (the judge's numbers, bucket by bucket)."""
        if "series" in self._cache:
            return self._cache["series"].copy()
        bucket = self.judge.bucket
        lo = (self.start - _CONTEXT).floor(bucket)
        hi = self.end + _CONTEXT
        frames = []
        for name in self.signal_names:
            rows = []
            t = lo
            while t < hi:
                iv = self.judge.interval(name, t, t + bucket, self.group)
                rows.append((t, iv.observed, iv.expected))
                t += bucket
            f = pd.DataFrame(rows, columns=["bucket", "value", "baseline"])
            f.insert(0, "signal", name)
            f["band_lo"] = np.nan
            f["band_hi"] = np.nan
            f["unit"] = self.runbook.signal(name).get("unit", "")
            frames.append(f)
        cols = ["signal", "bucket", "value", "baseline", "band_lo", "band_hi", "unit"]
        out = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
        self._cache["series"] = out
        return out.copy()

    def signals_figure(self):
        from workbench.runbook_plots import signals_figure

        return signals_figure(self.signal_series(), self.start, self.end,
                              title=f"{self.runbook.title}: signals per hour against what the "
                                    "baseline expects")

    # -- attribution --------------------------------------------------------------------------
    @property
    def dimensions(self) -> list[str]:
        return self.runbook.dimensions

    def suspects(self, dimension: str | None = None, top: int = 10) -> pd.DataFrame:
        """Ranked suspects in :attr:`attribution_scope`; one dimension's values when
        ``dimension``."""
        if dimension is not None and dimension not in self.dimensions:
            raise ConfigError(f"dimension {dimension!r} is not one of runbook "
                              f"{self.runbook.name!r}'s attribution dimensions {self.dimensions}")
        key = f"suspects:{dimension}"
        if key not in self._cache and not self.firing and not self._worse_than_expected():
            # nothing fired and the window is no worse than its traffic should be: there is no
            # excess to attribute, and naming a "top suspect" would read as a finding
            self._cache[key] = pd.DataFrame(columns=["rank", "suspect", "dimension", "value",
                                                     "within", "contribution", "incident",
                                                     "baseline"])
        if key not in self._cache:
            ctx = self.context
            if dimension is not None:
                rb = _with_dimensions(self.runbook, [dimension])
                ctx = Context(rb, self.judge, self.view.observations)
            signal, group, start, end = self.attribution_scope
            found = ctx.suspects(signal, start, end, group, top=top)
            self._cache[key] = pd.DataFrame({
                "rank": range(1, len(found) + 1),
                "suspect": [s.label for s in found],
                "dimension": [s.dimension for s in found], "value": [s.value for s in found],
                "within": [", ".join(f"{k}={v}" for k, v in s.within.items()) for s in found],
                "contribution": [s.contribution for s in found],
                "incident": [s.incident for s in found], "baseline": [s.baseline for s in found],
            })
        return self._cache[key].copy()

    def _worse_than_expected(self) -> bool:
        """The primary signal over the window is on the bad side of what the baseline expects
        of the same traffic (above it, or below it for a signal whose direction is down)."""
        row = self.signal_table().set_index("signal").loc[self.primary]
        observed, expected = float(row["observed"]), float(row["expected"])
        if not (np.isfinite(observed) and np.isfinite(expected)):
            return False
        up = self.runbook.signal(self.primary).get("direction", "up") != "down"
        return observed > expected if up else observed < expected

    #: what a ranking is called where no finding fired (:meth:`fired_on`)
    NOT_SIGNIFICANT = "Leading dimensions of a change that is not significant"

    def suspects_html(self, dimension: str | None = None) -> str:
        table = self.suspects(dimension)
        if table.empty:
            return (f"<p>No excess of {_e(self.primary)} over what the baseline expects in this "
                    "window: nothing to attribute.</p>")
        signal = self.attribution_scope[0]
        unit = str(self.runbook.signal(signal).get("unit", ""))
        seen, expected = suspect_columns(signal)
        shown = html_table(table.drop(columns=["suspect"]).assign(
            contribution=table["contribution"].map("{:.0%}".format),
            incident=[fmt_value(x, unit) for x in table["incident"]],
            baseline=[fmt_value(x, unit) for x in table["baseline"]]).rename(
            columns={"incident": seen, "baseline": expected}))
        if self.fired_on():
            return self.attribution_note + shown
        return (f"<p data-not-significant='1'>{self.NOT_SIGNIFICANT} in {_e(self.primary)}: "
                "no detector fired, so none of these is a suspect; each value's share of an "
                "excess that could be chance.</p>" + shown)

    def suspects_figure(self, dimension: str | None = None):
        from workbench.runbook_plots import suspects_figure

        signal, group, start, end = self.attribution_scope
        where = f" in agent={group}, {self._hours(start, end)}" if group != self.group else ""
        title = (f"Share of the excess {signal} explained{where}" if self.fired_on() else
                 f"{self.NOT_SIGNIFICANT} ({self.primary})")
        return suspects_figure(self.suspects(dimension), title=title)

    # -- drill-down ---------------------------------------------------------------------------
    def worst_traces(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` worst traces for the attributed signal in :attr:`attribution_scope`."""
        signal, group, start, end = self.attribution_scope
        ids = self.context.worst(signal, start, end, group, n=n)
        if not ids:  # nothing bad: the slowest / costliest of the window
            spec = SIGNALS[signal]
            by = spec.worst_by or spec.column
            m = self.context.window_mask(start, end, group)
            ids = self.units[m].sort_values(by, ascending=False)["trace_id"].head(n).tolist()
        u = self.units.set_index("trace_id").loc[ids].reset_index()
        # the judge's score the signal reads (groundedness for groundedness)
        spec = SIGNALS[signal]
        score = next((c for c in (spec.worst_by, spec.column) if c in SCORE_SIGNALS),
                     "hallucination")
        cols = [c for c in ("trace_id", "time", "agent", "status", "duration", "cost", "tokens",
                            "generations", "errors", score, "timeout_reason")
                if c in u.columns]
        return u[cols].rename(columns={"time": "start_time", "duration": "duration_s",
                                       "cost": "cost_usd", "tokens": "total_tokens",
                                       "generations": "n_generations", "errors": "n_errors",
                                       score: "score"}).reset_index(drop=True)

    def worst_traces_html(self, n: int = 10) -> str:
        return self.attribution_note + html_table(self.worst_traces(n))

    def waterfall(self, trace_id: str | None = None):
        """The span waterfall of ``trace_id`` (default: the worst trace)."""
        if trace_id is None:
            worst = self.worst_traces(1)
            if worst.empty:
                raise ConfigError("no trace in the window to draw")
            trace_id = str(worst["trace_id"].iloc[0])
        return self.view.waterfall(trace_id)

    # -- checklists ---------------------------------------------------------------------------
    def steps(self, section: str) -> list[str]:
        if section not in ("investigation", "mitigations", "rollback"):
            raise ConfigError(f"unknown checklist {section!r}: investigation, mitigations or "
                              "rollback")
        if section == "mitigations" and (f := self.lead) is not None and self.fired_on():
            # the one fitted to the finding's first suspect leads, as in the daily report and
            # the post-mortem
            return self.runbook.mitigations(f.suspects, f.labels.get("agent") or self.agent)
        return [str(s) for s in self.runbook.spec.get(section, [])]

    def checklist_html(self, section: str) -> str:
        items = "".join(f"<li>&#9744; {_e(s)}</li>" for s in self.steps(section))
        return _STYLE + f"<ul class='wb-checklist'>{items}</ul>"


def _with_dimensions(rb: Runbook, dimensions: list[str]) -> Runbook:
    spec = dict(rb.spec)
    spec["attribution"] = {**spec["attribution"], "dimensions": list(dimensions)}
    return Runbook(name=rb.name, spec=spec, path=rb.path)


def investigate(runbook: str | Runbook, source: str | TraceSource, start: Any, end: Any, *,
                data_dir: str | Path | None = None, agent: str | None = None,
                runbooks_dir: str | Path | None = None,
                progress: bool | None = None) -> Investigation:
    """Pull the runbook's baseline days before ``start``'s day through ``end + 6 h`` from
    ``source`` and investigate ``[start, end)`` (for one ``agent``, or all traffic) with
    ``runbook``. Bad input fails here with a message naming it.

    Every network wait is bounded by the deadline in force (a scheduled run's
    ``WORKBENCH_DEADLINE_AT``); ``progress``: a remote pull's progress bar (None: for long
    pulls; a rendered notebook passes False, nobody watches it)."""
    rbs = runbook_mod.load_all(runbooks_dir)
    rb = runbook if isinstance(runbook, Runbook) else runbook_mod.load(runbook, runbooks_dir)
    rbs[rb.name] = rb
    t0, asked = to_window(start, end)
    t1 = _settled(t0, asked)
    base0 = min(baseline_period(r, t0)[0] for r in rbs.values())
    deadline = active_deadline() or Deadline.from_env() or Deadline(None)
    with deadline.active(), pulling(source, data_dir, progress=progress) as src:
        source_id = getattr(src, "identity", None)
        ask_health(src)
        pull_end = settled_end(t1 + _CONTEXT)
        if pull_end <= base0:  # a window yet to come: nothing to cut, nothing there either
            pull_end = t1 + _CONTEXT
        scores = src.trace_scores(base0, pull_end)
        view = TraceWindow.load(src, base0, pull_end, scores=scores, judged_from=t0,
                                runbooks=rbs)
    scores = view.scores  # the application's own: Langfuse's evaluator runs set aside
    incomplete = [f"{label} incomplete: {why}" for label, frame in
                  (("traces", view.traces), ("scores", scores))
                  if (why := incomplete_reason(frame))]
    # a derived latency budget is a caveat where latency is judged (as on the detectors'
    # findings), and one agent's investigation is told of its own only
    budgets = view.units.attrs["budgets"].notes_by_agent if "budget" in rb.spec else {}
    notes = incomplete + ([settled_note(t1)] if t1 < asked else []) \
        + [n for a, n in budgets.items() if not agent or a == agent] \
        + score_notes(view.units, t1) + [n for n in [set_aside_note(view.observations)] if n]
    found = detect_all({rb.name: rb}, view.traces, view.observations, scores, t0, t1,
                       units=view.units, confirmed=not incomplete) if len(view.traces) else []
    judge = Judge(rb, view.units, t0, t1)
    if agent and agent not in set(view.units["agent"].astype(str)):
        raise ConfigError(f"agent {agent!r} has no traces between {base0} and {t1}; agents: "
                          f"{sorted(set(view.units['agent'].astype(str)))}")
    if judge.baseline_units() == 0:
        notes.append("no data before the window: there is no baseline to judge against")
    if judge.window_units() == 0:
        notes.append("no traces in the window")
    if agent:
        found = [f for f in found if f.labels.get("agent") in (None, agent)]
    return Investigation(runbook=rb, source=getattr(src, "name", str(source)), start=t0, end=t1,
                         baseline_start=judge.baseline_start, view=view,
                         scores=scores if len(scores) else schema.empty("scores"),
                         findings=found, judge=judge, agent=agent or None, notes=notes,
                         source_id=source_id)
