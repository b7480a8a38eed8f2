"""``daily_report`` and ``postmortem_report``: execute a report notebook, render it, finish its
summary JSON, publish the set.

Inputs are checked before a kernel starts (date, days, source, data folder, alert sink,
runbooks), so bad input fails in a second with a message naming it, not after a papermill run.

A run is safe beside others and against crashes:

- a lock per (report, date) slot in one out folder: a second run of the same slot waits (within
  its budget); runs of different dates into one folder go side by side;
- the kernel's connection file and sockets live in a private temporary folder of the run;
- the notebook, summary and HTML are written in a staging folder and replace the published set
  only once all three are complete; a failed or killed run publishes nothing (a failed
  notebook is kept as ``<name>-err.ipynb``);
- the whole run has a budget (:data:`DEFAULT_BUDGET_S`, below common scheduler time-outs); the
  kernel gets the same deadline for every network wait, less a reserve for rendering;
- stale staging folders, private folders and sockets left by killed runs are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import socket
import stat
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import links
from workbench.deadline import Deadline
from workbench.errors import ConfigError, ReportError
from workbench.reports.daily import parse_day, report_stem
from workbench.reports.execute import run_notebook
from workbench.redact import redactor
from workbench.reports.inputs import check_days, check_sink
from workbench.reports.render import clean_file, render_report
from workbench.reports.summary import read_summary, write_summary
from workbench.settings import cache_dir
from workbench.sources import SOURCES
from workbench.sources.freshness import settle_margin

__all__ = ["DEFAULT_BUDGET_S", "ReportResult", "daily_report", "execute_and_publish",
           "in_slot", "notebooks_dir", "postmortem_report", "slot_lock"]

#: The default wall-clock budget of one report run: 20 minutes, below the 30-60 minute time-outs
#: schedulers are commonly given, so the run ends itself (and says why) before it is killed.
DEFAULT_BUDGET_S = 1200.0
#: Part of the budget kept back from the kernel for rendering and publishing.
_RESERVE_FRACTION, _RESERVE_MAX_S = 0.1, 60.0
_RUN_PREFIX = "workbench-run-"
_STAGING_SUFFIX = ".staging"


def notebooks_dir() -> Path:
    """``$WORKBENCH_NOTEBOOKS`` or the ``notebooks/`` folder beside the package."""
    env = os.environ.get("WORKBENCH_NOTEBOOKS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "notebooks"


@dataclass(frozen=True)
class ReportResult:
    html: Path
    notebook: Path
    summary_path: Path
    summary: dict[str, Any]
    #: further published files by kind (a post-mortem's ``markdown``)
    extra: Mapping[str, Path] = field(default_factory=dict)

    @property
    def degraded(self) -> bool:
        """A source failed, or alerts did not all reach their receiver."""
        return bool(self.summary.get("degraded")) or self.alerts_degraded

    @property
    def alerts_degraded(self) -> bool:
        """Alerts were spooled, rejected or dropped (the HTML says which)."""
        alerts = self.summary.get("alerts") or {}
        return bool(alerts.get("spooled") or alerts.get("rejected") or alerts.get("dropped"))

    @property
    def findings(self) -> list[dict[str, Any]]:
        return list(self.summary.get("findings", []))

    @property
    def alerts_sent(self) -> list[dict[str, Any]]:
        return list(self.summary.get("alerts", {}).get("sent", []))


@contextmanager
def _env(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set environment variables for the kernel papermill starts, then restore them."""
    old = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is not None:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _is_file_url(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_OWNER = re.compile(r"(?:^workbench-run-(\d+)-|\.(\d+)-[0-9a-f]{8}\.staging$)")


def _owner_pid(name: str) -> int | None:
    """The pid a private run folder or a staging folder was named after."""
    m = _OWNER.search(name)
    return int(m.group(1) or m.group(2)) if m else None


def _stale(path: Path, max_age_s: float = 86400.0) -> bool:
    pid = _owner_pid(path.name)
    try:
        old = time.time() - path.lstat().st_mtime > max_age_s
    except OSError:
        return False
    return old or (pid is not None and not _pid_alive(pid))


def _socket_dead(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(str(path))
        except OSError:
            return True
    return False


def clean_stale(out: Path) -> list[Path]:
    """Remove what killed runs left: staging folders in ``out``, private run folders in the
    temporary folder, and kernel sockets nobody listens on (older versions put them in
    ``out``). Returns what was removed."""
    removed = []
    for staging in out.glob(f".*{_STAGING_SUFFIX}"):
        if staging.is_dir() and _stale(staging):
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    for private in Path(tempfile.gettempdir()).glob(f"{_RUN_PREFIX}*"):
        with contextlib.suppress(OSError):
            if private.is_dir() and private.stat().st_uid == os.getuid() and _stale(private):
                shutil.rmtree(private, ignore_errors=True)
                removed.append(private)
    for sock in out.glob("kernel-ipc-*"):
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(sock.lstat().st_mode) and _socket_dead(sock):
                sock.unlink()
                removed.append(sock)
    return removed


@contextmanager
def slot_lock(out: Path, stem: str, deadline: Deadline) -> Iterator[Path]:
    """Hold the lock of report ``stem`` in folder ``out`` (waiting within ``deadline``)."""
    import fcntl

    digest = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:12]
    path = cache_dir("locks", f"{stem}-{digest}.lock")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ReportError(f"cannot create the run lock {path}: {exc.strerror}") from exc
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline.expired:
                    raise ReportError(f"another run of {stem} into {out} is still going; "
                                      f"gave up waiting for its lock {path} within the "
                                      "budget") from None
                time.sleep(0.2)
        yield path
    finally:
        os.close(fd)


@contextmanager
def _private_dir() -> Iterator[Path]:
    """A folder only this user can read, named after this process, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"{_RUN_PREFIX}{os.getpid()}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


#: Published files are for the team (group), never for every user of the machine.
_PUBLISHED_MODE = 0o640


def _publish(staging: Path, out: Path, names: list[str]) -> None:
    """Move the complete set into ``out``; the HTML (what people open) goes last."""
    for name in names:
        os.chmod(staging / name, _PUBLISHED_MODE)
    for name in names:
        os.replace(staging / name, out / name)


def daily_report(date: Any, source: str = "local", data_dir: str | Path | None = "data/demo",
                 out_dir: str | Path = "out", *, days: int = 7, alert_days: int = 1,
                 alerts_url: str | None = None, send_alerts: bool = True,
                 notebook: str | Path | None = None, redact: bool = True,
                 budget_s: float | None = DEFAULT_BUDGET_S,
                 deadline: Deadline | None = None) -> ReportResult:
    """Run the daily report for ``date`` from ``source``; HTML, summary JSON and alerts in
    ``out_dir``. Non-file alert URLs (webhooks may embed tokens) reach the kernel through
    ``WORKBENCH_ALERTS_URL`` instead of being written into the notebook's parameters. The HTML,
    the summary and the executed notebook are redacted unless ``redact`` is False.

    ``budget_s`` bounds the whole run (None: no bound); ``deadline`` is used instead when given.
    """
    day = parse_day(date)
    if source not in SOURCES:
        raise ConfigError(f"unknown source {source!r}; known sources: {sorted(SOURCES)}")
    if source == "local":
        if data_dir is None or not Path(data_dir).is_dir():
            raise ConfigError(f"data directory {data_dir} not found (source 'local' reads it)")
    check_days(days, alert_days)
    redactor(redact)  # bad configured patterns fail here, before a kernel starts
    links.check_urls()
    settle_margin()  # a bad WORKBENCH_SETTLE fails here, before a kernel starts
    deadline = deadline or Deadline.after(budget_s)
    out = Path(out_dir).resolve()
    sink = alerts_url or os.environ.get("WORKBENCH_ALERTS_URL") or str(out / "alerts.jsonl")
    if send_alerts:
        check_sink(sink)
    nb = Path(notebook) if notebook else notebooks_dir() / "daily_report.ipynb"
    stem = report_stem(day)

    def work(staging: Path, private: Path) -> ReportResult:
        params = {
            "date": f"{day:%Y-%m-%d}", "source": source,
            "data_dir": str(Path(data_dir).resolve()) if data_dir is not None else "",
            "out_dir": str(staging), "days": int(days), "alert_days": int(alert_days),
            "alerts_url": sink if _is_file_url(sink) else "",
            "send_alerts": bool(send_alerts), "redact": bool(redact),
            "report_url": links.report_url(f"{stem}.html", out),
        }
        return execute_and_publish(
            nb, params, stem, out, staging, private, deadline, redact,
            title=f"Daily report {day:%Y-%m-%d}",
            env={"WORKBENCH_ALERTS_URL": None if _is_file_url(sink) else sink})

    return in_slot(out, stem, deadline, work)


def in_slot(out: Path, stem: str, deadline: Deadline,
             work: Callable[[Path, Path], ReportResult]) -> ReportResult:
    """Run ``work(staging, private)`` holding report ``stem``'s lock in ``out``, after
    cleaning what killed runs left; the staging folder is removed afterwards."""
    try:
        out.mkdir(mode=0o750, parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"output folder {out} cannot be created: {exc.strerror}") from exc
    with slot_lock(out, stem, deadline):
        clean_stale(out)
        from workbench.alerts.delivery import adopt_legacy_spool

        adopt_legacy_spool(out / "alerts-spool.jsonl")
        staging = out / f".{stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}{_STAGING_SUFFIX}"
        staging.mkdir(mode=0o700)
        try:
            with _private_dir() as private:
                return work(staging, private)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def execute_and_publish(nb: Path, params: Mapping[str, Any], stem: str, out: Path,
                         staging: Path, private: Path, deadline: Deadline, redact: bool, *,
                         title: str, env: Mapping[str, str | None] | None = None,
                         extra: Mapping[str, str] | None = None) -> ReportResult:
    """Execute ``nb`` into ``staging`` (the kernel writes its summary, and the ``extra``
    files, there), render it, finish the summary, and publish the set into ``out``, the HTML
    last. ``extra``: output kind -> file name (``{"markdown": "<stem>.md"}``)."""
    extra = dict(extra or {})
    reserve = min(_RESERVE_MAX_S, deadline.remaining() * _RESERVE_FRACTION)
    kernel_deadline = deadline.within(max(deadline.remaining() - reserve, 0.0))
    env = {**(env or {}), **kernel_deadline.export_env()}
    try:
        with _env(env):
            executed = run_notebook(nb, params, staging, output_name=f"{stem}.ipynb",
                                    cwd=staging, runtime_dir=private, deadline=deadline)
    except ReportError as exc:
        failed = staging / f"{stem}-err.ipynb"
        if not failed.exists():
            raise
        clean_file(failed, redact=redact)
        os.chmod(failed, _PUBLISHED_MODE)
        os.replace(failed, out / failed.name)
        # the message names where the failed notebook is now, not the staging folder
        raise ReportError(str(exc).replace(str(failed), str(out / failed.name)),
                          kernel_error=exc.kernel_error) from exc.__cause__
    summary_path = staging / f"{stem}.summary.json"
    if not summary_path.is_file():
        raise ReportError(f"{nb.name} ran but wrote no summary ({summary_path.name})")
    for kind, name in extra.items():
        if not (staging / name).is_file():
            raise ReportError(f"{nb.name} ran but wrote no {kind} ({name})")
    rendered = render_report(executed, staging / f"{stem}.html", redact=redact, title=title)
    html = rendered.html
    summary = read_summary(summary_path)
    if "out_dir" in summary.setdefault("parameters", {}):  # the kernel wrote into staging
        summary["parameters"]["out_dir"] = str(out)
    summary["outputs"] = {"html": str(out / html.name), "notebook": str(out / executed.name),
                          **{kind: str(out / name) for kind, name in extra.items()}}
    summary.setdefault("redaction", {}).setdefault("parts", {})["report"] = rendered.redaction
    summary = read_summary(write_summary(summary_path, summary, redact=redact))
    _publish(staging, out, [executed.name, summary_path.name, *extra.values(), html.name])
    (out / f"{stem}-err.ipynb").unlink(missing_ok=True)  # an earlier failure, now superseded
    return ReportResult(html=out / html.name, notebook=out / executed.name,
                        summary_path=out / summary_path.name, summary=summary,
                        extra={kind: out / name for kind, name in extra.items()})


#: The longest window a post-mortem examines (its baseline days come on top).
POSTMORTEM_MAX_WINDOW_DAYS = 7


def postmortem_report(runbook: str, start: Any, end: Any, source: str = "local",
                      data_dir: str | Path | None = "data/demo", out_dir: str | Path = "out",
                      *, agent: str | None = None, notes: str | Path | None = None,
                      redact: bool = True, notebook: str | Path | None = None,
                      budget_s: float | None = DEFAULT_BUDGET_S,
                      deadline: Deadline | None = None) -> ReportResult:
    """Write the post-mortem of ``[start, end)`` judged by ``runbook``: ``<name>.html``,
    ``<name>.md``, ``<name>.summary.json`` and the executed ``<name>.ipynb`` in ``out_dir``
    (``name``: :func:`~workbench.reports.postmortem.postmortem_stem`), all redacted unless
    ``redact`` is False, published together or not at all, under the same lock, budget and
    staging as the daily report. ``notes``: the notes file of the parts people write.

    Bad input (runbook, window, source, data folder, notes file, redaction patterns, link
    settings) raises :class:`ConfigError` before a kernel starts."""
    import pandas as pd

    from workbench import runbooks as runbook_mod
    from workbench.reports.postmortem import postmortem_stem
    from workbench.reports.postmortem_notes import load_notes
    from workbench.sources import to_window

    rb = runbook_mod.load(runbook)
    t0, t1 = to_window(start, end)
    if t1 - t0 > pd.Timedelta(days=POSTMORTEM_MAX_WINDOW_DAYS):
        raise ConfigError(f"window {t0} – {t1} is longer than {POSTMORTEM_MAX_WINDOW_DAYS} "
                          "days: examine the incident's hours, not a season")
    if t0 > pd.Timestamp.now(tz="UTC"):
        raise ConfigError(f"window start {t0} is in the future")
    if source not in SOURCES:
        raise ConfigError(f"unknown source {source!r}; known sources: {sorted(SOURCES)}")
    if source == "local" and (data_dir is None or not Path(data_dir).is_dir()):
        raise ConfigError(f"data directory {data_dir} not found (source 'local' reads it)")
    if agent is not None and not agent.strip():
        raise ConfigError("--agent is empty: name an agent, or leave it out")
    notes_path = Path(notes).resolve() if notes else None
    load_notes(notes_path)  # a bad notes file fails here, not in the kernel
    redactor(redact)
    links.check_urls()
    settle_margin()  # a bad WORKBENCH_SETTLE fails here, before a kernel starts
    deadline = deadline or Deadline.after(budget_s)
    out = Path(out_dir).resolve()
    nb = Path(notebook) if notebook else notebooks_dir() / "postmortem.ipynb"
    stem = postmortem_stem(rb.name, t0, agent)

    def work(staging: Path, private: Path) -> ReportResult:
        params = {"runbook": rb.name, "start": t0.isoformat(), "end": t1.isoformat(),
                  "source": source,
                  "data_dir": str(Path(data_dir).resolve()) if data_dir is not None else "",
                  "agent": agent or "", "notes_file": str(notes_path or ""),
                  "out_dir": str(staging), "name": stem, "redact": bool(redact)}
        return execute_and_publish(
            nb, params, stem, out, staging, private, deadline, redact,
            title=f"Post-mortem: {rb.title}, {t0:%Y-%m-%d %H:%M} UTC",
            extra={"markdown": f"{stem}.md"})

    return in_slot(out, stem, deadline, work)
