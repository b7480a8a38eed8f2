"""TraceQL search: time slices on a fixed grid, the server's range limit, answers parsed.

Tempo refuses a search whose range exceeds its ``max_duration`` (168 h by default in current
releases, shorter on many deployments) with ``400 range specified by start and end exceeds
<duration>``: windows are cut into grid-aligned slices no longer than the limit, and a 400 that
names a smaller limit is learnt and the slice cut again. A search answers at most ``limit``
traces (the most recent ones): an answer that fills the limit is split in two and searched again,
so a busy hour is not silently truncated. ``start``/``end`` are whole unix seconds; results are
kept by their trace start in the half-open slice ``[lo, hi)`` so neighbours never share a trace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.sources.otlp import normalise_trace_id

Slice = tuple[pd.Timestamp, pd.Timestamp]

_EXCEEDS = re.compile(r"exceeds\s+([0-9][0-9a-zµ.]*?)\.?\s+received", re.IGNORECASE)
_SECONDS = re.compile(r"exceeds\s+(\d+)\s+seconds", re.IGNORECASE)
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def plan(start: pd.Timestamp, end: pd.Timestamp, slice_s: float) -> list[Slice]:
    """Grid-aligned ``[lo, hi)`` slices (multiples of ``slice_s`` since the epoch) covering
    ``[start, end)`` exactly, so overlapping windows share most slices (and their cache)."""
    if end <= start:
        return []
    step = pd.Timedelta(seconds=slice_s)
    epoch = pd.Timestamp(0, tz="UTC")
    edges = [start]
    t = epoch + ((start - epoch) // step) * step + step
    while t < end:
        edges.append(t)
        t += step
    edges.append(end)
    return list(zip(edges[:-1], edges[1:]))


def go_duration(text: str) -> float | None:
    """Seconds of a Go duration string (``168h0m0s``, ``1h30m``, ``500ms``); None if not one."""
    text = text.strip()
    parts = _GO_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _GO_UNITS[u] for n, u in parts)


def range_limit(message: str) -> float | None:
    """The server's limit in seconds, from Tempo's ``range specified by start and end exceeds
    ...`` 400 message (search and TraceQL metrics); None for any other message."""
    m = _EXCEEDS.search(message)
    if m:
        return go_duration(m.group(1))
    m = _SECONDS.search(message)
    return float(m.group(1)) if m else None


def unix_s(ts: pd.Timestamp, up: bool = False) -> int:
    """Whole unix seconds, rounded down (or up) so the query covers ``ts``."""
    ns = ts.value
    s, rest = divmod(ns, 1_000_000_000)
    return int(s + (1 if up and rest else 0))


def params(q: str, lo: pd.Timestamp, hi: pd.Timestamp, limit: int, spss: int) -> dict[str, Any]:
    return {"q": q, "start": unix_s(lo), "end": max(unix_s(hi, up=True), unix_s(lo) + 1),
            "limit": limit, "spss": spss}


@dataclass(frozen=True)
class Hit:
    """One trace of a search answer."""

    trace_id: str  # 32 hex, left-padded
    start_ns: int
    root_service: str | None
    root_name: str | None
    duration_ms: int


def parse(body: Any) -> tuple[list[Hit], int]:
    """The traces of a search answer, and how many entries could not be read."""
    traces = body.get("traces") if isinstance(body, Mapping) else None
    if traces is None:
        return [], 0
    hits, bad = [], 0
    for t in traces:
        try:
            hits.append(Hit(normalise_trace_id(t["traceID"]), int(t.get("startTimeUnixNano", 0)),
                            t.get("rootServiceName"), t.get("rootTraceName"),
                            int(t.get("durationMs", 0) or 0)))
        except (KeyError, TypeError, ValueError):
            bad += 1
    return hits, bad


def is_search_body(body: Any) -> bool:
    return isinstance(body, Mapping) and isinstance(body.get("traces", []), list)
