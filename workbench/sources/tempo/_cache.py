"""Parquet cache of closed time slices: the canonical observations, scores and span links of the
traces that started in each slice.

A cache folder is keyed by everything that changes the answer except the time (Tempo URL, tenant,
TraceQL filter, the conventions' and the price table's fingerprints); inside, one file per frame
and slice. A slice is *closed* once it ended more than ``settle_s`` ago; only closed slices pulled
completely and without malformed spans are written, each file through a temporary file and an
atomic rename, so a crash never leaves a slice that reads as complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from workbench import schema

CACHE_VERSION = 4
# written in this order: observations last marks a slice complete
FRAMES = ("scores", "links", "observations")


def key_digest(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


class SliceCache:
    """Closed slices of one query, on disk."""

    def __init__(self, root: str | os.PathLike[str], parts: dict[str, Any]) -> None:
        parts = {"v": CACHE_VERSION, **parts}
        self.dir = Path(root) / f"tempo-{key_digest(parts)}"
        self.dir.mkdir(parents=True, exist_ok=True)
        manifest = self.dir / "key.json"
        if not manifest.exists():
            manifest.write_text(json.dumps(parts, sort_keys=True, default=str, indent=1))

    def _path(self, frame: str, lo: pd.Timestamp, hi: pd.Timestamp) -> Path:
        return self.dir / f"{frame}-{lo.value // 1000}_{hi.value // 1000}.parquet"

    def get_many(self, slices: list[tuple[pd.Timestamp, pd.Timestamp]]
                 ) -> tuple[dict[str, pd.DataFrame], set[tuple[pd.Timestamp, pd.Timestamp]]]:
        """The cached frames among ``slices`` (one read per frame) and the slices they cover."""
        hits = [s for s in slices if all(self._path(f, *s).exists() for f in FRAMES)]
        if not hits:
            return {}, set()
        out = {}
        try:
            for f in FRAMES:
                table = pq.read_table([str(self._path(f, *s)) for s in hits])
                out[f] = schema.conform(table.to_pandas(), f)
        except Exception:  # a torn or foreign file is a miss, not a failure
            return {}, set()
        return out, set(hits)

    def put(self, lo: pd.Timestamp, hi: pd.Timestamp, frames: dict[str, pd.DataFrame]) -> None:
        for f in FRAMES:
            fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
            os.close(fd)
            try:
                frames[f].reset_index(drop=True).to_parquet(tmp, index=False)
                os.replace(tmp, self._path(f, lo, hi))
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
