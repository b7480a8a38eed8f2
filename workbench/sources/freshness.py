"""How recent data may be before it is judged.

A trace is written span by span as its spans end, the root last, and a trace source takes a
while to ingest what it is sent (seconds to minutes in Langfuse's queue). Data of the last few
minutes is therefore thin and half-built: traces still running show their finished tool calls
without the root that names their agent, and the slowest ones are missing altogether. A check
run every few minutes would judge those as traffic of an unknown agent, a drop in volume or a
cheap request. Every live window stops :func:`settle_margin` before now (:data:`SETTLE`, or
``WORKBENCH_SETTLE`` for a source that ingests slower, such as a self-hosted Langfuse with a
backed-up queue), as alerting systems delay their evaluation for data still arriving.
"""

from __future__ import annotations

import os

import pandas as pd

from workbench.errors import ConfigError

__all__ = ["ENV_SETTLE", "SETTLE", "margin_text", "settle_margin", "settled_end", "settled_note"]

#: What the newest data judged is at least this old: traces still running or being ingested are
#: left to the next run.
SETTLE = pd.Timedelta(minutes=5)
#: the margin for a source that needs another one: a duration such as ``15m`` (``0m``: none)
ENV_SETTLE = "WORKBENCH_SETTLE"


def settle_margin() -> pd.Timedelta:
    """``WORKBENCH_SETTLE`` (``<number><s|m|h>``, at most a day), else :data:`SETTLE`."""
    from workbench.runbooks import parse_duration

    text = os.environ.get(ENV_SETTLE, "").strip()
    if not text:
        return SETTLE
    try:
        margin = parse_duration(text)
    except ConfigError:
        margin = None
    if margin is None or margin > pd.Timedelta(days=1) or text[-1] not in "smh":
        raise ConfigError(f"{ENV_SETTLE}={text!r} is not a settle margin: give a duration "
                          "such as 5m or 15m (seconds, minutes or hours, at most a day)")
    return margin


def settled_end(end: pd.Timestamp, now: pd.Timestamp | None = None,
                settle: pd.Timedelta | None = None) -> pd.Timestamp:
    """``end``, or ``now - settle`` (to the minute; default :func:`settle_margin`) when that is
    earlier: a window over the past is judged as asked, one reaching the last minutes stops
    where data has settled."""
    now = now if now is not None else _now()
    return min(end, (now - (settle if settle is not None else settle_margin())).floor("min"))


def margin_text() -> str:
    """The settle margin as a reader says it: "5 min", "90 s", "2 h"."""
    seconds = int(settle_margin().total_seconds())
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def settled_note(end: pd.Timestamp) -> str:
    """What a window cut at ``end`` by :func:`settled_end` says of it."""
    return (f"judged up to {end:%H:%M} UTC: the last {margin_text()} are left to traces still "
            "running or being ingested")


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")
