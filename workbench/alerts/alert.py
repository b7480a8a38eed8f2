"""An :class:`Alert` is a :class:`~workbench.findings.Finding` in Alertmanager's shape.

Labels identify the incident (``alertname``, ``runbook``, ``signal``, ``severity``, the finding's
own labels and ``source_id``, which data it was judged on:
:attr:`workbench.sources.TraceSource.identity`, never a secret). Alertmanager merges alerts with
the same labels, so without it two projects' cost spikes in the same agent would be one alert
that either project's resolution ends. Annotations explain it, with the names Alertmanager users
expect: ``summary``, ``description``, ``runbook_url`` (the runbook to open, see
:func:`workbench.links.runbook_url`) and ``runbook_notebook`` (its path in the project), and
``source_id`` again for the post-mortem's ledger; ``generatorURL`` links the report that found
it. The fingerprint is the finding's, so the same incident seen twice is one alert, whatever the
sink.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.errors import ConfigError
from workbench.findings import ALL_TRAFFIC, SEVERITIES, Finding

__all__ = ["Alert", "alertname"]

_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")
#: Labels that name no part of the traffic: every alert's own, and a daily check's day.
_WHOLE_TRAFFIC_LABELS = frozenset({"alertname", "runbook", "signal", "severity", "day",
                                   "source_id"})


def alertname(runbook: str, signal: str) -> str:
    """``cost_spike`` + ``daily_cost_usd`` -> ``CostSpikeDailyCostUsd`` (Prometheus convention)."""
    words = re.split(r"[^a-zA-Z0-9]+", f"{runbook}_{signal}")
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def _label_name(key: str) -> str:
    """Prometheus label names allow ``[a-zA-Z_][a-zA-Z0-9_]*`` only."""
    name = _LABEL_NAME.sub("_", str(key))
    return f"_{name}" if name[:1].isdigit() else name


def _iso(ts: pd.Timestamp) -> str:
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.isoformat().replace("+00:00", "Z")


def _runbook_notebook(name: str) -> str | None:
    """The notebook a runbook points at; None for pseudo-runbooks such as the report itself."""
    from workbench import runbooks

    try:
        return runbooks.load(name).notebook
    except ConfigError:
        return None


def _runbook_url(name: str) -> str | None:
    """The runbook's URL (:func:`workbench.links.runbook_url`); None for pseudo-runbooks."""
    from workbench.links import runbook_url

    notebook = _runbook_notebook(name)
    return runbook_url(name, notebook) if notebook else None


def _description(finding: Finding) -> str:
    """The finding's figures in one line; a finding about the run itself (a failed source)
    has none, and says so instead of showing NaN."""
    unit = f" {finding.unit}" if finding.unit else ""
    seen, base = (math.isfinite(x) for x in (finding.observed, finding.baseline))
    if seen and base:
        return (f"observed {finding.observed:.4g}{unit} against a baseline of "
                f"{finding.baseline:.4g}{unit} ({finding.status})")
    if seen:
        return f"observed {finding.observed:.4g}{unit}, no baseline ({finding.status})"
    return f"nothing measured: see the summary ({finding.status})"


@dataclass(frozen=True)
class Alert:
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: str
    ends_at: str
    fingerprint: str
    generator_url: str = ""

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "info")

    @property
    def name(self) -> str:
        return self.labels["alertname"]

    @property
    def all_traffic(self) -> bool:
        """Whether the alert judged all traffic: no label narrows it to an agent or a slice
        (a release, a tool, a model), or its agent label is all traffic's."""
        if self.labels.get("agent") == ALL_TRAFFIC:
            return True
        return not set(self.labels) - _WHOLE_TRAFFIC_LABELS

    @classmethod
    def from_finding(cls, finding: Finding, *, notebook: str | None = None,
                     generator_url: str = "", source_id: str | None = None) -> Alert:
        """Build the alert for ``finding``; ``notebook`` defaults to the runbook's own.
        ``generator_url`` is the report that found it (an absolute URI, or empty);
        ``source_id`` the identity of the data it was judged on, when known."""
        labels = {_label_name(k): str(v) for k, v in finding.labels.items()}
        labels.update({
            "alertname": alertname(finding.runbook, finding.signal),
            "runbook": finding.runbook,
            "signal": finding.signal,
            "severity": finding.severity,
        })
        annotations = {"summary": finding.summary, "description": _description(finding)}
        notebook = notebook or _runbook_notebook(finding.runbook)
        if notebook:
            annotations["runbook_notebook"] = notebook
        if url := _runbook_url(finding.runbook):
            annotations["runbook_url"] = url
        if source_id:
            labels["source_id"] = annotations["source_id"] = source_id
        return cls(labels=labels, annotations=annotations, starts_at=_iso(finding.start),
                   ends_at=_iso(finding.end), fingerprint=finding.fingerprint,
                   generator_url=generator_url)

    def to_dict(self) -> dict[str, Any]:
        """The alert as written by file sinks and spools: Alertmanager fields plus fingerprint."""
        out = self.to_postable()
        out["fingerprint"] = self.fingerprint
        return out

    def to_postable(self) -> dict[str, Any]:
        """Alertmanager API v2 ``PostableAlert`` (what ``POST /api/v2/alerts`` takes)."""
        out: dict[str, Any] = {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
        }
        if self.generator_url:
            out["generatorURL"] = self.generator_url
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        """Read back what :meth:`to_dict` wrote (spool files)."""
        try:
            return cls(labels=dict(data["labels"]), annotations=dict(data["annotations"]),
                       starts_at=data["startsAt"], ends_at=data["endsAt"],
                       fingerprint=data["fingerprint"],
                       generator_url=data.get("generatorURL", ""))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"not an alert record: missing or bad field {exc}") from exc

    def rank(self) -> int:
        """Severity as a number, for keeping the worst of duplicates."""
        return SEVERITIES.index(self.severity) if self.severity in SEVERITIES else -1
