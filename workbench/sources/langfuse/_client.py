"""The one place workbench talks HTTP to Langfuse: the official SDK client, our fault policy.

Requests go through the SDK's ``LangfuseAPI`` HTTP layer (its base URL, Basic auth headers and
query encoding) but come back as raw bodies: pydantic-parsing a 1,000-row page costs about a
second and drops ``providedModelName`` into ``model_extra``, so pages are decoded with orjson and
converted column-wise instead. The SDK's own retry loop is switched off (``max_retries=0``)
because it sleeps past any budget; this module retries instead:

* every request, body included, ends within ``timeout_s`` (at most 10 s) of wall-clock time and
  never past the pull's deadline (:class:`workbench.deadline.DeadlineTransport`: a server that
  drips bytes cannot hold a pull);
* 429, 408/409, 5xx, connection errors, time-outs and cut-off/malformed JSON are retried with
  exponential back-off and jitter, a 429's ``Retry-After`` honoured;
* a :class:`Budget` (a :class:`~workbench.deadline.Deadline`, shared by every request of one
  pull or of one whole report) bounds the pull: when it is spent the caller gets
  :class:`BudgetExhausted` and returns what it has, marked incomplete;
* 401/403 become one :class:`SourceAuthError` naming the environment variables, never a key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from langfuse.api import LangfuseAPI

__all__ = ["Budget", "BudgetExhausted", "Config", "Malformed", "NotFound", "Stats", "Transport",
           "resolve_config"]

from workbench.errors import ConfigError, SourceAuthError, SourceError, SourceQueryError
from workbench.sources._pull import (MAX_REQUEST_TIMEOUT_S, Budget, BudgetExhausted, Counters,
                                     Malformed, PooledTransport, get_with_retries,
                                     json_body)

log = logging.getLogger("workbench.sources.langfuse")

ENV_PUBLIC_KEY = "LANGFUSE_PUBLIC_KEY"
ENV_SECRET_KEY = "LANGFUSE_SECRET_KEY"
ENV_BASE_URL = "LANGFUSE_BASE_URL"
ENV_VARS = (ENV_PUBLIC_KEY, ENV_SECRET_KEY, ENV_BASE_URL)
SOURCE = "langfuse"


@dataclass(frozen=True)
class Config:
    base_url: str
    public_key: str
    secret_key: str = field(repr=False)

    def __repr__(self) -> str:  # never show the secret, not even in a traceback's locals
        return f"Config(base_url={self.base_url!r}, public_key={self.public_key!r})"


def resolve_config(base_url: str | None, public_key: str | None,
                   secret_key: str | None) -> Config:
    """Explicit arguments win over the environment; a missing value names its variable."""
    values = {
        ENV_BASE_URL: base_url or os.environ.get(ENV_BASE_URL),
        ENV_PUBLIC_KEY: public_key or os.environ.get(ENV_PUBLIC_KEY),
        ENV_SECRET_KEY: secret_key or os.environ.get(ENV_SECRET_KEY),
    }
    missing = [k for k, v in values.items() if not v]
    if missing:
        raise ConfigError(f"Langfuse source is not configured: set {', '.join(missing)} "
                          f"(it reads {', '.join(ENV_VARS)})")
    url = str(values[ENV_BASE_URL]).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{ENV_BASE_URL} must be an http(s) URL, got {url!r}")
    return Config(url, str(values[ENV_PUBLIC_KEY]), str(values[ENV_SECRET_KEY]))


class NotFound(SourceQueryError):
    """404: on Langfuse v3 servers the v2/v3 read endpoints answer this (see the legacy path)."""


@dataclass
class Stats(Counters):
    """Counters of one pull, attached to the returned frame as ``attrs["langfuse"]``."""

    malformed_items: int = 0
    slices_total: int = 0
    slices_cached: int = 0
    slices_incomplete: int = 0
    slice_pulls: int = 0  # pulls the slices took (neighbouring quiet slices share one)


def _message(resp: httpx.Response) -> str:
    """The server's own ``message`` (bounded), for errors; bodies never hold our secret."""
    try:
        body = orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        return resp.text[:200]
    if isinstance(body, dict):
        msg = body.get("message")
        err = body.get("error")
        if isinstance(err, list):  # zod issues
            err = "; ".join(f"{'.'.join(map(str, i.get('path', [])))}: {i.get('message')}"
                            for i in err if isinstance(i, dict))
        return " - ".join(str(x) for x in (msg, err) if x)[:500]
    return str(body)[:200]


class Transport(PooledTransport):
    """GET JSON from Langfuse through the SDK client, with time-outs, retries and a budget."""

    def __init__(self, config: Config, *, timeout_s: float = MAX_REQUEST_TIMEOUT_S,
                 max_attempts: int = 5, backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 pool_size: int = 16) -> None:
        super().__init__(config.base_url, timeout_s=timeout_s, max_attempts=max_attempts,
                         backoff_s=backoff_s, max_backoff_s=max_backoff_s, pool_size=pool_size)
        self.api = LangfuseAPI(base_url=config.base_url, username=config.public_key,
                               password=config.secret_key, timeout=timeout_s,
                               httpx_client=self._http)

    def get(self, path: str, params: dict[str, Any], budget: Budget, stats: Stats,
            check: Callable[[Any], bool] | None = None) -> Any:
        """Decoded JSON of ``GET path``; raises a :class:`SourceError` subclass on failure.
        A body that is not JSON, or fails ``check``, is retried like a server error."""
        def send(timeout: float) -> httpx.Response:
            return self.api._client_wrapper.httpx_client.request(
                path, method="GET", params=params,
                request_options={"timeout_in_seconds": timeout, "max_retries": 0})

        return get_with_retries(send, source=SOURCE, query=path, base_url=self.base_url,
                                budget=budget, stats=stats, policy=self.policy,
                                refuse=self._refuse, parse=json_body(check, path))

    def _refuse(self, resp: httpx.Response, query: str) -> SourceError:
        status = resp.status_code
        if status in (401, 403):
            return SourceAuthError(
                f"HTTP {status} from {self.base_url}: {_message(resp)}. Check "
                f"{ENV_PUBLIC_KEY}, {ENV_SECRET_KEY} and {ENV_BASE_URL}", source=SOURCE,
                query=query)
        if status == 404:
            return NotFound(f"HTTP 404: {_message(resp)}", source=SOURCE, query=query)
        return SourceQueryError(f"HTTP {status}: {_message(resp)}", source=SOURCE, query=query)
