"""Judge a runbook's signals over a window: one engine for detectors, checks and notebooks.

:class:`Judge` holds one runbook, the units (:func:`workbench.analysis.signals.trace_signals`),
the judged window ``[start, end)`` and its baseline: the ``baseline.trailing`` whole UTC days
before the day the window starts in. Anchoring the baseline to the day means the daily report, a
scheduled check and a notebook opened on a finding's hours all compare with the same days, and
so give the same numbers for the same hours.

For every signal it computes, per unit, what the baseline expects (:mod:`.baseline`: by
segment, mix-adjusted), then:

- :meth:`Judge.interval` judges any sub-window ``[a, b)`` for all traffic or one agent: observed
  and expected values, their ratio, the p-value (:mod:`.stats`), the severity the runbook's
  thresholds give. Every number shown about a window comes from here.
- :meth:`Judge.scan` looks for changes: every run of consecutive buckets up to
  ``evaluation.scan`` long is judged, and where some are significant (p <= ``evaluation.alpha``,
  enough units and events, the runbook's thresholds crossed) the run with the highest likelihood
  ratio is the finding's window: the hours the change fills, neither the one noisy hour nor the
  whole day. A sparse night is pooled with its neighbours instead of being "insufficient".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from workbench.analysis import stats
from workbench.analysis.baseline import Expectation, _memo, expect, hour_codes
from workbench.findings import ALL_TRAFFIC, SEVERITIES
from workbench.runbooks import Runbook, parse_duration
from workbench.sources import to_utc

__all__ = ["ALL", "SIGNALS", "Interval", "Judge", "SignalSpec", "Totals", "judge_for",
           "severity_for"]

ALL = ALL_TRAFFIC

#: baseline days :meth:`Judge.day_spread` needs to say how far whole days swing
MIN_DAYS = 3
#: expected events a baseline day of a rate or count needs to count toward it
_MIN_DAY_EVENTS = 5
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class SignalSpec:
    """How a runbook signal is computed from the units.

    ``column`` is the per-unit value in the signal's bad direction for rates (a timeout, an
    invalid tool call); ``value`` the column shown (a validity is shown as such, tested as its
    shortfall). ``log``: test a mean on the log scale (cost: heavy-tailed), show the arithmetic
    mean. ``scored``: units are the traces that have ``column`` (sampled evaluations, calls
    to tools); ``noun`` names them in a sentence when they are not scored traces.
    """

    column: str
    kind: str
    scored: bool = False
    log: bool = False
    weight: str | None = None
    invert_display: bool = False  # show 1 - share (a validity for an invalid share)
    attribute: str | None = None  # the unit column attribution explains (default: column)
    worst_by: str | None = None  # unit column ranking the worst traces (default: column)
    noun: tuple[str, str] | None = None  # (one, many) of its units

    def units_called(self, n: int = 2) -> str:
        """What ``n`` of its units are called in a sentence ("12 scored traces")."""
        one, many = self.noun or (("scored trace", "scored traces") if self.scored
                                  else ("trace", "traces"))
        return one if n == 1 else many


#: The signals the engine knows; a runbook's thresholds say when each fires.
SIGNALS: Mapping[str, SignalSpec] = {
    "cost_per_request": SignalSpec("cost", "mean", log=True, worst_by="cost"),
    "runaway_loop": SignalSpec("runaway", "rate", worst_by="tokens"),
    "token_waste_ratio": SignalSpec("waste", "mean", weight="tokens", worst_by="waste"),
    "timeout_rate": SignalSpec("timeout", "rate", worst_by="duration"),
    "timeout_errors": SignalSpec("timeout_reported", "rate", worst_by="duration"),
    "near_timeout_share": SignalSpec("near_timeout", "rate", worst_by="duration"),
    "latency_p95": SignalSpec("slow", "rate", worst_by="duration"),
    "tool_latency_p95": SignalSpec("slow", "rate", worst_by="duration"),
    "hallucination_rate": SignalSpec("hallucinated", "rate", scored=True,
                                     worst_by="hallucination"),
    "groundedness": SignalSpec("groundedness", "mean", scored=True, worst_by="ungrounded"),
    "tool_call_validity": SignalSpec("invalid_tool_calls", "rate", scored=True,
                                     weight="scored_tool_calls", invert_display=True,
                                     worst_by="invalid_tool_calls"),
    "tool_call_rejections": SignalSpec("rejected_calls", "rate", scored=True,
                                       weight="checked_calls", worst_by="rejected_calls",
                                       noun=("trace with tool calls", "traces with tool calls")),
    "unexpected_refusal_rate": SignalSpec("refused", "rate", scored=True, worst_by="refused"),
}


def severity_for(value: float, thresholds: Mapping[str, float]) -> str | None:
    """The most urgent severity whose threshold ``value`` reaches (None below all)."""
    best = None
    if value is None or not np.isfinite(value) and value != np.inf:
        return None
    for sev in SEVERITIES:
        t = thresholds.get(sev)
        if t is not None and value >= t:
            best = sev
    return best


@dataclass
class Interval:
    """One judged window: what was seen, what the baseline expected, and the verdict."""

    signal: str
    group: str
    start: pd.Timestamp
    end: pd.Timestamp
    units: int
    observed: float  # the signal's value in the window (a share, a mean)
    expected: float  # the baseline's value for the same traffic
    events: float  # rates and counts: events seen; means: sum of values
    p_value: float
    score: float  # what the thresholds are written in (ratio, value or change)
    severity: str | None
    significant: bool
    llr: float = 0.0

    @property
    def ratio(self) -> float:
        if self.expected == 0:
            return float("inf") if self.observed > 0 else float("nan")
        return self.observed / self.expected

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "group": self.group, "start": self.start,
                "end": self.end, "units": self.units, "observed": self.observed,
                "expected": self.expected, "ratio": self.ratio, "p_value": self.p_value,
                "severity": self.severity, "significant": self.significant}


@dataclass(frozen=True)
class Totals:
    """Sums of a signal over a window (:meth:`Judge.totals`): ``value`` is the total of the
    shown per-unit value (dollars for cost, events for a rate), ``expected`` the baseline's
    total for the same units."""

    signal: str
    group: str
    start: pd.Timestamp
    end: pd.Timestamp
    units: int
    value: float
    expected: float

    @property
    def excess(self) -> float:
        return self.value - self.expected


@dataclass
class _Prepared:
    """A signal's per-unit arrays over the units frame."""

    name: str
    spec: SignalSpec
    mask: np.ndarray  # units of this signal (scored ones for sampled signals)
    y: np.ndarray  # tested value, bad direction up
    e: np.ndarray  # its expectation
    v: np.ndarray  # its variance
    shown: np.ndarray  # displayed value (arithmetic, signal's own direction)
    shown_e: np.ndarray  # its expectation
    weight: np.ndarray  # denominator of the displayed value (1, or tokens)
    expectation: Expectation
    phi: dict[str, float] = field(default_factory=dict)
    tau2: dict[str, float] = field(default_factory=dict)  # per group: Judge.day_spread
    df_cap: dict[str, float] = field(default_factory=dict)
    skew: dict[str, float] = field(default_factory=dict)

    @property
    def bad(self) -> np.ndarray:
        """The per-unit value a cause explains and the worst traces are ranked by: the excess in
        the bad direction, in dollars rather than logs for a cost signal."""
        return self.shown if self.spec.log else self.y


class Judge:
    """One runbook over one window of units; see the module docstring."""

    def __init__(self, runbook: Runbook, units: pd.DataFrame, start: Any, end: Any, *,
                 group_by: str = "agent", segments: Sequence[str] | None = None) -> None:
        self.runbook = runbook
        self.start, self.end = to_utc(start), to_utc(end)
        if not self.end > self.start:
            raise ValueError(f"window end {self.end} is not after start {self.start}")
        ev = runbook.spec["evaluation"]
        self.bucket = parse_duration(ev["bucket"])
        self.scan_len = max(1, int(parse_duration(ev.get("scan", ev["bucket"])) / self.bucket))
        self.alpha = float(ev.get("alpha", 1e-5))
        self.min_units = int(ev.get("min_units", 5))
        self.min_events = float(ev.get("min_events", 3))
        base = runbook.spec["baseline"]
        self.trailing = parse_duration(base["trailing"])
        self.group_by = group_by
        self.segments = list(segments if segments is not None
                             else base.get("segments", ["agent"]))
        self.seasonality = str(base.get("seasonality", "none"))
        self.baseline_end = self.start.floor("D")
        self.baseline_start = self.baseline_end - self.trailing
        self.units = units
        self.time_ns, self.agents, self._agent_codes = _unit_arrays(units, group_by)
        self.in_base = self.between(self.baseline_start, self.baseline_end)
        self.in_window = self.between(self.start, self.end)
        self._groups: dict[str, np.ndarray] = {}
        self._group_names: list[str] | None = None
        self._times: Any = None
        self._prepared: dict[str, _Prepared] = {}
        self._slow_thresholds: dict[str, float] = {}

    # -- preparation -------------------------------------------------------------------------
    def signals(self) -> list[str]:
        """The runbook's signals the engine computes over these units, in runbook order
        (a tool's latency is judged over tool calls, not traces)."""
        per_call = {"tool_latency_p95"}
        return [s for s in self.runbook.signals if s in SIGNALS
                and (s in per_call) == (self.group_by == "tool_name")]

    def prepared(self, signal: str) -> _Prepared:
        if signal not in self._prepared:
            self._prepared[signal] = self._prepare(signal)
        return self._prepared[signal]

    def _column(self, spec: SignalSpec) -> np.ndarray:
        u = self.units
        if spec.column == "slow":  # over the agent's own baseline p95
            dur = u["duration"].to_numpy(dtype="float64")
            base = pd.Series(dur[self.in_base]).groupby(self.agents[self.in_base]).quantile(0.95)
            overall = float(np.quantile(dur[self.in_base], 0.95)) if self.in_base.any() \
                else np.inf
            self._slow_thresholds = {str(k): float(v) for k, v in base.items()}
            limit = pd.Series(self.agents).map(self._slow_thresholds).fillna(overall)
            return (dur > limit.to_numpy()).astype("float64")
        return u[spec.column].to_numpy(dtype="float64")

    def _prepare(self, signal: str) -> _Prepared:
        spec = SIGNALS[signal]
        sig = self.runbook.signal(signal)
        raw = self._column(spec)
        mask = np.isfinite(raw) if spec.scored else np.ones(len(raw), dtype=bool)
        up = sig.get("direction", "up") == "up" or spec.kind == "rate"
        weight = (self.units[spec.weight].to_numpy(dtype="float64") if spec.weight
                  else np.ones(len(raw)))
        shown = np.nan_to_num(raw)
        if spec.log:
            scale = float(np.median(shown[self.in_base & mask])) if (self.in_base & mask).any() \
                else 1.0
            y = np.log(shown + 0.1 * max(scale, 1e-9))
        else:
            y = shown if up else -shown
        base = self.in_base & mask
        kind = spec.kind
        exp = expect(self.units, np.where(mask, y, np.nan), kind, base,
                     segments=self.segments, seasonality=self.seasonality,
                     weight=weight if spec.weight else None, bucket=self.bucket)
        if spec.log:
            shown_exp = expect(self.units, np.where(mask, shown, np.nan), "mean",
                               exp.used, segments=self.segments, seasonality=self.seasonality,
                               bucket=self.bucket, robust=False).expected
        elif up:
            shown_exp = exp.expected
        else:
            shown_exp = -exp.expected
        p = _Prepared(name=signal, spec=spec, mask=mask, y=np.nan_to_num(y), e=exp.expected,
                      v=exp.variance, shown=shown, shown_e=shown_exp, weight=weight, expectation=exp)
        p.phi = self._dispersion(p)
        if kind == "mean":
            p.df_cap, p.skew = self._tails(p)
        return p

    def group_mask(self, group: str) -> np.ndarray:
        """The units of ``group`` (read-only; worked out once per group)."""
        m = self._groups.get(group)
        if m is None:
            if group == ALL:
                m = np.ones(len(self.units), dtype=bool)
            else:  # as ``self.agents == group``, on the groups' integer codes
                codes, lookup = self._agent_codes
                m = codes == lookup.get(group, -1) if isinstance(group, str) \
                    else self.agents == group
            m.setflags(write=False)
            self._groups[group] = m
        return m

    def time_at(self, row: int) -> pd.Timestamp:
        """The time of the unit at position ``row``."""
        if self._times is None:
            self._times = self.units["time"].array
        return self._times[row]

    def earliest(self, rows: np.ndarray) -> pd.Timestamp:
        """The time of the earliest unit among positions ``rows`` (not empty)."""
        return self.time_at(rows[np.argmin(self.time_ns[rows])])

    def active_span(self, mask: np.ndarray, start: pd.Timestamp, end: pd.Timestamp
                    ) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The whole buckets of ``[start, end)`` in which the units of ``mask`` ran (None: no
        unit of ``mask`` in it)."""
        rows = np.flatnonzero(mask & self.between(start, end))
        if not len(rows):
            return None
        ns = self.time_ns[rows]
        first, last = self.time_at(rows[np.argmin(ns)]), self.time_at(rows[np.argmax(ns)])
        return (max(first.floor(self.bucket), start),
                min(last.floor(self.bucket) + self.bucket, end))

    def between(self, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        """The units whose time lies in ``[start, end)`` (UTC timestamps)."""
        return (self.time_ns >= start.value) & (self.time_ns < end.value)

    def _dispersion(self, p: _Prepared) -> dict[str, float]:
        """Overdispersion per group from its baseline hours."""
        out = {}
        used = p.expectation.used
        # per hour of the units' hours: one without units of the group sums to zero and is
        # left out by the estimate (no expectation, no variance)
        hour, hours = hour_codes(self.units, self.bucket)
        for group in self.groups():
            m = np.flatnonzero(used & self.group_mask(group))
            if len(m) < 3:
                out[group] = 1.0
                continue
            inv = hour[m]
            o = np.bincount(inv, weights=p.y[m], minlength=hours)
            e = np.bincount(inv, weights=p.e[m], minlength=hours)
            v = np.bincount(inv, weights=p.v[m], minlength=hours)
            if p.spec.kind == "rate":
                n = np.bincount(inv, weights=p.weight[m], minlength=hours)
                pp = np.clip(e / np.maximum(n, 1e-12), 0, 1)
                v = n * pp * (1 - pp)
            out[group] = stats.overdispersion(o, e, v)
        return out

    def _tails(self, p: _Prepared) -> tuple[dict[str, float], dict[str, float]]:
        """Per group, how many degrees of freedom the baseline's spread of a mean is worth, and
        how skewed its units are in the bad direction.

        A sample variance is as reliable as the tails allow: where a few units lie far out (a
        judge's scores, mostly high with the odd hallucinated answer near zero) it swings with
        how many of them the baseline happened to hold, ``2 / (2 / (m - 1) + kurtosis / m)``
        degrees of freedom instead of ``m - 1``. The t test takes no more than that, so a window
        that holds its usual share of them is not a shift; a signal without such tails (a
        lognormal cost in log space) keeps the window's ``n - 1``. The same rare units make the
        mean of a window's few dozen skewed: a judge's 0 among mostly 1s moves it down further
        than a symmetric spread would, so the tail is widened by the skew
        (:func:`.stats.p_upper`)."""
        out, skews = {}, {}
        used = p.expectation.used
        r = p.y - p.e
        for group in self.groups():
            rb = r[used & self.group_mask(group)]
            m = len(rb)
            s2 = float(np.mean(rb ** 2)) if m else 0.0
            if m < 4 or s2 <= 0:
                out[group], skews[group] = np.inf, 0.0
                continue
            kurtosis = max(float(np.mean(rb ** 4)) / s2 ** 2 - 3.0, 0.0)
            out[group] = 2.0 / (2.0 / (m - 1.0) + kurtosis / m)
            skews[group] = float(np.mean(rb ** 3)) / s2 ** 1.5
        return out, skews

    def _skew(self, p: _Prepared, group: str) -> float | None:
        """A mean's units' skewness in the bad direction (None for other kinds)."""
        return p.skew.get(group, 0.0) if p.spec.kind == "mean" else None

    def _df(self, p: _Prepared, group: str, n):
        """A mean's t test's degrees of freedom over ``n`` units (None for other kinds)."""
        if p.spec.kind != "mean":
            return None
        return np.minimum(np.asarray(n, dtype="float64") - 1.0, p.df_cap.get(group, np.inf))

    def _p(self, p: _Prepared, group: str, n, o, e, v, w):
        """The one-sided p-value of ``o`` against ``e`` in ``group`` (scalars or arrays of
        sums): a mean is tested over its ``n`` units with their variance, degrees of freedom
        and skew; a rate or count over its weight ``w``."""
        mean = p.spec.kind == "mean"
        return stats.p_upper(p.spec.kind, o, e, n=n if mean else w,
                             variance=v if mean else None, phi=p.phi.get(group, 1.0),
                             df=self._df(p, group, n), skew=self._skew(p, group))

    def _llr(self, p: _Prepared, group: str, o, e, v, w):
        """The log likelihood ratio of ``o`` against ``e`` in ``group`` (ranks windows)."""
        mean = p.spec.kind == "mean"
        return stats.llr(p.spec.kind, o, e, n=w, variance=v if mean else None,
                         phi=p.phi.get(group, 1.0))

    # -- judging ------------------------------------------------------------------------------
    def groups(self) -> list[str]:
        """All traffic, then every agent with units in the window."""
        if self._group_names is None:  # the window's agents, listed once per judge
            self._group_names = [ALL, *sorted(set(self.agents[self.in_window].tolist()))]
        return list(self._group_names)

    def interval(self, signal: str, start: Any, end: Any, group: str = ALL) -> Interval:
        """The verdict on ``signal`` over ``[start, end)`` (all traffic, or one agent)."""
        a, b = to_utc(start), to_utc(end)
        p = self.prepared(signal)
        m = p.mask & self.group_mask(group) & self.between(a, b)
        sums = _sums(p, m)
        return self._verdict(signal, group, a, b, *sums)

    def buckets(self, signal: str, group: str = ALL) -> list[Interval]:
        """:meth:`interval` of every bucket of the window, in order: the same verdicts, with
        each bucket's units found by one sort instead of a pass over all units per bucket."""
        p = self.prepared(signal)
        rows = np.flatnonzero(p.mask & self.group_mask(group) & self.in_window)
        idx = (self.time_ns[rows] - self.start.value) // self.bucket.value
        order = np.argsort(idx, kind="stable")  # rows stay in unit order within a bucket
        rows, idx = rows[order], idx[order]
        spans, sums = [], []
        t, k = self.start, 0
        while t < self.end:
            lo, hi = np.searchsorted(idx, [k, k + 1])
            spans.append((t, min(t + self.bucket, self.end)))
            sums.append(_sums(p, rows[lo:hi]))
            t, k = t + self.bucket, k + 1
        if not sums:
            return []
        # the tests of all buckets at once: elementwise, so each bucket's numbers are its own
        n, o, e, v, _, _, w = np.asarray(sums, dtype="float64").T
        pv, llr = self._p(p, group, n, o, e, v, w), self._llr(p, group, o, e, v, w)
        return [self._verdict(signal, group, a, b, *x, tested=(float(pv[i]), float(llr[i])))
                for i, ((a, b), x) in enumerate(zip(spans, sums))]

    def rows(self, signal: str, rows: np.ndarray, start: Any, end: Any,
             group: str = ALL) -> Interval:
        """The verdict on ``signal`` over the units selected by ``rows`` (a bool mask) within
        ``[start, end)``: a slice of traffic rather than all of it (a new prompt version's
        traces). Same arithmetic as :meth:`interval`."""
        a, b = to_utc(start), to_utc(end)
        p = self.prepared(signal)
        m = p.mask & self.group_mask(group) & self.between(a, b) & rows
        return self._verdict(signal, group, a, b, *_sums(p, m))

    def totals(self, signal: str, start: Any, end: Any, group: str = ALL) -> Totals:
        """The sums :meth:`interval` divides, over ``[start, end)``: the units, the total of the
        shown value and what the baseline expects that total to be for the same traffic.

        A cost signal's total is the dollars spent and the dollars expected, so their difference
        is the excess spend; a rate's totals are the events seen and expected (timeouts,
        hallucinated answers). Post-mortems read impact from here, so it is the judge's own
        arithmetic and not a second computation."""
        a, b = to_utc(start), to_utc(end)
        p = self.prepared(signal)
        m = p.mask & self.group_mask(group) & self.between(a, b)
        n, _, _, _, so, se, _ = _sums(p, m)
        return Totals(signal=signal, group=group, start=a, end=b, units=int(n), value=so,
                      expected=se)

    def _verdict(self, signal: str, group: str, a: pd.Timestamp, b: pd.Timestamp, n: float,
                 o: float, e: float, v: float, so: float, se: float, w: float,
                 tested: tuple[float, float] | None = None) -> Interval:
        """The interval's verdict from its sums; ``tested``: its p-value and likelihood ratio
        when already computed (with the same arithmetic, for many windows at once)."""
        p = self.prepared(signal)
        sig = self.runbook.signal(signal)
        kind = p.spec.kind
        pv = float(self._p(p, group, n, o, e, v, w)) if tested is None else tested[0]
        observed = so / w if w > 0 else float("nan")
        expected = se / w if w > 0 else float("nan")
        if p.spec.invert_display:
            observed, expected = 1.0 - observed, 1.0 - expected
        score = _score(sig, observed, expected)
        sev = severity_for(score, sig.get("thresholds", {})) if np.isfinite(observed) else None
        if sev is not None and not _gates(sig, observed, expected, p.spec):
            sev = None
        events = o if kind != "mean" else so
        significant = bool(pv <= self.alpha and self._holds_enough(kind, n, o))
        llr = float(self._llr(p, group, o, e, v, w)) if tested is None else tested[1]
        return Interval(signal=signal, group=group, start=a, end=b, units=int(n),
                        observed=float(observed), expected=float(expected),
                        events=float(events), p_value=pv, score=float(score),
                        severity=sev, significant=significant, llr=llr)

    def whole_day(self, signal: str, group: str = ALL) -> Interval:
        """:meth:`interval` of the judged window taken as one day among the baseline's days:
        its p-value also allows for how far whole days swing apart (:meth:`day_spread`).

        Hours tell how far a bucket scatters, but a day can run high or low as a whole (the
        day's mix of questions, a busy weekday), a shift all its units share. Against the
        hours' scatter alone, a day's hallucination rate two points off its week is a
        change; against the days the baseline saw, it may be an ordinary day. The daily
        checks judge a day this way; the scan's windows of hours keep :meth:`interval`'s."""
        iv = self.interval(signal, self.start, self.end, group)
        p = self.prepared(signal)
        n, o, e, v, _, _, w = _sums(p, p.mask & self.group_mask(group) & self.in_window)
        phi = self._day_phi(p, group, n, e, v, w)
        if phi == p.phi.get(group, 1.0):
            return iv
        mean = p.spec.kind == "mean"
        pv = float(stats.p_upper(p.spec.kind, o, e, n=n if mean else w,
                                 variance=v if mean else None, phi=phi,
                                 df=self._df(p, group, n), skew=self._skew(p, group)))
        return replace(iv, p_value=pv, significant=bool(iv.significant and pv <= self.alpha))

    def day_spread(self, signal: str, group: str = ALL) -> float:
        """How far a whole day's level (per unit, on the tested scale) swings around what
        the baseline expects beyond its hours' scatter: the variance ``tau2`` of
        :func:`.stats.between_spread` over the baseline's days with at least ``min_units``
        units (and, for rates and counts, five expected events); 0 with fewer than
        :data:`MIN_DAYS` such days, or where they swing no more than their units say."""
        p = self.prepared(signal)
        if group not in p.tau2:
            p.tau2[group] = self._day_spread(p, group)
        return p.tau2[group]

    def _day_spread(self, p: _Prepared, group: str) -> float:
        m = np.flatnonzero(p.mask & p.expectation.used & self.in_base & self.group_mask(group))
        if not len(m):
            return 0.0
        days = max(int(self.trailing / _DAY), 1)
        d = np.clip((self.time_ns[m] - self.baseline_start.value) // _DAY.value, 0, days - 1)
        n = np.bincount(d, minlength=days).astype("float64")
        o, e, v, w = (np.bincount(d, weights=x[m], minlength=days)
                      for x in (p.y, p.e, p.v, p.weight))
        base = _model_variance(p.spec.kind, e, v, w, p.phi.get(group, 1.0))
        size = w if p.spec.kind == "rate" else n
        ok = (n >= self.min_units) & (base > 0) & (size > 0)
        if p.spec.kind != "mean":
            ok &= e >= _MIN_DAY_EVENTS
        return stats.between_spread(o[ok], e[ok], base[ok], size[ok], min_buckets=MIN_DAYS)

    def _day_phi(self, p: _Prepared, group: str, n: float, e: float, v: float,
                 w: float) -> float:
        """The hours' overdispersion of a day of these sums, widened by the day's own
        swing: ``tau2 * size**2`` added to the variance the units give."""
        phi = p.phi.get(group, 1.0)
        tau2 = self.day_spread(p.name, group)
        base = float(_model_variance(p.spec.kind, e, v, w, phi))
        if not (tau2 > 0 and base > 0):
            return phi
        size = w if p.spec.kind == "rate" else n
        return phi * (1.0 + tau2 * size ** 2 / base)

    def enough(self, iv: Interval) -> bool:
        """Whether ``iv`` holds enough to be judged at all: ``min_units`` units and, for a
        rate or count, ``min_events`` events (the same rule :attr:`Interval.significant` adds to
        ``alpha``, for verdicts read at another level: a new version's ``canary_alpha``)."""
        return bool(self._holds_enough(SIGNALS[iv.signal].kind, iv.units, iv.events))

    def _holds_enough(self, kind: str, n, events):
        """:meth:`enough` on a window's sums (scalars or arrays, before an :class:`Interval`
        exists): ``n`` units and, unless ``kind`` is a mean, ``events`` events."""
        return (np.asarray(n) >= self.min_units) & (
            True if kind == "mean" else np.asarray(events) >= self.min_events)

    def scan(self, signal: str, group: str = ALL, max_findings: int = 3) -> list[Interval]:
        """The windows where ``signal`` changed, most likely first (see the module docstring).

        Each returned interval is significant and crosses a threshold; the intervals do not
        overlap. ``Interval.llr`` ranks them; the shortest significant window inside each is in
        :meth:`shortest`.
        """
        p = self.prepared(signal)
        n_b = int(np.ceil((self.end - self.start) / self.bucket))
        if n_b <= 0:
            return []
        m = np.flatnonzero(p.mask & self.group_mask(group) & self.in_window)
        idx = ((self.time_ns[m] - self.start.value) // self.bucket.value).astype("int64")
        per = [np.bincount(idx, weights=w, minlength=n_b)[:n_b] for w in
               (np.ones(len(m)), p.y[m], p.e[m], p.v[m], p.shown[m], p.shown_e[m],
                p.weight[m])]
        cum = [np.concatenate([[0.0], np.cumsum(x)]) for x in per]
        ii, jj = _pairs(n_b, self.scan_len)
        n, o, e, v, so, se, w = (c[jj] - c[ii] for c in cum)
        pv = self._p(p, group, n, o, e, v, w)
        cand = np.flatnonzero((pv <= self.alpha) & self._holds_enough(p.spec.kind, n, o))
        if not len(cand):
            return []
        llr = self._llr(p, group, o, e, v, w)
        found: list[Interval] = []
        taken = np.zeros(n_b, dtype=bool)
        # best first; among equals, the shorter window
        order = cand[np.lexsort((jj[cand] - ii[cand], -llr[cand]))]
        for k in order:
            if taken[ii[k]:jj[k]].any():
                continue
            a = self.start + ii[k] * self.bucket
            b = min(self.start + jj[k] * self.bucket, self.end)
            # the verdict through the one path every window is judged by: a notebook opened
            # on these hours shows exactly these numbers
            verdict = self.interval(signal, a, b, group)
            verdict.llr = float(llr[k])
            if verdict.severity is None or not verdict.significant:
                continue
            found.append(verdict)
            taken[ii[k]:jj[k]] = True
            if len(found) >= max_findings:
                break
        return found

    def shortest(self, signal: str, interval: Interval) -> pd.Timedelta:
        """The shortest significant window inside ``interval`` (its own length at most)."""
        p = self.prepared(signal)
        best = interval.end - interval.start
        m0 = p.mask & self.group_mask(interval.group)
        steps = int(round(best / self.bucket))
        for length in range(1, steps):
            for k in range(0, steps - length + 1):
                a = interval.start + k * self.bucket
                b = a + length * self.bucket
                m = m0 & self.between(a, b)
                n, o, e, v, so, se, w = _sums(p, m)
                pv = self._p(p, interval.group, n, o, e, v, w)
                if pv <= self.alpha and self._holds_enough(p.spec.kind, n, o):
                    return length * self.bucket
        return best

    def detectable(self, signal: str, group: str = ALL, *, alpha: float | None = None) -> float:
        """The smallest change (as a ratio to baseline) the whole window could show as
        significant at ``alpha`` (default ``evaluation.alpha``): ``inf`` when it cannot tell
        any apart."""
        p = self.prepared(signal)
        n, _, e, v, *_ = _sums(p, p.mask & self.group_mask(group) & self.in_window)
        return self._detectable(p, n, e, v, group, alpha)

    def detectable_at(self, signal: str, units: float, group: str = ALL, *,
                      alpha: float | None = None, whole_day: bool = False) -> float:
        """:meth:`detectable` for ``units`` units like the window's traffic (of all traffic, or
        of ``group``: its expected level, spread and overdispersion per unit): what that much
        traffic could show; with ``whole_day``, as one day among the baseline's
        (:meth:`whole_day`)."""
        p = self.prepared(signal)
        n, _, e, v, _, _, w = _sums(p, p.mask & self.group_mask(group) & self.in_window)
        if not (n > 0 and units > 0):
            return float("inf")
        k = float(units) / n
        phi = self._day_phi(p, group, float(units), e * k, v * k, w * k) if whole_day \
            else p.phi.get(group, 1.0)
        return self._detectable(p, float(units), e * k, v * k, group, alpha, phi)

    def smallest_finding(self, signal: str, units: float | None = None, group: str = ALL, *,
                         alpha: float | None = None, whole_day: bool = False) -> float:
        """The smallest change (as a ratio to baseline) that could be a finding: significant
        at ``alpha`` on ``units`` units like the window's traffic (all traffic's, or
        ``group``'s; default: the window's own units), at least ``min_units`` of them and, for
        rates and counts, ``min_events`` expected events. ``inf`` when no change could; NaN
        for a rate the baseline never saw happen (any event would be new). ``whole_day``: as
        :meth:`whole_day` judges the window."""
        n = self.window_units(signal, group) if units is None else units
        rate = SIGNALS[signal].kind != "mean"
        if n < self.min_units or (rate and n < self.min_events):
            return float("inf")
        if not rate:
            return self.detectable_at(signal, n, group, alpha=alpha, whole_day=whole_day)
        total = self.totals(signal, self.start, self.end, group)
        events = total.expected if units is None else \
            (total.expected * units / total.units if total.units else 0.0)
        if not events > 0:
            return float("nan")
        return max(self.detectable_at(signal, n, group, alpha=alpha, whole_day=whole_day),
                   self.min_events / events)

    def _detectable(self, p: _Prepared, n: float, e: float, v: float, group: str,
                    alpha: float | None, phi: float | None = None) -> float:
        alpha = self.alpha if alpha is None else float(alpha)
        phi = p.phi.get(group, 1.0) if phi is None else phi
        if p.spec.kind == "mean":
            shift = self._mean_shift(p, n, v, group, alpha, phi)
            if p.spec.log:
                with np.errstate(over="ignore"):  # a shift no window could show: inf
                    return float(np.exp(shift))
            level = abs(e) / n if n else 0.0
            return float(1.0 + shift / level) if level > 0 else float("inf")
        return stats.detectable_ratio(p.spec.kind, e, n=n, phi=phi, alpha=alpha)

    def detectable_shift(self, signal: str, group: str = ALL) -> float:
        """The smallest shift of a mean signal (in its own units: a groundedness drop) the whole
        window could show as significant: ``inf`` when it cannot tell any apart."""
        p = self.prepared(signal)
        if p.spec.kind != "mean" or p.spec.log:
            raise ValueError(f"{signal} is not a mean on its own scale")
        n, _, _, v, *_ = _sums(p, p.mask & self.group_mask(group) & self.in_window)
        return self._mean_shift(p, n, v, group)

    def _mean_shift(self, p: _Prepared, n: float, v: float, group: str,
                    alpha: float | None = None, phi: float | None = None) -> float:
        """The smallest shift of the mean of ``n`` units (summed variance ``v``) the t test
        would call significant (at ``alpha``, default ``evaluation.alpha``)."""
        if n < 2:
            return float("inf")
        alpha = self.alpha if alpha is None else alpha
        t = stats.mean_z(alpha, float(self._df(p, group, n)), self._skew(p, group), n)
        phi = p.phi.get(group, 1.0) if phi is None else phi
        return float(t * np.sqrt(max(v, 0.0) * phi) / n)

    def baseline_coverage(self) -> pd.Timedelta:
        """How much of the baseline period holds data (from its first unit to its end)."""
        if not self.in_base.any():
            return pd.Timedelta(0)
        first = self.units["time"][self.in_base].min().floor("D")
        return self.baseline_end - max(first, self.baseline_start)

    def baseline_units(self, signal: str | None = None, group: str = ALL) -> int:
        """Units of the baseline period (of ``signal``'s units, e.g. scored traces; of
        ``group``'s traces)."""
        m = self.in_base if group == ALL else self.in_base & self.group_mask(group)
        if signal is None:
            return int(m.sum())
        return int((m & self.prepared(signal).mask).sum())

    def window_units(self, signal: str | None = None, group: str = ALL) -> int:
        m = self.in_window & self.group_mask(group)
        if signal is not None:
            m = m & self.prepared(signal).mask
        return int(m.sum())

    def slow_thresholds(self) -> dict[str, float]:
        """Per group, the baseline p95 duration the latency signals count units over."""
        for name in ("latency_p95", "tool_latency_p95"):
            if name in self.runbook.signals:
                self.prepared(name)
                break
        return dict(self._slow_thresholds)


def _unit_arrays(units: pd.DataFrame, group_by: str
                 ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, dict[str, int]]]:
    """The units' times (int64 ns), their ``group_by`` values as text and those values' integer
    codes: worked out once per units frame (read-only), as every judge of a report reads the
    same units."""
    memo = _memo(units)
    key = ("__judge__", group_by)
    if key not in memo:
        t = units["time"]
        ns = t.to_numpy(dtype="datetime64[ns]").astype("int64") if len(units) \
            else np.zeros(0, dtype="int64")
        agents = units[group_by].astype(str).to_numpy(dtype=object)
        codes, uniques = pd.factorize(agents)
        for a in (ns, agents, codes):
            a.setflags(write=False)
        memo[key] = (ns, agents, (codes, {v: i for i, v in enumerate(uniques.tolist())}))
    return memo[key]


def _model_variance(kind: str, e, v, w, phi: float):
    """The variance :func:`.stats.p_upper` gives a window's sum (scalars or arrays): binomial
    around the expected share for a rate, Poisson for a count, the units' own for a mean; all
    scaled by the hours' overdispersion ``phi``."""
    e, v, w = (np.asarray(x, dtype="float64") for x in (e, v, w))
    if kind == "rate":
        with np.errstate(divide="ignore", invalid="ignore"):
            pp = np.clip(np.where(w > 0, e / w, 0.0), 0.0, 1.0)
        return phi * w * pp * (1.0 - pp)
    if kind == "count":
        return phi * e
    return phi * v


def _sums(p: _Prepared, m: np.ndarray) -> tuple[float, ...]:
    """(units, tested sum, its expectation, its variance, shown numerator, its expectation,
    shown denominator) over the units in ``m``: a bool mask, or ascending row positions (the
    same values in the same order, so the same sums)."""
    n = float(m.sum()) if m.dtype == bool else float(len(m))
    return (n, float(p.y[m].sum()), float(p.e[m].sum()), float(p.v[m].sum()),
            float(p.shown[m].sum()), float(p.shown_e[m].sum()), float(p.weight[m].sum()))


def _pairs(n_b: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    ii, jj = [], []
    for length in range(1, min(max_len, n_b) + 1):
        starts = np.arange(0, n_b - length + 1)
        ii.append(starts)
        jj.append(starts + length)
    return np.concatenate(ii), np.concatenate(jj)


def _score(sig: Mapping[str, Any], observed: float, expected: float) -> float:
    """What a signal's thresholds are written in: ratio, absolute value, or change."""
    compare = sig.get("compare", "ratio")
    up = sig.get("direction", "up") == "up"
    with np.errstate(divide="ignore", invalid="ignore"):
        if compare == "ratio":
            if up:
                return float(observed / expected) if expected > 0 else \
                    (float("inf") if observed > 0 else float("nan"))
            return float(expected / observed) if observed > 0 else float("inf")
        if compare == "absolute":
            return float(observed if up else -observed)
        return float(observed - expected if up else expected - observed)


def _gates(sig: Mapping[str, Any], observed: float, expected: float, spec: SignalSpec) -> bool:
    """The runbook's extra conditions: a minimum value, a minimum ratio to baseline."""
    up = sig.get("direction", "up") == "up"
    min_value = sig.get("min_value")
    if min_value is not None and (observed < min_value if up else observed > min_value):
        return False
    min_ratio = sig.get("min_ratio_to_baseline")
    if min_ratio is not None and expected > 0:
        ratio = observed / expected if up else expected / max(observed, 1e-12)
        if ratio < min_ratio:
            return False
    return True


def judge_for(runbook: Runbook, units: pd.DataFrame, start: Any, end: Any,
              cache: dict | None = None) -> Judge:
    """``Judge(runbook, units, start, end)``, the one already in ``cache`` when it holds the
    same runbook, units and window: a report's daily checks, their suspects and the detectors
    judging the report day share one judge instead of preparing the same signals again."""
    if cache is None:
        return Judge(runbook, units, start, end)
    a, b = to_utc(start), to_utc(end)
    key = (runbook.name, a.value, b.value)
    found = cache.get(key)
    if found is None or found.runbook is not runbook or found.units is not units:
        found = cache[key] = Judge(runbook, units, a, b)
    return found


def judges(runbooks: Mapping[str, Runbook] | Sequence[Runbook], units: pd.DataFrame,
           start: Any, end: Any) -> dict[str, Judge]:
    """A :class:`Judge` per runbook over the same units and window."""
    rbs = runbooks.values() if isinstance(runbooks, Mapping) else runbooks
    return {rb.name: Judge(rb, units, start, end) for rb in rbs}
