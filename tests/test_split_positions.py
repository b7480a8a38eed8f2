"""Positions of rows' trace ids among the units' (``split.positions``): the same as
``pandas.Index.get_indexer``, however the ids are typed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.analysis.split import positions


@pytest.mark.parametrize("dtype", ["string", "str", object])
def test_positions_are_get_indexer(dtype) -> None:
    rng = np.random.default_rng(3)
    ids = np.asarray([f"t{i}" for i in rng.permutation(300)], dtype=object)
    vals = np.asarray([f"t{i}" for i in rng.integers(0, 400, 2000)], dtype=object)
    vals[rng.random(2000) < 0.05] = None
    values = pd.Series(vals, dtype=dtype)
    got = positions(ids, values)
    assert got.tolist() == pd.Index(ids).get_indexer(values).tolist()
    assert (got == -1).sum() > 0 and got.max() < len(ids)


def test_small_cases() -> None:
    ids = np.asarray(["b", "a"], dtype=object)
    assert positions(ids, pd.Series(["a", None, "c", "b"], dtype="string")).tolist() == \
        [1, -1, -1, 0]
    assert positions(ids[:0], pd.Series(["a"], dtype="string")).tolist() == [-1]
    assert positions(np.asarray([1, 2]), pd.Series(["1", "2"], dtype="string")).tolist() == \
        [-1, -1]
    with pytest.raises(pd.errors.InvalidIndexError):  # repeated ids cannot be positions, as with get_indexer
        positions(np.asarray(["a", "a"], dtype=object), pd.Series(["a"], dtype="string"))
