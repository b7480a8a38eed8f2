"""An in-process Langfuse public API double, built to the published contract, for tests and
benchmarks.

It stores Langfuse-native records: observations as Langfuse's OTel ingestion makes them from
OpenTelemetry spans (:mod:`langfuse_ingest`; build one with :meth:`LangfuseDouble.from_spans` or,
from a simulated dataset, :func:`double_from_dataset`), and scores as the judges wrote them.
It serves them in Langfuse's shapes:

* ``GET /api/public/health`` (no auth);
* ``GET /api/public/v2/observations``: newest first, base64 JSON cursor
  ``{lastStartTimeTo,lastTraceId,lastId}``, ``limit`` default 50 max 1000, limit+1 fetch, field
  groups (unknown ones dropped, unrequested ones absent), filter JSON overriding plain params;
* ``GET /api/public/v3/scores`` (base64url cursor, limit <= 100, ``subject`` group);
* ``GET /api/public/v2/metrics?query=<json>`` (``<agg>_<measure>`` columns, ``time_dimension``,
  counts as strings);
* ``GET /api/public/score-configs`` (page-based, ``meta``): the project's score configs; a score
  whose name and data type match a config carries its ``configId``, as scores written against a
  config do;
* legacy page-based ``/traces``, ``/observations``, ``/v2/scores`` with ``meta`` and
  ``_deprecation``; with ``legacy=True`` the v2/v3 reads answer 404 like a Langfuse v3 server.

Switches (each a queued fault for the next matching requests): :meth:`rate_limit`,
:meth:`server_error`, :meth:`slow`, :meth:`truncate` (a cut-off body), :meth:`malformed_page`,
:meth:`malformed_items`, :meth:`short_page` (a page that comes back short or empty yet carries
a cursor, as Langfuse documents); two standing faults, :meth:`drop_rows` and
:meth:`drop_scores` (observations or scores silently missing from the pages while the Metrics
API still counts them); plus ``latency_s`` per request. Every request lands in ``requests``.
"""

from __future__ import annotations

import base64
import bisect
import math
import time
from typing import Any

import orjson
import pandas as pd

from . import langfuse_ingest as ingest
from . import langfuse_query as lq
from . import langfuse_shapes as shapes
from .served import Answer, Fault, RecordingHandler, RequestRecord, ServedDouble

_V4_ONLY = ("The observations v2 API is only available in a Langfuse v4 write mode. Set "
            "LANGFUSE_MIGRATION_V4_ALLOW_PREVIEW_OPT_IN=true to opt in.")
_DEPRECATION = {
    "message": "This endpoint is deprecated and will be removed from Langfuse Cloud.",
    "replacement": "GET /api/public/v2/observations",
    "docsUrl": "https://langfuse.com/docs/api-and-data-platform/features/public-api.md",
    "sunsetAt": "2026-11-16",
}
_BAD_CREDENTIALS = "Invalid credentials. Confirm that you've configured the correct host."


class LangfuseDouble(ServedDouble):
    """The server; use as a context manager or call :meth:`start` / :meth:`stop`.

    ``records``: Langfuse-native observation records (:func:`langfuse_ingest.ingest`);
    ``scores``: a canonical scores frame (the judges' rows).
    """

    thread_name = "langfuse-double"

    def __init__(self, records: list[dict[str, Any]], scores: pd.DataFrame | None = None, *,
                 public_key: str = "pk-lf-double-0001", secret_key: str = "sk-lf-double-secret",
                 legacy: bool = False, latency_s: float = 0.0,
                 metrics_numbers_as_strings: bool = False,
                 score_configs: list[dict[str, Any]] | None = None) -> None:
        self.public_key = public_key
        self.secret_key = secret_key
        self.legacy = legacy
        self.metrics_numbers_as_strings = metrics_numbers_as_strings
        self._hidden: frozenset[str] = frozenset()
        self._hidden_scores: frozenset[str] = frozenset()
        self._init_served(latency_s)
        self.score_configs = [shapes.score_config(c) for c in score_configs or []]
        self.set_data(records, scores)

    @classmethod
    def from_spans(cls, spans: Any, scores: pd.DataFrame | None = None, *,
                   prices: Any = ingest.DEFAULT_PRICES, **kwargs: Any) -> LangfuseDouble:
        """A double holding what Langfuse makes of these OpenTelemetry spans; ``prices``: the
        project's model table (Langfuse computes the cost of spans that carry none from it)."""
        return cls(ingest.ingest(spans, prices), scores, **kwargs)

    # ---- data ------------------------------------------------------------------------------------

    def set_data(self, records: list[dict[str, Any]], scores: pd.DataFrame | None = None) -> None:
        """Replace what the server holds (e.g. to add newer observations between two pulls)."""
        from workbench import schema

        if isinstance(records, pd.DataFrame):
            raise TypeError("the double serves Langfuse-native records, not canonical frames: "
                            "build it with LangfuseDouble.from_spans or double_from_dataset")
        sc = schema.conform(scores if scores is not None else schema.empty("scores"), "scores")
        keys = [(lq.us(pd.Timestamp(g["core"]["startTime"])), g["core"]["traceId"] or "",
                 g["core"]["id"]) for g in records]
        order = sorted(range(len(keys)), key=keys.__getitem__)
        score_recs = shapes.score_records(sc)
        config_of = shapes.config_ids(self.score_configs)
        for r in score_recs:
            r["config_id"] = config_of.get((r["name"], r["data_type"]))
        skeys = [(lq.us(r["timestamp"]), r["score_id"]) for r in score_recs]
        sorder = sorted(range(len(skeys)), key=skeys.__getitem__)
        by_trace: dict[str, list[str]] = {}
        for r in score_recs:
            by_trace.setdefault(r["trace_id"], []).append(r["score_id"])
        traces = shapes.legacy_traces(records, by_trace)
        metrics = pd.DataFrame([ingest.metrics_row(g) for g in records]) if records else \
            pd.DataFrame(columns=["start_time"])
        with self._lock:
            self.records, self.scores = list(records), sc
            self._keys = [keys[i] for i in order]
            self._starts = [k[0] for k in self._keys]
            self._groups = [records[i] for i in order]
            self._json: list[dict[Any, orjson.Fragment]] = [{} for _ in order]
            self._skeys = [skeys[i] for i in sorder]
            self._scores = [score_recs[i] for i in sorder]
            self._traces = sorted(traces, key=lambda t: t["timestamp"], reverse=True)
            self._metrics_obs = metrics

    def source(self, **kwargs: Any) -> Any:
        """A ``LangfuseSource`` pointed at this double (no progress bar unless asked)."""
        from workbench.sources.langfuse import LangfuseSource

        kwargs.setdefault("progress", False)
        return LangfuseSource(self.base_url, self.public_key, self.secret_key, **kwargs)

    # ---- switches --------------------------------------------------------------------------------

    def rate_limit(self, times: int = 1, *, retry_after: int = 1, body: str = "new",
                   path: str | None = None, after: int = 0) -> None:
        """Answer 429 with Retry-After and X-RateLimit-* headers; ``body`` "new" (JSON) or "old"
        (plain text ``429 - rate limit exceeded``)."""
        self._add("429", times, path, after, retry_after=retry_after, body=body)

    def malformed_page(self, times: int = 1, *, path: str | None = None,
                       after: int = 0) -> None:
        """Send valid JSON of the wrong shape (``data`` is not a list)."""
        self._add("malformed_page", times, path, after)

    def malformed_items(self, times: int = 1, *, path: str | None = None,
                        after: int = 0) -> None:
        """Break one item per page: no ``id`` and an unparseable ``startTime``/``timestamp``."""
        self._add("malformed_items", times, path, after)

    def short_page(self, times: int = 1, *, keep: int = 0, path: str | None = None,
                   after: int = 0) -> None:
        """Answer with only the first ``keep`` rows of the page (0: none) yet with a cursor
        after the last row sent: the rest comes on the next page, for a client that follows it."""
        self._add("short_page", times, path, after, keep=keep)

    def drop_rows(self, share: float = 0.1, *, seed: int = 0) -> None:
        """From now on, leave ``share`` of the observations out of every v2 page (the cursor
        walks past them) while the Metrics API still counts them: a silent truncation."""
        import random

        ids = sorted(g["core"]["id"] for g in self._groups)
        r = random.Random(seed)
        with self._lock:
            self._hidden = frozenset(i for i in ids if r.random() < share)

    def drop_scores(self, share: float = 0.1, *, seed: int = 0) -> None:
        """From now on, leave ``share`` of the scores out of every v3 scores page (the cursor
        walks past them) while the Metrics API still counts them: a silent truncation."""
        import random

        r = random.Random(seed)
        with self._lock:
            self._hidden_scores = frozenset(s["score_id"] for s in self._scores
                                            if r.random() < share)

    @property
    def dropped_scores(self) -> frozenset[str]:
        """Ids of the scores :meth:`drop_scores` leaves out."""
        return self._hidden_scores

    @property
    def dropped(self) -> frozenset[str]:
        """Ids of the observations :meth:`drop_rows` leaves out."""
        return self._hidden

    def clear_faults(self) -> None:
        super().clear_faults()
        with self._lock:
            self._hidden = frozenset()
            self._hidden_scores = frozenset()

    # ---- endpoints -------------------------------------------------------------------------------

    def observations_v2(self, q: dict[str, list[str]],
                        fault: Fault | None = None) -> dict[str, Any]:
        if q.get("parseIoAsJson", ["false"])[0] == "true":
            raise lq.BadRequest("parseIoAsJson is no longer supported. Input/output fields are "
                                "always returned as raw strings.")
        limit = _int_param(q, "limit", 50)
        if not 0 <= limit <= 1000:
            raise lq.BadRequest("Invalid request data", error=[
                {"path": ["limit"], "message": "Number must be less than or equal to 1000"}])
        requested = {s.strip() for s in q.get("fields", ["core,basic"])[0].split(",")}
        wanted = tuple(g for g in shapes.FIELD_GROUPS if g in requested)
        wanted = wanted if "core" in wanted else ("core", *wanted)
        if "filter" in q:
            conds, use_params = lq.parse_filter(q["filter"][0]), False
        else:
            conds, use_params = lq.params_to_conditions(q), True
        lo, hi, rest = lq.time_bounds(conds, q, use_params)
        expand_keys = [k for k in q.get("expandMetadata", [""])[0].split(",") if k]
        # the server reads metadata in full once any key is named or io is asked for too
        expand = bool(expand_keys) or "io" in wanted
        with self._lock:
            keys, starts, groups, hidden = self._keys, self._starts, self._groups, self._hidden
            cache = self._json
        i_lo = bisect.bisect_left(starts, lo) if lo is not None else 0
        i_hi = bisect.bisect_left(starts, hi) if hi is not None else len(starts)
        if "cursor" in q:
            i_hi = min(i_hi, bisect.bisect_left(keys, lq.decode_obs_cursor(q["cursor"][0])))
        hits: list[int] = []
        i = i_hi - 1
        while i >= i_lo and len(hits) < limit + 1:
            if not rest or lq.row_matches(rest, groups[i]):
                hits.append(i)
            i -= 1
        page = hits[:limit]
        meta: dict[str, Any] = {}
        if len(hits) > limit and page:
            last = groups[page[-1]]["core"]
            meta["cursor"] = lq.encode_obs_cursor(last["startTime"], last["traceId"], last["id"])
        if fault is not None and fault.kind == "short_page" and page:
            page = page[:fault.options["keep"]]
            if page:
                last = groups[page[-1]]["core"]
                meta["cursor"] = lq.encode_obs_cursor(last["startTime"], last["traceId"],
                                                      last["id"])
            else:  # nothing sent: the cursor stands where this page would have begun
                top = keys[i_hi] if i_hi < len(keys) else (keys[-1][0] + 1, "", "")
                meta["cursor"] = lq.encode_obs_cursor(ingest.iso(top[0] * 1000), top[1],
                                                      top[2])
        shown = [j for j in page if groups[j]["core"]["id"] not in hidden]
        if fault is not None and fault.kind == "malformed_items":
            data: list[Any] = [shapes.project_v2(groups[j], wanted, expand) for j in shown]
        else:
            data = [_row(groups[j], cache[j], wanted, expand) for j in shown]
        return {"data": data, "meta": meta}

    def prepare(self, fields: str, expand: bool = False) -> None:
        """Serialise every row for ``fields`` now, so timing a pull measures the client."""
        wanted = tuple(g for g in shapes.FIELD_GROUPS if g in fields.split(","))
        wanted = wanted if "core" in wanted else ("core", *wanted)
        for g, cache in zip(self._groups, self._json):
            _row(g, cache, wanted, expand)

    def scores_v3(self, q: dict[str, list[str]]) -> dict[str, Any]:
        limit = _int_param(q, "limit", 50)
        if not 1 <= limit <= 100:
            raise lq.BadRequest("Invalid request data", error=[
                {"path": ["limit"], "message": "Number must be less than or equal to 100"}])
        fields = tuple(f for f in q.get("fields", [""])[0].split(",") if f)
        unknown = [f for f in fields if f not in ("details", "subject", "annotation")]
        if unknown:
            raise lq.BadRequest(f"Invalid fields: {','.join(unknown)}")
        lo = lq.us(lq.parse_ts(q["fromTimestamp"][0], "fromTimestamp")) \
            if "fromTimestamp" in q else None
        hi = lq.us(lq.parse_ts(q["toTimestamp"][0], "toTimestamp")) if "toTimestamp" in q else None
        sets = {k: set(q[p][0].split(",")) for k, p in (
            ("name", "name"), ("environment", "environment"), ("data_type", "dataType"),
            ("source", "source"), ("trace_id", "traceId")) if p in q}
        with self._lock:
            skeys, recs, hidden = self._skeys, self._scores, self._hidden_scores
        starts = [k[0] for k in skeys]
        i_lo = bisect.bisect_left(starts, lo) if lo is not None else 0
        i_hi = bisect.bisect_left(starts, hi) if hi is not None else len(starts)
        if "cursor" in q:
            i_hi = min(i_hi, bisect.bisect_left(skeys, lq.decode_score_cursor(q["cursor"][0])))
        hits: list[int] = []
        i = i_hi - 1
        while i >= i_lo and len(hits) < limit + 1:
            r = recs[i]
            if r["score_id"] in hidden:
                i -= 1
                continue
            if all(str(r[k]).upper() in {v.upper() for v in vals} for k, vals in sets.items()):
                hits.append(i)
            i -= 1
        page = hits[:limit]
        meta: dict[str, Any] = {"limit": limit}
        if len(hits) > limit and page:
            meta["cursor"] = lq.encode_score_cursor(*skeys[page[-1]])
        return {"data": [shapes.score_v3(recs[j], fields) for j in page], "meta": meta}

    def metrics_v2(self, q: dict[str, list[str]]) -> dict[str, Any]:
        if "query" not in q:
            raise lq.BadRequest("Invalid request data", error=[
                {"path": ["query"], "message": "Required"}])
        with self._lock:
            obs_m, scores = self._metrics_obs, self.scores
        return {"data": lq.run_metrics(q["query"][0], obs_m, scores,
                                       self.metrics_numbers_as_strings)}

    def score_configs_get(self, q: dict[str, list[str]]) -> dict[str, Any]:
        page = self._legacy_page(list(self.score_configs), q)
        page.pop("_deprecation")  # a current endpoint
        return page

    def _legacy_page(self, items: list[dict[str, Any]], q: dict[str, list[str]]) -> dict[str, Any]:
        page = _int_param(q, "page", 1)
        limit = _int_param(q, "limit", 50)
        if page < 1 or not 1 <= limit <= 100:
            raise lq.BadRequest("Invalid request data", error=[
                {"path": ["limit" if page >= 1 else "page"], "message": "out of range"}])
        total = len(items)
        return {"data": items[(page - 1) * limit: page * limit],
                "meta": {"page": page, "limit": limit, "totalItems": total,
                         "totalPages": math.ceil(total / limit) if total else 0},
                "_deprecation": _DEPRECATION}

    def legacy_observations(self, q: dict[str, list[str]]) -> dict[str, Any]:
        conds = lq.params_to_conditions({k: v for k, v in q.items() if k != "userId"})
        lo, hi, rest = lq.time_bounds(conds, q, True)
        with self._lock:
            starts, groups = self._starts, self._groups
        i_lo = bisect.bisect_left(starts, lo) if lo is not None else 0
        i_hi = bisect.bisect_left(starts, hi) if hi is not None else len(starts)
        items = [shapes.legacy_observation(groups[i]) for i in range(i_hi - 1, i_lo - 1, -1)
                 if not rest or lq.row_matches(rest, groups[i])]
        return self._legacy_page(items, q)

    def legacy_traces(self, q: dict[str, list[str]]) -> dict[str, Any]:
        lo = lq.parse_ts(q["fromTimestamp"][0], "fromTimestamp") if "fromTimestamp" in q else None
        hi = lq.parse_ts(q["toTimestamp"][0], "toTimestamp") if "toTimestamp" in q else None
        envs = set(q.get("environment", []))
        with self._lock:
            traces = self._traces
        items = [t for t in traces
                 if (lo is None or pd.Timestamp(t["timestamp"]) >= lo)
                 and (hi is None or pd.Timestamp(t["timestamp"]) < hi)
                 and (not envs or t["environment"] in envs)
                 and all(t[k] == q[k][0] for k in ("name", "userId", "sessionId") if k in q)]
        return self._legacy_page(items, q)

    def legacy_scores(self, q: dict[str, list[str]]) -> dict[str, Any]:
        lo = lq.us(lq.parse_ts(q["fromTimestamp"][0], "fromTimestamp")) \
            if "fromTimestamp" in q else None
        hi = lq.us(lq.parse_ts(q["toTimestamp"][0], "toTimestamp")) if "toTimestamp" in q else None
        with self._lock:
            skeys, recs = self._skeys, self._scores
        items = [shapes.score_legacy(recs[i]) for i in range(len(recs) - 1, -1, -1)
                 if (lo is None or skeys[i][0] >= lo) and (hi is None or skeys[i][0] < hi)
                 and all(recs[i][c] == q[p][0] for c, p in (("name", "name"),
                         ("environment", "environment"), ("trace_id", "traceId")) if p in q)]
        return self._legacy_page(items, q)


def _row(groups: dict[str, Any], cache: dict[Any, orjson.Fragment], wanted: tuple[str, ...],
         expand: bool) -> orjson.Fragment:
    """A record's v2 row as JSON, made once per field selection (records never change)."""
    key = (wanted, expand)
    row = cache.get(key)
    if row is None:
        row = cache[key] = orjson.Fragment(orjson.dumps(shapes.project_v2(groups, wanted,
                                                                          expand)))
    return row


def double_from_dataset(dataset: Any, *, prices: Any = ingest.DEFAULT_PRICES,
                        **kwargs: Any) -> LangfuseDouble:
    """A double holding a simulated dataset as Langfuse would: its spans through the OTel
    ingestion, its judges' scores. The spans are regenerated from the dataset's arguments when
    the dataset was generated without ``keep_spans``."""
    spans = dataset.spans
    if spans is None:
        from workbench.simulate import generate_spans

        args = dict(dataset.arguments)
        spans = generate_spans(**args)
    return LangfuseDouble.from_spans(spans, dataset.scores, prices=prices, **kwargs)


def _int_param(q: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return int(q[name][0]) if name in q else default
    except ValueError:
        raise lq.BadRequest("Invalid request data", error=[
            {"path": [name], "message": "Expected number"}]) from None


_V2_ROUTES = {"/api/public/v2/observations": "observations_v2",
              "/api/public/v3/scores": "scores_v3", "/api/public/v2/metrics": "metrics_v2"}
_LEGACY_ROUTES = {"/api/public/observations": "legacy_observations",
                  "/api/public/traces": "legacy_traces", "/api/public/v2/scores": "legacy_scores",
                  "/api/public/score-configs": "score_configs_get"}


class _Handler(RecordingHandler):
    double: LangfuseDouble

    def route(self, rec: RequestRecord) -> Answer:
        d = self.double
        if rec.path == "/api/public/health":
            return _json(200, {"status": "OK", "version": "4.16.0"})
        auth = self._auth_error()
        if auth:
            return _json(401, {"message": auth})
        fault = d._take_fault(rec.path)
        if fault and fault.kind == "429":
            return _rate_limited(fault.options)
        if fault and fault.kind == "5xx":
            return _json(fault.options["status"], {"message": "Internal Server Error",
                                                   "error": "Error"})
        if fault and fault.kind == "slow":
            time.sleep(fault.options["delay_s"])
        method = _V2_ROUTES.get(rec.path) or _LEGACY_ROUTES.get(rec.path)
        if method is None:
            return _json(404, {"message": "Route not found", "error": "LangfuseNotFoundError"})
        if d.legacy and rec.path in _V2_ROUTES:
            return _json(404, {"message": _V4_ONLY, "error": "LangfuseNotFoundError"})
        try:
            if method == "observations_v2":
                payload = d.observations_v2(rec.params, fault)
            else:
                payload = getattr(d, method)(rec.params)
        except lq.BadRequest as exc:
            return _json(exc.status, exc.body)
        if fault and fault.kind == "malformed_items" and payload["data"]:
            broken = dict(payload["data"][0])
            broken.pop("id", None)
            for k in ("startTime", "timestamp"):
                if k in broken:
                    broken[k] = "not-a-timestamp"
            payload["data"][0] = broken
        if fault and fault.kind == "malformed_page":
            payload = {"data": "unavailable", "meta": {}}
        status, body, ctype, headers = _json(200, payload)
        if fault and fault.kind == "truncate":
            body = body[: max(1, len(body) // 2)]
        return status, body, ctype, headers

    def _auth_error(self) -> str | None:
        header = self.headers.get("Authorization")
        if not header:
            return "No authorization header"
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic" or not token:
            return "Invalid authorization header"
        try:
            user, _, pw = base64.b64decode(token).decode().partition(":")
        except ValueError:
            return "Invalid authorization header"
        if user != self.double.public_key or pw != self.double.secret_key:
            return _BAD_CREDENTIALS
        return None

LangfuseDouble.handler = _Handler


def _json(status: int, payload: Any) -> tuple[int, bytes, str, dict[str, str]]:
    return status, orjson.dumps(payload), "application/json", {}


def _rate_limited(opts: dict[str, Any]) -> tuple[int, bytes, str, dict[str, str]]:
    retry = int(opts["retry_after"])
    reset = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=retry)
    headers = {"Retry-After": str(retry), "X-RateLimit-Limit": "10",
               "X-RateLimit-Remaining": "-1",
               # JS Date.toString(), as the real server sends it
               "X-RateLimit-Reset": reset.strftime("%a %b %d %Y %H:%M:%S GMT+0000 "
                                                   "(Coordinated Universal Time)")}
    if opts["body"] == "old":
        return 429, b"429 - rate limit exceeded", "text/plain", headers
    body = {"message": "Rate limit exceeded", "code": "rate_limited",
            "details": {"retryAfterSeconds": retry, "limit": 10, "remaining": 0,
                        "resetAt": reset.strftime("%Y-%m-%dT%H:%M:%S.000Z")}}
    return 429, orjson.dumps(body), "application/json", headers
