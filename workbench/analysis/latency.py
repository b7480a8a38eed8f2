"""Which span took a latency excess: the extra time split by the model calls and tool calls
that spent it.

Attribution by trace (:mod:`workbench.analysis.attribution`) names the tool that failed or took
longest in each slow trace. Where every trace of an agent calls the same slow tool, that tool is
the "culprit" of every slow trace, before and during an incident alike, even when what changed
is the model's calls getting slower. Spans carry their own durations, so the extra time can be
split: for each model and each tool (within its agent),

    excess_c = time_c,window - time_c,baseline / requests_baseline * requests_window

A component that carries most of the extra time, and whose time per request really rose, is
named first when no other component whose time per request rose comes near it (a long model
call a few per cent slower piles up seconds without having changed), unless a value that sets
the incident's traces apart already leads (the tool that timed out only in them). Nested spans
are not subtracted from their parents: only model calls (generations) and tool calls are
counted, which rarely nest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.analysis.split import excess_by, positions
from workbench.findings import Suspect

__all__ = ["SPLIT_SIGNALS", "components", "component_excess", "slowest_component_first"]

#: signals whose excess is time taken
SPLIT_SIGNALS = ("timeout_rate", "near_timeout_share", "latency_p95")
# a component is named first when it carries this share of the extra time ...
_MIN_SHARE = 0.5
# ... the next one under this share of what it carries ...
_REST_SHARE = 0.25
# ... and its own time per request rose by at least this fraction
_MIN_RISE = 0.25

_COLUMNS = ["agent", "dimension", "value", "duration_s"]


def components(observations: pd.DataFrame | None, trace_ids: np.ndarray | pd.Index
               ) -> tuple[pd.DataFrame, np.ndarray]:
    """The model calls and tool calls (agent, dimension ``model`` | ``tool_name``, value,
    duration) and, for each, the position of its trace in ``trace_ids`` (-1 where none)."""
    need = {"trace_id", "type", "agent", "model", "tool_name", "duration_s"}
    if observations is None or not need <= set(observations.columns):
        return pd.DataFrame(columns=_COLUMNS), np.empty(0, dtype="int64")
    kind = observations["type"].astype(str).to_numpy()
    dur = observations["duration_s"].to_numpy(dtype="float64", na_value=np.nan)
    parts = []
    for typ, dim in (("generation", "model"), ("tool", "tool_name")):
        keep = (kind == typ) & observations[dim].notna().to_numpy() & np.isfinite(dur)
        if keep.any():
            parts.append((keep, pd.DataFrame({
                "agent": observations["agent"].to_numpy(dtype=object)[keep],
                "dimension": dim,
                "value": observations[dim].astype(str).to_numpy(dtype=object)[keep],
                "duration_s": dur[keep]})))
    if not parts:
        return pd.DataFrame(columns=_COLUMNS), np.empty(0, dtype="int64")
    at = np.concatenate([positions(trace_ids, observations.loc[keep, "trace_id"])
                         for keep, _ in parts])
    return pd.concat([p for _, p in parts], ignore_index=True), np.asarray(at, dtype="int64")


def component_excess(comps: pd.DataFrame, at: np.ndarray, current: np.ndarray,
                     baseline: np.ndarray) -> pd.DataFrame:
    """Per (agent, dimension, value): seconds per request in the ``current`` traces and in the
    ``baseline`` traces, and the extra seconds over the baseline's rate. ``comps`` and ``at``
    from :func:`components`; ``current`` and ``baseline`` bool masks over the traces. Sorted
    by excess, largest first."""
    return excess_by(comps, at, current, baseline, ["agent", "dimension", "value"],
                     "duration_s")


def slowest_component_first(suspects: list[Suspect], table: pd.DataFrame) -> list[Suspect]:
    """``suspects`` with the component that took most of the extra time first (``table`` from
    :func:`component_excess`), its contribution the share of the extra time it took; unchanged
    when no component stands out."""
    rising = table[table["excess"] > 0]
    if rising.empty:
        return suspects
    total = float(rising["excess"].sum())
    # only a component whose own time per request rose competes: a long model call a few
    # per cent slower piles up seconds over many requests without having changed
    rose = rising[rising["per_request"] >= (1.0 + _MIN_RISE) * rising["per_request_base"]]
    if rose.empty:
        return suspects
    top = rose.iloc[0]
    rest = float(rose["excess"].iloc[1]) if len(rose) > 1 else 0.0
    if not (top["excess"] >= _MIN_SHARE * total and rest < _REST_SHARE * top["excess"]):
        return suspects
    first = Suspect(dimension=str(top["dimension"]), value=str(top["value"]),
                    contribution=float(min(top["excess"] / total, 1.0)),
                    incident=float(top["per_request"]), baseline=float(top["per_request_base"]),
                    within={"agent": str(top["agent"])})

    def same(s: Suspect) -> bool:
        return (s.dimension == first.dimension and s.value == first.value
                and s.within.get("agent", first.within["agent"]) == first.within["agent"])

    return [first, *[s for s in suspects if not same(s)]]
