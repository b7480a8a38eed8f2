"""The typed record that analysis produces and reports, plots and alerts consume.

A :class:`Finding` is one incident signal judged against its baseline: what was seen, where and
when, how bad (a severity from the runbook), which dimension values explain it, and the evidence
and trace ids needed to drill down. "Too little data to judge" is a finding of its own
(``status="insufficient_data"``), never a silent all-clear.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

__all__ = ["SEVERITIES", "Finding", "Suspect"]

#: Ordered from least to most urgent; ``page`` wakes someone up.
SEVERITIES = ("info", "warning", "critical", "page")

Severity = Literal["info", "warning", "critical", "page"]
Status = Literal["firing", "insufficient_data"]


@dataclass(frozen=True)
class Suspect:
    """A dimension value that explains part of the change between incident and baseline."""

    dimension: str
    value: str
    contribution: float
    """Share of the observed excess explained by this value (0..1, may exceed 1 or go negative)."""
    incident: float = float("nan")
    baseline: float = float("nan")


@dataclass
class Finding:
    runbook: str
    signal: str
    severity: Severity
    start: pd.Timestamp
    end: pd.Timestamp
    observed: float
    baseline: float
    summary: str
    status: Status = "firing"
    unit: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    suspects: list[Suspect] = field(default_factory=list)
    trace_ids: list[str] = field(default_factory=list)
    evidence: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")

    @property
    def ratio(self) -> float:
        """Observed over baseline; ``inf`` when the baseline is zero and something was seen."""
        if self.baseline == 0:
            return float("inf") if self.observed > 0 else float("nan")
        return self.observed / self.baseline

    @property
    def fingerprint(self) -> str:
        """Stable identity for dedupe: same runbook, signal and labels is the same incident."""
        key = "|".join([self.runbook, self.signal,
                        *(f"{k}={v}" for k, v in sorted(self.labels.items()))])
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (evidence frames left out; trace ids capped at 20)."""
        return {
            "runbook": self.runbook,
            "signal": self.signal,
            "severity": self.severity,
            "status": self.status,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "observed": _num(self.observed),
            "baseline": _num(self.baseline),
            "ratio": _num(self.ratio),
            "unit": self.unit,
            "summary": self.summary,
            "labels": dict(self.labels),
            "suspects": [{"dimension": s.dimension, "value": s.value,
                          "contribution": _num(s.contribution), "incident": _num(s.incident),
                          "baseline": _num(s.baseline)} for s in self.suspects],
            "trace_ids": list(self.trace_ids[:20]),
            "fingerprint": self.fingerprint,
        }


def _num(x: float) -> float | None:
    """JSON has no NaN/Inf: map them to None so the summary stays valid JSON."""
    x = float(x)
    return x if pd.notna(x) and abs(x) != float("inf") else None
