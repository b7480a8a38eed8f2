"""Data of the last minutes is not judged yet: a live check stops where data has settled, and a
daily report of a day still in progress compares the day so far with the same hours of the days
before, never with whole days, and says it is not the day's verdict."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from tests.test_reports import FrameSource
from workbench.alerts.check import run_check
from workbench.reports import daily
from workbench.sources.freshness import SETTLE, settled_end

DAY = pd.Timestamp("2026-11-08", tz="UTC")


def test_settled_end_keeps_a_past_window_and_stops_a_live_one_five_minutes_back():
    now = pd.Timestamp("2026-11-08T10:03:27Z")
    assert settled_end(pd.Timestamp("2026-11-08T09:00Z"), now) == pd.Timestamp("2026-11-08T09:00Z")
    assert settled_end(now, now) == pd.Timestamp("2026-11-08T09:58Z")
    assert settled_end(now, now, pd.Timedelta(0)) == pd.Timestamp("2026-11-08T10:03Z")
    assert SETTLE == pd.Timedelta(minutes=5)


def _up_to(ds, now: pd.Timestamp):
    """The data a source holds at ``now``: what had started, without anything started later."""
    cut = copy.copy(ds)
    cut.observations = ds.observations[ds.observations["start_time"] < now]
    cut.scores = ds.scores[ds.scores["timestamp"] < now]
    return cut


@pytest.fixture(scope="module")
def week8():
    from shared_datasets import simulated

    return simulated(seed=11, days=8, traces_per_day=400)


def test_a_day_in_progress_is_no_outage_and_no_verdict(week8):
    """At 03:00 the report day holds three hours of traffic: against whole days that read as
    "only 5 % of the usual traces" (an outage alert); against the same hours of the days
    before it is the usual night."""
    now = DAY + pd.Timedelta(hours=3)
    rep = daily.build(DAY, FrameSource(_up_to(week8, now)), days=2, now=now)
    assert rep.judged_until == pd.Timestamp("2026-11-08T02:55Z")
    assert [f for f in rep.findings if f.signal == "no_data"] == []
    assert rep.window_end == rep.judged_until
    said = [n for n in rep.notes if n.startswith("the report day is not over")]
    assert said == ["the report day is not over: judged up to 02:55 UTC (the last 5 min are "
                    "left to traces still running or being ingested); its checks compare the "
                    "day so far with the same hours of the days before"]
    head = rep.header_html()
    assert "class='wb-ok'" not in head and "<b>Day in progress</b>" in head
    assert rep.summary({}, None)["judged_until"] == pd.Timestamp("2026-11-08T02:55Z")
    # the cost check's baseline: the median spend of the days before, up to 02:55 each
    units = rep.units
    before = units[(units["time"] < DAY) & (units["time"] >= DAY - pd.Timedelta(days=7))]
    early = before[before["time"] - before["time"].dt.floor("D") < pd.Timedelta("2h55min")]
    per_day = early.groupby(early["time"].dt.floor("D"))["cost"].sum()
    cost = rep.checks[(rep.checks["day"] == DAY) & (rep.checks["runbook"] == "cost_spike")]
    assert cost["baseline"].iloc[0] == pytest.approx(float(per_day.median()))
    assert cost["value"].iloc[0] == pytest.approx(
        float(units.loc[units["time"] >= DAY, "cost"].sum()))
    # whole days for the days before the report day
    whole = before.groupby(before["time"].dt.floor("D"))["cost"].sum()
    earlier = rep.checks[(rep.checks["day"] == DAY - pd.Timedelta(days=1))
                         & (rep.checks["runbook"] == "cost_spike")]
    assert earlier["value"].iloc[0] == pytest.approx(float(whole.iloc[-1]))


def test_a_day_in_progress_with_no_traffic_so_far_is_still_no_data(week8):
    """Silence where the same hours of the days before had hundreds of traces is an outage,
    day in progress or not."""
    now = DAY + pd.Timedelta(hours=14)
    silent = _up_to(week8, DAY)
    rep = daily.build(DAY, FrameSource(silent), days=2, now=now)
    (gap,) = [f for f in rep.findings if f.signal == "no_data"]
    assert gap.severity == "critical" and gap.observed == 0
    assert "by 13:55 UTC" in gap.summary


def test_a_finished_day_is_judged_whole(week8):
    """Run after the day (and the settling minutes) ended: no cut, no note."""
    after = DAY + pd.Timedelta(days=1, minutes=6)
    rep = daily.build(DAY, FrameSource(week8), days=2, now=after)
    assert rep.judged_until is None
    assert rep.window_end == DAY + pd.Timedelta(days=1)
    assert not any(n.startswith("the report day is not over") for n in rep.notes)


def test_a_live_check_leaves_the_newest_minutes_to_the_next_run(week8):
    """A trace still running at the check shows only its finished tool call, without the root
    that names its agent: the check stops five minutes before now and never sees it."""
    now = DAY + pd.Timedelta(hours=15, minutes=2, seconds=40)
    ds = _up_to(week8, now)
    o = ds.observations
    tool = o[o["type"] == "tool"].iloc[[0]].copy()
    tool["trace_id"] = "f" * 32
    tool["parent_observation_id"] = "0" * 16
    tool["start_time"] = now - pd.Timedelta(seconds=50)
    tool["end_time"] = now - pd.Timedelta(seconds=10)
    tool["agent"] = "unknown"
    ds.observations = pd.concat([o, tool], ignore_index=True)
    res = run_check(pd.Timedelta("1h"), source=FrameSource(ds), now=now)
    assert (res.start, res.end) == (pd.Timestamp("2026-11-08T13:57Z"),
                                    pd.Timestamp("2026-11-08T14:57Z"))
    units = ds.observations
    expected = units[(units["start_time"] >= res.start) & (units["start_time"] < res.end)]
    assert res.traces == expected["trace_id"].nunique()
    assert res.settled == ("judged up to 14:57 UTC: the last 5 min are left to traces still "
                           "running or being ingested")
    # a window asked for in the past is judged as asked
    past = run_check(pd.Timedelta("1h"), at=DAY + pd.Timedelta(hours=12), source=FrameSource(ds),
                     now=now)
    assert past.end == DAY + pd.Timedelta(hours=12) and past.settled is None


def test_a_day_not_begun_is_not_judged(week8):
    """A report asked for the day that starts in two minutes judges nothing of it, and says
    so; nothing of the day is an outage."""
    now = DAY - pd.Timedelta(minutes=2)
    rep = daily.build(DAY, FrameSource(_up_to(week8, now)), days=2, now=now)
    assert rep.judged_until == pd.Timestamp("2026-11-07T23:53Z")
    assert "the report day has not begun yet (data is judged once 5 min old): nothing of it is " \
           "judged" in rep.notes
    assert [f for f in rep.findings if f.signal == "no_data"] == []
    head = rep.header_html()
    assert "<b>Day not begun</b>: nothing of it is judged yet." in head
    assert "Day in progress" not in head and "class='wb-ok'" not in head


def test_a_runbook_window_up_to_now_stops_where_data_has_settled(week8, monkeypatch):
    """The runbook notebook and the trace explorer on a window ending now: the same cut as the
    check, said in the notes, and the trace still running is not in the tables."""
    from workbench.investigate import explore, investigate
    from workbench.sources import freshness

    now = DAY + pd.Timedelta(hours=15, minutes=2, seconds=40)
    monkeypatch.setattr(freshness, "_now", lambda: now)
    ds = _up_to(week8, now)
    o = ds.observations
    running = o[o["type"] == "tool"].iloc[[0]].assign(
        trace_id="f" * 32, start_time=now - pd.Timedelta(seconds=50),
        end_time=now - pd.Timedelta(seconds=10))
    ds.observations = pd.concat([o, running], ignore_index=True)
    inv = investigate("timeout_surge", FrameSource(ds), now - pd.Timedelta(hours=3), now)
    assert inv.end == pd.Timestamp("2026-11-08T14:57Z")
    assert ("judged up to 14:57 UTC: the last 5 min are left to traces still running or being "
            "ingested") in inv.notes
    assert "f" * 32 not in set(inv.view.traces["trace_id"])
    window = explore(FrameSource(ds), now - pd.Timedelta(hours=1), now)
    assert window.end == pd.Timestamp("2026-11-08T14:57Z")
    assert "f" * 32 not in set(window.traces["trace_id"])
    # a window in the past is investigated as asked
    past = investigate("timeout_surge", FrameSource(ds), DAY + pd.Timedelta(hours=9),
                       DAY + pd.Timedelta(hours=12))
    assert past.end == DAY + pd.Timedelta(hours=12)
    assert not any(n.startswith("judged up to") for n in past.notes)


def test_a_slower_source_sets_its_own_settle_margin(week8, monkeypatch):
    """A self-hosted source with a backed-up ingestion queue needs more than five minutes:
    WORKBENCH_SETTLE moves the cut, and every note says the margin used."""
    from workbench.errors import ConfigError
    from workbench.sources.freshness import ENV_SETTLE, settle_margin

    now = DAY + pd.Timedelta(hours=15, minutes=2, seconds=40)
    ds = _up_to(week8, now)
    monkeypatch.setenv(ENV_SETTLE, "15m")
    assert settle_margin() == pd.Timedelta(minutes=15)
    res = run_check(pd.Timedelta("1h"), source=FrameSource(ds), now=now)
    assert res.end == pd.Timestamp("2026-11-08T14:47Z")
    assert res.settled == ("judged up to 14:47 UTC: the last 15 min are left to traces still "
                           "running or being ingested")
    rep = daily.build(DAY, FrameSource(ds), days=2, now=now)
    assert rep.judged_until == pd.Timestamp("2026-11-08T14:47Z")
    assert any("(the last 15 min are left to traces still running" in n for n in rep.notes)
    # none: a source whose data is whole when written is judged up to the minute
    monkeypatch.setenv(ENV_SETTLE, "0m")
    assert run_check(pd.Timedelta("1h"), source=FrameSource(ds), now=now).end == \
        pd.Timestamp("2026-11-08T15:02Z")
    # a value that is no margin is refused, naming the variable
    for bad in ("fast", "15", "2d", "25h"):
        monkeypatch.setenv(ENV_SETTLE, bad)
        with pytest.raises(ConfigError, match=f"WORKBENCH_SETTLE='{bad}' is not a settle margin"):
            run_check(pd.Timedelta("1h"), source=FrameSource(ds), now=now)


def test_a_bad_settle_margin_stops_a_report_before_any_kernel(tmp_path, monkeypatch, capsys):
    from workbench.cli import EXIT_BAD_INPUT, main
    from workbench.simulate import write_demo

    store = write_demo(tmp_path / "demo", days=2, traces_per_day=50)
    monkeypatch.setenv("WORKBENCH_SETTLE", "soon")
    for argv in (["report", "daily", "--date", "2026-11-03"],
                 ["runbook", "cost_spike", "--start", "2026-11-03T09:00",
                  "--end", "2026-11-03T12:00"],
                 ["check", "--since", "1h", "--at", "2026-11-03T12:00"]):
        out = tmp_path / argv[0]
        code = main([*argv, "--data", str(store), "--out", str(out)] if argv[0] != "check"
                    else [*argv, "--data", str(store)])
        err = capsys.readouterr().err
        assert code == EXIT_BAD_INPUT and "WORKBENCH_SETTLE='soon' is not a settle margin" in err
        assert not out.exists()
