"""The detection engine's outputs on a small stored dataset, as plain JSON: what
``tests/test_engine_golden.py`` compares with ``tests/data/engine_golden/expected.json``.

The dataset (``traces``, ``observations``, ``scores`` Parquet files) is the demo profile, 8 days
at 300 traces a day (seed 2) with its three incidents moved onto the last day, ids shortened; the
runbooks are the copies beside it, so tuning the product's runbooks does not move these numbers. Every finding's fields,
suspects, trace ids and evidence tables are written exactly (floats by their shortest round-trip
text), so a change that makes the engine faster must give the same JSON.

    python -m tests.engine_golden --write     # rewrite expected.json (after a wanted change)
    python -m tests.engine_golden --dataset   # regenerate the stored dataset (simulator)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from tests import golden
from tests.golden import plain

HERE = Path(__file__).parent / "data" / "engine_golden"
FRAMES = ("traces", "observations", "scores")


def load() -> tuple[dict, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from workbench import runbooks

    books = runbooks.load_all(HERE / "runbooks")
    frames = [pd.read_parquet(HERE / f"{name}.parquet") for name in FRAMES]
    return books, *frames


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


if __name__ == "__main__":
    golden.main(__doc__, HERE, outputs, _dataset)
