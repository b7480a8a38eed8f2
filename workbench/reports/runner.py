"""``daily_report``: execute the daily report notebook, render it, finish its summary JSON.

Inputs are checked before a kernel starts (date, source name, data folder), so bad input fails
in a second with a message naming it, not after a papermill run with a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, ReportError
from workbench.reports.daily import parse_day, report_stem
from workbench.reports.execute import run_notebook
from workbench.redact import redactor
from workbench.reports.render import clean_file, render_report
from workbench.reports.summary import read_summary, write_summary
from workbench.sources import SOURCES

__all__ = ["ReportResult", "daily_report", "notebooks_dir"]


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

    @property
    def degraded(self) -> bool:
        return bool(self.summary.get("degraded"))

    @property
    def findings(self) -> list[dict[str, Any]]:
        return list(self.summary.get("findings", []))

    @property
    def alerts_sent(self) -> list[dict[str, Any]]:
        return list(self.summary.get("alerts", {}).get("sent", []))


@contextmanager
def _env(name: str, value: str | None) -> Iterator[None]:
    """Set an environment variable for the kernel papermill starts, then restore it."""
    old = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _is_file_url(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def daily_report(date: Any, source: str = "local", data_dir: str | Path | None = "data/demo",
                 out_dir: str | Path = "out", *, days: int = 7, alert_days: int = 1,
                 alerts_url: str | None = None, send_alerts: bool = True,
                 notebook: str | Path | None = None, redact: bool = True) -> ReportResult:
    """Run the daily report for ``date`` from ``source``; HTML, summary JSON and alerts in
    ``out_dir``. Non-file alert URLs (webhooks may embed tokens) reach the kernel through
    ``WORKBENCH_ALERTS_URL`` instead of being written into the notebook's parameters. The HTML,
    the summary and the executed notebook are redacted unless ``redact`` is False."""
    day = parse_day(date)
    if source not in SOURCES:
        raise ConfigError(f"unknown source {source!r}; known sources: {sorted(SOURCES)}")
    if source == "local":
        if data_dir is None or not Path(data_dir).is_dir():
            raise ConfigError(f"data directory {data_dir} not found (source 'local' reads it)")
    if int(days) < 1 or int(alert_days) < 1:
        raise ConfigError(f"days ({days}) and alert days ({alert_days}) must be at least 1")
    redactor(redact)  # bad configured patterns fail here, before a kernel starts
    out = Path(out_dir).resolve()
    nb = Path(notebook) if notebook else notebooks_dir() / "daily_report.ipynb"
    params = {
        "date": f"{day:%Y-%m-%d}", "source": source,
        "data_dir": str(Path(data_dir).resolve()) if data_dir is not None else "",
        "out_dir": str(out), "days": int(days), "alert_days": int(alert_days),
        "alerts_url": alerts_url if alerts_url and _is_file_url(alerts_url) else "",
        "send_alerts": bool(send_alerts), "redact": bool(redact),
    }
    env_url = alerts_url if alerts_url and not _is_file_url(alerts_url) else None
    stem = report_stem(day)
    try:
        with _env("WORKBENCH_ALERTS_URL", env_url):
            executed = run_notebook(nb, params, out, output_name=f"{stem}.ipynb", cwd=out)
    except ReportError:
        clean_file(out / f"{stem}-err.ipynb", redact=redact)
        raise
    rendered = render_report(executed, out / f"{stem}.html", redact=redact,
                             title=f"Daily report {day:%Y-%m-%d}")
    html = rendered.html
    summary_path = out / f"{stem}.summary.json"
    if not summary_path.is_file():
        raise ReportError(f"{nb.name} ran but wrote no summary at {summary_path}")
    summary = read_summary(summary_path)
    summary["outputs"] = {"html": str(html), "notebook": str(executed)}
    summary.setdefault("redaction", {}).setdefault("parts", {})["report"] = rendered.redaction
    summary = read_summary(write_summary(summary_path, summary, redact=redact))
    return ReportResult(html=html, notebook=executed, summary_path=summary_path,
                        summary=summary)
