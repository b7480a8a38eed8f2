"""Report runs beside each other and against crashes: validation before any kernel, slot locks,
private kernel folders, all-or-nothing publishing, SIGTERM, budgets, exit 3 for alerts that did
not all arrive."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from fault_receiver import FaultReceiver

from workbench.cli import EXIT_BAD_INPUT, EXIT_DEGRADED, EXIT_OK, main

STEM = "daily-report-2026-11-03"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from workbench.simulate.writer import write_demo

    return write_demo(tmp_path_factory.mktemp("store") / "demo", days=3, traces_per_day=200)


def cli(*argv: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "workbench.cli", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, **kw)


def daily_args(store: Path, out: Path, date: str = "2026-11-03", *extra: str) -> list[str]:
    return ["report", "daily", "--date", date, "--data", str(store), "--out", str(out),
            "--days", "2", *extra]


def spool_lines(cache: Path) -> list[dict]:
    path = cache / "alerts" / "spool.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


# -- validation: exit 2, one line, before any kernel --------------------------------------------

@pytest.mark.parametrize("extra, message", [
    (["--date", ""], "bad date ''"),
    (["--date", "9999-12-31"], "is in the future"),
    (["--date", "1999-12-31"], "before 2000-01-01"),
    (["--date", "06/11/2026"], "expected YYYY-MM-DD"),
    (["--days", "100000"], "more than 366 days"),
    (["--days", "3", "--alert-days", "5"], "alert days must be between 1 and days (3)"),
    (["--alerts", "foo://bar"], "no alert sink for foo://"),
    (["--alerts", "alertmanager+http://user:pw@127.0.0.1:9093"], "carries credentials"),
    (["--budget", "0"], "between 1 and 86400"),
])
def test_bad_input_exits_2_with_one_line_before_any_kernel(store, tmp_path, capsys, extra,
                                                           message):
    args = daily_args(store, tmp_path / "out")
    for flag, value in zip(extra[::2], extra[1::2]):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == EXIT_BAD_INPUT and out == ""
    assert err.startswith("workbench: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_sink_credentials_from_the_environment_are_checked_first(store, tmp_path, capsys,
                                                                 monkeypatch):
    monkeypatch.setenv("ALERTMANAGER_USERNAME", "someone")
    code = main(daily_args(store, tmp_path / "out", "2026-11-03",
                           "--alerts", "alertmanager+http://127.0.0.1:9"))
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and "ALERTMANAGER_PASSWORD is not set" in err
    assert not (tmp_path / "out").exists()


def _runbooks_copy(tmp_path: Path) -> Path:
    from workbench.runbooks import default_dir

    folder = tmp_path / "runbooks"
    folder.mkdir()
    for p in default_dir().glob("*.yaml"):
        (folder / p.name).write_text(p.read_text())
    return folder


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("min_units: 5 ", "min_units: lots "),
     "cost_spike.yaml: invalid runbook: evaluation.min_units: 'lots' is not of type 'integer'"),
    (lambda t: t.replace("evaluation:", "evaluation: [", 1), "cost_spike.yaml: not valid YAML"),
    (lambda t: t.replace("increase(llm_cost_usd_total[1h])", "increase(llm_cost_usd_total[1x])"),
     "cost_spike.yaml: prometheus.cost_per_hour: not valid PromQL"),
    (lambda t: t.replace("sum by (agent_id) (rate(api_requests_total[5m]))",
                         "sum by (agent_id (rate(api_requests_total[5m]))", 1),
     "cost_spike.yaml: prometheus.request_rate: not valid PromQL"),
])
def test_runbook_errors_exit_2_naming_file_key_and_problem(store, tmp_path, capsys, monkeypatch,
                                                           edit, message):
    folder = _runbooks_copy(tmp_path)
    path = folder / "cost_spike.yaml"
    path.write_text(edit(path.read_text()))
    monkeypatch.setenv("WORKBENCH_RUNBOOKS", str(folder))
    code = main(daily_args(store, tmp_path / "out"))
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


# -- runs side by side ----------------------------------------------------------------------------

@pytest.mark.notebook
def test_concurrent_runs_sharing_out_dir_and_cache_lose_no_alert(store, tmp_path, own_cache):
    """Two runs of the same day and two of other days, one out folder, one cache, the receiver
    failing: no crash, every alert spooled once, and the recovery delivers each exactly once."""
    cache, out = own_cache(tmp_path / "cache"), tmp_path / "out"
    env = {"WORKBENCH_CACHE_DIR": str(cache)}
    with FaultReceiver(default="500") as recv:
        procs = [cli(*daily_args(store, out, date, "--alerts", recv.url, "--alert-days", "2"),
                     env=env)
                 for date in ("2026-11-03", "2026-11-03", "2026-11-04", "2026-11-04")]
        done = [p.communicate(timeout=300) for p in procs]
        codes = [p.returncode for p in procs]
        assert codes == [EXIT_DEGRADED] * 4, [e for _, e in done]
        assert not any("Invalid Signature" in e or "Traceback" in e for _, e in done), \
            [e for _, e in done if "Invalid Signature" in e or "Traceback" in e]
        claimed = set()
        for date in ("2026-11-03", "2026-11-04"):
            s = json.loads((out / f"daily-report-{date}.summary.json").read_text())
            claimed |= {a["fingerprint"] + a["startsAt"] for a in s["alerts"]["spooled"]}
            html = (out / f"daily-report-{date}.html").read_text()
            assert "spooled for retry" in html and "No alerts to send." not in html
        spooled = {r["alert"]["fingerprint"] + r["alert"]["startsAt"] for r in spool_lines(cache)}
        assert claimed and claimed == spooled  # every alert a summary claims is in the spool
        assert len(spool_lines(cache)) == len(spooled)  # once each
        recv.default = "ok"
        again = cli(*daily_args(store, out, "2026-11-03", "--alerts", recv.url,
                                "--alert-days", "2"), env=env)
        again.communicate(timeout=300)
        assert again.returncode == EXIT_OK
    assert recv.duplicates() == {}
    assert len(recv.counts) >= len(spooled)
    assert spool_lines(cache) == []
    assert not list(out.glob("kernel-ipc-*")) and not list(out.glob(".*.staging"))


@pytest.mark.notebook
def test_a_run_killed_by_sigterm_mid_delivery_publishes_nothing_and_keeps_its_alerts(
        store, tmp_path, own_cache):
    cache, out = own_cache(tmp_path / "cache"), tmp_path / "out"
    env = {"WORKBENCH_CACHE_DIR": str(cache)}
    with FaultReceiver(default="stall", stall_s=120) as recv:
        proc = cli(*daily_args(store, out, "2026-11-03", "--alerts", recv.url), env=env)
        assert recv.arrived.wait(240), proc.communicate(timeout=5)
        assert spool_lines(cache)  # write-ahead: on disk before the first attempt
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert "stopped by SIGTERM" in err and "nothing published" in err
        assert not (out / f"{STEM}.html").exists() and not (out / f"{STEM}.summary.json").exists()
        assert not list(out.glob(".*.staging"))
        private = list(Path(tempfile.gettempdir()).glob(f"workbench-run-{proc.pid}-*"))
        assert private == []  # connection file and sockets went with the run
        kept = spool_lines(cache)
        assert kept and recv.counts == {}
        recv.default = "ok"
        from workbench.alerts import send

        back = send([], recv.url, spool=cache / "alerts" / "spool.jsonl")
    assert len(back.redelivered) == len(kept) and recv.duplicates() == {}


@pytest.mark.notebook
def test_a_failed_run_leaves_the_previous_set_in_place(store, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert main(daily_args(store, out)) == EXIT_OK
    before = {p.name: p.read_bytes() for p in out.glob(f"{STEM}*")}
    assert set(before) == {f"{STEM}.html", f"{STEM}.summary.json", f"{STEM}.ipynb"}
    broken = tmp_path / "notebooks"
    broken.mkdir()
    (broken / "daily_report.ipynb").write_text(
        (Path(__file__).parents[1] / "notebooks" / "daily_report.ipynb").read_text()
        .replace("report = daily.build(", "raise RuntimeError('boom'); report = daily.build("))
    monkeypatch.setenv("WORKBENCH_NOTEBOOKS", str(broken))
    assert main(daily_args(store, out)) == 1
    after = {p.name: p.read_bytes() for p in out.glob(f"{STEM}*") if "-err" not in p.name}
    assert after == before  # untouched: not half replaced
    assert (out / f"{STEM}-err.ipynb").is_file()
    assert not list(out.glob(".*.staging"))


@pytest.mark.notebook
def test_a_run_past_its_budget_is_stopped_and_publishes_nothing(store, tmp_path, monkeypatch,
                                                                 capsys):
    slow = tmp_path / "notebooks"
    slow.mkdir()
    (slow / "daily_report.ipynb").write_text(
        (Path(__file__).parents[1] / "notebooks" / "daily_report.ipynb").read_text()
        .replace("report = daily.build(", "import time; time.sleep(120); report = daily.build("))
    monkeypatch.setenv("WORKBENCH_NOTEBOOKS", str(slow))
    started = time.monotonic()
    code = main(daily_args(store, tmp_path / "out", "2026-11-03", "--budget", "8"))
    assert code == 1 and time.monotonic() - started < 60
    assert "ran past its 8 s budget" in capsys.readouterr().err
    assert not (tmp_path / "out" / f"{STEM}.html").exists()


def test_stale_leftovers_of_killed_runs_are_cleaned(tmp_path):
    import socket as socketlib

    from workbench.reports.runner import clean_stale

    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    staging = out / f".{STEM}.{dead}-abcd1234.staging"
    staging.mkdir()
    live = out / f".{STEM}.{os.getpid()}-abcd1234.staging"
    live.mkdir()
    private = Path(tempfile.mkdtemp(prefix=f"workbench-run-{dead}-"))
    sock_path = out / "kernel-ipc-1"
    s = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    s.bind(str(sock_path))
    s.close()  # bound, never listening: what a killed kernel leaves
    removed = clean_stale(out)
    assert staging in removed and private in removed and sock_path in removed
    assert live.exists() and not staging.exists() and not sock_path.exists()
    assert not private.exists()


@pytest.mark.notebook
def test_kernel_sockets_live_in_a_private_folder_not_the_out_dir(store, tmp_path, own_cache):
    out = tmp_path / "out"
    proc = cli(*daily_args(store, out),
               env={"WORKBENCH_CACHE_DIR": str(own_cache(tmp_path / "c"))})
    seen: set[str] = set()
    while proc.poll() is None:
        for d in Path(tempfile.gettempdir()).glob(f"workbench-run-{proc.pid}-*"):
            mode = stat.S_IMODE(d.stat().st_mode) if d.exists() else 0o700
            assert mode & 0o777 == 0o700
            seen |= {p.name for p in d.iterdir()} if d.exists() else set()
        time.sleep(0.05)
    proc.communicate()
    assert proc.returncode == EXIT_OK
    assert "kernel.json" in seen and any(n.startswith("kernel-ipc-") for n in seen)
    assert not list(out.glob("kernel-ipc-*")) and not list(out.glob(".*"))
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) & 0o002 == 0  # nothing world-writable


@pytest.mark.notebook
def test_rejected_alerts_exit_3_and_the_html_says_so_above_nothing_else(store, tmp_path,
                                                                      capsys):
    cache, out = tmp_path / "cache", tmp_path / "out"
    with FaultReceiver(default="400") as recv:
        code = main(daily_args(store, out, "2026-11-03", "--alerts", recv.url))
    _, err = capsys.readouterr()
    assert code == EXIT_DEGRADED and "rejected by the receiver" in err
    s = json.loads((out / f"{STEM}.summary.json").read_text())
    assert s["alerts"]["rejected"] and not s["alerts"]["sent"] and not s["alerts"]["spooled"]
    assert s["alerts"]["degraded"] is True
    html = (out / f"{STEM}.html").read_text()
    assert "ALERTS NOT ALL DELIVERED" in html and "REJECTED by the receiver" in html
    assert "label team is required" in html and "No alerts to send." not in html
    assert spool_lines(cache) == []  # a rejection is not retried


@pytest.mark.notebook
def test_no_file_a_run_leaves_is_world_readable_or_holds_the_sink_secret(store, tmp_path,
                                                                       monkeypatch):
    cache, out = tmp_path / "cache", tmp_path / "out"
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(cache))
    with FaultReceiver(default="500") as recv:
        secret_url = recv.url + "/T123/B456/s3cr3tpath?token=t0k3n"
        assert main(daily_args(store, out, "2026-11-03", "--alerts", secret_url)) == 3
    for root in (out, cache):
        for p in root.rglob("*"):
            mode = stat.S_IMODE(p.stat().st_mode)
            assert mode & 0o004 == 0, (p, oct(mode))
            if p.is_file():
                text = p.read_text(errors="replace")
                assert "s3cr3tpath" not in text and "t0k3n" not in text, p


@pytest.mark.notebook
def test_every_notebook_run_keeps_its_sockets_out_of_its_folders(tmp_path):
    """Runbook renders and library calls too: no socket in the out folder or the kernel's cwd."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from workbench.reports import run_notebook

    nb = tmp_path / "n.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                                       new_code_cell("import os; print(sorted(os.listdir()))")],
                                metadata={"kernelspec": {"name": "python3", "language": "python",
                                                         "display_name": "Python 3"}}), nb)
    out = tmp_path / "out"
    before = set(Path(tempfile.gettempdir()).glob(f"workbench-run-{os.getpid()}-*"))
    run_notebook(nb, {"x": 2}, out, cwd=out)
    assert not list(out.glob("kernel-ipc-*"))
    assert set(Path(tempfile.gettempdir()).glob(f"workbench-run-{os.getpid()}-*")) == before


@pytest.mark.notebook
def test_rerunning_a_day_sends_nothing_twice_to_the_file_sink(store, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(daily_args(store, out)) == EXIT_OK
    first = (out / "alerts.jsonl").read_text()
    assert first and "already sent" not in capsys.readouterr().out
    assert main(daily_args(store, out)) == EXIT_OK
    assert (out / "alerts.jsonl").read_text() == first  # not appended again
    n = len(first.splitlines())
    assert f"alerts sent: 0, already sent by an earlier run: {n}" in capsys.readouterr().out
    s = json.loads((out / f"{STEM}.summary.json").read_text())
    assert len(s["alerts"]["skipped"]) == n and not s["alerts"]["degraded"]
    assert "already delivered by an earlier run" in (out / f"{STEM}.html").read_text()
