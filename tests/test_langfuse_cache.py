"""Slices, the Parquet cache and the legacy (Langfuse v3) fallback."""

from __future__ import annotations

import pandas as pd
import pytest

import copy

from tests.doubles import LangfuseDouble
from tests.doubles.langfuse_ingest import iso
from workbench import schema
from workbench.sources import incomplete_reason
from workbench.sources.langfuse import _slices

OBS = "/api/public/v2/observations"
DAY = ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")


pytestmark = pytest.mark.usefixtures("forget_legacy")


@pytest.fixture(scope="module")
def frames(smp):
    return smp.observations, smp.scores


def _before(records, ts):
    cut = pd.Timestamp(ts)
    return [r for r in records if pd.Timestamp(r["core"]["startTime"]) < cut]


def _now(ts: str):
    return lambda: pd.Timestamp(ts)


def test_slice_plan_is_grid_aligned_without_gaps_or_overlaps():
    lo, hi = pd.Timestamp("2026-11-02T00:17:00Z"), pd.Timestamp("2026-11-02T05:03:00Z")
    plan = _slices.plan(lo, hi, 3600)
    assert plan[0][0] == lo and plan[-1][1] == hi
    assert all(a[1] == b[0] for a, b in zip(plan, plan[1:]))
    assert all(s[0].minute == 0 for s in plan[1:])
    assert _slices.plan(hi, lo, 3600) == []


def test_rows_on_slice_edges_are_neither_lost_nor_doubled(smp):
    # move a few observations exactly onto slice edges (whole hours)
    records = copy.deepcopy(smp.records)
    edge = pd.Timestamp("2026-11-02T02:00:00Z")
    for r in records[:6]:
        r["core"]["startTime"] = iso(edge.value)
    with LangfuseDouble(records, smp.scores) as d, d.source(slice_s=3600, page_limit=3) as src:
        got = src.observations(*DAY)
    assert len(got) == len(records) and got["observation_id"].is_unique
    assert (got["start_time"] == edge).sum() == 6


def test_second_run_pulls_only_the_new_tail(smp, frames, tmp_path):
    obs, scores = frames
    first_cut = pd.Timestamp("2026-11-02T04:00:00Z")
    old = obs[obs["start_time"] < first_cut]
    with LangfuseDouble(_before(smp.records, first_cut), scores) as d:
        with d.source(cache_dir=tmp_path, settle_s=900, now=_now("2026-11-02T04:00:00Z")) as src:
            first = src.observations("2026-11-02T00:00:00Z", "2026-11-02T06:00:00Z")
        assert sorted(first["observation_id"]) == sorted(old["observation_id"])
        d.set_data(smp.records, scores)  # newer data arrives
        d.reset_log()
        with d.source(cache_dir=tmp_path, settle_s=900, now=_now("2026-11-02T07:00:00Z")) as src:
            second = src.observations("2026-11-02T00:00:00Z", "2026-11-02T06:00:00Z")
            stats = src.last_stats
        pulled = {r.param("fromStartTime") for r in d.requests_to(OBS) if r.param("fromStartTime")}
    # slices closed at 04:00 - 15 min (00:00..03:00) come from disk; 03:00.. is pulled again
    assert pulled == {f"2026-11-02T{h:02d}:00:00Z" for h in (3, 4, 5)}
    assert stats["slices_cached"] == 3
    want = obs[obs["start_time"] < pd.Timestamp("2026-11-02T06:00:00Z")]
    assert sorted(second["observation_id"]) == sorted(want["observation_id"])
    # the cached slices were mapped when their traces were whole: rows equal a fresh pull
    with LangfuseDouble(*smp.frames) as d2, d2.source() as src:
        fresh = src.observations("2026-11-02T00:00:00Z", "2026-11-02T06:00:00Z")
    pd.testing.assert_frame_equal(second.sort_values("observation_id").reset_index(drop=True),
                                  fresh.sort_values("observation_id").reset_index(drop=True))


def test_cache_is_keyed_by_filters_fields_and_project_never_the_secret(smp, tmp_path):
    with LangfuseDouble(*smp.frames) as d:
        with d.source(cache_dir=tmp_path, now=_now("2026-11-10T00:00:00Z")) as src:
            src.observations(*DAY)
            src.observations(*DAY, environment="staging")
            src.observations(*DAY, metadata={"scope.name": "langfuse-sdk"})
        d.reset_log()
        with d.source(cache_dir=tmp_path, now=_now("2026-11-10T00:00:00Z")) as src:
            staged = src.observations(*DAY, environment="staging")
        assert [r for r in d.requests_to(OBS) if r.param("fromStartTime")] == []
    assert set(staged["environment"]) == {"staging"}
    dirs = sorted(p.name.split("-")[0] for p in tmp_path.iterdir())
    assert dirs == ["observations"] * 3
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert d.secret_key.encode() not in f.read_bytes()


def test_incomplete_slices_are_not_cached(smp, frames, tmp_path):
    with LangfuseDouble(*smp.frames) as d:
        d.server_error(200, status=502, path=OBS, after=2)
        # small pages: the day takes several pulls, and all but the first fail
        with d.source(cache_dir=tmp_path, now=_now("2026-11-10T00:00:00Z"), max_attempts=2,
                      backoff_s=0.01, concurrency=1, page_limit=50) as src:
            partial = src.observations(*DAY)
            stats = src.last_stats
        assert incomplete_reason(partial)
        assert 0 < stats["slices_incomplete"] < stats["slices_total"] == 24
        d.clear_faults()
        with d.source(cache_dir=tmp_path, now=_now("2026-11-10T00:00:00Z")) as src:
            full = src.observations(*DAY)
    assert incomplete_reason(full) is None and len(full) == len(frames[0])


def test_legacy_server_detected_once_and_same_frames(smp, frames):
    obs, scores = frames
    with LangfuseDouble(*smp.frames, legacy=True) as d, d.source(slice_s=6 * 3600) as src:
        got_obs = src.observations(*DAY)
        got_traces = src.traces(*DAY)
        got_scores = src.scores(*DAY)
        agg = src.aggregate(*DAY, measures=["totalCost", "count"], by=["model"],
                            granularity="day")
        not_found = [r for r in d.requests if r.status == 404]
        legacy_pages = d.requests_to("/api/public/observations")
    assert len(not_found) == 1  # one probe; the decision is remembered
    assert legacy_pages and all(int(r.param("limit")) <= 100 for r in legacy_pages)
    pd.testing.assert_frame_equal(got_obs.sort_values("observation_id").reset_index(drop=True),
                                  obs.sort_values("observation_id").reset_index(drop=True))
    want_traces = schema.traces_from_observations(obs)
    pd.testing.assert_frame_equal(got_traces.sort_values("trace_id").reset_index(drop=True),
                                  want_traces.sort_values("trace_id").reset_index(drop=True))
    pd.testing.assert_frame_equal(got_scores.sort_values("score_id").reset_index(drop=True),
                                  scores.sort_values("score_id").reset_index(drop=True))
    gens = obs[obs["type"] == "generation"]
    per_model = agg.set_index("model")["sum_totalCost"]
    for model, cost in gens.groupby("model")["cost_usd"].sum(min_count=1).items():
        assert per_model[model] == pytest.approx(cost, nan_ok=True)  # NaN: no cost known
    assert per_model.notna().sum() >= 3
    assert agg.attrs["langfuse"]["computed_locally"] == 1


def test_progress_bar_can_be_shown_and_disabled(smp, capsys):
    with LangfuseDouble(*smp.frames) as d:
        with d.source(progress=True) as src:
            src.observations(*DAY)
        shown = capsys.readouterr().err
        with d.source(progress=False) as src:
            src.observations(*DAY)
        hidden = capsys.readouterr().err
    assert "langfuse observations" in shown and hidden == ""
