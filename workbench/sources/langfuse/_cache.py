"""Incremental Parquet cache of canonical slices.

A cache directory is keyed by everything that changes the answer except the time: base URL,
a hash of the public key (the project; never the secret), the frame kind, the field groups and
the filters. Inside, one Parquet file per closed slice ``[lo, hi)``. A slice is *closed* when it
ended more than ``settle_s`` ago (Langfuse data can arrive up to ~10 minutes late), so a second
run reads closed slices from disk and pulls only slices it has not seen plus the open tail.
Incomplete slices are never written.
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

CACHE_VERSION = 3


def key_digest(parts: dict[str, Any]) -> str:
    raw = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:24]


def project_hash(public_key: str) -> str:
    return hashlib.sha256(public_key.encode()).hexdigest()[:16]


class SliceCache:
    """Closed slices of one query, on disk."""

    def __init__(self, root: str | os.PathLike[str], frame: str, parts: dict[str, Any]) -> None:
        self.frame = frame
        parts = {"v": CACHE_VERSION, "frame": frame, **parts}
        self.dir = Path(root) / f"{frame}-{key_digest(parts)}"
        self.dir.mkdir(parents=True, exist_ok=True)
        manifest = self.dir / "key.json"
        if not manifest.exists():
            manifest.write_text(json.dumps(parts, sort_keys=True, default=str, indent=1))

    def _conform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Canonical frames back to their schema; raw frames (``...-raw``: what the conventions
        map) back to the raw columns."""
        if self.frame.endswith("-raw"):
            from workbench.sources import conventions

            return conventions.raw_frame(df)
        return schema.conform(df, self.frame)

    def _path(self, lo: pd.Timestamp, hi: pd.Timestamp) -> Path:
        return self.dir / f"{lo.value // 1000}_{hi.value // 1000}.parquet"

    def get(self, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame | None:
        path = self._path(lo, hi)
        if not path.exists():
            return None
        try:
            return self._conform(pd.read_parquet(path))
        except Exception:  # a torn or foreign file is a miss, not a failure
            return None

    def get_many(self, slices: list[tuple[pd.Timestamp, pd.Timestamp]]
                 ) -> tuple[pd.DataFrame | None, set[tuple[pd.Timestamp, pd.Timestamp]]]:
        """All cached slices among ``slices`` in one Parquet read: (frame, slices it covers)."""
        hits = [(s, self._path(*s)) for s in slices if self._path(*s).exists()]
        if not hits:
            return None, set()
        try:
            table = pq.read_table([str(p) for _, p in hits])
            return self._conform(table.to_pandas()), {s for s, _ in hits}
        except Exception:  # a torn or foreign file: fall back to slice by slice
            frames, covered = [], set()
            for s, _ in hits:
                df = self.get(*s)
                if df is not None:
                    frames.append(df)
                    covered.add(s)
            if not frames:
                return None, set()
            return pd.concat(frames, ignore_index=True), covered

    def put(self, lo: pd.Timestamp, hi: pd.Timestamp, df: pd.DataFrame) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        os.close(fd)
        try:
            df.reset_index(drop=True).to_parquet(tmp, index=False)
            os.replace(tmp, self._path(lo, hi))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
