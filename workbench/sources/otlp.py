"""OTLP JSON (as Tempo and OTLP/HTTP exporters write it) -> the same raw frame as
:func:`workbench.sources.otel.raw_from_spans`.

Bodies are decoded with ``opentelemetry-proto`` through protobuf's JSON mapping, so every
attribute value kind (``stringValue``, ``boolValue``, ``intValue`` written as a string,
``doubleValue`` including ``"NaN"``/``"Infinity"``, ``arrayValue``, ``kvlistValue``,
``bytesValue``), enums by name or number and omitted defaults read as the protocol defines them.
Two things protobuf's mapping does not settle are settled here, before parsing:

* ids: Tempo's trace-by-id bodies hold trace, span, parent and link ids as **base64** of the raw
  bytes (protobuf's rule for ``bytes``), OTLP/HTTP JSON holds them as **hex**. Each id is read as
  hex when it is hex of the right length, else as base64 of the right number of bytes.
* bad records: one malformed span (missing or empty ids, bad base64, a non-numeric ``intValue``, an
  unreadable time) must not cost the other spans of its trace. Each span is parsed on its own
  when its batch does not parse; a bad attribute value drops that attribute, a bad id or time
  drops that span; every problem is counted by kind (:class:`Problems`) with a first example.

Span ends before their start, mixed-kind arrays (the protocol wants homogeneous ones) and
duplicate span ids within a trace are counted too: the span is kept (its end clamped to its
start by the conventions; the first of duplicates wins).

Evaluation results carried by spans become score records: the OpenTelemetry GenAI event
``gen_ai.evaluation.result`` (``gen_ai.evaluation.name``, ``.score.value``, ``.score.label``,
``.explanation``) and evaluation attributes set on a span itself (the same keys, or
OpenInference's ``evaluation.name`` / ``evaluation.score`` / ``evaluation.label``).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
from google.protobuf import json_format
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from workbench import schema
from workbench.sources import conventions as conv

__all__ = ["PROBLEM_KINDS", "Decoded", "Problems", "decode", "normalise_trace_id",
           "raw_from_otlp", "resource_spans"]

#: What can be wrong with a span, as counted in :class:`Problems`.
PROBLEM_KINDS = {
    "missing_id": "a span without trace or span id (or an all-zero one): span dropped",
    "bad_id": "an id that is neither hex nor base64 of the right length: span dropped",
    "bad_parent_id": "an unreadable parent span id: span kept as a root",
    "bad_link_id": "an unreadable link id: link dropped",
    "bad_value": "an attribute value protobuf cannot read (a non-numeric intValue, ...): "
                 "attribute dropped",
    "bad_time": "a missing, zero or non-numeric start time: span dropped",
    "end_before_start": "end before start (or no end): span kept, its end set to its start",
    "mixed_array": "an array attribute mixing value kinds: kept as it is",
    "duplicate_span_id": "a span id seen twice in one trace: the first span kept",
    "unreadable_span": "a span protobuf cannot read at all: span dropped",
    "unreadable_batch": "a resource or scope protobuf cannot read: its spans read without it",
}

_HEX = re.compile(r"[0-9a-fA-F]+")
_EVAL_EVENT = "gen_ai.evaluation.result"
_EVAL_KEYS = (  # (name, numeric value, label, explanation) attribute keys, per convention
    ("gen_ai.evaluation.name", "gen_ai.evaluation.score.value", "gen_ai.evaluation.score.label",
     "gen_ai.evaluation.explanation"),
    ("evaluation.name", "evaluation.score", "evaluation.label", "evaluation.explanation"),
)
_STATUS = {Status.STATUS_CODE_UNSET: "UNSET", Status.STATUS_CODE_OK: "OK",
           Status.STATUS_CODE_ERROR: "ERROR"}
_MAX_EXAMPLES = 3


@dataclass
class Problems:
    """Counted problems of decoded OTLP, by kind (see :data:`PROBLEM_KINDS`), with examples."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, message: str, n: int = 1) -> None:
        assert kind in PROBLEM_KINDS, kind
        self.counts[kind] = self.counts.get(kind, 0) + n
        ex = self.examples.setdefault(kind, [])
        if len(ex) < _MAX_EXAMPLES:
            ex.append(message)

    def merge(self, other: Problems) -> None:
        for kind, n in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n
            ex = self.examples.setdefault(kind, [])
            ex.extend(other.examples.get(kind, [])[: _MAX_EXAMPLES - len(ex)])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def dropped_spans(self) -> int:
        return sum(self.counts.get(k, 0) for k in ("missing_id", "bad_id", "bad_time",
                                                  "duplicate_span_id", "unreadable_span"))

    def summary(self) -> str:
        """One line: ``3 malformed: 2 bad_id (first: ...), 1 bad_value (first: ...)``."""
        if not self.counts:
            return "no problems"
        parts = [f"{n} {k} (first: {self.examples[k][0]})" for k, n in sorted(self.counts.items())]
        return f"{self.total} OTLP problem(s): " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(sorted(self.counts.items())),
                "examples": {k: list(v) for k, v in sorted(self.examples.items())}}


@dataclass
class Decoded:
    """What a set of OTLP bodies held: the raw frame, links, evaluation scores and problems."""

    raw: pd.DataFrame
    links: pd.DataFrame
    scores: pd.DataFrame
    problems: Problems
    spans: int
    body_problems: list[int] = field(default_factory=list)
    """Problems found in each body, in the order given (a trace-by-id body is one trace)."""


def normalise_trace_id(text: str) -> str:
    """A trace id as 32 lower-case hex characters.

    Tempo's search answers strip leading zeros (a 64-bit id comes back as 16 characters, an id
    whose first nibble is zero as 31): those are left-padded. Base64 ids (24 characters, as
    trace-by-id bodies write them) are converted. Anything else is a ``ValueError``.
    """
    t = str(text).strip()
    if t.startswith(("0x", "0X")):
        t = t[2:]
    if t and len(t) <= 32 and _HEX.fullmatch(t):
        return t.lower().rjust(32, "0")
    b = _b64(t)
    if b is not None and len(b) == 16:
        return b.hex()
    raise ValueError(f"trace id {text!r} is neither hex of at most 32 characters nor base64 of "
                     "16 bytes")


def _b64(text: str) -> bytes | None:
    pad = "=" * (-len(text) % 4)
    for alt in (None, b"-_"):
        try:
            return base64.b64decode(text + pad, altchars=alt, validate=True)
        except (binascii.Error, ValueError):
            continue
    return None


def _id_bytes(value: Any, n: int) -> bytes | None:
    """Hex of ``2n`` characters, else base64 of ``n`` bytes; None when neither."""
    if not isinstance(value, str):
        return None
    t = value.strip()
    if len(t) == 2 * n and _HEX.fullmatch(t):
        return bytes.fromhex(t)
    b = _b64(t)
    return b if b is not None and len(b) == n else None


# -- payload shapes -------------------------------------------------------------------------------

def resource_spans(body: Any) -> list[Any]:
    """The ``ResourceSpans`` list of any OTLP/Tempo JSON shape: ``{"resourceSpans": [...]}``
    (OTLP, ``TracesData``), ``{"batches": [...]}`` (Tempo ``/api/traces``), ``{"trace": {...}}``
    (Tempo ``/api/v2/traces``) or a bare list. Raises ``ValueError`` for anything else."""
    if isinstance(body, (bytes, bytearray, memoryview, str)):
        body = orjson.loads(body)
    if isinstance(body, list):
        return body
    if not isinstance(body, Mapping):
        raise ValueError(f"an OTLP body must be a JSON object, got {type(body).__name__}")
    if "trace" in body and isinstance(body["trace"], Mapping):
        body = body["trace"]
    for key in ("resourceSpans", "batches", "resource_spans"):
        if key in body:
            value = body[key]
            if value is None:
                return []
            if not isinstance(value, list):
                raise ValueError(f"OTLP {key!r} must be a list, got {type(value).__name__}")
            return value
    if not body:
        return []  # an empty trace: Tempo v2's "not found"
    raise ValueError(f"not an OTLP traces body: keys {sorted(body)[:6]}")


# -- values ---------------------------------------------------------------------------------------

def _value(v: AnyValue, mixed: list[bool]) -> Any:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return v.int_value
    if kind == "double_value":
        return v.double_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "array_value":
        items = [(x.WhichOneof("value"), _value(x, mixed)) for x in v.array_value.values]
        if len({k for k, _ in items if k is not None}) > 1:
            mixed[0] = True
        return tuple(x for _, x in items)
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value, mixed) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return bytes(v.bytes_value)
    return None


def _attributes(kvs: Iterable[KeyValue], problems: Problems, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        mixed = [False]
        out[kv.key] = _value(kv.value, mixed)
        if mixed[0]:
            problems.add("mixed_array", f"{where}: attribute {kv.key!r} mixes value kinds")
    return out


def _parse(data: Any, message: Any) -> Any:
    return json_format.ParseDict(data, message, ignore_unknown_fields=True)


def _clean_attributes(items: Any, problems: Problems, where: str) -> list[Any]:
    """The attribute dicts protobuf can read; the others counted as ``bad_value``."""
    if not isinstance(items, list):
        problems.add("bad_value", f"{where}: attributes is not a list")
        return []
    good = []
    for item in items:
        try:
            _parse(item, KeyValue())
        except (json_format.ParseError, TypeError, ValueError) as exc:
            key = item.get("key") if isinstance(item, Mapping) else None
            problems.add("bad_value", f"{where}: attribute {key!r}: {_short(exc)}")
            continue
        good.append(item)
    return good


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text[:160]


# -- spans ----------------------------------------------------------------------------------------

@dataclass
class _Row:
    trace: bytes
    span: bytes
    parent: bytes | None
    message: Any  # the parsed Span


def _prepare_span(sp: Any, problems: Problems, where: str) -> tuple[dict[str, Any],
                                                                       tuple[bytes, bytes,
                                                                             bytes | None]] | None:
    """The span dict with canonical base64 ids (ids checked), or None when it must be dropped."""
    if not isinstance(sp, Mapping):
        problems.add("unreadable_span", f"{where}: not a JSON object")
        return None
    out = dict(sp)
    ids = []
    for key, n in (("traceId", 16), ("spanId", 8)):
        value = sp.get(key)
        if value in (None, ""):
            problems.add("missing_id", f"{where}: no {key}")
            return None
        b = _id_bytes(value, n)
        if b is None:
            problems.add("bad_id", f"{where}: {key} {str(value)[:40]!r} is neither {2 * n} hex "
                                   f"characters nor base64 of {n} bytes")
            return None
        if not any(b):
            problems.add("missing_id", f"{where}: {key} is all zeros")
            return None
        out[key] = base64.b64encode(b).decode()
        ids.append(b)
    parent = None
    pv = sp.get("parentSpanId")
    if pv not in (None, ""):
        parent = _id_bytes(pv, 8)
        if parent is None:
            problems.add("bad_parent_id", f"{where}: parentSpanId {str(pv)[:40]!r} unreadable")
        elif not any(parent):
            parent = None
    out.pop("parentSpanId", None)
    links = sp.get("links")
    if isinstance(links, list) and links:
        kept = []
        for i, link in enumerate(links):
            if not isinstance(link, Mapping):
                problems.add("bad_link_id", f"{where}: link {i} is not an object")
                continue
            lt, ls = _id_bytes(link.get("traceId"), 16), _id_bytes(link.get("spanId"), 8)
            if lt is None or ls is None:
                problems.add("bad_link_id", f"{where}: link {i} has an unreadable id")
                continue
            kept.append({**link, "traceId": base64.b64encode(lt).decode(),
                         "spanId": base64.b64encode(ls).decode()})
        out["links"] = kept
    return out, (ids[0], ids[1], parent)


def _parse_span(sp: dict[str, Any], problems: Problems, where: str) -> Any | None:
    try:
        return _parse(sp, Span())
    except (json_format.ParseError, TypeError, ValueError):
        pass
    # find what is wrong: attribute values lose only themselves, times lose the span
    fixed = dict(sp)
    fixed["attributes"] = _clean_attributes(sp.get("attributes", []), problems, where)
    for key in ("events", "links"):
        items = sp.get(key)
        if isinstance(items, list):
            fixed[key] = [{**it, "attributes": _clean_attributes(it.get("attributes", []),
                                                                 problems, f"{where} {key}")}
                          if isinstance(it, Mapping) else it for it in items]
    for key in ("startTimeUnixNano", "endTimeUnixNano"):
        value = sp.get(key)
        if value is not None and not _is_uint(value):
            problems.add("bad_time", f"{where}: {key} {str(value)[:40]!r} is not a number")
            return None
    try:
        return _parse(fixed, Span())
    except (json_format.ParseError, TypeError, ValueError) as exc:
        problems.add("unreadable_span", f"{where}: {_short(exc)}")
        return None


def _is_uint(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, str) and value.strip().isdigit()


def _batch_rows(rs: Any, index: int, problems: Problems) -> tuple[dict[str, Any], list[_Row]]:
    """Resource attributes and the spans of one ``ResourceSpans`` dict."""
    where = f"resourceSpans[{index}]"
    if not isinstance(rs, Mapping):
        problems.add("unreadable_batch", f"{where}: not a JSON object")
        return {}, []
    res_attrs: dict[str, Any] = {}
    res = rs.get("resource")
    if isinstance(res, Mapping):
        try:
            msg = _parse(res, Resource())
        except (json_format.ParseError, TypeError, ValueError):
            msg = _parse({"attributes": _clean_attributes(res.get("attributes", []), problems,
                                                          f"{where} resource")}, Resource())
        res_attrs = _attributes(msg.attributes, problems, f"{where} resource")
    scopes = rs.get("scopeSpans", rs.get("instrumentationLibrarySpans", []))
    if not isinstance(scopes, list):
        problems.add("unreadable_batch", f"{where}: scopeSpans is not a list")
        return res_attrs, []
    rows: list[_Row] = []
    for si, scope in enumerate(scopes):
        spans = scope.get("spans", []) if isinstance(scope, Mapping) else None
        if not isinstance(spans, list):
            problems.add("unreadable_batch", f"{where} scopeSpans[{si}]: spans is not a list")
            continue
        for i, sp in enumerate(spans):
            at = f"{where} span {i}"
            prepared = _prepare_span(sp, problems, at)
            if prepared is None:
                continue
            data, (tid, sid, parent) = prepared
            if isinstance(sp, Mapping) and sp.get("name"):
                at = f"{at} ({str(sp['name'])[:60]!r})"
            msg = _parse_span(data, problems, at)
            if msg is None:
                continue
            rows.append(_Row(tid, sid, parent, msg))
    return res_attrs, rows


# -- decoding -------------------------------------------------------------------------------------

def decode(bodies: Iterable[Any], conventions: conv.Conventions | None = None) -> Decoded:
    """Decode OTLP/Tempo JSON bodies (objects, ``bytes`` or lists of ``ResourceSpans``).

    The raw frame has the columns :func:`workbench.sources.otel.raw_from_spans` gives for the
    same spans (ids lower-case hex, times UTC, ``attr:``/``res:`` columns for the keys the
    conventions want). A body that is not OTLP at all raises ``ValueError``.
    """
    c = conventions or conv.load()
    wanted = c.wanted()
    attr_keys = sorted(wanted["attribute"])
    res_keys = sorted(wanted["resource"])
    problems = Problems()
    cols: dict[str, list[Any]] = {k: [] for k in (
        "trace_id", "observation_id", "parent_observation_id", "name", "status_code",
        "status_message", "exception_type", "exception_message")}
    attrs: dict[str, list[Any]] = {f"attr:{k}": [] for k in attr_keys}
    res: dict[str, list[Any]] = {f"res:{k}": [] for k in res_keys}
    start_ns: list[int] = []
    end_ns: list[int] = []
    links: list[tuple[str, str, str, str]] = []
    scores: list[dict[str, Any]] = []
    seen: set[tuple[bytes, bytes]] = set()
    body_problems: list[int] = []
    for body in bodies:
        before = problems.total
        for index, rs in enumerate(resource_spans(body)):
            r, rows = _batch_rows(rs, index, problems)
            for row in rows:
                sp = row.message
                key = (row.trace, row.span)
                tid, sid = row.trace.hex(), row.span.hex()
                if key in seen:
                    problems.add("duplicate_span_id", f"trace {tid}: span {sid} appears again")
                    continue
                start, end = int(sp.start_time_unix_nano), int(sp.end_time_unix_nano)
                if start <= 0:
                    problems.add("bad_time", f"trace {tid} span {sid}: no start time")
                    continue
                seen.add(key)
                if end < start:
                    problems.add("end_before_start", f"trace {tid} span {sid}: ends "
                                 f"{(start - end) / 1e9:.3f} s before it starts"
                                 if end else f"trace {tid} span {sid}: no end time")
                    end = start
                where = f"trace {tid} span {sid}"
                a = _attributes(sp.attributes, problems, where)
                cols["trace_id"].append(tid)
                cols["observation_id"].append(sid)
                cols["parent_observation_id"].append(row.parent.hex() if row.parent else None)
                cols["name"].append(sp.name)
                cols["status_code"].append(_STATUS.get(sp.status.code, "UNSET"))
                cols["status_message"].append(sp.status.message or None)
                exc_type = exc_msg = None
                for ev in sp.events:
                    if ev.name == "exception":
                        ea = _attributes(ev.attributes, problems, f"{where} exception event")
                        exc_type, exc_msg = ea.get("exception.type"), ea.get("exception.message")
                        break
                cols["exception_type"].append(exc_type)
                cols["exception_message"].append(exc_msg)
                start_ns.append(start)
                end_ns.append(end)
                for k in attr_keys:
                    attrs[f"attr:{k}"].append(a.get(k))
                for k in res_keys:
                    res[f"res:{k}"].append(r.get(k))
                for link in sp.links:
                    links.append((tid, sid, bytes(link.trace_id).hex(), bytes(link.span_id).hex()))
                scores.extend(_scores(sp, a, tid, sid, row.parent, r, problems, where))
        body_problems.append(problems.total - before)
    frame: dict[str, Any] = dict(cols)
    frame["start_time"] = pd.to_datetime(np.asarray(start_ns, dtype="int64"), unit="ns",
                                         utc=True)
    frame["end_time"] = pd.to_datetime(np.asarray(end_ns, dtype="int64"), unit="ns", utc=True)
    frame.update({k: v for k, v in attrs.items() if any(x is not None for x in v)})
    frame.update({k: v for k, v in res.items() if any(x is not None for x in v)})
    raw = conv.raw_frame(frame)
    link_frame = schema.conform(pd.DataFrame(links, columns=list(schema.columns("links")),
                                             dtype="string"), "links")
    return Decoded(raw=raw, links=link_frame, scores=_score_frame(scores), problems=problems,
                   spans=len(raw), body_problems=body_problems)


def raw_from_otlp(body: Any, conventions: conv.Conventions | None = None) -> pd.DataFrame:
    """The raw frame of one OTLP/Tempo JSON body; its :class:`Problems` are in
    ``attrs["otlp_problems"]`` (see :func:`decode` for several bodies, links and scores)."""
    d = decode([body], conventions)
    d.raw.attrs["otlp_problems"] = d.problems.to_dict()
    return d.raw


# -- scores ---------------------------------------------------------------------------------------

def _scores(sp: Any, a: Mapping[str, Any], tid: str, sid: str, parent: bytes | None,
            resource: Mapping[str, Any], problems: Problems, where: str) -> list[dict[str, Any]]:
    out = []
    env = resource.get("deployment.environment.name") or resource.get("deployment.environment")
    for i, ev in enumerate(sp.events):
        if ev.name != _EVAL_EVENT:
            continue
        ea = _attributes(ev.attributes, problems, f"{where} evaluation event")
        rec = _score(ea, f"{sid}:{i}", tid, sid, int(ev.time_unix_nano or sp.end_time_unix_nano),
                     env)
        if rec is not None:
            out.append(rec)
    rec = _score(a, sid, tid, parent.hex() if parent else sid, int(sp.end_time_unix_nano), env)
    if rec is not None:
        out.append(rec)
    return out


def _score(a: Mapping[str, Any], score_id: str, tid: str, oid: str, ts_ns: int,
           env: Any) -> dict[str, Any] | None:
    for name_key, value_key, label_key, _ in _EVAL_KEYS:
        name = a.get(name_key)
        if not name:
            continue
        value, label = a.get(value_key), a.get(label_key)
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                label = label or value
        if number is not None and math.isnan(number):
            number = None
        if number is None and label in (None, ""):
            return None
        return {"score_id": score_id, "trace_id": tid, "observation_id": oid,
                "timestamp": pd.Timestamp(ts_ns, unit="ns", tz="UTC"), "name": str(name),
                "value": number, "string_value": None if label in (None, "") else str(label),
                "data_type": "NUMERIC" if number is not None else "CATEGORICAL",
                "source": "EVAL", "environment": None if env is None else str(env)}
    return None


def _score_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    if not records:
        return schema.empty("scores")
    return schema.conform(pd.DataFrame(records), "scores")
