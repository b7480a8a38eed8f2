"""Every fault switch of the Tempo double, and what the source makes of it: retried, or
returned partial and marked so, never an unmarked gap; malformed spans counted, the rest kept."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from tests.doubles import TempoDouble
from tests.otel_fixtures import record
from workbench.deadline import Deadline
from workbench.sources import conventions as conv
from workbench.sources import incomplete_reason
from workbench.sources.otel import raw_from_spans

WINDOW = ("2026-11-02T09:00:00Z", "2026-11-02T12:00:00Z")
LATER = pd.Timestamp("2026-12-01", tz="UTC")
FAST = dict(backoff_s=0.01, concurrency=2, now=lambda: LATER)
TRACE = "/api/v2/traces/"


@pytest.fixture(scope="module")
def spans():
    return record()


@pytest.fixture()
def double(spans):
    with TempoDouble(spans) as d:
        yield d


def complete(d, spans, **kw):
    with d.source(**{**FAST, **kw}) as src:
        got = src.observations(*WINDOW)
        stats = src.status()
    assert incomplete_reason(got) is None, incomplete_reason(got)
    assert len(got) == len(spans)
    return got, stats


def test_rate_limits_are_retried_after_retry_after(double, spans):
    double.rate_limit(2, retry_after=1, path=TRACE)
    _, stats = complete(double, spans)
    assert stats["rate_limited"] == 2
    reqs = double.requests_to(TRACE)
    limited = [r for r in reqs if r.status == 429]
    assert len(limited) == 2
    retried = [r for r in reqs if r.path == limited[-1].path and r.status == 200]
    assert retried and retried[0].started - limited[-1].finished >= 0.9


def test_server_errors_are_retried(double, spans):
    double.server_error(2, status=502, path="/api/search")
    double.server_error(1, status=503, path=TRACE)
    _, stats = complete(double, spans)
    assert stats["retries"] == 3


def test_a_slow_answer_is_abandoned_at_the_request_timeout_and_retried(double, spans):
    double.slow(1, delay_s=2.0, path=TRACE)
    t = time.monotonic()
    complete(double, spans, timeout_s=0.5)
    assert time.monotonic() - t < 8


@pytest.mark.parametrize("fault", ["truncate", "malformed_page"])
def test_cut_or_misshapen_answers_are_retried(double, spans, fault):
    getattr(double, fault)(1, path=TRACE)
    getattr(double, fault)(1, path="/api/search")
    getattr(double, fault)(1, path="/api/metrics")
    _, stats = complete(double, spans)
    assert stats["malformed_pages"] == 3


def test_a_trace_that_keeps_failing_is_marked(double):
    double.server_error(50, status=500, path=TRACE + double.trace_ids[0])
    with double.source(**FAST, max_attempts=2) as src:
        obs = src.observations(*WINDOW)
        assert src.status()["traces_failed"] == 1
    reason = incomplete_reason(obs)
    assert "failed after retries" in reason and "fewer traces pulled" in reason
    assert double.trace_ids[0] not in set(obs["trace_id"])


def test_malformed_spans_are_counted_and_the_rest_of_the_trace_kept(double, spans):
    kinds = ("missing_id", "bad_id", "bad_int", "end_before_start", "mixed_array",
             "duplicate_span_id")
    double.malformed_spans(1, kinds=kinds, path=TRACE + double.trace_ids[0])
    with double.source(**FAST) as src:
        obs = src.observations(*WINDOW)
        status = src.status()
    counts = status["otlp_problems"]["counts"]
    assert counts == {"missing_id": 1, "bad_id": 1, "bad_value": 1, "end_before_start": 1,
                      "mixed_array": 1, "duplicate_span_id": 1}
    assert all(status["otlp_problems"]["examples"][k] for k in counts)
    reason = incomplete_reason(obs)
    assert "malformed spans, the rest of their traces kept" in reason and "bad_id" in reason
    tid = double.trace_ids[0]
    n = sum(1 for s in spans if format(s.context.trace_id, "032x") == tid)
    assert (obs["trace_id"] == tid).sum() == n - 2  # the two spans without a readable id
    assert len(obs) == len(spans) - 2
    assert "duplicate of" not in " ".join(obs["name"])


def test_a_spent_budget_returns_the_newest_part_marked(spans):
    with TempoDouble(spans, latency_s=0.15) as d, \
            d.source(budget_s=1.0, concurrency=1, backoff_s=0.01, now=lambda: LATER) as src:
        t = time.monotonic()
        obs = src.observations("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")
        took = time.monotonic() - t
        status = src.status()
    assert took < 4
    reason = incomplete_reason(obs)
    assert reason and ("time budget" in reason or "not fetched" in reason or
                       "search failed" in reason)
    assert status["slices_incomplete"] > 0
    # searched newest first: the slices after the traces were found first
    starts = [int(r.param("start")) for r in d.requests_to("/api/search")]
    assert starts == sorted(starts, reverse=True)


def test_a_shared_report_deadline_bounds_the_pull(spans):
    with TempoDouble(spans) as d:
        d.slow(100, delay_s=1.0, path=TRACE)
        deadline = Deadline.after(1.5)
        with d.source(deadline=deadline, concurrency=2, backoff_s=0.01,
                      now=lambda: LATER) as src:
            t = time.monotonic()
            obs = src.observations(*WINDOW)
            assert time.monotonic() - t < 4
        assert incomplete_reason(obs)


def test_partial_metrics_answers_are_marked(double, spans):
    double.partial_metrics = "querier timed out on 2 of 9 blocks"
    with double.source(**FAST) as src:
        obs = src.observations(*WINDOW)
        agg = src.aggregate(*WINDOW, ["traces"])
    assert "querier timed out on 2 of 9 blocks" in incomplete_reason(obs)
    assert "PARTIAL" in incomplete_reason(agg)
    assert len(obs) == len(spans)  # the spans themselves are all there


def test_the_conventions_frame_equals_a_fault_free_pull(double, spans):
    double.rate_limit(1, retry_after=0, path=TRACE)
    double.truncate(1, path=TRACE)
    got, _ = complete(double, spans)
    want = conv.load().observations(raw_from_spans(spans))
    assert sorted(got["observation_id"]) == sorted(want["observation_id"])
