"""Hallucination spike extras: what a finding on evaluation scores shows.

The signals themselves (the share of scored traces an LLM judge marks hallucinated, mean
groundedness, tool-call validity, unexpected refusals) are judged by the generic scan over the
traces that were scored (:mod:`.judge`): evaluations are sampled, so the units are the scored
traces, and an hour with two of them is pooled with its neighbours rather than judged alone.
Scores reach the units through :mod:`.signals`, which maps score names with the conventions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.analysis.judge import ALL, SIGNALS, Interval

if TYPE_CHECKING:
    from workbench.analysis.detect import Context

__all__ = ["evidence", "scores_compared"]


def scores_compared(ctx: Context, signal: str, start: pd.Timestamp, end: pd.Timestamp
                    ) -> pd.DataFrame:
    """The signal's mean and scored traces per agent, window against baseline."""
    column = SIGNALS[signal].column
    u = ctx.units[["agent", column]]
    rows = []
    for label, m in (("incident", ctx.window_mask(start, end, ALL)),
                     ("baseline", ctx.baseline_mask(ALL))):
        part = u[m & u[column].notna().to_numpy()]
        g = part.groupby(part["agent"].astype(str))[column].agg(["mean", "count"])
        g["period"] = label
        rows.append(g.reset_index())
    out = pd.concat(rows, ignore_index=True)
    out.insert(0, "score", column)
    return out.replace([np.inf, -np.inf], np.nan)


def evidence(ctx: Context, signal: str, iv: Interval) -> dict[str, pd.DataFrame]:
    return {"scores": scores_compared(ctx, signal, iv.start, iv.end)}
