"""Langfuse JSON items -> canonical frames, column by column (no per-row pydantic objects).

Mapping conventions (documented because Langfuse has no fixed place for some canonical fields):

* ``model`` <- ``providedModelName`` (v2; ``model`` on v1 items);
* tokens <- ``usageDetails`` ``input`` / ``output`` / ``total`` (total defaults to input+output);
* ``cost_usd`` <- ``totalCost``, else ``costDetails.total``; numbers may arrive as strings;
* ``type`` <- the Langfuse type lower-cased (GENERATION -> generation, TOOL -> tool, ...);
* ``agent``, ``error_type``, ``tool_name`` <- the observation's metadata keys of the same name;
  ``agent`` falls back to the trace name, then ``"unknown"``;
* ``release`` <- ``version``, else the trace's ``release``, else metadata ``release``;
* ``environment`` <- ``environment`` (Langfuse's own default is ``"default"``);
* an observation without ``endTime`` (still open) ends at its start (duration 0).

Items without an ``id``/``traceId`` or with an unreadable ``startTime`` are malformed: they are
dropped and counted, never fatal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import schema

_STR = pd.StringDtype()


def _num(v: Any) -> float:
    if v is None:
        return np.nan
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan


def _int(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return None


def _meta(m: Any) -> Mapping[str, Any]:
    if isinstance(m, dict):
        return m
    if isinstance(m, str) and m.startswith("{"):
        try:
            parsed = orjson.loads(m)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _str_or_none(v: Any) -> str | None:
    return None if v is None or v == "" else str(v)


def _times(values: list[Any]) -> pd.Series:
    s = pd.Series(values, dtype=object)
    return pd.to_datetime(s, utc=True, format="ISO8601", errors="coerce").astype(
        pd.DatetimeTZDtype(unit="us", tz="UTC"))


def _valid_rows(rows: Sequence[Any]) -> tuple[list[dict[str, Any]], pd.Series, int]:
    """Rows with an id, a trace id and a readable start; plus their parsed starts."""
    good = [r for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)
            and isinstance(r.get("traceId"), str)]
    starts = _times([r.get("startTime") for r in good])
    ok = starts.notna().to_numpy()
    bad = len(rows) - int(ok.sum())
    if not ok.all():
        good = [r for r, k in zip(good, ok) if k]
        starts = starts[ok].reset_index(drop=True)
    return good, starts, bad


def observations(rows: Sequence[Any],
                 trace_info: Mapping[str, Mapping[str, Any]] | None = None
                 ) -> tuple[pd.DataFrame, int]:
    """(canonical observations, number of malformed items dropped) from v2 or v1 items.

    ``trace_info`` maps trace id -> ``{userId, sessionId, release, name}`` for v1 items, whose
    observations do not carry the trace's user, session and release. Well-formed v2 pages take
    a pyarrow fast path (dicts converted in C++ against a fixed struct type); anything that does
    not fit it (numbers as strings, metadata as a JSON string, bad timestamps) takes the
    row-tolerant path below, which counts and drops malformed items.
    """
    if not trace_info and rows:
        try:
            return _observations_arrow(rows), 0
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, _NotFast):
            pass
    return _observations_rows(rows, trace_info)


class _NotFast(Exception):
    """The page needs the row-tolerant path."""


_S, _I, _F = pa.string(), pa.int64(), pa.float64()
_V2_TYPE = pa.struct([
    ("id", _S), ("traceId", _S), ("parentObservationId", _S), ("startTime", _S),
    ("endTime", _S), ("name", _S), ("type", _S), ("level", _S), ("statusMessage", _S),
    ("version", _S), ("release", _S), ("traceName", _S), ("environment", _S), ("userId", _S),
    ("sessionId", _S), ("providedModelName", _S), ("model", _S), ("promptName", _S),
    ("promptVersion", _I), ("totalCost", _F),
    ("metadata", pa.struct([("agent", _S), ("error_type", _S), ("tool_name", _S),
                            ("release", _S)])),
    ("usageDetails", pa.struct([("input", _I), ("output", _I), ("total", _I)])),
    ("costDetails", pa.struct([("total", _F)])),
])
_TS_TYPE = pa.timestamp("us", tz="UTC")


def _blank_to_null(a: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(a, ""), pa.scalar(None, _S), a)


def _fill(a: pa.Array, value: str) -> pa.Array:
    return pc.fill_null(_blank_to_null(a), value)


def _observations_arrow(rows: Sequence[Any]) -> pd.DataFrame:
    arr = pa.array(rows, type=_V2_TYPE)
    f = {name: pc.struct_field(arr, name) for name in _V2_TYPE.names}
    if f["id"].null_count or f["traceId"].null_count or f["startTime"].null_count:
        raise _NotFast
    meta, usage = f["metadata"], f["usageDetails"]

    def m(key: str) -> pa.Array:
        return pc.struct_field(meta, key)

    start = pc.cast(f["startTime"], _TS_TYPE)
    end = pc.coalesce(pc.cast(f["endTime"], _TS_TYPE), start)
    inp, out = pc.struct_field(usage, "input"), pc.struct_field(usage, "output")
    total = pc.coalesce(pc.struct_field(usage, "total"), pc.add(inp, out), inp, out)
    cost = pc.coalesce(f["totalCost"], pc.struct_field(f["costDetails"], "total"))
    cols = {
        "trace_id": f["traceId"], "observation_id": f["id"],
        "parent_observation_id": f["parentObservationId"], "start_time": start,
        "end_time": end, "name": pc.fill_null(f["name"], ""),
        "type": pc.utf8_lower(_fill(f["type"], "span")), "level": _fill(f["level"], "DEFAULT"),
        "status_message": _blank_to_null(f["statusMessage"]),
        "error_type": _blank_to_null(m("error_type")),
        "agent": _fill(pc.coalesce(_blank_to_null(m("agent")), f["traceName"]), "unknown"),
        "environment": _fill(f["environment"], "default"),
        "release": pc.coalesce(_blank_to_null(f["version"]), _blank_to_null(f["release"]),
                               _blank_to_null(m("release"))),
        "user_id": _blank_to_null(f["userId"]), "session_id": _blank_to_null(f["sessionId"]),
        "model": pc.coalesce(_blank_to_null(f["providedModelName"]), _blank_to_null(f["model"])),
        "prompt_name": f["promptName"], "prompt_version": f["promptVersion"],
        "tool_name": _blank_to_null(m("tool_name")), "input_tokens": inp,
        "output_tokens": out, "total_tokens": total, "cost_usd": cost,
    }
    data: dict[str, Any] = {}
    for name, col in cols.items():
        if col.type == _S:
            data[name] = pd.arrays.ArrowStringArray(col)
        elif col.type == _I:
            data[name] = col.to_pandas(types_mapper={_I: pd.Int64Dtype()}.get)
        elif col.type == _F:
            data[name] = col.to_numpy(zero_copy_only=False).astype("float64")
        else:
            data[name] = col.to_pandas().astype(pd.DatetimeTZDtype(unit="us", tz="UTC"))
    df = pd.DataFrame(data)
    df.insert(5, "duration_s", (df["end_time"] - df["start_time"]).dt.total_seconds())
    return schema.validate(df, "observations")


def _observations_rows(rows: Sequence[Any],
                       trace_info: Mapping[str, Mapping[str, Any]] | None
                       ) -> tuple[pd.DataFrame, int]:
    good, start, bad = _valid_rows(rows)
    if not good:
        return schema.empty("observations"), bad
    ti = trace_info or {}
    no_trace: Mapping[str, Any] = {}
    traces = [ti.get(r["traceId"], no_trace) for r in good]
    meta = [_meta(r.get("metadata")) for r in good]
    end = _times([r.get("endTime") for r in good])
    end = end.where(end.notna(), start)
    usage = [r.get("usageDetails") or {} for r in good]
    inp = [_int(u.get("input")) for u in usage]
    out = [_int(u.get("output")) for u in usage]
    tot = [_int(u["total"]) if u.get("total") is not None
           else (i + o if i is not None and o is not None else (i if o is None else o))
           for u, i, o in zip(usage, inp, out)]
    cost = [_num(r["totalCost"]) if r.get("totalCost") is not None
            else _num((r.get("costDetails") or {}).get("total")) for r in good]
    model = [r.get("providedModelName", r.get("model")) for r in good]
    release = [r.get("version") or r.get("release") or t.get("release") or m.get("release")
               for r, t, m in zip(good, traces, meta)]
    agent = [m.get("agent") or r.get("traceName") or t.get("name") or "unknown"
             for r, t, m in zip(good, traces, meta)]
    df = pd.DataFrame({
        "trace_id": pd.array([r["traceId"] for r in good], dtype=_STR),
        "observation_id": pd.array([r["id"] for r in good], dtype=_STR),
        "parent_observation_id": pd.array([r.get("parentObservationId") for r in good],
                                          dtype=_STR),
        "start_time": start,
        "end_time": end,
        "duration_s": (end - start).dt.total_seconds(),
        "name": pd.array([r.get("name") or "" for r in good], dtype=_STR),
        "type": pd.array([str(r.get("type") or "span").lower() for r in good], dtype=_STR),
        "level": pd.array([r.get("level") or "DEFAULT" for r in good], dtype=_STR),
        "status_message": pd.array([_str_or_none(r.get("statusMessage")) for r in good],
                                   dtype=_STR),
        "error_type": pd.array([_str_or_none(m.get("error_type")) for m in meta], dtype=_STR),
        "agent": pd.array([str(a) for a in agent], dtype=_STR),
        "environment": pd.array([r.get("environment") or "default" for r in good], dtype=_STR),
        "release": pd.array([_str_or_none(x) for x in release], dtype=_STR),
        "user_id": pd.array([r.get("userId") or t.get("userId") for r, t in zip(good, traces)],
                            dtype=_STR),
        "session_id": pd.array([r.get("sessionId") or t.get("sessionId")
                                for r, t in zip(good, traces)], dtype=_STR),
        "model": pd.array([_str_or_none(x) for x in model], dtype=_STR),
        "prompt_name": pd.array([r.get("promptName") for r in good], dtype=_STR),
        "prompt_version": pd.array([_int(r.get("promptVersion")) for r in good], dtype="Int64"),
        "tool_name": pd.array([_str_or_none(m.get("tool_name")) for m in meta], dtype=_STR),
        "input_tokens": pd.array(inp, dtype="Int64"),
        "output_tokens": pd.array(out, dtype="Int64"),
        "total_tokens": pd.array(tot, dtype="Int64"),
        "cost_usd": np.asarray(cost, dtype="float64"),
    })
    return schema.validate(df, "observations"), bad


def scores(rows: Sequence[Any]) -> tuple[pd.DataFrame, int, int]:
    """(canonical scores, malformed dropped, unjoinable dropped) from v3 or v2 score items.

    v3 carries the scored entity in ``subject`` (asked for with ``fields=subject``); v2 in
    ``traceId``/``observationId``. Session- and experiment-level scores have no trace to join on
    and are left out (counted). Categorical/text values go to ``string_value``; booleans become
    0/1 in ``value``, as in both APIs' numeric views.
    """
    out: list[tuple[Any, ...]] = []
    bad = unjoinable = 0
    for r in rows:
        if not isinstance(r, dict) or not isinstance(r.get("id"), str) or "dataType" not in r:
            bad += 1
            continue
        subj = r.get("subject")
        if isinstance(subj, dict):
            kind = subj.get("kind")
            trace = subj.get("id") if kind == "trace" else subj.get("traceId")
            obs = subj.get("id") if kind == "observation" else None
        else:
            trace, obs = r.get("traceId"), r.get("observationId")
        if not trace:
            unjoinable += 1
            continue
        dt = str(r["dataType"]).upper()
        v = r.get("value")
        if dt == "NUMERIC":
            value, text = _num(v), None
        elif dt == "BOOLEAN":
            value, text = (1.0 if v else 0.0) if isinstance(v, bool) else _num(v), None
        else:
            value = np.nan
            text = r.get("stringValue") if "stringValue" in r else v
        out.append((r["id"], trace, obs, r.get("timestamp"), r.get("name"), value,
                    None if text is None else str(text), dt, r.get("source") or "API",
                    r.get("environment")))
    cols = ["score_id", "trace_id", "observation_id", "timestamp", "name", "value",
            "string_value", "data_type", "source", "environment"]
    if not out:
        return schema.empty("scores"), bad, unjoinable
    df = pd.DataFrame(out, columns=cols)
    ts = _times(df["timestamp"].tolist())
    okay = ts.notna() & df["name"].notna()
    bad += int((~okay).sum())
    df = df[okay.to_numpy()].assign(timestamp=ts[okay.to_numpy()].to_numpy())
    return schema.conform(df, "scores"), bad, unjoinable


def trace_info(rows: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """v1 ``/traces`` items -> the per-trace fields v1 observations lack."""
    return {r["id"]: {"userId": r.get("userId"), "sessionId": r.get("sessionId"),
                      "release": r.get("release") or r.get("version"), "name": r.get("name")}
            for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)}
