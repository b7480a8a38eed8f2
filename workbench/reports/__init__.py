"""Reports: notebooks executed with papermill, rendered to offline HTML, summarised in JSON.

- :mod:`~workbench.reports.execute`: :func:`run_notebook` (failures keep ``*-err.ipynb``).
- :mod:`~workbench.reports.render`: :func:`render_html` (no code, no CDN scripts).
- :mod:`~workbench.reports.summary`: the summary JSON written beside each report.
- :mod:`~workbench.reports.daily`: the daily report's content (KPIs, checks, findings, alerts).
- :mod:`~workbench.reports.runner`: :func:`daily_report`, all of the above for one day.
"""

from workbench.reports.execute import run_notebook
from workbench.reports.render import render_html
from workbench.reports.runner import ReportResult, daily_report

__all__ = ["ReportResult", "daily_report", "render_html", "run_notebook"]
