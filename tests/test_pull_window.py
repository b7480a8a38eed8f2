"""One pull of a window (:func:`workbench.sources.window.pull_window`), as the daily report, the
scheduled check and the notebooks' trace window read it: what a failed trace or score pull
leaves, a partial pull marked on every frame built from it, Langfuse's own traffic set aside."""

from __future__ import annotations

import pandas as pd
import pytest

from shared_datasets import simulated
from workbench import schema
from workbench.errors import ConfigError, SourceTimeout, SourceUnavailable
from workbench.sources import TraceSource, incomplete_reason, mark_incomplete, to_utc
from workbench.sources.traffic import set_aside
from workbench.sources.window import pull_window

START, END = pd.Timestamp("2026-11-02", tz="UTC"), pd.Timestamp("2026-11-04", tz="UTC")
JUDGE_ENV = "langfuse-llm-as-a-judge"


class Frames(TraceSource):
    """Fixed frames as a trace source; ``fail`` / ``fail_scores`` raise from the observations or
    the scores, ``partial`` marks the observations incomplete as a source whose budget ran out
    does. ``asked`` counts the score pulls."""

    name = "frames"

    def __init__(self, ds, fail=None, fail_scores=None, partial=None):
        self.ds, self.fail, self.fail_scores, self.partial = ds, fail, fail_scores, partial
        self.asked = 0

    def observations(self, start, end, **filters):
        if self.fail:
            raise self.fail
        o = self.ds.observations
        out = o[(o["start_time"] >= to_utc(start)) & (o["start_time"] < to_utc(end))].copy()
        return mark_incomplete(out, self.partial) if self.partial else out

    def scores(self, start, end, **filters):
        self.asked += 1
        if self.fail_scores:
            raise self.fail_scores
        s = self.ds.scores
        return s[(s["timestamp"] >= to_utc(start)) & (s["timestamp"] < to_utc(end))]


class StoredTraces(Frames):
    """A source with roll-ups of its own (as the local store keeps), here cut short."""

    def traces(self, start, end, **filters):
        return mark_incomplete(schema.traces_from_observations(self.observations(start, end)),
                               "stored roll-ups: 1 file unreadable")


@pytest.fixture(scope="module")
def ds():
    return simulated(days=2, traces_per_day=80)


@pytest.fixture
def judged():
    """The dataset with a few traces moved to Langfuse's evaluator environment, and a score
    recorded on one of them."""
    out = simulated(days=2, traces_per_day=80)
    ids = out.traces["trace_id"].head(5).tolist()
    for frame in (out.observations, out.traces):
        frame.loc[frame["trace_id"].isin(ids), "environment"] = JUDGE_ENV
    out.scores.loc[out.scores.index[0], "trace_id"] = ids[0]
    return out, ids


def test_a_complete_pull_has_every_frame_and_no_problem(ds):
    w = pull_window(Frames(ds), START, END)
    assert w.problems == [] and w.failures == [] and w.incomplete == []
    assert len(w.observations) == len(ds.observations)
    assert set(w.traces["trace_id"]) == set(ds.observations["trace_id"])
    assert len(w.traces) == len(schema.traces_from_observations(ds.observations))
    assert len(w.scores) > 0 and incomplete_reason(w.traces) is None


def test_a_failed_trace_pull_is_recorded_and_asks_for_no_scores(ds):
    src = Frames(ds, fail=SourceUnavailable("connection refused", source="frames"))
    w = pull_window(src, START, END)
    assert w.failures == ["traces: SourceUnavailable: frames: connection refused"]
    assert w.problems == w.failures
    assert len(w.observations) == len(w.traces) == len(w.scores) == 0
    assert src.asked == 0  # the scores count only through traces that did not come


def test_a_failed_trace_pull_propagates_when_asked_to(ds):
    src = Frames(ds, fail=SourceUnavailable("connection refused", source="frames"))
    with pytest.raises(SourceUnavailable, match="connection refused"):
        pull_window(src, START, END, scores="skip", raise_errors=True)


def test_a_failed_score_pull_keeps_the_traces(ds):
    src = Frames(ds, fail_scores=SourceTimeout("no answer within 10.0 s", source="frames"))
    w = pull_window(src, START, END)
    assert w.failures == ["scores: SourceTimeout: frames: no answer within 10.0 s"]
    assert len(w.traces) == ds.observations["trace_id"].nunique() and len(w.scores) == 0
    with pytest.raises(SourceTimeout):
        pull_window(src, START, END, raise_errors=True)


def test_scores_passed_in_or_skipped_are_not_pulled(ds):
    src = Frames(ds)
    given = ds.scores.head(7)
    w = pull_window(src, START, END, scores=given)
    assert len(w.scores) == 7 and src.asked == 0
    w = pull_window(src, START, END, scores="skip")
    assert len(w.scores) == 0 and src.asked == 0 and len(w.traces) > 0
    with pytest.raises(ConfigError, match="'pull' or 'skip'"):
        pull_window(src, START, END, scores="all")


def test_a_partial_pull_stays_marked_on_its_roll_up_and_is_said_once(ds):
    w = pull_window(Frames(ds, partial="1 of 24 time slices failed"), START, END)
    assert incomplete_reason(w.observations) == "1 of 24 time slices failed"
    assert incomplete_reason(w.traces) == "1 of 24 time slices failed"
    assert w.incomplete == ["observations incomplete: 1 of 24 time slices failed"]
    assert w.failures == [] and len(w.traces) > 0


def test_stored_traces_cut_short_are_said_as_the_traces(ds):
    w = pull_window(StoredTraces(ds), START, END)
    assert w.incomplete == ["traces incomplete: stored roll-ups: 1 file unreadable"]


def test_langfuse_own_traffic_is_set_aside_partial_marks_kept(judged):
    data, ids = judged
    w = pull_window(Frames(data, partial="page 3 lost"), START, END)
    assert not w.observations["trace_id"].isin(ids).any()
    assert not w.traces["trace_id"].isin(ids).any()
    assert not w.scores["trace_id"].isin(ids).any()
    assert len(w.scores) == int((~data.scores["trace_id"].isin(ids)).sum()) < len(data.scores)
    assert set_aside(w.observations)[JUDGE_ENV][0] == len(ids)
    assert incomplete_reason(w.traces) == incomplete_reason(w.observations) == "page 3 lost"
