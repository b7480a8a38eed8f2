"""Langfuse JSON items -> raw frames for the conventions layer, and canonical scores.

Observations are not mapped here: every field goes into a raw frame
(:data:`workbench.sources.conventions.RAW_COLUMNS`) and the conventions layer decides what is the
agent, the tool, the model, a timeout. The record shapes read are the public API's:

* v2 observations (field groups ``core``, ``basic``, ``model``, ``usage``, ``prompt``,
  ``metadata``, ``trace_context``): ``traceName``, ``release`` and ``tags`` come with every
  observation; ``providedModelName``; ``usageDetails`` (``input``/``output``/``total``, or the
  OpenAI-style ``prompt_tokens``/``completion_tokens``); ``totalCost`` or ``costDetails.total``;
  numbers may arrive as strings;
* metadata as Langfuse stores OTel spans: flat dotted keys (``attributes.gen_ai.tool.name``,
  ``resourceAttributes.service.name``) or, on older servers and migrated rows, nested objects
  (``{"attributes": {...}}``) or a JSON string; user metadata keys at the top level;
* v1 observations (legacy servers): ``model`` instead of ``providedModelName``, and the trace's
  name, user, session, release and tags joined in from ``/traces``.

Items without an ``id``/``traceId`` or with an unreadable ``startTime`` are malformed: they are
dropped and counted, never fatal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import schema
from workbench.sources import conventions as conv

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


_TS = pd.DatetimeTZDtype(unit="us", tz="UTC")


def _times(values: list[Any] | pa.Array) -> pd.Series:
    """ISO 8601 strings -> UTC timestamps (microseconds), NaT where unreadable. Arrow parses
    the common shapes in C++; anything it refuses (a bad value anywhere, more than six
    fractional digits, no offset) goes through pandas, value by value."""
    try:
        arr = values if isinstance(values, pa.Array) else pa.array(values, type=pa.string())
        return pd.Series(arr.cast(pa.timestamp("us", "UTC")).to_pandas(types_mapper=None),
                         dtype=_TS)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    if isinstance(values, pa.Array):
        values = values.to_pylist()
    s = pd.Series(values, dtype=object)
    return pd.to_datetime(s, utc=True, format="ISO8601", errors="coerce").astype(_TS)


#: Langfuse metadata sections that hold OTel span and resource attributes.
_SECTIONS = {"attributes": "attr:", "resourceAttributes": "res:"}
_USAGE_KEYS = {"input": ("input", "prompt_tokens", "input_tokens", "promptTokens"),
               "output": ("output", "completion_tokens", "output_tokens", "completionTokens"),
               "total": ("total", "total_tokens", "totalTokens"),
               "cache_read": ("input_cached_tokens", "cache_read_input_tokens",
                              "input_cache_read"),
               "cache_write": ("input_cache_creation", "cache_creation_input_tokens"),
               "reasoning": ("output_reasoning_tokens", "output_reasoning"),
               "audio_in": ("input_audio_tokens", "input_audio"),
               "audio_out": ("output_audio_tokens", "output_audio")}
#: Anthropic cache writes by lifetime: Langfuse keeps them beside ``input_cache_creation``,
#: not in it.
_CACHE_WRITE_PARTS = ("input_cache_creation_5m", "input_cache_creation_1h")
#: OpenAI predicted outputs: tokens of the prediction that appeared in the completion and those
#: that did not; OpenAI counts (and bills) both in ``completion_tokens``.
_PREDICTION_PARTS = ("output_accepted_prediction_tokens", "output_rejected_prediction_tokens")
# Langfuse keeps its usage types disjoint: an OpenAI usage object becomes one usage type per
# `prompt_tokens_details` / `completion_tokens_details` entry (`input_<key>` / `output_<key>`),
# each taken off `input` / `output`, as the Langfuse SDKs' OpenAI and LangChain integrations
# flatten it too (LangChain's `input_token_details.audio` becomes `input_audio`). The cache parts
# and the reasoning tokens are added back by the conventions (`cache: excluded`,
# `reasoning: excluded`); the audio tokens (in and out) and the prediction tokens have no column
# of their own, so they are added to ``input_tokens`` / ``output_tokens`` here. Details that
# Langfuse leaves inside `input` / `output` (an OTel span's `prompt_details.audio`, the Vercel AI
# SDK's unprefixed `accepted_prediction_tokens`) are not added.


def metadata_lookup(conventions: conv.Conventions) -> dict[str, str]:
    """Flat Langfuse metadata key -> raw column, for every key the conventions read."""
    wanted = conventions.wanted()
    out = {f"attributes.{k}": f"attr:{k}" for k in wanted["attribute"]}
    out.update({f"resourceAttributes.{k}": f"res:{k}" for k in wanted["resource"]})
    out.update({k: f"meta:{k}" for k in wanted["metadata"]})
    return out


def _metadata_columns(rows: Sequence[dict[str, Any]], lookup: Mapping[str, str]
                      ) -> tuple[dict[str, pd.Series | list[Any]], list[Any], list[int]]:
    """The wanted metadata values of every row, one column per raw column that has any
    (None where absent); and, read in the same pass, the rows' usage details that Arrow has
    to type (not null, not empty) with their positions.

    Only the keys a row shares with ``lookup`` are visited (a set intersection, in C): rows
    carry many keys nobody maps."""
    n = len(rows)
    cols: dict[str, list[Any]] = {}
    shared = set(lookup).intersection
    usage: list[Any] = []
    usage_at: list[int] = []
    for i, r in enumerate(rows):
        u = r.get("usageDetails")
        if u is not None and (type(u) is not dict or u):
            usage.append(u)
            usage_at.append(i)
        m = r.get("metadata")
        if not m:
            continue
        if type(m) is not dict or "attributes" in m or "resourceAttributes" in m:
            m = _flat_meta(m)
        for key in shared(m):
            try:
                cols[key][i] = m[key]
            except KeyError:  # the key's first value: its column is made
                cols[key] = [None] * n
                cols[key][i] = m[key]
    out = {}
    for key, values in sorted(cols.items()):
        column = _column(values)
        if column is not None:
            out[lookup[key]] = column
    return out, usage, usage_at


def _column(values: list[Any]) -> pd.Series | list[Any] | None:
    """Text and nulls as a text series built in Arrow (what pandas infers for them, without
    its value-by-value inference); any other list as it is, for pandas to infer; None when
    every value is null."""
    try:
        text = pa.array(values, type=pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return values if values.count(None) < len(values) else None
    return text.to_pandas() if text.null_count < len(values) else None


def _flat_meta(m: Any) -> Mapping[str, Any]:
    """Metadata given as a JSON string or with nested sections, as flat dotted keys."""
    m = _meta(m) if type(m) is not dict else m
    return _flat(m) if "attributes" in m or "resourceAttributes" in m else m


def _flat(m: Mapping[str, Any]) -> dict[str, Any]:
    """Nested sections (``{"attributes": {...}}``, or the same as a JSON string) as flat
    dotted keys, the way current Langfuse servers store them."""
    out = {}
    for key, value in m.items():
        if value is None:
            continue
        if key in _SECTIONS:
            nested = value if isinstance(value, dict) else _meta(value)
            for k2, v2 in nested.items():
                if v2 is not None:
                    out[f"{key}.{k2}"] = v2
        else:
            out[key] = value
    return out


def _valid_rows(rows: Sequence[Any]) -> tuple[list[dict[str, Any]], pd.Series, np.ndarray]:
    """Rows with an id, a trace id and a readable start; their parsed starts; and which of
    ``rows`` they are (a mask over ``rows``)."""
    shaped = np.fromiter((isinstance(r, dict) and isinstance(r.get("id"), str)
                          and isinstance(r.get("traceId"), str) and bool(r["id"])
                          and bool(r["traceId"]) for r in rows), dtype=bool, count=len(rows))
    good = [r for r, k in zip(rows, shaped) if k] if not shaped.all() else list(rows)
    starts = _times([r.get("startTime") for r in good])
    ok = starts.notna().to_numpy()
    if not ok.all():
        good = [r for r, k in zip(good, ok) if k]
        starts = starts[ok].reset_index(drop=True)
        shaped[np.flatnonzero(shaped)[~ok]] = False
    return good, starts, shaped


def observations(rows: Sequence[Any], conventions: conv.Conventions | None = None,
                 trace_info: Mapping[str, Mapping[str, Any]] | None = None
                 ) -> tuple[pd.DataFrame, int]:
    """(canonical observations, number of malformed items dropped) from v2 or v1 items."""
    c = conventions or conv.load()
    raw, bad = raw_observations(rows, c, trace_info)
    return c.observations(raw), bad


def raw_observations(rows: Sequence[Any], conventions: conv.Conventions,
                     trace_info: Mapping[str, Mapping[str, Any]] | None = None
                     ) -> tuple[pd.DataFrame, int]:
    """(raw frame, number of malformed items dropped) from v2 or v1 observation items.

    Well-formed pages take a pyarrow path (dicts converted in C++ against a fixed struct type);
    anything that does not fit it (numbers as strings, odd types) takes a row-tolerant path.
    ``trace_info`` (v1 only) maps trace id -> the trace's ``name``, ``userId``, ``sessionId``,
    ``release``, ``tags``.
    """
    frame, bad = raw_observation_pulls([rows], conventions, trace_info)
    return frame, bad[0]


def raw_observation_pulls(pulls: Sequence[Sequence[Any]], conventions: conv.Conventions,
                          trace_info: Mapping[str, Mapping[str, Any]] | None = None
                          ) -> tuple[pd.DataFrame, list[int]]:
    """One raw frame from the items of many pulls (time slices), converted together: the
    conversion's fixed cost is paid once, not once a slice. Also the number of malformed
    items each pull held (a slice with any is not cached)."""
    rows = [r for p in pulls for r in p]
    arr = None
    if not trace_info:
        try:
            arr = pa.array(rows, type=_V2_TYPE)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            arr = None
    if arr is not None:  # every item well typed: checked and read in Arrow
        start = _times(pc.struct_field(arr, "startTime"))
        ok = (_named(pc.struct_field(arr, "id")) & _named(pc.struct_field(arr, "traceId"))
              & start.notna().to_numpy())
        good = list(rows)
        if not ok.all():
            good = [r for r, k in zip(rows, ok) if k]
            arr = arr.filter(pa.array(ok))
            start = start[ok].reset_index(drop=True)
    else:
        good, start, ok = _valid_rows(rows)
    meta: dict[str, Any] = {}
    usage = None
    if good:
        meta, usage_values, usage_at = _metadata_columns(good, metadata_lookup(conventions))
        if arr is not None:
            usage = _usage_details(usage_values, usage_at, len(good))
        if arr is not None and usage is None:  # a usage record Arrow cannot type
            arr = None
            fallback, start, fallback_ok = _valid_rows(rows)
            if not np.array_equal(fallback_ok, ok):
                good, ok = fallback, fallback_ok
                meta = _metadata_columns(good, metadata_lookup(conventions))[0] if good else {}
    edges = np.cumsum([0, *(len(p) for p in pulls)])
    bad = [int((b - a) - ok[a:b].sum()) for a, b in zip(edges[:-1], edges[1:])]
    if not good:
        return conv.raw_frame({}), bad
    fixed = _fixed_arrow(arr, usage) if arr is not None and usage is not None \
        else _fixed_rows(good, trace_info or {})
    fixed["start_time"] = start.array
    return conv.raw_frame({**fixed, **meta}), bad


_S, _I, _F, _B = pa.string(), pa.int64(), pa.float64(), pa.bool_()
_USAGE_TYPE = pa.struct([(k, _I) for keys in (*_USAGE_KEYS.values(), _CACHE_WRITE_PARTS,
                                                _PREDICTION_PARTS) for k in keys])
_V2_TYPE = pa.struct([
    ("id", _S), ("traceId", _S), ("startTime", _S), ("parentObservationId", _S),
    ("endTime", _S),
    ("name", _S), ("type", _S), ("level", _S), ("statusMessage", _S), ("version", _S),
    ("environment", _S), ("userId", _S), ("sessionId", _S), ("isRootObservation", _B),
    ("providedModelName", _S), ("model", _S), ("promptName", _S), ("promptVersion", _I),
    ("totalCost", _F), ("traceName", _S), ("release", _S), ("tags", pa.list_(_S)),
    ("costDetails", pa.struct([("total", _F)])),
])
#: ``usageDetails`` is typed apart, on the items that report usage (a minority: generations):
#: a struct of every usage type costs Arrow a lookup and a null per type on every item.


def _usage_details(values: list[Any], at: list[int], n: int
                   ) -> tuple[pa.StructArray, pa.Array] | None:
    """The usage details ``values`` (of the items at positions ``at`` among ``n``) typed by
    Arrow, and the take indices that spread them back to the ``n`` items (null for items
    without); None when Arrow cannot type one of them (numbers as strings, say)."""
    try:
        keys = set().union(*values)  # the usage types reported: only these are looked up
    except TypeError:
        keys = None
    if keys is None or not all(type(k) is str for k in keys) \
            or not all(type(v) is dict for v in values):
        kind = _USAGE_TYPE
    else:
        kind = pa.struct([f for f in _USAGE_TYPE if f.name in keys])
    try:
        given = pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
    index = np.full(n, -1, dtype="int64")
    index[at] = np.arange(len(at))
    return given, pa.array(index, mask=index < 0)


def _named(ids: pa.Array) -> np.ndarray:
    """Non-null, non-empty ids."""
    return pc.fill_null(pc.greater(pc.utf8_length(ids), 0), False).to_numpy(
        zero_copy_only=False)


def _fixed_arrow(arr: pa.StructArray, usage_details: tuple[pa.StructArray, pa.Array]
                 ) -> dict[str, Any]:
    f = {name: pc.struct_field(arr, name) for name in _V2_TYPE.names}
    usage, spread = usage_details  # counts are added up on the items with usage alone

    def part(name: str) -> pa.Array:
        """One usage type (null where not reported)."""
        if usage.type.get_field_index(name) < 0:
            return pa.nulls(len(usage), _I)
        return pc.struct_field(usage, name)

    def pick(names: Iterable[str]) -> pa.Array:
        return pc.coalesce(*(part(k) for k in names))

    def text(a: pa.Array) -> pd.Series:
        return pd.Series(pd.arrays.ArrowStringArray(a), dtype=_STR)

    def ints(a: pa.Array) -> pd.Series:
        return a.to_pandas(types_mapper={_I: pd.Int64Dtype()}.get)

    def counts(a: pa.Array) -> pd.Series:
        return ints(a.take(spread))

    tags = pc.binary_join(f["tags"], ",")
    return {
        "trace_id": text(f["traceId"]), "observation_id": text(f["id"]),
        "parent_observation_id": text(f["parentObservationId"]),
        "end_time": _times(f["endTime"]).array,
        "name": text(f["name"]), "native_type": text(f["type"]), "level": text(f["level"]),
        "status_message": text(f["statusMessage"]), "version": text(f["version"]),
        "environment": text(f["environment"]), "user_id": text(f["userId"]),
        "session_id": text(f["sessionId"]),
        "is_root": f["isRootObservation"].to_pandas().astype(object),
        "model": text(pc.coalesce(f["providedModelName"], f["model"])),
        "prompt_name": text(f["promptName"]), "prompt_version": ints(f["promptVersion"]),
        "trace_name": text(f["traceName"]), "release": text(f["release"]), "tags": text(tags),
        "input_tokens": counts(_present_sum(pick(_USAGE_KEYS["input"]),
                                            pick(_USAGE_KEYS["audio_in"]))),
        "output_tokens": counts(_present_sum(pick(_USAGE_KEYS["output"]),
                                             pick(_USAGE_KEYS["audio_out"]),
                                             *(part(k) for k in _PREDICTION_PARTS))),
        "total_tokens": counts(pick(_USAGE_KEYS["total"])),
        "cache_read_tokens": counts(pick(_USAGE_KEYS["cache_read"])),
        "cache_write_tokens": counts(_present_sum(pick(_USAGE_KEYS["cache_write"]),
                                                  *(part(k) for k in _CACHE_WRITE_PARTS))),
        "reasoning_tokens": counts(pick(_USAGE_KEYS["reasoning"])),
        "cost_usd": pc.coalesce(f["totalCost"], pc.struct_field(f["costDetails"], "total")
                                ).to_numpy(zero_copy_only=False).astype("float64"),
    }


def _present_sum(*parts: pa.Array) -> pa.Array:
    """The parts summed (cache writes of every lifetime; input and its audio tokens; output and
    its audio and prediction tokens); null where none is reported."""
    total = None
    for p in parts:
        total = p if total is None else pc.if_else(
            pc.and_(pc.is_null(total), pc.is_null(p)), pa.scalar(None, _I),
            pc.add(pc.fill_null(total, 0), pc.fill_null(p, 0)))
    return total


def _usage(u: Any, which: str) -> Any:
    if not isinstance(u, dict):
        return None
    for k in _USAGE_KEYS[which]:
        if u.get(k) is not None:
            return _int(u[k])
    return None


def _cache_write_usage(u: Any) -> Any:
    return _present_total(_usage(u, "cache_write"),
                          *(_int(u.get(k)) if isinstance(u, dict) else None
                            for k in _CACHE_WRITE_PARTS))


def _input_usage(u: Any) -> Any:
    return _present_total(_usage(u, "input"), _usage(u, "audio_in"))


def _output_usage(u: Any) -> Any:
    return _present_total(_usage(u, "output"), _usage(u, "audio_out"),
                          *(_int(u.get(k)) if isinstance(u, dict) else None
                            for k in _PREDICTION_PARTS))


def _present_total(*parts: Any) -> Any:
    found = [p for p in parts if p is not None]
    return sum(found) if found else None


def _tags(v: Any) -> str | None:
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v) or None
    return None if v in (None, "") else str(v)


def _fixed_rows(rows: Sequence[dict[str, Any]], trace_info: Mapping[str, Mapping[str, Any]]
                ) -> dict[str, Any]:
    none: Mapping[str, Any] = {}
    traces = [trace_info.get(r["traceId"], none) for r in rows]

    def col(key: str, fallback: str | None = None) -> list[Any]:
        return [r.get(key) if r.get(key) not in (None, "") else
                (t.get(fallback) if fallback else None) for r, t in zip(rows, traces)]

    def text(values: list[Any]) -> list[Any]:
        return [None if v is None else str(v) for v in values]

    cost = [_num(r["totalCost"]) if r.get("totalCost") is not None
            else _num((r.get("costDetails") or {}).get("total")
                      if isinstance(r.get("costDetails"), dict) else None) for r in rows]
    return {
        "trace_id": col("traceId"), "observation_id": col("id"),
        "parent_observation_id": text(col("parentObservationId")),
        "end_time": _times(col("endTime")).array,
        "name": text(col("name")), "native_type": text(col("type")),
        "level": text(col("level")), "status_message": text(col("statusMessage")),
        "version": text(col("version")), "environment": text(col("environment")),
        "user_id": text(col("userId", "userId")), "session_id": text(col("sessionId", "sessionId")),
        "is_root": col("isRootObservation"),
        "model": text([r.get("providedModelName") or r.get("model") for r in rows]),
        "prompt_name": text(col("promptName")),
        "prompt_version": [_int(v) for v in col("promptVersion")],
        "trace_name": text(_v1_trace_names(rows, col("traceName", "name"))),
        "release": text(col("release", "release")),
        "tags": [_tags(v) for v in col("tags", "tags")],
        "input_tokens": [_input_usage(r.get("usageDetails")) for r in rows],
        "output_tokens": [_output_usage(r.get("usageDetails")) for r in rows],
        "total_tokens": [_usage(r.get("usageDetails"), "total") for r in rows],
        "cache_read_tokens": [_usage(r.get("usageDetails"), "cache_read") for r in rows],
        "cache_write_tokens": [_cache_write_usage(r.get("usageDetails")) for r in rows],
        "reasoning_tokens": [_usage(r.get("usageDetails"), "reasoning") for r in rows],
        "cost_usd": cost,
    }


def _v1_trace_names(rows: Sequence[dict[str, Any]], names: list[Any]) -> list[Any]:
    """A v1 trace's name, unless it is only its root observation's name.

    Langfuse names a trace after its root span unless ``langfuse.trace.name`` was set; the v2
    API's ``traceName`` is that attribute alone. A name that merely repeats the root's (an
    ``invoke_agent ...``, ``LangGraph`` or ``POST /v1/chat`` span) says nothing the observations
    do not, and taken as the trace name it would hide the agent the conventions find in them.
    """
    root_name = {r["traceId"]: r.get("name") for r in rows if not r.get("parentObservationId")}
    return [None if n is not None and root_name.get(r["traceId"], object()) == n else n
            for r, n in zip(rows, names)]


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
    df = df[okay.to_numpy()].assign(timestamp=ts[okay.to_numpy()].array)
    return schema.conform(df, "scores"), bad, unjoinable


def trace_info(rows: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """v1 ``/traces`` items -> the per-trace fields v1 observations lack."""
    return {r["id"]: {"userId": r.get("userId"), "sessionId": r.get("sessionId"),
                      "release": r.get("release") or r.get("version"), "name": r.get("name"),
                      "tags": r.get("tags")}
            for r in rows if isinstance(r, dict) and isinstance(r.get("id"), str)}
