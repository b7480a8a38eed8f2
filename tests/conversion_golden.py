"""The Langfuse conversion's outputs on a small stored set of items, as plain JSON digests: what
``tests/test_conversion_golden.py`` compares with ``tests/data/conversion_golden/expected.json``.

The items (``items.json.gz``) are v2 observations of simulated traces in the four
instrumentation styles, some of them changed the ways real pages differ (numbers as strings,
metadata as a JSON string or in nested sections, blank and missing values, items without an id
or a readable start, errors with tracebacks, usage and cost details of every shape), grouped in
cases of one to three pulls; one case holds v1 items with their traces. For each case the raw
frame and the canonical observations are written as a digest per column (with the columns'
names and dtypes and the malformed counts), so a change that makes the conversion faster must
give the same JSON.

    python -m tests.conversion_golden --write     # rewrite expected.json (after a wanted change)
    python -m tests.conversion_golden --dataset   # regenerate the stored items (simulator)
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from tests import golden
from tests.golden import plain

HERE = Path(__file__).parent / "data" / "conversion_golden"
FIELDS = ("core", "basic", "metadata", "model", "usage", "prompt", "trace_context")


def load() -> list[dict[str, Any]]:
    """The stored cases: ``{"name", "pulls", "traces"}`` (``traces``: v1 only)."""
    with gzip.open(HERE / "items.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def _digest(frame: pd.DataFrame) -> dict[str, Any]:
    return {"rows": len(frame), "columns": [str(c) for c in frame.columns],
            "dtypes": [str(t) for t in frame.dtypes],
            "sha256": {str(c): hashlib.sha256(json.dumps(
                [[type(v).__name__, plain(v)] for v in frame[c].tolist()]).encode()).hexdigest()
                for c in frame.columns}}


def outputs() -> dict[str, Any]:
    """Per case: malformed counts per pull, and digests of the raw and canonical frames."""
    from workbench.sources import conventions as conv
    from workbench.sources.langfuse import _parse

    c = conv.load()
    out: dict[str, Any] = {}
    for case in load():
        info = _parse.trace_info(case["traces"]) if case.get("traces") else None
        raw, bad = _parse.raw_observation_pulls(case["pulls"], c, info)
        out[case["name"]] = {"bad": bad, "raw": _digest(raw),
                             "observations": _digest(c.observations(raw))}
    return out


# -- the stored items ------------------------------------------------------------------------

def _meta(fn: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """A change to an item's metadata, when it is still a dict of flat keys."""
    def change(r: dict[str, Any]) -> None:
        if isinstance(r.get("metadata"), dict):
            fn(r["metadata"])
    return change


def _nested(r: dict[str, Any]) -> None:
    flat = r.get("metadata") if isinstance(r.get("metadata"), dict) else {}
    r["metadata"] = {
        "attributes": {k.split(".", 1)[1]: v for k, v in flat.items()
                       if k.startswith("attributes.")},
        "resourceAttributes": json.dumps({k.split(".", 1)[1]: v for k, v in flat.items()
                                          if k.startswith("resourceAttributes.")}),
        "agent": "meta-agent"}


CHANGES: dict[str, list[Callable[[dict[str, Any]], None]]] = {
    "usage": [
        lambda r: r.update(usageDetails={}), lambda r: r.update(usageDetails=None),
        lambda r: r.update(usageDetails={"input": "12", "output": 3}),
        lambda r: r.update(usageDetails={"input": 5, "input_modality": "text"}),
        lambda r: r.update(usageDetails={"input": 10, "input_cache_creation_5m": 4,
                                         "input_cache_read": 2, "output": 9,
                                         "output_reasoning": 7, "output_audio": 1,
                                         "output_accepted_prediction_tokens": 2}),
        lambda r: r.update(usageDetails={"prompt_tokens": 9, "completion_tokens": 4,
                                         "total_tokens": 13}),
        lambda r: r.update(usageDetails={"input": 1.0}),
        lambda r: r.update(usageDetails={"input": 2 ** 60, "output": 1}),
        lambda r: r.update(usageDetails=[1, 2]),
        lambda r: r.update(totalCost="0.5"),
        lambda r: r.update(totalCost=None, costDetails={"total": 0.25}),
        lambda r: r.update(costDetails=None)],
    "metadata": [
        lambda r: r.update(metadata=None), lambda r: r.update(metadata=""),
        lambda r: r.update(metadata=json.dumps(r["metadata"])), _nested,
        lambda r: r.update(metadata=[1]),
        _meta(lambda m: m.update({"attributes.user.id": 42})),
        _meta(lambda m: m.update({"attributes.session.id": "  ", "attributes.user.id": ""})),
        _meta(lambda m: m.update({"attributes.tag.tags": ["x", "y"],
                                  "attributes.langfuse.trace.tags": []})),
        _meta(lambda m: m.update({"attributes.gen_ai.agent.name": "invoke_agent planner",
                                  "attributes.agent.name": "Agent workflow"})),
        _meta(lambda m: m.update({"attributes.langfuse.observation.usage_details": json.dumps(
            {"input": 5, "output": 2, "input_cached_tokens": 1})})),
        _meta(lambda m: m.update({"attributes.langfuse.observation.type": "span",
                                  "node_type": "tool"})),
        _meta(lambda m: m.update({"attributes.error.type": "TimeoutError",
                                  "attributes.gen_ai.usage.input_tokens": "17"})),
        _meta(lambda m: m.update({"attributes.langfuse.environment": 3.0,
                                  "resourceAttributes.service.version": True}))],
    "ids": [
        lambda r: r.pop("id"), lambda r: r.update(id=""), lambda r: r.update(traceId=None),
        lambda r: r.update(traceId=r["traceId"].upper()), lambda r: r.update(id=7)],
    "times": [
        lambda r: r.update(startTime="not a time"), lambda r: r.update(startTime=None),
        lambda r: r.update(startTime="2026-10-01T00:00:00"),
        lambda r: r.update(startTime="2026-10-01T00:00:00.123456789Z"),
        lambda r: r.update(endTime=None), lambda r: r.update(endTime="2020-01-01T00:00:00Z"),
        lambda r: r.update(startTime="2026-10-01T02:00:00+02:00")],
    "fields": [
        lambda r: r.update(tags=None), lambda r: r.update(tags=[]),
        lambda r: r.update(tags="a"), lambda r: r.update(tags=[1, 2]),
        lambda r: r.update(isRootObservation=None),
        lambda r: r.update(isRootObservation="true"), lambda r: r.update(promptVersion="3"),
        lambda r: r.update(promptName="support-answer", promptVersion=2),
        lambda r: r.update(name=None), lambda r: r.update(name=""),
        lambda r: r.update(name="execute_tool lookup"),
        lambda r: r.update(name="tool: fetch", type="SPAN"), lambda r: r.update(type="tool"),
        lambda r: r.update(type=None), lambda r: r.update(type="weird"),
        lambda r: r.update(traceName="LangGraph"), lambda r: r.update(traceName="  "),
        lambda r: r.update(level="ERROR", statusMessage="ReadTimeout: timed out"),
        lambda r: r.update(level="ERROR", statusMessage="Traceback (most recent call last):\n"
                           "  File \"x.py\", line 1\nopenai.RateLimitError: 429"),
        lambda r: r.update(level="error", statusMessage=None), lambda r: r.update(level=None),
        lambda r: r.update(userId=None, sessionId=None, release=None, version=None,
                           environment=None),
        lambda r: r.update(providedModelName=None, model="gpt-4o"),
        lambda r: r.update(parentObservationId=""),
        lambda r: r.update(parentObservationId=None), lambda r: r.update(environment="")],
}


def _dataset() -> None:
    from tests.doubles import sample
    from tests.doubles import langfuse_shapes as shapes

    groups = sample(n_traces=40, start="2026-10-01T00:00:00Z", hours=24, seed=5).frames[0]
    items = [shapes.project_v2(g, FIELDS) for g in groups]
    rng = random.Random(5)
    cases: list[dict[str, Any]] = [{"name": "clean", "pulls": [items[:50], items[50:120]]}]
    plans = [("usage", 0.3), ("metadata", 0.3), ("ids", 0.1), ("times", 0.1),
             ("fields", 0.3), ("usage+fields", 0.05), ("metadata+fields+ids", 0.1),
             ("all", 0.05)]
    for name, p in plans:
        kinds = list(CHANGES) if name == "all" else name.split("+")
        rows = copy.deepcopy(items[rng.randrange(0, 60):][:60])
        for j, change in enumerate(c for kind in kinds for c in CHANGES[kind]):
            change(rows[(7 * j) % len(rows)])  # every change at least once
        for r in rows:
            for kind in kinds:
                if rng.random() < p:
                    rng.choice(CHANGES[kind])(r)
        cut = sorted(rng.sample(range(len(rows) + 1), 2))
        cases.append({"name": name, "pulls": [rows[:cut[0]], rows[cut[0]:cut[1]],
                                              rows[cut[1]:]]})
    # usage details Arrow cannot type while every item is well formed otherwise
    rows = copy.deepcopy(items[:50])
    rows[7]["usageDetails"] = {"input": "12"}
    cases.append({"name": "usage-as-text", "pulls": [rows]})
    legacy = [shapes.legacy_observation(g) for g in groups[:60]]
    cases.append({"name": "v1", "pulls": [legacy],
                  "traces": shapes.legacy_traces(list(groups[:60]), {})})
    HERE.mkdir(parents=True, exist_ok=True)
    with open(HERE / "items.json.gz", "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:  # the same bytes each time
        f.write(json.dumps(cases).encode())


if __name__ == "__main__":
    golden.main(__doc__, HERE, outputs, _dataset)
