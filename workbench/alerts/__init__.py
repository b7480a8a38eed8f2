"""Alerts from findings: build (:class:`Alert`), dedupe by fingerprint, send to a sink by URL.

- :mod:`~workbench.alerts.alert`: the Alertmanager-shaped record and its fingerprint.
- :mod:`~workbench.alerts.sinks`: sinks by URL prefix (``file://`` or a path: JSON lines).
- :mod:`~workbench.alerts.alertmanager`: ``alertmanager+http(s)://`` (API v2); firing vs
  :func:`resolved` alerts.
- :mod:`~workbench.alerts.webhook`: ``http(s)://`` generic JSON webhook, ``slack+https://`` Slack.
- :mod:`~workbench.alerts.delivery`: :func:`send`: alerts persisted before the first attempt,
  delivered, then settled; a failed delivery is retried on the next run instead of lost.
- :mod:`~workbench.alerts.spool`: the :class:`Spool` (write-ahead inbox, pending entries, the
  sent-ledger that keeps re-runs from sending twice, locks, expiry and size cap).
"""

from workbench.alerts.alert import Alert, alertname
from workbench.alerts.delivery import Delivery, dedupe, default_spool, send
from workbench.alerts.spool import Spool
from workbench.alerts.sinks import SINKS, FileSink, Sink, get_sink, register_sink, sink_key

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
    "Spool",
    "WebhookSink",
    "alertname",
    "dedupe",
    "default_spool",
    "get_sink",
    "register_sink",
    "resolved",
    "send",
    "sink_key",
]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"workbench.alerts.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'workbench.alerts' has no attribute {name!r}")
