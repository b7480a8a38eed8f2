"""Webhook sinks: a generic JSON webhook and a Slack-compatible incoming webhook.

- ``https://...`` / ``http://...`` (:class:`WebhookSink`) POSTs, in batches of ``batch_size``,
  ``{"version": "1", "status", "commonLabels", "alerts": [...]}``, each alert shaped like those in
  Alertmanager's webhook payload (``status``, ``labels``, ``annotations``, ``startsAt``,
  ``endsAt``, ``generatorURL``, ``fingerprint``), firing or resolved as the Alertmanager sink
  posts them (see :mod:`workbench.alerts.alertmanager`). A bearer token, when the receiver needs
  one, comes from ``WORKBENCH_WEBHOOK_TOKEN``.
- ``slack+https://hooks.slack.com/services/...`` (:class:`SlackSink`; ``slack+http://`` for a
  local relay) POSTs ``{"text": ...}``: ONE message per delivery however many alerts there are,
  one line per group of alerts with the same alertname and severity (most severe first), at most
  ``max_lines`` lines, then a line counting what was left out. An alert storm is one message.

Same rules as every sink: time-outs of at most 10 s, retries with back-off on connection errors,
408/429/5xx (``Retry-After`` honoured), a 400 not retried and its message named; failures raise
:class:`~workbench.errors.AlertDeliveryError` so the alerts are spooled. The webhook URL (its path
often is the secret) never appears in messages: only its scheme, host and port.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from typing import Any

from workbench.alerts import _http
from workbench.alerts._http import Poster, RetryPolicy, safe_url
from workbench.alerts.alert import Alert
from workbench.alerts.alertmanager import FIRING_FOR, _utcnow, alert_status, to_postable
from workbench.alerts.sinks import Sink
from workbench.errors import ConfigError

__all__ = ["ENV_WEBHOOK_TOKEN", "SlackSink", "WebhookSink", "slack_text", "webhook_payload"]

ENV_WEBHOOK_TOKEN = "WORKBENCH_WEBHOOK_TOKEN"
_LINE_CHARS = 300


def webhook_payload(alerts: Sequence[Alert], *, now: dt.datetime | None = None,
                    firing_for: dt.timedelta = FIRING_FOR) -> dict[str, Any]:
    """The generic webhook body for ``alerts``."""
    now = now or _utcnow()
    items = []
    for a in alerts:
        item = {"status": alert_status(a, now), **to_postable(a, now=now, firing_for=firing_for),
                "fingerprint": a.fingerprint}
        item.setdefault("generatorURL", "")
        items.append(item)
    common = dict(items[0]["labels"]) if items else {}
    for item in items[1:]:
        common = {k: v for k, v in common.items() if item["labels"].get(k) == v}
    status = "firing" if any(i["status"] == "firing" for i in items) else "resolved"
    return {"version": "1", "status": status, "commonLabels": common, "alerts": items}


def _slack_escape(text: str) -> str:
    """Slack treats ``&``, ``<`` and ``>`` as control characters; alert text is untrusted."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def slack_text(alerts: Sequence[Alert], *, now: dt.datetime | None = None,
               max_lines: int = 20) -> str:
    """One Slack message for ``alerts``: a headline, then one line per (alertname, severity)."""
    now = now or _utcnow()
    groups: dict[tuple[str, str], list[Alert]] = {}
    for a in alerts:
        groups.setdefault((a.labels.get("alertname", "alert"), a.severity), []).append(a)
    order = sorted(groups.items(), key=lambda kv: (-kv[1][0].rank(), -len(kv[1]), kv[0]))
    firing = sum(alert_status(a, now) == "firing" for a in alerts)
    head = (f"workbench: {firing} firing, {len(alerts) - firing} resolved alert(s) "
            f"in {len(groups)} group(s)")
    lines = [head]
    for (name, severity), members in order[:max_lines]:
        n_firing = sum(alert_status(a, now) == "firing" for a in members)
        counts = ", ".join(x for x in (f"{n_firing} firing" if n_firing else "",
                                       f"{len(members) - n_firing} resolved"
                                       if len(members) > n_firing else "") if x)
        summary = members[0].annotations.get("summary", "")
        more = f" (+{len(members) - 1} more)" if len(members) > 1 else ""
        line = _slack_escape(_clip(f"[{severity}] {name}: {counts}. {summary}{more}", _LINE_CHARS))
        lines.append(line + _slack_links(members[0]))
    if len(order) > max_lines:
        rest = order[max_lines:]
        lines.append(f"\u2026and {len(rest)} more group(s) with "
                     f"{sum(len(m) for _, m in rest)} alert(s)")
    return "\n".join(lines)


def _slack_links(a: Alert) -> str:
    """`` <url|runbook> <url|report>`` for the alert's runbook and report, where they are web
    addresses its readers can open (a ``file://`` path on the reporting machine is left out)."""
    links = [(a.annotations.get("runbook_url", ""), "runbook"), (a.generator_url, "report")]
    return "".join(f" <{url}|{label}>" for url, label in links
                   if url.startswith(("http://", "https://"))
                   and not any(c in url for c in "<>| \n"))


class WebhookSink(Sink):
    """Posts the generic webhook payload to ``http(s)://...`` in batches of ``batch_size``."""

    prefixes: tuple[str, ...] = ("http://", "https://")
    auth_hint = ENV_WEBHOOK_TOKEN

    def __init__(self, url: str, *, policy: RetryPolicy | None = None, batch_size: int = 100,
                 firing_for: dt.timedelta = FIRING_FOR,
                 clock: Callable[[], dt.datetime] = _utcnow) -> None:
        if not url.startswith(self.prefixes):
            raise ConfigError(f"{type(self).__name__} needs a URL starting with "
                              f"{' or '.join(self.prefixes)}, got {safe_url(url)}")
        _http.check_no_userinfo(url, f"set {ENV_WEBHOOK_TOKEN} for a bearer token")
        self.url = url
        self.target = url.split("+", 1)[1] if url.startswith("slack+") else url
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.chunk = batch_size
        self.firing_for = firing_for
        self.clock = clock
        self._poster = Poster("webhook", policy or _http.DEFAULT_RETRY,
                              headers=self._auth_headers(), auth_hint=self.auth_hint)

    def _auth_headers(self) -> dict[str, str]:
        token = os.environ.get(ENV_WEBHOOK_TOKEN)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def payloads(self, alerts: Sequence[Alert]) -> list[dict[str, Any]]:
        """The bodies :meth:`deliver` posts, one per batch."""
        now = self.clock()
        return [webhook_payload(alerts[i:i + self.batch_size], now=now,
                                firing_for=self.firing_for)
                for i in range(0, len(alerts), self.batch_size)]

    def deliver(self, alerts: Sequence[Alert]) -> None:
        for body in self.payloads(list(alerts)):
            self._poster.post(self.target, body)


class SlackSink(WebhookSink):
    """Posts one ``{"text": ...}`` message per delivery to a Slack-compatible webhook."""

    prefixes = ("slack+https://", "slack+http://")
    auth_hint = "the webhook URL (its path is the credential)"

    def __init__(self, url: str, *, policy: RetryPolicy | None = None, max_lines: int = 20,
                 clock: Callable[[], dt.datetime] = _utcnow) -> None:
        if max_lines < 1:
            raise ConfigError(f"max_lines must be >= 1, got {max_lines}")
        super().__init__(url, policy=policy, clock=clock)
        self.max_lines = max_lines
        self.chunk = None  # an alert storm is one message

    def _auth_headers(self) -> dict[str, str]:
        return {}  # a Slack webhook's URL is its credential

    def payloads(self, alerts: Sequence[Alert]) -> list[dict[str, Any]]:
        if not alerts:
            return []
        return [{"text": slack_text(alerts, now=self.clock(), max_lines=self.max_lines)}]
