"""The typed record that analysis produces and reports, plots and alerts consume.

A :class:`Finding` is one incident signal judged against its baseline: what was seen, where and
when, how sure (the p-value, the shortest window over which the change is significant), how bad
(a severity from the runbook), which dimension values explain it, and the evidence and trace ids
needed to drill down. "Too little data to judge" is a finding of its own
(``status="insufficient_data"``), never a silent all-clear; a finding made on data a source
delivered only in part is ``confirmed=False`` and raises no incident alert.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

__all__ = ["ALL_TRAFFIC", "SEVERITIES", "Finding", "Suspect", "urgency"]

#: The group (agent label) of a judgement on all traffic rather than one agent's.
ALL_TRAFFIC = "__all__"

#: Ordered from least to most urgent; ``page`` wakes someone up.
SEVERITIES = ("info", "warning", "critical", "page")


Severity = Literal["info", "warning", "critical", "page"]
Status = Literal["firing", "insufficient_data"]


@dataclass(frozen=True)
class Suspect:
    """A dimension value that explains part of the change between incident and baseline.

    ``within`` narrows it: the model ``gpt-4o`` within agent ``support-bot``, prompt version
    ``8`` within prompt ``answer``.
    """

    dimension: str
    value: str
    contribution: float
    """Share of the observed excess explained by this value (0..1)."""
    incident: float = float("nan")
    """The signal over the window's units holding the value, in the signal's unit (cost per
    request of its traces, hallucination rate of its scored traces)."""
    baseline: float = float("nan")
    """What the baseline expects of those same units (for a value new since the baseline, of
    its traffic as usual)."""
    within: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        """``model=gpt-4o in agent=support-bot``: how a reader sees it."""
        text = f"{self.dimension}={self.value}"
        if self.within:
            text += " in " + ", ".join(f"{k}={v}" for k, v in self.within.items())
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "value": self.value, "within": dict(self.within),
                "contribution": _num(self.contribution), "incident": _num(self.incident),
                "baseline": _num(self.baseline)}


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
    p_value: float = float("nan")
    """How likely the change is under the baseline (one-sided)."""
    shortest: pd.Timedelta | None = None
    """The shortest window inside ``[start, end)`` over which the change is significant."""
    confirmed: bool = True
    """False when a source delivered only part of the data: shown, never alerted on."""

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
            "suspects": [s.to_dict() for s in self.suspects],
            "trace_ids": list(self.trace_ids[:20]),
            "fingerprint": self.fingerprint,
            "p_value": _num(self.p_value) if not self.p_value == 0 else 0.0,
            "shortest_hours": (None if self.shortest is None
                               else self.shortest / pd.Timedelta(hours=1)),
            "confirmed": self.confirmed,
        }


def urgency(finding: Finding) -> tuple[int, pd.Timestamp]:
    """Sort key of every list said to be "most urgent first": page, critical, warning, info,
    the earliest first within a severity."""
    return -SEVERITIES.index(finding.severity), finding.start


def _num(x: float) -> float | None:
    """JSON has no NaN/Inf: map them to None so the summary stays valid JSON."""
    x = float(x)
    return x if pd.notna(x) and abs(x) != float("inf") else None
