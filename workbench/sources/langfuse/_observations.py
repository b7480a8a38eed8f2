"""Observations API v2 (``GET /api/public/v2/observations``): field groups, filters, cursors.

Only the field groups the asked-for canonical columns need are requested (``io`` never: the
canonical frame holds no prompts or outputs). Plain query parameters carry the usual filters;
a metadata filter needs the ``filter`` JSON, which overrides every plain parameter, so then all
filters (time window included) go into the JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import pandas as pd

from workbench import schema
from workbench.errors import ConfigError

from ._client import Budget, Stats, Transport

PATH = "api/public/v2/observations"

#: canonical column -> v2 field groups it is read from
_GROUPS_BY_COLUMN: dict[str, tuple[str, ...]] = {
    "name": ("basic",), "level": ("basic",), "status_message": ("basic",),
    "environment": ("basic",), "release": ("basic",), "user_id": ("basic",),
    "session_id": ("basic",), "error_type": ("metadata",), "agent": ("metadata",),
    "tool_name": ("metadata",), "model": ("model",), "prompt_name": ("prompt",),
    "prompt_version": ("prompt",), "input_tokens": ("usage",), "output_tokens": ("usage",),
    "total_tokens": ("usage",), "cost_usd": ("usage",),
}

#: filter keyword -> (query parameter, filter JSON column); metadata-backed ones map to a key
FILTERS = ("environment", "name", "type", "level", "user_id", "session_id", "trace_id",
           "release", "agent", "error_type", "tool_name", "metadata")
_PARAM = {"name": ("name", "name"), "type": ("type", "type"), "level": ("level", "level"),
          "user_id": ("userId", "userId"), "session_id": ("sessionId", "sessionId"),
          "trace_id": ("traceId", "traceId"), "release": ("version", "version")}
_METADATA_FILTERS = ("agent", "error_type", "tool_name")


def groups_for(columns: Iterable[str] | None) -> tuple[str, ...]:
    """The field groups needed for ``columns`` (all canonical columns when None)."""
    cols = list(columns) if columns is not None else schema.columns("observations")
    unknown = sorted(set(cols) - set(schema.columns("observations")))
    if unknown:
        raise ConfigError(f"unknown observation column(s) {unknown}; "
                          f"known: {schema.columns('observations')}")
    groups = {"core"}
    for c in cols:
        groups.update(_GROUPS_BY_COLUMN.get(c, ()))
    order = ("core", "basic", "metadata", "model", "usage", "prompt")
    return tuple(g for g in order if g in groups)


def normalise_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Validate filter keywords; values as Langfuse expects them (types upper-case)."""
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise ConfigError(f"unknown Langfuse filter(s) {unknown}; supported: {list(FILTERS)}")
    out: dict[str, Any] = {}
    for k, v in filters.items():
        if v is None:
            continue
        if k == "type":
            v = str(v).upper()
        elif k == "level":
            v = str(v).upper()
        elif k == "environment":
            v = [v] if isinstance(v, str) else list(v)
        elif k == "metadata":
            if not isinstance(v, Mapping):
                raise ConfigError("metadata filter must be a mapping of key -> value")
            v = {str(a): str(b) for a, b in v.items()}
        out[k] = v
    return out


def _metadata_conditions(f: Mapping[str, Any]) -> list[dict[str, Any]]:
    meta = dict(f.get("metadata") or {})
    for k in _METADATA_FILTERS:
        if k in f:
            meta[k] = str(f[k])
    return [{"type": "stringObject", "column": "metadata", "key": k, "operator": "=",
             "value": v} for k, v in sorted(meta.items())]


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").isoformat().replace("+00:00", "Z")


def params(lo: pd.Timestamp, hi: pd.Timestamp, groups: tuple[str, ...],
           filters: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """Query parameters for one slice ``[lo, hi)``."""
    p: dict[str, Any] = {"fields": ",".join(groups), "limit": limit}
    meta = _metadata_conditions(filters)
    if not meta:
        p.update(fromStartTime=_iso(lo), toStartTime=_iso(hi))
        for k, (param, _) in _PARAM.items():
            if k in filters:
                p[param] = filters[k]
        if "environment" in filters:
            p["environment"] = filters["environment"]
        return p
    conds: list[dict[str, Any]] = [
        {"type": "datetime", "column": "startTime", "operator": ">=", "value": _iso(lo)},
        {"type": "datetime", "column": "startTime", "operator": "<", "value": _iso(hi)},
    ]
    for k, (_, column) in _PARAM.items():
        if k in filters:
            conds.append({"type": "string", "column": column, "operator": "=",
                          "value": filters[k]})
    if "environment" in filters:
        conds.append({"type": "stringOptions", "column": "environment", "operator": "any of",
                      "value": filters["environment"]})
    p["filter"] = orjson.dumps(conds + meta).decode()
    return p


def page_ok(body: Any) -> bool:
    return (isinstance(body, dict) and isinstance(body.get("data"), list)
            and isinstance(body.get("meta", {}), dict))


def pull(transport: Transport, query: dict[str, Any], budget: Budget, stats: Stats,
         label: str, path: str = PATH) -> tuple[list[Any], str | None]:
    """Every item of one slice, following cursors; ``(items, reason-if-incomplete)``.

    Shared by the cursor-paginated reads (v2 observations, v3 scores).

    Transient failures (budget, retries spent, pages that stay malformed) end the slice early
    with a reason; auth and query errors propagate.
    """
    from workbench.errors import SourceAuthError, SourceError, SourceQueryError

    items: list[Any] = []
    q = dict(query)
    while True:
        try:
            body = transport.get(path, q, budget, stats, check=page_ok)
        except (SourceAuthError, SourceQueryError):
            raise
        except SourceError as exc:
            return items, f"{label}: {exc}"
        items.extend(body["data"])
        cursor = (body.get("meta") or {}).get("cursor")
        if not cursor:
            return items, None
        q["cursor"] = cursor
