"""How recent data may be before it is judged.

A trace is written span by span as its spans end, the root last, and a trace source takes a
while to ingest what it is sent (seconds to minutes in Langfuse's queue). Data of the last few
minutes is therefore thin and half-built: traces still running show their finished tool calls
without the root that names their agent, and the slowest ones are missing altogether. A check
run every few minutes would judge those as traffic of an unknown agent, a drop in volume or a
cheap request. Every live window stops :data:`SETTLE` before now, as alerting systems delay
their evaluation for data still arriving.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["SETTLE", "settled_end", "settled_note"]

#: What the newest data judged is at least this old: traces still running or being ingested are
#: left to the next run.
SETTLE = pd.Timedelta(minutes=5)


def settled_end(end: pd.Timestamp, now: pd.Timestamp | None = None,
                settle: pd.Timedelta = SETTLE) -> pd.Timestamp:
    """``end``, or ``now - settle`` (to the minute) when that is earlier: a window over the
    past is judged as asked, one reaching the last minutes stops where data has settled."""
    now = now if now is not None else _now()
    return min(end, (now - settle).floor("min"))


def settled_note(end: pd.Timestamp) -> str:
    """What a window cut at ``end`` by :func:`settled_end` says of it."""
    return (f"judged up to {end:%H:%M} UTC: the last {SETTLE.seconds // 60} min are left to "
            "traces still running or being ingested")


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")
