"""Late evaluation scores: one rule, per trace, for every reader of a window.

A score counts toward its trace when recorded within the conventions' ``score_lag`` of the
trace's start, whatever window is asked for; every pull of scores reaches ``score_lag`` past its
traces. A nightly judge (scores a day after the traces, as a RAGAS batch writes them) then gives
the daily report and the runbook notebook the same figures, scores later than the lag are left
out and counted, and a run made before the judges can have scored a window says so.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from workbench.analysis.signals import score_notes, trace_signals
from workbench.errors import ConfigError
from workbench.investigate import investigate
from workbench.reports.daily import build
from workbench.sources import conventions as conv

T0 = pd.Timestamp("2026-11-10 12:00", tz="UTC")


def _traces(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({
        "trace_id": [f"t{i}" for i in range(n)],
        "start_time": [T0 + pd.Timedelta(minutes=i) for i in range(n)],
        "agent": "support", "duration_s": 1.0, "status": "ok", "total_tokens": 100.0,
        "n_generations": 1.0, "cost_usd": 0.01, "input_tokens": 80.0, "output_tokens": 20.0,
        "n_tool_calls": 0.0, "n_errors": 0.0})


def _scores(delays: dict[str, pd.Timedelta], name: str = "hallucination") -> pd.DataFrame:
    ids = list(delays)
    starts = {f"t{i}": T0 + pd.Timedelta(minutes=i) for i in range(len(ids))}
    return pd.DataFrame({
        "score_id": [f"s-{t}" for t in ids], "trace_id": ids, "observation_id": None,
        "timestamp": [starts[t] + d for t, d in delays.items()], "name": name,
        "value": 1.0, "string_value": None, "data_type": "NUMERIC", "source": "EVAL",
        "comment": None})


def test_a_score_counts_only_within_the_lag_of_its_trace():
    scores = _scores({"t0": pd.Timedelta(minutes=2), "t1": pd.Timedelta(hours=26),
                      "t2": pd.Timedelta(days=3)})
    u = trace_signals(_traces(), None, scores)
    assert u["hallucination"].tolist()[:2] == [1.0, 1.0]
    assert np.isnan(u["hallucination"].iloc[2])  # recorded 72 h after: past the default 48 h
    assert u.attrs["late_scores"] == {"hallucination": 1}
    # the judge's delay: the 99th percentile of the counted scores' (2 min and 26 h)
    delay = u.attrs["score_delays"]["hallucination"]
    assert pd.Timedelta(hours=25) < delay < pd.Timedelta(hours=26)

    wide = trace_signals(_traces(), None, scores, conventions=conv.load({"score_lag": "4d"}))
    assert wide["hallucination"].tolist() == [1.0, 1.0, 1.0]
    assert wide.attrs["late_scores"] == {}


def test_notes_say_what_was_left_out_and_what_may_still_arrive():
    scores = _scores({"t0": pd.Timedelta(minutes=2), "t1": pd.Timedelta(hours=26),
                      "t2": pd.Timedelta(days=3)})
    u = trace_signals(_traces(), None, scores)
    end = T0.floor("D") + pd.Timedelta(days=1)
    # long after the window: only the score left out is said
    later = score_notes(u, end, now=end + pd.Timedelta(days=5))
    assert later == ["1 evaluation score(s) recorded more than 48 h after their trace were left "
                     "out (hallucination 1): raise `score_lag` in the conventions to count them"]
    # an hour after the window, with a judge that takes up to a day: figures may still change
    soon = score_notes(u, end, now=end + pd.Timedelta(hours=1))
    assert len(soon) == 2 and soon[1].startswith("evaluations may still be arriving")
    assert "hallucination up to 26 h" in soon[1]
    cut = (end + pd.Timedelta(hours=1) - u.attrs["score_delays"]["hallucination"]).floor("min")
    assert f"traces after {cut:%Y-%m-%d %H:%M} UTC" in soon[1]


def test_score_lag_must_be_a_positive_duration():
    assert conv.load().score_lag == pd.Timedelta(hours=48)
    assert conv.load({"score_lag": "30h"}).score_lag == pd.Timedelta(hours=30)
    for bad in ("soon", "0h", 12):
        with pytest.raises(ConfigError, match="score_lag must be a positive duration"):
            conv.load({"score_lag": bad})


def test_a_conventions_file_is_built_once_and_again_when_edited(tmp_path, monkeypatch):
    path = tmp_path / "conv.yaml"
    path.write_text("score_lag: 12h\n")
    monkeypatch.setenv(conv.ENV_CONVENTIONS, str(path))
    first = conv.load()
    assert first.score_lag == pd.Timedelta(hours=12)
    assert conv.load() is first  # every pull asks; the file is read once
    path.write_text("score_lag: 100h\n")
    assert conv.load().score_lag == pd.Timedelta(hours=100)
    path.write_text("score_lag: 0h\n")
    with pytest.raises(ConfigError, match="score_lag must be a positive duration"):
        conv.load()
    path.unlink()
    with pytest.raises(ConfigError, match="conv.yaml"):
        conv.load()


def test_a_source_pulls_scores_past_its_traces_by_the_lag():
    asked = []

    class Recording:
        def scores(self, start, end):
            asked.append((start, end))
            return pd.DataFrame()

    from workbench.sources import TraceSource

    TraceSource.trace_scores(Recording(), "2026-11-10", "2026-11-11")
    assert asked == [(pd.Timestamp("2026-11-10", tz="UTC"),
                      pd.Timestamp("2026-11-13", tz="UTC"))]


# -- a nightly judge: the report and the notebook agree ---------------------------------------

@pytest.fixture(scope="module")
def nightly(tmp_path_factory):
    """The demo's week with every evaluation written by a batch at 02:00 the next day."""
    from workbench.simulate import generate, write_demo

    ds = generate(seed=7, days=7, traces_per_day=1500)
    start = ds.traces.set_index("trace_id")["start_time"]
    traced = ds.scores["trace_id"].map(start)
    assert traced.notna().all()
    batch = ds.scores.assign(timestamp=traced.dt.floor("D") + pd.Timedelta(days=1, hours=2))
    root = write_demo(tmp_path_factory.mktemp("nightly") / "demo",
                      dataset=dataclasses.replace(ds, scores=batch))
    label = ds.labels.set_index("runbook").loc["hallucination_spike"]
    return root, label


def test_nightly_scores_give_the_report_and_the_notebook_one_number(nightly):
    root, label = nightly
    day = label["start"].floor("D")
    report = build(day, "local", root, days=1, alert_days=1)
    found = [f for f in report.findings
             if f.runbook == "hallucination_spike" and f.signal == "hallucination_rate"
             and f.status == "firing"]
    # the day's evaluations were all written after it ended, and still judge it
    assert found, [(f.runbook, f.signal, f.status) for f in report.findings]
    f = found[0]
    assert f.start < label["end"] and label["start"] < f.end
    assert not any("left out" in n or "still arriving" in n for n in report.notes)

    inv = investigate("hallucination_spike", "local", f.start, f.end, data_dir=root,
                      agent=f.labels.get("agent"))
    row = inv.signal_table().set_index("signal").loc["hallucination_rate"]
    assert (row["observed"], row["expected"], row["p_value"]) == (
        f.observed, f.baseline, f.p_value)
    # the notebook's own finding over those hours carries the report's status
    mine = [g for g in inv.findings if g.signal == "hallucination_rate"]
    assert mine and mine[0].status == "firing"


def test_a_shorter_lag_leaves_the_nightly_scores_out_and_says_so(nightly, tmp_path,
                                                                  monkeypatch):
    root, label = nightly
    (tmp_path / "conv.yaml").write_text("score_lag: 12h\n")
    monkeypatch.setenv(conv.ENV_CONVENTIONS, str(tmp_path / "conv.yaml"))
    day = label["start"].floor("D")
    report = build(day, "local", root, days=1, alert_days=1)
    left = [n for n in report.notes if "left out" in n]
    assert len(left) == 1 and "more than 12 h after their trace" in left[0]
    # a trace counts its batch score only when it started after 14:00 the day before the batch
    u = report.units
    scored = u.loc[u["hallucination"].notna(), "time"]
    assert len(scored) and (scored.dt.hour >= 14).all()


class _Frames:
    """A trace source over a simulated dataset's frames, as it stood at ``now``: nothing
    started or scored after it is there yet."""

    name = "frames"

    def __init__(self, ds, now):
        self.ds, self.now = ds, now

    def observations(self, start, end, **filters):
        o = self.ds.observations
        return o[(o["start_time"] >= start) & (o["start_time"] < min(end, self.now))]

    def scores(self, start, end, **filters):
        s = self.ds.scores
        return s[(s["timestamp"] >= start) & (s["timestamp"] < min(end, self.now))]


def test_a_report_made_before_the_evaluations_are_in_is_no_all_clear():
    from workbench.simulate import generate
    from workbench.sources import TraceSource

    source = type("FrameSource", (_Frames, TraceSource), {})
    # a quiet day, reported at 15:30 on its own clock (fixed, so the figures are the same on
    # every day the suite runs)
    today = pd.Timestamp("2026-11-11", tz="UTC")
    now = today + pd.Timedelta(hours=15, minutes=30)
    ds = generate(seed=3, days=2, traces_per_day=300, incidents=[],
                  start=f"{today - pd.Timedelta(days=1):%Y-%m-%d}")
    # a batch judge scoring each trace two hours after it (the last minutes, which a quicker
    # judge would have scored, are not judged yet at all)
    ds.scores["timestamp"] = ds.scores["timestamp"] + pd.Timedelta(hours=2)
    rep = build(today, source(ds, now), days=1, alert_days=1, now=now)
    # the traces of the last two hours are still being judged
    assert rep.scores_pending is not None
    lag = pd.Timedelta(hours=2)
    assert now - lag - pd.Timedelta(minutes=10) <= rep.scores_pending <= now - lag
    head = rep.header_html()
    assert "<div class='wb-partial'>" in head and "<div class='wb-ok'>" not in head
    assert "Evaluations still arriving" in head
    assert any(n.startswith("evaluations may still be arriving") for n in rep.notes)
    assert rep.summary({}, None)["scores_pending_since"] == rep.scores_pending


def test_a_report_on_settled_evaluations_says_nothing_of_them(nightly):
    root, label = nightly
    rep = build(label["start"].floor("D"), "local", root, days=1, alert_days=1)
    assert rep.scores_pending is None
    head = rep.header_html()
    assert "<div class='wb-partial'>" not in head and "Evaluations still arriving" not in head
    # the spike's day: its banner is the alert, with no caveat about evaluations
    assert "<div class='wb-alert'><b>" in head and "Hallucination spike" in head
