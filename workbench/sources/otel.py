"""OpenTelemetry spans -> raw frames for the conventions layer.

The same mapping serves every OTel producer: spans recorded in-process by the OpenTelemetry SDK
(the simulator, tests) and, through the Tempo source, spans decoded from OTLP. Only the attributes
the conventions name are kept (``attr:<key>``, ``res:<key>``); the OTel status becomes
``status_code`` / ``status_message`` and the first ``exception`` event ``exception_type`` /
``exception_message``. Ids are lower-case hex (32 and 16 characters).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from workbench.sources import conventions as conv

__all__ = ["raw_from_spans"]


def _hex(n: int | None, width: int) -> str | None:
    return None if n is None else format(n, f"0{width}x")


def raw_from_spans(spans: Iterable[Any], conventions: conv.Conventions | None = None
                   ) -> pd.DataFrame:
    """The raw frame of finished OpenTelemetry SDK spans (``ReadableSpan``), any producer."""
    c = conventions or conv.load()
    wanted = c.wanted()
    attr_col = {k: f"attr:{k}" for k in wanted["attribute"]}
    res_keys = sorted(wanted["resource"])
    spans = list(spans)
    n = len(spans)
    cols: dict[str, list[Any]] = {k: [None] * n for k in (
        "trace_id", "observation_id", "parent_observation_id", "name", "status_code",
        "status_message", "exception_type", "exception_message")}
    attrs: dict[str, list[Any]] = {}
    res: dict[str, list[Any]] = {}
    start_ns = [0] * n
    end_ns = [0] * n
    resources: dict[int, list[tuple[str, Any]]] = {}
    for i, sp in enumerate(spans):
        # BoundedAttributes.copy() is a plain dict: far cheaper to read than the locked mapping.
        # A span holds a handful of attributes and the conventions name dozens: walk the span's.
        a = sp.attributes.copy() if sp.attributes else {}
        r = resources.get(id(sp.resource))
        if r is None:
            ra = dict(sp.resource.attributes) if sp.resource is not None else {}
            r = resources[id(sp.resource)] = [(k, ra[k]) for k in res_keys if k in ra]
        ctx = sp.context
        cols["trace_id"][i] = _hex(ctx.trace_id, 32)
        cols["observation_id"][i] = _hex(ctx.span_id, 16)
        cols["parent_observation_id"][i] = _hex(sp.parent.span_id, 16) if sp.parent else None
        cols["name"][i] = sp.name
        start_ns[i] = sp.start_time
        end_ns[i] = sp.end_time if sp.end_time is not None else sp.start_time
        status = sp.status
        cols["status_code"][i] = status.status_code.name if status is not None else "UNSET"
        cols["status_message"][i] = status.description if status is not None else None
        for ev in sp.events or ():
            if ev.name == "exception":
                ea = ev.attributes or {}
                cols["exception_type"][i] = ea.get("exception.type")
                cols["exception_message"][i] = ea.get("exception.message")
                break
        for k, v in a.items():
            col = attr_col.get(k)
            if col is not None and v is not None:
                values = attrs.get(col)
                if values is None:
                    values = attrs[col] = [None] * n
                values[i] = v
        for k, v in r:
            values = res.get(f"res:{k}")
            if values is None:
                values = res[f"res:{k}"] = [None] * n
            values[i] = v
    s = np.asarray(start_ns, dtype="int64")
    e = np.asarray(end_ns, dtype="int64")
    frame: dict[str, Any] = dict(cols)
    frame["start_time"] = pd.to_datetime(s, unit="ns", utc=True)
    frame["end_time"] = pd.to_datetime(e, unit="ns", utc=True)
    frame.update(sorted(attrs.items()))
    frame.update(sorted(res.items()))
    return conv.raw_frame(frame)
