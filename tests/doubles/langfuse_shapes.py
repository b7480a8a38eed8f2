"""Langfuse-native records (see :mod:`langfuse_ingest`) in the JSON shapes the public API serves.

The double stores every observation once, pre-split into the v2 field groups, so a request only
picks the groups it asked for. Metadata leaves are stored as strings and read back as the API
reads them (cut to 200 characters unless expanded, then parsed as JSON where they parse). Model
prices are decimal strings, as the v2 spec says. Scores come from canonical score frames: the
judges' output rows map one to one.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .langfuse_ingest import PROJECT_ID, iso as iso_ns, read_metadata_value

#: v2 field groups (the ``core`` group is always sent).
FIELD_GROUPS = ("core", "basic", "time", "io", "metadata", "model", "usage", "prompt", "metrics",
                "trace_context")


def iso(ts: pd.Timestamp | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``; milliseconds unless the value has finer precision."""
    if ts is None or ts is pd.NaT or (isinstance(ts, float) and math.isnan(ts)):
        return None
    return iso_ns(int(pd.Timestamp(ts).value))


def _val(v: Any) -> Any:
    """pandas missing values -> None; numpy scalars -> Python."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    cols = list(df.columns)
    out = []
    for row in zip(*(df[c].tolist() for c in cols)):
        out.append({c: _val(v) for c, v in zip(cols, row)})
    return out


def read_metadata(stored: dict[str, str], expand: bool) -> dict[str, Any]:
    """A record's metadata as ``GET /v2/observations`` returns it: flat dotted keys."""
    return {k: read_metadata_value(v, expand) for k, v in stored.items()}


def legacy_metadata(stored: dict[str, str]) -> dict[str, Any]:
    """Metadata of the legacy (v1) observations table: top-level sections, each one object of
    string values, user keys beside them."""
    out: dict[str, Any] = {}
    for key, value in stored.items():
        if key.startswith("attributes."):
            out.setdefault("attributes", {})[key[len("attributes."):]] = value
        elif key.startswith("resourceAttributes."):
            out.setdefault("resourceAttributes", {})[key[len("resourceAttributes."):]] = value
        elif key.startswith("scope.attributes."):
            scope = out.setdefault("scope", {})
            scope.setdefault("attributes", {})[key[len("scope.attributes."):]] = value
        elif key in ("scope.name", "scope.version"):
            out.setdefault("scope", {})[key[len("scope."):]] = value
        else:
            out[key] = read_metadata_value(value, True)
    return out


def project_v2(groups: dict[str, dict[str, Any]], wanted: tuple[str, ...],
               expand: bool = False) -> dict[str, Any]:
    """The v2 row for the requested groups: other groups' keys are absent, not null.
    ``expand``: metadata untruncated (``expandMetadata`` given, or ``io`` asked for too)."""
    row = dict(groups["core"])
    for g in wanted:
        if g == "metadata":
            row["metadata"] = read_metadata(groups["metadata"]["metadata"], expand)
        elif g != "core":
            row.update(groups[g])
    if "model" in wanted:
        row.update(groups["_enrich"])
    else:
        row.update({"modelId": None, "inputPrice": None, "outputPrice": None, "totalPrice": None})
    return row


def legacy_observation(groups: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The v1 ``ObservationsView`` shape (``GET /api/public/observations``)."""
    c, b, u = groups["core"], groups["basic"], groups["usage"]
    m, p, t, mt = groups["model"], groups["prompt"], groups["time"], groups["metrics"]
    ud = u["usageDetails"]
    cost = u["totalCost"]
    return {
        "id": c["id"], "traceId": c["traceId"], "type": c["type"], "name": b["name"],
        "startTime": c["startTime"], "endTime": c["endTime"],
        "completionStartTime": t["completionStartTime"], "model": m["providedModelName"],
        "modelParameters": m["modelParameters"], "input": None, "version": b["version"],
        "metadata": legacy_metadata(groups["metadata"]["metadata"]), "output": None,
        "usage": {"input": ud.get("input", 0), "output": ud.get("output", 0),
                  "total": ud.get("total", 0), "unit": "TOKENS" if ud else None},
        "level": b["level"], "statusMessage": b["statusMessage"],
        "parentObservationId": c["parentObservationId"], "promptId": p["promptId"],
        "usageDetails": ud, "costDetails": u["costDetails"], "environment": b["environment"],
        "promptName": p["promptName"], "promptVersion": p["promptVersion"],
        "modelId": groups["_enrich"]["modelId"],
        "inputPrice": _float(groups["_enrich"]["inputPrice"]),
        "outputPrice": _float(groups["_enrich"]["outputPrice"]),
        "totalPrice": None, "calculatedInputCost": None, "calculatedOutputCost": None,
        "calculatedTotalCost": cost, "latency": mt["latency"], "timeToFirstToken": None,
    }


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def legacy_traces(records: list[dict[str, Any]], score_ids: dict[str, list[str]]
                  ) -> list[dict[str, Any]]:
    """The v1 ``TraceWithDetails`` shape (``GET /api/public/traces``), one per trace."""
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_trace.setdefault(r["core"]["traceId"], []).append(r)
    out = []
    for tid, recs in by_trace.items():
        t = recs[0]["_trace"]
        start = pd.Timestamp(t["timestamp"])
        end = max(pd.Timestamp(r["core"]["endTime"]) for r in recs)
        costs = [r["usage"]["totalCost"] for r in recs if r["usage"]["totalCost"] is not None]
        out.append({
            "id": tid, "timestamp": t["timestamp"], "name": t["name"], "input": None,
            "output": None, "sessionId": t["sessionId"], "release": t["release"],
            "version": t["version"], "userId": t["userId"], "metadata": {},
            "tags": list(t["tags"]), "public": False, "environment": t["environment"],
            "htmlPath": f"/project/{PROJECT_ID}/traces/{tid}",
            "latency": (end - start).total_seconds(),
            "totalCost": sum(costs) if costs else None,
            "observations": [r["core"]["id"] for r in recs],
            "scores": score_ids.get(tid, []),
        })
    return out


_CONFIG_REQUIRED = ("id", "name", "dataType")
_CONFIG_TYPES = ("NUMERIC", "CATEGORICAL", "BOOLEAN")


def score_config(c: dict[str, Any]) -> dict[str, Any]:
    """One ``ScoreConfig`` as the API returns it: the given fields, the required ones the
    server fills in (project, creation times, not archived) and the nullable ones as null."""
    missing = [k for k in _CONFIG_REQUIRED if not c.get(k)]
    if missing:
        raise ValueError(f"score config {c!r} lacks {missing}")
    if c["dataType"] not in _CONFIG_TYPES:
        raise ValueError(f"score config {c['name']!r}: dataType {c['dataType']!r} is not one "
                         f"of {_CONFIG_TYPES}")
    stamp = "2026-01-05T09:00:00.000Z"
    return {"projectId": PROJECT_ID, "createdAt": stamp, "updatedAt": stamp, "isArchived": False,
            "minValue": None, "maxValue": None, "categories": None, "description": None, **c}


def config_ids(configs: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(score name, data type) -> the id of the config a score of that name is written
    against: the live config where an archived one shares its name."""
    out: dict[tuple[str, str], str] = {}
    for c in sorted(configs, key=lambda c: not c["isArchived"]):  # live ones last, so they win
        out[(c["name"], c["dataType"])] = c["id"]
    return out


def score_records(scores: pd.DataFrame) -> list[dict[str, Any]]:
    """Canonical scores as plain dicts with ISO timestamps (shared by v3 and legacy v2)."""
    recs = _records(scores)
    for r in recs:
        r["timestamp_iso"] = iso(r["timestamp"])
    return recs


def score_v3(r: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """One ``ScoreV3``: value typed by dataType; ``subject`` only when asked for."""
    dt = r["data_type"]
    if dt == "NUMERIC":
        value: Any = r["value"]
    elif dt == "BOOLEAN":
        value = bool(r["value"])
    else:
        value = r["string_value"] if r["string_value"] is not None else ""
    out = {"id": r["score_id"], "projectId": PROJECT_ID, "name": r["name"], "value": value,
           "dataType": dt, "source": r["source"], "timestamp": r["timestamp_iso"],
           "environment": r["environment"] or "default", "createdAt": r["timestamp_iso"],
           "updatedAt": r["timestamp_iso"]}
    if "details" in fields:
        out.update({"comment": None, "configId": r.get("config_id"), "metadata": {}})
    if "annotation" in fields:
        out.update({"authorUserId": None, "queueId": None})
    if "subject" in fields:
        if r["observation_id"] is not None:
            out["subject"] = {"kind": "observation", "id": r["observation_id"],
                              "traceId": r["trace_id"]}
        else:
            out["subject"] = {"kind": "trace", "id": r["trace_id"]}
    return out


def score_legacy(r: dict[str, Any]) -> dict[str, Any]:
    """One v2 ``GetScoresResponseData`` (page-based ``GET /api/public/v2/scores``)."""
    dt = r["data_type"]
    out = {"id": r["score_id"], "traceId": r["trace_id"], "sessionId": None,
           "observationId": r["observation_id"], "datasetRunId": None, "name": r["name"],
           "source": r["source"], "timestamp": r["timestamp_iso"],
           "createdAt": r["timestamp_iso"], "updatedAt": r["timestamp_iso"],
           "authorUserId": None, "comment": None, "metadata": {}, "configId": r.get("config_id"),
           "queueId": None, "environment": r["environment"] or "default", "dataType": dt}
    if dt == "NUMERIC":
        out["value"] = r["value"]
    elif dt == "BOOLEAN":
        out["value"] = 1.0 if r["value"] else 0.0
        out["stringValue"] = "True" if r["value"] else "False"
    else:
        out["value"] = 0.0
        out["stringValue"] = r["string_value"] or ""
    return out
