"""The write-ahead spool: persisted before the first attempt, deduped against pending entries and
the sent-ledger, expiry and a size cap that report what they drop, private files with no
secrets, locks that keep concurrent senders from losing or doubling alerts."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from fault_receiver import FaultReceiver

from workbench.alerts import Alert, Spool, _http, register_sink, send, sink_key
from workbench.alerts.delivery import adopt_legacy_spool
from workbench.alerts.sinks import SINKS, Sink
from workbench.deadline import Deadline
from workbench.errors import AlertDeliveryError
from workbench.findings import Finding

T0 = pd.Timestamp("2026-11-06", tz="UTC")
SENDER = Path(__file__).with_name("fault_receiver.py")


def alert(case: str, start: pd.Timestamp = T0) -> Alert:
    return Alert.from_finding(Finding(
        runbook="cost_spike", signal="daily_cost_usd", severity="warning", start=start,
        end=start + pd.Timedelta(hours=1), observed=3.0, baseline=1.0, summary="cost tripled",
        labels={"case": case}))


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    """Retry back-offs are not slept here; deadlines are about requests, not back-offs."""
    monkeypatch.setattr(_http, "_sleep", lambda s: None)


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


class _Probe(Sink):
    """Records what the spool held at the moment of delivery, then fails or succeeds."""

    seen: list[list[str]] = []
    fail = False

    def __init__(self, url: str) -> None:
        self.url = url

    def deliver(self, alerts):
        spool = Spool(os.environ["PROBE_SPOOL"])
        held = [e.alert.fingerprint for e in spool.pending() + spool.inbox_entries()]
        type(self).seen.append(held)
        if type(self).fail:
            raise AlertDeliveryError("probe receiver down")


@pytest.fixture
def probe(monkeypatch, tmp_path):
    monkeypatch.setitem(SINKS, "probe://", (__name__, "_Probe"))
    monkeypatch.setenv("PROBE_SPOOL", str(tmp_path / "spool.jsonl"))
    _Probe.seen, _Probe.fail = [], False
    return _Probe


def test_alerts_are_on_disk_before_the_first_delivery_attempt(probe, tmp_path):
    a, b = alert("a"), alert("b")
    res = send([a, b], "probe://x", spool=tmp_path / "spool.jsonl")
    assert res.sent == [a, b]
    assert sorted(probe.seen[0]) == sorted([a.fingerprint, b.fingerprint])
    assert not (tmp_path / "spool.jsonl").exists()  # settled: nothing left pending


def test_spool_and_ledger_are_private_and_hold_no_secret(tmp_path):
    secret_url = "https://127.0.0.1:9/services/T1/B2/s3cr3tpath?token=t0k3n"
    spool = tmp_path / "cache" / "alerts" / "spool.jsonl"
    res = send([alert("secret")], secret_url, spool=spool, deadline=Deadline.after(3))
    assert res.spooled and not res.sent
    files = [p for p in spool.parent.rglob("*") if p.is_file()]
    assert spool in files
    for p in files:
        text = p.read_text()
        assert "s3cr3tpath" not in text and "t0k3n" not in text, p
        assert stat.S_IMODE(p.stat().st_mode) & 0o077 == 0, p
    for folder in (spool.parent, spool.parent / "spool.inbox"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (entry,) = lines(spool)
    assert entry["sink"] == sink_key(secret_url)
    assert entry["sink"].startswith("https://127.0.0.1:9/#sha256:")


def test_the_ledger_says_whose_alert_it_was_and_which_source_it_judged(tmp_path):
    """The ledger folder is shared by every project on the machine: each record names the
    source its alert was judged on (an identity, never a secret) and its scope."""
    def judged(labels, source_id=None):
        return Alert.from_finding(Finding(
            runbook="cost_spike", signal="cost_per_request", severity="page", start=T0,
            end=T0 + pd.Timedelta(hours=1), observed=3.0, baseline=1.0, summary="x",
            labels=labels), source_id=source_id)

    alerts = [judged({"agent": "tool-agent"}, "langfuse:cloud.langfuse.com:0123456789ab"),
              judged({}, "local:ba9876543210"), judged({"release": "v2"})]
    spool = tmp_path / "spool.jsonl"
    assert send(alerts, str(tmp_path / "out.jsonl"), spool=spool).sent
    got = {r["fingerprint"]: r for r in lines(tmp_path / "spool.sent.jsonl")}
    agent, whole, release = (got[a.fingerprint] for a in alerts)
    assert agent["agent"] == "tool-agent" and "all_traffic" not in agent
    assert agent["source_id"] == "langfuse:cloud.langfuse.com:0123456789ab"
    assert whole["all_traffic"] is True and whole["source_id"] == "local:ba9876543210"
    assert "agent" not in release and "all_traffic" not in release
    assert "source_id" not in release  # an alert of no known source says none


def test_sink_keys_name_sinks_without_their_secrets(tmp_path):
    assert sink_key(str(tmp_path / "a.jsonl")) == str(tmp_path / "a.jsonl")
    assert sink_key(f"file://{tmp_path}/a.jsonl") == str(tmp_path / "a.jsonl")
    assert sink_key("alertmanager+http://am:9093/prefix/") == "alertmanager+http://am:9093/prefix"
    assert sink_key("https://hooks.example.com") == "https://hooks.example.com"
    one = sink_key("slack+https://hooks.slack.com/services/T/B/one")
    two = sink_key("slack+https://hooks.slack.com/services/T/B/two")
    assert one != two and "one" not in one and one.startswith("slack+https://hooks.slack.com/#")


def test_repeated_outages_keep_one_entry_per_alert_and_recovery_sends_each_once(tmp_path):
    spool = tmp_path / "spool.jsonl"
    with FaultReceiver(default="500") as recv:
        for _ in range(4):  # four runs during the outage, each with the same two alerts
            res = send([alert("x"), alert("y")], recv.url, spool=spool,
                       deadline=Deadline.after(2))
            assert len(res.spooled) == 2 and not res.sent
        assert len(lines(spool)) == 2
        recv.default = "ok"
        back = send([alert("x"), alert("y")], recv.url, spool=spool)
    assert len(back.sent) == 2 and not back.spooled
    assert dict(recv.counts) == {alert("x").fingerprint: 1, alert("y").fingerprint: 1}
    assert not spool.exists()


def test_a_rerun_never_sends_twice_to_a_receiver_that_does_not_dedupe(tmp_path):
    spool, sink = tmp_path / "spool.jsonl", tmp_path / "alerts.jsonl"
    first = send([alert("r")], str(sink), spool=spool)
    again = send([alert("r")], str(sink), spool=spool)
    assert first.sent and again.sent == [] and again.skipped == [alert("r")]
    assert not again.degraded
    assert [r["fingerprint"] for r in lines(sink)] == [alert("r").fingerprint]
    ledger = lines(tmp_path / "spool.sent.jsonl")
    assert [(r["outcome"], r["fingerprint"]) for r in ledger] == [
        ("delivered", alert("r").fingerprint)]
    # The same kind of incident a week later is a new occurrence: it is sent.
    later = send([alert("r", T0 + pd.Timedelta(days=7))], str(sink), spool=spool)
    assert len(later.sent) == 1 and len(lines(sink)) == 2


def test_two_projects_same_alert_are_two_occurrences_one_project_again_is_not(tmp_path):
    """The spool is the machine's: project B's alert with the labels and hour of project A's
    is B's to deliver, not "already delivered"; B's own rerun is."""
    def of(source_id):
        return Alert.from_finding(Finding(
            runbook="cost_spike", signal="cost_per_request", severity="page", start=T0,
            end=T0 + pd.Timedelta(hours=1), observed=3.0, baseline=1.0, summary="x",
            labels={"agent": "support"}), source_id=source_id)

    a, b = of("langfuse:cloud.langfuse.com:aaaaaaaaaaaa"), of("local:bbbbbbbbbbbb")
    assert a.fingerprint == b.fingerprint  # the same labels: Alertmanager's identity
    spool, sink = tmp_path / "spool.jsonl", tmp_path / "alerts.jsonl"
    assert send([a], str(sink), spool=spool).sent == [a]
    other = send([b], str(sink), spool=spool)
    assert other.sent == [b] and other.skipped == []
    again = send([b], str(sink), spool=spool)
    assert again.sent == [] and again.skipped == [b]
    assert [r["annotations"]["source_id"] for r in lines(sink)] == [
        "langfuse:cloud.langfuse.com:aaaaaaaaaaaa", "local:bbbbbbbbbbbb"]


def test_receivers_that_dedupe_get_every_send(probe, tmp_path):
    spool = tmp_path / "spool.jsonl"
    register_sink("alertmanager+probe://", __name__, "_Probe")
    try:
        for _ in range(2):
            assert send([alert("am")], "alertmanager+probe://am", spool=spool).sent
    finally:
        SINKS.pop("alertmanager+probe://")
    assert len(probe.seen) == 2  # Alertmanager merges repeats, and a repeat renews the alert


def test_expired_and_over_cap_entries_are_dropped_counted_and_recorded(tmp_path):
    path = tmp_path / "spool.jsonl"
    bad = str(tmp_path / "blocker" / "alerts.jsonl")
    (tmp_path / "blocker").write_text("")  # a file where the sink's folder should be
    store = Spool(path, max_entries=3, ttl=dt.timedelta(hours=1))
    send([alert(f"old{i}") for i in range(2)], bad, spool=store)
    # Age the two entries past the time-to-live.
    old = [dict(r, spooled_at="2020-01-01T00:00:00Z") for r in lines(path)]
    path.write_text("".join(json.dumps(r) + "\n" for r in old))
    res = send([alert(f"new{i}") for i in range(4)], bad, spool=store)
    reasons = sorted(why.split(":")[0] for _, why in res.dropped)
    assert reasons == ["expired", "expired", "spool full"]
    assert res.degraded and "3 spooled alert(s) dropped" in " ".join(res.problems())
    assert len(lines(path)) == 3 and len(res.spooled) == 3
    dropped = [r for r in lines(tmp_path / "spool.sent.jsonl") if r["outcome"] == "dropped"]
    assert len(dropped) == 3 and all(r["note"] for r in dropped)


def test_entries_for_another_sink_wait_for_a_run_that_uses_it(tmp_path):
    spool = tmp_path / "spool.jsonl"
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    first = send([alert("other")], str(blocker / "a.jsonl"), spool=spool)
    assert first.spooled
    elsewhere = send([], str(tmp_path / "b.jsonl"), spool=spool)
    assert elsewhere.redelivered == [] and len(lines(spool)) == 1
    blocker.unlink()
    back = send([], str(blocker / "a.jsonl"), spool=spool)
    assert back.redelivered == [alert("other")] and not spool.exists()


def test_an_old_spool_in_the_out_folder_is_adopted_and_its_secrets_removed(tmp_path):
    legacy = tmp_path / "out" / "alerts-spool.jsonl"
    legacy.parent.mkdir()
    url = "https://hooks.example.com/services/s3cr3t"
    legacy.write_text(json.dumps({"sink": url, "alert": alert("legacy").to_dict()}) + "\n")
    store = Spool(tmp_path / "cache" / "spool.jsonl")
    assert adopt_legacy_spool(legacy, store) == 1
    assert not legacy.exists()
    (entry,) = store.inbox_entries()
    assert entry.sink == sink_key(url) and "s3cr3t" not in entry.sink


def test_concurrent_senders_lose_nothing_and_send_nothing_twice(tmp_path):
    """Threads of one process and separate processes, all on one spool and one file sink."""
    spool, sink = tmp_path / "spool.jsonl", tmp_path / "alerts.jsonl"
    shared = [alert(f"shared{i}") for i in range(5)]

    def run(n: int):
        return send(shared + [alert(f"own{n}-{i}") for i in range(3)], str(sink), spool=spool)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(8)))
    procs = [subprocess.Popen([sys.executable, str(SENDER), str(spool), str(sink), f"p{n}", "4"],
                              stdout=subprocess.PIPE, text=True) for n in range(4)]
    outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    written = [r["fingerprint"] for r in lines(sink)]
    expected = {a.fingerprint for a in shared} | {alert(f"own{n}-{i}").fingerprint
                                                 for n in range(8) for i in range(3)}
    expected |= {alert(f"p{n}-{i}").fingerprint for n in range(4) for i in range(4)}
    assert sorted(written) == sorted(expected)  # every alert exactly once
    # Each run says its alerts were delivered (by itself or by a run that merged them first)
    # or already had been; none says "spooled".
    for r in results:
        assert not r.spooled and len(r.sent) + len(r.skipped) == 8
    for o in outs:
        assert not o["spooled"] and len(o["sent"]) + len(o["skipped"]) == 4
    assert not spool.exists()


def test_concurrent_senders_during_an_outage_spool_every_alert(tmp_path):
    spool = tmp_path / "spool.jsonl"
    with FaultReceiver(default="500") as recv:
        procs = [subprocess.Popen([sys.executable, str(SENDER), str(spool), recv.url, f"c{n}",
                                   "3", "3"], stdout=subprocess.PIPE, text=True)
                 for n in range(3)]
        outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
        assert sorted(len(o["spooled"]) for o in outs) == [3, 3, 3]
        assert len(lines(spool)) == 9
        recv.default = "ok"
        back = send([], recv.url, spool=spool)
    assert len(back.redelivered) == 9 and recv.duplicates() == {} and len(recv.counts) == 9


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_sender_killed_mid_delivery_loses_nothing(tmp_path, sig):
    spool = tmp_path / "spool.jsonl"
    with FaultReceiver(default="stall", stall_s=30) as recv:
        proc = subprocess.Popen([sys.executable, str(SENDER), str(spool), recv.url, "k", "2"],
                                stdout=subprocess.PIPE, text=True)
        assert recv.arrived.wait(60), "the sender never reached the receiver"
        proc.send_signal(sig)
        proc.communicate(timeout=30)
        assert proc.returncode != 0
        assert recv.counts == {}  # the receiver never acknowledged
        recv.default = "ok"
        back = send([], recv.url, spool=spool)
    assert sorted(a.fingerprint for a in back.redelivered) == sorted(
        alert(f"k-{i}").fingerprint for i in range(2))
    assert recv.duplicates() == {} and len(recv.counts) == 2


@pytest.mark.parametrize("fault", ["stall", "drip"])
def test_a_stalled_or_dripping_receiver_cannot_hold_a_send_past_its_deadline(tmp_path, fault):
    spool = tmp_path / "spool.jsonl"
    with FaultReceiver(default=fault, stall_s=30, drip_s=0.3) as recv:
        started = time.monotonic()
        res = send([alert("slow")], recv.url, spool=spool, deadline=Deadline.after(1.5))
        elapsed = time.monotonic() - started
        assert res.spooled == [alert("slow")] and "deadline" in res.errors[0]
        assert elapsed < 5  # a 30 s stall or a ~30 s drip, cut at 1.5 s
        recv.default = "ok"
        assert send([], recv.url, spool=spool).redelivered == [alert("slow")]
    assert recv.duplicates() == {}
