"""The summary JSON of a runbook run (``<stem>.summary.json`` beside its HTML).

An on-call script reads it instead of the HTML: the severity the summary section shows, the
figures the summary quotes (``primary``: the most urgent finding's, in its scope, or the
primary signal's over the whole window when nothing fired), what fired, the top suspect (only
where a finding fired; otherwise the ranking is ``leading_not_significant`` and the leading change
is ``leading_change``), the scope the suspects were ranked in, and whether the
window was judged on complete data (``degraded`` and ``problems``). Every figure is the
:class:`~workbench.investigate.Investigation`'s own (its :meth:`summary`, :meth:`signal_table`
and findings), so the JSON and the HTML cannot disagree. Written by the runbook notebook's
kernel, redacted like the daily report's summary (:func:`~workbench.reports.summary.write_summary`).

Imports nothing heavy: the notebook's kernel imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from workbench.reports.summary import safe_parameters, write_summary

__all__ = ["runbook_summary", "summary_path_of", "write_runbook_summary"]

#: How many ranked suspects the summary lists (the top one is also ``top_suspect``).
TOP_SUSPECTS = 5


def summary_path_of(html: str | Path) -> Path:
    """``out/cost_spike-20261106T0900.html`` -> ``out/cost_spike-20261106T0900.summary.json``."""
    html = Path(html)
    return html.with_name(f"{html.stem}.summary.json")


def runbook_summary(inv: Any, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The summary of :class:`~workbench.investigate.Investigation` ``inv`` as plain data.

    ``degraded`` is true when the data cannot back a verdict (``problems``: a partial pull, no
    traces in the window, no baseline); ``notes`` are everything the HTML notes, those included
    (a derived latency budget, evaluations still arriving)."""
    s = inv.summary()
    table = inv.signal_table()
    head = s["headline"]
    ranked = inv.suspects().head(TOP_SUSPECTS)[
        ["rank", "suspect", "dimension", "value", "within", "contribution", "incident",
         "baseline"]].to_dict(orient="records")
    named = bool(inv.fired_on())  # the ranking names suspects only where a finding fired
    attributed, group, a, b = inv.attribution_scope  # the finding's agent and hours, maybe
    problems = list(inv.problems)
    return {
        "report": "runbook", "runbook": s["runbook"], "title": s["title"],
        "generated_at": pd.Timestamp.now(tz="UTC"),
        "source": s["source"], "agent": s["agent"],
        "window": {"start": s["start"], "end": s["end"]},
        "baseline": {"start": s["baseline_start"], "end": inv.judge.baseline_end},
        "severity": s["severity"], "verdict": inv.verdict,
        "degraded": bool(problems), "problems": problems,
        "primary": {"signal": head["signal"], "unit": head["unit"], "scope": head["scope"],
                    "labels": head["labels"], "start": head["start"], "end": head["end"],
                    "finding": head["finding"], "severity": head["severity"],
                    "observed": head["observed"], "expected": head["expected"],
                    "ratio": head["ratio"], "p_value": head["p_value"],
                    "units": head["units"]},
        "attributed_signal": attributed,
        "attributed_scope": {"labels": {"agent": group} if inv.agent or group != inv.group
                                        else {},
                             "start": a, "end": b},
        "signals": table.to_dict(orient="records"),
        "firing": s["firing"],
        "findings": [f.to_dict() for f in inv.findings],
        "unjudged": s["unjudged"],
        "top_suspect": s["top_suspect"],
        "suspects": ranked if named else [],
        "leading_not_significant": [] if named else ranked,
        "leading_change": s["leading_change"],
        "traces_in_window": int(s["traces_in_window"]),
        "notes": s["notes"],
        "parameters": safe_parameters(parameters or {}),
    }


def write_runbook_summary(inv: Any, path: str | Path, parameters: dict[str, Any] | None = None,
                          *, redact: bool = True) -> Path:
    """Write :func:`runbook_summary` to ``path`` (atomically, mode 0640, redacted unless
    ``redact`` is False); return the path."""
    return write_summary(path, runbook_summary(inv, parameters), redact=redact)
