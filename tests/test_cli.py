"""The ``workbench`` command end to end: the demo once, a degraded report once, bad input."""

import contextlib
import io
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from workbench.cli import EXIT_BAD_INPUT, EXIT_DEGRADED, EXIT_OK, main
from workbench.findings import Finding
from workbench.sources.local import LocalSource


def daily_fingerprint(runbook, kpi, day):
    return Finding(runbook=runbook, signal=f"daily_{kpi}", severity="warning", start=day,
                   end=day, observed=0.0, baseline=0.0, summary="",
                   labels={"day": f"{day:%Y-%m-%d}"}).fingerprint


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``workbench demo`` once, on a small store it generates itself."""
    root = tmp_path_factory.mktemp("demo")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["demo", "--data", str(root / "data"), "--out", str(root / "out"),
                     "--traces-per-day", "500"])
    return code, stdout.getvalue().splitlines(), root


@pytest.mark.notebook
def test_demo_generates_data_and_prints_the_html_path_last(demo):
    code, lines, root = demo
    assert code == EXIT_OK
    assert (root / "data" / "manifest.json").is_file()
    html = Path(lines[-1])
    assert html == (root / "out").resolve() / "daily-report-2026-11-08.html"
    assert html.is_file()
    assert (root / "out" / "daily-report-2026-11-08.summary.json").is_file()


@pytest.mark.notebook
def test_demo_reports_the_whole_week_and_alerts_every_incident(demo):
    _, _, root = demo
    s = json.loads((root / "out" / "daily-report-2026-11-08.summary.json").read_text())
    assert len(s["kpis"]) == 7
    labels = LocalSource(root / "data").labels()
    expected = {daily_fingerprint(r.runbook, kpi, r.start.floor("D")) for r, kpi in zip(
        labels.itertuples(), [{"cost_spike": "cost_usd", "timeout_surge": "timeout_rate",
                               "hallucination_spike": "hallucination_rate"}[x]
                              for x in labels["runbook"]])}
    sent = {json.loads(x)["fingerprint"]
            for x in (root / "out" / "alerts.jsonl").read_text().splitlines()}
    assert expected <= sent
    daily_sent = {a["fingerprint"] for a in s["alerts"]["sent"]
                  if a["labels"]["signal"].startswith("daily_")}
    assert daily_sent == expected


@pytest.mark.notebook
def test_failing_source_gives_a_degraded_report_and_spools_undeliverable_alerts(tmp_path,
                                                                                 capsys):
    from workbench.simulate.writer import write_demo

    store = write_demo(tmp_path / "store", days=2, traces_per_day=60)
    part = next((store / "observations").glob("day=*/part-0.parquet"))
    part.write_bytes(b"not parquet at all")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    code = main(["report", "daily", "--date", "2026-11-03", "--data", str(store),
                 "--out", str(tmp_path / "out"), "--alerts", str(blocker / "alerts.jsonl")])
    out, err = capsys.readouterr()
    assert code == EXIT_DEGRADED
    assert out.splitlines()[-1].endswith("daily-report-2026-11-03.html")
    assert "report degraded" in err and "unreadable Parquet file" in err
    s = json.loads((tmp_path / "out" / "daily-report-2026-11-03.summary.json").read_text())
    assert s["degraded"] is True and s["source"]["status"] == "degraded"
    assert "unreadable Parquet file" in s["source"]["reason"]
    assert s["alerts"]["sent"] == []
    assert [a["labels"]["alertname"] for a in s["alerts"]["spooled"]] == [
        "DailyReportSourceDegraded"]
    assert s["alerts"]["errors"][0].startswith("AlertDeliveryError: file sink")
    assert not (tmp_path / "out" / "alerts-spool.jsonl").exists()  # spooled in the cache
    spool_file = Path(os.environ["WORKBENCH_CACHE_DIR"]) / "alerts" / "spool.jsonl"
    spool = [json.loads(x) for x in spool_file.read_text().splitlines()]
    assert [r["alert"]["labels"]["source"] for r in spool] == ["local"]
    assert stat.S_IMODE(spool_file.stat().st_mode) == 0o600
    html = (tmp_path / "out" / "daily-report-2026-11-03.html").read_text()
    assert "DEGRADED REPORT" in html and "unreadable Parquet file" in html
    assert "ALERTS NOT ALL DELIVERED" in html and "spooled for retry" in html
    assert "No alerts to send." not in html


@pytest.mark.parametrize("argv, message", [
    (["--source", "nope"], "unknown source 'nope'"),
    (["--date", "2026-13-45"], "bad date '2026-13-45'"),
    (["--data", "{missing}"], "not found"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, message):
    args = {"--date": "2026-11-06", "--source": "local", "--data": str(tmp_path)}
    for flag, value in zip(argv[::2], argv[1::2]):
        args[flag] = value.replace("{missing}", str(tmp_path / "missing"))
    code = main(["report", "daily", *[x for kv in args.items() for x in kv],
                 "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == EXIT_BAD_INPUT and out == ""
    assert err.startswith("workbench: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()  # no kernel was started, nothing written


def test_bad_numbers_are_rejected_by_the_parser(capsys):
    assert main(["report", "daily", "--date", "2026-11-06", "--days", "0"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "must be at least 1" in err and err.count("\n") == 1


def test_console_script_is_installed():
    done = subprocess.run(["workbench", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "report" in done.stdout and "exit codes" in done.stdout


@pytest.mark.notebook
def test_runbook_command_renders_the_incident_window(demo):
    _, _, root = demo
    label = LocalSource(root / "data").labels().set_index("runbook").loc["cost_spike"]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["runbook", "cost_spike", "--start", label["start"].isoformat(),
                     "--end", label["end"].isoformat(), "--data", str(root / "data"),
                     "--out", str(root / "runbook-out")])
    assert code == EXIT_OK
    lines = stdout.getvalue().splitlines()
    html = Path(lines[-1])
    assert html.parent == (root / "runbook-out").resolve() and html.suffix == ".html"
    text = html.read_text()
    assert "search_api" in text  # the injected cause is named in the rendered report
    assert "<script src=\"http" not in text
    summary = html.with_name(f"{html.stem}.summary.json")
    s = json.loads(summary.read_text())
    assert s["degraded"] is False and s["problems"] == [] and s["severity"] == "page"
    assert s["top_suspect"].startswith("tool_name=search_api")
    p = s["primary"]
    assert p["unit"] == "USD"  # printed in dollars, as the documents print it
    assert p["scope"] and lines[-2] == (
        f"cost_spike: severity page; {p['signal']} {p['scope']}: ${p['observed']:.4g} "
        f"against ${p['expected']:.4g} expected; firing: {', '.join(s['firing'])}; "
        f"top suspect: {s['top_suspect']}; summary: {summary}")


@pytest.mark.notebook
def test_runbook_command_on_a_partial_pull_exits_3_and_its_summary_says_so(tmp_path, capsys,
                                                                         monkeypatch):
    """Langfuse leaves rows out of its pages while its Metrics API still counts them: the
    runbook is rendered from what came, and the exit code and the summary say it is partial
    (never an all-clear)."""
    from tests.doubles import double_from_dataset
    from workbench.simulate import generate

    secret = "sk-lf-runbook-partial-0001"
    dataset = generate(seed=7, days=4, traces_per_day=200, keep_spans=True)
    lab = dataset.labels[dataset.labels["runbook"] == "cost_spike"].iloc[0]
    out = tmp_path / "out"
    with double_from_dataset(dataset, secret_key=secret) as dbl:
        for k, v in {"LANGFUSE_BASE_URL": dbl.base_url, "LANGFUSE_PUBLIC_KEY": "pk-lf-double-0001",
                     "LANGFUSE_SECRET_KEY": secret}.items():
            monkeypatch.setenv(k, v)
        dbl.drop_rows(0.3, seed=3)
        code = main(["runbook", "cost_spike", "--start", f"{lab['start']:%Y-%m-%dT%H:%MZ}",
                     "--end", f"{lab['end']:%Y-%m-%dT%H:%MZ}", "--source", "langfuse",
                     "--out", str(out)])
        assert dbl.requests_to("/api/public/v2/observations")
    stdout, stderr = capsys.readouterr()
    assert code == EXIT_DEGRADED, stderr
    html = Path(stdout.splitlines()[-1])
    assert html.is_file() and html.parent == out.resolve()
    summary = html.with_name(f"{html.stem}.summary.json")
    s = json.loads(summary.read_text())
    assert s["source"] == "langfuse" and s["degraded"] is True
    assert [p for p in s["problems"] if p.startswith("traces incomplete: langfuse observations")]
    assert set(s["problems"]) <= set(s["notes"])
    assert s["verdict"] != "none" and s["traces_in_window"] > 0  # what came, said partial
    assert all(f["confirmed"] is False for f in s["findings"])
    assert "severity " + s["verdict"] in stdout and f"summary: {summary}" in stdout
    assert "workbench: warning: runbook on incomplete data: traces incomplete: langfuse " \
           "observations" in stderr
    assert "traces incomplete" in html.read_text()
    for path in out.iterdir():
        assert secret not in path.read_text(errors="replace"), path.name


def test_runbook_command_rejects_unknown_runbook_and_bad_window(demo, capsys):
    _, _, root = demo
    assert main(["runbook", "nope", "--start", "2026-11-06", "--end", "2026-11-07",
                 "--data", str(root / "data")]) == EXIT_BAD_INPUT
    assert "runbook file" in capsys.readouterr().err
    assert main(["runbook", "cost_spike", "--start", "2026-11-07", "--end", "2026-11-06",
                 "--data", str(root / "data")]) == EXIT_BAD_INPUT
    assert "not after its start" in capsys.readouterr().err


def test_the_report_line_names_the_runbooks_that_could_not_judge(tmp_path, capsys):
    from types import SimpleNamespace

    from workbench.cli import _report_exit

    def result(not_judged):
        return SimpleNamespace(summary={"findings": [], "alerts": {"sent": []},
                                        "not_judged": not_judged, "degraded": False},
                               summary_path=tmp_path / "s.json", html=tmp_path / "r.html",
                               degraded=False)

    assert _report_exit(result(["hallucination_spike", "timeout_surge"])) == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [
        "findings: 0 firing; not judged (too little data): hallucination_spike, timeout_surge; "
        f"alerts sent: 0; summary: {tmp_path / 's.json'}", str(tmp_path / "r.html")]
    assert _report_exit(result([])) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[0] == (
        f"findings: 0 firing; alerts sent: 0; summary: {tmp_path / 's.json'}")
    # an agent too small to judge on its own is named on the same line
    thin = result([])
    thin.summary["too_little_traffic"] = {
        "note": "too little traffic to judge: crew-x (6 traces: Cost spike)",
        "agents": [{"agent": "crew-x", "traces": 6, "runbooks": ["cost_spike"]}]}
    assert _report_exit(thin) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[0] == (
        "findings: 0 firing; too little traffic to judge: crew-x (6 traces: Cost spike); "
        f"alerts sent: 0; summary: {tmp_path / 's.json'}")
