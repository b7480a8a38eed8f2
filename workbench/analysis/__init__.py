"""Detectors, baselines and attribution: canonical frames + a runbook -> findings.

Pure functions, no I/O::

    detect(runbook, traces, observations, scores, start, end)      one runbook's findings
    detect_all(runbooks, traces, observations, scores, start, end) every runbook's findings
    attribute(current, baseline, metric, dimensions)                ranked suspects

Modules: ``series`` (buckets, baselines, significance, runs), ``attribution``, and one module per
runbook: ``cost``, ``timeouts``, ``hallucination``.
"""

from workbench.analysis.attribution import SPECIFICITY, attribute, tool_sets
from workbench.analysis.detect import DETECTORS, detect, detect_all
from workbench.analysis.series import Window, severity_for
from workbench.analysis.timeouts import burn_rates

__all__ = ["DETECTORS", "SPECIFICITY", "Window", "attribute", "burn_rates", "detect",
           "detect_all", "severity_for", "tool_sets"]
