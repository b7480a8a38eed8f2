"""Attribution ("explain the delta") on hand-made frames with known answers."""

import pandas as pd
import pytest

from workbench.analysis import attribute
from workbench.errors import SchemaError


def frame(groups):
    """Rows from (count, bad, dims) tuples: ``bad`` of ``count`` rows have y=1."""
    rows = []
    for count, bad, dims in groups:
        rows += [dict(dims, y=1.0)] * bad + [dict(dims, y=0.0)] * (count - bad)
    return pd.DataFrame(rows)


def test_rate_contributions_follow_the_delta_decomposition():
    base = frame([(1000, 50, {"model": "a"}), (1000, 50, {"model": "b"})])
    cur = frame([(100, 35, {"model": "a"}), (100, 5, {"model": "b"})])
    got = attribute(cur, base, "y", ["model"], prior=0.0)
    # expected 5 + 5 = 10 bad, saw 40: excess 30, all of it in model a (35 - 5)
    assert [(s.dimension, s.value) for s in got] == [("model", "a")]
    assert got[0].contribution == pytest.approx(1.0)
    assert got[0].incident == pytest.approx(0.35)
    assert got[0].baseline == pytest.approx(0.05)


def test_split_excess_ranks_the_larger_share_first():
    base = frame([(1000, 50, {"model": "a"}), (1000, 50, {"model": "b"})])
    cur = frame([(100, 25, {"model": "a"}), (100, 15, {"model": "b"})])
    got = attribute(cur, base, "y", ["model"], prior=0.0)
    # excess 20 + 10 of a total 30
    assert [s.value for s in got] == ["a", "b"]
    assert [s.contribution for s in got] == pytest.approx([2 / 3, 1 / 3])


def test_a_busy_value_at_its_normal_rate_explains_nothing():
    base = frame([(1000, 200, {"agent": "x"}), (1000, 10, {"agent": "y"})])
    # traffic moved to x, which always had a high rate; y's rate tripled
    cur = frame([(400, 80, {"agent": "x"}), (100, 3, {"agent": "y"})])
    got = attribute(cur, base, "y", ["agent"], prior=0.0)
    assert [s.value for s in got] == ["y"]


def test_no_excess_returns_no_suspects():
    base = frame([(1000, 50, {"model": "a"})])
    cur = frame([(100, 4, {"model": "a"})])
    assert attribute(cur, base, "y", ["model"]) == []
    assert attribute(cur.iloc[0:0], base, "y", ["model"]) == []


def test_new_prompt_version_nested_in_its_agent_ranks_first():
    base = frame([(700, 35, {"agent": "rag", "prompt_version": "7", "model": "mini"}),
                  (300, 15, {"agent": "rag", "prompt_version": "7", "model": "big"}),
                  (1000, 40, {"agent": "tool", "prompt_version": "3", "model": "big"})])
    # the window holds some v7 traffic before the switch; v8 is bad on both models
    cur = frame([(20, 1, {"agent": "rag", "prompt_version": "7", "model": "mini"}),
                 (70, 21, {"agent": "rag", "prompt_version": "8", "model": "mini"}),
                 (30, 9, {"agent": "rag", "prompt_version": "8", "model": "big"}),
                 (100, 4, {"agent": "tool", "prompt_version": "3", "model": "big"})])
    got = attribute(cur, base, "y", ["agent", "model", "prompt_version"])
    assert (got[0].dimension, got[0].value) == ("prompt_version", "8")
    assert ("agent", "rag") in [(s.dimension, s.value) for s in got[1:]]
    # model "mini" carries most of v8's traffic but v8 on "big" is just as bad: not the cause
    assert got[0].contribution > 0.9


def test_a_nested_value_loses_when_the_rest_of_its_container_is_bad_too():
    base = frame([(1000, 50, {"release": "r1", "model": "m1"}),
                  (1000, 50, {"release": "r1", "model": "m2"})])
    cur = frame([(90, 45, {"release": "r2", "model": "m1"}),
                 (10, 5, {"release": "r2", "model": "m2"})])
    got = attribute(cur, base, "y", ["release", "model"])
    assert (got[0].dimension, got[0].value) == ("release", "r2")


def test_shared_tool_broken_in_one_agent_names_the_tool():
    base = frame([(500, 10, {"agent": "tool", "tool_name": ("search",)}),
                  (500, 10, {"agent": "tool", "tool_name": ("sql",)}),
                  (500, 10, {"agent": "planner", "tool_name": ("search", "fetch")})])
    cur = frame([(50, 40, {"agent": "tool", "tool_name": ("search",)}),
                 (50, 1, {"agent": "tool", "tool_name": ("sql",)}),
                 (50, 1, {"agent": "planner", "tool_name": ("search", "fetch")})])
    got = attribute(cur, base, "y", ["agent", "tool_name"])
    assert (got[0].dimension, got[0].value) == ("tool_name", "search")
    assert ("agent", "tool") in [(s.dimension, s.value) for s in got]


def test_identical_row_sets_prefer_the_finer_grained_dimension():
    base = frame([(500, 10, {"agent": "p", "tool_name": ("fetch",)}),
                  (500, 10, {"agent": "q", "tool_name": ("sql",)})])
    cur = frame([(50, 30, {"agent": "p", "tool_name": ("fetch",)}),
                 (50, 1, {"agent": "q", "tool_name": ("sql",)})])
    got = attribute(cur, base, "y", ["agent", "tool_name"])
    assert [(s.dimension, s.value) for s in got[:2]] == [("tool_name", "fetch"), ("agent", "p")]


def test_a_container_whose_rest_is_a_handful_of_rows_is_the_same_rows():
    """Five of six traces of a short burn window ran in production, all six called the tool
    that timed out: one staging trace cannot show the rest of the tool's traffic normal, so
    the finer tool wins. Twenty normal staging traces can: production is then the cause."""
    base = frame([(900, 9, {"environment": "production", "tool_name": ("fetch",)}),
                  (100, 1, {"environment": "staging", "tool_name": ("fetch",)})])

    def window(staging):
        return frame([(5, 3, {"environment": "production", "tool_name": ("fetch",)}),
                      (staging, 0, {"environment": "staging", "tool_name": ("fetch",)})])

    got = attribute(window(1), base, "y", ["environment", "tool_name"])
    assert (got[0].dimension, got[0].value) == ("tool_name", "fetch")
    got = attribute(window(20), base, "y", ["environment", "tool_name"])
    assert (got[0].dimension, got[0].value) == ("environment", "production")


def test_sum_kind_scales_the_baseline_total():
    base = pd.DataFrame({"agent": ["a"] * 10 + ["b"] * 10, "cost": [1.0] * 20})
    cur = pd.DataFrame({"agent": ["a"] * 5 + ["b"] * 5, "cost": [1.0] * 5 + [5.0] * 5})
    got = attribute(cur, base, "cost", ["agent"], kind="sum", scale=0.5)
    # expected 5 + 5, saw 5 + 25: all 20 of the excess is b's
    assert [(s.value, s.contribution) for s in got] == [("b", 1.0)]
    assert got[0].incident == 25.0 and got[0].baseline == 5.0


def test_bad_input_is_named():
    with pytest.raises(SchemaError, match="no metric column 'cost'"):
        attribute(pd.DataFrame({"x": [1]}), pd.DataFrame({"cost": [1]}), "cost", ["x"])
    with pytest.raises(SchemaError, match="current must be a DataFrame"):
        attribute([1, 2], pd.DataFrame({"cost": [1]}), "cost", ["x"])
    with pytest.raises(ValueError, match="kind must be"):
        attribute(pd.DataFrame({"c": [1]}), pd.DataFrame({"c": [1]}), "c", [], kind="max")


def test_a_model_broken_in_one_agent_is_named_within_that_agent():
    base = frame([(500, 25, {"agent": "support", "model": ("gpt-4o",)}),
                  (500, 25, {"agent": "support", "model": ("mini",)}),
                  (500, 25, {"agent": "research", "model": ("gpt-4o",)})])
    cur = frame([(50, 30, {"agent": "support", "model": ("gpt-4o",)}),
                 (50, 3, {"agent": "support", "model": ("mini",)}),
                 (50, 2, {"agent": "research", "model": ("gpt-4o",)})])
    got = attribute(cur, base, "y", ["agent/model", "model", "agent"])
    top = got[0]
    assert (top.dimension, top.value, top.within) == ("model", "gpt-4o", {"agent": "support"})
    assert top.label == "model=gpt-4o in agent=support"
    # the same model in the other agent is normal: the model alone is not the answer
    assert [(s.dimension, s.value, s.within) for s in got].index(("model", "gpt-4o", {})) > 0


def test_a_model_broken_everywhere_is_named_without_an_agent():
    base = frame([(500, 25, {"agent": "support", "model": "gpt-4o"}),
                  (500, 25, {"agent": "research", "model": "gpt-4o"}),
                  (500, 25, {"agent": "research", "model": "mini"})])
    cur = frame([(50, 30, {"agent": "support", "model": "gpt-4o"}),
                 (50, 30, {"agent": "research", "model": "gpt-4o"}),
                 (50, 2, {"agent": "research", "model": "mini"})])
    got = attribute(cur, base, "y", ["agent/model", "model", "agent"])
    assert (got[0].dimension, got[0].value, got[0].within) == ("model", "gpt-4o", {})


def test_a_prompt_version_is_named_within_its_prompt_even_in_a_second_generation():
    # traces run two prompts; version 9 of "answer" ships and is bad, "route" is unchanged
    base = frame([(1000, 50, {"prompt_version": ("answer|8", "route|3")})])
    cur = frame([(60, 3, {"prompt_version": ("answer|8", "route|3")}),
                 (60, 24, {"prompt_version": ("answer|9", "route|3")})])
    got = attribute(cur, base, "y", ["prompt_version"])
    assert (got[0].dimension, got[0].value, got[0].within) == \
        ("prompt_version", "9", {"prompt_name": "answer"})
    assert got[0].contribution > 0.9


def test_the_tool_a_trace_failed_on_is_reported_as_a_tool():
    base = frame([(500, 5, {"culprit_tool": ("search",)}), (500, 5, {"culprit_tool": ("sql",)})])
    cur = frame([(50, 30, {"culprit_tool": ("search",)}), (50, 1, {"culprit_tool": ("sql",)})])
    got = attribute(cur, base, "y", ["culprit_tool"])
    assert (got[0].dimension, got[0].value) == ("tool_name", "search")


def test_a_models_alias_and_its_snapshot_of_the_same_calls_are_one_suspect():
    """The request's model (``gpt-4.1-mini``) and the response's dated snapshot of the same
    calls hold the same traces, so the same figures: one suspect, the first ranked. Two
    snapshots, other figures, or another agent's model stay apart."""
    from workbench.analysis.suspects import _one_per_model
    from workbench.findings import Suspect

    def model(value, share=1.0, agent="research", incident=0.3):
        return Suspect("model", value, share, incident, 0.05, {"agent": agent})

    alias, snap = model("gpt-4.1-mini"), model("gpt-4.1-mini-2025-04-14")
    tool = Suspect("tool_name", "search", 0.6, 0.2, 0.05, {"agent": "research"})
    assert _one_per_model([alias, snap, tool]) == [alias, tool]
    assert _one_per_model([snap, tool, alias]) == [snap, tool]
    claude = [model("claude-sonnet-4-5"), model("claude-sonnet-4-5-20250929")]
    assert _one_per_model(claude) == claude[:1]
    two_snapshots = [model("gpt-4o-2024-05-13"), model("gpt-4o-2024-08-06")]
    assert _one_per_model(two_snapshots) == two_snapshots
    other_figures = [alias, model("gpt-4.1-mini-2025-04-14", share=0.7)]
    assert _one_per_model(other_figures) == other_figures
    other_agent = [alias, model("gpt-4.1-mini-2025-04-14", agent="support")]
    assert _one_per_model(other_agent) == other_agent
