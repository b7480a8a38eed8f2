"""Query semantics of the Langfuse double: v2 filter JSON, cursors and the v2 Metrics query.

Errors are raised as :class:`BadRequest` carrying the status and the body the real server sends
(``{"message", "error"}``), so the HTTP layer only serialises them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pandas as pd


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400, error: Any = "InvalidRequestError"):
        super().__init__(message)
        self.status = status
        self.body = {"message": message, "error": error}


def parse_ts(value: str, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise BadRequest("Invalid request data", error=[
            {"path": [what], "message": "Invalid datetime"}]) from None
    if ts.tzinfo is None:
        raise BadRequest("Invalid request data", error=[
            {"path": [what], "message": "Invalid datetime: offset required"}])
    return ts.tz_convert("UTC")


def us(ts: pd.Timestamp) -> int:
    return int(ts.value // 1000)


# ---- cursors ------------------------------------------------------------------------------------

def encode_obs_cursor(start_iso: str, trace_id: str, obs_id: str) -> str:
    raw = json.dumps({"lastStartTimeTo": start_iso, "lastTraceId": trace_id, "lastId": obs_id})
    return base64.b64encode(raw.encode()).decode()


def decode_obs_cursor(cursor: str) -> tuple[int, str, str]:
    try:
        d = json.loads(base64.b64decode(cursor, validate=True))
        return us(pd.Timestamp(d["lastStartTimeTo"])), str(d["lastTraceId"]), str(d["lastId"])
    except Exception:
        raise BadRequest("Invalid cursor format") from None


def encode_score_cursor(ts_us: int, score_id: str) -> str:
    raw = json.dumps({"t": ts_us, "id": score_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_score_cursor(cursor: str) -> tuple[int, str]:
    try:
        d = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(d["t"]), str(d["id"])
    except Exception:
        raise BadRequest("Invalid cursor format") from None


# ---- v2 observation filters ---------------------------------------------------------------------

# filter column -> (group, key) in the stored row groups
_COLUMNS = {
    "id": ("core", "id"), "traceId": ("core", "traceId"), "type": ("core", "type"),
    "startTime": ("core", "startTime"), "endTime": ("core", "endTime"),
    "parentObservationId": ("core", "parentObservationId"),
    "name": ("basic", "name"), "environment": ("basic", "environment"),
    "level": ("basic", "level"), "statusMessage": ("basic", "statusMessage"),
    "version": ("basic", "version"), "userId": ("basic", "userId"),
    "sessionId": ("basic", "sessionId"), "isRootObservation": ("basic", "isRootObservation"),
    "traceName": ("trace_context", "traceName"), "model": ("model", "providedModelName"),
    "providedModelName": ("model", "providedModelName"), "promptName": ("prompt", "promptName"),
    "promptVersion": ("prompt", "promptVersion"), "latency": ("metrics", "latency"),
    "totalCost": ("usage", "totalCost"), "metadata": ("metadata", "metadata"),
}
_CMP = {"=": lambda a, b: a == b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
        ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "<>": lambda a, b: a != b}
_STR_OPS = {"=": lambda a, b: a == b, "contains": lambda a, b: b in a,
            "does not contain": lambda a, b: b not in a,
            "starts with": lambda a, b: a.startswith(b), "ends with": lambda a, b: a.endswith(b),
            "matches": lambda a, b: b in a}


def parse_filter(raw: str) -> list[dict[str, Any]]:
    try:
        conds = json.loads(raw)
    except ValueError:
        raise BadRequest("Invalid filter parameter: not valid JSON") from None
    if not isinstance(conds, list):
        raise BadRequest("Invalid filter parameter: expected an array")
    for c in conds:
        if not isinstance(c, dict) or not {"type", "column", "operator"} <= set(c):
            raise BadRequest("Invalid request data", error=[
                {"path": ["filter"], "message": "type, column and operator are required"}])
        if c["column"] not in _COLUMNS:
            raise BadRequest(f"Invalid filter column: {c['column']}")
        if c["type"] in ("stringObject", "numberObject") and "key" not in c:
            raise BadRequest("Invalid request data", error=[
                {"path": ["filter", "key"], "message": "key is required"}])
    return conds


def _match(cond: dict[str, Any], groups: dict[str, dict[str, Any]]) -> bool:
    group, key = _COLUMNS[cond["column"]]
    value = groups[group].get(key)
    typ, op, want = cond["type"], cond["operator"], cond.get("value")
    if typ == "null":
        return (value is None) == (op == "is null")
    if typ in ("stringObject", "numberObject"):
        value = (value or {}).get(cond["key"])
        if value is None:
            return op in ("does not contain", "is not set")
        if typ == "numberObject":
            return _CMP[op](float(value), float(want))
        return _STR_OPS[op](str(value), str(want))
    if value is None:
        return op in ("none of", "does not contain", "<>")
    if typ == "datetime":
        return _CMP[op](pd.Timestamp(value), pd.Timestamp(want))
    if typ in ("stringOptions", "categoryOptions"):
        hit = str(value) in [str(w) for w in want]
        return hit if op == "any of" else not hit
    if typ == "string":
        return _STR_OPS[op](str(value), str(want))
    if typ in ("number", "boolean"):
        return _CMP[op](value, want)
    raise BadRequest(f"Unsupported filter type: {typ}")


def row_matches(conds: list[dict[str, Any]], groups: dict[str, dict[str, Any]]) -> bool:
    return all(_match(c, groups) for c in conds)


def params_to_conditions(q: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Plain query-parameter filters of v2 observations, as filter conditions."""
    conds: list[dict[str, Any]] = []
    simple = {"name": "name", "userId": "userId", "sessionId": "sessionId", "type": "type",
              "traceId": "traceId", "level": "level", "version": "version"}
    for param, col in simple.items():
        if param in q:
            conds.append({"type": "string", "column": col, "operator": "=", "value": q[param][0]})
    if "environment" in q:
        conds.append({"type": "stringOptions", "column": "environment", "operator": "any of",
                      "value": q["environment"]})
    if "parentObservationId" in q:
        v = q["parentObservationId"][0]
        conds.append({"type": "null", "column": "parentObservationId", "operator": "is null"}
                     if v == "" else
                     {"type": "string", "column": "parentObservationId", "operator": "=",
                      "value": v})
    if "isRootObservation" in q:
        conds.append({"type": "boolean", "column": "isRootObservation", "operator": "=",
                      "value": q["isRootObservation"][0] == "true"})
    return conds


def time_bounds(conds: list[dict[str, Any]], q: dict[str, list[str]],
                use_params: bool) -> tuple[int | None, int | None, list[dict[str, Any]]]:
    """Pull startTime bounds out (they drive the index); the other conditions stay."""
    lo = hi = None
    rest = []
    for c in conds:
        if c["column"] == "startTime" and c["type"] == "datetime" and c["operator"] in (">=", "<"):
            t = us(parse_ts(c["value"], "filter.startTime"))
            if c["operator"] == ">=":
                lo = t if lo is None else max(lo, t)
            else:
                hi = t if hi is None else min(hi, t)
        else:
            rest.append(c)
    if use_params:
        if "fromStartTime" in q:
            lo = us(parse_ts(q["fromStartTime"][0], "fromStartTime"))
        if "toStartTime" in q:
            hi = us(parse_ts(q["toStartTime"][0], "toStartTime"))
    return lo, hi, rest


# ---- v2 metrics ----------------------------------------------------------------------------------

_DIMENSIONS = {
    "environment": "environment", "type": "type_upper", "name": "name", "level": "level",
    "version": "version", "release": "release", "traceRelease": "release",
    "traceVersion": "version", "traceName": "trace_name", "providedModelName": "model",
    "promptName": "prompt_name", "promptVersion": "prompt_version",
    "startTimeMonth": "start_month", "isRootObservation": "is_root",
}
_HIGH_CARDINALITY = {"id", "traceId", "userId", "sessionId", "parentObservationId",
                     "observationId"}
_MEASURES = {"count": "one", "latency": "latency_ms", "inputTokens": "input_tokens",
             "outputTokens": "output_tokens", "totalTokens": "total_tokens",
             "totalCost": "cost_usd", "inputCost": "input_cost", "outputCost": "output_cost",
             "timeToFirstToken": "ttft_ms", "streamingLatency": "ttft_ms"}
_SCORE_DIMENSIONS = {"environment": "environment", "name": "name", "source": "source",
                     "dataType": "data_type"}
#: Metrics API score views and the score data types each holds ("scores-numeric: numeric
#: and boolean score data"; CORRECTION and TEXT scores are in none).
_SCORE_VIEWS = {"scores-numeric": ("NUMERIC", "BOOLEAN"), "scores-boolean": ("BOOLEAN",),
                "scores-categorical": ("CATEGORICAL",)}
_AGGS = {"sum", "avg", "count", "max", "min", "p50", "p75", "p90", "p95", "p99"}
_FREQ = {"minute": "min", "hour": "h", "day": "D"}


def _bucket(ts: pd.Series, gran: str, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.Series:
    if gran == "auto":
        span = (hi - lo).total_seconds() / 50
        gran = "minute" if span <= 60 else "hour" if span <= 3600 else "day"
    naive = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    if gran in _FREQ:
        b = naive.dt.floor(_FREQ[gran])
    elif gran == "week":
        b = naive.dt.to_period("W-SUN").dt.start_time
    elif gran == "month":
        b = naive.dt.to_period("M").dt.start_time
    else:
        raise BadRequest(f"Invalid granularity: {gran}")
    return b.dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _agg(series: pd.Series, agg: str) -> float:
    s = series.dropna()
    if agg == "count":
        return float(len(series))
    if s.empty:
        return float("nan")
    if agg == "sum":
        return float(s.sum())
    if agg == "avg":
        return float(s.mean())
    if agg == "max":
        return float(s.max())
    if agg == "min":
        return float(s.min())
    return float(s.quantile(int(agg[1:]) / 100))


def run_metrics(query_raw: str, obs_m: pd.DataFrame, scores: pd.DataFrame,
                numbers_as_strings: bool) -> list[dict[str, Any]]:
    try:
        q = json.loads(query_raw)
    except ValueError:
        raise BadRequest("Invalid query parameter: not valid JSON") from None
    view = q.get("view")
    if view == "observations":
        frame, dims_map, ts_col = obs_m, _DIMENSIONS, "start_time"
        if len(frame):
            frame = frame.assign(start_month=frame["start_time"].dt.strftime("%Y-%m"))
    elif view in _SCORE_VIEWS:
        # each view holds only its data types, as Langfuse's metrics API documents them
        kept = scores["data_type"].astype(str).str.upper().isin(_SCORE_VIEWS[view])
        frame, dims_map, ts_col = scores[kept.to_numpy()].assign(one=1), _SCORE_DIMENSIONS, \
            "timestamp"
    else:
        raise BadRequest(f"Invalid view: {view!r}")
    metrics = q.get("metrics") or []
    if not metrics:
        raise BadRequest("Invalid request data", error=[
            {"path": ["metrics"], "message": "At least one metric is required"}])
    if "fromTimestamp" not in q or "toTimestamp" not in q:
        raise BadRequest("Invalid request data", error=[
            {"path": ["fromTimestamp"], "message": "Required"}])
    lo = parse_ts(q["fromTimestamp"], "fromTimestamp")
    hi = parse_ts(q["toTimestamp"], "toTimestamp")
    if lo >= hi:
        raise BadRequest("fromTimestamp must be before toTimestamp")
    config = q.get("config") or {}
    row_limit = int(config.get("row_limit", 100))
    if not 1 <= row_limit <= 1000:
        raise BadRequest("row_limit must be between 1 and 1000")
    dims = [d["field"] for d in q.get("dimensions") or []]
    for d in dims:
        if d in _HIGH_CARDINALITY:
            order = q.get("orderBy") or []
            if "row_limit" not in config or not any(o.get("direction") == "desc" for o in order):
                raise BadRequest(f"Dimension '{d}' is high cardinality and cannot be used for "
                                 "grouping without row_limit and a desc orderBy")
        elif d not in dims_map:
            raise BadRequest(f"Invalid dimension '{d}' for view {view}")
    measure_map = _MEASURES if view == "observations" else {"count": "one", "value": "value"}
    for m in metrics:
        if m.get("measure") not in measure_map or m.get("aggregation") not in _AGGS:
            raise BadRequest(f"Invalid metric {m!r}")
    f = frame[(frame[ts_col] >= lo) & (frame[ts_col] < hi)]
    for flt in q.get("filters") or []:
        col = dims_map.get(flt.get("column"))
        if col is None:
            raise BadRequest(f"Invalid filter column {flt.get('column')!r}")
        vals = flt.get("value")
        if flt.get("operator") == "any of":
            f = f[f[col].isin(vals)]
        elif flt.get("operator") == "none of":
            f = f[~f[col].isin(vals)]
        elif flt.get("operator") == "=":
            f = f[f[col] == vals]
        else:
            raise BadRequest(f"Unsupported metrics filter operator {flt.get('operator')!r}")
    keys = [dims_map[d] for d in dims]
    f = f.copy()
    if q.get("timeDimension"):
        f["__time"] = _bucket(f[ts_col], q["timeDimension"].get("granularity", "auto"), lo, hi)
        keys.append("__time")
    rows: list[dict[str, Any]] = []
    groups = [((), f)] if not keys else f.groupby(keys, dropna=False, sort=True)
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = {}
        for d, v in zip(dims + (["time_dimension"] if "__time" in keys else []), key):
            row[d] = None if (v is None or (isinstance(v, float) and np.isnan(v))
                              or v is pd.NA) else (v.item() if hasattr(v, "item") else v)
        for m in metrics:
            val = _agg(part[measure_map[m["measure"]]], m["aggregation"])
            name = f"{m['aggregation']}_{m['measure']}"
            if np.isnan(val):
                row[name] = None
            elif m["aggregation"] == "count" or numbers_as_strings:
                row[name] = str(int(val)) if m["aggregation"] == "count" else repr(val)
            else:
                row[name] = val
        rows.append(row)
    for o in reversed(q.get("orderBy") or []):
        rows.sort(key=lambda r: (r.get(o["field"]) is None, r.get(o["field"])),
                  reverse=o.get("direction") == "desc")
    return rows[:row_limit]
