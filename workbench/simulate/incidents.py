"""Labelled incidents injected into the demo, so every detector has a known right answer.

``magnitude`` means the multiple of the runbook's own baseline signal that the injection aims at:

- ``cost_spike``: hourly spend against the same traffic without the incident;
- ``hallucination_spike``: hallucination rate of the faulty prompt version against the baseline;
- ``timeout_surge``: share of all traces cut at the budget against the baseline timeout share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from workbench.errors import ConfigError

__all__ = ["LABEL_COLUMNS", "RUNBOOKS", "Incident", "default_incidents", "labels_frame"]

RUNBOOKS = ("cost_spike", "hallucination_spike", "timeout_surge")
LABEL_COLUMNS = ["runbook", "start", "end", "cause_dimension", "cause_value", "magnitude",
                 "description"]

# The fault each runbook's injection models; the generator only knows how to inject these.
_CAUSES = {
    "cost_spike": ("tool_name", "search_api"),
    "hallucination_spike": ("prompt_version", "8"),
    "timeout_surge": ("tool_name", "web_fetch"),
}
_DEFAULT_MAGNITUDE = {"cost_spike": 8.0, "hallucination_spike": 5.0, "timeout_surge": 20.0}


def _utc(ts: Any) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


@dataclass(frozen=True)
class Incident:
    """One injected incident: what broke, when (``[start, end)``, UTC) and how hard."""

    runbook: str
    start: pd.Timestamp
    end: pd.Timestamp
    cause_dimension: str
    cause_value: str
    magnitude: float
    description: str = ""

    def __post_init__(self) -> None:
        if self.runbook not in _CAUSES:
            raise ConfigError(f"unknown incident runbook {self.runbook!r}; "
                              f"expected one of {list(RUNBOOKS)}")
        object.__setattr__(self, "start", _utc(self.start))
        object.__setattr__(self, "end", _utc(self.end))
        if self.end <= self.start:
            raise ConfigError(f"{self.runbook}: incident end {self.end} is not after start "
                              f"{self.start}")
        if not self.magnitude > 0:
            raise ConfigError(f"{self.runbook}: magnitude must be > 0, got {self.magnitude!r}")

    def check_injectable(self) -> None:
        """Raise ConfigError unless the simulator can inject this incident as described."""
        if (self.cause_dimension, self.cause_value) != _CAUSES[self.runbook]:
            dim, val = _CAUSES[self.runbook]
            raise ConfigError(f"{self.runbook}: the simulator injects cause {dim}={val!r}, "
                              f"not {self.cause_dimension}={self.cause_value!r}")
        if not self.magnitude > 1.0:
            raise ConfigError(f"{self.runbook}: magnitude must be > 1 (a multiple of the "
                              f"baseline) to inject it, got {self.magnitude!r}")

    def covers(self, ts: pd.Timestamp) -> bool:
        return self.start <= ts < self.end


def default_incidents(start: str | pd.Timestamp, days: int,
                      magnitude: float | None = None) -> list[Incident]:
    """The three demo incidents, on different days, each a few hours long.

    With 7 days: timeout surge on day 4, cost spike on day 5, hallucination spike on day 6
    (1-based).
    Shorter datasets squeeze them onto the later days so each still has clean days before it as a
    baseline. ``magnitude`` overrides every incident's default strength.
    """
    if days < 1:
        raise ConfigError(f"days must be >= 1, got {days}")
    day0 = _utc(start).normalize()
    if days >= 6:
        offsets = {"timeout_surge": 3, "cost_spike": 4, "hallucination_spike": 5}
    else:
        last = days - 1
        offsets = {"timeout_surge": max(0, last - 2), "cost_spike": max(0, last - 1),
                   "hallucination_spike": last}

    def mag(runbook: str) -> float:
        return float(magnitude) if magnitude is not None else _DEFAULT_MAGNITUDE[runbook]

    h = pd.Timedelta(hours=1)
    t = day0 + pd.Timedelta(days=offsets["timeout_surge"])
    c = day0 + pd.Timedelta(days=offsets["cost_spike"])
    a = day0 + pd.Timedelta(days=offsets["hallucination_spike"])
    return [
        Incident("timeout_surge", t + 13 * h, t + 16 * h, *_CAUSES["timeout_surge"],
                 mag("timeout_surge"),
                 "web_fetch in planner-agent slows down; many planner requests hit the 8 s "
                 "budget"),
        Incident("cost_spike", c + 9 * h, c + 12 * h, *_CAUSES["cost_spike"],
                 mag("cost_spike"),
                 "search_api returns malformed JSON; tool-agent retries at ~8,000 tokens per "
                 "iteration until its loop guard stops it"),
        Incident("hallucination_spike", a + 10 * h, a + 15 * h, *_CAUSES["hallucination_spike"],
                 mag("hallucination_spike"),
                 "prompt rag-answer version 8 ships; hallucinations rise until the rollback to "
                 "version 7"),
    ]


def labels_frame(incidents: Sequence[Incident]) -> pd.DataFrame:
    """The incidents as a frame with UTC ``start``/``end``, one row per incident."""
    rows = [asdict(i) for i in incidents]
    df = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    for c in ("runbook", "cause_dimension", "cause_value", "description"):
        df[c] = df[c].astype("string")
    for c in ("start", "end"):
        df[c] = pd.to_datetime(df[c], utc=True).astype("datetime64[us, UTC]")
    df["magnitude"] = df["magnitude"].astype("float64")
    return df
