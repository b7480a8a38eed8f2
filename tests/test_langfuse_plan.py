"""Pull planning (quiet neighbouring slices share a pull) and the slice cache's day files and
whole windows."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.doubles import LangfuseDouble, sample
from tests.doubles.sample import settled_now
from workbench.sources import incomplete_reason
from workbench.sources.langfuse import _cache, _legacy, _parse, _slices, _source
from workbench.sources import conventions as conv

OBS = "/api/public/v2/observations"
METRICS = "/api/public/v2/metrics"
SCORES = "/api/public/v3/scores"
WEEK = ("2026-11-01T00:00:00Z", "2026-11-08T00:00:00Z")  # the sample's 6 busy hours inside
T0 = pd.Timestamp("2026-11-02T00:00:00Z")


pytestmark = pytest.mark.usefixtures("forget_legacy")


def _exact(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        got.sort_values("observation_id").reset_index(drop=True),
        want.sort_values("observation_id").reset_index(drop=True))


def _pulled(d: LangfuseDouble) -> list[tuple[str, str]]:
    """The [from, to) of every first page of a slice pull."""
    return sorted((r.param("fromStartTime"), r.param("toStartTime")) for r in d.requests_to(OBS)
                  if r.param("fromStartTime") and not r.param("cursor"))


# ---- the plan ------------------------------------------------------------------------------

def test_quiet_neighbours_are_joined_up_to_one_page():
    cells = _slices.plan(T0, T0 + pd.Timedelta(hours=10), 3600)
    counts = {c[0]: n for c, n in zip(cells, [0, 0, 400, 700, 0, 0, 1500, 0, 0, 0])}
    got = _slices.spans(cells, counts, page_limit=1000, concurrency=2)
    assert [len(g) for g in got] == [3, 3, 1, 3]
    assert [sum(counts[c[0]] for c in g) for g in got] == [400, 700, 1500, 0]
    assert [c for g in got for c in g] == cells  # every cell once, in order


def test_no_join_without_counts_within_one_round_or_across_gaps():
    cells = _slices.plan(T0, T0 + pd.Timedelta(hours=6), 3600)
    zero = {c[0]: 0 for c in cells}
    assert _slices.spans(cells, None, page_limit=1000, concurrency=2) == [[c] for c in cells]
    # six cells fit in one round of eight parallel pulls: joining them saves nothing
    assert _slices.spans(cells, zero, page_limit=1000, concurrency=8) == [[c] for c in cells]
    # a cell without a count is a pull of its own; so are cells parted by a cached one
    unknown = {k: v for k, v in zero.items() if k != cells[2][0]}
    assert [len(g) for g in _slices.spans(cells, unknown, page_limit=1000,
                                          concurrency=2)] == [2, 1, 3]
    holed = cells[:2] + cells[3:]
    assert [len(g) for g in _slices.spans(holed, zero, page_limit=1000,
                                          concurrency=2)] == [2, 3]


def test_hourly_counts_land_in_their_slices():
    lo = T0 + pd.Timedelta(minutes=17)
    cells = _slices.plan(lo, T0 + pd.Timedelta(hours=4), 3600)
    cells = cells[:2] + cells[3:]  # the slice 02:00..03:00 is cached, not planned
    stamps = [T0 + pd.Timedelta(hours=h) for h in range(4)]
    got = _slices.cell_counts(cells, stamps, [5, 7, 11, 13])
    # 00:00's bucket holds the window's start (00:17); 02:00's falls in the gap
    assert got == {lo: 5, T0 + pd.Timedelta(hours=1): 7, T0 + pd.Timedelta(hours=3): 13}


def test_a_quiet_week_takes_a_few_pulls_and_gives_every_row(smp):
    with LangfuseDouble(*smp.frames) as d, d.source(slice_s=3600) as src:
        got = src.observations(*WEEK)
        stats = src.last_stats
        pulled = _pulled(d)
        hourly = [r for r in d.requests_to(METRICS) if '"hour"' in (r.param("query") or "")]
    _exact(got, smp.observations)
    assert incomplete_reason(got) is None
    assert stats["slices_total"] == 7 * 24
    assert stats["slice_pulls"] == len(pulled) < 7 * 24 / 8  # fewer than one round a day
    assert len(hourly) == 1
    # the pulls tile the week: no gap, no overlap
    assert pulled[0][0] == WEEK[0] and pulled[-1][1] == WEEK[1]
    assert all(a[1] == b[0] for a, b in zip(pulled, pulled[1:]))


def test_a_quiet_week_of_scores_takes_a_few_pulls_and_gives_every_score(smp):
    with LangfuseDouble(*smp.frames) as d, d.source(slice_s=3600) as src:
        got = src.scores(*WEEK)
        stats = src.last_stats
        first_pages = [r for r in d.requests_to(SCORES) if not r.param("cursor")]
        hourly = [r for r in d.requests_to(METRICS) if '"hour"' in (r.param("query") or "")]
    assert sorted(got["score_id"]) == sorted(smp.scores["score_id"])
    assert incomplete_reason(got) is None
    assert stats["slices_total"] == 7 * 24
    assert stats["slice_pulls"] == len(first_pages) < 7 * 24 / 8
    # both score views are counted to plan by: numeric (with boolean) and categorical
    assert len(hourly) == 2
    assert all(int(r.param("limit")) == 100 for r in first_pages)  # the v3 scores maximum


def test_without_counts_every_slice_is_a_pull_and_no_row_is_lost(smp):
    with LangfuseDouble(*smp.frames) as d:
        d.server_error(1000, status=503, path=METRICS)
        with d.source(slice_s=3600, max_attempts=1) as src:
            got = src.observations(*WEEK)
            stats = src.last_stats
        pulled = _pulled(d)
    _exact(got, smp.observations)
    assert stats["slice_pulls"] == len(pulled) == 7 * 24
    # the counts to reconcile with are missing too, and that is said
    assert "could not reconcile" in incomplete_reason(got)


def test_counts_far_too_low_cost_pages_never_rows(smp):
    with LangfuseDouble(*smp.frames) as d, d.source(slice_s=3600, page_limit=50) as src:
        src._slice_counts = lambda *a: (lambda cells: {c[0]: 0 for c in cells})
        got = src.observations(*WEEK)
        stats = src.last_stats
        pages = [r for r in d.requests_to(OBS) if r.param("fromStartTime")]
    _exact(got, smp.observations)
    assert incomplete_reason(got) is None
    assert stats["slice_pulls"] == 1  # the whole week "looked" empty
    assert len(pages) == -(-len(smp.observations) // 50) + (len(smp.observations) % 50 == 0)


@pytest.fixture(scope="module")
def spread():
    """Requests over five days, so that counts fall on several days."""
    return sample(n_traces=80, start="2026-11-01T05:00:00Z", hours=5 * 24, prices=())


def _asked(d: LangfuseDouble) -> list[tuple[str, str, str, list[str]]]:
    """Every Metrics API request: (view, granularity, [from, to) as sent, dimensions)."""
    out = []
    for r in d.requests_to(METRICS):
        q = json.loads(r.param("query"))
        out.append((q["view"], q["timeDimension"]["granularity"],
                    f"{q['fromTimestamp']}..{q['toTimestamp']}",
                    [x["field"] for x in q["dimensions"]]))
    return sorted(out)


def _per_day(obs: pd.DataFrame) -> list[dict]:
    day = obs["start_time"].dt.strftime("%Y-%m-%d")
    roots = obs["parent_observation_id"].isna()
    n = obs.groupby(day).size()
    traces = obs[roots.to_numpy()].groupby(day[roots])["trace_id"].nunique()
    return [{"day": k, "reported_observations": int(n[k]), "pulled_observations": int(n[k]),
             "reported_traces": int(traces.get(k, 0)), "pulled_traces": int(traces.get(k, 0))}
            for k in n.index]


def test_a_closed_window_is_planned_and_reconciled_by_one_metrics_request(spread):
    """Its hourly counts of roots and other observations plan the pulls and are summed into
    the days the pull is reconciled with: one request where the plan and the reconciliation
    asked one each (hourly counts, then daily ones). So too once the server is known (no
    probe to ask them during)."""
    with LangfuseDouble(*spread.frames) as d, d.source(slice_s=3600) as src:
        src.observations(*WEEK)  # the first pull of the process: the server is probed
        first = _asked(d)
        d.reset_log()
        got = src.observations(*WEEK)
        stats = src.last_stats
        asked = _asked(d)
    assert first == asked == [("observations", "hour", "..".join(WEEK), ["isRootObservation"])]
    _exact(got, spread.observations)
    assert incomplete_reason(got) is None
    assert stats["slice_pulls"] < 7 * 24 / 8  # planned by those counts
    assert got.attrs["langfuse"]["reconciled"] == "checked"
    assert got.attrs["langfuse"]["reconciliation"] == _per_day(spread.observations)
    assert len(got.attrs["langfuse"]["reconciliation"]) == 6


def test_a_shortfall_is_found_on_its_days_from_the_shared_counts(spread):
    with LangfuseDouble(*spread.frames) as d, d.source(slice_s=3600) as src:
        d.drop_rows(0.1, seed=3)
        lost = spread.observations[spread.observations["observation_id"].isin(d.dropped)]
        got = src.observations(*WEEK)
        asked = _asked(d)
    assert len(asked) == 1
    reason = incomplete_reason(got)
    assert f"{len(lost)} fewer observations pulled than Langfuse reports" in reason
    for day, n in lost.groupby(lost["start_time"].dt.strftime("%Y-%m-%d")).size().items():
        table = {r["day"]: r for r in got.attrs["langfuse"]["reconciliation"]}
        assert table[day]["reported_observations"] - table[day]["pulled_observations"] == n
        assert day in reason


def test_an_open_window_is_reconciled_on_its_settled_time_only(spread):
    """Counts of hours still arriving plan the pulls but are never compared: the plan and
    the reconciliation ask for different windows, so each asks its own."""
    now = lambda: pd.Timestamp("2026-11-04T10:10:00Z")  # noqa: E731
    with LangfuseDouble(*spread.frames) as d, d.source(slice_s=3600, now=now) as src:
        got = src.observations(*WEEK)
        asked = _asked(d)
    assert asked == [
        ("observations", "day", f"{WEEK[0]}..2026-11-04T09:55:00Z", ["isRootObservation"]),
        ("observations", "hour", "..".join(WEEK), [])]
    assert incomplete_reason(got) is None
    settled = spread.observations[spread.observations["start_time"]
                                  < pd.Timestamp("2026-11-04T09:55:00Z")]
    assert got.attrs["langfuse"]["reconciliation"] == _per_day(settled)


def test_a_window_whose_hourly_counts_take_several_answers_is_reconciled_by_day(spread):
    """A month's hourly counts of roots and others are more rows than one answer holds: the
    plan's hourly totals and the reconciliation's daily counts, one request each, cost less."""
    month = ("2026-10-10T00:00:00Z", "2026-11-09T00:00:00Z")
    with LangfuseDouble(*spread.frames) as d, d.source(slice_s=3600) as src:
        got = src.observations(*month)
        asked = _asked(d)
    assert asked == [("observations", "day", "..".join(month), ["isRootObservation"]),
                     ("observations", "hour", "..".join(month), [])]
    _exact(got, spread.observations)
    assert got.attrs["langfuse"]["reconciliation"] == _per_day(spread.observations)


def test_slow_counts_leave_the_plan_but_still_reconcile(spread, monkeypatch):
    """The plan waits for the shared counts no longer than its own budget; the reconciliation
    waits for them within the pull's."""
    monkeypatch.setattr(_source, "PLAN_BUDGET_S", 0.3)
    with LangfuseDouble(*spread.frames) as d, d.source(slice_s=3600) as src:
        d.slow(1, delay_s=1.0, path=METRICS)
        got = src.observations(*WEEK)
        stats = src.last_stats
        asked = _asked(d)
    assert len(asked) == 1
    _exact(got, spread.observations)
    assert stats["slice_pulls"] == 7 * 24  # unplanned: every slice a pull of its own
    assert incomplete_reason(got) is None
    assert got.attrs["langfuse"]["reconciliation"] == _per_day(spread.observations)


def test_a_closed_window_of_scores_asks_each_view_once(spread):
    """Each score view's hourly counts plan the pulls and reconcile them: two requests where
    there were four (hourly for the plan, daily for the reconciliation, per view)."""
    with LangfuseDouble(*spread.frames) as d, d.source(slice_s=3600) as src:
        got = src.scores(*WEEK)
        stats = src.last_stats
        asked = _asked(d)
    assert asked == [("scores-categorical", "hour", "..".join(WEEK), []),
                     ("scores-numeric", "hour", "..".join(WEEK), [])]
    assert sorted(got["score_id"]) == sorted(spread.scores["score_id"])
    assert stats["slice_pulls"] < 7 * 24 / 8
    assert incomplete_reason(got) is None
    counted = spread.scores[spread.scores["data_type"].isin(["NUMERIC", "BOOLEAN",
                                                              "CATEGORICAL"])]
    n = counted.groupby(counted["timestamp"].dt.strftime("%Y-%m-%d")).size()
    assert got.attrs["langfuse"]["reconciliation"] == [
        {"day": k, "reported_scores": int(v), "pulled_scores": int(v)} for k, v in n.items()]


def test_malformed_items_are_counted_per_pull():
    good = {"id": "a", "traceId": "t", "startTime": "2026-11-02T00:00:00Z"}
    frame, bad = _parse.raw_observation_pulls(
        [[good], [dict(good, id="b"), {"traceId": "t"}, dict(good, id="c", startTime="x")], []],
        conv.load())
    assert bad == [0, 2, 0]
    assert list(frame["observation_id"]) == ["a", "b"]


# ---- the cache -----------------------------------------------------------------------------

def test_cache_holds_one_file_a_day_and_a_closed_window_whole(smp, tmp_path):
    with LangfuseDouble(*smp.frames) as d:
        with d.source(cache_dir=tmp_path, slice_s=3600, now=settled_now) as src:
            first = src.observations(*WEEK)
        (folder,) = tmp_path.iterdir()
        days = sorted(p.name for p in folder.glob("[0-9]*.parquet"))
        assert len(days) == 7
        assert len(list(folder.glob("mapped-*.parquet"))) == 1
        assert len(list(folder.glob("reported-*.json"))) == 1
        d.reset_log()
        with d.source(cache_dir=tmp_path, slice_s=3600, now=settled_now) as src:
            again = src.observations(*WEEK)
            stats = src.last_stats
        assert d.requests == []  # rows, mapping and reported counts all from disk
    pd.testing.assert_frame_equal(again, first)
    assert again.attrs["langfuse"]["reconciled"] == "checked"
    assert stats["slices_cached"] == stats["slices_total"] == 7 * 24


def test_a_changed_or_torn_day_file_is_pulled_again(smp, tmp_path):
    with LangfuseDouble(*smp.frames) as d:
        with d.source(cache_dir=tmp_path, slice_s=3600, now=settled_now) as src:
            first = src.observations(*WEEK)
        (folder,) = tmp_path.iterdir()
        busy = folder / f"{T0.value // 1000}.parquet"
        busy.write_bytes(b"not parquet")
        d.reset_log()
        with d.source(cache_dir=tmp_path, slice_s=3600, now=settled_now) as src:
            again = src.observations(*WEEK)
        pulled = _pulled(d)
    pd.testing.assert_frame_equal(again, first)
    # only the torn day is pulled again, and the kept window was not served
    assert pulled and all(f.startswith("2026-11-02") for f, _ in pulled)


def test_an_open_window_is_not_kept_whole_and_its_open_hours_not_cached(smp, tmp_path):
    now = lambda: pd.Timestamp("2026-11-02T04:10:00Z")  # noqa: E731
    with LangfuseDouble(*smp.frames) as d:
        with d.source(cache_dir=tmp_path, slice_s=3600, now=now) as src:
            src.observations(*WEEK)
        (folder,) = tmp_path.iterdir()
        assert list(folder.glob("mapped-*")) == [] and list(folder.glob("reported-*")) == []
        d.reset_log()
        with d.source(cache_dir=tmp_path, slice_s=3600, now=now) as src:
            src.observations(*WEEK)
        pulled = _pulled(d)
    # closed by 03:55 (04:10 less 15 min of settling): up to 03:00; the rest is pulled again
    assert pulled[0][0] == "2026-11-02T03:00:00Z" and pulled[-1][1] == WEEK[1]


def test_days_short_of_the_reported_counts_are_pulled_again(smp, tmp_path):
    with LangfuseDouble(*smp.frames) as d:
        d.drop_rows(0.1, seed=3)
        with d.source(cache_dir=tmp_path, slice_s=3600, now=settled_now) as src:
            short = src.observations(*WEEK)
        assert "fewer observations pulled than Langfuse reports" in incomplete_reason(short)
        d.clear_faults()
        d.reset_log()
        with d.source(cache_dir=tmp_path, slice_s=3600, now=settled_now) as src:
            full = src.observations(*WEEK)
        pulled = _pulled(d)
    assert incomplete_reason(full) is None
    _exact(full, smp.observations)
    assert pulled and all(f.startswith("2026-11-02") for f, _ in pulled)


def test_a_cache_of_another_version_is_never_read(smp, tmp_path, monkeypatch):
    with LangfuseDouble(*smp.frames) as d:
        monkeypatch.setattr(_cache, "CACHE_VERSION", _cache.CACHE_VERSION - 1)
        with d.source(cache_dir=tmp_path, slice_s=3600, now=settled_now) as src:
            src.observations(*WEEK)
        monkeypatch.undo()
        d.reset_log()
        with d.source(cache_dir=tmp_path, slice_s=3600, now=settled_now) as src:
            got = src.observations(*WEEK)
            stats = src.last_stats
        assert _pulled(d)
    assert stats["slices_cached"] == 0
    _exact(got, smp.observations)
    assert len(list(tmp_path.iterdir())) == 2


def _read_over_an_older_cache(tmp_path, monkeypatch, fixture, version: int) -> pd.DataFrame:
    """The ``fixture``'s observations, read over a cache the ``version`` before wrote: pulled
    again (none of the old slices served)."""
    from tests import otel_fixtures

    rec = otel_fixtures.Recorder()
    getattr(otel_fixtures, fixture)(rec)
    with LangfuseDouble.from_spans(rec.spans, prices=()) as d:
        monkeypatch.setattr(_cache, "CACHE_VERSION", version)
        with d.source(cache_dir=tmp_path, slice_s=3600, now=settled_now) as src:
            src.observations(*WEEK)
        monkeypatch.undo()
        d.reset_log()
        with d.source(cache_dir=tmp_path, slice_s=3600, now=settled_now) as src:
            got = src.observations(*WEEK)
            stats = src.last_stats
        assert _pulled(d)
    assert stats["slices_cached"] == 0
    return got.set_index("name")


def test_a_cache_written_before_reasoning_tokens_were_read_is_not_served(tmp_path, monkeypatch):
    """Version 5 cached canonical frames whose output counts left reasoning tokens out."""
    row = _read_over_an_older_cache(tmp_path, monkeypatch, "reasoning", 5).loc["reasoned-answer"]
    assert (row["output_tokens"], row["reasoning_tokens"]) == (1000, 900)


def test_a_cache_written_before_audio_and_prediction_tokens_were_read_is_not_served(
        tmp_path, monkeypatch):
    """Version 6 cached raw frames whose input / output counts left Langfuse's audio and
    predicted-output usage types out."""
    row = _read_over_an_older_cache(tmp_path, monkeypatch, "audio", 6).loc["voice-answer"]
    assert (row["input_tokens"], row["output_tokens"]) == (1200, 900)


def test_counts_asked_for_while_probing_are_used_once_and_ignored_on_a_legacy_server(smp):
    with LangfuseDouble(*smp.frames) as d, d.source(slice_s=3600) as src:
        src.observations(*WEEK)  # first pull of the process: the server is probed
        first = [r for r in d.requests_to(METRICS) if '"hour"' in (r.param("query") or "")]
        d.reset_log()
        src.observations(*WEEK)  # probed already: the counts are asked for when needed
        second = [r for r in d.requests_to(METRICS) if '"hour"' in (r.param("query") or "")]
    assert len(first) == len(second) == 1
    _legacy.forget()
    with LangfuseDouble(*smp.frames, legacy=True) as d, d.source(slice_s=3600) as src:
        got = src.observations(*WEEK)
        stats = src.last_stats
    _exact(got, smp.observations)
    assert stats["slice_pulls"] == 7 * 24  # a legacy server has no counts to plan by


def test_an_empty_month_is_one_pull(smp):
    month = ("2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z")  # after the sample's data
    with LangfuseDouble(*smp.frames) as d, d.source(slice_s=3600) as src:
        got = src.observations(*month)
        stats = src.last_stats
        pulled = _pulled(d)
    assert got.empty and incomplete_reason(got) is None
    assert stats["slices_total"] == 30 * 24 and stats["slice_pulls"] == 1
    assert pulled == [month]
