"""Alerts from findings: build (:class:`Alert`), dedupe by fingerprint, send to a sink by URL.

- :mod:`~workbench.alerts.alert`: the Alertmanager-shaped record and its fingerprint.
- :mod:`~workbench.alerts.sinks`: sinks by URL prefix (``file://`` or a path: JSON lines).
- :mod:`~workbench.alerts.delivery`: :func:`send`, with a spool so a failed delivery is retried
  on the next run instead of lost.
"""

from workbench.alerts.alert import Alert, alertname
from workbench.alerts.delivery import Delivery, dedupe, default_spool, send
from workbench.alerts.sinks import SINKS, FileSink, Sink, get_sink, register_sink

__all__ = [
    "SINKS",
    "Alert",
    "Delivery",
    "FileSink",
    "Sink",
    "alertname",
    "dedupe",
    "default_spool",
    "get_sink",
    "register_sink",
    "send",
]
