"""``run_runbook``: execute a runbook's notebook over an incident window and render it to HTML.

The notebook is the one the runbook YAML names (``notebook:``). It runs with ``interactive =
False``, so every section prints static tables and figures that the HTML keeps, and its last
cell writes ``<stem>.summary.json`` beside the HTML (:mod:`workbench.reports.runbook_summary`:
severity, the primary signal's figures, what fired, whether the data was complete). Inputs are
checked before a kernel starts, so bad input fails in a second with a message naming it. The
HTML, the summary and the executed notebook beside them are redacted unless ``redact=False``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import runbooks as runbook_mod
from workbench.errors import ConfigError, ReportError
from workbench.redact import redactor
from workbench.reports.execute import run_notebook
from workbench.reports.render import clean_file, render_report
from workbench.reports.runbook_summary import summary_path_of
from workbench.reports.runner import notebooks_dir
from workbench.reports.summary import read_summary, write_summary
from workbench.sources import SOURCES, to_window

__all__ = ["incident_stem", "notebook_path", "run_runbook", "summary_path_of"]


def incident_stem(runbook: str, start: Any, agent: str | None = None) -> str:
    """``cost_spike-20261106T0900`` (``-<agent>`` when one agent is examined): an incident
    window's file name, so two agents' runs of one window never overwrite each other."""
    t = pd.Timestamp(start)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    stem = f"{runbook}-{t:%Y%m%dT%H%M}"
    if agent:
        stem += "-" + (re.sub(r"[^A-Za-z0-9_]+", "-", agent).strip("-")[:40] or "agent")
    return stem


def notebook_path(runbook: runbook_mod.Runbook) -> Path:
    """The runbook's ``notebook:`` path, found under :func:`notebooks_dir` (which
    ``$WORKBENCH_NOTEBOOKS`` can move) when it starts with ``notebooks/``."""
    rel = Path(runbook.notebook)
    if rel.parts and rel.parts[0] == "notebooks":
        return notebooks_dir().joinpath(*rel.parts[1:])
    return notebooks_dir().parent / rel


def run_runbook(name: str, start: Any, end: Any, source: str = "local",
                data_dir: str | Path | None = "data/demo", out_dir: str | Path = "out", *,
                agent: str | None = None, runbooks_dir: str | Path | None = None,
                redact: bool = True) -> Path:
    """Execute runbook ``name``'s notebook over ``[start, end)`` (all traffic, or one
    ``agent``); return the HTML report's path.

    The executed notebook and the summary JSON sit beside the HTML under the same
    :func:`incident_stem` (``<name>-<start>[-<agent>].ipynb`` and ``.summary.json``, which
    :func:`summary_path_of` finds from the HTML's path); a failing run keeps
    ``<stem>-err.ipynb`` (redacted too) and raises :class:`~workbench.errors.ReportError`.
    """
    rb = runbook_mod.load(name, runbooks_dir)
    t0, t1 = to_window(start, end)
    if source not in SOURCES:
        raise ConfigError(f"unknown source {source!r}; known sources: {sorted(SOURCES)}")
    if source == "local" and (data_dir is None or not Path(data_dir).is_dir()):
        raise ConfigError(f"data directory {data_dir} not found (source 'local' reads it)")
    redactor(redact)  # bad configured patterns fail here, before a kernel starts
    nb = notebook_path(rb)
    if not nb.is_file():
        raise ConfigError(f"runbook {name!r} names notebook {rb.notebook}, not found at {nb}")
    out = Path(out_dir).resolve()
    stem = incident_stem(rb.name, t0, agent)
    summary_path = out / f"{stem}.summary.json"
    params = {"start": t0.isoformat(), "end": t1.isoformat(), "source": source,
              "data_dir": str(Path(data_dir).resolve()) if data_dir is not None else "",
              "agent": agent or "", "interactive": False, "redact": bool(redact),
              "summary_path": str(summary_path)}
    before = _identity(summary_path)  # an earlier run's summary is not this run's
    try:
        executed = run_notebook(nb, params, out, output_name=f"{stem}.ipynb", cwd=out)
    except ReportError:
        clean_file(out / f"{stem}-err.ipynb", redact=redact)
        raise
    if _identity(summary_path) in (None, before):
        raise ReportError(f"{nb.name} ran but wrote no summary ({summary_path.name})")
    rendered = render_report(executed, out / f"{stem}.html", redact=redact,
                             title=f"{rb.title} {t0:%Y-%m-%d %H:%M} – {t1:%H:%M} UTC")
    # the summary names the files of its run and counts what the HTML's redaction replaced
    summary = read_summary(summary_path)
    summary["outputs"] = {"html": str(rendered.html), "notebook": str(executed)}
    summary.setdefault("redaction", {}).setdefault("parts", {})["report"] = rendered.redaction
    write_summary(summary_path, summary, redact=redact)
    return rendered.html


def _identity(path: Path) -> tuple[int, int] | None:
    """Inode and modification time: a summary written atomically (a new file replacing the
    old) always changes the first."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns
