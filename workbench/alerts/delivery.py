"""Send alerts: dedupe by fingerprint, deliver, spool what could not be delivered.

Nothing is lost: when a sink fails, its alerts are appended to a spool file (JSON lines, each with
the sink URL it was meant for) and every later :func:`send` first retries the spool. An alert the
receiver *rejects* (400/422) is not spooled, since it would fail the same way on every run and
hold its batch back: it is reported in ``rejected`` with the receiver's message. A delivery
failure is reported in the returned :class:`Delivery`, not raised, so a report still completes
and says what went wrong.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.alerts.alert import Alert
from workbench.alerts.sinks import get_sink
from workbench.errors import AlertDeliveryError, AlertRejected, WorkbenchError
from workbench.settings import cache_dir

__all__ = ["Delivery", "dedupe", "default_spool", "send"]


@dataclass
class Delivery:
    """What happened to a batch: sent and spooled alerts, redelivered spool entries, errors."""

    sink: str
    sent: list[Alert] = field(default_factory=list)
    spooled: list[Alert] = field(default_factory=list)
    redelivered: list[Alert] = field(default_factory=list)
    rejected: list[Alert] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "sink": self.sink,
            "sent": [a.to_dict() for a in self.sent],
            "spooled": [a.to_dict() for a in self.spooled],
            "redelivered": [a.to_dict() for a in self.redelivered],
            "rejected": [a.to_dict() for a in self.rejected],
            "errors": list(self.errors),
        }


def default_spool() -> Path:
    """``$WORKBENCH_ALERT_SPOOL`` or ``alerts-spool.jsonl`` in the workbench cache folder."""
    env = os.environ.get("WORKBENCH_ALERT_SPOOL")
    return Path(env) if env else cache_dir("alerts-spool.jsonl")


def dedupe(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per fingerprint, the most severe kept; first-seen order."""
    best: dict[str, Alert] = {}
    for a in alerts:
        if a.fingerprint not in best or a.rank() > best[a.fingerprint].rank():
            best[a.fingerprint] = a
    return list(best.values())


def _read_spool(path: Path) -> list[tuple[str, Alert]]:
    if not path.is_file():
        return []
    entries = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            entries.append((rec["sink"], Alert.from_dict(rec["alert"])))
        except (ValueError, KeyError, TypeError, WorkbenchError) as exc:
            raise AlertDeliveryError(f"alert spool {path} line {n} is unreadable: {exc}") from exc
    return entries


def _write_spool(path: Path, entries: list[tuple[str, Alert]]) -> None:
    """Replace the spool atomically; an empty spool is removed."""
    try:
        if not entries:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(json.dumps({"sink": s, "alert": a.to_dict()}, sort_keys=True)
                               + "\n" for s, a in entries), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise AlertDeliveryError(f"alert spool {path} cannot be written ({exc.strerror or exc}); "
                                 f"{len(entries)} alert(s) could not be kept") from exc


def _try(sink_url: str, alerts: list[Alert]) -> tuple[list[Alert], list[Alert], list[str]]:
    """Deliver ``alerts``: (delivered, rejected, errors); what is in neither must be spooled.

    A rejected batch is retried one alert at a time, so one malformed alert cannot keep the
    others from their receiver.
    """
    try:
        get_sink(sink_url).deliver(alerts)
    except AlertRejected as exc:
        if len(alerts) == 1:
            return [], list(alerts), [f"AlertRejected: {exc} (not spooled: it would fail again)"]
        delivered, rejected, errors = [], [], []
        for a in alerts:
            d, r, e = _try(sink_url, [a])
            delivered += d
            rejected += r
            errors += e
        return delivered, rejected, errors
    except AlertDeliveryError as exc:
        return [], [], [f"AlertDeliveryError: {exc}"]
    return list(alerts), [], []


def send(alerts: Iterable[Alert], sink_url: str, *, spool: str | Path | None = None) -> Delivery:
    """Deliver ``alerts`` (deduped) to ``sink_url``, after retrying anything spooled earlier.

    Raises only for a bad sink URL (:class:`~workbench.errors.ConfigError`) or when the spool
    itself cannot be written (then the alerts truly could not be kept).
    """
    spool_path = Path(spool) if spool is not None else default_spool()
    get_sink(sink_url)  # a bad URL is a configuration error, not a delivery failure
    result = Delivery(sink=sink_url)
    still_spooled: list[tuple[str, Alert]] = []

    pending = _read_spool(spool_path)
    by_sink: dict[str, list[Alert]] = {}
    for s, a in pending:
        by_sink.setdefault(s, []).append(a)
    for s, batch in by_sink.items():
        delivered, rejected, errors = _try(s, batch)
        result.redelivered += delivered
        result.rejected += rejected
        kept = [a for a in batch if a not in delivered and a not in rejected]
        result.errors += [f"{e} (spooled alerts kept for the next run)" if kept else e
                          for e in errors]
        still_spooled.extend((s, a) for a in kept)

    batch = dedupe(alerts)
    if batch:
        delivered, rejected, errors = _try(sink_url, batch)
        result.sent += delivered
        result.rejected += rejected
        result.errors += errors
        kept = [a for a in batch if a not in delivered and a not in rejected]
        result.spooled += kept
        still_spooled.extend((sink_url, a) for a in kept)
    if pending or still_spooled:
        _write_spool(spool_path, still_spooled)
    return result
