import json

import pandas as pd
import pytest

from workbench.alerts import Alert, FileSink, alertname, dedupe, get_sink, send
from workbench.errors import AlertDeliveryError, ConfigError
from workbench.findings import Finding

T0 = pd.Timestamp("2026-11-06", tz="UTC")


def finding(runbook="cost_spike", signal="daily_cost_usd", severity="warning", **labels):
    return Finding(runbook=runbook, signal=signal, severity=severity, start=T0,
                   end=T0 + pd.Timedelta(days=1), observed=300.0, baseline=100.0,
                   summary="cost tripled", unit="USD", labels=labels)


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_alert_from_finding_has_labels_annotations_and_window():
    f = finding(agent="support-bot", **{"model.name": "gpt"})
    a = Alert.from_finding(f)
    assert a.labels == {"alertname": "CostSpikeDailyCostUsd", "runbook": "cost_spike",
                        "signal": "daily_cost_usd", "severity": "warning",
                        "agent": "support-bot", "model_name": "gpt"}
    assert a.annotations["summary"] == "cost tripled"
    assert a.annotations["runbook_notebook"] == "notebooks/runbooks/cost_spike.ipynb"
    assert "300 USD" in a.annotations["description"]
    assert a.starts_at == "2026-11-06T00:00:00Z"
    assert a.ends_at == "2026-11-07T00:00:00Z"
    assert a.fingerprint == f.fingerprint
    postable = a.to_postable()
    assert set(postable) == {"labels", "annotations", "startsAt", "endsAt"}
    assert Alert.from_dict(a.to_dict()) == a


def test_an_alert_says_whose_traffic_and_which_source_it_judged():
    from workbench.analysis import ALL

    assert Alert.from_finding(finding()).all_traffic
    assert Alert.from_finding(finding(day="2026-11-06")).all_traffic  # a daily check
    assert Alert.from_finding(finding(agent=ALL)).all_traffic  # an SLO burn on all traffic
    assert not Alert.from_finding(finding(agent="support-bot")).all_traffic
    assert not Alert.from_finding(finding(release="v2")).all_traffic  # a slice across agents
    a = Alert.from_finding(finding(), source_id="local:0123456789ab")
    assert a.annotations["source_id"] == a.labels["source_id"] == "local:0123456789ab"
    assert a.all_traffic  # the source names no part of the traffic
    assert Alert.from_dict(a.to_dict()) == a
    plain = Alert.from_finding(finding())
    assert "source_id" not in plain.annotations and "source_id" not in plain.labels
    # the same finding on two projects: one incident kind, two alerts Alertmanager keeps apart
    b = Alert.from_finding(finding(), source_id="local:ba9876543210")
    assert a.fingerprint == b.fingerprint and a.labels != b.labels


def test_source_identities_tell_projects_apart_and_hold_no_secret(tmp_path, monkeypatch):
    from workbench.sources.langfuse import LangfuseSource
    from workbench.sources.local import LocalSource
    from workbench.sources.tempo import TempoSource

    def langfuse(public):
        return LangfuseSource("https://cloud.langfuse.com", public, "sk-lf-s3cr3t").identity

    a, b = langfuse("pk-lf-projecta"), langfuse("pk-lf-projectb")
    assert a != b and a.startswith("langfuse:cloud.langfuse.com:")
    assert "projecta" not in a and "s3cr3t" not in a
    tempo = TempoSource("https://u:pw@tempo.example:3200", org_id="team-a").identity
    assert tempo.startswith("tempo:tempo.example:3200:") and "pw" not in tempo
    assert tempo != TempoSource("https://tempo.example:3200", org_id="team-b").identity
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path)
    here = LocalSource("a").identity
    assert here == LocalSource(tmp_path / "a").identity != LocalSource("b").identity
    assert here.startswith("local:") and str(tmp_path) not in here


def test_a_finding_without_figures_says_so_instead_of_nan():
    """A failed source's alert (observed and baseline NaN) and a finding without a baseline
    describe what they have; an on-call reader never sees "nan"."""
    failed = Finding(runbook="daily_report", signal="source_degraded", severity="critical",
                     start=T0, end=T0 + pd.Timedelta(days=1), observed=float("nan"),
                     baseline=float("nan"), summary="source 'langfuse' failed")
    no_base = Finding(runbook="cost_spike", signal="cost_per_request", severity="warning",
                      start=T0, end=T0 + pd.Timedelta(hours=2), observed=0.25,
                      baseline=float("nan"), unit="USD", summary="cost per request rose")
    said = [Alert.from_finding(f).annotations["description"] for f in (failed, no_base)]
    assert said == ["nothing measured: see the summary (firing)",
                    "observed 0.25 USD, no baseline (firing)"]
    assert not any("nan" in s.lower() for s in said)


def test_alert_for_unknown_runbook_has_no_notebook_annotation():
    a = Alert.from_finding(finding(runbook="daily_report", signal="source_degraded"))
    assert "runbook_notebook" not in a.annotations
    assert a.name == "DailyReportSourceDegraded"


def test_alertname_is_camel_case():
    assert alertname("timeout_surge", "latency_p95") == "TimeoutSurgeLatencyP95"


def test_dedupe_keeps_most_severe_per_fingerprint():
    w = Alert.from_finding(finding(severity="warning"))
    c = Alert.from_finding(finding(severity="critical"))
    other = Alert.from_finding(finding(signal="cost_per_hour"))
    out = dedupe([w, other, c])
    assert [a.severity for a in out] == ["critical", "warning"]
    assert [a.fingerprint for a in out] == [w.fingerprint, other.fingerprint]
    # the same finding judged on another project is another alert
    theirs = Alert.from_finding(finding(severity="warning"), source_id="local:ba9876543210")
    assert dedupe([w, theirs, c]) == [c, theirs]


def test_file_sink_appends_json_lines(tmp_path):
    path = tmp_path / "sub" / "alerts.jsonl"
    a = Alert.from_finding(finding())
    b = Alert.from_finding(finding(signal="cost_per_hour"))
    FileSink(f"file://{path}").deliver([a])
    FileSink(str(path)).deliver([b])
    assert [r["fingerprint"] for r in lines(path)] == [a.fingerprint, b.fingerprint]
    assert lines(path)[0]["labels"]["alertname"] == "CostSpikeDailyCostUsd"


def test_sinks_are_picked_by_url_prefix(tmp_path):
    assert isinstance(get_sink(str(tmp_path / "a.jsonl")), FileSink)
    assert get_sink(f"file://{tmp_path}/a.jsonl").path == tmp_path / "a.jsonl"
    with pytest.raises(ConfigError, match="no alert sink for ftp://"):
        get_sink("ftp://example/x")
    with pytest.raises(ConfigError, match="empty"):
        get_sink("")


def test_send_dedupes_within_a_run(tmp_path):
    sink = tmp_path / "alerts.jsonl"
    a = Alert.from_finding(finding())
    res = send([a, a, Alert.from_finding(finding(severity="page"))], str(sink),
               spool=tmp_path / "spool.jsonl")
    assert res.ok and len(res.sent) == 1 and res.sent[0].severity == "page"
    assert [r["labels"]["severity"] for r in lines(sink)] == ["page"]
    assert not (tmp_path / "spool.jsonl").exists()


def test_failed_sink_spools_and_next_run_delivers(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    bad = str(blocker / "alerts.jsonl")  # parent is a file: unwritable even as root
    spool = tmp_path / "spool.jsonl"
    a = Alert.from_finding(finding())

    first = send([a], bad, spool=spool)
    assert not first.ok and first.sent == [] and first.spooled == [a]
    assert first.errors[0].startswith("AlertDeliveryError: file sink")
    assert [r["alert"]["fingerprint"] for r in lines(spool)] == [a.fingerprint]
    assert lines(spool)[0]["sink"] == bad

    # Still failing: kept, not duplicated.
    again = send([], bad, spool=spool)
    assert not again.ok and len(lines(spool)) == 1

    # The sink works again: the spooled alert reaches its sink with the new batch.
    blocker.unlink()
    b = Alert.from_finding(finding(signal="cost_per_hour"))
    third = send([b], bad, spool=spool)
    assert third.ok and third.redelivered == [a] and third.sent == [b]
    assert [r["fingerprint"] for r in lines(tmp_path / "not-a-dir" / "alerts.jsonl")] == [
        a.fingerprint, b.fingerprint]
    assert not spool.exists()


def test_unwritable_spool_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AlertDeliveryError, match="could not be kept"):
        send([Alert.from_finding(finding())], str(blocker / "a.jsonl"),
             spool=blocker / "spool.jsonl")


def test_corrupt_spool_is_named_moved_aside_and_does_not_block_delivery(tmp_path):
    spool = tmp_path / "spool.jsonl"
    spool.write_text("{not json\n")
    a = Alert.from_finding(finding())
    res = send([a], str(tmp_path / "a.jsonl"), spool=spool)
    assert res.sent == [a]
    assert len(res.errors) == 1 and "line 1 is unreadable" in res.errors[0]
    (aside,) = tmp_path.glob("spool.jsonl.corrupt-*")
    assert aside.read_text() == "{not json\n" and aside.name in res.errors[0]
