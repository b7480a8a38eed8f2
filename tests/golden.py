"""Golden files, written and read one way: a computation's outputs as plain JSON in a stored
``expected.json`` (``tests/engine_golden.py``, ``tests/conversion_golden.py``), the command line
that rewrites it or the stored inputs it is computed from, and the reading the tests compare."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

EXPECTED = "expected.json"


def plain(obj: Any) -> Any:
    """``obj`` as JSON values that keep every digit and every type name."""
    if isinstance(obj, pd.DataFrame):
        return {"columns": [str(c) for c in obj.columns],
                "dtypes": [str(t) for t in obj.dtypes],
                "index": plain(obj.index.tolist()), "index_dtype": str(obj.index.dtype),
                "rows": [plain(list(r)) for r in obj.itertuples(index=False, name=None)]}
    if hasattr(obj, "__dataclass_fields__"):
        return {k: plain(getattr(obj, k)) for k in obj.__dataclass_fields__}
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, (pd.Timestamp, pd.Timedelta)):
        return f"{obj} {getattr(obj, 'unit', '')}"
    if obj is None or obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return repr(x) if math.isnan(x) or math.isinf(x) else x
    return str(obj)


def as_written(outputs: dict[str, Any]) -> dict[str, Any]:
    """``outputs`` as they read back from the file (tuples become lists)."""
    return json.loads(json.dumps(outputs))


def expected(here: Path) -> dict[str, Any]:
    """The stored outputs in ``here``."""
    return json.loads((here / EXPECTED).read_text())


def main(doc: str, here: Path, outputs: Callable[[], dict[str, Any]],
         dataset: Callable[[], None]) -> None:
    """``--dataset``: regenerate the stored inputs; ``--write``: rewrite the stored outputs."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--dataset", action="store_true")
    args = ap.parse_args()
    if args.dataset:
        dataset()
    if args.write:
        (here / EXPECTED).write_text(json.dumps(outputs(), indent=0, sort_keys=True))
