"""The daily report over a Langfuse that loses rows, cuts pages short, rate-limits or answers
slowly: every case is an honest report (degraded and unconfirmed where data is missing) within
the run's one time budget, and missing rows never raise an incident alert."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.doubles import double_from_dataset
from workbench.deadline import Deadline
from workbench.reports import daily

DAY = "2026-11-06"  # the cost spike's day of the demo week


@pytest.fixture(scope="module")
def dataset():
    from workbench.simulate import generate

    return generate(seed=7, days=7, traces_per_day=300, keep_spans=True)


def report(d, **kw):
    with d.source() as src:
        return daily.build(DAY, src, days=2, prometheus=False, **kw)


def incident_alerts(rep):
    return [f for f in rep.alert_findings() if f.signal != "source_degraded"]


@pytest.fixture(scope="module")
def clean(dataset):
    with double_from_dataset(dataset) as d:
        rep = report(d)
    assert not rep.degraded and incident_alerts(rep)
    return rep


def test_rows_a_page_silently_drops_make_the_report_degraded_never_ok(dataset, clean):
    with double_from_dataset(dataset) as d:
        d.drop_rows(0.05)
        rep = report(d)
    assert rep.degraded and "fewer observations pulled than Langfuse reports" in \
        rep.source.reason
    # what was found on the partial data is shown, unconfirmed, and alerts nobody
    assert [f for f in rep.findings if f.status == "firing"]
    assert all(not f.confirmed for f in rep.findings if f.runbook != "daily_report")
    assert incident_alerts(rep) == []
    assert [f.signal for f in rep.alert_findings()] == ["source_degraded"]
    assert "DEGRADED" in rep.header_html() and "Source ok" not in rep.header_html()


def test_scores_a_page_silently_drops_make_the_report_degraded_never_ok(dataset, clean):
    with double_from_dataset(dataset) as d:
        d.drop_scores(0.2)
        rep = report(d)
    assert rep.degraded and "fewer scores pulled than Langfuse reports" in rep.source.reason
    assert all(not f.confirmed for f in rep.findings if f.runbook != "daily_report")
    assert incident_alerts(rep) == []
    assert "DEGRADED" in rep.header_html() and "Source ok" not in rep.header_html()


def test_short_pages_with_a_cursor_are_followed_to_the_same_report(dataset, clean):
    with double_from_dataset(dataset) as d:
        d.short_page(times=6, keep=0)
        d.short_page(times=6, keep=3, after=10)
        rep = report(d)
        followed = [r for r in d.requests if r.param("cursor")]
    assert followed and not rep.degraded
    assert [(f.signal, f.start, f.observed) for f in rep.findings] == \
        [(f.signal, f.start, f.observed) for f in clean.findings]


def test_a_cut_off_page_is_fetched_again_and_nothing_is_lost(dataset, clean):
    with double_from_dataset(dataset) as d:
        d.truncate(times=3)
        rep = report(d)
    assert not rep.degraded
    assert len(rep.observations) == len(clean.observations)


def test_a_429_storm_ends_in_a_degraded_report_within_the_budget(dataset):
    with double_from_dataset(dataset) as d:
        d.rate_limit(times=10_000, retry_after=1)
        rep = report(d, deadline=Deadline.after(6))
        waits = [r for r in d.requests if r.status == 429]
    assert rep.degraded and incident_alerts(rep) == []
    assert "budget" in rep.source.reason or "429" in rep.source.reason
    assert waits  # Retry-After waited out, within the one budget
    assert all(not f.confirmed for f in rep.findings if f.runbook != "daily_report")


def test_a_slow_server_is_cut_at_the_report_budget_newest_hours_first(dataset):
    with double_from_dataset(dataset, latency_s=9.0) as d:
        rep = report(d, deadline=Deadline.after(40))
    assert rep.degraded and incident_alerts(rep) == []
    assert "budget" in rep.source.reason
    # slices are pulled newest first: what arrived before the budget ran out is the report day
    pulled = rep.observations["start_time"]
    assert len(pulled) and pulled.min() >= pd.Timestamp(DAY, tz="UTC")
