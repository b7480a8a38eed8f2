"""The Prometheus metrics source: PromQL in, the canonical tidy ``metrics`` frame out.

Speaks Prometheus's HTTP API over httpx (:mod:`workbench.sources._prom_http`) and is configured
from the environment (``PROMETHEUS_URL``, optional ``PROMETHEUS_USERNAME``/``PROMETHEUS_PASSWORD``,
``PROMETHEUS_TOKEN``, ``PROMETHEUS_HEADERS`` as ``k=v,k2=v2`` or JSON; see
:mod:`workbench.sources._prom_config`).

Aggregation is pushed down to PromQL; what comes back is small and tidy: one row per sample with
``timestamp``, ``metric`` (the alias given as ``name``, else ``__name__``), ``value`` (float64, NaN
and Inf kept) and one string column per label. A long range is split on its step grid into chunks
of at most 11,001 points (Prometheus's limit) fetched concurrently, without gaps or duplicates.

Every request has a timeout of at most 10 s (also sent to the server as its evaluation timeout)
and never outlives the active :class:`~workbench.deadline.Deadline` (a report's): the bound holds
for the whole request, so a server dripping its answer cannot hold a run. Connection failures and
429/502/503/504 are retried with a short backoff (``Retry-After`` honoured, capped), read timeouts
are not, so a slow server costs at most ``timeout`` per attempt. The threads fetching the chunks
of a long range see the caller's deadline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pandas as pd

from workbench import schema
from workbench.deadline import in_context
from workbench.errors import ConfigError
from workbench.sources._prom_config import PrometheusSettings
from workbench.sources._prom_errors import translate
from workbench.sources._prom_frames import result_to_frame
from workbench.sources._prom_http import MAX_RETRY_AFTER_S, PromClient, PromHTTPError
from workbench.sources._promql_range import (
    MAX_POINTS,
    Chunk,
    choose_step,
    parse_step,
    plan_chunks,
    to_epoch_s,
)

__all__ = ["MAX_RETRY_AFTER_S", "MAX_TIMEOUT_S", "PrometheusSource"]

#: The ceiling on one request's timeout (the project's failure rules).
MAX_TIMEOUT_S = 10.0

_CAUGHT = (PromHTTPError, httpx.HTTPError, httpx.InvalidURL, ValueError, KeyError, TypeError,
           AttributeError)


class PrometheusSource:
    """PromQL instant and range queries as canonical ``metrics`` frames.

    ``url`` defaults to ``$PROMETHEUS_URL``; ``timeout`` (seconds, at most 10) bounds every HTTP
    request; ``retries`` re-tries refused connections and 429/502/503/504 answers;
    ``max_workers`` bounds the threads fetching the chunks of one long range;
    ``max_points`` is the chunk size in points (11,001 is Prometheus's own limit).
    """

    name = "prometheus"

    def __init__(self, url: str | None = None, *, timeout: float = 10.0, retries: int = 2,
                 max_workers: int = 4, max_points: int = MAX_POINTS,
                 auth: tuple[str, str] | None = None, headers: Mapping[str, str] | None = None,
                 verify_tls: bool = True) -> None:
        if not 0 < float(timeout) <= MAX_TIMEOUT_S:
            raise ConfigError(f"timeout must be in (0, {MAX_TIMEOUT_S:g}] seconds, got {timeout}")
        if retries < 0:
            raise ConfigError(f"retries must be >= 0, got {retries}")
        if max_workers < 1:
            raise ConfigError(f"max_workers must be >= 1, got {max_workers}")
        if not 1 <= max_points <= MAX_POINTS:
            raise ConfigError(f"max_points must be in [1, {MAX_POINTS}], got {max_points}")
        self._settings = PrometheusSettings.resolve(url, auth=auth, headers=headers)
        self.timeout = float(timeout)
        self.max_workers = max_workers
        self.max_points = max_points
        self._client = PromClient(self._settings, timeout=self.timeout, retries=retries,
                                  verify_tls=verify_tls)

    @property
    def host(self) -> str:
        """``scheme://host:port`` of the server, safe to show."""
        return self._settings.host

    def __repr__(self) -> str:
        return f"PrometheusSource({self.host})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- queries -------------------------------------------------------------------------------

    def _params(self) -> dict[str, str]:
        # The server stops evaluating when the client would stop waiting anyway.
        return {"timeout": f"{self.timeout:g}s"}

    def _call(self, promql: str, path: str, params: dict[str, str]) -> Any:
        try:
            data = self._client.get(path, {"query": promql, **params})
            return data["result"]
        except _CAUGHT as exc:
            raise translate(exc, self.host, promql, self.timeout) from exc

    def query(self, promql: str, at: Any = None, name: str | None = None) -> pd.DataFrame:
        """Instant query at ``at`` (default: the server's now) -> canonical metrics frame.

        A vector gives one row per series, a scalar one row; a string result raises
        :class:`SourceQueryError` (see :mod:`workbench.sources._prom_frames`).
        """
        promql = _check_promql(promql)
        params = self._params()
        if at is not None:
            params["time"] = f"{to_epoch_s(at):.3f}"
        result = self._call(promql, "/api/v1/query", params)
        return result_to_frame(result, promql, name)

    def query_range(self, promql: str, start: Any, end: Any, step: Any = None,
                    name: str | None = None) -> pd.DataFrame:
        """Range query over ``[start, end]`` (both inclusive) -> canonical metrics frame.

        ``step`` is seconds, a Timedelta or ``"15s"``; when omitted it is chosen from the window
        (:func:`choose_step`, ~2,000-5,000 points). Windows beyond 11,001 points are split into
        chunks on the same grid and fetched on up to ``max_workers`` threads.
        """
        promql = _check_promql(promql)
        start_s, end_s = to_epoch_s(start), to_epoch_s(end)
        if end_s < start_s:
            raise ConfigError(f"end {end} is before start {start}")
        step_s = parse_step(step) if step is not None else choose_step(start_s, end_s)
        chunks = plan_chunks(start_s, end_s, step_s, self.max_points)
        if not chunks:
            return schema.empty("metrics")
        if len(chunks) == 1:
            results = [self._fetch(promql, chunks[0])]
        else:
            workers = min(self.max_workers, len(chunks))
            with ThreadPoolExecutor(max_workers=workers,
                                    thread_name_prefix="prometheus-range") as pool:
                futures = [pool.submit(in_context(self._fetch), promql, c) for c in chunks]
                try:
                    results = [f.result() for f in futures]
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
        return result_to_frame(_merge_series(results), promql, name)

    def _fetch(self, promql: str, chunk: Chunk) -> list[dict]:
        return self._call(promql, "/api/v1/query_range",
                          {"start": str(chunk.start), "end": str(chunk.end),
                           "step": str(chunk.step), **self._params()})

    def parse_problems(self, exprs: Mapping[str, str]) -> dict[str, str] | None:
        """``{name: parser message}`` for the expressions the server's PromQL parser rejects;
        None when the server gives no verdict (unreachable, refused, timed out).

        Each is evaluated at Unix time 1, where no data exists, so it costs the server a parse
        and nothing more; only a ``bad_data`` answer (the parser's) counts as a rejection.
        """
        found: dict[str, str] = {}
        for name, expr in exprs.items():
            try:
                self._client.get("/api/v1/query", {"query": expr, "time": "1",
                                                   **self._params()})
            except PromHTTPError as exc:
                try:
                    envelope = json.loads(exc.body)
                except ValueError:
                    return None
                if exc.status != 400 or envelope.get("errorType") != "bad_data":
                    return None
                found[name] = str(envelope.get("error") or exc.body)
            except _CAUGHT:
                return None
        return found

    def runbook_queries(self, runbook: Any, start: Any, end: Any,
                        step: Any = None) -> dict[str, pd.DataFrame]:
        """Run a runbook's ``prometheus:`` section over ``[start, end]``: ``{name: frame}``.

        ``runbook`` is a :class:`workbench.runbooks.Runbook` or a runbook name. Each frame's
        ``metric`` column is the query's name in the runbook. A runbook without the section
        gives ``{}``.
        """
        from workbench import runbooks

        rb = runbooks.load(runbook) if isinstance(runbook, str) else runbook
        return {name: self.query_range(expr, start, end, step=step, name=name)
                for name, expr in rb.prometheus.items()}


def _check_promql(promql: Any) -> str:
    if not isinstance(promql, str) or not promql.strip():
        raise ConfigError(f"a PromQL query must be a non-empty string, got {promql!r}")
    return promql.strip()


def _merge_series(results: list[Any]) -> list[dict]:
    """Join the chunks' matrices series by series, chunks in time order."""
    merged: dict[tuple, dict] = {}
    for result in results:
        if not result:
            continue
        if not isinstance(result, list) or not all(isinstance(s, dict) for s in result):
            return result  # not a matrix: let the frame builder name the shape
        for series in result:
            labels = series.get("metric") or {}
            key = tuple(sorted(labels.items()))
            if key not in merged:
                merged[key] = {"metric": labels, "values": []}
            merged[key]["values"].extend(series.get("values", []))
    return list(merged.values())
