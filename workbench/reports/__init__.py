"""Reports: notebooks executed with papermill, rendered to offline HTML, summarised in JSON.

- :mod:`~workbench.reports.execute`: :func:`run_notebook` (failures keep ``*-err.ipynb``).
- :mod:`~workbench.reports.kernel`: the kernel notebooks run in (ipykernel, quick to exit).
- :mod:`~workbench.reports.render`: :func:`render_html` (no code, nothing fetched, plotly.js
  once, redacted) and :func:`~workbench.reports.render.render_report`, which also makes the
  executed notebook beside the HTML fit to share.
- :mod:`~workbench.reports.summary`: the summary JSON written beside each report.
- :mod:`~workbench.reports.daily`: the daily report's content (KPIs, checks, findings, alerts).
- :mod:`~workbench.reports.runner`: :func:`daily_report`, all of the above for one day, and
  :func:`postmortem_report`, the same for one incident.
- :mod:`~workbench.reports.postmortem`: a post-mortem's content (facts from
  :mod:`~workbench.reports.incident`, sections rendered by :mod:`~workbench.reports.document`).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ReportResult", "daily_report", "postmortem_report", "render_html", "run_notebook",
           "run_runbook"]

# Imported on first use: the report notebook's own kernel imports ``workbench.reports.daily`` and
# must not pay for papermill, nbconvert and jsonschema's format checkers (seconds per run).
_EXPORTS = {
    "run_notebook": "workbench.reports.execute",
    "render_html": "workbench.reports.render",
    "ReportResult": "workbench.reports.runner",
    "daily_report": "workbench.reports.runner",
    "postmortem_report": "workbench.reports.runner",
    "run_runbook": "workbench.reports.runbook",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'workbench.reports' has no attribute {name!r}")
