"""Alertmanager sink: ``alertmanager+http://host:9093`` (or ``alertmanager+https://``) posts
alerts to Alertmanager's API v2 (``POST /api/v2/alerts``, a JSON array of postable alerts).

A path after the host is Alertmanager's route prefix (``--web.route-prefix``):
``alertmanager+https://am.example.com/alertmanager``. Credentials come only from the environment:
``ALERTMANAGER_USERNAME`` + ``ALERTMANAGER_PASSWORD`` (basic auth) or ``ALERTMANAGER_TOKEN``
(bearer), never from the URL.

Firing and resolved are explicit, because an :class:`~workbench.alerts.Alert` carries its
finding's *judged window* in ``starts_at``/``ends_at``, and a daily report judges a window that
has already ended. Posted as it is, such an alert reaches Alertmanager already resolved, and
Alertmanager notifies nobody about an alert it never saw firing. So the sink posts:

- **firing** (every alert not marked resolved): ``startsAt`` = the window's start, ``endsAt`` =
  now + ``firing_for`` (default :data:`FIRING_FOR`, three times Alertmanager's default
  ``resolve_timeout`` of 5 min). The alert stays active that long; a later run that sends it
  again extends it; when no run does, Alertmanager resolves it by itself.
- **resolved** (marked with :func:`resolved`): ``endsAt`` = the time it was resolved, in the
  past, so Alertmanager marks it resolved and sends the resolved notification.

The judged window travels as the annotation ``window`` (an ISO 8601 interval). The mark is an
annotation (``resolved_at``), so it survives the spool, and it leaves the labels, hence
Alertmanager's own fingerprint, unchanged: the resolved post resolves the same alert.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import urlsplit

from workbench.alerts import _http
from workbench.alerts._http import AlertRejected, Poster, RetryPolicy, safe_url
from workbench.alerts.alert import Alert
from workbench.alerts.sinks import Sink
from workbench.errors import AlertDeliveryError, ConfigError

__all__ = ["ENV_PASSWORD", "ENV_TOKEN", "ENV_USERNAME", "FIRING_FOR", "AlertmanagerSink",
           "alert_status", "is_resolved", "resolved", "to_postable"]

ENV_USERNAME = "ALERTMANAGER_USERNAME"
ENV_PASSWORD = "ALERTMANAGER_PASSWORD"
ENV_TOKEN = "ALERTMANAGER_TOKEN"
_AUTH_HINT = f"{ENV_USERNAME}/{ENV_PASSWORD} or {ENV_TOKEN}"

#: How long a firing alert stays active without being sent again (3 x default resolve_timeout).
FIRING_FOR = dt.timedelta(minutes=15)
RESOLVED_AT = "resolved_at"
WINDOW = "window"


def _parse(ts: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def resolved(alert: Alert, at: dt.datetime | str | None = None) -> Alert:
    """``alert`` marked resolved at ``at`` (default now): sinks post it as resolved.

    The judged window is kept in the ``window`` annotation; ``at`` may not precede the start.
    """
    when = _utcnow() if at is None else (_parse(at) if isinstance(at, str) else at)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    when = when.replace(microsecond=when.microsecond // 1000 * 1000)  # Alertmanager keeps ms
    if when < _parse(alert.starts_at):
        raise ConfigError(f"alert {alert.name} cannot be resolved at {_iso(when)}, before it "
                          f"started ({alert.starts_at})")
    annotations = dict(alert.annotations)
    annotations.setdefault(WINDOW, f"{alert.starts_at}/{alert.ends_at}")
    annotations[RESOLVED_AT] = _iso(when)
    return replace(alert, annotations=annotations, ends_at=_iso(when))


def is_resolved(alert: Alert) -> bool:
    """True when :func:`resolved` marked the alert (whatever its window says)."""
    return RESOLVED_AT in alert.annotations


def alert_status(alert: Alert, now: dt.datetime | None = None) -> Literal["firing", "resolved"]:
    """``resolved`` once a resolved alert's resolve time has passed; ``firing`` otherwise."""
    if is_resolved(alert) and _parse(alert.annotations[RESOLVED_AT]) <= (now or _utcnow()):
        return "resolved"
    return "firing"


def to_postable(alert: Alert, *, now: dt.datetime | None = None,
                firing_for: dt.timedelta = FIRING_FOR) -> dict[str, Any]:
    """The Alertmanager ``PostableAlert`` for ``alert``, with firing/resolved made explicit."""
    now = now or _utcnow()
    out = alert.to_postable()
    annotations = dict(out["annotations"])
    annotations.setdefault(WINDOW, f"{alert.starts_at}/{alert.ends_at}")
    out["annotations"] = annotations
    if is_resolved(alert):
        out["endsAt"] = annotations[RESOLVED_AT]
    else:
        out["endsAt"] = _iso(max(now, _parse(alert.starts_at)) + firing_for)
    return out


def auth_headers(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``Authorization`` header from the environment; {} without credentials."""
    env = os.environ if env is None else env
    user, password, token = (env.get(ENV_USERNAME), env.get(ENV_PASSWORD), env.get(ENV_TOKEN))
    if token and (user or password):
        raise ConfigError(f"set either {ENV_TOKEN} or {ENV_USERNAME}/{ENV_PASSWORD}, not both")
    if token:
        return {"Authorization": f"Bearer {token}"}
    if bool(user) != bool(password):
        missing = ENV_PASSWORD if user else ENV_USERNAME
        raise ConfigError(f"Alertmanager basic auth needs both {ENV_USERNAME} and {ENV_PASSWORD}; "
                          f"{missing} is not set")
    if user:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    return {}


def _base_url(url: str) -> str:
    if not url.startswith(("alertmanager+http://", "alertmanager+https://")):
        raise ConfigError(f"not an Alertmanager sink URL: {safe_url(url)} (expected "
                          f"alertmanager+http://host:port or alertmanager+https://...)")
    _http.check_no_userinfo(url, f"set {_AUTH_HINT}")
    base = url.removeprefix("alertmanager+")
    parts = urlsplit(base)
    if not parts.hostname:
        raise ConfigError("Alertmanager sink URL has no host: expected alertmanager+http://host:port")
    if parts.query or parts.fragment:
        raise ConfigError(f"Alertmanager sink URL {safe_url(base)} must not carry a query or "
                          f"fragment (only an optional route prefix path)")
    try:
        parts.port  # noqa: B018 (validates the port)
    except ValueError as exc:
        raise ConfigError(f"Alertmanager sink URL has a bad port: {exc}") from exc
    return base.rstrip("/")


class AlertmanagerSink(Sink):
    """Posts alerts to Alertmanager's ``/api/v2/alerts`` in batches of ``batch_size``.

    Re-posting an alert is harmless (Alertmanager merges alerts with the same labels), so a
    batch that failed half-way is simply sent again from the spool on the next run.
    """

    def __init__(self, url: str, *, policy: RetryPolicy | None = None, batch_size: int = 100,
                 firing_for: dt.timedelta = FIRING_FOR,
                 clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.url = url
        self.base_url = _base_url(url)
        self.api_url = f"{self.base_url}/api/v2/alerts"
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if firing_for <= dt.timedelta(0):
            raise ConfigError(f"firing_for must be positive, got {firing_for}")
        self.batch_size = batch_size
        self.chunk = batch_size
        self.firing_for = firing_for
        self.clock = clock
        self._poster = Poster("alertmanager", policy or _http.DEFAULT_RETRY,
                              headers=auth_headers(), auth_hint=_AUTH_HINT)

    def postables(self, alerts: Sequence[Alert]) -> list[dict[str, Any]]:
        """What :meth:`deliver` posts, with one clock reading for the whole batch."""
        now = self.clock()
        return [to_postable(a, now=now, firing_for=self.firing_for) for a in alerts]

    def deliver(self, alerts: Sequence[Alert]) -> None:
        body = self.postables(alerts)
        chunks = [body[i:i + self.batch_size] for i in range(0, len(body), self.batch_size)]
        for n, chunk in enumerate(chunks):
            try:
                self._poster.post(self.api_url, chunk)
            except AlertDeliveryError as exc:
                if len(chunks) == 1:
                    raise
                note = f" (batch {n + 1} of {len(chunks)}; {n} earlier batch(es) delivered)"
                if isinstance(exc, AlertRejected):
                    raise AlertRejected(f"{exc}{note}", status=exc.status,
                                        server_message=exc.server_message) from exc
                raise AlertDeliveryError(f"{exc}{note}") from exc
