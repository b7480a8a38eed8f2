"""Detectors, baselines and attribution: canonical frames + a runbook -> findings.

Pure functions, no I/O::

    units_for(runbooks, traces, observations, scores, start)       per-trace signals, once
    detect(runbook, traces, observations, scores, start, end)      one runbook's findings
    detect_all(runbooks, traces, observations, scores, start, end) every runbook's findings
    Judge(runbook, units, start, end).interval(signal, a, b)       the verdict on any window
    attribute(current, baseline, metric, dimensions)                ranked suspects

Modules: ``signals`` (per-trace columns), ``baseline`` (expectations by segment), ``stats``
(exact tests), ``judge`` (windows and scans), ``attribution``, ``suspects`` (the order of a
finding's suspects), ``detect``, and the runbooks' own extras: ``cost``, ``timeouts``,
``hallucination``.
"""

from workbench.analysis.attribution import SPECIFICITY, attribute
from workbench.analysis.detect import DETECTORS, PRIMARY, detect, detect_all, units_for
from workbench.analysis.judge import ALL, SIGNALS, Interval, Judge, severity_for
from workbench.analysis.signals import agent_budgets, trace_signals
from workbench.analysis.timeouts import burn_rates

__all__ = ["ALL", "DETECTORS", "PRIMARY", "SIGNALS", "SPECIFICITY", "Interval", "Judge",
           "agent_budgets", "attribute", "burn_rates", "detect", "detect_all", "severity_for",
           "trace_signals", "units_for"]
