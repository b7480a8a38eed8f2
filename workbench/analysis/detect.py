"""Entry points: run one runbook's detectors, or all of them, over canonical frames.

``[start, end)`` is the window judged; the frames must also hold the baseline: the runbook's
``baseline.trailing`` whole days before the day ``start`` falls in (:mod:`.judge`). Every signal
is scanned for all traffic and for each agent (:meth:`.judge.Judge.scan`); a change found in one
agent is reported for that agent, and for all traffic only when no agent explains it. Each
finding carries its window, p-value, the shortest window over which it is significant, ranked
suspects (:func:`.attribution.attribute`, ordered by :func:`.suspects.rank`) and the evidence a
notebook shows.

"Too little data" is said, never silent: with no baseline, no traffic in the window, or so few
units that not even a page-level change could be told apart, the runbook gets an
``insufficient_data`` finding naming why.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from workbench import schema
from workbench.analysis import signals as sig_mod
from workbench.analysis.attribution import Exploded, _decode
from workbench.analysis.judge import ALL, SIGNALS, Interval, Judge, judge_for
from workbench.analysis.suspects import rank
from workbench.errors import ConfigError
from workbench.findings import SEVERITIES, Finding, Suspect
from workbench.runbooks import Runbook, parse_duration
from workbench.sources import to_utc

__all__ = ["DETECTORS", "PRIMARY", "Context", "baseline_period", "detect", "detect_all",
           "sensitivity", "sensitivity_columns", "sensitivity_table", "thin_agents",
           "thin_note", "thin_traffic", "too_little_data", "too_little_traffic", "units_for"]

#: runbook -> the signal that decides whether the runbook can judge a window at all, and the
#: one attribution explains in a notebook
PRIMARY: Mapping[str, tuple[str, ...]] = {
    "cost_spike": ("cost_per_request",),
    "timeout_surge": ("timeout_rate",),
    "hallucination_spike": ("hallucination_rate", "groundedness"),
}


class Context:
    """One runbook's detection run: the judge, the frames, and what every finding shares."""

    def __init__(self, runbook: Runbook, judge: Judge, observations: pd.DataFrame,
                 confirmed: bool = True, *, exploded: Exploded | None = None) -> None:
        self.runbook = runbook
        self.judge = judge
        self.units = judge.units
        self.observations = observations
        self.confirmed = confirmed
        # the units' dimension values, exploded once (shared by the runbooks of one run)
        self.exploded = exploded if exploded is not None and exploded.units is self.units \
            else Exploded.of(self.units)
        self._spans: dict[str, Any] = {}
        self.notes: list[str] = []
        # a derived latency budget is said where latency is judged, on its own agent's findings
        self._agent_notes: dict[str, str] = dict(getattr(
            judge.units.attrs.get("budgets"), "notes_by_agent", {})) \
            if "budget" in runbook.spec else {}
        self._fresh: list[tuple[str, str, np.ndarray]] | None = None
        # tables worked out from the observations for these units, shared with every other
        # context over the same frames (a report's daily checks and its detectors)
        self._derived = _derived(observations, self.units)
        covered = judge.baseline_coverage()
        if pd.Timedelta(0) < covered < judge.trailing:
            self.notes.append(f"baseline covers only {covered.days} of the "
                              f"{judge.trailing.days} days before the window; judged with what "
                              "there is")

    def derived(self, name: str, make: Callable[[], Any]) -> Any:
        """``make()``, worked out once per observations and units frames (read-only)."""
        if name not in self._derived:
            self._derived[name] = make()
        return self._derived[name]

    def add_note(self, text: str, agent: str | None = None) -> None:
        """A note for every finding, or for ``agent``'s and all traffic's findings only."""
        if agent is None:
            self.notes.append(text)
        else:
            self._agent_notes[agent] = "; ".join(
                x for x in (self._agent_notes.get(agent), text) if x)

    def notes_for(self, group: str) -> list[str]:
        """The notes a finding of ``group`` (an agent, or all traffic) carries."""
        mine = list(self._agent_notes.values()) if group == ALL else \
            [self._agent_notes[group]] if group in self._agent_notes else []
        return mine + self.notes

    @property
    def dimensions(self) -> list[str]:
        return self.runbook.dimensions

    def window_mask(self, start: pd.Timestamp, end: pd.Timestamp, group: str) -> np.ndarray:
        m = self.judge.between(to_utc(start), to_utc(end))
        if group != ALL:
            m &= self.judge.group_mask(group)
        return m

    def baseline_mask(self, group: str) -> np.ndarray:
        m = self.judge.in_base.copy()
        if group != ALL:
            m &= self.judge.group_mask(group)
        return m

    def fresh_versions(self) -> list[tuple[str, str, np.ndarray]]:
        """``(dimension, value, rows)`` of every prompt version, model and release seen in the
        window but never in the baseline (the changes that shipped)."""
        if self._fresh is not None:
            return self._fresh
        j = self.judge
        out = []
        for dim in (d for d in RELEASE_DIMENSIONS if d in self.units.columns):
            rows, codes, labels = self.exploded(dim)
            if not len(rows):
                continue
            seen = set(labels[np.unique(codes[j.in_base[rows]])].tolist())
            shown = labels[np.unique(codes[j.in_window[rows]])].tolist()
            for value in sorted(set(shown) - seen):
                mask = np.zeros(len(self.units), dtype=bool)
                mask[rows[codes == int(np.flatnonzero(labels == value)[0])]] = True
                out.append((dim, value, mask))
        self._fresh = out
        return out

    def suspects(self, signal: str, start: pd.Timestamp, end: pd.Timestamp, group: str,
                 top: int = 10) -> list[Suspect]:
        """Which dimension values explain ``signal``'s excess in ``[start, end)``, ranked
        (:func:`.suspects.rank`)."""
        return rank(self, signal, start, end, group, top)

    def worst(self, signal: str, start: pd.Timestamp, end: pd.Timestamp, group: str,
              n: int = 20) -> list[str]:
        """Trace ids of the window's worst units for ``signal`` (bad ones first)."""
        p = self.judge.prepared(signal)
        m = self.window_mask(start, end, group) & p.mask
        by = p.spec.worst_by or p.spec.column
        frame = pd.DataFrame({"trace_id": self.units["trace_id"].to_numpy()[m],
                              "bad": p.bad[m],
                              "by": self.units[by].to_numpy(dtype="float64")[m]
                              if by in self.units.columns else p.bad[m]})
        if p.spec.kind == "rate":
            frame = frame[frame["bad"] > 0]
        return frame.sort_values(["bad", "by"], ascending=False)["trace_id"].head(n).tolist()

    def series(self, signal: str, group: str) -> pd.DataFrame:
        """Per bucket of the window: units, observed and expected value, ratio, p-value."""
        rows = [{"bucket": iv.start, "units": iv.units, "observed": iv.observed,
                 "expected": iv.expected, "ratio": iv.ratio, "p_value": iv.p_value,
                 "severity": iv.severity if iv.significant else None}
                for iv in self.judge.buckets(signal, group)]
        return pd.DataFrame(rows)


_DERIVED: dict[tuple[int, int], tuple[Any, Any, dict[str, Any]]] = {}


def _derived(observations: pd.DataFrame | None, units: pd.DataFrame) -> dict[str, Any]:
    """The shared tables of :meth:`Context.derived` for one observations and units frame,
    kept while both live (a context of its own where there are no observations)."""
    if observations is None:
        return {}
    key = (id(observations), id(units))
    found = _DERIVED.get(key)
    if found is None or found[0]() is not observations or found[1]() is not units:
        found = _DERIVED[key] = (weakref.ref(observations), weakref.ref(units), {})
        for frame in (observations, units):
            weakref.finalize(frame, _DERIVED.pop, key, None)
    return found[2]


def baseline_period(runbook: Runbook, start: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[first, last)`` of the baseline days of a window starting at ``start``."""
    end = to_utc(start).floor("D")
    return end - parse_duration(runbook.spec["baseline"]["trailing"]), end


def units_for(runbooks: Mapping[str, Runbook], traces: pd.DataFrame,
              observations: pd.DataFrame | None, scores: pd.DataFrame | None,
              start: Any) -> pd.DataFrame:
    """The per-trace signals of the frames, with budgets derived from the baseline days before
    ``start`` (see :func:`workbench.analysis.signals.trace_signals`)."""
    periods = [baseline_period(rb, start) for rb in runbooks.values()] or \
        [(to_utc(start).floor("D") - pd.Timedelta(days=7), to_utc(start).floor("D"))]
    base = (min(p[0] for p in periods), max(p[1] for p in periods))
    budgets = sig_mod.agent_budgets(traces, runbooks, base)
    return sig_mod.trace_signals(traces, observations, scores, runbooks, budgets=budgets)


def _fmt(value: float, unit: str) -> str:
    if not np.isfinite(value):
        return "n/a"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "USD":
        return f"${value:.4f}"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:.3g}"


def _when(a: pd.Timestamp, b: pd.Timestamp) -> str:
    same_day = a.floor("D") == (b - pd.Timedelta(microseconds=1)).floor("D")
    return (f"{a:%Y-%m-%d %H:%M}–{b:%H:%M} UTC" if same_day
            else f"{a:%Y-%m-%d %H:%M} – {b:%Y-%m-%d %H:%M} UTC")


def _hours(td: pd.Timedelta) -> str:
    h = td / pd.Timedelta(hours=1)
    return f"{h:g} h" if h >= 1 else f"{td / pd.Timedelta(minutes=1):g} min"


def _p(p: float) -> str:
    """As the documents print it (:func:`workbench.reports.document.fmt_p`): one rounding."""
    return "p<1e-12" if p < 1e-12 else f"p={p:.2g}"


def suspects_text(suspects: list[Suspect], k: int = 2) -> str:
    if not suspects:
        return ""
    return "; suspects: " + ", ".join(f"{s.label} ({s.contribution:.0%})" for s in suspects[:k])


def signal_finding(ctx: Context, signal: str, iv: Interval,
                   evidence: Callable[[Context, str, Interval], dict[str, pd.DataFrame]]
                   | None = None) -> Finding:
    """The finding of one scanned interval (summary, suspects, worst traces, evidence)."""
    spec = ctx.runbook.signal(signal)
    unit = spec.get("unit", "")
    suspects = ctx.suspects(signal, iv.start, iv.end, iv.group)
    if (since := _since_its_release(ctx, signal, iv, suspects)) is not iv:
        iv, suspects = since, ctx.suspects(signal, since.start, since.end, since.group)
    shortest = ctx.judge.shortest(signal, iv)
    who = "" if iv.group == ALL else f" in {iv.group}"
    name = spec.get("label") or signal.replace("_", " ").capitalize()
    summary = (f"{name}{who} {_fmt(iv.observed, unit)} against {_fmt(iv.expected, unit)} "
               f"expected for the same traffic ({_ratio(iv)}) over {_when(iv.start, iv.end)}, "
               f"{iv.units} {SIGNALS[signal].units_called()}; significant "
               f"within {_hours(shortest)} ({_p(iv.p_value)}){suspects_text(suspects)}"
               f"{first_seen_text(ctx, suspects)}")
    notes = ctx.notes_for(iv.group)
    if notes:
        summary += "; " + "; ".join(notes)
    ev = {"series": ctx.series(signal, iv.group)}
    if evidence is not None:
        ev.update(evidence(ctx, signal, iv))
    return Finding(runbook=ctx.runbook.name, signal=signal, severity=iv.severity,
                   start=iv.start, end=iv.end, observed=iv.observed, baseline=iv.expected,
                   summary=summary, unit=unit,
                   labels={} if iv.group == ALL else {"agent": iv.group}, suspects=suspects,
                   trace_ids=ctx.worst(signal, iv.start, iv.end, iv.group), evidence=ev,
                   p_value=iv.p_value, shortest=shortest, confirmed=ctx.confirmed)


def _since_its_release(ctx: Context, signal: str, iv: Interval,
                       suspects: list[Suspect]) -> Interval:
    """``iv`` cut to the hours its first suspect ran, where that suspect is a version new since
    the baseline and the hours cut off show no change of their own: a change a release carries
    began when it shipped. The scan's best window can reach far into sparse night hours, where
    a few units more or less barely move its likelihood, and a timeline would then start the
    incident hours too early. The hours cut off are tested at ``evaluation.canary_alpha``
    shared among the places the scan could have put the window's edge (it put it where they
    looked worst)."""
    mask = _fresh_rows(ctx, suspects[0]) if suspects else None
    if mask is None:
        return iv
    j = ctx.judge
    alpha = float(ctx.runbook.spec["evaluation"].get("canary_alpha", 0.01)) / j.scan_len
    span = j.active_span(mask & ctx.window_mask(iv.start, iv.end, iv.group), iv.start, iv.end)
    if span is None or span == (iv.start, iv.end):
        return iv
    if any(j.enough(cut) and cut.p_value <= alpha
           for cut in (j.interval(signal, a, b, iv.group)
                       for a, b in ((iv.start, span[0]), (span[1], iv.end)) if a < b)):
        return iv  # the hours before or after it changed too: not the release alone
    since = j.interval(signal, *span, iv.group)
    if not (since.significant and since.severity):
        return iv
    since.llr = iv.llr
    return since


def _fresh_rows(ctx: Context, s: Suspect) -> np.ndarray | None:
    """The units of suspect ``s`` when it is a version new since the baseline, else None."""
    for dim, value, mask in ctx.fresh_versions():
        shown_dim, shown, within = _decode(dim, value)
        if (shown_dim, shown) == (s.dimension, s.value) and all(
                s.within.get(k) == v for k, v in within.items()):
            return mask
    return None


def first_seen(ctx: Context, suspect: Suspect) -> pd.Timestamp | None:
    """When ``suspect``, a version new since the baseline, ran first (what shipped, and when);
    None for any other suspect."""
    mask = _fresh_rows(ctx, suspect)
    rows = np.flatnonzero(mask) if mask is not None else []
    if not len(rows):
        return None
    return ctx.judge.earliest(rows)


def first_seen_text(ctx: Context, suspects: list[Suspect]) -> str:
    """"; prompt_version=14 in prompt_name=x is new since the baseline, first seen 01:12 UTC"
    when the first suspect is such a version, else ""."""
    first = first_seen(ctx, suspects[0]) if suspects else None
    if first is None:
        return ""
    return (f"; {suspects[0].label} is new since the baseline, first seen "
            f"{first:%Y-%m-%d %H:%M} UTC")


def _ratio(iv: Interval) -> str:
    r = iv.ratio
    return "new" if r == float("inf") else f"{r:.2f}x"


def scan_signal(ctx: Context, signal: str) -> list[Interval]:
    """Scanned intervals of ``signal`` for every agent, then all traffic where no agent's
    interval overlaps."""
    j = ctx.judge
    per_agent = [iv for g in j.groups() if g != ALL for iv in j.scan(signal, g)]
    overall = [iv for iv in j.scan(signal, ALL)
               if not any(iv.start < a.end and a.start < iv.end for a in per_agent)]
    return per_agent + overall


def too_little_traffic(j: Judge, alpha: float | None = None) -> dict[str, int]:
    """The agents whose own traffic over the whole window is too little to show a page-size
    change of the runbook's primary traffic signals (:data:`PRIMARY`) as significant at
    ``alpha`` (default ``evaluation.alpha``), with their traces in the window.

    The runbook's data-volume check (:func:`insufficient`) judges all traffic; a small agent
    beside busy ones is judged on its own and missed without a word unless named here. The
    question is one of volume: whether as many units of the window's traffic (its usual rates
    and spread, :meth:`.judge.Judge.detectable_at`), with at least ``min_units`` units and
    ``min_events`` events, could show the runbook's page threshold; an agent that rarely times
    out at all is not "too small". Sampled evaluation signals are left out: an agent without
    scores is the judge's sampling, not its traffic."""
    rb = j.runbook
    primary = [s for s in PRIMARY.get(rb.name, ()) if s in rb.signals and s in SIGNALS
               and not SIGNALS[s].scored and rb.signal(s).get("compare", "ratio") == "ratio"
               and rb.signal(s).get("thresholds", {}).get("page") is not None]
    out: dict[str, int] = {}
    for group in j.groups():
        if group == ALL:
            continue
        judged = None  # no primary signal has units of the agent: nothing to say
        for s in primary:
            n = j.window_units(s, group)
            if n == 0:
                continue
            judged = j.smallest_finding(s, n, alpha=alpha) \
                <= float(rb.signal(s)["thresholds"]["page"])
            if judged:
                break
        if judged is False:
            out[group] = j.window_units(None, group)
    return out


#: The short windows :func:`sensitivity` asks about besides the whole window, in hours.
SENSITIVITY_HOURS = (1, 6)


def sensitivity_columns(hours: tuple[int, ...] = SENSITIVITY_HOURS) -> list[str]:
    """The short windows' columns of :func:`sensitivity` (``"1h"``, ``"6h"``), the whole
    window's (``"window"``) left out."""
    return [f"{h}h" for h in hours]


def sensitivity(j: Judge, hours: tuple[int, ...] = SENSITIVITY_HOURS
                ) -> list[dict[str, Any]]:
    """Per agent and primary ratio signal (:data:`PRIMARY`, scored ones included), the
    smallest change its traffic could show as a finding over ``hours`` and over the whole
    window: ``{"agent", "signal", "units", "window_h", "<h>h": ratio, ..., "window": ratio}``.

    A short change on a small agent is otherwise missed without a word: the whole-window
    question (:func:`too_little_traffic`) says nothing of a three-hour spike. The short
    windows assume the agent's average traffic per hour in the window (nights hold less); a
    ratio is ``inf`` when no change could be told apart, NaN for a rate the baseline never saw
    happen (any event would be new)."""
    rb = j.runbook
    signals = [s for s in PRIMARY.get(rb.name, ()) if s in rb.signals and s in SIGNALS
               and rb.signal(s).get("compare", "ratio") == "ratio"]
    span_h = (j.end - j.start) / pd.Timedelta(hours=1)
    rows = []
    for group in j.groups():
        if group == ALL:
            continue
        for s in signals:
            n = j.window_units(s, group)
            if n == 0:
                continue
            row: dict[str, Any] = {"agent": group, "signal": s, "units": n,
                                   "window_h": span_h}
            for h, col in zip(hours, sensitivity_columns(hours)):
                row[col] = j.smallest_finding(s, n * min(h / span_h, 1.0), group)
            row["window"] = j.smallest_finding(s, None, group)
            rows.append(row)
    return rows


def too_little_data(f: Finding) -> bool:
    """``f`` is a runbook's "too little data to judge the window at all" finding
    (:func:`insufficient`)."""
    return f.status == "insufficient_data" and f.signal == "data_volume"


def _judged(runbooks: Mapping[str, Runbook], units: pd.DataFrame, start: Any, end: Any,
            judges: dict | None, unjudged: Collection[str]) -> Iterator[tuple[str, Judge]]:
    """Each runbook with a detector that judged ``[start, end)`` as a whole (not in
    ``unjudged``), with the detectors' judge (``judges``: their cache)."""
    for name in sorted(set(runbooks) & set(DETECTORS) - set(unjudged)):
        yield name, judge_for(runbooks[name], units, start, end, judges)


def thin_traffic(runbooks: Mapping[str, Runbook], units: pd.DataFrame, start: Any, end: Any,
                 judges: dict | None = None, unjudged: Collection[str] = ()
                 ) -> dict[str, dict[str, int]]:
    """Per runbook that judged the window as a whole, the agents too small to judge on their
    own traffic (:func:`too_little_traffic`, at the significance the detectors fire at): what
    they could not find is what is said."""
    return {name: found for name, j in _judged(runbooks, units, start, end, judges, unjudged)
            if (found := too_little_traffic(j))}


def sensitivity_table(runbooks: Mapping[str, Runbook], units: pd.DataFrame, start: Any,
                      end: Any, judges: dict | None = None, unjudged: Collection[str] = ()
                      ) -> pd.DataFrame:
    """One row per runbook that judged the window as a whole, agent and primary signal: the
    smallest change each agent's traffic could show (:func:`sensitivity`)."""
    return pd.DataFrame([{"runbook": name, **row} for name, j in
                         _judged(runbooks, units, start, end, judges, unjudged)
                         for row in sensitivity(j)])


def thin_agents(thin: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    """``[{"agent", "traces", "runbooks"}]``, fewest traces first, from runbook -> the agents
    :func:`too_little_traffic` named with their traces."""
    agents: dict[str, dict[str, Any]] = {}
    for name, found in sorted(thin.items()):
        for agent, n in found.items():
            entry = agents.setdefault(agent, {"agent": agent, "traces": n, "runbooks": []})
            entry["runbooks"].append(name)
    return sorted(agents.values(), key=lambda a: (a["traces"], a["agent"]))


def thin_note(thin: Mapping[str, Mapping[str, int]], title: Callable[[str], str],
              prefix: str = "too little traffic to judge: ") -> str | None:
    """The one line naming :func:`thin_agents` (runbooks by ``title``), None when every
    agent is judged."""
    agents = thin_agents(thin)
    if not agents:
        return None
    return prefix + ", ".join(
        f"{a['agent']} ({a['traces']:,} trace{'' if a['traces'] == 1 else 's'}: "
        f"{', '.join(title(r) for r in a['runbooks'])})" for a in agents)


def insufficient(ctx: Context) -> Finding | None:
    """An ``insufficient_data`` finding when the runbook cannot judge the window at all."""
    j = ctx.judge
    rb = ctx.runbook
    primary = [s for s in PRIMARY.get(rb.name, ()) if s in rb.signals and s in SIGNALS]
    if not primary:
        primary = [s for s in j.signals()][:1]
    if not primary:
        return None
    def what(signal: str, n: int = 2) -> str:
        return SIGNALS[signal].units_called(n)

    usable = [s for s in primary if j.baseline_units(s) >= j.min_units]
    if not usable:
        n0 = j.baseline_units(primary[0])
        why = (f"no baseline: {n0} {what(primary[0], n0)} in "
               f"{j.baseline_start:%Y-%m-%d} – {j.baseline_end:%Y-%m-%d}")
    else:  # one primary signal that can judge the window is enough (groundedness judges
        # what a hallucination judge sampling another agent cannot)
        reasons = []
        for s in usable:
            n = j.window_units(s)
            if n == 0:
                # each scored signal has its own judge: say whose scores are missing
                reasons.append(f"no {what(s)} in the window" + (
                    f" for {s}" if SIGNALS[s].scored and len(usable) > 1 else ""))
                continue
            spec = rb.signal(s)
            page = spec.get("thresholds", {}).get("page")
            compare = spec.get("compare", "ratio")
            smallest, unit = None, ""
            if page is not None and compare == "ratio":
                smallest, unit = j.detectable(s), "x"
            elif page is not None and compare == "delta" and SIGNALS[s].kind == "mean" \
                    and not SIGNALS[s].log:
                smallest = j.detectable_shift(s)
                if SIGNALS[s].scored and smallest >= 1.0:
                    smallest = float("inf")  # scores are read on 0..1: no such drop exists
            if smallest is not None and smallest > float(page):
                if np.isfinite(smallest):
                    size = f'{smallest:.1f}x' if unit else f'{smallest:.2f}'
                    reasons.append(f"{n} {what(s, n)} in the window can only tell apart a {s} "
                                   f"change of {size} or more (page threshold {page:g}{unit})")
                else:
                    reasons.append(f"{n} {what(s, n)} in the window cannot show any {s} change "
                                   f"as significant (page threshold {page:g}{unit})")
                continue
            return None
        why = "; ".join(reasons)
    summary = f"{rb.title}: insufficient data to judge ({why})"
    notes = ctx.notes_for(ALL)
    if notes:
        summary += "; " + "; ".join(notes)
    return Finding(runbook=rb.name, signal="data_volume", severity="info", start=j.start,
                   end=j.end, observed=float(j.window_units()),
                   baseline=float(j.baseline_units()), summary=summary,
                   status="insufficient_data", unit="traces", confirmed=ctx.confirmed)


#: version-like dimensions whose new values are judged on their own traffic (canary analysis)
RELEASE_DIMENSIONS = ("prompt_version", "model", "release")
#: signals judged on a new version's traffic, per runbook
CANARY_SIGNALS: Mapping[str, tuple[str, ...]] = {
    "cost_spike": ("cost_per_request",),
    "timeout_surge": ("timeout_rate",),
    "hallucination_spike": ("hallucination_rate", "groundedness"),
}


def _canary(ctx: Context, signal: str, mask: np.ndarray, start: pd.Timestamp,
            end: pd.Timestamp, alpha: float) -> Interval | None:
    """The new version's own traffic (``mask``) in ``[start, end)`` when it is worse at
    ``alpha`` with enough units and a severity, else None."""
    j = ctx.judge
    iv = j.rows(signal, mask, start, end)
    return iv if iv.p_value <= alpha and j.enough(iv) and iv.severity else None


def new_version_interval(ctx: Context, finding: Finding, start: pd.Timestamp,
                         end: pd.Timestamp) -> Interval | None:
    """What :func:`canary_findings` would find over ``[start, end)`` for the new version
    ``finding`` names (its labels), or None: not significant there, or no new version named.
    When an hourly check would have alerted on a new version is asked of this test, not of
    the whole traffic's, which a version's share of it can leave unmoved."""
    if finding.signal not in ctx.judge.signals():
        return None
    alpha = float(ctx.runbook.spec["evaluation"].get("canary_alpha", 0.01))
    for dim, value, mask in ctx.fresh_versions():
        dim_, shown, within = _decode(dim, value)
        if finding.labels.get(dim_) == shown and all(
                finding.labels.get(k) == v for k, v in within.items()):
            return _canary(ctx, finding.signal, mask, start, end, alpha)
    return None


def canary_findings(ctx: Context, covered: list[Finding]) -> list[Finding]:
    """Findings on new versions: a prompt version, model or release that the baseline never
    saw is judged once, on its own traffic in the window, at ``evaluation.canary_alpha``
    (default 0.01): one test per new version, where the scan makes hundreds, so a release that
    doubles a sampled rate is seen on the day it ships. Not where a scan finding of the same
    signal already covers it (that finding names the version first when it is the cause)."""
    j = ctx.judge
    alpha = float(ctx.runbook.spec["evaluation"].get("canary_alpha", 0.01))
    out: list[Finding] = []
    for dim, value, mask in ctx.fresh_versions():
        span = j.active_span(mask, j.start, j.end)
        if span is None:
            continue
        start, end = span
        for signal in CANARY_SIGNALS.get(ctx.runbook.name, ()):
            if signal not in j.signals():
                continue
            if any(f.signal == signal and f.start < end and start < f.end for f in covered):
                continue
            iv = _canary(ctx, signal, mask, start, end, alpha)
            if iv is None:
                continue
            dim_, shown, within = _decode(dim, value)
            label = f"{dim_}={shown}" + "".join(f" in {k}={v}" for k, v in within.items())
            spec = ctx.runbook.signal(signal)
            unit = spec.get("unit", "")
            # a version one agent runs is that agent's finding (alerts, post-mortems and
            # grouping match on the agent label)
            agents = set(np.unique(j.agents[mask & ctx.window_mask(start, end, ALL)]).tolist())
            group = agents.pop() if len(agents) == 1 else ALL
            if group != ALL:
                within = {"agent": group, **within}
            suspects = ctx.suspects(signal, start, end, group)
            out.append(Finding(
                runbook=ctx.runbook.name, signal=signal, severity=iv.severity,
                start=start, end=end, observed=iv.observed, baseline=iv.expected,
                summary=(f"New {label} (not in the baseline): "
                         f"{signal.replace('_', ' ')} {_fmt(iv.observed, unit)} against "
                         f"{_fmt(iv.expected, unit)} expected for its traffic "
                         f"({_ratio(iv)}) over {_when(start, end)}, {iv.units} "
                         f"{SIGNALS[signal].units_called()} "
                         f"({_p(iv.p_value)}){suspects_text(suspects)}"),
                unit=unit, labels={dim_: shown, **within}, suspects=suspects,
                trace_ids=ctx.worst(signal, start, end, group), p_value=iv.p_value,
                confirmed=ctx.confirmed, evidence={"series": ctx.series(signal, group)}))
    return out


def _generic(ctx: Context) -> list[Finding]:
    from workbench.analysis import cost, hallucination, timeouts

    evidence = {"cost_spike": cost.evidence, "timeout_surge": timeouts.evidence,
                "hallucination_spike": hallucination.evidence}.get(ctx.runbook.name)
    out = []
    for signal in ctx.judge.signals():
        if signal in ("tool_latency_p95",):
            continue
        for iv in scan_signal(ctx, signal):
            out.append(signal_finding(ctx, signal, iv, evidence))
    return out


def _run(ctx: Context) -> list[Finding]:
    from workbench.analysis import cost, timeouts

    gap = insufficient(ctx)
    if ctx.judge.window_units() == 0 or ctx.judge.baseline_units() == 0:
        return [gap] if gap is not None else []
    out = _generic(ctx)
    out += canary_findings(ctx, out)
    if ctx.runbook.name == "cost_spike":
        out += cost.page_bursts(ctx)
        out += cost.growth(ctx)
    if ctx.runbook.name == "timeout_surge":
        out += timeouts.burn_findings(ctx)
        out += timeouts.tool_latency(ctx)
    # a change the runbook alerts on was shown: "too little data to judge" would contradict it
    shown = any(f.status == "firing" and f.severity != "info" for f in out)
    return out if gap is None or shown else [gap, *out]


#: runbook name -> what runs it (the generic scan plus the runbook's own extras)
DETECTORS: dict[str, Callable[[Context], list[Finding]]] = {
    "cost_spike": _run, "timeout_surge": _run, "hallucination_spike": _run,
}


def _frame(df: Any, name: str) -> pd.DataFrame:
    if df is None:
        return schema.empty(name)
    return schema.validate(df, name)


def _order(f: Finding) -> tuple:
    return (-SEVERITIES.index(f.severity), f.start, f.runbook, f.signal)


def detect(runbook: Runbook, traces: pd.DataFrame, observations: pd.DataFrame | None,
           scores: pd.DataFrame | None, start: Any, end: Any, *,
           units: pd.DataFrame | None = None, confirmed: bool = True) -> list[Finding]:
    """Findings of ``runbook`` in ``[start, end)``, most urgent first.

    Frames are the canonical ``traces``, ``observations`` and ``scores`` (``observations`` and
    ``scores`` may be None); ``units`` (from :func:`units_for`) saves recomputing the signals
    when several runbooks judge the same frames. ``confirmed=False`` marks every finding as
    made on incomplete data.
    """
    if runbook.name not in DETECTORS:
        raise ConfigError(f"no detector for runbook {runbook.name!r} ({runbook.path}); "
                          f"detectors exist for {sorted(DETECTORS)}")
    return detect_all({runbook.name: runbook}, traces, observations, scores, start, end,
                      units=units, confirmed=confirmed)


def detect_all(runbooks: Mapping[str, Runbook], traces: pd.DataFrame,
               observations: pd.DataFrame | None, scores: pd.DataFrame | None, start: Any,
               end: Any, *, units: pd.DataFrame | None = None,
               confirmed: bool = True, judges: dict | None = None) -> list[Finding]:
    """:func:`detect` for every runbook that has a detector; most urgent first. ``judges``:
    a cache of judges over the same units (:func:`.judge.judge_for`)."""
    names = [name for name in sorted(runbooks) if name in DETECTORS]
    if not names:
        return []
    t0, t1 = to_utc(start), to_utc(end)
    if not t1 > t0:
        raise ConfigError(f"window end {t1} is not after its start {t0}")
    traces = _frame(traces, "traces")
    observations = _frame(observations, "observations")
    scores = _frame(scores, "scores")
    if units is None:
        units = units_for(runbooks, traces, observations, scores, t0)
    out: list[Finding] = []
    exploded = Exploded.of(units)
    for name in names:
        judge = judge_for(runbooks[name], units, t0, t1, judges)
        ctx = Context(runbooks[name], judge, observations, confirmed, exploded=exploded)
        out += DETECTORS[name](ctx)
    return sorted(out, key=_order)
