"""The embedded store: Hive-partitioned Parquet by UTC day, queried with DuckDB.

Written by :func:`workbench.simulate.write_demo` (layout in ``data/README.md``). Each query prunes
day partitions and filters the timestamp to ``[start, end)`` inside DuckDB, so a week of raw
observations stays cheap to slice. Filter values are always bound as query parameters.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workbench import schema
from workbench.errors import ConfigError, SourceError, SourceQueryError
from workbench.sources import TraceSource, source_identity, to_utc
from workbench.sources import conventions as conv

__all__ = ["LABEL_COLUMNS", "LocalSource"]

LABEL_COLUMNS = ["runbook", "start", "end", "cause_dimension", "cause_value", "cause_within",
                 "magnitude", "description"]

_TIME_COLUMN = {"observations": "start_time", "traces": "start_time", "scores": "timestamp"}
_TIEBREAK = {"observations": "observation_id", "traces": "trace_id", "scores": "score_id"}

# filter key -> column, per frame. ``trace_ids`` takes a list of trace ids.
_FILTERS: dict[str, dict[str, str]] = {
    "observations": {k: k for k in ("agent", "environment", "release", "model", "name", "type",
                                     "level", "error_type", "user_id", "session_id",
                                     "tool_name", "prompt_name", "prompt_version")},
    "traces": {k: k for k in ("agent", "environment", "release", "model", "name", "status",
                               "user_id", "session_id", "prompt_name", "prompt_version")},
    "scores": {k: k for k in ("name", "environment", "source", "data_type")},
}
for _f in _FILTERS.values():
    _f["trace_ids"] = "trace_id"
# Filters on scores that describe the scored trace: answered from the traces partitions.
_SCORE_TRACE_FILTERS = ("agent", "release", "model", "user_id", "session_id", "prompt_name",
                        "prompt_version")
_INT_COLUMNS = {"prompt_version"}
_NULLABLE_INT = {pa.int64(): pd.Int64Dtype()}


def _values(key: str, value: Any) -> list[Any]:
    values = [value] if isinstance(value, (str, int)) or not isinstance(value, Iterable) \
        else list(value)
    if key in _INT_COLUMNS:
        try:
            return [int(v) for v in values]
        except (TypeError, ValueError):
            raise ConfigError(f"filter {key!r} takes integers, got {value!r}") from None
    return [str(v) for v in values]


class LocalSource(TraceSource):
    """Canonical frames from a local store folder (``data/demo`` by default)."""

    name = "local"

    def __init__(self, root: str | Path = "data/demo") -> None:
        self.root = Path(root)
        self._db: duckdb.DuckDBPyConnection | None = None
        self._db_lock = threading.Lock()

    @property
    def identity(self) -> str:
        """``local:<hash of the folder's resolved path>``."""
        return source_identity("local", None, str(self.root.resolve()))

    def close(self) -> None:
        """Release the in-memory DuckDB database the queries run in (a later query opens
        another)."""
        with self._db_lock:
            db, self._db = self._db, None
        if db is not None:
            db.close()

    # -- public API ---------------------------------------------------------------------------

    def observations(self, start: Any, end: Any, **filters: Any) -> pd.DataFrame:
        """Observations whose ``start_time`` is in ``[start, end)``."""
        return self._query("observations", start, end, filters)

    def traces(self, start: Any, end: Any, **filters: Any) -> pd.DataFrame:
        """Stored trace rollups whose ``start_time`` is in ``[start, end)``."""
        return self._query("traces", start, end, filters)

    def scores(self, start: Any, end: Any, **filters: Any) -> pd.DataFrame:
        """Scores recorded in ``[start, end)``; trace filters (agent, model, ...) apply to the
        scored trace, looked up among traces that started up to a day before the window."""
        return self._query("scores", start, end, filters)

    def labels(self) -> pd.DataFrame:
        """The incidents injected into the store (empty when it has no ``labels.json``)."""
        self._check_root()
        path = self.root / "labels.json"
        if not path.exists():
            return self._labels_frame([])
        try:
            records = json.loads(path.read_text())
            return self._labels_frame(records)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise SourceError(f"cannot read labels file {path}: {exc}", source=self.name) from exc

    # -- internals ----------------------------------------------------------------------------

    @staticmethod
    def _labels_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
        df = pd.DataFrame(records, columns=LABEL_COLUMNS)
        df["cause_within"] = df["cause_within"].astype(object).fillna("")  # older stores lack it
        for c in ("runbook", "cause_dimension", "cause_value", "cause_within", "description"):
            df[c] = df[c].astype("string")
        for c in ("start", "end"):
            df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
        df["magnitude"] = df["magnitude"].astype("float64")
        return df

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise ConfigError(f"local store {self.root} does not exist; create it with "
                              f"`workbench demo` (or workbench.simulate.write_demo"
                              f"({str(self.root)!r}))")

    def _files(self, frame: str) -> list[str]:
        self._check_root()
        folder = self.root / frame
        if not folder.is_dir():
            raise ConfigError(f"local store {self.root} has no {frame}/ folder; recreate it with "
                              f"`workbench demo`")
        return [str(p) for p in sorted(folder.glob("day=*/*.parquet"))]

    def _where(self, frame: str, filters: dict[str, Any], params: dict[str, Any],
               trace_filters: dict[str, Any], prefix: str = "f") -> list[str]:
        allowed = _FILTERS[frame]
        clauses = []
        for key, value in filters.items():
            if value is None:
                continue
            if frame == "scores" and key in _SCORE_TRACE_FILTERS:
                trace_filters[key] = value
                continue
            if key not in allowed:
                known = sorted(set(allowed) | (set(_SCORE_TRACE_FILTERS) if frame == "scores"
                                               else set()))
                raise ConfigError(f"unknown filter {key!r} for {frame}; known filters: {known}")
            name = f"{prefix}{len(params)}"
            params[name] = _values(key, value)
            clauses.append(f'list_contains(${name}, "{allowed[key]}")')
        return clauses

    @staticmethod
    def _window(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
        try:
            t0, t1 = to_utc(start), to_utc(end)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"window bounds must be timestamps, got {start!r}, {end!r}") from exc
        if t1 < t0:
            raise ConfigError(f"window end {t1} is before its start {t0}")
        return t0, t1

    def _query(self, frame: str, start: Any, end: Any, filters: dict[str, Any]) -> pd.DataFrame:
        t0, t1 = self._window(start, end)
        files = self._files(frame)
        params: dict[str, Any] = {}
        trace_filters: dict[str, Any] = {}
        clauses = self._where(frame, filters, params, trace_filters)
        if not files or t1 <= t0:
            return schema.empty(frame)
        tcol = _TIME_COLUMN[frame]
        params.update(files=files, d0=t0.date(), d1=(t1 - pd.Timedelta(microseconds=1)).date(),
                      t0=t0.to_pydatetime(), t1=t1.to_pydatetime())
        if trace_filters:
            clauses.append(self._trace_semijoin(trace_filters, t0, params))
        params["files"], stored, union = self._stored_columns(frame, files, params["d0"],
                                                              params["d1"])
        cols = ", ".join(f'"{c}"' for c in stored)
        sql = (f"SELECT {cols} FROM read_parquet($files, hive_partitioning = true, "
               f"hive_types = {{'day': DATE}}{', union_by_name = true' if union else ''}) "
               f'WHERE day >= $d0 AND day <= $d1 AND "{tcol}" >= $t0 AND "{tcol}" < $t1'
               + "".join(f" AND {c}" for c in clauses))
        used = {k: v for k, v in params.items() if f"${k}" in sql}
        table = self._run(sql, used, frame, t0, t1)
        # ordered by time, then id (nulls last), in Arrow: DuckDB's ORDER BY moves every column
        # through its sort and takes twice as long for the same order
        order = pc.sort_indices(table, [(tcol, "ascending"), (_TIEBREAK[frame], "ascending")])
        # rows already in order (the store writes them so) need no copy of every column
        if not np.array_equal(order.to_numpy(), np.arange(len(order))):
            table = table.take(order)
        # integers as pandas' nullable integers straight from Arrow, not as floats (NaN for a
        # null) that conform would check and convert back one column at a time
        return schema.conform(table.to_pandas(types_mapper=_NULLABLE_INT.get), frame)

    @staticmethod
    def _stored_columns(frame: str, files: list[str], d0: dt.date, d1: dt.date
                        ) -> tuple[list[str], list[str], bool]:
        """The window's files, the canonical columns they hold and whether those differ
        between files: a store written before a column was added still loads (``conform``
        adds the column as nulls). Unreadable files are left to the query, which names them."""
        wanted = schema.columns(frame)
        held: dict[str, int] = {}
        window = []
        for f in files:
            try:
                day = dt.date.fromisoformat(Path(f).parent.name.removeprefix("day="))
            except ValueError:
                day = None
            if day is None or d0 <= day <= d1:
                window.append(f)
        for f in window:
            try:
                names = pq.read_schema(f).names
            except Exception:  # noqa: BLE001 - any failure: the query reports the file
                return window or files, wanted, False
            for name in names:
                held[name] = held.get(name, 0) + 1
        if not window:
            return files, wanted, False
        stored = [c for c in wanted if c in held]
        return window, stored, any(held[c] < len(window) for c in stored)

    def _trace_semijoin(self, trace_filters: dict[str, Any], t0: pd.Timestamp,
                        params: dict[str, Any]) -> str:
        tfiles = self._files("traces")
        clauses = self._where("traces", trace_filters, params, {}, prefix="s")
        # a score counts toward a trace started at most the conventions' score_lag before it
        earliest = t0 - conv.load().score_lag
        params.update(tfiles=tfiles or [""], td0=earliest.date(),
                      tt0=earliest.to_pydatetime())
        if not tfiles:
            return "FALSE"
        return ("trace_id IN (SELECT trace_id FROM read_parquet($tfiles, hive_partitioning = "
                "true, hive_types = {'day': DATE}) WHERE day >= $td0 AND day <= $d1 AND "
                "start_time >= $tt0 AND start_time < $t1"
                + "".join(f" AND {c}" for c in clauses) + ")")

    def _run(self, sql: str, params: dict[str, Any], frame: str, t0: pd.Timestamp,
             t1: pd.Timestamp) -> Any:
        con = self._cursor()
        try:
            return con.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            self._raise_for_bad_file(exc, params, t0, t1)
            raise SourceQueryError(f"query on {frame} failed: {exc}", source=self.name,
                                   query=sql) from exc
        finally:
            con.close()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the source's in-memory database, opened on first use: opening a database
        costs tens of milliseconds per query, a cursor well under one (and one per query keeps
        queries from different threads apart)."""
        with self._db_lock:
            if self._db is None:
                self._db = duckdb.connect()
            con = self._db.cursor()
        con.execute("SET TimeZone = 'UTC'")
        return con

    def _raise_for_bad_file(self, exc: Exception, params: dict[str, Any], t0: pd.Timestamp,
                            t1: pd.Timestamp) -> None:
        """Name the unreadable Parquet file among those the query had to open."""
        lo, hi = t0.date() - dt.timedelta(days=1), t1.date()
        for f in list(params.get("files", [])) + list(params.get("tfiles", [])):
            try:
                day = dt.date.fromisoformat(Path(f).parent.name.removeprefix("day="))
            except ValueError:
                day = None
            if day is not None and not lo <= day <= hi:
                continue
            try:
                pq.read_table(f)
            except Exception as bad:  # noqa: BLE001 - any failure means the file is unreadable
                raise SourceError(f"unreadable Parquet file {f}: {bad}", source=self.name) \
                    from exc
