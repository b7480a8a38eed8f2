"""The daily report through ``--source langfuse``: the Langfuse contract double serves the same
simulator week as a local store, and the report must find the same incidents with the same KPIs.

Two papermill runs: a live Langfuse and a dead one (a closed port). The local side of the
comparison is built in-process by the same ``daily.build`` the notebook calls.
"""

import contextlib
import io
import json
import logging
import uuid

import pandas as pd
import pytest

from prometheus_server import free_port
from tests.doubles import double_from_dataset
from workbench.cli import EXIT_BAD_INPUT, EXIT_DEGRADED, EXIT_OK, main
from workbench.errors import ConfigError
from workbench.reports import daily
from workbench.reports.execute import check_parameters
from workbench.reports.summary import read_summary

DAY = "2026-11-08"  # the store's last day: a 7-day window holds the whole week
STEM = f"daily-report-{DAY}"
SECRET = f"sk-lf-{uuid.uuid4().hex}"  # unique, so a hit can only be a leak
KPI_FLOATS = ["error_rate", "timeout_rate", "latency_p50_s", "latency_p95_s", "latency_p99_s",
              "cost_usd", "cost_per_trace_usd", "hallucination_rate"]


@pytest.fixture(scope="module")
def dataset():
    from workbench.simulate import generate

    return generate(seed=7, days=7, traces_per_day=500, keep_spans=True)


@pytest.fixture(scope="module")
def store(dataset, tmp_path_factory):
    from workbench.simulate.writer import write_demo

    return write_demo(tmp_path_factory.mktemp("store") / "demo", dataset=dataset)


@pytest.fixture(scope="module")
def local(store, tmp_path_factory):
    """The summary JSON of the same report from the local store."""
    out = tmp_path_factory.mktemp("local")
    rep = daily.build(DAY, "local", store, days=7, alert_days=7, prometheus=False)
    return read_summary(rep.write_summary(out, {"date": DAY, "source": "local"}, None))


@pytest.fixture(scope="module")
def double(dataset):
    # the simulated spans as Langfuse stores them; a model table that prices nothing keeps the
    # costs exactly those the spans carry, as in the local store
    with double_from_dataset(dataset, secret_key=SECRET) as d:
        yield d


def run_cli(argv, env):
    """``workbench`` in-process with ``env`` set (the kernel inherits it); stdout, stderr and
    every log record of this process captured."""
    stdout, stderr, logs = io.StringIO(), io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(logs)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = main(argv)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    return code, stdout.getvalue(), stderr.getvalue(), logs.getvalue()


def report_argv(out):
    return ["report", "daily", "--date", DAY, "--source", "langfuse", "--days", "7",
            "--alert-days", "7", "--out", str(out)]


def langfuse_env(base_url, secret=SECRET, public="pk-lf-double-0001"):
    return {"LANGFUSE_BASE_URL": base_url, "LANGFUSE_PUBLIC_KEY": public,
            "LANGFUSE_SECRET_KEY": secret}


@pytest.fixture(scope="module")
def live(double, tmp_path_factory):
    out = tmp_path_factory.mktemp("langfuse")
    code, stdout, stderr, logs = run_cli(report_argv(out), langfuse_env(double.base_url))
    return {"code": code, "stdout": stdout, "stderr": stderr, "logs": logs, "out": out,
            "summary": read_summary(out / f"{STEM}.summary.json") if code != 1 else None}


@pytest.fixture(scope="module")
def dead(tmp_path_factory):
    out = tmp_path_factory.mktemp("dead")
    port = free_port()  # nothing listens there
    code, stdout, stderr, logs = run_cli(report_argv(out),
                                         langfuse_env(f"http://127.0.0.1:{port}"))
    return {"code": code, "stdout": stdout, "stderr": stderr, "logs": logs, "out": out,
            "port": port}


def assert_no_secret(run):
    """The secret key is in none of the report's files, the console or the logs."""
    files = [p for p in run["out"].rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {f"{STEM}.html", f"{STEM}.ipynb", f"{STEM}.summary.json",
                                       "alerts.jsonl"}
    for path in files:
        assert SECRET not in path.read_text(errors="replace"), path.name
    for stream in ("stdout", "stderr", "logs"):
        assert SECRET not in run[stream], stream
    assert run["logs"], "nothing was logged: the log capture is not working"


def firing(summary):
    return sorted((f["runbook"], f["signal"], f["severity"], f["start"], f["end"],
                   f["fingerprint"]) for f in summary["findings"] if f["status"] == "firing")


# -- a live Langfuse ------------------------------------------------------------------------------

def test_langfuse_report_is_written_and_ok(live, double):
    assert live["code"] == EXIT_OK, live["stderr"]
    assert live["stdout"].splitlines()[-1] == str(live["out"].resolve() / f"{STEM}.html")
    s = live["summary"]
    assert s["source"] == {"name": "langfuse", "status": "ok", "degraded": False,
                           "reason": None}
    assert s["degraded"] is False and s["degraded_sources"] == []
    assert s["parameters"]["source"] == "langfuse" and s["parameters"]["data_dir"] == ""
    assert s["metrics"]["source"]["status"] == "not configured"
    # The kernel really pulled from the double, authenticated with the keys from the env.
    pulls = double.requests_to("/api/public/v2/observations")
    assert pulls and {r.status for r in pulls} == {200}
    assert double.requests_to("/api/public/v3/scores")
    html = (live["out"] / f"{STEM}.html").read_text()
    assert "Source: <b>langfuse</b>" in html and "Source ok." in html


def test_langfuse_kpis_equal_the_local_stores(live, local, dataset):
    got = pd.DataFrame(live["summary"]["kpis"]).set_index("day")
    want = pd.DataFrame(local["kpis"]).set_index("day")
    assert list(got.index) == [f"2026-11-0{d}T00:00:00+00:00" for d in range(2, 9)]
    assert list(got.columns) == list(want.columns)
    ints = [c for c in want.columns if c not in KPI_FLOATS]
    pd.testing.assert_frame_equal(got[ints], want[ints])
    pd.testing.assert_frame_equal(got[KPI_FLOATS], want[KPI_FLOATS], check_exact=False,
                                  rtol=1e-9, atol=1e-12)
    assert got["traces"].sum() == len(dataset.traces)  # the whole simulated week came through
    got_checks = pd.DataFrame(live["summary"]["checks"]).drop(columns="index")
    want_checks = pd.DataFrame(local["checks"]).drop(columns="index")
    pd.testing.assert_frame_equal(got_checks, want_checks, check_exact=False, rtol=1e-9)


def test_langfuse_report_finds_the_demo_incidents_like_local(live, local, dataset):
    s = live["summary"]
    assert firing(s) == firing(local) and firing(s)
    daily_fired = {(f["signal"], f["start"][:10]) for f in s["findings"]
                   if f["status"] == "firing" and f["signal"].startswith("daily_")}
    kpi = {"cost_spike": "cost_usd", "timeout_surge": "timeout_rate",
           "hallucination_spike": "hallucination_rate"}
    assert daily_fired == {(f"daily_{kpi[r.runbook]}", f"{r.start:%Y-%m-%d}")
                           for r in dataset.labels.itertuples()}
    # one alert's fingerprint may cover several findings (two bursts of one day): the window
    # tells them apart
    by_fp = {(f["fingerprint"], f["start"], f["end"]): f for f in local["findings"]}
    assert len(by_fp) == len(local["findings"]) == len(s["findings"])
    for f in s["findings"]:
        want = by_fp[f["fingerprint"], f["start"], f["end"]]
        for key in ("observed", "baseline"):  # JSON writes NaN (no baseline yet) as null
            if want[key] is None:
                assert f[key] is None, (key, f)
            else:
                assert f[key] == pytest.approx(want[key], rel=1e-9), (key, f)
    sent = {a["fingerprint"] for a in s["alerts"]["sent"]}
    assert {f["fingerprint"] for f in s["findings"]
            if f["status"] == "firing" and f["severity"] != "info"} <= sent


def test_no_secret_in_a_live_report(live):
    assert_no_secret(live)


# -- a dead Langfuse ------------------------------------------------------------------------------

def test_dead_langfuse_degrades_the_report(dead):
    assert dead["code"] == EXIT_DEGRADED, dead["stderr"]
    out, port = dead["out"], dead["port"]
    assert dead["stdout"].splitlines()[-1] == str(out.resolve() / f"{STEM}.html")
    s = read_summary(out / f"{STEM}.summary.json")
    assert s["degraded"] is True and s["source"]["status"] == "degraded"
    reason = s["source"]["reason"]
    assert reason.startswith("unreachable: SourceUnavailable") and f"127.0.0.1:{port}" in reason
    assert s["degraded_sources"] == [{"name": "langfuse", "reason": reason}]
    assert sum(k["traces"] for k in s["kpis"]) == 0
    html = (out / f"{STEM}.html").read_text()
    assert "DEGRADED REPORT" in html and "Source <b>langfuse</b> failed" in html
    assert f"cannot reach http://127.0.0.1:{port}" in html
    alerts = [json.loads(x) for x in (out / "alerts.jsonl").read_text().splitlines()]
    assert [(a["labels"]["alertname"], a["labels"]["source"]) for a in alerts] == [
        ("DailyReportSourceDegraded", "langfuse")]
    assert [a["labels"]["alertname"] for a in s["alerts"]["sent"]] == [
        "DailyReportSourceDegraded"]
    assert "report degraded: source 'langfuse' failed: unreachable" in dead["stderr"]


def test_no_secret_in_a_degraded_report(dead):
    assert_no_secret(dead)


# -- configuration ---------------------------------------------------------------------------------

def test_missing_langfuse_credentials_exit_2_before_a_kernel_starts(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.setenv("LANGFUSE_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", SECRET)
    code = main(report_argv(tmp_path / "out"))
    out, err = capsys.readouterr()
    assert code == EXIT_BAD_INPUT and out == "" and err.count("\n") == 1
    assert "LANGFUSE_PUBLIC_KEY" in err and SECRET not in err
    assert not (tmp_path / "out").exists()


def test_prometheus_is_not_a_trace_source(tmp_path, capsys):
    code = main(["report", "daily", "--date", DAY, "--source", "prometheus",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and "not a trace source" in err and "PROMETHEUS_URL" in err


def test_wrong_secret_is_a_degraded_report_that_names_the_variables(double, monkeypatch):
    wrong = f"sk-lf-{uuid.uuid4().hex}"
    for k, v in langfuse_env(double.base_url, secret=wrong).items():
        monkeypatch.setenv(k, v)
    rep = daily.build(DAY, "langfuse", days=2, prometheus=False)
    assert rep.degraded and rep.source.reason.startswith("traces: SourceAuthError")
    assert "LANGFUSE_SECRET_KEY" in rep.source.reason and "HTTP 401" in rep.source.reason
    text = rep.header_html() + json.dumps(rep.summary({"date": DAY}, None), default=str)
    assert wrong not in text and SECRET not in text


def test_a_parameter_carrying_an_env_secret_is_refused(monkeypatch):
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", SECRET)
    with pytest.raises(ConfigError) as err:
        check_parameters({"date": DAY, "alerts_url": f"https://hooks.example/{SECRET}"})
    assert "alerts_url (holds $LANGFUSE_SECRET_KEY)" in str(err.value)
    assert SECRET not in str(err.value)
    check_parameters({"date": DAY, "alerts_url": "https://hooks.example/x"})  # no secret: fine
