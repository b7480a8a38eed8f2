"""The heartbeat: a dead-man's switch for scheduled runs, kept by Alertmanager.

Every scheduled run (``workbench check`` or ``report daily`` with ``--heartbeat EVERY``) posts an
always-firing ``WorkbenchWatchdog`` alert whose ``endsAt`` is the next expected run plus a grace
period. While the schedule runs, each post renews it; when runs stop (a broken crontab, a dead
host, a run that hangs), nobody renews it and Alertmanager resolves it at ``endsAt``. Route it so
that this is noticed (README, "Heartbeat"): either to an external dead-man's-switch service that
expects a notification every ``repeat_interval`` (it pages when they stop), or with
``send_resolved: true`` to a receiver that treats *resolved* as "the schedule stopped".

The heartbeat bypasses the spool on purpose: a late heartbeat says nothing about now, and when
Alertmanager cannot be reached, the watchdog expiring there is exactly the alarm wanted.
"""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

from workbench.alerts.alert import Alert
from workbench.deadline import Deadline
from workbench.errors import AlertDeliveryError, ConfigError

__all__ = ["WATCHDOG", "send_heartbeat", "watchdog_alert"]

#: The heartbeat's alertname (route on it).
WATCHDOG = "WorkbenchWatchdog"


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def watchdog_alert(job: str, every: dt.timedelta, grace: dt.timedelta, *,
                   now: dt.datetime | None = None, host: str | None = None) -> Alert:
    """The watchdog alert of ``job`` on ``host``: firing until the next run is overdue."""
    if every <= dt.timedelta(0) or grace < dt.timedelta(0):
        raise ConfigError(f"heartbeat interval must be positive and grace not negative, got "
                          f"{every} and {grace}")
    now = now or dt.datetime.now(dt.timezone.utc)
    host = host or socket.gethostname()
    due = now + every + grace
    labels = {"alertname": WATCHDOG, "job": job, "host": host, "severity": "none"}
    return Alert(
        labels=labels,
        annotations={
            "summary": f"workbench {job} on {host} is running on schedule",
            "description": (f"Renewed by every run (one every {every}); resolves by itself at "
                            f"{_iso(due)} when no run renewed it: the schedule stopped."),
            "next_run_due": _iso(now + every),
        },
        starts_at=_iso(now), ends_at=_iso(due),
        fingerprint=f"watchdog-{job}-{host}")


def send_heartbeat(sink_url: str, job: str, every: dt.timedelta, grace: dt.timedelta, *,
                   deadline: Deadline | None = None, now: dt.datetime | None = None) -> Alert:
    """Post the watchdog alert to the Alertmanager at ``sink_url``; raise AlertDeliveryError
    when it cannot be posted (the watchdog then expires: the wanted alarm)."""
    from workbench.alerts.alertmanager import AlertmanagerSink

    if not sink_url.startswith(("alertmanager+http://", "alertmanager+https://")):
        raise ConfigError("the heartbeat needs an Alertmanager sink (alertmanager+http(s)://): "
                          "only Alertmanager lets an alert expire when runs stop")
    alert = watchdog_alert(job, every, grace, now=now)
    stamp = now or dt.datetime.now(dt.timezone.utc)
    sink: Any = AlertmanagerSink(sink_url, firing_for=every + grace, clock=lambda: stamp)
    with (deadline or Deadline(None)).within(30.0).active():
        try:
            sink.deliver([alert])
        except AlertDeliveryError as exc:
            raise AlertDeliveryError(f"heartbeat not posted: {exc}") from exc
    return alert
