"""Row codes of the per-trace signals: each row's unit found by its trace id."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.analysis.signals import _row_codes, _unit_ids


def _by_lookup(trace_ids: pd.Series, ids: pd.Index) -> list[int]:
    pos = {v: i for i, v in enumerate(ids.tolist())}
    return [-1 if pd.isna(v) else pos.get(str(v), -1) for v in trace_ids.tolist()]


def test_rows_find_their_units_missing_and_unknown_ids_none() -> None:
    at, ids = _unit_ids(pd.Series(["t2", "t1", "t3", "t1"], dtype="str"))
    assert at.tolist() == [0, 1, 2, 1] and ids.tolist() == ["t2", "t1", "t3"]
    rows = pd.Series(["t1", None, "t9", "t3", "t2", "t1", ""], dtype="string")
    assert _row_codes(rows, ids).tolist() == [1, -1, -1, 2, 0, 1, -1]
    assert _row_codes(rows, ids).tolist() == _by_lookup(rows, ids)
    assert _row_codes(rows.iloc[:0], ids).tolist() == []
    assert _row_codes(rows, ids[:0]).tolist() == [-1] * len(rows)


def test_ids_that_are_not_text_match_only_as_themselves() -> None:
    ids = pd.Index([1, 2], dtype=object)  # rows are read as text: "1" is not the id 1
    assert _row_codes(pd.Series(["1", "2"], dtype="string"), ids).tolist() == [-1, -1]
    with_gap = pd.Index(["a", np.nan, "b"], dtype=object)
    assert _row_codes(pd.Series(["b", "a", None], dtype="string"), with_gap).tolist() == \
        [2, 0, -1]


def test_many_rows_match_a_plain_lookup() -> None:
    rng = np.random.default_rng(7)
    ids = pd.Index([f"trace-{i}" for i in rng.permutation(500)], dtype=object)
    values = np.asarray([f"trace-{i}" for i in rng.integers(0, 700, 5000)], dtype=object)
    values[rng.random(5000) < 0.05] = None
    rows = pd.Series(values, dtype="string")
    assert _row_codes(rows, ids).tolist() == _by_lookup(rows, ids)
