"""The Langfuse conversion gives exactly the stored outputs on a small set of items (see
``tests/conversion_golden.py``): per case the malformed counts, and the raw frame and canonical
observations column by column (names, dtypes, a digest of the values). Guards the conversion's
faster paths (usage details typed apart, rules read only where no earlier rule gave a value,
values gathered per trace, types guessed on the untyped rows alone) against any change of
result."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests import conversion_golden, golden


@pytest.fixture(scope="module")
def outputs() -> dict:
    return golden.as_written(conversion_golden.outputs())


@pytest.fixture(scope="module")
def expected() -> dict:
    return golden.expected(conversion_golden.HERE)


@pytest.mark.parametrize("frame", ["raw", "observations"])
def test_frames_are_the_stored_ones(outputs: dict, expected: dict, frame: str) -> None:
    assert sorted(outputs) == sorted(expected)
    for case in expected:
        got, want = outputs[case][frame], expected[case][frame]
        assert got["rows"] == want["rows"], case
        assert got["columns"] == want["columns"], case
        assert got["dtypes"] == want["dtypes"], case
        for col, digest in want["sha256"].items():
            assert got["sha256"][col] == digest, f"{case}: {frame} column {col!r}"


def test_malformed_counts_are_the_stored_ones(outputs: dict, expected: dict) -> None:
    assert {k: v["bad"] for k, v in outputs.items()} == {k: v["bad"] for k, v in expected.items()}


def test_the_items_exercise_every_path(expected: dict) -> None:
    """Items Arrow types and items it cannot (read row by row), usage details it cannot type
    among items it can, items dropped, metadata from nested sections, v1 items."""
    from workbench.sources.langfuse import _parse

    typed = {}
    for case in conversion_golden.load():
        items = [r for p in case["pulls"] for r in p]
        try:
            pa.array(items, type=_parse._V2_TYPE)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            typed[case["name"]] = False
        else:
            typed[case["name"]] = True
    assert sum(typed.values()) >= 3 and sum(not t for t in typed.values()) >= 3
    assert typed["usage-as-text"]
    usage = [r["usageDetails"] for p in conversion_golden.load()[-2]["pulls"] for r in p]
    with pytest.raises(pa.ArrowInvalid):
        pa.array([u for u in usage if u], type=_parse._USAGE_TYPE)
    assert sum(sum(v["bad"]) for v in expected.values()) >= 5
    assert "meta:agent" in expected["metadata"]["raw"]["columns"]
    assert expected["v1"]["observations"]["rows"] == 60
