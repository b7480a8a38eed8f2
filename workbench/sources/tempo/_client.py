"""The one place workbench talks HTTP to Tempo: httpx under the shared deadline, our fault policy.

* every request, body included, ends within ``timeout_s`` (at most 10 s) of wall-clock time and
  never past the pull's deadline (:class:`workbench.deadline.DeadlineTransport`);
* 429 (its ``Retry-After`` honoured), 408, 409, 5xx, connection errors, time-outs and cut-off
  or malformed JSON are retried with exponential back-off and jitter (:mod:`.._pull`);
* a :class:`Budget` bounds one pull (or a whole report, through its :class:`Deadline`): once it is
  spent the caller gets :class:`BudgetExhausted` and returns what it has, marked incomplete;
* 400 keeps Tempo's own words (:class:`BadRequest`: a too-long range names the server's limit),
  401/403 become one :class:`SourceAuthError` naming the environment variables, never a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from workbench.errors import SourceAuthError, SourceError, SourceQueryError
from workbench.sources._pull import (MAX_REQUEST_TIMEOUT_S, Budget, BudgetExhausted, Counters,
                                     PooledTransport, get_with_retries, json_body)

from ._config import ENV_ORG_ID, ENV_PASSWORD, ENV_TOKEN, ENV_USERNAME, Config

log = logging.getLogger("workbench.sources.tempo")

__all__ = ["BadRequest", "Budget", "BudgetExhausted", "NotFound", "Stats", "Transport"]

SOURCE = "tempo"


class BadRequest(SourceQueryError):
    """HTTP 400 with Tempo's own message in ``server_message``."""

    def __init__(self, message: str, *, server_message: str, query: str | None = None) -> None:
        super().__init__(message, source=SOURCE, query=query)
        self.server_message = server_message


class NotFound(SourceQueryError):
    """HTTP 404; ``body`` is what came with it (empty for a trace Tempo hides or lacks)."""

    def __init__(self, message: str, *, body: bytes, query: str | None = None) -> None:
        super().__init__(message, source=SOURCE, query=query)
        self.body = body


@dataclass
class Stats(Counters):
    """Counters of one pull, attached to the returned frame as ``attrs["tempo"]``."""

    searches: int = 0
    search_splits: int = 0
    traces_found: int = 0
    traces_fetched: int = 0
    traces_not_found: int = 0
    traces_partial: int = 0
    traces_failed: int = 0
    traces_not_fetched: int = 0
    spans: int = 0
    slices_total: int = 0
    slices_cached: int = 0
    slices_incomplete: int = 0
    metrics_queries: int = 0


def _text(resp: httpx.Response) -> str:
    return " ".join(resp.text.split())[:300]


class Transport(PooledTransport):
    """GET JSON from Tempo with time-outs, retries and a budget."""

    def __init__(self, config: Config, *, timeout_s: float = MAX_REQUEST_TIMEOUT_S,
                 max_attempts: int = 4, backoff_s: float = 0.5, max_backoff_s: float = 20.0,
                 pool_size: int = 16) -> None:
        super().__init__(config.url, timeout_s=timeout_s, max_attempts=max_attempts,
                         backoff_s=backoff_s, max_backoff_s=max_backoff_s, pool_size=pool_size,
                         base_url=config.url + "/", headers=config.http_headers())

    def get_json(self, path: str, params: dict[str, Any], budget: Budget, stats: Stats,
                 check: Callable[[Any], bool] | None = None) -> Any:
        """Decoded JSON of ``GET path``; raises a :class:`SourceError` subclass on failure.
        A body that is not JSON, or fails ``check``, is retried like a server error."""
        return self.get(path, params, budget, stats, parse=json_body(check, path))

    def get_text(self, path: str, budget: Budget, stats: Stats) -> str:
        return self.get(path, {}, budget, stats).decode(errors="replace")

    def get(self, path: str, params: dict[str, Any], budget: Budget, stats: Stats, *,
            parse: Callable[[bytes], Any] | None = None) -> Any:
        """The body of ``GET path``, or ``parse(body)`` when given."""
        query = f"{path}?{httpx.QueryParams(params)}" if params else path

        def send(timeout: float) -> httpx.Response:
            return self._http.get(path.lstrip("/"), params=params, timeout=timeout)

        return get_with_retries(send, source=SOURCE, query=query, base_url=self.base_url,
                                budget=budget, stats=stats, policy=self.policy,
                                refuse=self._refuse, parse=parse)

    def _refuse(self, resp: httpx.Response, query: str) -> SourceError:
        status = resp.status_code
        if status in (401, 403):
            return SourceAuthError(
                f"HTTP {status} from {self.base_url}: {_text(resp)}. Check "
                f"{ENV_TOKEN} or {ENV_USERNAME}/{ENV_PASSWORD}, and {ENV_ORG_ID} on a "
                "multi-tenant Tempo", source=SOURCE, query=query)
        if status == 400:
            return BadRequest(f"HTTP 400: {_text(resp)}", server_message=resp.text.strip(),
                              query=query)
        if status == 404:
            return NotFound(f"HTTP 404 {_text(resp) or '(empty body)'}", body=resp.content,
                            query=query)
        return SourceQueryError(f"HTTP {status}: {_text(resp)}", source=SOURCE, query=query)
