"""An in-process Grafana Tempo query API, built to the published contract, for tests and benchmarks.

It serves finished OpenTelemetry SDK spans, encoded by the OTLP exporter's own encoder, the way
Tempo's query frontend writes its JSON (gogo ``jsonpb``: ids **base64** in trace-by-id bodies and
**hex** in search answers, search trace ids with their leading zeros stripped, 64-bit integers as
strings, enums by name, default values left out):

* ``GET /ready``, ``GET /api/echo``;
* ``GET /api/v2/traces/<id>`` (``{"trace": ...}``; a missing trace is an empty 200, a hidden one
  a 404 with an empty body; ``status: PARTIAL`` with a message for traces marked partial) and the
  v1 ``GET /api/traces/<id>`` (``{"batches": ...}``, 404 with an empty body when missing);
  ``v2=False`` makes the server one without the v2 routes (plain-text 404);
* ``GET /api/search`` (``q`` TraceQL, ``start``/``end`` unix seconds, ``limit`` default 20,
  ``spss`` default 3 max 100): matching traces overlapping the range, most recent first, with
  ``spanSets`` and the deprecated ``spanSet``; a range over ``max_search_s`` is refused with
  Tempo's 400 text;
* ``GET /api/search/tags``, ``/api/v2/search/tags``, ``/api/search/tag/<tag>/values``,
  ``/api/v2/search/tag/<ident>/values``;
* ``GET /api/metrics/query_range`` (``start``/``end`` in unix seconds, nanoseconds or RFC3339,
  ``step`` a Go duration): the range aligned to the step with one extra interval before it,
  intervals ``(t - step, t]`` labelled by their end, ``__name__`` on ungrouped series; a range
  over ``max_metrics_s`` is refused.

Auth as a gateway in front of Tempo would do it (Basic or bearer, when configured) and tenants
by ``X-Scope-OrgID`` (``org_id`` set: a request without it gets 401 ``no org id``, another tenant
sees an empty store). Switches, each a queued fault for the next matching requests (``path`` is
a prefix): :meth:`rate_limit`, :meth:`server_error`, :meth:`slow`, :meth:`truncate`,
:meth:`malformed_page`, :meth:`malformed_spans`; plus :meth:`partial`, :meth:`hide`,
:meth:`lose` for single traces and ``latency_s`` per request. Every request lands in
``requests``.
"""

from __future__ import annotations

import base64
import copy
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import orjson
import pandas as pd
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

from . import traceql
from .served import Answer, Fault, RecordingHandler, RequestRecord, ServedDouble

MAX_LIMIT = 262144
MAX_SPSS = 100


@dataclass
class _Trace:
    trace_id: str  # 32 hex
    spans: list[traceql.Span]
    resource_spans: list[dict[str, Any]]  # jsonpb, ids base64
    start_ns: int
    end_ns: int
    root_service: str
    root_name: str
    body_v2: bytes | None = None
    body_v1: bytes | None = None


#: first span of a trace -> (the trace's spans, its served form); finished spans never change
_BUILT: weakref.WeakKeyDictionary[Any, tuple[tuple[weakref.ref, ...], _Trace]] = \
    weakref.WeakKeyDictionary()


class _BadRequest(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for whole seconds: ``168h0m0s``, ``5m0s``, ``30s``."""
    s = int(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


def _hex_stripped(trace_id: str) -> str:
    return trace_id.lstrip("0") or "0"


def _status(code: Any) -> str:
    name = getattr(code, "name", str(code))
    return {"ERROR": "error", "OK": "ok"}.get(name, "unset")


def _kind(kind: Any) -> str:
    return getattr(kind, "name", "INTERNAL").lower()


def _any_value(v: Any) -> dict[str, Any]:
    if v is None:
        return {}
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, (list, tuple)):
        return {"arrayValue": {"values": [_any_value(x) for x in v]}}
    return {"stringValue": str(v)}


def _type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "string"


class TempoDouble(ServedDouble):
    """The server; use as a context manager or call :meth:`start` / :meth:`stop`."""

    path_is_prefix = True
    thread_name = "tempo-double"

    def __init__(self, spans: Iterable[Any] = (), *, org_id: str | None = None,
                 username: str | None = None, password: str | None = None,
                 token: str | None = None, max_search_s: float = 168 * 3600,
                 max_metrics_s: float = 24 * 3600, v2: bool = True,
                 left_pad_ids: bool = False, latency_s: float = 0.0) -> None:
        self.org_id = org_id
        self.username, self.password, self.token = username, password, token
        self.max_search_s = max_search_s
        self.max_metrics_s = max_metrics_s
        self.v2 = v2
        self.left_pad_ids = left_pad_ids
        #: set to a message to answer every TraceQL metrics query PARTIAL with it
        self.partial_metrics: str | None = None
        self._partial: dict[str, int] = {}
        self._hidden: set[str] = set()
        self._lost: set[str] = set()
        self._init_served(latency_s)
        self._traces: dict[str, _Trace] = {}
        self.set_spans(spans)

    # ---- data ------------------------------------------------------------------------------------

    def set_spans(self, spans: Iterable[Any]) -> None:
        """Replace what the server holds with these finished ``ReadableSpan`` s."""
        by_trace: dict[int, list[Any]] = {}
        for sp in spans:
            by_trace.setdefault(sp.context.trace_id, []).append(sp)
        traces = {}
        for tid, group in by_trace.items():
            t = self._trace(format(tid, "032x"), group)
            traces[t.trace_id] = t
        with self._lock:
            self._traces = traces

    def add_spans(self, spans: Iterable[Any]) -> None:
        """Add spans (whole traces) to what the server holds."""
        by_trace: dict[int, list[Any]] = {}
        for sp in spans:
            by_trace.setdefault(sp.context.trace_id, []).append(sp)
        with self._lock:
            for tid, group in by_trace.items():
                t = self._trace(format(tid, "032x"), group)
                self._traces[t.trace_id] = t

    @staticmethod
    def _trace(trace_id: str, group: Sequence[Any]) -> _Trace:
        """The served form of one trace's spans; built once for the same span objects, which
        doubles over one dataset (a test module's several servers) share: a ``_Trace`` never
        changes after it is built but for the bodies it caches, which its spans alone decide."""
        known = _BUILT.get(group[0])
        if known is not None and len(known[0]) == len(group) and all(
                ref() is sp for ref, sp in zip(known[0], group)):
            return known[1]
        t = TempoDouble._build(trace_id, group)
        _BUILT[group[0]] = (tuple(weakref.ref(sp) for sp in group), t)
        return t

    @staticmethod
    def _build(trace_id: str, group: Sequence[Any]) -> _Trace:
        ids = {format(sp.context.span_id, "016x") for sp in group}
        spans = []
        for sp in group:
            parent = format(sp.parent.span_id, "016x") if sp.parent else None
            spans.append(traceql.Span(
                trace_id=trace_id, span_id=format(sp.context.span_id, "016x"), parent=parent,
                is_root=parent is None or parent not in ids, name=sp.name, kind=_kind(sp.kind),
                status=_status(sp.status.status_code), status_message=sp.status.description or "",
                start_ns=int(sp.start_time), end_ns=int(sp.end_time or sp.start_time),
                attrs=dict(sp.attributes or {}),
                resource=dict(sp.resource.attributes) if sp.resource is not None else {}))
        body = json_format.MessageToDict(encode_spans(list(group)))
        roots = sorted((s for s in spans if s.is_root), key=lambda s: s.start_ns)
        root = roots[0] if roots else None
        return _Trace(trace_id=trace_id, spans=spans, resource_spans=body["resourceSpans"],
                      start_ns=min(s.start_ns for s in spans),
                      end_ns=max(s.end_ns for s in spans),
                      root_service=str(root.resource.get("service.name", "")) if root else "",
                      root_name=root.name if root else "<root span not yet received>")

    @property
    def trace_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._traces)

    def partial(self, trace_id: str, keep: int = 1) -> None:
        """Answer this trace as ``PARTIAL`` (too large), with only its first ``keep`` spans."""
        with self._lock:
            self._partial[trace_id] = keep

    def hide(self, trace_id: str) -> None:
        """Answer this trace by id with 404 and an empty body (a redacted trace)."""
        with self._lock:
            self._hidden.add(trace_id)

    def lose(self, trace_id: str) -> None:
        """Search and metrics still see this trace, fetching it by id finds nothing."""
        with self._lock:
            self._lost.add(trace_id)

    def env(self) -> dict[str, str]:
        """The ``TEMPO_*`` variables a client needs to reach this double."""
        env = {"TEMPO_URL": self.base_url}
        if self.org_id:
            env["TEMPO_ORG_ID"] = self.org_id
        if self.username:
            env["TEMPO_USERNAME"], env["TEMPO_PASSWORD"] = self.username, self.password or ""
        if self.token:
            env["TEMPO_TOKEN"] = self.token
        return env

    def source(self, **kwargs: Any) -> Any:
        """A ``TempoSource`` pointed at this double (no progress bar unless asked)."""
        from workbench.sources.tempo import TempoSource

        kwargs.setdefault("progress", False)
        env = self.env()
        return TempoSource(env["TEMPO_URL"], org_id=env.get("TEMPO_ORG_ID"),
                           username=env.get("TEMPO_USERNAME"),
                           password=env.get("TEMPO_PASSWORD"), token=env.get("TEMPO_TOKEN"),
                           **kwargs)

    # ---- switches --------------------------------------------------------------------------------

    def rate_limit(self, times: int = 1, *, retry_after: int = 1, path: str | None = None,
                   after: int = 0) -> None:
        """429 with ``Retry-After``, as a gateway in front of Tempo answers."""
        self._add("429", times, path, after, retry_after=retry_after)

    def malformed_page(self, times: int = 1, *, path: str | None = None, after: int = 0) -> None:
        """Valid JSON of the wrong shape."""
        self._add("malformed_page", times, path, after)

    def malformed_spans(self, times: int = 1, *, kinds: Sequence[str] = ("bad_id",),
                        path: str = "/api/", after: int = 0) -> None:
        """Break spans of the next trace bodies: one span per kind among ``missing_id``,
        ``empty_id``, ``bad_id`` (bad base64), ``bad_int`` (a non-numeric ``intValue``),
        ``end_before_start``, ``mixed_array``, ``duplicate_span_id``."""
        self._add("malformed_spans", times, path, after, kinds=tuple(kinds))

    # ---- endpoints -------------------------------------------------------------------------------

    def _visible(self, tenant_ok: bool) -> dict[str, _Trace]:
        with self._lock:
            return self._traces if tenant_ok else {}

    def trace_body(self, trace_id: str, v2: bool, tenant_ok: bool,
                   fault: Fault | None) -> tuple[int, bytes]:
        tid = _trace_id_param(trace_id)
        with self._lock:
            hidden, lost, keep = tid in self._hidden, tid in self._lost, self._partial.get(tid)
        t = self._visible(tenant_ok).get(tid)
        if hidden:
            return 404, b""
        if t is None or lost:
            return (200, b'{"trace":{}}') if v2 else (404, b"")
        if keep is None and (fault is None or fault.kind != "malformed_spans"):
            cached = t.body_v2 if v2 else t.body_v1
            if cached is not None:
                return 200, cached
        rs = t.resource_spans
        if keep is not None or (fault is not None and fault.kind == "malformed_spans"):
            rs = copy.deepcopy(rs)
        if keep is not None:
            left = keep
            for r in rs:
                for ss in r.get("scopeSpans", []):
                    ss["spans"] = ss["spans"][:max(0, left)]
                    left -= len(ss["spans"])
        if fault is not None and fault.kind == "malformed_spans":
            _break(rs, fault.options["kinds"])
        if v2:
            payload: dict[str, Any] = {"trace": {"resourceSpans": rs}}
            if keep is not None:
                payload.update(status="PARTIAL", message="trace exceeds max size (max bytes: "
                                                          "5000000), reduce size to fetch")
            body = orjson.dumps(payload)
        else:
            body = orjson.dumps({"batches": rs})
        if keep is None and fault is None:
            if v2:
                t.body_v2 = body
            else:
                t.body_v1 = body
        return 200, body

    def search(self, q: dict[str, list[str]], tenant_ok: bool) -> dict[str, Any]:
        if "q" in q and "tags" in q:
            raise _BadRequest("invalid request: can't specify tags and q in the same query")
        if "tags" in q:
            raise _BadRequest("tag-based search is not served by this double")
        query = traceql.parse(q.get("q", ["{}"])[0])
        if query.function is not None:
            raise _BadRequest("invalid TraceQL query: metrics queries are not searches")
        limit = _int(q, "limit", 20)
        spss = _int(q, "spss", 3)
        if limit > MAX_LIMIT:
            raise _BadRequest(f"limit {limit} exceeds max limit {MAX_LIMIT}")
        if spss > MAX_SPSS:
            raise _BadRequest(f"spans per span set exceeds {MAX_SPSS}. received {spss}")
        start, end = _int(q, "start", 0), _int(q, "end", 0)
        if start or end:
            if start >= end:
                raise _BadRequest(f"http parameter start must be before end. received "
                                  f"start={start} end={end}")
            if end - start > self.max_search_s:
                raise _BadRequest(f"range specified by start and end exceeds "
                                  f"{go_duration(self.max_search_s)}. received start={start} "
                                  f"end={end}")
        lo, hi = start * 10**9, end * 10**9
        hits = []
        for t in self._visible(tenant_ok).values():
            if (start or end) and not (t.start_ns <= hi and t.end_ns >= lo):
                continue
            matched = [s for s in t.spans if query.match(s)]
            if matched:
                hits.append((t, matched))
        hits.sort(key=lambda h: h[0].start_ns, reverse=True)
        traces = []
        for t, matched in hits[:limit]:
            spans = [{"spanID": s.span_id, "name": s.name, "startTimeUnixNano": str(s.start_ns),
                      "durationNanos": str(s.end_ns - s.start_ns)}
                     for s in sorted(matched, key=lambda s: s.start_ns)[:spss]]
            span_set = {"spans": spans, "matched": len(matched)}
            entry: dict[str, Any] = {
                "traceID": t.trace_id if self.left_pad_ids else _hex_stripped(t.trace_id),
                "rootServiceName": t.root_service, "rootTraceName": t.root_name,
                "startTimeUnixNano": str(t.start_ns)}
            duration_ms = (t.end_ns - t.start_ns) // 10**6
            if duration_ms:
                entry["durationMs"] = int(duration_ms)
            entry["spanSet"] = span_set
            entry["spanSets"] = [span_set]
            traces.append(entry)
        inspected = sum(len(t.spans) for t in self._visible(tenant_ok).values())
        return {"traces": traces, "metrics": {"inspectedTraces": len(self._visible(tenant_ok)),
                                              "inspectedBytes": str(inspected * 400),
                                              "completedJobs": 1, "totalJobs": 1}}

    def query_range(self, q: dict[str, list[str]], tenant_ok: bool) -> dict[str, Any]:
        if "q" not in q:
            raise _BadRequest("invalid TraceQL query: empty query")
        query = traceql.parse(q["q"][0])
        if query.function is None:
            raise _BadRequest("invalid TraceQL query: a metrics query needs a metrics function")
        if ("start" in q) != ("end" in q):
            raise _BadRequest("only one of start and end provided: must provide both or neither")
        start, end = _timestamp(q["start"][0]), _timestamp(q["end"][0])
        if end <= start:
            raise _BadRequest("end must be greater than start")
        if (end - start) > self.max_metrics_s * 10**9:
            raise _BadRequest(f"range specified by start and end exceeds "
                              f"{go_duration(self.max_metrics_s)}. received start={start} "
                              f"end={end}")
        step_text = q.get("step", [""])[0]
        step = int(_go_seconds(step_text) * 10**9) if step_text else \
            max(10**9, (end - start) // 240)
        if step <= 0:
            raise _BadRequest(f"invalid step {step_text!r}")
        start -= start % step
        end += (step - end % step) % step
        start -= step
        n = (end - start) // step
        series: dict[tuple[Any, ...], list[list[float]]] = {}
        for t in self._visible(tenant_ok).values():
            for s in t.spans:
                if not (start < s.start_ns <= end) or not query.match(s):
                    continue
                i = (s.start_ns - start - 1) // step
                key = tuple(s.field(b) for b in query.by)
                cells = series.setdefault(key, [[] for _ in range(n)])
                if query.function in ("count_over_time", "rate"):
                    cells[i].append(1.0)
                else:
                    v = traceql.numeric(s, query.argument or "")
                    if v is not None:
                        cells[i].append(v)
        out = []
        for key, cells in series.items():
            if query.by:
                labels = [{"key": b, "value": _any_value(v)} for b, v in zip(query.by, key)]
            else:
                labels = [{"key": "__name__", "value": {"stringValue": query.function}}]
            samples = []
            for i, c in enumerate(cells):
                if query.function in ("count_over_time", "rate"):
                    v = float(len(c)) / (step / 1e9 if query.function == "rate" else 1.0)
                elif not c:
                    continue
                else:
                    v = {"sum_over_time": sum(c), "min_over_time": min(c),
                         "max_over_time": max(c), "avg_over_time": sum(c) / len(c)}[
                        query.function]
                samples.append({"timestampMs": str((start + (i + 1) * step) // 10**6),
                                "value": v})
            if samples:
                out.append({"labels": labels, "samples": samples})
        answer: dict[str, Any] = {"series": out, "metrics": {"inspectedSpans": str(
            sum(len(t.spans) for t in self._visible(tenant_ok).values())), "totalJobs": 1,
            "completedJobs": 1}}
        if self.partial_metrics:
            answer.update(status="PARTIAL", message=self.partial_metrics)
        return answer

    def _attributes(self, tenant_ok: bool) -> dict[str, dict[str, set[Any]]]:
        scopes: dict[str, dict[str, set[Any]]] = {"resource": {}, "span": {}}
        for t in self._visible(tenant_ok).values():
            for s in t.spans:
                for k, v in s.resource.items():
                    scopes["resource"].setdefault(k, set()).add(v if not isinstance(
                        v, (list, tuple)) else None)
                for k, v in s.attrs.items():
                    scopes["span"].setdefault(k, set()).add(v if not isinstance(
                        v, (list, tuple)) else None)
        return scopes

    def tags(self, q: dict[str, list[str]], tenant_ok: bool, v2: bool) -> dict[str, Any]:
        scope = q.get("scope", [""])[0]
        if scope and scope not in ("resource", "span", "intrinsic", "event", "link",
                                   "instrumentation", "all"):
            raise _BadRequest(f"invalid scope: {scope}")
        attrs = self._attributes(tenant_ok)
        intrinsic = ["duration", "kind", "name", "rootName", "rootServiceName", "status",
                     "statusMessage", "traceDuration"]
        if not v2:
            names = set()
            for sc in ("resource", "span"):
                if scope in ("", "all", sc):
                    names |= set(attrs[sc])
            if scope == "intrinsic":
                names = set(intrinsic)
            return {"tagNames": sorted(names), "metrics": {"inspectedBytes": "1000"}}
        scopes = []
        for sc in ("resource", "span"):
            if scope in ("", "all", sc):
                scopes.append({"name": sc, "tags": sorted(attrs[sc])})
        if scope in ("", "all", "intrinsic"):
            scopes.append({"name": "intrinsic", "tags": intrinsic})
        return {"scopes": scopes, "metrics": {"inspectedBytes": "1000"}}

    def tag_values(self, tag: str, tenant_ok: bool, v2: bool) -> dict[str, Any]:
        attrs = self._attributes(tenant_ok)
        if v2:
            if tag.startswith("resource."):
                values = attrs["resource"].get(tag[9:], set())
            elif tag.startswith("span."):
                values = attrs["span"].get(tag[5:], set())
            elif tag.startswith("."):
                values = attrs["span"].get(tag[1:], set()) | attrs["resource"].get(tag[1:], set())
            else:
                raise _BadRequest(f"invalid TraceQL identifier {tag!r}")
            return {"tagValues": [{"type": _type_name(v), "value": str(v) if not isinstance(
                v, bool) else str(v).lower()} for v in sorted(
                (v for v in values if v is not None), key=str)],
                "metrics": {"inspectedBytes": "1000"}}
        values = attrs["span"].get(tag, set()) | attrs["resource"].get(tag, set())
        return {"tagValues": sorted(str(v) for v in values if v is not None),
                "metrics": {"inspectedBytes": "1000"}}


def _int(q: dict[str, list[str]], name: str, default: int) -> int:
    if name not in q:
        return default
    try:
        return int(q[name][0])
    except ValueError:
        raise _BadRequest(f"invalid {name}: {q[name][0]!r} is not a number") from None


def _go_seconds(text: str) -> float:
    import re

    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise _BadRequest(f"invalid duration {text!r}")
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    return sum(float(a) * units[b] for a, b in parts)


def _timestamp(text: str) -> int:
    """Unix seconds, unix nanoseconds or RFC3339, as the TraceQL metrics API takes them."""
    if text.lstrip("-").isdigit():
        n = int(text)
        return n * 10**9 if n < 10**12 else n
    try:
        return pd.Timestamp(text).value
    except ValueError:
        raise _BadRequest(f"invalid time {text!r}") from None


def _trace_id_param(text: str) -> str:
    t = unquote(text).strip().lower()
    if not t or len(t) > 32 or any(c not in "0123456789abcdef" for c in t):
        raise _BadRequest("invalid trace id")
    return t.rjust(32, "0")


def _break(rs: list[dict[str, Any]], kinds: Sequence[str]) -> None:
    spans = [sp for r in rs for ss in r.get("scopeSpans", []) for sp in ss.get("spans", [])]
    for kind, sp in zip(kinds, spans):
        if kind == "missing_id":
            sp.pop("spanId", None)
        elif kind == "empty_id":
            sp["traceId"] = ""
        elif kind == "bad_id":
            sp["spanId"] = "%%not-base64%%"
        elif kind == "bad_int":
            sp.setdefault("attributes", []).append(
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "many"}})
        elif kind == "end_before_start":
            sp["endTimeUnixNano"] = str(int(sp["startTimeUnixNano"]) - 10**9)
        elif kind == "mixed_array":
            sp.setdefault("attributes", []).append({"key": "tag.tags", "value": {"arrayValue": {
                "values": [{"stringValue": "a"}, {"intValue": "1"}]}}})
        elif kind == "duplicate_span_id":
            twin = copy.deepcopy(sp)
            twin["name"] = "duplicate of " + str(sp.get("name"))
            rs[0]["scopeSpans"][0]["spans"].append(twin)
        else:
            raise ValueError(f"unknown malformed kind {kind!r}")


class _Handler(RecordingHandler):
    double: TempoDouble

    def route(self, rec: RequestRecord) -> Answer:
        d = self.double
        path = rec.path
        if path == "/ready":
            return 200, b"ready", "text/plain", {}
        auth = self._auth_error()
        if auth:
            return 401, auth.encode(), "text/plain", {}
        tenant = rec.headers.get("x-scope-orgid")
        if d.org_id and not tenant:
            return 401, b"no org id\n", "text/plain; charset=utf-8", {}
        tenant_ok = d.org_id is None or tenant == d.org_id
        fault = d._take_fault(path)
        if fault and fault.kind == "429":
            return 429, b"Too Many Requests\n", "text/plain", {
                "Retry-After": str(fault.options["retry_after"])}
        if fault and fault.kind == "5xx":
            return fault.options["status"], b"upstream connect error or disconnect/reset " \
                                            b"before headers\n", "text/plain", {}
        if fault and fault.kind == "slow":
            time.sleep(fault.options["delay_s"])
        try:
            status, body = self._answer(rec, tenant_ok, fault)
        except traceql.BadQuery as exc:
            msg = str(exc)
            return 400, (msg if msg.startswith("invalid") else
                         f"invalid TraceQL query: {msg}").encode(), "text/plain", {}
        except _BadRequest as exc:
            return 400, exc.message.encode(), "text/plain", {}
        if status == 404:
            return 404, body, "text/plain; charset=utf-8", {}
        if fault and fault.kind == "malformed_page":
            body = orjson.dumps({"trace": "unavailable", "traces": "unavailable",
                                 "series": "unavailable"})
        if fault and fault.kind == "truncate":
            body = body[: max(1, len(body) // 2)]
        return status, body, "application/json", {}

    def _answer(self, rec: RequestRecord, tenant_ok: bool,
                fault: Fault | None) -> tuple[int, bytes]:
        d = self.double
        path, q = rec.path, rec.params
        if path == "/api/echo":
            return 200, b"echo"
        if path.startswith("/api/v2/traces/"):
            if not d.v2:
                return 404, b"404 page not found\n"
            return d.trace_body(path[len("/api/v2/traces/"):], True, tenant_ok, fault)
        if path.startswith("/api/traces/"):
            return d.trace_body(path[len("/api/traces/"):], False, tenant_ok, fault)
        if path == "/api/search":
            return 200, orjson.dumps(d.search(q, tenant_ok))
        if path == "/api/metrics/query_range":
            return 200, orjson.dumps(d.query_range(q, tenant_ok))
        if path == "/api/search/tags":
            return 200, orjson.dumps(d.tags(q, tenant_ok, v2=False))
        if path == "/api/v2/search/tags":
            if not d.v2:
                return 404, b"404 page not found\n"
            return 200, orjson.dumps(d.tags(q, tenant_ok, v2=True))
        if path.startswith("/api/v2/search/tag/") and path.endswith("/values"):
            if not d.v2:
                return 404, b"404 page not found\n"
            tag = unquote(path[len("/api/v2/search/tag/"):-len("/values")])
            return 200, orjson.dumps(d.tag_values(tag, tenant_ok, v2=True))
        if path.startswith("/api/search/tag/") and path.endswith("/values"):
            tag = unquote(path[len("/api/search/tag/"):-len("/values")])
            return 200, orjson.dumps(d.tag_values(tag, tenant_ok, v2=False))
        return 404, b"404 page not found\n"

    def _auth_error(self) -> str | None:
        d = self.double
        header = self.headers.get("Authorization") or ""
        scheme, _, cred = header.partition(" ")
        if d.username is not None:
            try:
                user, _, pw = base64.b64decode(cred).decode().partition(":")
            except ValueError:
                return "invalid credentials"
            if scheme.lower() != "basic" or user != d.username or pw != d.password:
                return "invalid credentials"
        if d.token is not None and (scheme.lower() != "bearer" or cred != d.token):
            return "invalid token"
        return None


TempoDouble.handler = _Handler
