"""The fault policy of a trace pull (Langfuse, Tempo): one deadline for the whole pull, bounded
requests, retries of what a retry can fix, counters of what happened.

* every request, body included, ends within its time-out (at most 10 s) and never past the
  pull's :class:`Budget` (:class:`workbench.deadline.DeadlineTransport` enforces it, so a server
  that drips bytes cannot hold a pull);
* 408, 409, 429 (its ``Retry-After`` honoured), 5xx, connection errors, time-outs and cut-off or
  malformed bodies are retried with exponential back-off and jitter;
* once the budget is spent, or a wait would pass it, the caller gets :class:`BudgetExhausted`
  and returns what it has, marked incomplete;
* every other answer is the source's to word (``refuse``): its auth hint names environment
  variables, never a secret.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from workbench.deadline import Deadline, DeadlineTransport
from workbench.errors import ConfigError, SourceError, SourceTimeout, SourceUnavailable
from workbench.http_retry import backoff, retry_after

__all__ = ["MAX_REQUEST_TIMEOUT_S", "Budget", "BudgetExhausted", "Counters", "Malformed",
           "PooledTransport", "RetryPolicy", "get_with_retries", "json_body", "retryable"]

log = logging.getLogger("workbench.sources")

#: No single request to a source may take longer than this.
MAX_REQUEST_TIMEOUT_S = 10.0


class Budget(Deadline):
    """The deadline shared by every request of one pull (or of a whole report)."""

    @classmethod
    def of(cls, deadline: Deadline | None, seconds: float) -> Budget:
        """``seconds`` from now, but never past ``deadline`` (the report's, when given)."""
        budget = cls(seconds)
        if deadline is not None:
            budget.at = min(budget.at, deadline.at)
        return budget

    @property
    def spent(self) -> bool:
        return self.expired


class BudgetExhausted(SourceTimeout):
    """The pull's time budget ran out; callers return partial data, marked incomplete."""


class Malformed(Exception):
    """A success whose body is not what the endpoint promises (retried, then reported)."""


@dataclass
class Counters:
    """Thread-safe counters of one pull; each source adds its own fields."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    bytes: int = 0
    malformed_pages: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


@dataclass(frozen=True)
class RetryPolicy:
    timeout_s: float = MAX_REQUEST_TIMEOUT_S
    max_attempts: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 20.0


class PooledTransport:
    """A source's pooled HTTP client: every request bounded by ``timeout_s`` (at most
    :data:`MAX_REQUEST_TIMEOUT_S`) and the pull's deadline, retried by :attr:`policy`; its sockets
    released on :meth:`close` or when the source is collected (notebooks often drop sources
    without closing them). ``url``: the server, as errors name it; ``client``: further
    ``httpx.Client`` arguments."""

    def __init__(self, url: str, *, timeout_s: float, max_attempts: int, backoff_s: float,
                 max_backoff_s: float, pool_size: int, **client: Any) -> None:
        if not 0 < timeout_s <= MAX_REQUEST_TIMEOUT_S:
            raise ConfigError(f"timeout_s must be in (0, {MAX_REQUEST_TIMEOUT_S}], "
                              f"got {timeout_s}")
        self.base_url = url
        self.timeout_s = timeout_s
        self.policy = RetryPolicy(timeout_s=timeout_s, max_attempts=max(1, max_attempts),
                                  backoff_s=backoff_s, max_backoff_s=max_backoff_s)
        limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        self._http = httpx.Client(timeout=timeout_s, limits=limits, follow_redirects=True,
                                  transport=DeadlineTransport(limits=limits), **client)
        self._finalizer = weakref.finalize(self, self._http.close)

    def close(self) -> None:
        self._finalizer()


def json_body(check: Callable[[Any], bool] | None, what: str) -> Callable[[bytes], Any]:
    """A ``parse`` for :func:`get_with_retries`: the decoded JSON, :class:`Malformed` when it
    fails ``check`` (a page without its ``data`` list is as bad as a cut-off one)."""
    def parse(content: bytes) -> Any:
        body = orjson.loads(content)
        if check is not None and not check(body):
            raise Malformed(what)
        return body
    return parse


def retryable(status: int) -> bool:
    """Answers a later attempt may not get: time-out, conflict, rate limit, server trouble."""
    return status in (408, 409, 429) or status >= 500


def get_with_retries(send: Callable[[float], httpx.Response], *, source: str, query: str,
                     base_url: str, budget: Budget, stats: Counters, policy: RetryPolicy,
                     refuse: Callable[[httpx.Response, str], SourceError],
                     parse: Callable[[bytes], Any] | None = None) -> Any:
    """``parse(body)`` (or the body) of the first success of ``send(timeout)``.

    ``refuse(resp, query)`` words the error raised at once for an answer that is neither a success nor
    :func:`retryable`; ``parse`` raising :class:`Malformed` or :class:`ValueError` retries.
    """
    last: SourceError | None = None
    for attempt in range(max(1, policy.max_attempts)):
        if budget.expired:
            raise BudgetExhausted("time budget of the pull was spent", source=source,
                                  query=query) from last
        timeout = budget.timeout(policy.timeout_s)
        wait: float | None = None
        stats.add(requests=1, retries=1 if attempt else 0)
        try:
            with budget.within(timeout).active():
                resp = send(timeout)
        except httpx.TimeoutException as exc:
            last = SourceTimeout(f"no answer within {timeout:.1f} s", source=source, query=query)
            last.__cause__ = exc
        except httpx.TransportError as exc:
            last = SourceUnavailable(f"cannot reach {base_url}: {type(exc).__name__}",
                                     source=source, query=query)
            last.__cause__ = exc
        else:
            stats.add(bytes=len(resp.content))
            status = resp.status_code
            if 200 <= status < 300:
                if parse is None:
                    return resp.content
                try:
                    return parse(resp.content)
                except (ValueError, Malformed) as exc:  # orjson's decode error is a ValueError
                    stats.add(malformed_pages=1)
                    log.warning("%s: malformed or cut-off answer from %s (attempt %d)", source,
                                query.split("?")[0], attempt + 1)
                    last = SourceUnavailable("malformed or truncated JSON answer",
                                             source=source, query=query)
                    last.__cause__ = exc
            elif retryable(status):
                if status == 429:
                    stats.add(rate_limited=1)
                    wait = retry_after(resp.headers)
                text = " ".join(resp.text.split())[:120]
                last = SourceUnavailable(f"HTTP {status} after {attempt + 1} attempt(s)"
                                         + (f": {text}" if text else ""), source=source,
                                         query=query)
            else:
                raise refuse(resp, query)
        if attempt + 1 >= policy.max_attempts:
            break
        delay = wait if wait is not None else backoff(attempt, policy.backoff_s,
                                                      policy.max_backoff_s)
        if delay >= budget.remaining():
            raise BudgetExhausted(f"retry after {delay:.1f} s would exceed the time budget",
                                  source=source, query=query) from last
        time.sleep(delay)
    assert last is not None
    raise last
