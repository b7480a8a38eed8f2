"""Metrics API v2 (``GET /api/public/v2/metrics``): aggregates computed by Langfuse, not here.

A cost-by-model trend over 30 days is a few hundred rows from the server instead of millions of
observations over the wire. The answer is a tidy frame: ``timestamp`` (bucket start, UTC) when a
granularity is given, one column per dimension under its canonical name (``providedModelName``
-> ``model``, ``promptName`` -> ``prompt_name``, ``promptVersion`` -> ``prompt_version``,
``traceName`` -> ``trace_name``), and one float column per measure named like Langfuse's
``<aggregation>_<measure>`` (``sum_totalCost``, ``count_count``; numbers sent as strings are
parsed). Servers cap rows (``config.row_limit`` <= 1000): a capped timed query is split in two
at a bucket boundary and asked again, an uncappable one is marked incomplete.

Without the v2 API (Langfuse v3 servers) the same frame is computed from pulled observations
by :func:`local`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd

from workbench.errors import ConfigError

PATH = "api/public/v2/metrics"
ROW_LIMIT = 1000
MEASURES = ("count", "latency", "streamingLatency", "inputTokens", "outputTokens",
            "totalTokens", "outputTokensPerSecond", "tokensPerSecond", "inputCost",
            "outputCost", "totalCost", "timeToFirstToken", "countScores")
AGGREGATIONS = ("sum", "avg", "count", "max", "min", "p50", "p75", "p90", "p95", "p99")
GRANULARITIES = ("minute", "hour", "day", "week", "month")
_DEFAULT_AGG = {"count": "count", "latency": "avg", "streamingLatency": "avg",
                "timeToFirstToken": "avg", "outputTokensPerSecond": "avg",
                "tokensPerSecond": "avg"}
#: accepted ``by`` names (canonical or Langfuse) -> Langfuse dimension
_DIMENSIONS = {"model": "providedModelName", "providedModelName": "providedModelName",
               "prompt_name": "promptName", "promptName": "promptName",
               "prompt_version": "promptVersion", "promptVersion": "promptVersion",
               "trace_name": "traceName", "traceName": "traceName", "name": "name",
               "environment": "environment", "type": "type", "level": "level",
               "release": "release", "version": "version", "is_root": "isRootObservation",
               "isRootObservation": "isRootObservation"}
_OUT = {"providedModelName": "model", "promptName": "prompt_name",
        "promptVersion": "prompt_version", "traceName": "trace_name",
        "isRootObservation": "is_root"}
_FILTERS = {"environment", "name", "type", "level", "release", "model", "prompt_name"}
_FREQ = {"minute": "min", "hour": "h", "day": "D"}


def parse_measures(measures: Iterable[str | tuple[str, str]]) -> list[tuple[str, str]]:
    """``"totalCost"`` | ``"latency:p95"`` | ``("latency", "p95")`` -> (measure, aggregation)."""
    out = []
    for m in measures:
        if isinstance(m, str):
            measure, _, agg = m.partition(":")
        else:
            measure, agg = m
        agg = agg or _DEFAULT_AGG.get(measure, "sum")
        if measure not in MEASURES:
            raise ConfigError(f"unknown measure {measure!r}; known: {list(MEASURES)}")
        if agg not in AGGREGATIONS:
            raise ConfigError(f"unknown aggregation {agg!r}; known: {list(AGGREGATIONS)}")
        out.append((measure, agg))
    if not out:
        raise ConfigError("aggregate() needs at least one measure")
    return out


def parse_dimensions(by: Sequence[str]) -> list[str]:
    bad = [b for b in by if b not in _DIMENSIONS]
    if bad:
        raise ConfigError(f"cannot group by {bad}; known dimensions: {sorted(_DIMENSIONS)}")
    return [_DIMENSIONS[b] for b in by]


def check_granularity(granularity: str | None) -> None:
    if granularity is not None and granularity not in GRANULARITIES:
        raise ConfigError(f"granularity must be one of {list(GRANULARITIES)} or None, "
                          f"got {granularity!r}")


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").isoformat().replace("+00:00", "Z")


#: The Metrics API's views of scores: numeric and boolean scores in one, categorical in the
#: other (CORRECTION and TEXT scores are in neither).
SCORE_VIEWS = {"scores-numeric": ("NUMERIC", "BOOLEAN"), "scores-categorical": ("CATEGORICAL",)}


def query(lo: pd.Timestamp, hi: pd.Timestamp, measures: list[tuple[str, str]],
          dims: list[str], granularity: str | None, filters: Mapping[str, Any],
          view: str = "observations") -> str:
    unknown = sorted(set(filters) - _FILTERS)
    if unknown:
        raise ConfigError(f"unknown metrics filter(s) {unknown}; supported: {sorted(_FILTERS)}")
    conds = []
    for k, v in filters.items():
        if v is None:
            continue
        column = _DIMENSIONS[k]
        if isinstance(v, (list, tuple, set)):
            conds.append({"column": column, "operator": "any of", "value": list(v),
                          "type": "stringOptions"})
        else:
            v = str(v).upper() if k in ("type", "level") else str(v)
            conds.append({"column": column, "operator": "=", "value": v, "type": "string"})
    q: dict[str, Any] = {
        "view": view, "dimensions": [{"field": d} for d in dims],
        "metrics": [{"measure": m, "aggregation": a} for m, a in measures],
        "filters": conds, "fromTimestamp": _iso(lo), "toTimestamp": _iso(hi),
        "config": {"row_limit": ROW_LIMIT},
    }
    if granularity:
        q["timeDimension"] = {"granularity": granularity}
    return orjson.dumps(q).decode()


def split_point(lo: pd.Timestamp, hi: pd.Timestamp, granularity: str | None
                ) -> pd.Timestamp | None:
    """A bucket boundary strictly inside ``(lo, hi)``, or None when the window cannot split."""
    if granularity not in _FREQ:
        return None
    mid = (lo + (hi - lo) / 2).floor(_FREQ[granularity])
    return mid if lo < mid < hi else None


def frame(rows: list[dict[str, Any]], dims: list[str], measures: list[tuple[str, str]],
          timed: bool) -> pd.DataFrame:
    """Server rows -> the tidy frame (strings parsed to floats, canonical dimension names)."""
    cols: dict[str, Any] = {}
    if timed:
        cols["timestamp"] = pd.to_datetime(pd.Series([r.get("time_dimension") for r in rows],
                                                     dtype=object),
                                           utc=True, format="ISO8601").astype(
            pd.DatetimeTZDtype(unit="us", tz="UTC"))
    for d in dims:
        values = [r.get(d) for r in rows]
        if d == "promptVersion":
            cols[_OUT[d]] = pd.array([None if v in (None, "") else int(float(v))
                                      for v in values], dtype="Int64")
        elif d == "isRootObservation":
            cols[_OUT[d]] = pd.array([None if v is None else str(v).lower() for v in values],
                                     dtype="string")
        elif d == "type":
            cols[d] = pd.array([None if v is None else str(v).lower() for v in values],
                               dtype="string")
        else:
            cols[_OUT.get(d, d)] = pd.array([None if v is None else str(v) for v in values],
                                            dtype="string")
    for m, a in measures:
        name = f"{a}_{m}"
        cols[name] = pd.to_numeric(pd.Series([r.get(name) for r in rows], dtype=object),
                                   errors="coerce").astype("float64")
    out = pd.DataFrame(cols)
    keys = (["timestamp"] if timed else []) + [_OUT.get(d, d) for d in dims]
    return out.sort_values(keys).reset_index(drop=True) if keys and len(out) else out


# ---- local fallback ------------------------------------------------------------------------------

_LOCAL_MEASURE = {"count": None, "latency": "latency_ms", "inputTokens": "input_tokens",
                  "outputTokens": "output_tokens", "totalTokens": "total_tokens",
                  "totalCost": "cost_usd"}
_LOCAL_DIM = {"providedModelName": "model", "promptName": "prompt_name",
              "promptVersion": "prompt_version", "name": "name", "environment": "environment",
              "type": "type", "level": "level", "release": "release", "version": "release",
              "isRootObservation": "is_root"}


def local(obs: pd.DataFrame, measures: list[tuple[str, str]], dims: list[str],
          granularity: str | None) -> pd.DataFrame:
    """The :func:`frame` a Metrics API query would give, computed from canonical observations."""
    unsupported = [m for m, _ in measures if m not in _LOCAL_MEASURE]
    missing = [d for d in dims if d not in _LOCAL_DIM]
    if unsupported or missing:
        raise ConfigError(f"without the Metrics API v2 only measures {list(_LOCAL_MEASURE)} "
                          f"and dimensions {list(_LOCAL_DIM)} can be aggregated "
                          f"(asked {unsupported + missing})")
    f = obs.assign(latency_ms=obs["duration_s"] * 1000.0, __one=1.0,
                   is_root=obs["parent_observation_id"].isna().map({True: "true",
                                                                    False: "false"}))
    keys = []
    if granularity:
        naive = f["start_time"].dt.tz_convert("UTC").dt.tz_localize(None)
        if granularity in _FREQ:
            b = naive.dt.floor(_FREQ[granularity])
        else:
            b = naive.dt.to_period("W-SUN" if granularity == "week" else "M").dt.start_time
        f["timestamp"] = b.dt.tz_localize("UTC").astype(pd.DatetimeTZDtype(unit="us", tz="UTC"))
        keys.append("timestamp")
    for d in dims:
        out_name = _OUT.get(d, d)
        f[out_name] = f[_LOCAL_DIM[d]]
        keys.append(out_name)
    parts = []
    grouped = [((), f)] if not keys else f.groupby(keys, dropna=False, sort=True)
    for key, g in grouped:
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, key))
        for m, a in measures:
            col = _LOCAL_MEASURE[m]
            s = g["__one"] if col is None else g[col].astype("float64").dropna()
            if a == "count":
                row[f"{a}_{m}"] = float(len(g))
            elif s.empty:
                row[f"{a}_{m}"] = np.nan
            elif a in ("sum", "avg", "max", "min"):
                row[f"{a}_{m}"] = float(getattr(s, {"avg": "mean"}.get(a, a))())
            else:
                row[f"{a}_{m}"] = float(s.quantile(int(a[1:]) / 100))
        parts.append(row)
    out = pd.DataFrame(parts, columns=keys + [f"{a}_{m}" for m, a in measures])
    for d in dims:
        c = _OUT.get(d, d)
        out[c] = out[c].astype("Int64" if c == "prompt_version" else "string")
    return out.reset_index(drop=True)
