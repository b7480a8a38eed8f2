"""workbench: pull LLM-agent traces and metrics into pandas, find incidents, report and alert.

Package map::

    workbench.schema        canonical frames (observations, traces, scores, metrics) + validate
    workbench.simulate      deterministic synthetic agent traffic with labelled incidents
    workbench.sources       one module per source: local, langfuse, tempo, prometheus (registry
                            by name); sources.conventions maps the public trace conventions
                            (Langfuse, OTel GenAI, OpenInference) to the canonical columns
    workbench.runbooks      runbook YAML files, validated against their JSON schema
    workbench.analysis      per-trace signals, baselines, the judging engine, detectors and
                            attribution -> Finding
    workbench.deadline      one wall-clock deadline per run, enforced on every HTTP request
                            (deadline_transport: the httpx transport enforcing it)
    workbench.findings      the Finding record
    workbench.kpis          the daily KPI table and the runbooks' daily threshold checks
    workbench.investigate   what a runbook notebook shows: signals, suspects, worst traces
    workbench.metrics_overview  the runbooks' Prometheus series for a report window
    workbench.plots         plotly figures over frames and findings (runbook_plots: drill-down)
    workbench.widgets       ipywidgets controls for notebooks
    workbench.reports       papermill execution, HTML rendering, summary JSON; the daily
                            report and post-mortems (reports.incident: an incident's facts)
    workbench.links         runbook and report URLs, the next-step commands for a window
    workbench.alerts        alerts from findings and their sinks (file, webhook, Alertmanager)
    workbench.cli           the ``workbench`` command

A notebook needs ``import workbench as wb`` and little else; submodules load on first use so that
``import workbench`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {
    "alerts", "analysis", "cli", "deadline", "errors", "findings", "investigate", "kpis",
    "links", "metrics_overview",
    "plots", "reports", "runbook_plots", "runbooks", "schema", "simulate", "sources", "widgets",
}

__all__ = sorted(_SUBMODULES | {"__version__"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"workbench.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
