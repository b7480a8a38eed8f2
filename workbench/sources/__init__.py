"""Data sources behind one small protocol, registered by name and imported on first use.

Trace sources (``local``, ``langfuse``, ``tempo``) return the canonical ``observations``, ``traces`` and
``scores`` frames for a time window ``[start, end)``; the metrics source (``prometheus``) returns
the tidy ``metrics`` frame. A pull that could not finish (budget spent, pages lost) still returns
what it got, marked with :func:`mark_incomplete` so a report can say it is degraded.
"""

from __future__ import annotations

import hashlib
import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import schema
from workbench.deadline import active_deadline
from workbench.errors import ConfigError

__all__ = [
    "SOURCES",
    "TraceSource",
    "get_source",
    "incomplete_reason",
    "mark_incomplete",
    "open_trace_source",
    "pulling",
    "source_identity",
    "to_utc",
    "to_window",
]

#: name -> (module, class); modules are imported only when the source is asked for.
SOURCES: dict[str, tuple[str, str]] = {
    "local": ("workbench.sources.local", "LocalSource"),
    "langfuse": ("workbench.sources.langfuse", "LangfuseSource"),
    "tempo": ("workbench.sources.tempo", "TempoSource"),
    "prometheus": ("workbench.sources.prometheus", "PrometheusSource"),
}

_INCOMPLETE = "workbench.incomplete"


def get_source(name: str, **kwargs: Any) -> Any:
    """Build the source registered as ``name``; unknown names list the known ones."""
    try:
        module, cls = SOURCES[name]
    except KeyError:
        raise ConfigError(f"unknown source {name!r}; known sources: {sorted(SOURCES)}") from None
    return getattr(importlib.import_module(module), cls)(**kwargs)


def open_trace_source(source: str | TraceSource, data_dir: str | Path | None = None,
                      **kwargs: Any) -> TraceSource:
    """A trace source by registered name, ready for a report or a notebook.

    ``local`` reads ``data_dir`` (a relative folder not found from the working folder, as when a
    notebook runs inside ``notebooks/``, is tried from the project folder too); remote sources
    read their credentials from the environment and cache pulls under
    :func:`workbench.settings.cache_dir`. A metrics-only source is refused by its class, before
    constructing it needs its environment variables.
    """
    if isinstance(source, TraceSource):
        return source
    try:
        module, cls = SOURCES[source]
    except KeyError:
        raise ConfigError(f"unknown source {source!r}; known sources: {sorted(SOURCES)}") from None
    if not issubclass(getattr(importlib.import_module(module), cls), TraceSource):
        raise ConfigError(f"source {source!r} is not a trace source (it serves metrics)")
    if source == "local":
        if not data_dir:
            raise ConfigError("source 'local' needs a data directory (--data / data_dir)")
        root = Path(data_dir)
        if not root.is_dir() and not root.is_absolute():
            root = Path(__file__).resolve().parents[2] / data_dir
        if not root.is_dir():
            raise ConfigError(f"data directory {data_dir} not found (looked in {Path.cwd()} and "
                              f"{root.parent}); create the demo with `workbench demo`")
        kwargs["root"] = str(root)
    elif source in ("langfuse", "tempo"):
        from workbench.settings import cache_dir

        kwargs.setdefault("cache_dir", str(cache_dir(source)))
    return get_source(source, **kwargs)


@contextmanager
def pulling(source: str | TraceSource, data_dir: str | Path | None = None, *,
            progress: bool | None = False) -> Iterator[TraceSource]:
    """A trace source opened for one run of pulls (a report, a check, a notebook's load).

    Every pull runs under the deadline active where this is entered (a scheduled run's), a
    remote source shows a progress bar only when ``progress`` asks for one (a written document
    has no one watching it), and a source opened here by name is closed after. A source object
    passed in is used as it is and left open: it belongs to the caller.
    """
    extra = {"progress": progress} if source in ("langfuse", "tempo") else {}
    src = open_trace_source(source, data_dir, **extra)
    if hasattr(src, "deadline") and active_deadline() is not None:
        src.deadline = active_deadline()
    try:
        yield src
    finally:
        close = getattr(src, "close", None)
        if src is not source and callable(close):
            close()


def to_utc(ts: Any) -> pd.Timestamp:
    """Parse a timestamp or ISO string; naive values are taken as UTC."""
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def to_window(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Parse a half-open window ``[start, end)``; bad or reversed bounds are a ConfigError."""
    try:
        t0, t1 = to_utc(start), to_utc(end)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"window bounds must be timestamps, got {start!r}, {end!r}") from exc
    if not t1 > t0:
        raise ConfigError(f"window end {t1} is not after its start {t0}")
    return t0, t1


def mark_incomplete(df: pd.DataFrame, reason: str) -> pd.DataFrame:
    """Flag ``df`` as a partial result; reasons accumulate."""
    prior = df.attrs.get(_INCOMPLETE)
    df.attrs[_INCOMPLETE] = f"{prior}; {reason}" if prior else reason
    return df


def source_identity(kind: str, url: str | None = None, *private: str | None) -> str:
    """``kind[:host][:digest]``: which data a run judged (a Langfuse project, a Tempo tenant, a
    local folder), short and never a secret: of ``url`` only its host, and the parts that may
    be private (a project's public key, a tenant, a folder's path) as a 12-digit hash."""
    from urllib.parse import urlsplit

    out = kind
    try:
        parts = urlsplit(url or "")
        host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    except ValueError:  # a malformed URL names no host
        host = None
    if host:
        out += f":{host}"
    if digest := [p for p in private if p]:
        out += ":" + hashlib.sha256("\0".join(digest).encode()).hexdigest()[:12]
    return out


def incomplete_reason(df: pd.DataFrame) -> str | None:
    """Why ``df`` is partial, or None when it is complete."""
    return df.attrs.get(_INCOMPLETE)


class TraceSource(ABC):
    """A source of traces: observations and scores for a window, traces rolled up from them."""

    name: str = "trace source"

    @property
    def identity(self) -> str | None:
        """Which data this source reads (:func:`source_identity`), recorded with the alerts
        judged on it so a post-mortem counts only its own; None when it cannot be told."""
        return None

    @abstractmethod
    def observations(self, start: Any, end: Any, **filters: Any) -> pd.DataFrame:
        """Canonical observations that started in ``[start, end)``."""

    @abstractmethod
    def scores(self, start: Any, end: Any, **filters: Any) -> pd.DataFrame:
        """Canonical scores recorded in ``[start, end)``."""

    def trace_scores(self, start: Any, end: Any) -> pd.DataFrame:
        """The scores that may count toward traces started in ``[start, end)``: recorded from
        ``start`` until the conventions' ``score_lag`` after ``end``. Which of them count is
        decided per trace (:mod:`workbench.analysis.signals`), so every reader of a window
        counts the same ones."""
        from workbench.sources import conventions as conv

        t0, t1 = to_window(start, end)
        return self.scores(t0, t1 + conv.load().score_lag)

    def traces(self, start: Any, end: Any, **filters: Any) -> pd.DataFrame:
        """Canonical traces, rolled up from observations so every source agrees on KPIs."""
        obs = self.observations(start, end, **filters)
        out = schema.traces_from_observations(obs)
        if reason := incomplete_reason(obs):
            mark_incomplete(out, reason)
        return out
