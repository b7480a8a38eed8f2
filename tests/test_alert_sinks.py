"""Alertmanager and webhook sinks, against the real Alertmanager and a local receiver.

One Alertmanager serves the module (basic auth on, every alert routed to a receiver this module
owns, grouped by ``test`` and ``alertname``); each test labels its findings with its own ``test``
value so tests never see each other's alerts. Waits between retries are recorded, not slept.
"""

import datetime as dt
import email.utils
import json

import pandas as pd
import pytest
from alertmanager_server import PASSWORD, USERNAME, AlertmanagerServer, Receiver, poll
from prometheus_server import free_port

from workbench.alerts import (
    Alert,
    AlertmanagerSink,
    SlackSink,
    WebhookSink,
    _http,
    get_sink,
    resolved,
    send,
)
from workbench.alerts._http import AlertRejected, RetryPolicy
from workbench.alerts.alertmanager import (
    FIRING_FOR,
    alert_status,
    is_resolved,
    to_postable,
)
from workbench.alerts.webhook import slack_text
from workbench.errors import AlertDeliveryError, ConfigError
from workbench.findings import Finding

pytestmark = pytest.mark.alertmanager

NOW = pd.Timestamp.now(tz="UTC").floor("h")
#: A daily report's window: yesterday, long over when the alert is sent.
WINDOW = (NOW - pd.Timedelta(days=1), NOW - pd.Timedelta(days=1) + pd.Timedelta(hours=1))


def finding(test, runbook="cost_spike", signal="daily_cost_usd", severity="warning",
            summary="cost tripled", **labels):
    return Finding(runbook=runbook, signal=signal, severity=severity, start=WINDOW[0],
                   end=WINDOW[1], observed=300.0, baseline=100.0, summary=summary, unit="USD",
                   labels={"test": test, **labels})


def alert(test, **kw):
    return Alert.from_finding(finding(test, **kw))


def iso(ts):
    return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(ts):
    return pd.Timestamp(ts).tz_convert("UTC")


@pytest.fixture(autouse=True)
def waits(monkeypatch):
    """Retry waits are recorded instead of slept; a short retry policy by default."""
    slept = []
    monkeypatch.setattr(_http, "_sleep", slept.append)
    monkeypatch.setattr(_http, "DEFAULT_RETRY", RetryPolicy(attempts=3, timeout_s=5.0,
                                                            backoff_s=0.5, budget_s=30.0))
    return slept


@pytest.fixture
def am_auth(monkeypatch):
    monkeypatch.setenv("ALERTMANAGER_USERNAME", USERNAME)
    monkeypatch.setenv("ALERTMANAGER_PASSWORD", PASSWORD)


@pytest.fixture
def receiver():
    with Receiver() as recv:
        yield recv


def notifications(am_receiver, test):
    """What Alertmanager forwarded for ``test``'s alerts (webhook payloads, oldest first)."""
    return [r.body for r in am_receiver.posts("/alertmanager")
            if r.body.get("groupLabels", {}).get("test") == test]


# -- against the real Alertmanager ------------------------------------------------------------

def test_findings_reach_alertmanager_firing_and_are_forwarded_grouped(am, am_receiver, am_auth,
                                                                      tmp_path):
    a1 = alert("grouping", agent="rag-agent")
    a2 = alert("grouping", agent="tool-agent")
    t1 = alert("grouping", runbook="timeout_surge", signal="timeout_rate", severity="critical",
               summary="timeouts up", agent="rag-agent")
    res = send([a1, a2, t1], am.sink_url, spool=tmp_path / "spool.jsonl")
    assert res.ok and res.sent == [a1, a2, t1] and not (tmp_path / "spool.jsonl").exists()

    got = am.alerts('test="grouping"')
    by_agent_name = {(g["labels"]["alertname"], g["labels"]["agent"]): g for g in got}
    assert set(by_agent_name) == {("CostSpikeDailyCostUsd", "rag-agent"),
                                  ("CostSpikeDailyCostUsd", "tool-agent"),
                                  ("TimeoutSurgeTimeoutRate", "rag-agent")}
    for a in (a1, a2, t1):
        g = by_agent_name[(a.name, a.labels["agent"])]
        assert g["labels"] == dict(a.labels)
        assert g["annotations"]["summary"] == a.annotations["summary"]
        assert g["annotations"]["window"] == f"{a.starts_at}/{a.ends_at}"
        # The report's window ended a day ago, yet the alert is active (firing), not resolved.
        assert g["status"]["state"] == "active"
        assert parse(g["startsAt"]) == WINDOW[0]
        assert parse(g["endsAt"]) > pd.Timestamp.now(tz="UTC")
        assert g["receivers"] == [{"name": "test-hook"}]
    assert len({g["fingerprint"] for g in got}) == 3

    # Forwarded once per group: both cost alerts in one notification, the timeout in another.
    def by_group():
        seen = {n["groupLabels"]["alertname"]: n for n in notifications(am_receiver, "grouping")}
        return seen if len(seen) == 2 else None

    seen = poll(by_group, what="both groups notified")
    cost, timeout = seen["CostSpikeDailyCostUsd"], seen["TimeoutSurgeTimeoutRate"]
    assert cost["status"] == "firing" and cost["receiver"] == "test-hook"
    assert sorted(x["labels"]["agent"] for x in cost["alerts"]) == ["rag-agent", "tool-agent"]
    assert cost["commonLabels"]["severity"] == "warning"
    assert [x["labels"]["severity"] for x in timeout["alerts"]] == ["critical"]
    forwarded = {x["fingerprint"] for n in (cost, timeout) for x in n["alerts"]}
    assert forwarded == {g["fingerprint"] for g in got}


def test_same_fingerprint_twice_is_one_alert(am, am_receiver, am_auth):
    a = alert("dupes", agent="planner-agent")
    sink = get_sink(am.sink_url)
    sink.deliver([a, a])  # the sink itself does not dedupe: Alertmanager merges by labels
    sink.deliver([Alert.from_finding(finding("dupes", agent="planner-agent"))])
    got = am.alerts('test="dupes"')
    assert len(got) == 1 and got[0]["labels"]["agent"] == "planner-agent"
    first = poll(lambda: notifications(am_receiver, "dupes"), what="dupes notification")
    assert [len(n["alerts"]) for n in first] == [1] * len(first)
    assert first[0]["alerts"][0]["fingerprint"] == got[0]["fingerprint"]


def test_resolved_alert_shows_resolved(am, am_receiver, am_auth, tmp_path):
    a = alert("resolve", agent="rag-agent")
    assert send([a], am.sink_url, spool=tmp_path / "s.jsonl").ok
    assert [g["status"]["state"] for g in am.alerts('test="resolve"')] == ["active"]
    poll(lambda: notifications(am_receiver, "resolve"), what="firing notification")

    done = resolved(a)
    assert is_resolved(done) and alert_status(done) == "resolved"
    assert send([done], am.sink_url, spool=tmp_path / "s.jsonl").ok
    # Alertmanager lists active alerts only: the resolved one is gone from the API ...
    assert am.alerts('test="resolve"') == []
    # ... and the receiver is told it resolved, same fingerprint, endsAt the resolve time.
    last = poll(lambda: [n for n in notifications(am_receiver, "resolve")
                         if n["status"] == "resolved"], what="resolved notification")[-1]
    (item,) = last["alerts"]
    assert item["status"] == "resolved" and item["labels"] == dict(a.labels)
    assert parse(item["endsAt"]) == parse(done.annotations["resolved_at"])
    assert item["annotations"]["window"] == f"{a.starts_at}/{a.ends_at}"
    firing = notifications(am_receiver, "resolve")[0]["alerts"][0]
    assert item["fingerprint"] == firing["fingerprint"]


def test_two_projects_with_the_same_finding_are_two_alerts(am, am_receiver, am_auth, tmp_path):
    """Alertmanager merges alerts with equal labels: the source's identity among them keeps two
    projects' identical findings apart, and resolving one leaves the other firing."""
    ours = Alert.from_finding(finding("projects", agent="rag-agent", summary="ours"),
                              source_id="langfuse:cloud.langfuse.com:0123456789ab")
    theirs = Alert.from_finding(finding("projects", agent="rag-agent", summary="theirs"),
                                source_id="langfuse:cloud.langfuse.com:ba9876543210")
    assert send([ours, theirs], am.sink_url, spool=tmp_path / "s.jsonl").ok
    got = {g["labels"]["source_id"]: g for g in am.alerts('test="projects"')}
    assert {k: g["annotations"]["summary"] for k, g in got.items()} == {
        ours.labels["source_id"]: "ours", theirs.labels["source_id"]: "theirs"}
    assert all(g["status"]["state"] == "active" for g in got.values())
    assert send([resolved(ours)], am.sink_url, spool=tmp_path / "s.jsonl").ok
    (left,) = am.alerts('test="projects"')
    assert left["labels"] == dict(theirs.labels) and left["status"]["state"] == "active"


def test_unreachable_alertmanager_spools_and_next_send_redelivers(am_receiver, am_auth, tmp_path,
                                                                  waits):
    port = free_port()  # nothing listens here yet
    url = f"alertmanager+http://127.0.0.1:{port}"
    spool = tmp_path / "spool.jsonl"
    a = alert("spool", agent="tool-agent")

    first = send([a], url, spool=spool)
    assert not first.ok and first.sent == [] and first.spooled == [a]
    assert f"alertmanager http://127.0.0.1:{port} failed after 3 attempt(s): cannot connect" \
        in first.errors[0]
    assert len(waits) == 2 and 0.4 <= waits[0] <= 0.6 and 0.8 <= waits[1] <= 1.2
    assert [json.loads(x)["alert"]["fingerprint"] for x in spool.read_text().splitlines()] == [
        a.fingerprint]

    with AlertmanagerServer(tmp_path / "late", am_receiver.url, port=port) as late:
        again = send([], url, spool=spool)
        assert again.ok and again.redelivered == [a] and again.sent == []
        assert not spool.exists()
        (got,) = late.alerts('test="spool"')
        assert got["labels"] == dict(a.labels) and got["status"]["state"] == "active"


def test_rejected_alerts_name_the_servers_message_and_are_not_retried(am, am_auth, tmp_path,
                                                                      waits):
    a = alert("reject")
    empty = Alert(labels={}, annotations={}, starts_at=a.starts_at, ends_at=a.ends_at,
                  fingerprint="0" * 16)
    sink = get_sink(am.sink_url)
    with pytest.raises(AlertRejected, match="at least one label pair required") as exc:
        sink.deliver([empty])
    assert exc.value.status == 400 and "HTTP 400" in str(exc.value)

    bad = Alert(labels={**a.labels, "bad-name": "x"}, annotations={}, starts_at=a.starts_at,
                ends_at=a.ends_at, fingerprint="1" * 16)
    res = send([bad], am.sink_url, spool=tmp_path / "spool.jsonl")
    assert not res.ok and res.rejected == [bad] and res.spooled == []
    assert 'HTTP 400): invalid label set: invalid name "bad-name"' in res.errors[0]
    assert "not spooled" in res.errors[0] and not (tmp_path / "spool.jsonl").exists()
    assert waits == []  # neither rejection was retried


def test_one_rejected_alert_does_not_hold_back_its_batch(am, am_auth, tmp_path):
    good = alert("mixed-good")
    bad = Alert(labels={**good.labels, "bad-name": "x"}, annotations={},
                starts_at=good.starts_at, ends_at=good.ends_at, fingerprint="2" * 16)
    spool = tmp_path / "spool.jsonl"
    res = send([bad, good], am.sink_url, spool=spool)
    assert res.sent == [good] and res.rejected == [bad] and res.spooled == []
    assert not spool.exists()  # nothing left to fail again on the next run
    (got,) = am.alerts('test="mixed-good"')
    assert got["labels"] == dict(good.labels)


def test_credentials_come_from_the_environment_and_never_show(am, monkeypatch, tmp_path):
    a = alert("auth")
    with pytest.raises(AlertDeliveryError,
                       match="refused the credentials \\(HTTP 401\\); check ALERTMANAGER_USERNAME"):
        get_sink(am.sink_url).deliver([a])

    monkeypatch.setenv("ALERTMANAGER_USERNAME", USERNAME)
    monkeypatch.setenv("ALERTMANAGER_PASSWORD", "wrong-" + PASSWORD)
    res = send([a], am.sink_url, spool=tmp_path / "spool.jsonl")
    assert not res.ok and "HTTP 401" in res.errors[0]
    assert PASSWORD not in json.dumps(res.to_dict())

    with pytest.raises(ConfigError, match="carries credentials") as exc:
        get_sink(f"alertmanager+http://{USERNAME}:{PASSWORD}@127.0.0.1:{am.port}")
    assert PASSWORD not in str(exc.value)

    monkeypatch.setenv("ALERTMANAGER_TOKEN", "tok")
    with pytest.raises(ConfigError, match="either ALERTMANAGER_TOKEN or"):
        send([a], am.sink_url, spool=tmp_path / "spool.jsonl")
    monkeypatch.delenv("ALERTMANAGER_PASSWORD")
    monkeypatch.delenv("ALERTMANAGER_TOKEN")
    with pytest.raises(ConfigError, match="ALERTMANAGER_PASSWORD is not set"):
        get_sink(am.sink_url)

    monkeypatch.setenv("ALERTMANAGER_PASSWORD", PASSWORD)
    assert send([a], am.sink_url, spool=tmp_path / "spool.jsonl").ok
    assert [g["labels"]["test"] for g in am.alerts('test="auth"')] == ["auth"]


# -- the Alertmanager sink's requests, seen by a local receiver ---------------------------------

def test_alertmanager_sink_posts_batches_with_route_prefix_and_bearer(receiver, monkeypatch):
    monkeypatch.setenv("ALERTMANAGER_TOKEN", "t0ken")
    now = NOW + pd.Timedelta(minutes=30)
    alerts = [alert("batch", agent=f"a{i}") for i in range(4)]
    alerts.append(resolved(alert("batch", agent="done"), at=iso(NOW)))
    sink = AlertmanagerSink(f"alertmanager+{receiver.url}/am/", batch_size=2,
                            clock=lambda: now)
    sink.deliver(alerts)
    posts = receiver.posts()
    assert [p.path for p in posts] == ["/am/api/v2/alerts"] * 3
    assert [len(p.body) for p in posts] == [2, 2, 1]
    assert {p.headers["Authorization"] for p in posts} == {"Bearer t0ken"}
    body = [x for p in posts for x in p.body]
    assert [x["labels"]["agent"] for x in body] == ["a0", "a1", "a2", "a3", "done"]
    assert FIRING_FOR == dt.timedelta(minutes=15)
    assert {x["endsAt"] for x in body[:4]} == {iso(now + FIRING_FOR)}
    assert body[4]["endsAt"] == iso(NOW)
    assert all(x["startsAt"] == alerts[0].starts_at for x in body)


def test_server_errors_are_retried_honouring_retry_after(receiver, waits):
    receiver.script += [(503, '"busy"', {"Retry-After": "2"}), (500, "oops", {})]
    sink = AlertmanagerSink(f"alertmanager+{receiver.url}")
    sink.deliver([alert("retry")])
    assert len(receiver.posts()) == 3
    assert waits[0] == 2.0 and 0.8 <= waits[1] <= 1.2  # Retry-After, then back-off 1 s +-20%


def test_retry_after_as_a_date_and_the_delivery_budget(receiver, waits):
    when = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5),
                                       usegmt=True)
    receiver.script += [(503, "", {"Retry-After": when}), (503, "", {"Retry-After": "20"})]
    policy = RetryPolicy(attempts=5, budget_s=15.0)
    with pytest.raises(AlertDeliveryError, match="HTTP 503; the 15 s delivery budget ran out"):
        WebhookSink(f"{receiver.url}/hook", policy=policy).deliver([alert("date")])
    assert len(waits) == 1 and 3.0 <= waits[0] <= 5.0 and len(receiver.posts()) == 2


def test_a_failed_later_batch_says_what_was_delivered(receiver):
    receiver.script += [(200, "", {}), (400, '"start time must be before end time"', {})]
    sink = AlertmanagerSink(f"alertmanager+{receiver.url}", batch_size=1)
    with pytest.raises(AlertRejected, match="end time \\(batch 2 of 2; 1 earlier batch"):
        sink.deliver([alert("later", agent="a"), alert("later", agent="b")])
    assert len(receiver.posts()) == 2


def test_retry_after_beyond_the_cap_leaves_alerts_for_the_spool(receiver, tmp_path):
    receiver.script.append((429, "slow down", {"Retry-After": "600"}))
    res = send([alert("cap")], f"alertmanager+{receiver.url}", spool=tmp_path / "spool.jsonl")
    assert not res.ok and len(res.spooled) == 1 and len(receiver.posts()) == 1
    assert "HTTP 429: slow down; it asks to retry after 600 s, longer than 30 s" in res.errors[0]


def test_a_slow_receiver_times_out(receiver):
    receiver.delay_s = 1.0
    policy = RetryPolicy(attempts=2, timeout_s=0.2, backoff_s=0.0)
    with pytest.raises(AlertDeliveryError, match="failed after 2 attempt\\(s\\): no answer "
                                                 "within 0.2 s"):
        AlertmanagerSink(f"alertmanager+{receiver.url}", policy=policy).deliver([alert("slow")])
    assert len(receiver.posts()) == 2


def test_bad_sink_settings_are_config_errors():
    with pytest.raises(ConfigError, match="timeout_s must be in \\(0, 10.0\\]"):
        RetryPolicy(timeout_s=30)
    with pytest.raises(ConfigError, match="attempts must be >= 1"):
        RetryPolicy(attempts=0)
    with pytest.raises(ConfigError, match="no alert sink for alertmanager\\+ftp://"):
        get_sink("alertmanager+ftp://host:9093")
    with pytest.raises(ConfigError, match="bad port"):
        get_sink("alertmanager+http://host:99999")
    with pytest.raises(ConfigError, match="query or fragment"):
        get_sink("alertmanager+http://host:9093?x=1")
    with pytest.raises(ConfigError, match="batch_size"):
        WebhookSink("https://example.invalid/hook", batch_size=0)
    with pytest.raises(ConfigError, match="before it started"):
        resolved(alert("early"), at=WINDOW[0] - pd.Timedelta(hours=1))


def test_sinks_by_prefix_and_resolved_mark_survives_the_spool():
    am_sink = get_sink("alertmanager+https://am.example.com/alertmanager")
    assert isinstance(am_sink, AlertmanagerSink)
    assert am_sink.api_url == "https://am.example.com/alertmanager/api/v2/alerts"
    assert isinstance(get_sink("https://hooks.example.com/x"), WebhookSink)
    slack = get_sink("slack+https://hooks.slack.com/services/T/B/x")
    assert isinstance(slack, SlackSink) and slack.target == "https://hooks.slack.com/services/T/B/x"

    done = resolved(alert("mark"), at=WINDOW[1] + pd.Timedelta(hours=2))
    back = Alert.from_dict(done.to_dict())
    assert back == done and is_resolved(back)
    assert to_postable(back)["endsAt"] == done.annotations["resolved_at"]
    # A resolve time still ahead keeps the alert firing until then.
    later = resolved(alert("mark"), at=pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=1))
    assert alert_status(later) == "firing"


# -- webhook sinks ----------------------------------------------------------------------------

def test_webhook_posts_alertmanager_shaped_payload_in_batches(receiver, monkeypatch):
    monkeypatch.setenv("WORKBENCH_WEBHOOK_TOKEN", "hook-token")
    now = NOW
    a = alert("hook", agent="rag-agent")
    b = resolved(alert("hook", agent="tool-agent"), at=iso(NOW - pd.Timedelta(hours=1)))
    c = alert("hook", runbook="timeout_surge", signal="timeout_rate")
    WebhookSink(f"{receiver.url}/hooks/x?team=llm", batch_size=2, clock=lambda: now).deliver(
        [a, b, c])
    first, second = receiver.posts()
    assert first.path == second.path == "/hooks/x?team=llm"
    assert first.headers["Authorization"] == "Bearer hook-token"
    assert first.body["version"] == "1" and first.body["status"] == "firing"
    assert [x["status"] for x in first.body["alerts"]] == ["firing", "resolved"]
    assert [x["fingerprint"] for x in first.body["alerts"]] == [a.fingerprint, b.fingerprint]
    assert first.body["commonLabels"] == {k: v for k, v in a.labels.items() if k != "agent"}
    assert first.body["alerts"][0]["endsAt"] == iso(NOW + pd.Timedelta(minutes=15))
    assert first.body["alerts"][1]["endsAt"] == iso(NOW - pd.Timedelta(hours=1))
    assert [x["labels"]["alertname"] for x in second.body["alerts"]] == [
        "TimeoutSurgeTimeoutRate"]


def test_webhook_500_then_success_is_delivered_once(receiver, tmp_path, waits):
    receiver.script.append((500, "temporarily down", {}))
    a = alert("hook500")
    res = send([a], f"{receiver.url}/hook", spool=tmp_path / "spool.jsonl")
    assert res.ok and res.sent == [a] and not (tmp_path / "spool.jsonl").exists()
    assert len(receiver.posts()) == 2 and len(waits) == 1
    assert receiver.posts()[1].body["alerts"][0]["fingerprint"] == a.fingerprint


def test_webhook_400_names_the_message_and_is_not_spooled(receiver, tmp_path, waits):
    receiver.script.append((400, '{"error": "field alerts[0].labels.team is required"}', {}))
    res = send([alert("hook400")], f"{receiver.url}/hook", spool=tmp_path / "spool.jsonl")
    assert not res.ok and len(res.rejected) == 1 and res.spooled == []
    assert len(receiver.posts()) == 1 and waits == []
    assert "rejected the alerts (HTTP 400): field alerts[0].labels.team is required" in (
        res.errors[0])


def test_slack_groups_an_alert_storm_into_one_capped_message(receiver):
    storm = [alert("slack", agent=f"agent-{i}") for i in range(25)]  # warning CostSpike x25
    storm += [alert("slack", runbook="timeout_surge", signal="timeout_rate", severity="critical",
                    summary="timeouts <up> & rising", agent=f"a{i}") for i in range(3)]
    storm += [resolved(alert("slack", runbook="hallucination_spike", signal="rate",
                             summary="hallucinations", agent=f"h{i}")) for i in range(2)]
    storm += [alert("slack", runbook=f"extra{i}", signal="s", severity="info") for i in range(2)]
    SlackSink(f"slack+{receiver.url}/services/T1/B2/s3cr3t", max_lines=3).deliver(storm)
    (post,) = receiver.posts()
    assert post.path == "/services/T1/B2/s3cr3t" and set(post.body) == {"text"}
    lines = post.body["text"].splitlines()
    assert lines == [
        "workbench: 30 firing, 2 resolved alert(s) in 5 group(s)",
        "[critical] TimeoutSurgeTimeoutRate: 3 firing. timeouts &lt;up&gt; &amp; rising (+2 more)",
        "[warning] CostSpikeDailyCostUsd: 25 firing. cost tripled (+24 more)",
        "[warning] HallucinationSpikeRate: 2 resolved. hallucinations (+1 more)",
        "\u2026and 2 more group(s) with 2 alert(s)",
    ]


def test_slack_lines_link_the_runbook_and_the_report_when_they_are_on_the_web(monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNBOOK_URL", "https://docs.example.com/runbooks/{runbook}.html")
    linked = Alert.from_finding(finding("links"),
                                generator_url="https://reports.example.com/daily/r.html")
    text = slack_text([linked])
    assert text.splitlines()[1].endswith(
        " <https://docs.example.com/runbooks/cost_spike.html|runbook>"
        " <https://reports.example.com/daily/r.html|report>")

    monkeypatch.delenv("WORKBENCH_RUNBOOK_URL")  # a file:// path helps no one in a chat
    local = Alert.from_finding(finding("links"), generator_url="file:///tmp/out/r.html")
    assert "<" not in slack_text([local]) and "file:" not in slack_text([local])


def test_slack_lines_are_clipped_and_errors_hide_the_webhook_path(receiver, tmp_path):
    text = slack_text([alert("clip", summary="x" * 1000)])
    assert max(len(line) for line in text.splitlines()) == 300 and text.endswith("\u2026")

    receiver.script.append((403, "invalid_token", {}))
    url = f"slack+{receiver.url}/services/T1/B2/s3cr3t"
    res = send([alert("clip")], url, spool=tmp_path / "spool.jsonl")
    assert not res.ok and "HTTP 403" in res.errors[0]
    assert "s3cr3t" not in res.errors[0] and f"127.0.0.1:{receiver.port}" in res.errors[0]


def test_daily_report_findings_reach_the_real_alertmanager(am, am_auth, tmp_path):
    from shared_datasets import demo_store
    from workbench.reports import daily

    store = demo_store(tmp_path / "demo", days=7, traces_per_day=500)
    report = daily.build("2026-11-08", "local", store, days=7, alert_days=7, prometheus=False)
    expected = {f.fingerprint for f in report.alert_findings()}
    assert expected  # the demo week holds three incidents
    res = report.send_alerts(am.sink_url, tmp_path / "out")
    assert res.ok and {a.fingerprint for a in res.sent} == expected
    got = am.alerts('runbook=~"cost_spike|timeout_surge|hallucination_spike"')
    runbooks_seen = {a["labels"]["runbook"] for a in got}
    assert runbooks_seen == {"cost_spike", "timeout_surge", "hallucination_spike"}
    assert all(a["status"]["state"] == "active" for a in got)


def test_runbook_url_and_generator_url_reach_alertmanager_and_its_receiver(am, am_receiver,
                                                                           am_auth, tmp_path,
                                                                           monkeypatch):
    """The annotations Alertmanager users template on (runbook_url) and the link back to the
    report (generatorURL) are accepted by the real server, stored, and forwarded as sent: from
    a configured docs site, and by default as file URIs on the machine that ran the report."""
    monkeypatch.setenv("WORKBENCH_RUNBOOK_URL", "https://docs.example.com/runbooks/{runbook}.html")
    monkeypatch.setenv("WORKBENCH_REPORT_URL", "https://reports.example.com/daily/")
    from workbench.links import report_url

    served = Alert.from_finding(finding("links", agent="tool-agent"),
                                generator_url=report_url("daily-report-2026-11-06.html"))
    monkeypatch.delenv("WORKBENCH_RUNBOOK_URL")
    monkeypatch.delenv("WORKBENCH_REPORT_URL")
    local = Alert.from_finding(finding("links", runbook="timeout_surge", signal="timeout_rate",
                                       agent="planner agent"),
                               generator_url=report_url("daily report.html", tmp_path / "out"))
    assert local.annotations["runbook_url"].startswith("file:///")
    assert local.annotations["runbook_url"].endswith("/notebooks/runbooks/timeout_surge.ipynb")
    assert local.generator_url == (tmp_path / "out").resolve().as_uri() + "/daily%20report.html"
    assert send([served, local], am.sink_url, spool=tmp_path / "s.jsonl").ok

    got = {g["labels"]["runbook"]: g for g in am.alerts('test="links"')}
    assert got["cost_spike"]["annotations"]["runbook_url"] == \
        "https://docs.example.com/runbooks/cost_spike.html"
    assert got["cost_spike"]["generatorURL"] == \
        "https://reports.example.com/daily/daily-report-2026-11-06.html"
    assert got["timeout_surge"]["annotations"]["runbook_url"] == local.annotations["runbook_url"]
    assert got["timeout_surge"]["generatorURL"] == local.generator_url
    forwarded = poll(lambda: [x for n in notifications(am_receiver, "links")
                              for x in n["alerts"]] or None, what="links notification")
    assert {x["generatorURL"] for x in forwarded} <= {served.generator_url, local.generator_url}
    assert all(x["annotations"]["runbook_url"] for x in forwarded)


def test_alertmanager_rejects_a_generator_url_that_is_not_a_uri(am, am_auth, tmp_path):
    """Why generatorURL is always absolute: a bare file name is refused by the server."""
    bad = Alert.from_finding(finding("bad-url"), generator_url="daily report.html")
    res = send([bad], am.sink_url, spool=tmp_path / "s.jsonl")
    assert not res.ok and res.rejected == [bad]
