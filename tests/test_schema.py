import pandas as pd
import pytest

from workbench import schema
from workbench.errors import SchemaError


def _obs(**overrides):
    rows = {
        "trace_id": ["t1", "t1", "t2"],
        "observation_id": ["a", "b", "c"],
        "parent_observation_id": [None, "a", None],
        "start_time": ["2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "2026-01-01T01:00:00Z"],
        "end_time": ["2026-01-01T00:00:03Z", "2026-01-01T00:00:02Z", "2026-01-01T01:00:09Z"],
        "duration_s": [3.0, 1.0, 9.0],
        "name": ["agent", "llm", "agent"],
        "type": ["agent", "generation", "agent"],
        "level": ["DEFAULT", "DEFAULT", "ERROR"],
        "error_type": [None, None, "timeout"],
        "agent": ["rag"] * 3,
        "environment": ["production"] * 3,
        "model": [None, "gpt-4o", None],
        "input_tokens": [None, 100, None],
        "output_tokens": [None, 10, None],
        "total_tokens": [None, 110, None],
        "cost_usd": [0.0, 0.01, 0.0],
    }
    rows.update(overrides)
    return schema.conform(pd.DataFrame(rows), "observations")


def test_empty_frames_validate():
    for frame in schema.FRAMES:
        schema.validate(schema.empty(frame), frame)


def test_validate_names_every_missing_and_mistyped_column():
    bad = schema.empty("observations").drop(columns=["cost_usd"])
    bad["duration_s"] = bad["duration_s"].astype("Int64")
    with pytest.raises(SchemaError) as err:
        schema.validate(bad, "observations")
    msg = str(err.value)
    assert "'cost_usd': missing" in msg
    assert "'duration_s': dtype Int64 is not float64" in msg
    assert len(err.value.problems) == 2


def test_columns_added_later_may_be_left_out_but_not_mistyped():
    older = schema.empty("scores").drop(columns=["scale_min", "scale_max"])
    assert schema.validate(older, "scores") is older
    assert {"scale_min", "scale_max"} <= set(schema.conform(older, "scores").columns)
    bad = schema.empty("scores")
    bad["scale_max"] = bad["scale_max"].astype("Int64")
    with pytest.raises(SchemaError, match="'scale_max': dtype Int64"):
        schema.validate(bad, "scores")


def test_validate_rejects_naive_timestamps_and_nulls_in_required_columns():
    df = _obs()
    df["start_time"] = df["start_time"].dt.tz_localize(None)
    df.loc[0, "agent"] = None
    with pytest.raises(SchemaError, match="start_time.*tz UTC") as err:
        schema.validate(df, "observations")
    assert any("'agent': 1 null" in p for p in err.value.problems)


def test_conform_reports_unparseable_column():
    with pytest.raises(SchemaError, match="'duration_s'"):
        _obs(duration_s=["fast", 1.0, 2.0])


def test_unknown_frame_is_named():
    with pytest.raises(SchemaError, match="unknown frame 'spans'"):
        schema.columns("spans")


def test_rollup_status_tokens_and_counts():
    traces = schema.traces_from_observations(_obs()).set_index("trace_id")
    assert traces.loc["t1", "status"] == "ok"
    assert traces.loc["t2", "status"] == "timeout"
    assert traces.loc["t1", "total_tokens"] == 110
    assert traces.loc["t1", "model"] == "gpt-4o"
    assert traces.loc["t1", "duration_s"] == 3.0
    assert traces.loc["t1", "n_generations"] == 1
    assert traces.loc["t2", "n_errors"] == 1
    assert traces.loc["t1", "cost_usd"] == pytest.approx(0.01)
