"""Canonical frames turned into the JSON shapes the Langfuse public API serves.

The double stores every observation once, pre-split into the v2 field groups, so a request only
picks the groups it asked for. Timestamps come out as Langfuse writes them (ISO 8601, ``Z``,
milliseconds; microseconds only when the canonical value carries them, so round trips are exact).
Model prices are decimal strings, as the v2 spec says.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

PROJECT_ID = "cl-project-double-0001"

#: v2 field groups -> the keys each adds (the ``core`` group is always sent).
FIELD_GROUPS = ("core", "basic", "time", "io", "metadata", "model", "usage", "prompt", "metrics",
                "trace_context")

# An invented price list: the double enriches ``model`` rows with it (prices as strings).
_PRICES = {"input": "0.0000025", "output": "0.00001", "total": None}


def iso(ts: pd.Timestamp | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``; milliseconds unless the value has finer precision."""
    if ts is None or ts is pd.NaT or (isinstance(ts, float) and math.isnan(ts)):
        return None
    ts = pd.Timestamp(ts).tz_convert("UTC")
    frac = ts.microsecond
    base = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if frac % 1000 == 0:
        return f"{base}.{frac // 1000:03d}Z"
    return f"{base}.{frac:06d}Z"


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


def observation_groups(obs: pd.DataFrame) -> list[dict[str, dict[str, Any]]]:
    """One dict per observation: v2 field group -> that group's keys and values."""
    starts = [iso(t) for t in obs["start_time"]]
    ends = [iso(t) for t in obs["end_time"]]
    roots = obs[obs["parent_observation_id"].isna()].drop_duplicates("trace_id")
    trace_names = dict(zip(roots["trace_id"], roots["name"]))
    trace_release = dict(zip(roots["trace_id"], roots["release"]))
    out = []
    for i, r in enumerate(_records(obs)):
        meta = {k: str(r[k]) for k in ("agent", "error_type", "tool_name") if r.get(k) is not None}
        usage = {k: r[f"{k}_tokens"] for k in ("input", "output", "total")
                 if r.get(f"{k}_tokens") is not None}
        cost = r.get("cost_usd")
        model = r.get("model")
        out.append({
            "core": {
                "id": r["observation_id"], "traceId": r["trace_id"], "startTime": starts[i],
                "endTime": ends[i], "projectId": PROJECT_ID,
                "parentObservationId": r["parent_observation_id"], "type": r["type"].upper(),
            },
            "basic": {
                "name": r["name"], "level": r["level"], "statusMessage": r.get("status_message"),
                "version": r.get("release"), "environment": r["environment"],
                "bookmarked": False, "public": False, "userId": r.get("user_id"),
                "sessionId": r.get("session_id"),
                "isRootObservation": r["parent_observation_id"] is None,
            },
            "time": {"completionStartTime": None, "createdAt": starts[i], "updatedAt": ends[i]},
            "io": {"input": f"input of {r['name']}", "output": f"output of {r['name']}"},
            "metadata": {"metadata": meta},
            "model": {"providedModelName": model,
                      "internalModelId": f"model-{model}" if model else None,
                      "modelParameters": {"temperature": 0} if model else None},
            "usage": {"usageDetails": usage,
                      "costDetails": {"total": cost} if cost is not None else {},
                      "totalCost": cost, "usagePricingTierName": None},
            "prompt": {"promptId": f"prompt-{r['prompt_name']}" if r.get("prompt_name") else None,
                       "promptName": r.get("prompt_name"),
                       "promptVersion": r.get("prompt_version")},
            "metrics": {"latency": r["duration_s"], "timeToFirstToken": None},
            "trace_context": {"tags": [], "release": trace_release.get(r["trace_id"]),
                              "traceName": trace_names.get(r["trace_id"])},
            "_enrich": {"modelId": f"model-{model}" if model else None,
                        "inputPrice": _PRICES["input"] if model else None,
                        "outputPrice": _PRICES["output"] if model else None,
                        "totalPrice": _PRICES["total"]},
        })
    return out


def project_v2(groups: dict[str, dict[str, Any]], wanted: tuple[str, ...]) -> dict[str, Any]:
    """The v2 row for the requested groups: other groups' keys are absent, not null."""
    row = dict(groups["core"])
    for g in wanted:
        if g != "core":
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
        "metadata": groups["metadata"]["metadata"], "output": None,
        "usage": {"input": ud.get("input", 0), "output": ud.get("output", 0),
                  "total": ud.get("total", 0), "unit": "TOKENS" if ud else None},
        "level": b["level"], "statusMessage": b["statusMessage"],
        "parentObservationId": c["parentObservationId"], "promptId": p["promptId"],
        "usageDetails": ud, "costDetails": u["costDetails"], "environment": b["environment"],
        "promptName": p["promptName"], "promptVersion": p["promptVersion"],
        "modelId": groups["_enrich"]["modelId"],
        "inputPrice": float(groups["_enrich"]["inputPrice"]) if m["providedModelName"] else None,
        "outputPrice": float(groups["_enrich"]["outputPrice"]) if m["providedModelName"] else None,
        "totalPrice": None, "calculatedInputCost": None, "calculatedOutputCost": None,
        "calculatedTotalCost": cost, "latency": mt["latency"], "timeToFirstToken": None,
    }


def legacy_traces(obs: pd.DataFrame, score_ids: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The v1 ``TraceWithDetails`` shape (``GET /api/public/traces``), one per trace."""
    roots = obs[obs["parent_observation_id"].isna()].drop_duplicates("trace_id")
    g = obs.groupby("trace_id", sort=False)
    obs_ids = g["observation_id"].agg(list).to_dict()
    ends = g["end_time"].max().to_dict()
    costs = g["cost_usd"].sum(min_count=1).to_dict()
    out = []
    for r in _records(roots):
        tid = r["trace_id"]
        cost = _val(costs.get(tid))
        out.append({
            "id": tid, "timestamp": iso(r["start_time"]), "name": r["name"],
            "input": None, "output": None, "sessionId": r.get("session_id"),
            "release": r.get("release"), "version": r.get("release"),
            "userId": r.get("user_id"), "metadata": {"agent": r["agent"]}, "tags": [],
            "public": False, "environment": r["environment"],
            "htmlPath": f"/project/{PROJECT_ID}/traces/{tid}",
            "latency": (ends[tid] - r["start_time"]).total_seconds(),
            "totalCost": cost, "observations": obs_ids.get(tid, []),
            "scores": score_ids.get(tid, []),
        })
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
        out.update({"comment": None, "configId": None, "metadata": {}})
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
           "authorUserId": None, "comment": None, "metadata": {}, "configId": None,
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
