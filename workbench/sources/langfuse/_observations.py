"""Observations API v2 (``GET /api/public/v2/observations``): field groups, filters, cursors.

Every field group the conventions read is requested (``io`` never: the canonical frame holds no
prompts or outputs), ``trace_context`` included: it carries the trace's name, release and tags on
every observation. Only filters on fields Langfuse stores the way the canonical frame means them
are sent to the server (environment, observation name, trace id, metadata key/value); everything
the conventions derive (agent, tool, type, level, error class, user, session, release, model,
prompt) is filtered after mapping, since a child span need not repeat what its trace says.
A metadata filter needs the ``filter`` JSON, which overrides every plain parameter, so then all
pushed filters (time window included) go into the JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pandas as pd

from workbench.errors import ConfigError

from ._client import Budget, Stats, Transport

PATH = "api/public/v2/observations"

#: Field groups every pull asks for.
GROUPS = ("core", "basic", "metadata", "model", "usage", "prompt", "trace_context")

#: Filters sent to Langfuse: keyword -> (query parameter, filter JSON column).
_PUSHED = {"name": ("name", "name"), "trace_id": ("traceId", "traceId")}
#: Filters applied to the mapped frame (canonical column of the same name).
LOCAL_FILTERS = ("agent", "type", "level", "error_type", "tool_name", "user_id", "session_id",
                 "release", "model", "prompt_name", "prompt_version")
FILTERS = ("environment", *_PUSHED, "metadata", *LOCAL_FILTERS)


def normalise_filters(filters: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate filter keywords: ``(pushed to Langfuse, applied after mapping)``."""
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise ConfigError(f"unknown Langfuse filter(s) {unknown}; supported: {list(FILTERS)}")
    pushed: dict[str, Any] = {}
    local: dict[str, Any] = {}
    for k, v in filters.items():
        if v is None:
            continue
        if k in LOCAL_FILTERS:
            local[k] = v
        elif k == "environment":
            pushed[k] = [v] if isinstance(v, str) else list(v)
        elif k == "metadata":
            if not isinstance(v, Mapping):
                raise ConfigError("metadata filter must be a mapping of key -> value")
            pushed[k] = {str(a): str(b) for a, b in v.items()}
        else:
            pushed[k] = v
    return pushed, local


def apply_local(df: pd.DataFrame, local: Mapping[str, Any]) -> pd.DataFrame:
    """Rows of canonical observations matching every local filter (values may be lists)."""
    if not local or df.empty:
        return df
    keep = pd.Series(True, index=df.index)
    for k, v in local.items():
        values = v if isinstance(v, (list, tuple, set)) else [v]
        col = df[k]
        if k in ("type", "level"):
            want = {str(x).lower() if k == "type" else str(x).upper() for x in values}
            keep &= col.astype(str).isin(want).to_numpy()
        elif k == "prompt_version":
            keep &= col.isin([int(x) for x in values]).fillna(False).to_numpy()
        else:
            keep &= col.astype(str).isin({str(x) for x in values}).to_numpy() & col.notna()
    return df[keep.to_numpy()].reset_index(drop=True)


def _metadata_conditions(f: Mapping[str, Any]) -> list[dict[str, Any]]:
    meta = dict(f.get("metadata") or {})
    return [{"type": "stringObject", "column": "metadata", "key": k, "operator": "=",
             "value": v} for k, v in sorted(meta.items())]


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").isoformat().replace("+00:00", "Z")


def params(lo: pd.Timestamp, hi: pd.Timestamp, groups: tuple[str, ...],
           filters: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """Query parameters for one slice ``[lo, hi)`` with the pushed ``filters``."""
    p: dict[str, Any] = {"fields": ",".join(groups), "limit": limit}
    meta = _metadata_conditions(filters)
    if not meta:
        p.update(fromStartTime=_iso(lo), toStartTime=_iso(hi))
        for k, (param, _) in _PUSHED.items():
            if k in filters:
                p[param] = filters[k]
        if "environment" in filters:
            p["environment"] = filters["environment"]
        return p
    conds: list[dict[str, Any]] = [
        {"type": "datetime", "column": "startTime", "operator": ">=", "value": _iso(lo)},
        {"type": "datetime", "column": "startTime", "operator": "<", "value": _iso(hi)},
    ]
    for k, (_, column) in _PUSHED.items():
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
