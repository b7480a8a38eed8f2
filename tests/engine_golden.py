"""The detection engine's outputs on a small stored dataset, as plain JSON: what
``tests/test_engine_golden.py`` compares with ``tests/data/engine_golden/expected.json``.

The dataset (``traces``, ``observations``, ``scores`` Parquet files) is the demo profile, 8 days
at 300 traces a day (seed 2) with its three incidents moved onto the last day, ids shortened; the
runbooks are the copies beside it, so tuning the product's runbooks does not move these numbers. Every finding's fields,
suspects, trace ids and evidence tables are written exactly (floats by their shortest round-trip
text), so a change that makes the engine faster must give the same JSON.

    python tests/engine_golden.py --write     # rewrite expected.json (after a wanted change)
    python tests/engine_golden.py --dataset   # regenerate the stored dataset (simulator)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).parent / "data" / "engine_golden"
FRAMES = ("traces", "observations", "scores")


def load() -> tuple[dict, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from workbench import runbooks

    books = runbooks.load_all(HERE / "runbooks")
    frames = [pd.read_parquet(HERE / f"{name}.parquet") for name in FRAMES]
    return books, *frames


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


def outputs() -> dict[str, Any]:
    """Findings of the last day and of the last seven days, with the daily checks."""
    from workbench import kpis
    from workbench.analysis import detect_all, units_for

    books, traces, observations, scores = load()
    last = traces["start_time"].max().floor("D")
    out: dict[str, Any] = {}
    for name, start in (("day", last), ("week", last - pd.Timedelta(days=6))):
        end = last + pd.Timedelta(days=1)
        units = units_for(books, traces, observations, scores, start)
        found = detect_all(books, traces, observations, scores, start, end, units=units)
        table = kpis.daily_kpis(units)
        checks = pd.concat([kpis.check_table(table, books, d, units)
                            for d in pd.date_range(start, last, freq="D")], ignore_index=True)
        out[name] = {"findings": plain(found), "checks": plain(checks),
                     "check_findings": plain(kpis.check_findings(table, checks, books, units,
                                                                 observations)),
                     # the per-trace signals as a digest: 2,400 rows would bury the findings
                     "units_sha256": hashlib.sha256(json.dumps(plain(units)).encode())
                     .hexdigest()}
    return out


def _dataset() -> None:
    from workbench import simulate

    start = pd.Timestamp(simulate.DEFAULT_START, tz="UTC")
    last = start + pd.Timedelta(days=7)
    incidents = [replace(i, start=i.start + (last - i.start.normalize()),
                         end=i.end + (last - i.start.normalize()))
                 for i in simulate.default_incidents(start, 8)]
    ds = simulate.generate(seed=2, days=8, traces_per_day=300, start=start, incidents=incidents)
    frames = {name: getattr(ds, name).copy() for name in FRAMES}
    # short sequential ids instead of random hex: the files stay small
    ids = {"trace_id": "t", "observation_id": "o", "score_id": "s"}
    maps = {col: {v: f"{p}{i}" for i, v in enumerate(pd.unique(pd.concat(
        [f[col] for f in frames.values() if col in f.columns]).dropna()))}
        for col, p in ids.items()}
    maps["parent_observation_id"] = maps["observation_id"]
    for name, frame in frames.items():
        for col, m in maps.items():
            if col in frame.columns:
                frame[col] = frame[col].map(m).astype(frame[col].dtype)
        # and times to the millisecond, amounts to 6 significant digits: they compress
        for col in ("start_time", "end_time", "timestamp"):
            if col in frame.columns:
                frame[col] = frame[col].dt.floor("ms")
        for col in ("duration_s", "cost_usd"):
            if col in frame.columns:
                frame[col] = frame[col].map(lambda x: float(f"{x:.6g}"), na_action="ignore")
        frame.to_parquet(HERE / f"{name}.parquet", compression="zstd")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--dataset", action="store_true")
    args = ap.parse_args()
    if args.dataset:
        _dataset()
    if args.write:
        (HERE / "expected.json").write_text(json.dumps(outputs(), indent=0, sort_keys=True))


if __name__ == "__main__":
    main()
