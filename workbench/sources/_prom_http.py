"""Prometheus's HTTP API (``/api/v1/query``, ``/api/v1/query_range``) over httpx, every request
under the run's wall-clock deadline (:class:`~workbench.deadline.DeadlineTransport`).

httpx rather than ``requests``: a requests time-out bounds each socket read, so a server that
drips its answer a byte at a time held a run for as long as it liked; here no request outlives
the deadline active for it, headers and body included.

Retries: refused or reset connections and 429/502/503/504 answers, up to ``retries`` times with
a short back-off (a ``Retry-After`` is honoured up to :data:`MAX_RETRY_AFTER_S`), never past the
deadline. A read time-out is not retried: the server was reached and is slow, and asking again
only doubles the wait.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from workbench.deadline import Deadline, DeadlineTransport, active_deadline
from workbench.http_retry import retry_after
from workbench.sources._prom_config import PrometheusSettings

__all__ = ["MAX_RETRY_AFTER_S", "PromClient", "PromHTTPError"]

#: A server's ``Retry-After`` is honoured up to this many seconds.
MAX_RETRY_AFTER_S = 5.0
_RETRIED_STATUS = frozenset({429, 502, 503, 504})
_BACKOFF_S = 0.25
_sleep = time.sleep  # one name to patch in tests


class PromHTTPError(Exception):
    """A non-success answer (after retries): its status and body, as the server sent them."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status
        self.body = body


class PromClient:
    """GETs against one Prometheus server; returns the ``data`` of a success envelope."""

    def __init__(self, settings: PrometheusSettings, *, timeout: float, retries: int,
                 verify_tls: bool = True) -> None:
        self.timeout = timeout
        self.retries = retries
        auth = httpx.BasicAuth(*settings.auth) if settings.auth else None
        self._client = httpx.Client(
            base_url=settings.url, headers={"Accept": "application/json", **settings.headers},
            auth=auth, timeout=timeout, follow_redirects=False,
            transport=DeadlineTransport(verify=verify_tls, retries=0))

    def close(self) -> None:
        self._client.close()

    def get(self, path: str, params: Mapping[str, Any]) -> Any:
        """``data`` of the answer to ``GET path?params``; raises httpx errors (transport),
        :class:`PromHTTPError` (non-success status) or ValueError/KeyError (not the envelope)."""
        deadline = active_deadline() or Deadline(None)
        attempt = 0
        while True:
            failure: Exception
            try:
                resp = self._client.get(path, params=dict(params),
                                        timeout=deadline.timeout(self.timeout))
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                failure, wait = exc, _BACKOFF_S * 2 ** attempt
            else:
                if resp.status_code == 200:
                    body = resp.json()
                    if body.get("status") != "success":
                        raise PromHTTPError(resp.status_code, resp.text)
                    return body["data"]
                failure = PromHTTPError(resp.status_code, resp.text)
                if resp.status_code not in _RETRIED_STATUS:
                    raise failure
                after = retry_after(resp.headers)
                wait = min(after, MAX_RETRY_AFTER_S) if after is not None \
                    else _BACKOFF_S * 2 ** attempt
            if attempt >= self.retries or wait >= deadline.remaining():
                raise failure
            _sleep(wait)
            attempt += 1
