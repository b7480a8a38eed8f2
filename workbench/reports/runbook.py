"""``run_runbook``: execute a runbook's notebook over an incident window and render it to HTML.

The notebook is the one the runbook YAML names (``notebook:``). It runs with ``interactive =
False``, so every section prints static tables and figures that the HTML keeps, and its last
cell writes ``<stem>.summary.json`` beside the HTML (:mod:`workbench.reports.runbook_summary`:
severity, the primary signal's figures, what fired, whether the data was complete). Inputs are
checked before a kernel starts, so bad input fails in a second with a message naming it. The
HTML, the summary and the executed notebook beside them are redacted unless ``redact=False``.

The run goes through the daily report's runner (:mod:`workbench.reports.runner`): a lock per
incident name and out folder, a private folder for the kernel's sockets, a wall-clock budget the
kernel's pulls obey, and a staging folder whose notebook, summary and HTML replace the published
set only once all three are complete.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import runbooks as runbook_mod
from workbench.deadline import Deadline
from workbench.errors import ConfigError
from workbench.redact import redactor
from workbench.reports.runbook_summary import summary_path_of
from workbench.reports.runner import (DEFAULT_BUDGET_S, ReportResult, execute_and_publish,
                                      in_slot, notebooks_dir)
from workbench.sources import SOURCES, to_window
from workbench.sources.freshness import settle_margin

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
                redact: bool = True, budget_s: float | None = DEFAULT_BUDGET_S) -> Path:
    """Execute runbook ``name``'s notebook over ``[start, end)`` (all traffic, or one
    ``agent``); return the HTML report's path.

    The executed notebook and the summary JSON sit beside the HTML under the same
    :func:`incident_stem` (``<name>-<start>[-<agent>].ipynb`` and ``.summary.json``, which
    :func:`summary_path_of` finds from the HTML's path). They are written in a staging folder
    and published together, the HTML last, under the lock of that name in ``out_dir``: a second
    run of the same window and agent waits for the first, a failed run leaves the earlier set
    as it was, keeps ``<stem>-err.ipynb`` (redacted too) when its notebook failed, and raises
    :class:`~workbench.errors.ReportError`. ``budget_s`` bounds the whole run, the wait for the
    lock included (None: no bound).
    """
    rb = runbook_mod.load(name, runbooks_dir)
    t0, t1 = to_window(start, end)
    if source not in SOURCES:
        raise ConfigError(f"unknown source {source!r}; known sources: {sorted(SOURCES)}")
    if source == "local" and (data_dir is None or not Path(data_dir).is_dir()):
        raise ConfigError(f"data directory {data_dir} not found (source 'local' reads it)")
    redactor(redact)  # bad configured patterns fail here, before a kernel starts
    settle_margin()  # and a bad WORKBENCH_SETTLE
    nb = notebook_path(rb)
    if not nb.is_file():
        raise ConfigError(f"runbook {name!r} names notebook {rb.notebook}, not found at {nb}")
    deadline = Deadline.after(budget_s)
    out = Path(out_dir).resolve()
    stem = incident_stem(rb.name, t0, agent)

    def work(staging: Path, private: Path) -> ReportResult:
        params = {"start": t0.isoformat(), "end": t1.isoformat(), "source": source,
                  "data_dir": str(Path(data_dir).resolve()) if data_dir is not None else "",
                  "agent": agent or "", "interactive": False, "redact": bool(redact),
                  "summary_path": str(staging / f"{stem}.summary.json")}
        return execute_and_publish(
            nb, params, stem, out, staging, private, deadline, redact,
            title=f"{rb.title} {t0:%Y-%m-%d %H:%M} – {t1:%H:%M} UTC")

    return in_slot(out, stem, deadline, work).html
