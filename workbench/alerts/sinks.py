"""Alert sinks, picked by URL prefix like papermill's I/O handlers.

``file://path`` or a plain path appends JSON lines; ``alertmanager+http(s)://host:port`` posts to
Alertmanager's API v2; ``http(s)://...`` posts a generic JSON webhook and ``slack+https://...`` a
Slack message. Sinks plug in by registering their prefix in :data:`SINKS`
(``"http://": ("module", "Class")``); modules load on first use, so an unused sink's client
library is never imported.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse, urlsplit

from workbench.alerts.alert import Alert
from workbench.errors import AlertDeliveryError, ConfigError

__all__ = ["SINKS", "FileSink", "Sink", "get_sink", "register_sink", "sink_key"]


def sink_key(url: str) -> str:
    """The name the spool and ledger keep for the sink at ``url``: never a secret.

    A file sink is its absolute path; an Alertmanager sink its URL (credentials are refused in
    it and come from the environment); a webhook or Slack URL, whose path or query often *is*
    the credential, becomes ``scheme://host:port/#sha256:<digest of the whole URL>``. The URL
    itself is read again at send time (``--alerts`` or ``WORKBENCH_ALERTS_URL``); entries
    for a sink the current run does not use wait for a run that does.
    """
    url = str(url).strip()
    if "://" not in url or url.startswith("file://"):
        return str(_path_of(url).absolute())
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    base = f"{parts.scheme}://{parts.hostname or ''}{port}"
    secretless = not (parts.username or parts.password or parts.query or parts.fragment)
    if url.startswith("alertmanager+") and secretless:
        return base + parts.path.rstrip("/")  # the path is a route prefix, not a credential
    if secretless and not parts.path.strip("/"):
        return base
    return f"{base}/#sha256:{hashlib.sha256(url.encode()).hexdigest()[:16]}"


class Sink(ABC):
    """Somewhere alerts go. ``deliver`` sends all or raises :class:`AlertDeliveryError`.

    ``chunk`` is how many alerts one :meth:`deliver` call should carry (None: all at once), so
    :func:`~workbench.alerts.send` can record each delivered chunk before posting the next.
    """

    url: str = ""
    chunk: int | None = None

    @property
    def key(self) -> str:
        """The sink's name in the spool and ledger (:func:`sink_key`)."""
        return sink_key(self.url)

    @abstractmethod
    def deliver(self, alerts: Sequence[Alert]) -> None:
        """Deliver every alert, or raise AlertDeliveryError (the caller spools them)."""


class FileSink(Sink):
    """Appends one JSON object per alert to a file; the file and its folder are created (mode
    0640 and 0750: alerts are for the team, not for every user of the machine)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = _path_of(url)

    def deliver(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        text = "".join(json.dumps(a.to_dict(), sort_keys=True) + "\n" for a in alerts)
        try:
            self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            # One write per batch: a reader never sees half a batch from this process.
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise AlertDeliveryError(
                f"file sink {self.path}: {exc.strerror or exc}") from exc


def _path_of(url: str) -> Path:
    if url.startswith("file://"):
        parsed = urlparse(url)
        return Path(unquote(parsed.netloc + parsed.path))
    return Path(url)


#: URL prefix -> (module, class). A plain path (no ``scheme://``) is a file.
SINKS: dict[str, tuple[str, str]] = {
    "file://": ("workbench.alerts.sinks", "FileSink"),
    "alertmanager+http://": ("workbench.alerts.alertmanager", "AlertmanagerSink"),
    "alertmanager+https://": ("workbench.alerts.alertmanager", "AlertmanagerSink"),
    "http://": ("workbench.alerts.webhook", "WebhookSink"),
    "https://": ("workbench.alerts.webhook", "WebhookSink"),
    "slack+http://": ("workbench.alerts.webhook", "SlackSink"),
    "slack+https://": ("workbench.alerts.webhook", "SlackSink"),
}


def register_sink(prefix: str, module: str, cls: str) -> None:
    """Make ``prefix`` URLs go to ``module.cls`` (constructed with the URL)."""
    SINKS[prefix] = (module, cls)


def get_sink(url: str) -> Sink:
    """The sink for ``url``; an unknown scheme names the known prefixes."""
    if not url or not str(url).strip():
        raise ConfigError("alert sink URL is empty")
    url = str(url)
    for prefix in sorted(SINKS, key=len, reverse=True):
        if url.startswith(prefix):
            module, cls = SINKS[prefix]
            return getattr(importlib.import_module(module), cls)(url)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ConfigError(f"no alert sink for {scheme}:// URLs; known prefixes: "
                          f"{sorted(SINKS)} (or a plain file path)")
    return FileSink(url)
