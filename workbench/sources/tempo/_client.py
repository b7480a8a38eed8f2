"""The one place workbench talks HTTP to Tempo: httpx under the shared deadline, our fault policy.

* every request, body included, ends within ``timeout_s`` (at most 10 s) of wall-clock time and
  never past the pull's deadline (:class:`workbench.deadline.DeadlineTransport`);
* 429 (its ``Retry-After`` honoured), 408, 5xx, connection errors, time-outs and cut-off or
  malformed JSON are retried with exponential back-off and jitter;
* a :class:`Budget` bounds one pull (or a whole report, through its :class:`Deadline`): once it is
  spent the caller gets :class:`BudgetExhausted` and returns what it has, marked incomplete;
* 400 keeps Tempo's own words (:class:`BadRequest`: a too-long range names the server's limit),
  401/403 become one :class:`SourceAuthError` naming the environment variables, never a secret.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from workbench.deadline import Deadline, DeadlineTransport
from workbench.errors import (ConfigError, SourceAuthError, SourceError, SourceQueryError,
                              SourceTimeout, SourceUnavailable)

from ._config import ENV_ORG_ID, ENV_PASSWORD, ENV_TOKEN, ENV_USERNAME, Config

log = logging.getLogger("workbench.sources.tempo")

SOURCE = "tempo"
MAX_REQUEST_TIMEOUT_S = 10.0


class Budget(Deadline):
    """The deadline shared by every request of one pull (or of a whole report)."""

    @classmethod
    def of(cls, deadline: Deadline | None, seconds: float) -> Budget:
        budget = cls(seconds)
        if deadline is not None:
            budget.at = min(budget.at, deadline.at)
        return budget


class BudgetExhausted(SourceTimeout):
    """The pull's time budget ran out; callers return partial data, marked incomplete."""


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


class _Malformed(Exception):
    pass


@dataclass
class Stats:
    """Counters of one pull, attached to the returned frame as ``attrs["tempo"]``."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    bytes: int = 0
    malformed_pages: int = 0
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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


def _retry_after(headers: httpx.Headers) -> float | None:
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    parsed = email.utils.parsedate_tz(value)
    return None if parsed is None else max(0.0, email.utils.mktime_tz(parsed) - time.time())


def _text(resp: httpx.Response) -> str:
    return " ".join(resp.text.split())[:300]


class Transport:
    """GET JSON from Tempo with time-outs, retries and a budget."""

    def __init__(self, config: Config, *, timeout_s: float = MAX_REQUEST_TIMEOUT_S,
                 max_attempts: int = 4, backoff_s: float = 0.5, max_backoff_s: float = 20.0,
                 pool_size: int = 16) -> None:
        if not 0 < timeout_s <= MAX_REQUEST_TIMEOUT_S:
            raise ConfigError(f"timeout_s must be in (0, {MAX_REQUEST_TIMEOUT_S}], got "
                              f"{timeout_s}")
        self.base_url = config.url
        self.timeout_s = timeout_s
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        self._http = httpx.Client(base_url=config.url + "/", headers=config.http_headers(),
                                  timeout=timeout_s, limits=limits, follow_redirects=True,
                                  transport=DeadlineTransport(limits=limits))
        # sources are often dropped without close() in notebooks: release sockets on collection
        self._finalizer = weakref.finalize(self, self._http.close)

    def close(self) -> None:
        self._finalizer()

    def _backoff(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * 2 ** attempt) * (0.8 + 0.4 * random.random())

    def get_json(self, path: str, params: dict[str, Any], budget: Budget, stats: Stats,
                 check: Callable[[Any], bool] | None = None) -> Any:
        """Decoded JSON of ``GET path``; raises a :class:`SourceError` subclass on failure.
        A body that is not JSON, or fails ``check``, is retried like a server error."""
        def parse(content: bytes) -> Any:
            body = orjson.loads(content)
            if check is not None and not check(body):
                raise _Malformed(path)
            return body
        return self.get(path, params, budget, stats, parse=parse)

    def get_text(self, path: str, budget: Budget, stats: Stats) -> str:
        return self.get(path, {}, budget, stats).decode(errors="replace")

    def get(self, path: str, params: dict[str, Any], budget: Budget, stats: Stats, *,
            parse: Callable[[bytes], Any] | None = None) -> Any:
        """The body of ``GET path``, or ``parse(body)`` when given."""
        last: SourceError | None = None
        query = f"{path}?{httpx.QueryParams(params)}" if params else path
        for attempt in range(self.max_attempts):
            if budget.expired:
                raise BudgetExhausted("time budget of the pull was spent", source=SOURCE,
                                      query=query) from last
            timeout = budget.timeout(self.timeout_s)
            wait: float | None = None
            stats.add(requests=1, retries=1 if attempt else 0)
            try:
                with budget.within(timeout).active():
                    resp = self._http.get(path.lstrip("/"), params=params, timeout=timeout)
            except httpx.TimeoutException as exc:
                last = SourceTimeout(f"no answer within {timeout:.1f} s", source=SOURCE,
                                     query=query)
                last.__cause__ = exc
            except httpx.TransportError as exc:
                last = SourceUnavailable(f"cannot reach {self.base_url}: {type(exc).__name__}",
                                         source=SOURCE, query=query)
                last.__cause__ = exc
            else:
                stats.add(bytes=len(resp.content))
                status = resp.status_code
                if status == 200:
                    if parse is None:
                        return resp.content
                    try:
                        return parse(resp.content)
                    except (orjson.JSONDecodeError, _Malformed) as exc:
                        stats.add(malformed_pages=1)
                        log.warning("tempo: malformed or cut-off JSON from %s (attempt %d)", path,
                                    attempt + 1)
                        last = SourceUnavailable("malformed or truncated JSON answer",
                                                 source=SOURCE, query=query)
                        last.__cause__ = exc
                elif status in (401, 403):
                    raise SourceAuthError(
                        f"HTTP {status} from {self.base_url}: {_text(resp)}. Check "
                        f"{ENV_TOKEN} or {ENV_USERNAME}/{ENV_PASSWORD}, and {ENV_ORG_ID} on a "
                        "multi-tenant Tempo", source=SOURCE, query=query)
                elif status == 400:
                    raise BadRequest(f"HTTP 400: {_text(resp)}", server_message=resp.text.strip(),
                                     query=query)
                elif status == 404:
                    raise NotFound(f"HTTP 404 {_text(resp) or '(empty body)'}", body=resp.content,
                                   query=query)
                elif status in (408, 429) or status >= 500:
                    if status == 429:
                        stats.add(rate_limited=1)
                        wait = _retry_after(resp.headers)
                    last = SourceUnavailable(f"HTTP {status} after {attempt + 1} attempt(s): "
                                             f"{_text(resp)[:120]}", source=SOURCE, query=query)
                else:
                    raise SourceQueryError(f"HTTP {status}: {_text(resp)}", source=SOURCE,
                                           query=query)
            if attempt + 1 >= self.max_attempts:
                break
            delay = wait if wait is not None else self._backoff(attempt)
            if delay >= budget.remaining():
                raise BudgetExhausted(f"retry after {delay:.1f} s would exceed the time budget",
                                      source=SOURCE, query=query) from last
            time.sleep(delay)
        assert last is not None
        raise last
