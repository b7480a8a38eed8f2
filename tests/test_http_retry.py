"""The retry rules every outbound call shares: Retry-After in both forms, bounded jittered back-off."""

import email.utils
import time

import httpx
import pytest

from workbench.http_retry import backoff, retry_after
from workbench.sources._pull import retryable


@pytest.mark.parametrize("value,expected", [("7", 7.0), ("0", 0.0), ("  12 ", 12.0),
                                            ("soon", None), ("", None), ("-3", None)])
def test_retry_after_seconds(value, expected):
    assert retry_after(httpx.Headers({"Retry-After": value})) == expected


def test_retry_after_as_an_http_date_counts_from_now_and_never_below_zero():
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 27.0 <= retry_after(httpx.Headers({"retry-after": later})) <= 30.0
    past = email.utils.formatdate(time.time() - 300, usegmt=True)
    assert retry_after({"retry-after": past}) == 0.0
    assert retry_after({}) is None


def test_backoff_doubles_within_its_jitter_and_stops_at_the_cap():
    for attempt, centre in [(0, 0.5), (1, 1.0), (3, 4.0)]:
        waits = [backoff(attempt, 0.5, 30.0) for _ in range(200)]
        assert min(waits) >= 0.8 * centre and max(waits) <= 1.2 * centre
        assert max(waits) - min(waits) > 0.1 * centre  # jittered, not in step
    assert max(backoff(20, 0.5, 8.0) for _ in range(50)) <= 8.0 * 1.2


@pytest.mark.parametrize("status,again", [(408, True), (409, True), (429, True), (500, True),
                                          (503, True), (400, False), (401, False),
                                          (404, False), (422, False)])
def test_what_a_pull_asks_again(status, again):
    assert retryable(status) is again
