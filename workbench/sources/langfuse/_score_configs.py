"""Score configs (``GET /api/public/score-configs``): the range a judge's numbers are on.

A Langfuse score config defines a score name: its data type and, for numbers, the lowest and
highest value it allows. A judge scoring 0-10 under such a config is read on that scale rather
than on one guessed from the values of a window (which a window holding only 0s and 1s would
get wrong). Scores are matched to configs by name and data type, as a score written against a
config carries the config's name; archived configs count only where no live one has the name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import _legacy
from ._client import Budget, Stats, Transport

PATH = "api/public/score-configs"


def pull(transport: Transport, budget: Budget, stats: Stats) -> tuple[list[Any], str | None]:
    """Every score config of the project; ``(configs, reason-if-incomplete)``."""
    return _legacy.pull_pages(transport, PATH, {}, budget, stats, label="score configs")


def ranges(configs: Sequence[Any]) -> dict[str, tuple[float, float]]:
    """Score name -> (min, max) of the numeric configs that bound both ends."""
    out: dict[str, tuple[float, float]] = {}
    live: dict[str, bool] = {}
    for c in configs:
        if not isinstance(c, Mapping) or str(c.get("dataType", "")).upper() != "NUMERIC":
            continue
        name, archived = c.get("name"), bool(c.get("isArchived"))
        lo, hi = _number(c.get("minValue")), _number(c.get("maxValue"))
        if not isinstance(name, str) or lo is None or hi is None or not hi > lo:
            continue
        if archived and live.get(name):
            continue
        out[name], live[name] = (lo, hi), not archived
    return out


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def apply(scores: pd.DataFrame, by_name: Mapping[str, tuple[float, float]]) -> None:
    """Set ``scale_min`` / ``scale_max`` of the numeric scores a config bounds, in place."""
    if not by_name or scores.empty:
        return
    numeric = scores["data_type"].astype(str).str.upper().eq("NUMERIC").to_numpy()
    names = scores["name"].astype(str)
    for col, end in (("scale_min", 0), ("scale_max", 1)):
        bound = names.map({k: v[end] for k, v in by_name.items()}).to_numpy(dtype="float64")
        scores[col] = np.where(numeric, bound, np.nan)
