"""The Prometheus metrics source: PromQL in, the canonical tidy ``metrics`` frame out.

Built on ``prometheus-api-client`` (``PrometheusConnect``) and configured from the environment
(``PROMETHEUS_URL``, optional ``PROMETHEUS_USERNAME``/``PROMETHEUS_PASSWORD``, ``PROMETHEUS_TOKEN``,
``PROMETHEUS_HEADERS`` as ``k=v,k2=v2`` or JSON; see :mod:`workbench.sources._prom_config`).

Aggregation is pushed down to PromQL; what comes back is small and tidy: one row per sample with
``timestamp``, ``metric`` (the alias given as ``name``, else ``__name__``), ``value`` (float64, NaN
and Inf kept) and one string column per label. A long range is split on its step grid into chunks
of at most 11,001 points (Prometheus's limit) fetched concurrently, without gaps or duplicates.

Every request has a timeout of at most 10 s (also sent to the server as its evaluation timeout);
connection failures and 429/502/503/504 are retried with a short backoff (``Retry-After`` honoured,
capped), read timeouts are not, so a slow server costs at most ``timeout`` per attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util.retry import Retry

from workbench import schema
from workbench.errors import ConfigError, SourceError, SourceQueryError
from workbench.sources._prom_config import PrometheusSettings
from workbench.sources._prom_errors import translate
from workbench.sources._prom_frames import result_to_frame
from workbench.sources._promql_range import (
    MAX_POINTS,
    Chunk,
    choose_step,
    parse_step,
    plan_chunks,
    to_epoch_s,
)

__all__ = ["MAX_TIMEOUT_S", "PrometheusSource"]

#: The ceiling on one request's timeout (the project's failure rules).
MAX_TIMEOUT_S = 10.0
#: A server's ``Retry-After`` is honoured up to this many seconds.
MAX_RETRY_AFTER_S = 5.0

_CAUGHT = (PrometheusApiClientException, requests.exceptions.RequestException, KeyError,
           TypeError)


class _CappedRetry(Retry):
    """urllib3 ``Retry`` that honours ``Retry-After`` but never sleeps longer than the cap."""

    def get_retry_after(self, response: Any) -> float | None:
        after = super().get_retry_after(response)
        return None if after is None else min(after, MAX_RETRY_AFTER_S)


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
        retry = _CappedRetry(total=retries, connect=retries, read=0, status=retries, other=0,
                             backoff_factor=0.25, status_forcelist=(429, 502, 503, 504),
                             raise_on_status=False, respect_retry_after_header=True)
        self._client = PrometheusConnect(
            url=self._settings.url, headers=dict(self._settings.headers) or None,
            auth=self._settings.auth, retry=retry, timeout=self.timeout,
            disable_ssl=not verify_tls)

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

    def _call(self, promql: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
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
        result = self._call(promql, self._client.custom_query, promql, params=params)
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
                futures = [pool.submit(self._fetch, promql, c) for c in chunks]
                try:
                    results = [f.result() for f in futures]
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
        return result_to_frame(_merge_series(results), promql, name)

    def _fetch(self, promql: str, chunk: Chunk) -> list[dict]:
        return self._call(
            promql, self._client.custom_query_range, promql,
            start_time=datetime.fromtimestamp(chunk.start, tz=timezone.utc),
            end_time=datetime.fromtimestamp(chunk.end, tz=timezone.utc),
            step=str(chunk.step), params=self._params())

    def parse_problems(self, exprs: Mapping[str, str]) -> dict[str, str] | None:
        """``{name: parser message}`` for the expressions the server's PromQL parser rejects;
        None when the server gives no verdict (unreachable, refused, timed out).

        Each is evaluated at Unix time 1, where no data exists, so it costs the server a parse
        and nothing more.
        """
        found: dict[str, str] = {}
        for name, expr in exprs.items():
            try:
                self.query(expr, at=1)
            except SourceQueryError as exc:
                found[name] = _parser_message(str(exc))
            except (SourceError, ConfigError):
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


def _parser_message(text: str) -> str:
    """The parser's own words out of a rejected query's message (the JSON ``error`` field)."""
    import json

    start = text.find("{")
    if start >= 0:
        try:
            return str(json.loads(text[start:]).get("error") or text)
        except (ValueError, AttributeError):
            pass
    return text


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
