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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.analysis.split import excess_by, positions
from workbench.findings import Suspect

__all__ = ["SPLIT_SIGNALS", "generations", "model_excess", "spending_model_first"]

#: signals whose excess is money spent by generations
SPLIT_SIGNALS = ("cost_per_request",)
# a model is named first when it carries this share of the excess ...
_MIN_SHARE = 0.5
# ... and the next model under this share of what it carries
_REST_SHARE = 0.25


def generations(observations: pd.DataFrame | None, trace_ids: np.ndarray
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
