"""``workbench check``: the injected incidents of the demo alerted in seconds, quiet windows
quiet, missing data never an all-clear, re-runs never sending twice."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from workbench.cli import EXIT_BAD_INPUT, EXIT_DEGRADED, EXIT_OK, main
from workbench.sources.local import LocalSource

RUNBOOK_SIGNAL = {"timeout_surge": "timeout_rate", "cost_spike": "cost_per_request",
                  "hallucination_spike": "hallucination_rate"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo store at its default size (hourly buckets need their volume)."""
    from workbench.reports.demo import ensure_demo_data

    return ensure_demo_data(tmp_path_factory.mktemp("check") / "demo")


@pytest.fixture(scope="module")
def labels(demo):
    return LocalSource(demo).labels()


def sent(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_each_injected_incident_is_alerted_by_a_check_over_its_window(demo, labels, tmp_path,
                                                                      capsys):
    sink = tmp_path / "alerts.jsonl"
    for row in labels.itertuples():
        code = main(["check", "--since", "3h", "--at", row.end.isoformat(), "--data", str(demo),
                     "--alerts", str(sink)])
        out = capsys.readouterr().out
        assert code == EXIT_OK, out
        assert f"] {row.runbook}.{RUNBOOK_SIGNAL[row.runbook]} " in out
    alerted = {(a["labels"]["runbook"], a["labels"]["signal"]) for a in sent(sink)}
    for runbook, signal in RUNBOOK_SIGNAL.items():
        assert (runbook, signal) in alerted
    assert all(a["labels"]["severity"] in ("warning", "critical", "page") for a in sent(sink))
    # each alert, and its ledger record, names the data folder it was judged on
    from workbench.alerts import Spool

    identity = LocalSource(demo).identity
    assert {a["annotations"]["source_id"] for a in sent(sink)} == {identity}
    assert {r.get("source_id") for r in Spool().ledger().values()} == {identity}


def test_a_quiet_window_fires_nothing_and_a_rerun_sends_nothing_twice(demo, labels, tmp_path,
                                                                      capsys):
    sink = tmp_path / "alerts.jsonl"
    quiet = labels["start"].min() - pd.Timedelta(hours=12)
    assert main(["check", "--since", "3h", "--at", quiet.isoformat(), "--data", str(demo),
                 "--alerts", str(sink)]) == EXIT_OK
    assert " 0 firing" in capsys.readouterr().out and sent(sink) == []
    cost = labels.set_index("runbook").loc["cost_spike"]
    for _ in range(2):
        assert main(["check", "--since", "3h", "--at", cost["end"].isoformat(), "--data",
                     str(demo), "--alerts", str(sink)]) == EXIT_OK
    prints = [a["fingerprint"] + a["startsAt"] for a in sent(sink)]
    assert prints and len(prints) == len(set(prints))  # the second check sent nothing again
    last = [x for x in capsys.readouterr().out.splitlines() if x.startswith("check ")][-1]
    assert "alerts sent: 0" in last and f"already sent by an earlier run: {len(prints)}" in last


def test_a_night_check_says_what_it_could_not_judge(demo, tmp_path, capsys):
    """A quarter-hour at 03:45 holds 13 traces: nothing fires, and the check says that this is
    no all-clear: which runbooks the window could not judge (with the size of change it could
    have shown) and which agents were too few to judge on their own."""
    from workbench.alerts.check import run_check

    at = "2026-11-07T04:00"
    result = run_check(pd.Timedelta("15m"), at=at, data_dir=demo)
    assert result.traces == 13 and result.firing == [] and not result.degraded
    assert sorted(f.runbook for f in result.not_judged) == ["hallucination_spike",
                                                            "timeout_surge"]
    assert result.thin == {"cost_spike": {"planner-agent": 2, "tool-agent": 4}}
    assert main(["check", "--since", "15m", "--at", at, "--data", str(demo),
                 "--no-alerts"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "check 2026-11-07 03:45-04:00 UTC: 13 traces, 0 firing; alerts off"
    assert out[1].startswith("not judged: hallucination_spike: Hallucination spike: "
                             "insufficient data to judge (9 scored traces in the window can "
                             "only tell apart a hallucination_rate change of ")
    assert out[2].startswith("not judged: timeout_surge: Timeout surge: insufficient data to "
                             "judge (13 traces in the window can only tell apart a timeout_rate "
                             "change of ")
    assert out[3] == ("too little traffic to judge: planner-agent (2 traces: cost_spike), "
                      "tool-agent (4 traces: cost_spike)")
    # a busy hour of the same night judges every runbook and agent: nothing more is said
    busy = run_check(pd.Timedelta("3h"), at="2026-11-07T15:00", data_dir=demo)
    assert busy.not_judged == [] and busy.thin == {} and busy.traces > 500


def test_no_data_in_the_window_is_degraded_not_an_all_clear(demo, tmp_path, capsys):
    code = main(["check", "--since", "3h", "--at", "2026-10-01T12:00", "--data", str(demo),
                 "--alerts", str(tmp_path / "a.jsonl")])
    captured = capsys.readouterr()
    assert code == EXIT_DEGRADED and " 0 traces" in captured.out
    assert "no traces between 2026-10-01 09:00 and 12:00 UTC" in captured.err


def test_a_failing_source_is_degraded_and_alerts_about_itself(tmp_path, capsys):
    from workbench.simulate.writer import write_demo

    store = write_demo(tmp_path / "store", days=2, traces_per_day=60)
    for part in (store / "observations").glob("day=*/part-0.parquet"):
        part.write_bytes(b"not parquet")
    sink = tmp_path / "alerts.jsonl"
    code = main(["check", "--since", "3h", "--at", "2026-11-03T12:00", "--data", str(store),
                 "--alerts", str(sink)])
    assert code == EXIT_DEGRADED
    assert "unreadable Parquet file" in capsys.readouterr().err
    (alert,) = sent(sink)
    assert alert["labels"]["alertname"] == "WorkbenchCheckSourceDegraded"
    assert alert["labels"]["severity"] == "critical"


@pytest.mark.parametrize("argv, message", [
    (["--since", "1m"], "between 5m and 7d"),
    (["--since", "soon"], "not a duration"),
    (["--at", "yesterday-ish"], "--at 'yesterday-ish' is not a time"),
    (["--at", "2999-01-01"], "not a time up to now"),
    (["--alerts", "foo://x"], "no alert sink for foo://"),
    (["--heartbeat", "15m"], "--heartbeat needs an Alertmanager sink"),
])
def test_bad_check_input_exits_2_with_one_line(demo, tmp_path, capsys, argv, message):
    args = ["check", "--since", "3h", "--data", str(demo), "--alerts",
            str(tmp_path / "a.jsonl")]
    for flag, value in zip(argv[::2], argv[1::2]):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    assert main(args) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_an_unreachable_langfuse_is_degraded_and_alerts_about_itself(tmp_path, monkeypatch,
                                                                     capsys):
    """The source's health is asked first: a Langfuse that is down is said by the check's own
    alert (naming what could not be reached), not by a silent run that spends its budget
    retrying every time slice."""
    from tests.server_process import free_port

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("LANGFUSE_BASE_URL", url)
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-check")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-check-secret")
    sink = tmp_path / "alerts.jsonl"
    code = main(["check", "--since", "3h", "--at", "2026-11-19T22:00", "--source", "langfuse",
                 "--alerts", str(sink), "--budget", "60"])
    captured = capsys.readouterr()
    assert code == EXIT_DEGRADED
    assert " 0 traces, 0 firing; alerts sent: 1" in captured.out
    assert f"cannot reach {url}" in captured.err
    (alert,) = sent(sink)
    assert alert["labels"]["alertname"] == "WorkbenchCheckSourceDegraded"
    assert f"cannot reach {url}" in alert["annotations"]["summary"]
    assert "nan" not in alert["annotations"]["description"]
    assert "sk-lf-check-secret" not in sink.read_text() + captured.out + captured.err


def test_findings_on_a_partial_pull_are_shown_not_alerted(demo, labels, tmp_path):
    """A pull that came back in part (a slice that failed) cannot back a page: the check
    shows what fired as unconfirmed and alerts about the source instead, as the daily report
    does."""
    from workbench.alerts.check import run_check
    from workbench.sources import mark_incomplete

    class Partial(LocalSource):
        def observations(self, start, end, **filters):
            return mark_incomplete(super().observations(start, end, **filters),
                                   "1 of 24 time slices failed")

    cost = labels.set_index("runbook").loc["cost_spike"]
    sink = tmp_path / "alerts.jsonl"
    result = run_check(pd.Timedelta(hours=3), at=cost["end"], source=Partial(demo),
                       sink=str(sink))
    fired = [f for f in result.firing if f.runbook == "cost_spike"]
    assert fired and not any(f.confirmed for f in result.findings)
    assert result.degraded
    assert any("observations incomplete: 1 of 24 time slices failed" in p
               for p in result.problems)
    (alert,) = sent(sink)
    assert alert["labels"]["alertname"] == "WorkbenchCheckSourceDegraded"
    assert "1 of 24 time slices failed" in alert["annotations"]["summary"]


def test_findings_on_a_failed_score_pull_are_shown_not_alerted(demo, labels, tmp_path):
    """The traces came but their scores did not: what fires on them is shown unconfirmed and the
    alert is the source's, saying which pull failed, as the daily report's degraded alert does."""
    from workbench.alerts.check import run_check
    from workbench.errors import SourceTimeout

    class NoScores(LocalSource):
        def scores(self, start, end, **filters):
            raise SourceTimeout("no answer within 10.0 s", source="local")

    cost = labels.set_index("runbook").loc["cost_spike"]
    sink = tmp_path / "alerts.jsonl"
    result = run_check(pd.Timedelta(hours=3), at=cost["end"], source=NoScores(demo),
                       sink=str(sink))
    fired = [f for f in result.firing if f.runbook == "cost_spike"]
    assert fired and not any(f.confirmed for f in result.findings)
    assert result.problems == ["scores: SourceTimeout: local: no answer within 10.0 s"]
    (alert,) = sent(sink)
    assert alert["labels"]["alertname"] == "WorkbenchCheckSourceDegraded"
    assert "scores: SourceTimeout" in alert["annotations"]["summary"]
