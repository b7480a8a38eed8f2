"""POST JSON to an alert receiver: bounded time-outs, retries with back-off, errors that help.

Shared by the Alertmanager and webhook sinks. The rules:

- every request has a time-out of at most :data:`MAX_TIMEOUT_S` (10 s), and no request, retry
  or back-off runs past the wall-clock deadline: the active
  :class:`~workbench.deadline.Deadline` (a run's), shortened to the policy's ``budget_s``. The
  bound holds for the whole request (:class:`~workbench.deadline.DeadlineTransport`), so a
  receiver that answers one byte at a time cannot hold a run;
- connection errors, time-outs, 408, 429 and 5xx are retried with exponential back-off and
  jitter; a ``Retry-After`` header is honoured (up to ``max_retry_after_s``, beyond which the
  alerts are left for the spool rather than holding the run);
- 400 and 422 mean the receiver rejected the alerts: not retried, raised as
  :class:`AlertRejected` carrying the server's own message;
- other failures raise :class:`~workbench.errors.AlertDeliveryError`, so
  :func:`~workbench.alerts.send` spools the alerts for the next run.

Messages name the receiver by scheme, host and port only (:func:`safe_url`): webhook paths
often hold tokens, and credentials come from the environment and are never echoed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from workbench.deadline import Deadline, DeadlineExceeded, DeadlineTransport, active_deadline
from workbench.errors import AlertDeliveryError, AlertRejected, ConfigError
from workbench.http_retry import backoff as jittered_backoff
from workbench.http_retry import retry_after

__all__ = ["DEFAULT_RETRY", "MAX_TIMEOUT_S", "AlertRejected", "Poster", "RetryPolicy",
           "check_no_userinfo", "safe_url"]

log = logging.getLogger(__name__)

#: No request to a receiver waits longer than this.
MAX_TIMEOUT_S = 10.0
_RETRIED = frozenset({408, 429})
_sleep = time.sleep  # one name to patch: tests check the waits without waiting
_MESSAGE_CHARS = 500


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one delivery tries before its alerts go to the spool."""

    attempts: int = 5
    timeout_s: float = MAX_TIMEOUT_S
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 30.0
    budget_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.timeout_s <= MAX_TIMEOUT_S:
            raise ConfigError(f"alert sink timeout_s must be in (0, {MAX_TIMEOUT_S}], "
                              f"got {self.timeout_s}")
        if self.attempts < 1:
            raise ConfigError(f"alert sink attempts must be >= 1, got {self.attempts}")
        if self.backoff_s < 0 or self.budget_s <= 0:
            raise ConfigError("alert sink backoff_s must be >= 0 and budget_s > 0")

    def backoff(self, attempt: int) -> float:
        """Delay after failed attempt number ``attempt`` (0-based), with +-20% jitter."""
        return jittered_backoff(attempt, self.backoff_s, self.max_backoff_s)


#: The policy sinks use unless given one.
DEFAULT_RETRY = RetryPolicy()


def safe_url(url: str) -> str:
    """``scheme://host:port`` of ``url``: what error messages and logs may show."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


def check_no_userinfo(url: str, hint: str) -> None:
    """Refuse ``user:password@`` in a sink URL (it would end up in spools and summaries)."""
    if "@" in urlsplit(url).netloc:
        raise ConfigError(f"alert sink URL {safe_url(url)} carries credentials; they are not "
                          f"accepted in URLs: {hint}")


def server_message(resp: httpx.Response) -> str:
    """The receiver's own error text, bounded. Alertmanager answers 400 with a JSON string and
    422 with ``{"code", "message"}``; anything else is shown as text."""
    text = resp.text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text[:_MESSAGE_CHARS]
    if isinstance(body, str):
        return body[:_MESSAGE_CHARS]
    if isinstance(body, Mapping):
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str):
                return body[key][:_MESSAGE_CHARS]
    return text[:_MESSAGE_CHARS]


class Poster:
    """Posts JSON bodies to one receiver under a :class:`RetryPolicy`.

    ``what`` names the receiver kind in messages (``"alertmanager"``, ``"webhook"``);
    ``auth_hint`` says which environment variables to check after a 401/403.
    """

    def __init__(self, what: str, policy: RetryPolicy, *, headers: Mapping[str, str] | None = None,
                 auth_hint: str = "") -> None:
        self.what = what
        self.policy = policy
        self.auth_hint = auth_hint
        self._headers = {"Content-Type": "application/json", "User-Agent": "workbench-alerts",
                         **(headers or {})}

    def post(self, url: str, payload: Any) -> httpx.Response:
        """POST ``payload`` as JSON; the 2xx response, or raise AlertDeliveryError/AlertRejected."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        where = safe_url(url)
        policy = self.policy
        run = active_deadline() or Deadline(None)
        deadline = run.within(policy.budget_s)
        ends = (f"the {policy.budget_s:.0f} s delivery budget ran out" if deadline.at < run.at
                else "the run's deadline passed")
        problem = ""
        cause: Exception | None = None
        attempt = 0
        with httpx.Client(transport=DeadlineTransport(), timeout=policy.timeout_s,
                          follow_redirects=False) as client, deadline.active():
            for attempt in range(policy.attempts):
                wait: float | None = None
                if deadline.expired:
                    problem += f"; {ends}"
                    break
                timeout = deadline.timeout(policy.timeout_s)
                try:
                    resp = client.post(url, content=body, headers=self._headers, timeout=timeout)
                except DeadlineExceeded as exc:
                    problem, cause = f"{ends} mid-request", exc
                    break
                except httpx.TimeoutException as exc:
                    problem, cause = f"no answer within {timeout:.1f} s ({type(exc).__name__})", exc
                except httpx.TransportError as exc:
                    problem, cause = f"cannot connect ({type(exc).__name__})", exc
                else:
                    status = resp.status_code
                    if 200 <= status < 300:
                        return resp
                    if status in (400, 422):
                        msg = server_message(resp)
                        raise AlertRejected(f"{self.what} {where} rejected the alerts "
                                            f"(HTTP {status}): {msg}", status=status,
                                            server_message=msg)
                    if status in (401, 403):
                        raise AlertDeliveryError(
                            f"{self.what} {where} refused the credentials (HTTP {status})"
                            + (f"; check {self.auth_hint}" if self.auth_hint else ""))
                    if status not in _RETRIED and status < 500:
                        raise AlertDeliveryError(f"{self.what} {where} answered HTTP {status}: "
                                                 f"{server_message(resp)}")
                    problem = f"HTTP {status}: {server_message(resp)}".rstrip(": ")
                    wait = retry_after(resp.headers)
                    if wait is not None and wait > policy.max_retry_after_s:
                        raise AlertDeliveryError(
                            f"{self.what} {where} {problem}; it asks to retry after {wait:.0f} s, "
                            f"longer than {policy.max_retry_after_s:.0f} s")
                log.info("%s %s attempt %d failed: %s", self.what, where, attempt + 1, problem)
                if attempt + 1 >= policy.attempts:
                    break
                delay = wait if wait is not None else policy.backoff(attempt)
                if delay >= deadline.remaining():
                    problem += f"; {ends}"
                    break
                _sleep(delay)
        raise AlertDeliveryError(f"{self.what} {where} failed after {attempt + 1} attempt(s): "
                                 f"{problem}") from cause
