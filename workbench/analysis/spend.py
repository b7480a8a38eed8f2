"""Which model spent a cost excess: the excess split by the generations that incurred it.

Attribution by trace (:mod:`workbench.analysis.attribution`) credits a trace's whole cost to each
value the trace holds. Where every trace of an agent calls the same tool and two models, all
three hold every trace and explain all of the excess alike, although only one model's calls got
dearer. Langfuse, OpenInference and the price table give each generation its own cost, so the
excess can be split exactly: for each model (within its agent),

    excess_m = spent_m,window - spent_m,baseline / requests_baseline * requests_window

and ``excess_m`` over the window's whole excess is the model's share. A model that alone carries
the excess is named first, unless a value that sets the incident's traces apart explains it (a
tool failing only in them that made the agent loop, whose extra calls the model then served);
a model whose spend per request did not rise explains nothing, whatever it costs.

A runaway loop is the exception the split cannot see: a tool starts failing (malformed JSON)
and the agent calls it, and the model after it, over and over. The model that spent the money
is the one it always used; the tool is called in every run before and during the loop, so
holding it sets nothing apart either. What changed is how often each run called it:
:func:`looping_tool` finds the tool whose calls per run rose far past their baseline in the
runs that carry most of the excess, and it goes first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.analysis.split import excess_by, positions, text_array
from workbench.findings import Suspect

__all__ = ["SPLIT_SIGNALS", "generations", "looping_tool", "model_excess",
           "spending_model_first", "tool_calls"]

#: signals whose excess is money spent by generations
SPLIT_SIGNALS = ("cost_per_request",)
# a model is named first when it carries this share of the excess ...
_MIN_SHARE = 0.5
# ... and the next model under this share of what it carries
_REST_SHARE = 0.25
# a run loops on a tool when it calls it more often than this share of baseline runs did ...
_LOOP_QUANTILE = 0.99
# ... and at least this many times as often as a baseline run calling it did on average (a tool
# every run called once, now called three times over a growing context, is looping)
_LOOP_FACTOR = 2.0
# runs that loop on the tool must carry this share of the window's excess, and be this many
_LOOP_SHARE = 0.5
_LOOP_MIN_RUNS = 3


def generations(observations: pd.DataFrame | None, trace_ids: np.ndarray | pd.Index
                ) -> tuple[pd.DataFrame, np.ndarray]:
    """The observations that spent money on a model (agent, model, cost) and, for each, the
    position of its trace in ``trace_ids`` (-1 where none): worked out once per units frame, so
    each window selects by position."""
    cols = ["agent", "model", "cost_usd"]
    if observations is None or not {"trace_id", *cols} <= set(observations.columns):
        return pd.DataFrame(columns=cols), np.empty(0, dtype="int64")
    keep = (observations["model"].notna() & observations["cost_usd"].notna()).to_numpy()
    gens = observations.loc[keep, cols].reset_index(drop=True)
    at = positions(trace_ids, observations.loc[keep, "trace_id"])
    return gens, np.asarray(at, dtype="int64")


def model_excess(gens: pd.DataFrame, at: np.ndarray, current: np.ndarray, baseline: np.ndarray
                 ) -> pd.DataFrame:
    """Per (agent, model): spend in the ``current`` traces, spend per request in the
    ``baseline`` traces and the excess over it. ``gens`` and ``at`` from :func:`generations`;
    ``current`` and ``baseline`` bool masks over the traces. Sorted by excess, largest first."""
    return excess_by(gens, at, current, baseline, ["agent", "model"], "cost_usd")


def spending_model_first(suspects: list[Suspect], table: pd.DataFrame, total_excess: float,
                         *, promote: bool = True) -> list[Suspect]:
    """``suspects`` with every model suspect's share replaced by its split share (``table``
    from :func:`model_excess`; a model whose spend did not rise is dropped) and, with
    ``promote``, the model that carries the excess first. Unchanged when no model stands
    out."""
    if table.empty or not total_excess > 0:
        return suspects
    share = {(r.agent, r.model): r.excess / total_excess for r in table.itertuples()}

    def split_share(s: Suspect) -> float | None:
        if s.dimension != "model":
            return None
        agent = s.within.get("agent")
        if agent is not None:
            return share.get((agent, s.value), 0.0)
        return sum(v for (_, m), v in share.items() if m == s.value)

    kept = []
    for s in suspects:
        part = split_share(s)
        if part is None:
            kept.append(s)
        elif part > 0:
            kept.append(Suspect(dimension=s.dimension, value=s.value,
                                contribution=float(min(part, 1.0)), incident=s.incident,
                                baseline=s.baseline, within=dict(s.within)))
    top = table.iloc[0]
    rest = float(table["excess"].iloc[1]) if len(table) > 1 else 0.0
    if not (promote and top["excess"] / total_excess >= _MIN_SHARE
            and rest < _REST_SHARE * top["excess"]):
        return kept
    first = Suspect(dimension="model", value=top["model"],
                    contribution=float(min(top["excess"] / total_excess, 1.0)),
                    incident=float(top["per_request"]), baseline=float(top["per_request_base"]),
                    within={"agent": top["agent"]})
    return [first, *[s for s in kept if not (s.dimension == "model" and s.value == first.value
                                             and s.within.get("agent", first.within["agent"])
                                             == first.within["agent"])]]


def tool_calls(observations: pd.DataFrame | None, trace_ids: np.ndarray | pd.Index
               ) -> pd.DataFrame:
    """How often each run called each tool: ``agent``, ``tool_name``, ``at`` (the position of
    the run's trace in ``trace_ids``) and ``n``; once per units frame, as :func:`generations`."""
    cols = ["agent", "tool_name", "at", "n"]
    if observations is None or not {"trace_id", "agent", "tool_name"} <= set(observations.columns):
        return pd.DataFrame(columns=cols)
    keep = observations["tool_name"].notna().to_numpy()
    at = positions(trace_ids, observations.loc[keep, "trace_id"])
    calls = pd.DataFrame({"agent": text_array(observations.loc[keep, "agent"]),
                          "tool_name": text_array(observations.loc[keep, "tool_name"]),
                          "at": at})
    calls = calls[calls["at"].to_numpy() >= 0]
    return calls.groupby(["agent", "tool_name", "at"], observed=True, sort=True).size() \
        .rename("n").reset_index()


def looping_tool(per_run: pd.DataFrame, current: np.ndarray, baseline: np.ndarray,
                 cost: np.ndarray, expected: np.ndarray) -> Suspect | None:
    """The tool a runaway loop kept calling, as a suspect, or None.

    ``per_run`` from :func:`tool_calls`; ``current`` and ``baseline`` bool masks over the traces;
    ``cost`` each trace's cost and ``expected`` what the baseline expects of it (the suspect
    shows the looping runs' cost against that of the baseline runs calling the tool). A run
    loops on a tool when it called it more often than 99 % of the baseline runs that called it,
    and at least twice their average; the tool is named when such runs carry at least
    half of the window's excess (its contribution) and there are at least three."""
    if per_run.empty or not current.any() or not baseline.any():
        return None
    excess = cost - expected
    total = float(excess[current].sum())
    if not total > 0:
        return None
    best: Suspect | None = None
    for (agent, tool), part in per_run.groupby(["agent", "tool_name"], observed=True, sort=True):
        rows, n = part["at"].to_numpy(), part["n"].to_numpy(dtype="float64")
        before = n[baseline[rows]]
        if not len(before):
            continue
        limit = max(float(np.quantile(before, _LOOP_QUANTILE)), _LOOP_FACTOR * before.mean())
        looping = rows[current[rows] & (n > limit)]
        if len(looping) < _LOOP_MIN_RUNS:
            continue
        share = float(excess[looping].sum()) / total
        if share >= _LOOP_SHARE and (best is None or share > best.contribution):
            best = Suspect(dimension="tool_name", value=str(tool),
                           contribution=float(min(share, 1.0)),
                           incident=float(cost[looping].mean()),
                           baseline=float(cost[rows[baseline[rows]]].mean()),
                           within={"agent": str(agent)})
    return best
