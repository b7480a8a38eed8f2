"""Translate what the Prometheus HTTP client raises into the workbench error tree.

- :class:`~workbench.sources._prom_http.PromHTTPError` (a non-success answer, after retries): the
  body is kept as the server sent it, so a PromQL syntax error reads
  ``{"status":"error","errorType":"bad_data","error":"..."}``; 401/403 ->
  :class:`SourceAuthError`, an ``errorType`` of ``timeout`` -> :class:`SourceTimeout`, 5xx, 408
  and 429 -> :class:`SourceUnavailable`, anything else -> :class:`SourceQueryError`;
- :class:`~workbench.deadline.DeadlineExceeded` -> :class:`SourceTimeout` naming the run's
  deadline; other httpx time-outs -> :class:`SourceTimeout`; refused, unresolved or TLS-failed
  connections and broken answers -> :class:`SourceUnavailable`; an unusable URL -> ConfigError;
- ``ValueError``/``KeyError``/``TypeError`` when a 200 answer is not the Prometheus JSON
  envelope (a proxy's HTML page, a wrong path) -> :class:`SourceUnavailable`.

Messages name the server as ``scheme://host:port`` only: never user info, headers or tokens.
"""

from __future__ import annotations

import json

import httpx

from workbench.deadline import DeadlineExceeded
from workbench.errors import (
    ConfigError,
    SourceAuthError,
    SourceError,
    SourceQueryError,
    SourceTimeout,
    SourceUnavailable,
)
from workbench.sources._prom_http import PromHTTPError

__all__ = ["translate"]

_SOURCE = "prometheus"
_MAX_BODY = 2000

WorkbenchErrorLike = SourceError | ConfigError


def _error_type(body: str) -> str | None:
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    return envelope.get("errorType") if isinstance(envelope, dict) else None


def _from_http(exc: PromHTTPError, host: str, promql: str | None,
               timeout: float) -> SourceError:
    status, body = exc.status, exc.body.strip()
    shown = body if len(body) <= _MAX_BODY else body[:_MAX_BODY] + " ..."
    if status in (401, 403):
        return SourceAuthError(f"{host} refused the credentials (HTTP {status}); check "
                               "PROMETHEUS_USERNAME/PROMETHEUS_PASSWORD or PROMETHEUS_TOKEN",
                               source=_SOURCE, query=promql)
    if _error_type(body) == "timeout":
        return SourceTimeout(f"{host} gave up evaluating the query within {timeout:g} s "
                             f"(HTTP {status}): {shown}", source=_SOURCE, query=promql)
    if status >= 500 or status in (408, 429):
        return SourceUnavailable(f"{host} answered HTTP {status} after retries: {shown}",
                                 source=_SOURCE, query=promql)
    return SourceQueryError(f"{host} rejected the query (HTTP {status}): {shown}",
                            source=_SOURCE, query=promql)


def translate(exc: BaseException, host: str, promql: str | None,
              timeout: float) -> WorkbenchErrorLike:
    """The workbench error for ``exc``; the caller raises it ``from exc``."""
    if isinstance(exc, PromHTTPError):
        return _from_http(exc, host, promql, timeout)
    if isinstance(exc, DeadlineExceeded):
        return SourceTimeout(f"the run's deadline passed waiting for {host}", source=_SOURCE,
                             query=promql)
    if isinstance(exc, httpx.TimeoutException):
        return SourceTimeout(f"no answer from {host} within {timeout:g} s",
                             source=_SOURCE, query=promql)
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return ConfigError(f"PROMETHEUS_URL is not a usable URL ({host})")
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        why = ("TLS handshake failed" if "ssl" in text or "certificate" in text else
               "connection refused" if "refused" in text else
               "name not resolved" if "name or service" in text or "resolve" in text
               or "nodename" in text else "connection failed")
        return SourceUnavailable(f"cannot reach {host}: {why}", source=_SOURCE, query=promql)
    if isinstance(exc, httpx.TransportError):
        return SourceUnavailable(f"request to {host} failed ({type(exc).__name__})",
                                 source=_SOURCE, query=promql)
    if isinstance(exc, (ValueError, KeyError, TypeError, AttributeError)):
        return SourceUnavailable(f"{host} did not answer with the Prometheus API JSON envelope "
                                 "(is PROMETHEUS_URL the server's base URL?)", source=_SOURCE,
                                 query=promql)
    raise TypeError(f"no translation for {type(exc).__name__}") from exc
