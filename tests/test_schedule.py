"""``workbench schedule``: cron entries with flock and a heartbeat, their systemd twins, and the
entry actually running (and refusing to overlap itself)."""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from workbench.cli import EXIT_BAD_INPUT, EXIT_OK, main


@pytest.fixture
def tab(tmp_path):
    return tmp_path / "crontab"


def lines(tab: Path) -> list[str]:
    return [x for x in tab.read_text().splitlines() if x.strip() and not x.startswith("#")]


def test_install_list_replace_and_remove_a_check(tab, tmp_path, capsys):
    args = ["schedule", "install", "check", "--every", "15m", "--data", str(tmp_path),
            "--alerts", "alertmanager+http://127.0.0.1:9093", "--crontab", str(tab)]
    assert main(args) == EXIT_OK
    out = capsys.readouterr().out
    (line,) = lines(tab)
    assert line.startswith("*/15 * * * * cd ")
    assert " flock -n " in line and "schedule-check.lock" in line
    assert " check --since 3h " in line and "--heartbeat 15m --job check" in line
    assert line.endswith("2>&1 # workbench:check")
    workbench = shutil.which("workbench")
    assert workbench and str(Path(workbench).resolve()) in line  # absolute: cron's PATH is bare
    assert "OnCalendar=*-*-* *:00/15:00" in out and "Type=oneshot" in out
    assert "# --- workbench-check.service ---" in out and "# --- workbench-check.timer ---" in out

    assert main(args[:3] + ["--every", "5m"] + args[5:]) == EXIT_OK  # replaces, never doubles
    (line,) = lines(tab)
    assert line.startswith("*/5 * * * * ") and "--heartbeat 5m" in line
    capsys.readouterr()
    assert main(["schedule", "list", "--crontab", str(tab)]) == EXIT_OK
    assert capsys.readouterr().out.startswith("check: */5 * * * * ")
    assert main(["schedule", "remove", "check", "--crontab", str(tab)]) == EXIT_OK
    assert lines(tab) == []
    assert main(["schedule", "remove", "check", "--crontab", str(tab)]) == EXIT_BAD_INPUT


def test_a_daily_report_entry_runs_yesterdays_report_without_a_heartbeat_for_files(tab,
                                                                                 tmp_path,
                                                                                 capsys):
    assert main(["schedule", "install", "daily", "--at", "06:15", "--data", str(tmp_path),
                 "--out", str(tmp_path / "reports"), "--crontab", str(tab)]) == EXIT_OK
    (line,) = lines(tab)
    assert line.startswith("15 6 * * * ") and "report daily --date yesterday" in line
    assert "--heartbeat" not in line  # a file sink cannot notice a stopped schedule
    assert "OnCalendar=*-*-* 06:15:00" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["check", "--every", "7m"], "cannot be a cron schedule"),
    (["check", "--at", "06:00"], "needs --every"),
    (["daily", "--at", "25:00"], "not a time of day"),
    (["check", "--every", "15m", "--alerts", "https://hooks.example.com/T/B/s3cr3t"],
     "would be stored in the crontab"),
    (["check", "--every", "15m", "--name", "Bad Name"], "schedule name"),
])
def test_bad_schedules_exit_2(tab, capsys, argv, message):
    assert main(["schedule", "install", *argv, "--crontab", str(tab)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not tab.exists() or lines(tab) == []


def test_an_env_file_must_be_private(tab, tmp_path, capsys):
    env = tmp_path / "workbench.env"
    env.write_text("WORKBENCH_ALERTS_URL=https://hooks.example.com/T/B/s3cr3t\n")
    env.chmod(0o644)
    args = ["schedule", "install", "check", "--every", "15m", "--env-file", str(env),
            "--crontab", str(tab)]
    assert main(args) == EXIT_BAD_INPUT and "chmod 600" in capsys.readouterr().err
    env.chmod(0o600)
    assert main(args) == EXIT_OK
    (line,) = lines(tab)
    assert f"set -a && . {env}" in line and "s3cr3t" not in tab.read_text()
    assert stat.S_IMODE(tab.stat().st_mode) & 0o077 == 0


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_printed_calendars_are_valid_systemd_calendars():
    import datetime as dt

    from workbench.schedule import calendar_for

    for cal in [calendar_for(dt.timedelta(minutes=m)) for m in (1, 5, 15, 30)] + \
            [calendar_for(dt.timedelta(hours=h)) for h in (1, 6, 24)] + [calendar_for(at="06:15")]:
        done = subprocess.run(["systemd-analyze", "calendar", cal], capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0, (cal, done.stderr)


def test_the_installed_entry_runs_logs_and_never_overlaps_itself(tab, tmp_path):
    from workbench.simulate.writer import write_demo

    store = write_demo(tmp_path / "store", days=2, traces_per_day=60)
    assert main(["schedule", "install", "check", "--every", "5m", "--data", str(store),
                 "--alerts", str(tmp_path / "alerts.jsonl"), "--crontab", str(tab),
                 "--workdir", str(tmp_path)]) == EXIT_OK
    (line,) = lines(tab)
    command = line.split(" ", 5)[5].rsplit(" # workbench:", 1)[0]
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # what cron gives a job
    lock = Path(os.environ["WORKBENCH_CACHE_DIR"]) / "locks" / "schedule-check.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:  # a previous run still going
        fcntl.flock(held, fcntl.LOCK_EX)
        skipped = subprocess.run(["sh", "-c", command], env=env, timeout=60)
    assert skipped.returncode == 1  # flock -n: skipped, not piled up
    assert not (tmp_path / "alerts.jsonl").exists()
    done = subprocess.run(["sh", "-c", command], env=env, timeout=120)
    assert done.returncode == 3  # runs now; no demo traces "now": degraded, not an all-clear
    log = Path(os.environ["WORKBENCH_CACHE_DIR"]) / "logs" / "check.log"
    assert "no traces between" in log.read_text() and " 0 traces" in log.read_text()
