"""Hallucination spike detectors over evaluation scores, each against its baseline.

- ``hallucination_rate``: share of scored traces whose ``hallucination`` score is over the
  runbook's ``score_threshold`` (LLM-as-judge);
- ``groundedness``: mean ``groundedness`` score, a drop is the signal;
- ``tool_call_validity``: mean of ``tool_call_valid`` (0/1), a drop is the signal;
- ``unexpected_refusal_rate``: mean of ``refusal`` (0/1).

Scores are placed in time and in the dimensions (agent, prompt, model, release) by the trace they
score; a score whose trace is not in the frame keeps its own timestamp and environment. Volume is
scored traces per bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.analysis import _common as c
from workbench.analysis.series import ALL, bucket_stats, judge
from workbench.findings import Finding

__all__ = ["detect_hallucination", "score_units"]

#: signal -> (score name, how a trace's score becomes the unit value, binary event)
_SIGNALS = {
    "hallucination_rate": ("hallucination", "over_threshold", True),
    "groundedness": ("groundedness", "value", False),
    "tool_call_validity": ("tool_call_valid", "value", True),
    "unexpected_refusal_rate": ("refusal", "value", True),
}


def score_units(scores: pd.DataFrame, units: pd.DataFrame, name: str) -> pd.DataFrame:
    """One unit per trace scored ``name`` (mean if scored twice), with the trace's dimensions."""
    return _score_units(scores, _ScoreIndex.of(scores, units), units, name)


@dataclass(frozen=True)
class _ScoreIndex:
    """The scores' names as strings, their trace ids as integer codes and the units indexed by
    trace id, with the units row of each code: worked out once for every signal, so a signal's
    join with the units is a take by position, not a lookup of strings."""

    names: pd.Series
    trace: np.ndarray
    ids: pd.Index
    known: pd.DataFrame
    unit_row: np.ndarray | None  # None when a trace id repeats in the units: joined by label

    @classmethod
    def of(cls, scores: pd.DataFrame, units: pd.DataFrame) -> _ScoreIndex:
        known = units.assign(_tid=units["trace_id"].astype(str)).set_index("_tid")
        trace, ids = pd.factorize(scores["trace_id"])
        ids = pd.Index(ids).astype(str)
        rows = known.index.get_indexer(ids) if known.index.is_unique else None
        return cls(scores["name"].astype(str), trace, ids, known, rows)


def _score_units(scores: pd.DataFrame, index: _ScoreIndex, units: pd.DataFrame,
                 name: str) -> pd.DataFrame:
    """:func:`score_units` over a :class:`_ScoreIndex` of the scores and units."""
    keep = ((index.names == name) & scores["value"].notna()).to_numpy()
    if not keep.any():
        return units.iloc[0:0].assign(score=pd.Series(dtype="float64"))
    rows = np.flatnonzero(keep & (index.trace >= 0))  # a score without a trace id is no unit
    part = pd.DataFrame({"score": scores["value"].to_numpy()[rows],
                         "ts": scores["timestamp"].array[rows]})
    per_trace = part.groupby(index.trace[rows], sort=False).agg(score=("score", "mean"),
                                                                ts=("ts", "min"))
    codes = per_trace.index.to_numpy()
    per_trace.index = index.ids[codes]
    joined = _join_units(per_trace, index, codes)
    orphan = joined["time"].isna()
    if orphan.any():
        joined.loc[orphan, "time"] = joined.loc[orphan, "ts"]
        joined.loc[orphan, "group"] = "unknown"
        joined.loc[orphan, "trace_id"] = joined.index[orphan]
    return joined.drop(columns=["ts"]).reset_index(drop=True)


def _join_units(per_trace: pd.DataFrame, index: _ScoreIndex, codes: np.ndarray
                ) -> pd.DataFrame:
    """``per_trace.join(index.known, how="left")``, by position when the trace ids are unique."""
    if index.unit_row is None or not len(per_trace):
        return per_trace.join(index.known, how="left")
    at = index.unit_row[codes]
    known = index.known
    taken = pd.DataFrame({c: pd.api.extensions.take(known[c].array, at, allow_fill=True)
                          for c in known.columns}, index=per_trace.index)
    return pd.concat([per_trace, taken], axis=1)


def detect_hallucination(ctx: c.Context, scores: pd.DataFrame) -> list[Finding]:
    rb, w = ctx.runbook, ctx.window
    threshold = float(rb.spec.get("score_threshold", 0.5))
    primary = None
    out: list[Finding] = []
    # the unit columns the signals read: the join copies every column it carries
    cols = ["time", "group", "trace_id", *(d for d in rb.dimensions if d in ctx.units.columns)]
    index = _ScoreIndex.of(scores, ctx.units[list(dict.fromkeys(cols))])
    for signal, (score_name, how, binary) in _SIGNALS.items():
        if signal not in rb.signals:
            continue
        u = _score_units(scores, index, ctx.units, score_name)
        u = u[(u["time"] >= w.base_start) & (u["time"] < w.end)]
        u = u.assign(value=(u["score"] > threshold).astype("float64")
                     if how == "over_threshold" else u["score"].astype("float64"))
        stats = bucket_stats(u, w, "value")
        if primary is None:
            primary = stats
            verdict = c.volume_verdict(ctx, stats[stats["group"] == ALL], "scored traces")
            if verdict is not None:
                return [verdict]
        if u.empty:
            continue
        spec = rb.signal(signal)
        judged = judge(stats, w, spec, min_volume=ctx.min_volume, min_z=ctx.min_z,
                       statistic=ctx.statistic, binary=binary, scan=ctx.scan)
        # attribution explains the bad direction: for a drop, the shortfall from 1
        bad = u["value"] if spec.get("direction", "up") == "up" else 1.0 - u["value"]
        # worst offenders first: highest raw score for a rise, lowest for a drop
        worst = u["score"] if spec.get("direction", "up") == "up" else -u["score"]
        u = u.assign(bad=bad.to_numpy(), worst=worst.to_numpy())
        out += c.findings_from_runs(judged, w.bucket,
                                    _builder(ctx, signal, score_name, u, judged, spec))
    return out


def _builder(ctx, signal, score_name, units, judged, spec):
    def build(run, top, start, end, labels):
        suspects = c.attribute_run(ctx, "bad", start, end, units=units)
        who = f" in {labels['agent']}" if labels else ""
        fmt = "{:.1%}" if spec["unit"] == "ratio" else "{:.3f}"
        summary = (f"{signal.replace('_', ' ').capitalize()}{who} "
                   f"{fmt.format(top['mean'])} against baseline {fmt.format(top['baseline'])} "
                   f"({top['n']:.0f} scored traces in the worst hour)"
                   f"{c.suspects_text(suspects)}")
        if ctx.note:
            summary += f"; {ctx.note}"
        return Finding(
            runbook=ctx.runbook.name, signal=signal, severity=top["severity"], start=start,
            end=end, observed=float(top["mean"]), baseline=float(top["baseline"]),
            summary=summary, unit=spec["unit"], labels=labels, suspects=suspects,
            trace_ids=c.top_trace_ids(units, start, end, "worst", labels,
                                      mask=units["bad"] > 0),
            evidence={"series": c.evidence_series(judged, labels, ctx.window),
                      "scores": _compare(units, ctx.window, start, end, score_name)})
    return build


def _compare(units: pd.DataFrame, window, start, end, name: str) -> pd.DataFrame:
    """The score's mean and volume in the incident against the baseline, per agent."""
    rows = []
    for label, part in (("incident", units[(units["time"] >= start) & (units["time"] < end)]),
                        ("baseline", units[units["time"] < window.start])):
        g = part.groupby("group")["value"].agg(["mean", "count"])
        g["period"] = label
        rows.append(g.reset_index())
    out = pd.concat(rows, ignore_index=True)
    out.insert(0, "score", name)
    return out.replace([np.inf, -np.inf], np.nan)
