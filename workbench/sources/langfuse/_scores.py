"""Scores API v3 (``GET /api/public/v3/scores``): cursor pages of at most 100 scores.

``fields=subject`` is always asked for: it is where v3 says which trace / observation a score
belongs to, which is what makes scores joinable to observations and traces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from workbench.errors import ConfigError

PATH = "api/public/v3/scores"
PAGE_LIMIT = 100  # the API answers 400 above this
FILTERS = ("name", "environment", "trace_id", "data_type", "source")
_PARAM = {"name": "name", "environment": "environment", "trace_id": "traceId",
          "data_type": "dataType", "source": "source"}


def normalise_filters(filters: Mapping[str, Any]) -> dict[str, str]:
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise ConfigError(f"unknown Langfuse score filter(s) {unknown}; supported: "
                          f"{list(FILTERS)}")
    out = {}
    for k, v in filters.items():
        if v is None:
            continue
        out[k] = ",".join(map(str, v)) if isinstance(v, (list, tuple, set)) else str(v)
    return out


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").isoformat().replace("+00:00", "Z")


def params(lo: pd.Timestamp, hi: pd.Timestamp, filters: Mapping[str, str]) -> dict[str, Any]:
    p: dict[str, Any] = {"fields": "subject", "limit": PAGE_LIMIT, "fromTimestamp": _iso(lo),
                         "toTimestamp": _iso(hi)}
    for k, v in filters.items():
        p[_PARAM[k]] = v
    return p
