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
    attr_keys = sorted(wanted["attribute"])
    res_keys = sorted(wanted["resource"])
    cols: dict[str, list[Any]] = {k: [] for k in (
        "trace_id", "observation_id", "parent_observation_id", "name", "status_code",
        "status_message", "exception_type", "exception_message")}
    attrs: dict[str, list[Any]] = {f"attr:{k}": [] for k in attr_keys}
    res: dict[str, list[Any]] = {f"res:{k}": [] for k in res_keys}
    start_ns: list[int] = []
    end_ns: list[int] = []
    resources: dict[int, dict[str, Any]] = {}
    for sp in spans:
        # BoundedAttributes.copy() is a plain dict: far cheaper to read than the locked mapping
        a = sp.attributes.copy() if sp.attributes else {}
        r = resources.get(id(sp.resource))
        if r is None:
            r = resources[id(sp.resource)] = (dict(sp.resource.attributes)
                                              if sp.resource is not None else {})
        cols["trace_id"].append(_hex(sp.context.trace_id, 32))
        cols["observation_id"].append(_hex(sp.context.span_id, 16))
        cols["parent_observation_id"].append(_hex(sp.parent.span_id, 16) if sp.parent else None)
        cols["name"].append(sp.name)
        start_ns.append(sp.start_time)
        end_ns.append(sp.end_time if sp.end_time is not None else sp.start_time)
        code = sp.status.status_code.name if sp.status is not None else "UNSET"
        cols["status_code"].append(code)
        cols["status_message"].append(sp.status.description if sp.status is not None else None)
        exc_type = exc_msg = None
        for ev in sp.events or ():
            if ev.name == "exception":
                ea = ev.attributes or {}
                exc_type, exc_msg = ea.get("exception.type"), ea.get("exception.message")
                break
        cols["exception_type"].append(exc_type)
        cols["exception_message"].append(exc_msg)
        for k in attr_keys:
            attrs[f"attr:{k}"].append(a.get(k))
        for k in res_keys:
            res[f"res:{k}"].append(r.get(k))
    s = np.asarray(start_ns, dtype="int64")
    e = np.asarray(end_ns, dtype="int64")
    frame: dict[str, Any] = dict(cols)
    frame["start_time"] = pd.to_datetime(s, unit="ns", utc=True)
    frame["end_time"] = pd.to_datetime(e, unit="ns", utc=True)
    frame.update({k: v for k, v in attrs.items() if any(x is not None for x in v)})
    frame.update({k: v for k, v in res.items() if any(x is not None for x in v)})
    return conv.raw_frame(frame)
