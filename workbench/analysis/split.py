"""An excess split by the spans that incurred it: per key (a model, a tool, within its agent),
what the window's traces spent against what the baseline's spent per request.

    excess_k = spent_k,window - spent_k,baseline / requests_baseline * requests_window

Used for money (:mod:`~workbench.analysis.spend`) and time (:mod:`~workbench.analysis.latency`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["excess_by", "positions", "text_array"]


def excess_by(rows: pd.DataFrame, at: np.ndarray, current: np.ndarray, baseline: np.ndarray,
              keys: list[str], column: str) -> pd.DataFrame:
    """Per ``keys``: ``column`` summed over the ``current`` traces' rows (``per_request``: over
    the current traces), its baseline rate (``per_request_base``) and the ``excess``; ``at``
    gives each row's trace position (-1: none), ``current`` and ``baseline`` are bool masks
    over the traces. Sorted by excess, largest first, then by the keys."""
    cols = [*keys, "per_request", "per_request_base", "excess"]
    n_cur, n_base = int(current.sum()), int(baseline.sum())
    if not len(rows) or not n_cur or not n_base:
        return pd.DataFrame(columns=cols)
    known = at >= 0
    side = np.where(known, at, 0)
    cur = rows[known & current[side]].groupby(keys, observed=True)[column].sum()
    base = rows[known & baseline[side]].groupby(keys, observed=True)[column].sum()
    table = pd.concat({"spent": cur, "base": base}, axis=1).fillna(0.0)
    if table.empty:
        return pd.DataFrame(columns=cols)
    table["per_request"] = table["spent"] / n_cur
    table["per_request_base"] = table["base"] / n_base
    table["excess"] = table["spent"] - table["per_request_base"] * n_cur
    out = table.reset_index()[cols].astype({k: str for k in keys})
    return out.sort_values(["excess", *keys], ascending=[False, *[True] * len(keys)],
                           ignore_index=True)


def text_array(values: pd.Series) -> Any:
    """``values.astype(str).to_numpy()`` as a new frame's column takes it, without a Python
    string per row: Arrow's strings are handed over as they are instead of made into objects
    and inferred back as text (milliseconds a column). Without a single value (or rows) the
    objects are handed over as before, so such a column keeps the dtype it had."""
    text = values.astype(str)
    return text.array if text.notna().any() else text.to_numpy()


def positions(ids: np.ndarray | pd.Index, values: pd.Series) -> np.ndarray:
    """``pd.Index(ids).get_indexer(values)``: each value's position among the distinct
    ``ids`` (-1 where none, and for a missing value). Text against text is numbered by Arrow
    together, the ids first so that an id's number is its position, instead of hashing every
    value as a Python string."""
    index = pd.Index(ids)
    n = len(index)
    if n and isinstance(values.dtype, pd.StringDtype) and index.inferred_type == "string":
        # ids already held as text are taken as they are, not made into Python strings first
        text = index.array if isinstance(index.dtype, pd.StringDtype) else index.to_numpy()
        joint = pd.concat([pd.Series(text, dtype=values.dtype),
                           values.reset_index(drop=True)], ignore_index=True)
        codes = pd.factorize(joint)[0]
        if np.array_equal(codes[:n], np.arange(n)):  # distinct ids, none missing
            rest = codes[n:]
            return np.where(rest < n, rest, -1).astype("int64")
    # each distinct value looked up once; a missing value is no id, even where an id is missing
    codes, uniques = pd.factorize(values)
    found = index.get_indexer(np.asarray(uniques, dtype=object))
    out = np.full(len(codes), -1, dtype="int64")
    out[codes >= 0] = found[codes[codes >= 0]]
    return out
