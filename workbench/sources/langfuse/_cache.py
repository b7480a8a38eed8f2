"""Incremental Parquet cache of closed time slices.

A cache directory is keyed by everything that changes the answer except the time: base URL,
a hash of the public key (the project; never the secret), the frame kind, the field groups and
the filters. Inside, one Parquet file per UTC day holds the rows of that day's closed slices
(``[lo, hi)``, listed in the file's metadata): a pull writes a handful of files, not one per
slice, and a re-run reads at most one file per day of its window. A slice is *closed* when it
ended more than ``settle_s`` ago (Langfuse data can arrive up to ~10 minutes late), so a second
run reads closed slices from disk and pulls only slices it has not seen plus the open tail.
Incomplete slices are never written. Writers of one directory take turns (a lock file), and a
file is replaced whole, so a reader sees a day before or after a write, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from workbench import schema

#: Bumped whenever what a cache file holds changes: older directories are then ignored.
CACHE_VERSION = 7

Slice = tuple[pd.Timestamp, pd.Timestamp]
_CELLS = b"workbench.slices"
_DAY = 86_400_000_000  # microseconds
#: Whole windows (mapped frames, reported counts) kept per query.
WINDOWS_KEPT = 8


def key_digest(parts: dict[str, Any]) -> str:
    raw = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:24]


def project_hash(public_key: str) -> str:
    return hashlib.sha256(public_key.encode()).hexdigest()[:16]


def _us(ts: pd.Timestamp) -> int:
    return ts.value // 1000


class SliceCache:
    """Closed slices of one query, on disk; ``order`` names the time column of the rows."""

    def __init__(self, root: str | os.PathLike[str], frame: str, parts: dict[str, Any],
                 order: str = "start_time", create: bool = True) -> None:
        self.frame = frame
        self.order = order
        parts = {"v": CACHE_VERSION, "frame": frame, **parts}
        self.dir = Path(root) / f"{frame}-{key_digest(parts)}"
        if not create:  # only to look
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        manifest = self.dir / "key.json"
        if not manifest.exists():
            manifest.write_text(json.dumps(parts, sort_keys=True, default=str, indent=1))

    def conform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Canonical frames back to their schema; raw frames (``...-raw``: what the conventions
        map) back to the raw columns."""
        if self.frame.endswith("-raw"):
            from workbench.sources import conventions

            return conventions.raw_frame(df)
        return schema.conform(df, self.frame)

    def _path(self, day: int) -> Path:
        return self.dir / f"{day * _DAY}.parquet"

    @staticmethod
    def _day(s: Slice) -> int:
        return _us(s[0]) // _DAY

    def _read(self, day: int) -> tuple[pa.Table, list[tuple[int, int]]] | None:
        """A day file's rows and the slices it holds (``[lo, hi)`` in microseconds)."""
        path = self._path(day)
        if not path.exists():
            return None
        try:
            table = pq.read_table(path)
            meta = table.schema.metadata or {}
            cells = [(int(a), int(b)) for a, b in json.loads(meta[_CELLS])]
        except Exception:  # a torn, foreign or vanished file is a miss, not a failure
            return None
        return table.replace_schema_metadata(None), cells

    def _starts(self, table: pa.Table) -> np.ndarray:
        col = table.column(self.order).cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        return col.to_numpy(zero_copy_only=False)

    def get_many(self, slices: Sequence[Slice]) -> tuple[pd.DataFrame | None, set[Slice]]:
        """The cached rows of ``slices``, one file read per day: (frame, slices it covers).

        A slice is covered when the file holds a slice containing it; only its rows are kept.
        """
        by_day: dict[int, list[Slice]] = {}
        for s in slices:
            by_day.setdefault(self._day(s), []).append(s)
        tables, covered = [], set()
        for day, wanted in sorted(by_day.items()):
            got = self._read(day)
            if got is None:
                continue
            table, cells = got
            hits = [s for s in wanted
                    if any(a <= _us(s[0]) and _us(s[1]) <= b for a, b in cells)]
            if not hits:
                continue
            t = self._starts(table)
            keep = np.zeros(len(t), dtype=bool)
            for s in hits:
                keep |= (t >= _us(s[0])) & (t < _us(s[1]))
            tables.append(table.filter(pa.array(keep)))
            covered.update(hits)
        if not tables:
            return None, set()
        try:
            merged = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # columns typed apart: pandas reconciles
            return pd.concat([t.to_pandas() for t in tables], ignore_index=True), covered
        return merged.to_pandas(), covered

    def get(self, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame | None:
        df, covered = self.get_many([(lo, hi)])
        return None if df is None else self.conform(df)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.dir / "write.lock", "a+b") as fd:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def put_many(self, slices: Sequence[Slice], df: pd.DataFrame) -> None:
        """Store ``slices`` with their rows, taken from ``df`` by their time column (rows of
        other slices in ``df`` are ignored). A day file keeps its other slices."""
        if not slices:
            return
        table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
        t = self._starts(table)
        by_day: dict[int, list[Slice]] = {}
        for s in slices:
            by_day.setdefault(self._day(s), []).append(s)
        with self._locked():
            for day, new in sorted(by_day.items()):
                new_cells = [(_us(a), _us(b)) for a, b in new]
                keep = np.zeros(len(t), dtype=bool)
                for a, b in new_cells:
                    keep |= (t >= a) & (t < b)
                parts = [table.filter(pa.array(keep))]
                cells = list(new_cells)
                old = self._read(day)
                if old is not None:
                    o_table, o_cells = old
                    stay = [c for c in o_cells
                            if not any(a < c[1] and c[0] < b for a, b in new_cells)]
                    if stay:
                        ot = self._starts(o_table)
                        o_keep = np.zeros(len(ot), dtype=bool)
                        for a, b in stay:
                            o_keep |= (ot >= a) & (ot < b)
                        parts.insert(0, o_table.filter(pa.array(o_keep)))
                        cells = stay + cells
                try:
                    out = pa.concat_tables(parts, promote_options="permissive")
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    out = parts[-1]  # the old slices do not fit the new columns: drop them
                    cells = list(new_cells)
                order = np.argsort(self._starts(out), kind="stable")
                out = out.take(pa.array(order))
                meta = {_CELLS: json.dumps(sorted(cells)).encode()}
                self._write(day, out.replace_schema_metadata(meta))

    def put(self, lo: pd.Timestamp, hi: pd.Timestamp, df: pd.DataFrame) -> None:
        self.put_many([(lo, hi)], df)

    def _write(self, day: int, table: pa.Table) -> None:
        self._write_to(self._path(day), table)

    def _write_to(self, path: Path, table: pa.Table) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    # ---- whole windows ---------------------------------------------------------------------
    # A window whose every slice is cached has one answer until a day file changes: its mapped
    # frame (and the counts Langfuse reported for it, once settled) are kept beside the slices
    # and used only while the day files they were made from are unchanged.

    def _days(self, lo: pd.Timestamp, hi: pd.Timestamp) -> range:
        return range(_us(lo) // _DAY, (_us(hi) - 1) // _DAY + 1)

    def state(self, lo: pd.Timestamp, hi: pd.Timestamp) -> str:
        """A digest of the day files under ``[lo, hi)`` as they are now."""
        parts = []
        for day in self._days(lo, hi):
            try:
                st = self._path(day).stat()
            except OSError:
                parts.append(f"{day}:-")
                continue
            parts.append(f"{day}:{st.st_mtime_ns}:{st.st_size}:{st.st_ino}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]

    def _window_path(self, kind: str, lo: pd.Timestamp, hi: pd.Timestamp, ext: str) -> Path:
        return self.dir / f"{kind}-{_us(lo)}_{_us(hi)}.{ext}"

    def has_window(self, kind: str, lo: pd.Timestamp, hi: pd.Timestamp) -> bool:
        """Whether a frame was stored for the window (whether it is still valid aside)."""
        return self._window_path(kind, lo, hi, "parquet").exists()

    def get_window(self, kind: str, lo: pd.Timestamp, hi: pd.Timestamp
                   ) -> pd.DataFrame | None:
        """The frame stored for the window, if its day files are as they were then."""
        path = self._window_path(kind, lo, hi, "parquet")
        try:
            table = pq.read_table(path)
            made_from = (table.schema.metadata or {}).get(b"workbench.state", b"").decode()
        except Exception:  # missing, torn or foreign: a miss
            return None
        if made_from != self.state(lo, hi):
            return None
        return table.to_pandas()

    def put_window(self, kind: str, lo: pd.Timestamp, hi: pd.Timestamp, df: pd.DataFrame,
                   state: str) -> None:
        table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"workbench.state"] = state.encode()
        self._write_to(self._window_path(kind, lo, hi, "parquet"),
                       table.replace_schema_metadata(meta))
        self._prune(kind)

    def get_json(self, kind: str, lo: pd.Timestamp, hi: pd.Timestamp) -> Any:
        try:
            return json.loads(self._window_path(kind, lo, hi, "json").read_text())
        except (OSError, ValueError):
            return None

    def put_json(self, kind: str, lo: pd.Timestamp, hi: pd.Timestamp, value: Any) -> None:
        path = self._window_path(kind, lo, hi, "json")
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(value, f, default=str)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._prune(kind)

    def forget(self, lo: pd.Timestamp, hi: pd.Timestamp) -> None:
        """Drop the slices of the days under ``[lo, hi)`` (and so every window made of them):
        the next pull fetches those days again."""
        with self._locked():
            for day in self._days(lo, hi):
                with contextlib.suppress(FileNotFoundError):
                    self._path(day).unlink()

    def _prune(self, kind: str, keep: int = WINDOWS_KEPT) -> None:
        """Keep the ``keep`` most recent windows of ``kind``: windows move with the clock."""
        files = sorted(self.dir.glob(f"{kind}-*"), key=lambda p: p.stat().st_mtime_ns,
                       reverse=True)
        for old in files[keep:]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
