"""Planning a Prometheus range query: the step, and chunks that respect the server's point limit.

Prometheus evaluates ``query_range`` at ``start, start+step, ...`` up to and including ``end`` and
rejects a request when ``(end - start) // step > 11000`` (integer division of durations, so exactly
11,000 intervals = 11,001 points is still accepted). A longer window is split into chunks that each
hold at most 11,001 points of the *same* step grid; both ends are inclusive, so the next chunk
starts one step after the previous one ends and no sample is lost or fetched twice.

Times are whole seconds here: every chunk is sent as whole seconds, so the grid is exact and the
same however the window is cut.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.errors import ConfigError

__all__ = ["MAX_POINTS", "NICE_STEPS_S", "Chunk", "choose_step", "parse_step", "plan_chunks",
           "to_epoch_s"]

#: Prometheus's hard limit on intervals per series in one query_range request.
MAX_INTERVALS = 11_000
#: Points per series in one request: both ends are inclusive.
MAX_POINTS = MAX_INTERVALS + 1

#: Steps a person reads easily; ``choose_step`` picks from these.
NICE_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                43200, 86400)

#: ``choose_step`` picks the finest nice step giving at most this many points.
TARGET_MAX_POINTS = 5_000

_PROM_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


@dataclass(frozen=True)
class Chunk:
    """One request's share of a range query: ``[start, end]``, both inclusive, epoch seconds."""

    start: int
    end: int
    step: int

    @property
    def points(self) -> int:
        return (self.end - self.start) // self.step + 1


def to_epoch_s(ts: Any) -> float:
    """Epoch seconds of a timestamp, datetime, ISO string (naive = UTC) or number of seconds."""
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        if not math.isfinite(ts):
            raise ConfigError(f"timestamp {ts!r} is not finite")
        return float(ts)
    try:
        t = pd.Timestamp(ts)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot read {ts!r} as a timestamp: {exc}") from exc
    if t is pd.NaT:
        raise ConfigError(f"cannot read {ts!r} as a timestamp: it is NaT")
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.value / 1e9


def parse_step(step: Any) -> int:
    """A step as whole seconds, from seconds (int/float), a Timedelta or ``"15s"``/``"5m"``."""
    if isinstance(step, str):
        m = _PROM_DURATION.match(step.strip())
        if m:
            seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
        else:
            try:
                seconds = float(step)
            except ValueError:
                raise ConfigError(f"step {step!r} is neither seconds nor a duration like '15s' "
                                  "or '5m'") from None
    elif isinstance(step, pd.Timedelta) or hasattr(step, "total_seconds"):
        seconds = pd.Timedelta(step).total_seconds()
    elif isinstance(step, (int, float)) and not isinstance(step, bool):
        seconds = float(step)
    else:
        raise ConfigError(f"step {step!r} must be seconds, a Timedelta or a duration string")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"step {step!r} must be a positive duration")
    if seconds != int(seconds):
        raise ConfigError(f"step {step!r} must be a whole number of seconds "
                          "(the client sends whole-second times)")
    return int(seconds)


def choose_step(start_s: float, end_s: float, max_points: int = TARGET_MAX_POINTS) -> int:
    """The finest nice step that keeps one series at or under ``max_points`` points.

    With neighbouring nice steps at most 2.5x apart this lands between ~2,000 and 5,000 points for
    any window over ~2 hours (a 1-day window gets 30 s, 7 days 5 min), one request per series.
    """
    window = max(end_s - start_s, 0.0)
    for step in NICE_STEPS_S:
        if window / step + 1 <= max_points:
            return step
    return int(math.ceil(window / (max_points - 1)))


def plan_chunks(start_s: float, end_s: float, step: int,
                max_points: int = MAX_POINTS) -> list[Chunk]:
    """Split ``[start, end]`` on the step grid into chunks of at most ``max_points`` points.

    ``start`` is rounded up to a whole second and anchors the grid; the last grid point at or
    before ``end`` closes the last chunk. Chunk ``i+1`` starts exactly one step after chunk ``i``
    ends, so the union of the chunks is the grid with no gap and no duplicate.
    """
    if step <= 0:
        raise ConfigError(f"step must be positive, got {step}")
    if max_points < 1:
        raise ConfigError(f"max_points must be at least 1, got {max_points}")
    if end_s < start_s:
        raise ConfigError(f"end ({end_s}) is before start ({start_s})")
    first = math.ceil(start_s)
    n_points = int((math.floor(end_s) - first) // step) + 1 if end_s >= first else 0
    chunks = []
    done = 0
    while done < n_points:
        take = min(max_points, n_points - done)
        s = first + done * step
        chunks.append(Chunk(start=s, end=s + (take - 1) * step, step=step))
        done += take
    return chunks
