"""Which dimension values explain a signal's excess, and in which order: a finding's suspects.

Attribution (:func:`.attribution.attribute_rows`) ranks the values by the share of the excess
they hold; :func:`rank` turns that into what an on-call engineer acts on. Money is split by the
model that spent it (:mod:`.spend`) and time by the model or tool calls that took it
(:mod:`.latency`); a version new since the baseline that alone carries the change goes first;
values nearly every unit held before and holds now (constants) are dropped, and so are later
values that do not carry what the first leaves unexplained; each suspect's figures are given in
its own units, as the judge computes a finding's. Detection (:mod:`.detect`) asks through
:meth:`.detect.Context.suspects`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.analysis import latency, spend
from workbench.analysis.attribution import (
    SPECIFICITY,
    _composite,
    _decode,
    attribute_rows,
    in_slice,
)
from workbench.analysis.judge import ALL, SIGNALS, Interval
from workbench.findings import Suspect

if TYPE_CHECKING:
    from workbench.analysis.detect import Context

__all__ = ["rank"]

# a value held by this share of the traces, in the window and in the baseline, tells none apart
_EVERYWHERE = 0.95
# a later suspect is kept when, outside the first suspect's units, its units run at least this
# share of the first's excess per unit past their baseline ...
_LEFT_SHARE = 0.25
# ... the rest of those units under this share of its own ...
_REST_SHARE = 0.5
# ... and it explains at least this share of the whole excess
_LATER_SHARE = 0.1
# units of the leftover units' own excess per unit each side is pulled toward
_REST_PRIOR = 20.0
# a first suspect whose units run under this multiple of the scope's excess per unit gives way
# to a later one running at least the second (the change is spread, not held)
_SPREAD_LIFT = 1.1
_HELD_LIFT = 1.25

#: dimensions naming spans (:mod:`.spend`, :mod:`.latency` split an excess by them): a value
#: every trace holds can still be the one whose calls changed
_SPAN_DIMENSIONS = ("model", "primary_model", "tool_name", "culprit_tool")


def rank(ctx: Context, signal: str, start: pd.Timestamp, end: pd.Timestamp, group: str,
         top: int = 10) -> list[Suspect]:
    """Which dimension values explain ``signal``'s excess in ``[start, end)``: the
    attribution's ranking, money split by the model that spent it
    (:mod:`~workbench.analysis.spend`), and a new version that alone explains the change
    first (:func:`_new_version_first`); each with the figures of :func:`_in_its_units`."""
    ranked = _attribute(ctx, signal, start, end, group, top)
    slices = _Slices(ctx.units)
    if signal in spend.SPLIT_SIGNALS:
        ranked = _by_spend(ctx, signal, start, end, group, ranked, slices)
    elif signal in latency.SPLIT_SIGNALS:
        ranked = _by_time(ctx, signal, start, end, group, ranked, slices)
    ranked = _one_per_model(_new_version_first(ctx, signal, start, end, group, ranked))
    ranked = _without_constants(ctx, signal, start, end, group, ranked, slices)
    ranked = _carrying_the_change(ctx, signal, start, end, group, ranked, slices)[:top]
    return _in_its_units(ctx, signal, start, end, group, ranked, slices)


def _without_constants(ctx: Context, signal: str, start: pd.Timestamp, end: pd.Timestamp,
                       group: str, ranked: list[Suspect], slices: _Slices
                       ) -> list[Suspect]:
    """Drop what cannot tell the scope's units apart: a value that nearly every unit held
    before and holds now (read as "release 0.7.5 (100 %)" or "model=gpt-4.1 (100 %)" it
    looks like a change that shipped), and the agent a finding is already scoped to. Where
    the signal is made of what spans spent (cost, tokens, time, timeouts), a model or tool
    every trace uses stays: its calls can be what changed; a score judges the trace's
    answer as a whole, so there it goes too. Of two suspects of one value with the same
    units in the scope (``model=x`` and ``model=x in agent=a`` in agent a's finding), the
    narrower is kept, in the better place: they say the same."""
    cur_m, base_m = _sides(ctx, ctx.judge.prepared(signal), start, end, group)
    spans_spent = not SIGNALS[signal].scored

    def constant(s: Suspect) -> bool:
        if s.dimension == "agent" and not s.within:
            return group != ALL and s.value == group
        if spans_spent and s.dimension in _SPAN_DIMENSIONS:
            return False
        return not _sets_apart(s, cur_m, base_m, slices)

    kept = [s for s in ranked if not constant(s)]
    return _narrowest(kept, [slices(s)[cur_m | base_m] for s in kept])


def _carrying_the_change(ctx: Context, signal: str, start: pd.Timestamp, end: pd.Timestamp,
                         group: str, ranked: list[Suspect], slices: _Slices
                         ) -> list[Suspect]:
    """The first suspect, then only values that carry what it leaves unexplained.

    ``environment=production`` holding 96 % of an excess because it holds 96 % of the
    traffic, the cheaper of two models an agent uses, or the one user whose three traces
    looped, say nothing an on-call engineer can act on once the tool that failed is named.
    Over the scope's units outside the first suspect, a later one is kept when its units
    run at least a quarter as far past their baseline per unit as the first's do, at least
    twice as far as the rest, and it explains a tenth of the excess. A value finer than the
    first (a tool after an environment), or any value where the first holds every unit of
    the scope, is judged the same way over all the scope's units: it says where within.
    Each side is pulled toward the units' own excess by 20 units, so a handful of traces
    cannot make a value look apart; a value every unit holds has no rest and stays
    (:func:`_without_constants` has judged it). A first value over most of the scope whose
    units run no further past their baseline than the scope's (production, when a release
    and a model each broke part of the traffic) gives way to the later value explaining
    most that does."""
    if len(ranked) < 2:
        return ranked
    p = ctx.judge.prepared(signal)
    cur_m, _ = _sides(ctx, p, start, end, group)
    size = p.weight if p.spec.kind == "rate" else np.ones(len(p.y))
    excess = p.y - p.e

    pulls: dict[int, tuple[float, float]] = {}

    def per_unit(m: np.ndarray, pool: np.ndarray) -> float:
        """``m``'s excess per unit, pulled toward ``pool``'s by 20 of its units."""
        if id(pool) not in pulls:  # each pool's level and weight, summed once
            n_pool = float(size[pool].sum())
            pulls[id(pool)] = (float(excess[pool].sum()) / n_pool if n_pool > 0 else 0.0,
                               _REST_PRIOR * n_pool / max(float(pool.sum()), 1.0))
        level, prior = pulls[id(pool)]
        if not prior > 0:
            return 0.0
        return (float(excess[m].sum()) + prior * level) / (float(size[m].sum()) + prior)

    def apart(mine: np.ndarray, pool: np.ndarray, floor: float) -> bool:
        held, rest = mine & pool, pool & ~mine
        carries = per_unit(held, pool)
        return carries > 0 and carries >= floor and (
            not rest.any() or per_unit(rest, pool) < _REST_SHARE * carries)

    whole = per_unit(cur_m, cur_m)

    def lift(s: Suspect) -> float:
        """How much further past its baseline per unit the value's units run than the
        scope's do (1: the value holds the change no more than the traffic does)."""
        return per_unit(slices(s) & cur_m, cur_m) / whole if whole > 0 else 1.0

    if whole > 0 and (cur_m & ~slices(ranked[0])).sum() >= _REST_PRIOR \
            and lift(ranked[0]) < _SPREAD_LIFT:
        better = [s for s in ranked[1:] if s.contribution >= _LATER_SHARE
                  and (cur_m & ~slices(s)).any() and lift(s) >= _HELD_LIFT]
        if better:
            top = max(better, key=lambda s: s.contribution)
            ranked = [top, *[s for s in ranked if s is not top]]
    first = slices(ranked[0]) & cur_m
    left = cur_m & ~first
    lead = per_unit(first, cur_m)
    out = ranked[:1]
    for s in ranked[1:]:
        if s.contribution < _LATER_SHARE:
            continue
        if left.any() and not _finer(s, ranked[0]):
            keep = apart(slices(s), left, _LEFT_SHARE * lead)
        else:
            keep = apart(slices(s), cur_m, 0.0)
        if keep:
            out.append(s)
    return out


def _in_its_units(ctx: Context, signal: str, start: pd.Timestamp, end: pd.Timestamp,
                  group: str, ranked: list[Suspect], slices: _Slices) -> list[Suspect]:
    """Every suspect's ``incident`` and ``baseline`` as one quantity, whatever ranked it:
    the signal over the window's units holding the value (cost per request of its traces,
    hallucination rate of its scored traces) and what the baseline expects of those same
    units, as the judge computes a finding's own figures (:meth:`.judge.Judge.rows`). A
    value new since the baseline is expected as its traffic's usual, never at $0."""
    j = ctx.judge
    out = []
    for s in ranked:
        iv = j.rows(signal, slices(s), start, end, group)
        out.append(replace(s, incident=iv.observed, baseline=iv.expected))
    return out


def _sides(ctx: Context, p: Any, start: pd.Timestamp, end: pd.Timestamp, group: str
           ) -> tuple[np.ndarray, np.ndarray]:
    """The units a signal judges in ``[start, end)`` and in the baseline it was expected
    from (hours that were incidents themselves left out)."""
    return (ctx.window_mask(start, end, group) & p.mask,
            ctx.baseline_mask(group) & p.mask & p.expectation.used)


def _sets_apart(lead: Suspect | None, cur_m: np.ndarray, base_m: np.ndarray,
                slices: _Slices) -> bool:
    """Whether the trace-level leader sets the window's traces apart: not a value that
    nearly every trace held before and holds now (the tool every request calls)."""
    if lead is None:
        return False
    held = slices(lead)
    return not all(m.any() and held[m].mean() >= _EVERYWHERE for m in (cur_m, base_m))


def _by_time(ctx: Context, signal: str, start: pd.Timestamp, end: pd.Timestamp, group: str,
             ranked: list[Suspect], slices: _Slices) -> list[Suspect]:
    """The model or tool calls that took the extra time first
    (:mod:`~workbench.analysis.latency`), unless the leader sets the window apart."""
    p = ctx.judge.prepared(signal)
    cur_m, base_m = _sides(ctx, p, start, end, group)
    if _sets_apart(ranked[0] if ranked else None, cur_m, base_m, slices):
        return ranked
    components = ctx.derived("components", lambda: latency.components(
        ctx.observations, _trace_ids(ctx)))
    table = latency.component_excess(*components, cur_m, base_m)
    return latency.slowest_component_first(ranked, table)


def _by_spend(ctx: Context, signal: str, start: pd.Timestamp, end: pd.Timestamp, group: str,
              ranked: list[Suspect], slices: _Slices) -> list[Suspect]:
    cur_m, base_m = _sides(ctx, ctx.judge.prepared(signal), start, end, group)
    generations = ctx.derived("generations", lambda: spend.generations(
        ctx.observations, _trace_ids(ctx)))
    table = spend.model_excess(*generations, cur_m, base_m)
    if table.empty:
        return ranked
    total = ctx.judge.totals(signal, start, end, group).excess
    # the trace-level leader keeps its place where it sets the window's traces apart; one
    # that nearly every trace held before and holds now (the tool every request calls)
    # cannot, and the model that spent the money goes first
    lead = ranked[0] if ranked else None
    promote = (lead is not None and lead.dimension == "model") \
        or not _sets_apart(lead, cur_m, base_m, slices)
    out = spend.spending_model_first(ranked, table, total, promote=promote)
    if not any(d.split("/")[-1] in ("tool_name", "culprit_tool") for d in ctx.dimensions):
        return out  # the runbook (or the reader) does not attribute to tools
    tool_calls = ctx.derived("tool_calls", lambda: spend.tool_calls(
        ctx.observations, _trace_ids(ctx)))
    p = ctx.judge.prepared(signal)
    loop = spend.looping_tool(tool_calls, cur_m, base_m, p.shown, p.shown_e)
    if loop is None:
        return out
    # the tool a runaway loop kept calling goes first: what changed, where the model is
    # the usual one (as the attribution ranked it, when it did)
    same = [s for s in out if s.dimension == loop.dimension and s.value == loop.value
            and s.within.get("agent", loop.within["agent"]) == loop.within["agent"]]
    first = same[0] if same else loop
    return [first, *[s for s in out if s is not first]]


def _attribute(ctx: Context, signal: str, start: pd.Timestamp, end: pd.Timestamp, group: str,
               top: int) -> list[Suspect]:
    p = ctx.judge.prepared(signal)
    for dim in ctx.dimensions:  # composites once per units frame, not once per finding
        if "/" in dim and dim not in ctx.units.columns:
            value = _composite(ctx.units, dim)
            if value is not None:
                ctx.units[dim] = value
    share = float(ctx.runbook.spec["attribution"].get("min_share", 0.8))
    dims = [d for d in ctx.dimensions
            if all(x in ctx.units.columns for x in d.split("/"))]
    found = attribute_rows(ctx.exploded, p.bad,
                           *_sides(ctx, p, start, end, group), dims,
                           min_share=share, top=top)
    # attribution works in the bad direction; suspects show the signal as the finding does
    if p.spec.invert_display:
        return [replace(x, incident=1.0 - x.incident, baseline=1.0 - x.baseline)
                for x in found]
    if not p.spec.log and ctx.runbook.signal(signal).get("direction", "up") == "down" \
            and p.spec.kind != "rate":
        return [replace(x, incident=-x.incident, baseline=-x.baseline) for x in found]
    return found


def _trace_ids(ctx: Context) -> pd.Index:
    """The units' trace ids, as the text they are held as (numbered against the
    observations' without making a Python string of each)."""
    return pd.Index(ctx.units["trace_id"])


#: A model's dated snapshot: ``gpt-4.1-mini-2025-04-14``, ``claude-sonnet-4-5-20250929``.
_SNAPSHOT_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")


def _one_per_model(ranked: list[Suspect]) -> list[Suspect]:
    """Drop a model suspect that is a later-ranked twin of one above: its alias and its dated
    snapshot (``gpt-4.1-mini`` and ``gpt-4.1-mini-2025-04-14``, the request's and the
    response's model of the same calls) in the same scope with the same figures. Two
    snapshots of one model stay apart: a snapshot change can be the cause."""
    def alias(value: str) -> str:
        return _SNAPSHOT_SUFFIX.sub("", value)

    def twins(k: Suspect, s: Suspect) -> bool:
        return (k.dimension == s.dimension == "model" and k.within == s.within
                and k.value != s.value and alias(k.value) == alias(s.value)
                and alias(k.value) in (k.value, s.value)  # one is the alias itself
                and np.allclose([k.contribution, k.incident, k.baseline],
                                [s.contribution, s.incident, s.baseline], rtol=1e-9,
                                atol=1e-12, equal_nan=True))

    out: list[Suspect] = []
    for s in ranked:
        if not any(twins(k, s) for k in out):
            out.append(s)
    return out


class _Slices:
    """Each suspect's units (:func:`.attribution.in_slice`), found once per suspect."""

    def __init__(self, units: pd.DataFrame) -> None:
        self.units = units
        self._masks: dict[tuple[Any, ...], np.ndarray] = {}

    def __call__(self, s: Suspect) -> np.ndarray:
        key = (s.dimension, s.value, tuple(sorted(s.within.items())))
        if key not in self._masks:
            self._masks[key] = in_slice(self.units, s)
        return self._masks[key]


def _finer(s: Suspect, than: Suspect) -> bool:
    """Whether ``s`` names a finer-grained thing than ``than`` (:data:`.SPECIFICITY`)."""
    def order(x: Suspect) -> int:
        return SPECIFICITY.index(x.dimension) if x.dimension in SPECIFICITY \
            else len(SPECIFICITY)
    return order(s) < order(than)


def _narrowest(ranked: list[Suspect], units: list[np.ndarray]) -> list[Suspect]:
    """``ranked`` with each suspect that a narrower one of the same value repeats (the same
    ``units`` in the scope, the same share: ``model=x`` beside ``model=x in agent=a``) replaced
    by it, each suspect once."""
    def narrower(k: int, i: int) -> bool:
        a, b = ranked[k], ranked[i]
        return ((a.dimension, a.value) == (b.dimension, b.value)
                and a.within.items() > b.within.items()
                and np.isclose(a.contribution, b.contribution, rtol=1e-9, atol=1e-12)
                and np.array_equal(units[k], units[i]))

    out: list[Suspect] = []
    for i, s in enumerate(ranked):
        best = next((ranked[k] for k in range(len(ranked)) if narrower(k, i)), s)
        if not any(x is best for x in out):
            out.append(best)
    return out


def _new_version_first(ctx: Context, signal: str, start: pd.Timestamp, end: pd.Timestamp,
                       group: str, suspects: list[Suspect]) -> list[Suspect]:
    """Put first a version new since the baseline that is worse on its own traffic (at
    ``evaluation.canary_alpha``) while the rest of the same traffic, over the hours it ran, is
    not: a change that shipped and alone carries the excess is the cause, even when the scanned
    window is wider than its hours and a coarser value (the model every trace of the agent
    uses) explains more of that window. Where the rest is as bad, the version is not singled
    out (a broken tool slows the new version's traffic too)."""
    j = ctx.judge
    if signal not in j.signals():
        return suspects
    alpha = float(ctx.runbook.spec["evaluation"].get("canary_alpha", 0.01))
    best: tuple[float, str, str, Interval] | None = None
    for dim, value, mask in ctx.fresh_versions():
        span = ctx.judge.active_span(mask & ctx.window_mask(start, end, group), start, end)
        if span is None:
            continue
        mine = j.rows(signal, mask, *span, group)
        if not (mine.p_value <= alpha and j.enough(mine) and mine.severity):
            continue
        rest = j.rows(signal, ~mask, *span, group)
        if rest.p_value <= alpha and j.enough(rest):
            continue
        if best is None or mine.p_value < best[0]:
            best = (mine.p_value, dim, value, mine)
    if best is None:
        return suspects
    _, dim, value, mine = best
    shown_dim, shown, within = _decode(dim, value)
    keep = [s for s in suspects if (s.dimension, s.value, s.within) == (shown_dim, shown, within)]
    if keep:
        first = keep[0]
    else:
        whole = j.interval(signal, start, end, group)
        total = (whole.observed - whole.expected) * whole.units
        part = (mine.observed - mine.expected) * mine.units
        share = float(np.clip(part / total, 0.0, 1.0)) if total else 1.0
        first = Suspect(dimension=shown_dim, value=shown, contribution=share,
                        incident=mine.observed, baseline=mine.expected, within=within)
    return [first, *[s for s in suspects if s is not first and not (
        (s.dimension, s.value, s.within) == (shown_dim, shown, within))]]
