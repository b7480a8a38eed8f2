"""Alerts from findings: build (:class:`Alert`), dedupe by fingerprint, send to a sink by URL.

- :mod:`~workbench.alerts.alert`: the Alertmanager-shaped record and its fingerprint.
- :mod:`~workbench.alerts.sinks`: sinks by URL prefix (``file://`` or a path: JSON lines).
- :mod:`~workbench.alerts.alertmanager`: ``alertmanager+http(s)://`` (API v2); firing vs
  :func:`resolved` alerts.
- :mod:`~workbench.alerts.webhook`: ``http(s)://`` generic JSON webhook, ``slack+https://`` Slack.
- :mod:`~workbench.alerts.delivery`: :func:`send`, with a spool so a failed delivery is retried
  on the next run instead of lost.
"""

from workbench.alerts.alert import Alert, alertname
from workbench.alerts.delivery import Delivery, dedupe, default_spool, send
from workbench.alerts.sinks import SINKS, FileSink, Sink, get_sink, register_sink

#: Loaded on first use, so ``import workbench.alerts`` does not import an HTTP client.
_LAZY = {"AlertmanagerSink": "alertmanager", "resolved": "alertmanager",
         "SlackSink": "webhook", "WebhookSink": "webhook"}

__all__ = [
    "SINKS",
    "Alert",
    "AlertmanagerSink",
    "Delivery",
    "FileSink",
    "Sink",
    "SlackSink",
    "WebhookSink",
    "alertname",
    "dedupe",
    "default_spool",
    "get_sink",
    "register_sink",
    "resolved",
    "send",
]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"workbench.alerts.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'workbench.alerts' has no attribute {name!r}")
