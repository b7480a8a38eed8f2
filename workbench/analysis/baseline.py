"""What the baseline expects of every unit, segment by segment.

A unit's expectation is the baseline mean of the finest *segment* it belongs to (its agent, its
agent and model, ...), shrunk toward the segment above it when the baseline saw the segment only a
few times (``prior`` pseudo-units; for a mean, fewer where the segments plainly differ, so a small
agent costing ten times its neighbours keeps its own level and scatter), and, with
``seasonality="hour_of_day"``, toward the same hour of the day. Summing expectations over any
group of units gives what that group should have shown *for the traffic it actually had*: when
the evening brings three times the share of an expensive agent, the expected spend per request of
all traffic rises with it, so a change in traffic mix is never mistaken for a cost spike.

Robustness: baseline hours that were themselves anomalous (an earlier incident inside the
trailing week) are found against a first estimate and left out of the second, so one bad
afternoon does not raise the bar for a week. :func:`overdispersion` then measures how much more
than independent units the remaining baseline hours scatter.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.analysis import stats

__all__ = ["Expectation", "expect", "hour_codes"]

#: baseline pseudo-units pulling a thin segment toward the one above it
PRIOR = 20.0
#: a baseline hour whose excess is this improbable is an earlier incident, left out
_ANOMALOUS_P = 1e-4
_HOUR = "__hour_of_day"


@dataclass
class Expectation:
    """Per unit (row of the units frame): expected value, its variance, and the baseline rows
    that were used (anomalous hours dropped)."""

    expected: np.ndarray
    variance: np.ndarray
    used: np.ndarray  # bool per unit: a baseline unit that informed the expectations
    dropped_hours: int = 0


def _levels(segments: Sequence[str], seasonality: str) -> list[list[str]]:
    levels: list[list[str]] = [[]]
    for s in segments:
        levels.append(levels[-1] + [s])
    if seasonality == "hour_of_day":
        levels.append(levels[-1] + [_HOUR])
    return levels


def _codes(units: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """One integer per distinct combination of ``cols`` (0 for the top level). A missing value
    is a segment of its own: a trace without a model is one that failed before calling one, and
    costs what such traces cost. Remembered per units frame: every signal of every runbook
    segments the same units the same way."""
    if not cols:
        return np.zeros(len(units), dtype="int64")
    memo = _memo(units)
    key = tuple(cols)
    if key not in memo:
        codes = np.zeros(len(units), dtype="int64")
        for c in cols:
            col = units["time"].dt.hour if c == _HOUR else units[c]
            k, u = pd.factorize(col.astype("string").fillna("\x00"), use_na_sentinel=False)
            codes = pd.factorize(codes * (len(u) + 1) + k)[0]  # renumbered: never overflows
        memo[key] = codes
    return memo[key]


_MEMO: dict[int, dict[tuple, np.ndarray]] = {}


def _memo(units: pd.DataFrame) -> dict[tuple, np.ndarray]:
    """A cache tied to one units frame's lifetime (and to its length, in case it grew)."""
    key = id(units)
    entry = _MEMO.get(key)
    if entry is None or entry.get(("__len__",)) != len(units):
        entry = {("__len__",): len(units)}
        _MEMO[key] = entry
        weakref.finalize(units, _MEMO.pop, key, None)
    return entry


def hour_codes(units: pd.DataFrame, bucket: pd.Timedelta) -> tuple[np.ndarray, int]:
    """Per unit, the number of its ``bucket`` (an hour) among the distinct buckets of the
    units in time order, and how many there are: worked out once per units frame and bucket
    length, since every signal of every judge over the same units sums by the same hours."""
    memo = _memo(units)
    key = ("__buckets__", bucket.value)
    if key not in memo:
        hour = units["time"].to_numpy(dtype="datetime64[ns]").astype("int64") // bucket.value
        keys, inv = np.unique(hour, return_inverse=True)
        inv = inv.reshape(-1)
        inv.setflags(write=False)
        memo[key] = (inv, len(keys))
    return memo[key]


def _distinct_count(codes: np.ndarray) -> int:
    """``len(np.unique(codes))`` for integer segment codes, by counting instead of hashing
    (it runs for every level of every signal's fit)."""
    if not len(codes):
        return 0
    return int(np.count_nonzero(np.bincount(codes - codes.min())))


def _mean_pull(s_y: np.ndarray, s_w: np.ndarray, cb: np.ndarray, yb: np.ndarray,
               wb: np.ndarray, parent_mean: np.ndarray, parents: np.ndarray, prior: float
               ) -> tuple[float, float, float]:
    """How hard a level's segment means are pulled toward their parents' for a mean signal:
    ``(pseudo-units, spread, within share)``.

    ``prior`` pseudo-units where the segments' baseline means differ no more than their units'
    scatter explains; fewer where the segments truly differ (the expensive crew beside cheap
    chat agents), as many as their spread warrants (within-segment variance over the variance
    of the segment means, method of moments): else a small segment's mean is dragged toward
    its siblings' and its variance, taken around that mean and from its parent (which holds
    the siblings' differences), swells until no change of it is significant. ``spread`` is
    that variance of the segment means (0 where none shows), ``within share`` the part of the
    parent's variance left within its segments."""
    total = float(s_w.sum())
    seen = s_w > 0
    if not total > 0 or seen.sum() < 2:
        return prior, 0.0, 1.0
    own = np.where(seen, s_y / np.where(seen, s_w, 1.0), 0.0)
    resid = yb - own[cb] * wb
    within = float((resid ** 2 / np.where(wb > 0, wb, 1.0)).sum()) / total
    # the squared distance of each segment's mean from its parent's, less what the scatter of
    # its units alone would give (one degree of freedom per segment beyond its parent's)
    apart = float((s_w[seen] * (own[seen] - parent_mean[seen]) ** 2).sum())
    free = int(seen.sum()) - _distinct_count(parents)
    spread = max(apart - max(free, 0) * within, 0.0) / total
    if not spread > 0:
        return prior, 0.0, 1.0
    pull = min(prior, within / spread)
    return pull, spread, within / (within + spread)


def _fit(y: np.ndarray, w: np.ndarray, kind: str, level_codes: list[np.ndarray],
         base: np.ndarray, prior: float) -> tuple[np.ndarray, np.ndarray]:
    """Shrunk per-unit mean and variance from the ``base`` rows, level by level."""
    n_all = len(y)
    yb, wb = y[base], w[base]
    tot_w = wb.sum()
    if kind == "mean":
        top = yb.sum() / tot_w if tot_w > 0 else 0.0
    else:
        # half an event in one more unit: a week without a single timeout does not make the
        # next one infinitely surprising (Jeffreys' rule for a rate seen zero times)
        top = (yb.sum() + 0.5) / (tot_w + 1.0)
    mean = np.full(n_all, top)
    if kind == "mean":
        dev = yb / np.where(wb > 0, wb, 1.0) - mean[base]
        var0 = float(np.average(dev ** 2, weights=wb)) if tot_w > 0 else 0.0
        var = np.full(n_all, var0)
    else:
        var = np.zeros(n_all)
    for depth, level in enumerate(level_codes[1:], 1):
        known = level >= 0
        # every unit has a segment (what :func:`_codes` gives): the same arithmetic without
        # selecting the known rows again and again
        everywhere = bool(known.all())
        codes = level if everywhere else np.where(known, level, 0)
        size = int(codes.max()) + 1 if len(codes) else 0
        if everywhere:
            cb, ybk, wbk = codes[base], yb, wb
        else:
            kb = known[base]
            cb, ybk, wbk = codes[base][kb], yb[kb], wb[kb]
        s_y = np.bincount(cb, weights=ybk, minlength=size)
        s_w = np.bincount(cb, weights=wbk, minlength=size)
        parent_by_code = np.zeros(size)
        # the same for all rows of a code
        if everywhere:
            parent_by_code[codes] = mean
        else:
            parent_by_code[codes[known]] = mean[known]
        if kind == "mean":
            parents = level_codes[depth - 1][base] if everywhere else \
                level_codes[depth - 1][base][kb]
            pull, spread, within_share = _mean_pull(s_y, s_w, cb, ybk, wbk, parent_by_code,
                                                    parents, prior)
            # a segment the baseline never saw takes its parent's mean, even where the
            # segments it did see never varied (no pull at all)
            held = s_w + pull > 0
            shrunk = np.where(held, (s_y + pull * parent_by_code)
                              / np.where(held, s_w + pull, 1.0), parent_by_code)
            unsure = np.where(held, pull / np.where(held, s_w + pull, 1.0), 1.0)
            parent_var = np.zeros(size)
            if everywhere:
                parent_var[codes] = var
            else:
                parent_var[codes[known]] = var[known]
            resid = ybk - shrunk[cb] * wbk
            s_r2 = np.bincount(cb, weights=resid ** 2 / np.where(wbk > 0, wbk, 1.0),
                               minlength=size)
            # the parent's spread within its segments is the prior for theirs; how far a
            # segment's own mean may still be off is added (all of ``spread`` for a segment
            # the baseline never saw: it is expected at its parent's mean)
            level_var = ((s_r2 + prior * parent_var * within_share) / (s_w + prior)
                         + spread * unsure)[codes]
            var = level_var if everywhere else np.where(known, level_var, var)
        else:  # the same half event, so a quiet segment keeps a rate above zero
            shrunk = (s_y + prior * parent_by_code + 0.5) / (s_w + prior + 1.0)
        mean = shrunk[codes] if everywhere else np.where(known, shrunk[codes], mean)
    if kind == "rate":
        p = np.clip(mean, 0.0, 1.0)
        var = p * (1.0 - p)
    elif kind == "count":
        var = np.maximum(mean, 0.0)
    else:
        # a variance floor: a segment whose baseline never varied must not make every
        # cent significant
        var = np.maximum(var, (0.05 * np.abs(mean)) ** 2 + 1e-12)
    return mean, var


def expect(units: pd.DataFrame, y: np.ndarray, kind: str, base: np.ndarray,
           segments: Sequence[str] = (), seasonality: str = "none",
           weight: np.ndarray | None = None, bucket: pd.Timedelta = pd.Timedelta(hours=1),
           prior: float = PRIOR, robust: bool = True) -> Expectation:
    """Expectations for every row of ``units`` from its ``base`` rows (a bool mask).

    ``y`` is the per-unit value (for rates 0/1); ``weight`` makes the expectation a share of it
    (``expected = share * weight``, e.g. wasted tokens as a share of tokens). ``kind`` is one of
    :data:`workbench.analysis.stats.KINDS`.
    """
    y = np.asarray(y, dtype="float64")
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype="float64")
    base = np.asarray(base, dtype=bool) & np.isfinite(y)
    # the hour of day is a segment worked out from the units' time (``_HOUR`` in the levels)
    level_codes = [_codes(units, cols) for cols in _levels(segments, seasonality)]
    mean, var = _fit(np.nan_to_num(y), w, kind, level_codes, base, prior)
    dropped = 0
    if robust and base.sum() > 0:
        # hours of the baseline that were incidents themselves: leave them out, fit again
        # sums per hour of the units' hours; an hour without baseline units sums to zero,
        # which no test finds improbable (p = 1 for counts and rates, 0.5 for means)
        hour, hours = hour_codes(units, bucket)
        hb = hour[base]
        o = np.bincount(hb, weights=np.nan_to_num(y[base]), minlength=hours)
        e = np.bincount(hb, weights=mean[base] * w[base], minlength=hours)
        v = np.bincount(hb, weights=var[base] * (w[base] if kind != "mean" else w[base] ** 2),
                        minlength=hours)
        n = np.bincount(hb, weights=w[base], minlength=hours)
        p = stats.p_upper(kind, o, e, n=n, variance=v)
        p_low = stats.p_upper(kind, -o, -e, n=n, variance=v) if kind == "mean" else \
            np.ones(len(o))
        bad = (p < _ANOMALOUS_P) | (p_low < _ANOMALOUS_P)
        if bad.any():
            dropped = int(bad.sum())
            base = base & ~bad[hour]
            mean, var = _fit(np.nan_to_num(y), w, kind, level_codes, base, prior)
    # a weighted rate counts events among ``w`` trials (binomial: p(1-p) w); a weighted mean is
    # one draw of a share that scales with the whole unit (variance grows with w squared)
    scale = w if kind != "mean" else w * w
    return Expectation(expected=mean * w, variance=var * scale, used=base, dropped_hours=dropped)
