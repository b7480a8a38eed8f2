"""A runaway loop is attributed to the tool it kept calling, not to the model it always used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.analysis import spend


def _runs(calls_per_run: list[int], agent: str = "crew", tool: str = "supplier_catalog",
          first: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"agent": agent, "tool_name": tool,
                         "at": np.arange(first, first + len(calls_per_run)),
                         "n": calls_per_run})


@pytest.fixture()
def loop():
    """60 baseline runs calling the tool once or twice at $0.02; then 10 runs, 6 of which call
    it 15-18 times at $0.14 (the model, the same as ever, serving every retry)."""
    base_calls = [1, 2] * 30
    window_calls = [15, 16, 18, 15, 17, 16, 1, 2, 1, 1]
    per_run = pd.concat([_runs(base_calls), _runs(window_calls, first=60),
                         _runs([1] * 70, tool="send_report")], ignore_index=True)
    cost = np.array([0.02] * 60 + [0.14] * 6 + [0.02] * 4)
    expected = np.full(70, 0.02)
    baseline = np.arange(70) < 60
    return per_run, ~baseline, baseline, cost, expected


def test_the_tool_a_loop_kept_calling_is_named_with_the_loops_share(loop):
    per_run, current, baseline, cost, expected = loop
    s = spend.looping_tool(per_run, current, baseline, cost, expected)
    assert s is not None and s.label == "tool_name=supplier_catalog in agent=crew"
    assert s.contribution == pytest.approx(1.0)  # the six looping runs carry all the excess
    assert (s.incident, s.baseline) == (pytest.approx(0.14), pytest.approx(0.02))


def test_no_loop_where_calls_per_run_did_not_change(loop):
    per_run, current, baseline, cost, expected = loop
    steady = pd.concat([_runs([1, 2] * 35), _runs([1] * 70, tool="send_report")],
                       ignore_index=True)
    # dearer runs (a model switch), the same calls: not a loop
    assert spend.looping_tool(steady, current, baseline, cost, expected) is None


def test_two_looping_runs_are_not_enough_and_a_cheap_loop_explains_nothing(loop):
    per_run, current, baseline, cost, expected = loop
    few = per_run.copy()
    few.loc[(few["tool_name"] == "supplier_catalog") & (few["at"].isin([62, 63, 64, 65])),
            "n"] = 1
    assert spend.looping_tool(few, current, baseline, cost, expected) is None
    # the excess sits in runs that did not loop: the loop carries under half of it
    cheap = cost.copy()
    cheap[60:66] = 0.021
    cheap[66:] = 0.3
    assert spend.looping_tool(per_run, current, baseline, cheap, expected) is None


def test_a_tool_always_called_once_now_called_three_times_is_looping():
    """Every baseline run called the tool once; in the window it comes back malformed and the
    agent calls it again, three times a run over a growing context: the runs cost 2x, and the
    tool, not the model every run used, is what changed."""
    per_run = pd.concat([_runs([1] * 60), _runs([3, 3, 2, 3, 4, 3, 3, 3, 3, 3], first=60)],
                        ignore_index=True)
    cost = np.array([0.02] * 60 + [0.04] * 10)
    expected = np.full(70, 0.02)
    baseline = np.arange(70) < 60
    s = spend.looping_tool(per_run, ~baseline, baseline, cost, expected)
    assert s is not None and s.label == "tool_name=supplier_catalog in agent=crew"
    assert s.contribution == pytest.approx(0.9)  # the run calling it twice is no loop
    # a tool called once or twice a run, now twice: within its baseline's range
    varied = pd.concat([_runs([1, 2] * 30), _runs([2] * 10, first=60)], ignore_index=True)
    assert spend.looping_tool(varied, ~baseline, baseline, cost, expected) is None


def test_tool_calls_counts_each_runs_calls_of_each_tool():
    obs = pd.DataFrame({"trace_id": ["a", "a", "a", "b", "b", "z"],
                        "agent": ["crew"] * 6,
                        "tool_name": ["t", "t", None, "t", "u", "t"]})
    got = spend.tool_calls(obs, np.array(["a", "b"], dtype=object))
    assert got.to_dict("records") == [
        {"agent": "crew", "tool_name": "t", "at": 0, "n": 2},
        {"agent": "crew", "tool_name": "t", "at": 1, "n": 1},
        {"agent": "crew", "tool_name": "u", "at": 1, "n": 1}]
    assert spend.tool_calls(None, np.array([])).empty
