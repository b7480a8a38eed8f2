"""The heartbeat against the REAL Alertmanager: it fires, each run renews it, and when runs stop
it resolves at the next expected run plus grace (and the receiver is told)."""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd
import pytest
from alertmanager_server import PASSWORD, USERNAME, poll

from workbench.alerts.heartbeat import WATCHDOG, send_heartbeat, watchdog_alert
from workbench.cli import EXIT_OK, main
from workbench.errors import AlertDeliveryError, ConfigError

pytestmark = pytest.mark.alertmanager


@pytest.fixture(autouse=True)
def am_auth(monkeypatch):
    monkeypatch.setenv("ALERTMANAGER_USERNAME", USERNAME)
    monkeypatch.setenv("ALERTMANAGER_PASSWORD", PASSWORD)


def watchdogs(am, job):
    return am.alerts(f'alertname="{WATCHDOG}"', f'job="{job}"')


def notified(am_receiver, job, status):
    return [n for n in (r.body for r in am_receiver.posts("/alertmanager"))
            if n.get("groupLabels", {}).get("alertname") == WATCHDOG and n["status"] == status
            and any(a["labels"].get("job") == job for a in n["alerts"])]


def parse(ts):
    return pd.Timestamp(ts).tz_convert("UTC")


def test_the_watchdog_fires_is_renewed_by_each_run_and_resolves_when_runs_stop(am, am_receiver):
    every, grace = dt.timedelta(seconds=3), dt.timedelta(seconds=1)
    first = send_heartbeat(am.sink_url, "hb-test", every, grace)
    (alert,) = watchdogs(am, "hb-test")
    assert alert["status"]["state"] == "active" and alert["labels"]["severity"] == "none"
    ends = parse(alert["endsAt"])
    assert abs((ends - parse(first.starts_at)).total_seconds() - 4.0) < 0.5
    poll(lambda: notified(am_receiver, "hb-test", "firing"), what="watchdog notified firing")

    # Runs keep coming: each renewal moves endsAt on, past the first one.
    for _ in range(3):
        time.sleep(1.5)
        send_heartbeat(am.sink_url, "hb-test", every, grace)
    (renewed,) = watchdogs(am, "hb-test")
    assert parse(renewed["endsAt"]) > ends + pd.Timedelta(seconds=3)
    assert pd.Timestamp.now(tz="UTC") > ends  # alive past the first deadline: it was renewed
    assert renewed["status"]["state"] == "active"

    # Runs stop: nobody renews it; it resolves at endsAt and the receiver hears of it.
    poll(lambda: watchdogs(am, "hb-test") == [], timeout=15, what="watchdog expired")
    (done,) = poll(lambda: notified(am_receiver, "hb-test", "resolved"), timeout=20,
                   what="watchdog resolved notification")[-1:]
    assert done["alerts"][0]["labels"]["alertname"] == WATCHDOG
    assert parse(done["alerts"][0]["endsAt"]) >= parse(renewed["endsAt"]) - pd.Timedelta(
        seconds=1)


def test_a_scheduled_check_posts_its_heartbeat(am, tmp_path, capsys):
    from workbench.simulate.writer import write_demo

    store = write_demo(tmp_path / "store", days=2, traces_per_day=60)
    code = main(["check", "--since", "3h", "--at", "2026-11-03T12:00", "--data", str(store),
                 "--alerts", am.sink_url, "--heartbeat", "15m", "--heartbeat-grace", "5m",
                 "--job", "hb-cli"])
    assert code in (EXIT_OK, 3), capsys.readouterr().err
    (alert,) = watchdogs(am, "hb-cli")
    left = parse(alert["endsAt"]) - pd.Timestamp.now(tz="UTC")
    assert pd.Timedelta(minutes=19) < left <= pd.Timedelta(minutes=20)
    assert alert["annotations"]["next_run_due"]


def test_heartbeat_needs_alertmanager_and_reports_what_failed(tmp_path, monkeypatch):
    from workbench.alerts import _http

    monkeypatch.setattr(_http, "_sleep", lambda s: None)
    with pytest.raises(ConfigError, match="needs an Alertmanager sink"):
        send_heartbeat(str(tmp_path / "a.jsonl"), "x", dt.timedelta(minutes=5),
                       dt.timedelta(minutes=1))
    with pytest.raises(AlertDeliveryError, match="heartbeat not posted"):
        send_heartbeat("alertmanager+http://127.0.0.1:9", "x", dt.timedelta(minutes=5),
                       dt.timedelta(minutes=1))
    with pytest.raises(ConfigError, match="must be positive"):
        watchdog_alert("x", dt.timedelta(0), dt.timedelta(minutes=1))
