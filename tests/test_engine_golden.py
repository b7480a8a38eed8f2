"""The detection engine gives exactly the stored outputs on a small dataset (see
``tests/engine_golden.py``): findings, their numbers, suspects, trace ids and evidence tables,
the daily checks, and a digest of the per-trace signals. Guards the engine's faster paths
(masks worked out once, exploded dimensions, bucket series from one sort) against any change
of result."""

from __future__ import annotations

import pytest

from tests import engine_golden, golden


@pytest.fixture(scope="module")
def outputs() -> dict:
    # through JSON, as the stored file was written: tuples become lists on both sides
    return golden.as_written(engine_golden.outputs())


@pytest.fixture(scope="module")
def expected() -> dict:
    return golden.expected(engine_golden.HERE)


@pytest.mark.parametrize("window", ["day", "week"])
def test_findings_are_the_stored_ones(outputs: dict, expected: dict, window: str) -> None:
    got, want = outputs[window]["findings"], expected[window]["findings"]
    assert [(f["runbook"], f["signal"], f["severity"]) for f in got] == \
        [(f["runbook"], f["signal"], f["severity"]) for f in want]
    for g, w in zip(got, want):
        for key in w:
            assert g[key] == w[key], f"{w['runbook']}/{w['signal']} {w['start']}: {key}"


@pytest.mark.parametrize("window", ["day", "week"])
def test_checks_and_signals_are_the_stored_ones(outputs: dict, expected: dict,
                                                 window: str) -> None:
    assert outputs[window]["checks"] == expected[window]["checks"]
    assert outputs[window]["check_findings"] == expected[window]["check_findings"]
    assert outputs[window]["units_sha256"] == expected[window]["units_sha256"]


def test_the_dataset_exercises_every_path(expected: dict) -> None:
    signals = {f["signal"] for f in expected["day"]["findings"]}
    assert {"cost_per_request", "page_burst", "runaway_loop", "timeout_rate", "slo_burn_rate",
            "tool_latency_p95", "hallucination_rate", "groundedness"} <= signals
    assert all(f["suspects"] for f in expected["day"]["findings"]
               if f["signal"] not in ("page_burst", "runaway_loop"))
    assert any("slowest" in f["evidence"] for f in expected["day"]["findings"])
    # a tool one agent calls is that agent's finding
    tool = [f for f in expected["day"]["findings"] if f["signal"] == "tool_latency_p95"]
    assert tool and all(f["labels"].get("agent") == "planner-agent" for f in tool)
