"""Every fault switch of the double, and what the source makes of it."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from tests.doubles import LangfuseDouble, sample
from tests.doubles import langfuse_query as lq
from workbench.errors import SourceAuthError, SourceError
from workbench.sources import incomplete_reason

DAY = ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")
OBS = "/api/public/v2/observations"
# one slice for the whole day, small pages: faults hit a known request
FAST = dict(slice_s=86400, page_limit=40, backoff_s=0.01, concurrency=1)


pytestmark = pytest.mark.usefixtures("forget_legacy")


@pytest.fixture(scope="module")
def smp():
    return sample(n_traces=30)


@pytest.fixture(scope="module")
def frames(smp):
    """(canonical observations, scores) the double's records stand for."""
    return smp.observations, smp.scores


@pytest.fixture()
def double(smp):
    with LangfuseDouble(*smp.frames) as d:
        yield d


def _complete(d: LangfuseDouble, frames, **kw) -> pd.DataFrame:
    with d.source(**{**FAST, **kw}) as src:
        got = src.observations(*DAY)
        stats = src.last_stats
    assert sorted(got["observation_id"]) == sorted(frames[0]["observation_id"])
    assert incomplete_reason(got) is None
    got.attrs["stats"] = stats
    return got


@pytest.mark.parametrize("body", ["new", "old"])
def test_429_storm_is_retried_after_retry_after(double, frames, body):
    double.rate_limit(2, retry_after=1, body=body, path=OBS)
    got = _complete(double, frames)
    assert got.attrs["stats"]["rate_limited"] == 2
    reqs = double.requests_to(OBS)
    limited = [r for r in reqs if r.status == 429]
    assert len(limited) == 2
    after = reqs[reqs.index(limited[-1]) + 1]
    assert after.started - limited[-1].finished >= 0.9  # Retry-After: 1 was honoured


def test_5xx_is_retried_with_backoff(double, frames):
    double.server_error(3, status=503, path=OBS)
    got = _complete(double, frames)
    assert got.attrs["stats"]["retries"] == 3
    assert [r.status for r in double.requests_to(OBS)][:4] == [503, 503, 503, 200]


def test_slow_response_times_out_and_is_retried(double, frames):
    double.slow(1, delay_s=1.5, path=OBS)
    got = _complete(double, frames, timeout_s=0.4)
    assert got.attrs["stats"]["retries"] == 1


def test_truncated_page_is_retried(double, frames):
    double.truncate(1, path=OBS)
    got = _complete(double, frames)
    assert got.attrs["stats"]["malformed_pages"] == 1


def test_malformed_page_that_stays_malformed_is_reported_not_fatal(double, frames):
    double.malformed_page(50, path=OBS)  # more than the retry allowance
    with double.source(**FAST, max_attempts=3) as src:
        got = src.observations(*DAY)
    assert "malformed" in incomplete_reason(got)
    assert src.last_stats["malformed_pages"] == 3 and len(got) < len(frames[0])


def test_malformed_items_are_counted_skipped_and_logged(double, frames, caplog):
    double.malformed_items(1, path=OBS, after=1)  # not the one-row legacy probe
    with caplog.at_level(logging.WARNING, logger="workbench.sources.langfuse"), \
            double.source(**FAST) as src:
        got = src.observations(*DAY)
    assert len(got) == len(frames[0]) - 1
    assert src.last_stats["malformed_items"] == 1 == got.attrs["langfuse"]["malformed_items"]
    assert "1 malformed item" in incomplete_reason(got)
    assert any("malformed" in r.message for r in caplog.records)


def test_budget_exhaustion_returns_partial_frame_marked_incomplete(double, frames):
    double.rate_limit(100, retry_after=5, path=OBS)
    with double.source(slice_s=3600, concurrency=2, budget_s=1.5, backoff_s=0.01) as src:
        got = src.observations(*DAY)
    reason = incomplete_reason(got)
    assert reason and "budget" in reason
    assert len(got) < len(frames[0])


def test_budget_exhaustion_keeps_what_was_pulled(double, frames):
    double.rate_limit(100, retry_after=5, path=OBS, after=2)  # the probe and page 1 get through
    with double.source(**FAST, budget_s=2.0) as src:
        got = src.observations(*DAY)
    assert "budget" in incomplete_reason(got)
    assert len(got) == FAST["page_limit"]  # the page that made it is kept
    assert set(got["observation_id"]) < set(frames[0]["observation_id"])


def test_auth_error_is_one_clear_error_without_the_secret(smp, caplog):
    secret = "sk-lf-super-secret-value"
    with LangfuseDouble(*smp.frames) as d, caplog.at_level(logging.DEBUG):
        from workbench.sources.langfuse import LangfuseSource

        with LangfuseSource(d.base_url, d.public_key, secret, progress=False) as src:
            with pytest.raises(SourceAuthError) as err:
                src.observations(*DAY)
    text = str(err.value)
    assert "LANGFUSE_SECRET_KEY" in text and "LANGFUSE_PUBLIC_KEY" in text and "401" in text
    assert secret not in text and secret not in repr(err.value)
    assert secret not in caplog.text
    cause = err.value.__cause__
    assert cause is None or secret not in str(cause)


def test_unreachable_server_gives_an_empty_frame_marked_incomplete():
    from workbench.sources.langfuse import LangfuseSource

    with LangfuseSource("http://127.0.0.1:9", "pk-lf-x", "sk-lf-x", backoff_s=0.01,
                        max_attempts=2, progress=False) as src:
        got = src.observations(*DAY)
        with pytest.raises(SourceError):
            src.health()
    assert got.empty and "cannot reach http://127.0.0.1:9" in incomplete_reason(got)
    assert "sk-lf-x" not in incomplete_reason(got)


def test_latency_switch_and_parallel_slices_still_exact(smp, frames):
    with LangfuseDouble(*smp.frames, latency_s=0.02) as d:
        got = _complete(d, frames, slice_s=3600, concurrency=4, page_limit=1000)
        assert all(r.finished - r.started >= 0.02 for r in d.requests_to(OBS))
    assert got.attrs["stats"]["slices_total"] == 24


@pytest.mark.parametrize("keep", [0, 7])
def test_a_short_page_with_a_cursor_is_followed(double, frames, keep):
    double.short_page(1, keep=keep, path=OBS, after=1)  # the first page of the day
    got = _complete(double, frames)
    assert incomplete_reason(got) is None
    pages = [r for r in double.requests_to(OBS) if r.param("fromStartTime")]
    assert len(pages) == -(-len(frames[0]) // FAST["page_limit"]) + 1  # one page more
    assert got["observation_id"].is_unique


def test_short_pages_everywhere_still_give_every_row(double, frames):
    double.short_page(1000, keep=3, path=OBS)
    got = _complete(double, frames)
    assert incomplete_reason(got) is None


def test_rows_silently_missing_from_pages_mark_the_frame_incomplete(double, frames):
    double.drop_rows(0.1, seed=3)
    lost = double.dropped
    assert lost
    with double.source(**FAST) as src:
        got = src.observations(*DAY)
    assert len(got) == len(frames[0]) - len(lost)
    assert not set(got["observation_id"]) & lost
    reason = incomplete_reason(got)
    assert reason and f"{len(lost)} fewer observations pulled than Langfuse reports" in reason
    table = got.attrs["langfuse"]["reconciliation"]
    assert table == [{"day": "2026-11-02", "reported_observations": len(frames[0]),
                      "pulled_observations": len(frames[0]) - len(lost),
                      "reported_traces": frames[0]["trace_id"].nunique(),
                      "pulled_traces": int(got.loc[got["parent_observation_id"].isna(),
                                                   "trace_id"].nunique())}]


def test_a_429_storm_gives_a_frame_marked_incomplete_never_ok(double, frames):
    double.rate_limit(1000, retry_after=1, path=OBS, after=2)
    with double.source(**FAST, budget_s=2.5) as src:
        got = src.observations(*DAY)
        traces = src.traces(*DAY)
    assert len(got) < len(frames[0])
    assert "budget" in incomplete_reason(got) and incomplete_reason(traces)


def test_scores_silently_missing_from_pages_mark_the_scores_incomplete(double, frames):
    double.drop_scores(0.2, seed=5)
    lost = double.dropped_scores
    assert lost
    with double.source(**FAST) as src:
        got = src.scores(*DAY)
    assert len(got) == len(frames[1]) - len(lost)
    reason = incomplete_reason(got)
    assert reason == (f"langfuse scores: {len(lost)} fewer scores pulled than Langfuse reports: "
                      f"2026-11-02 ({len(frames[1]) - len(lost)} of {len(frames[1])})")
    assert got.attrs["langfuse"]["reconciliation"] == [
        {"day": "2026-11-02", "reported_scores": len(frames[1]),
         "pulled_scores": len(frames[1]) - len(lost)}]


def test_scores_are_reconciled_per_data_type_view(smp, frames):
    # a TEXT score is in none of the Metrics API's score views: pulled, never counted as missing
    text = frames[1].iloc[[0]].assign(score_id="text-score-1", data_type="TEXT",
                                      value=float("nan"), string_value="a reviewer's note")
    with LangfuseDouble(smp.frames[0], pd.concat([frames[1], text], ignore_index=True)) as d:
        with d.source(**FAST) as src:
            got = src.scores(*DAY)
        views = sorted(r.param("query") for r in d.requests_to("/api/public/v2/metrics"))
    assert incomplete_reason(got) is None
    assert len(got) == len(frames[1]) + 1
    assert got.attrs["langfuse"]["reconciled"] == "checked"
    assert got.attrs["langfuse"]["reconciliation"] == [
        {"day": "2026-11-02", "reported_scores": len(frames[1]),
         "pulled_scores": len(frames[1])}]
    assert [('"scores-categorical"' in q, '"scores-numeric"' in q) for q in views] == \
        [(True, False), (False, True)]


def test_a_short_scores_day_is_pulled_again_next_time(double, frames, tmp_path):
    double.drop_scores(0.2, seed=5)
    with double.source(**FAST, cache_dir=tmp_path) as src:
        first = src.scores(*DAY)
    assert incomplete_reason(first)
    double.clear_faults()
    with double.source(**FAST, cache_dir=tmp_path) as src:
        again = src.scores(*DAY)
        with_cache = src.scores(*DAY)
        stats = src.last_stats
    assert incomplete_reason(again) is None and len(again) == len(frames[1])
    # the closed, reconciled day now comes from the cache, with the counts it was checked by
    assert incomplete_reason(with_cache) is None and len(with_cache) == len(frames[1])
    assert stats["slices_cached"] == stats["slices_total"] == 1
    assert with_cache.attrs["langfuse"]["reconciled"] == "checked"


def test_scores_without_a_metrics_api_are_said_not_checked(double, frames, monkeypatch):
    def no_metrics(q):  # a server that predates the Metrics API v2
        raise lq.BadRequest("Route not found", status=404, error="LangfuseNotFoundError")
    monkeypatch.setattr(double, "metrics_v2", no_metrics)
    with double.source(**FAST) as src:
        got = src.scores(*DAY)
    assert len(got) == len(frames[1]) and incomplete_reason(got) is None
    assert got.attrs["langfuse"]["reconciled"] == "not checked: the server has no Metrics API v2"
