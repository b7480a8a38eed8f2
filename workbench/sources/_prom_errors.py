"""Translate what ``prometheus-api-client`` 0.7.2 raises into the workbench error tree.

The client raises, for every call we make:

- ``PrometheusApiClientException("HTTP Status Code <code> (<repr of the body bytes>)")`` for any
  non-200 answer (after its retries): the body is recovered as it is and kept in the message, so a
  PromQL syntax error reads ``{"status":"error","errorType":"bad_data","error":"..."}``;
- ``requests`` exceptions for transport faults: ``ConnectTimeout``/``ReadTimeout`` (or a
  ``ConnectionError`` wrapping urllib3's ``ReadTimeoutError`` after retries) ->
  :class:`SourceTimeout`; ``ConnectionError`` (refused, DNS, TLS) and ``RetryError`` ->
  :class:`SourceUnavailable`; ``InvalidURL``/``MissingSchema``/``InvalidSchema`` -> ConfigError;
- ``JSONDecodeError``/``KeyError``/``TypeError`` when a 200 answer is not the Prometheus JSON envelope
  (a proxy's HTML page, a wrong path) -> :class:`SourceUnavailable`.

Messages name the server as ``scheme://host:port`` only: never user info, headers or tokens.
"""

from __future__ import annotations

import ast
import json
import re

import requests
import urllib3
from prometheus_api_client import PrometheusApiClientException

from workbench.errors import (
    ConfigError,
    SourceAuthError,
    SourceError,
    SourceQueryError,
    SourceTimeout,
    SourceUnavailable,
)

__all__ = ["http_error_body", "translate"]

_SOURCE = "prometheus"
_HTTP = re.compile(r"^HTTP Status Code (\d+) \((.*)\)$", re.DOTALL)
_MAX_BODY = 2000

WorkbenchErrorLike = SourceError | ConfigError


def http_error_body(exc: PrometheusApiClientException) -> tuple[int | None, str]:
    """(status code, response body text) recovered from the client's exception message."""
    m = _HTTP.match(str(exc))
    if not m:
        return None, str(exc)
    raw = m.group(2)
    try:
        body = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return int(m.group(1)), raw
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    return int(m.group(1)), str(body).strip()


def _error_type(body: str) -> str | None:
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    return envelope.get("errorType") if isinstance(envelope, dict) else None


def _from_http(exc: PrometheusApiClientException, host: str, promql: str | None,
               timeout: float) -> SourceError:
    status, body = http_error_body(exc)
    shown = body if len(body) <= _MAX_BODY else body[:_MAX_BODY] + " ..."
    if status in (401, 403):
        return SourceAuthError(f"{host} refused the credentials (HTTP {status}); check "
                               "PROMETHEUS_USERNAME/PROMETHEUS_PASSWORD or PROMETHEUS_TOKEN",
                               source=_SOURCE, query=promql)
    if _error_type(body) == "timeout":
        return SourceTimeout(f"{host} gave up evaluating the query within {timeout:g} s "
                             f"(HTTP {status}): {shown}", source=_SOURCE, query=promql)
    if status is not None and (status >= 500 or status in (408, 429)):
        return SourceUnavailable(f"{host} answered HTTP {status} after retries: {shown}",
                                 source=_SOURCE, query=promql)
    return SourceQueryError(f"{host} rejected the query (HTTP {status}): {shown}",
                            source=_SOURCE, query=promql)


def _read_timeout_after_retries(exc: BaseException) -> bool:
    # With read retries off, urllib3 raises MaxRetryError(ReadTimeoutError), which requests
    # wraps as a plain ConnectionError: still a timeout.
    inner = exc.args[0] if isinstance(exc, requests.exceptions.ConnectionError) and exc.args \
        else None
    return isinstance(getattr(inner, "reason", None), urllib3.exceptions.ReadTimeoutError)


def translate(exc: BaseException, host: str, promql: str | None,
              timeout: float) -> WorkbenchErrorLike:
    """The workbench error for ``exc``; the caller raises it ``from exc``."""
    if isinstance(exc, PrometheusApiClientException):
        return _from_http(exc, host, promql, timeout)
    if isinstance(exc, requests.exceptions.Timeout) or _read_timeout_after_retries(exc):
        return SourceTimeout(f"no answer from {host} within {timeout:g} s",
                             source=_SOURCE, query=promql)
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return ConfigError(f"PROMETHEUS_URL is not a usable URL ({host})")
    if isinstance(exc, requests.exceptions.SSLError):
        return SourceUnavailable(f"TLS handshake with {host} failed", source=_SOURCE,
                                 query=promql)
    if isinstance(exc, requests.exceptions.RetryError):
        return SourceUnavailable(f"{host} kept failing after retries", source=_SOURCE,
                                 query=promql)
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        why = ("connection refused" if "refused" in text.lower() else
               "name not resolved" if "resolve" in text.lower() or "Name or service" in text
               else "connection failed")
        return SourceUnavailable(f"cannot reach {host}: {why}", source=_SOURCE, query=promql)
    if isinstance(exc, (requests.exceptions.JSONDecodeError, KeyError, TypeError)):
        return SourceUnavailable(f"{host} did not answer with the Prometheus API JSON envelope "
                                 "(is PROMETHEUS_URL the server's base URL?)", source=_SOURCE,
                                 query=promql)
    if isinstance(exc, requests.exceptions.RequestException):
        return SourceUnavailable(f"request to {host} failed ({type(exc).__name__})",
                                 source=_SOURCE, query=promql)
    raise TypeError(f"no translation for {type(exc).__name__}") from exc

