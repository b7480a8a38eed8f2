"""``workbench schedule``: cron entries for the check and the daily report, and their systemd twins.

Each entry (written with python-crontab, marked ``# workbench:<name>``) runs under ``flock -n``
so a run that overlaps the previous one is skipped rather than piled up; it posts a heartbeat
when the sink is Alertmanager (``--heartbeat``: the next run is due one interval later, plus a
grace that covers the run's own budget); its output goes to a log file in the cache folder.
Secrets never go into the crontab: a webhook URL with a secret path is refused there and read
from ``WORKBENCH_ALERTS_URL`` in an ``--env-file`` (mode 0600) instead.

:func:`systemd_units` prints the same job as a ``.service`` + ``.timer`` pair for hosts that
prefer systemd (a oneshot service never overlaps itself, so no flock is needed there).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import shutil
import stat
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.settings import cache_dir

__all__ = ["Schedule", "calendar_for", "cron_for", "entries", "install", "remove",
           "systemd_units"]

_MARK = "workbench:"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Schedule:
    """One scheduled workbench command.

    ``every`` (for a check) or ``at`` (``HH:MM`` daily, for a report) sets the cadence;
    ``argv`` is the workbench command line after the program name.
    """

    name: str
    argv: tuple[str, ...]
    every: dt.timedelta | None = None
    at: str | None = None
    budget_s: float = 300.0

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(f"schedule name {self.name!r} must be lower-case letters, digits, "
                              "'-' or '_' (at most 41)")
        if (self.every is None) == (self.at is None):
            raise ConfigError("a schedule needs exactly one of --every or --at")

    @property
    def interval(self) -> dt.timedelta:
        """Time between two runs."""
        return self.every if self.every is not None else dt.timedelta(days=1)


def cron_for(every: dt.timedelta | None = None, at: str | None = None) -> str:
    """The cron expression for ``every`` (minutes dividing an hour, or hours dividing a day)
    or a daily ``at`` (``HH:MM``, the cron daemon's time zone)."""
    if at is not None:
        m = _AT.match(at)
        if not m:
            raise ConfigError(f"--at {at!r} is not a time of day HH:MM")
        return f"{int(m.group(2))} {int(m.group(1))} * * *"
    assert every is not None
    minutes = every.total_seconds() / 60
    if minutes == int(minutes) and 1 <= minutes < 60 and 60 % int(minutes) == 0:
        return f"*/{int(minutes)} * * * *" if minutes > 1 else "* * * * *"
    hours = minutes / 60
    if hours == int(hours) and 1 <= hours <= 24 and 24 % int(hours) == 0:
        return "0 * * * *" if hours == 1 else ("0 0 * * *" if hours == 24
                                              else f"0 */{int(hours)} * * *")
    raise ConfigError(f"--every {every} cannot be a cron schedule: use minutes that divide an "
                      "hour (1m-30m) or hours that divide a day (1h-24h)")


def calendar_for(every: dt.timedelta | None = None, at: str | None = None) -> str:
    """The systemd ``OnCalendar=`` value for the same cadence as :func:`cron_for`."""
    expr = cron_for(every, at).split()  # validates the cadence
    if at is not None:
        return f"*-*-* {int(expr[1]):02d}:{int(expr[0]):02d}:00"
    assert every is not None
    minutes = int(every.total_seconds() // 60)
    if minutes < 60:
        return "*-*-* *:*:00" if minutes == 1 else f"*-*-* *:00/{minutes}:00"
    hours = minutes // 60
    if hours == 24:
        return "*-*-* 00:00:00"
    return "*-*-* *:00:00" if hours == 1 else f"*-*-* 00/{hours}:00:00"


def _executable() -> str:
    """The ``workbench`` command of this installation, by absolute path (cron's PATH is bare)."""
    here = Path(sys.argv[0])
    if here.name == "workbench" and here.exists():
        return str(here.resolve())
    found = shutil.which("workbench") or str(Path(sys.executable).with_name("workbench"))
    return str(Path(found).resolve())


def _check_env_file(env_file: str | Path | None) -> Path | None:
    if env_file is None:
        return None
    path = Path(env_file).resolve()
    if not path.is_file():
        raise ConfigError(f"--env-file {path} not found")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ConfigError(f"--env-file {path} is readable by others (mode "
                          f"{stat.S_IMODE(path.stat().st_mode):o}); it holds secrets: "
                          f"chmod 600 {path}")
    return path


def _check_no_secret(argv: Sequence[str]) -> None:
    from workbench.alerts.sinks import sink_key

    args = list(argv)
    for flag in ("--alerts",):
        if flag in args and args.index(flag) + 1 < len(args):
            url = args[args.index(flag) + 1]
            if "#sha256:" in sink_key(url):
                raise ConfigError("--alerts URL carries a secret path or query and would be "
                                  "stored in the crontab: put it in WORKBENCH_ALERTS_URL in an "
                                  "--env-file (mode 0600) instead")


def command_line(schedule: Schedule, *, workdir: str | Path, env_file: Path | None,
                 log: Path, lock: Path) -> str:
    """The shell line cron runs for ``schedule``."""
    q = shlex.quote
    parts = [f"cd {q(str(workdir))}"]
    if env_file is not None:
        parts.append(f"set -a && . {q(str(env_file))} && set +a")
    run = " ".join(q(x) for x in ["flock", "-n", str(lock), _executable(), *schedule.argv])
    parts.append(f"{run} >> {q(str(log))} 2>&1")
    return " && ".join(parts)


def _crontab(path: str | Path | None) -> Any:
    from crontab import CronTab

    if path is None:
        if not shutil.which("crontab"):
            raise ConfigError("the crontab command is not installed (Debian package cron); "
                              "use --crontab FILE and load it with `crontab FILE`, or the "
                              "systemd units printed by `workbench schedule install`")
        return CronTab(user=True)
    p = Path(path)
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch(mode=0o600)
    return CronTab(tabfile=str(p))


def _write(cron: Any, path: str | Path | None) -> None:
    if path is None:
        cron.write_to_user(user=True)
    else:
        cron.write(str(path))


def install(schedule: Schedule, *, crontab: str | Path | None = None,
            env_file: str | Path | None = None, workdir: str | Path | None = None) -> str:
    """Add (or replace) the cron entry of ``schedule``; returns the entry's line."""
    env = _check_env_file(env_file)
    _check_no_secret(schedule.argv)
    logs, locks = cache_dir("logs"), cache_dir("locks")
    for folder in (logs, locks):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = command_line(schedule, workdir=Path(workdir or os.getcwd()).resolve(), env_file=env,
                        log=logs / f"{schedule.name}.log",
                        lock=locks / f"schedule-{schedule.name}.lock")
    cron = _crontab(crontab)
    cron.remove_all(comment=f"{_MARK}{schedule.name}")
    job = cron.new(command=line, comment=f"{_MARK}{schedule.name}")
    job.setall(cron_for(schedule.every, schedule.at))
    if not job.is_valid():
        raise ConfigError(f"cron rejected the schedule {cron_for(schedule.every, schedule.at)!r}")
    _write(cron, crontab)
    return job.render()


def entries(crontab: str | Path | None = None) -> dict[str, str]:
    """``{name: cron line}`` of every workbench entry."""
    cron = _crontab(crontab)
    return {job.comment[len(_MARK):]: job.render() for job in cron
            if job.comment.startswith(_MARK)}


def remove(name: str, crontab: str | Path | None = None) -> bool:
    """Remove the entry ``name``; False when there was none."""
    cron = _crontab(crontab)
    found = cron.remove_all(comment=f"{_MARK}{name}")
    if found:
        _write(cron, crontab)
    return bool(found)


def systemd_units(schedule: Schedule, *, env_file: str | Path | None = None,
                  workdir: str | Path | None = None) -> dict[str, str]:
    """``{file name: text}`` of a ``.service`` and ``.timer`` running ``schedule``."""
    unit = f"workbench-{schedule.name}"
    exec_start = " ".join(shlex.quote(x) for x in [_executable(), *schedule.argv])
    env = f"EnvironmentFile={Path(env_file).resolve()}\n" if env_file else ""
    cadence = f"every {schedule.every}" if schedule.every else f"daily at {schedule.at}"
    service = (
        "[Unit]\n"
        f"Description=workbench {schedule.name} ({cadence})\n"
        "Wants=network-online.target\nAfter=network-online.target\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"WorkingDirectory={Path(workdir or os.getcwd()).resolve()}\n"
        f"{env}"
        f"ExecStart={exec_start}\n"
        f"TimeoutStartSec={int(schedule.budget_s) + 60}\n"
        "# Exit code 3 means degraded (a source failed or alerts were spooled): a warning.\n"
        "SuccessExitStatus=3\n"
    )
    timer = (
        "[Unit]\n"
        f"Description=Run workbench {schedule.name} {cadence}\n\n"
        "[Timer]\n"
        f"OnCalendar={calendar_for(schedule.every, schedule.at)}\n"
        f"Persistent={'true' if schedule.at else 'false'}\n"
        "AccuracySec=1s\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {f"{unit}.service": service, f"{unit}.timer": timer}
