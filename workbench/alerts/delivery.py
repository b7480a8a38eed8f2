"""Send alerts: persist first, deliver, settle -- nothing lost, nothing sent twice.

:func:`send` works in this order:

1. **write-ahead**: the run's alerts (deduped by fingerprint) are written to the spool's inbox
   before any delivery attempt, so a kill, a SIGTERM or a crash at any later point loses none;
2. under the sink's delivery lock (other runs delivering to the same sink wait, within the
   run's deadline), the inbox is merged into the spool: deduped against what is pending and
   what the ledger says was already delivered, expired entries and those beyond the size cap
   dropped and reported;
3. every pending entry for this sink is posted, chunk by chunk, each chunk recorded in the
   ledger and removed from the spool as soon as the receiver acknowledged it.

What the receiver *rejects* (400/422) is recorded and reported, not retried (it would fail the
same way on every run). A delivery failure is reported in the returned :class:`Delivery`, not
raised, so a report still completes and says what went wrong. Every network wait is bounded by
the active :class:`~workbench.deadline.Deadline` (or the one passed in).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.alerts.alert import Alert
from workbench.alerts.sinks import Sink, get_sink, sink_key
from workbench.alerts.spool import (
    Entry,
    Spool,
    SpoolBusy,
    _now,
    _parse,
    default_spool,
    entry_key,
    sink_dedupes,
)
from workbench.deadline import Deadline, active_deadline
from workbench.errors import AlertDeliveryError, AlertRejected

__all__ = ["Delivery", "dedupe", "default_spool", "send"]


@dataclass
class Delivery:
    """What happened to a run's alerts at one sink.

    ``sent``: this run's alerts the receiver acknowledged; ``redelivered``: earlier runs' alerts
    delivered from the spool; ``spooled``: this run's alerts kept for the next run;
    ``rejected``: refused by the receiver (not retried); ``skipped``: already delivered by an
    earlier run to a receiver that does not dedupe; ``dropped``: removed from the spool by
    expiry or its size cap, with the reason.
    """

    sink: str
    sent: list[Alert] = field(default_factory=list)
    spooled: list[Alert] = field(default_factory=list)
    redelivered: list[Alert] = field(default_factory=list)
    rejected: list[Alert] = field(default_factory=list)
    skipped: list[Alert] = field(default_factory=list)
    dropped: list[tuple[Alert, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def degraded(self) -> bool:
        """Something did not reach its receiver: spooled, rejected or dropped alerts."""
        return bool(self.spooled or self.rejected or self.dropped)

    def problems(self) -> list[str]:
        """One line per kind of alert that did not reach the receiver."""
        out = []
        if self.rejected:
            out.append(f"{len(self.rejected)} alert(s) rejected by the receiver (not retried)")
        if self.spooled:
            out.append(f"{len(self.spooled)} alert(s) not delivered, spooled for the next run")
        if self.dropped:
            out.append(f"{len(self.dropped)} spooled alert(s) dropped (expired or spool full)")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "sink": self.sink,
            "sent": [a.to_dict() for a in self.sent],
            "spooled": [a.to_dict() for a in self.spooled],
            "redelivered": [a.to_dict() for a in self.redelivered],
            "rejected": [a.to_dict() for a in self.rejected],
            "skipped": [a.to_dict() for a in self.skipped],
            "dropped": [{**a.to_dict(), "reason": why} for a, why in self.dropped],
            "errors": list(self.errors),
            "degraded": self.degraded,
            "problems": self.problems(),
        }


def dedupe(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per fingerprint and source, the most severe kept; first-seen order."""
    best: dict[tuple[str, str], Alert] = {}
    for a in alerts:
        key = (a.fingerprint, a.labels.get("source_id", ""))
        if key not in best or a.rank() > best[key].rank():
            best[key] = a
    return list(best.values())


Settle = Callable[[list[Entry], list[Entry]], None]


def _deliver(sink: Sink, entries: list[Entry], settle: Settle) -> list[str]:
    """Post ``entries``; settle each acknowledged or rejected part at once. Errors returned.

    A rejected batch is retried one alert at a time, so one malformed alert cannot keep the
    others from their receiver.
    """
    try:
        sink.deliver([e.alert for e in entries])
    except AlertRejected as exc:
        if len(entries) == 1:
            settle([], entries)
            return [f"AlertRejected: {exc} (not spooled: it would fail again)"]
        errors: list[str] = []
        for e in entries:
            errors += _deliver(sink, [e], settle)
        return errors
    except AlertDeliveryError as exc:
        return [f"AlertDeliveryError: {exc}"]
    settle(entries, [])
    return []


def send(alerts: Iterable[Alert], sink_url: str, *, spool: str | Path | Spool | None = None,
         deadline: Deadline | None = None) -> Delivery:
    """Deliver ``alerts`` (deduped) to ``sink_url``, with whatever is spooled for that sink.

    ``spool`` is a :class:`Spool` or the path of its file (default :func:`default_spool`);
    ``deadline`` bounds every wait (default: the active deadline, else none).

    Raises only for a bad sink URL or credentials (:class:`~workbench.errors.ConfigError`) or
    when the alerts cannot be persisted at all (:class:`AlertDeliveryError`).
    """
    sink = get_sink(sink_url)  # a bad URL is a configuration error, not a delivery failure
    store = spool if isinstance(spool, Spool) else Spool(spool)
    deadline = deadline or active_deadline() or Deadline(None)
    key = sink.key
    result = Delivery(sink=sink_url)
    batch = dedupe(alerts)
    mine = {entry_key(key, a): a for a in batch}
    written_at = _now()
    store.write_ahead([Entry.new(key, a, written_at) for a in batch])
    outcome: dict[tuple, str] = {}

    def settle(delivered: list[Entry], rejected: list[Entry]) -> None:
        with store.locked(deadline.within(60.0)):
            store.settle(delivered, rejected)
        for e in delivered:
            outcome[e.key] = "delivered"
            if e.key not in mine:
                result.redelivered.append(e.alert)
        for e in rejected:
            outcome[e.key] = "rejected"
            result.rejected.append(mine.get(e.key, e.alert))

    with deadline.active():
        try:
            with store.delivering(key, deadline):
                with store.locked(deadline):
                    merge = store.merge()
                result.errors += merge.problems
                result.dropped += [(e.alert, why) for e, why in merge.dropped]
                for e in merge.already_sent:
                    if e.key in mine:
                        outcome[e.key] = "skipped"
                for e, _ in merge.dropped:
                    if e.key in mine:
                        outcome[e.key] = "dropped"
                todo = [e for e in merge.pending if e.sink == key]
                size = sink.chunk or max(len(todo), 1)
                for i in range(0, len(todo), size):
                    errors = _deliver(sink, todo[i:i + size], settle)
                    if errors and not any(e.startswith("AlertRejected") for e in errors):
                        # The receiver is failing: the rest waits for the next run rather than
                        # spending the deadline on the same failure chunk after chunk.
                        result.errors += [f"{err} (spooled alerts kept for the next run)"
                                          for err in errors]
                        break
                    result.errors += errors
        except SpoolBusy as exc:
            result.errors.append(f"SpoolBusy: {exc}")
    if any(k not in outcome for k in mine):
        # A concurrent run may have merged and settled this run's entries: the ledger knows.
        ledger = store.ledger()
        for k in mine:
            rec = ledger.get(k)
            if k in outcome or not rec:
                continue
            if _parse(rec["at"]) >= written_at:
                outcome[k] = {"delivered": "delivered", "rejected": "rejected",
                              "dropped": "dropped"}.get(rec.get("outcome"), "")
            elif rec.get("outcome") == "delivered" and not sink_dedupes(key):
                outcome[k] = "skipped"  # delivered before this run; another merge said so
                if outcome[k] == "rejected":
                    result.rejected.append(mine[k])
                elif outcome[k] == "dropped":
                    result.dropped.append((mine[k], rec.get("note", "dropped")))
    for k, a in mine.items():
        state = outcome.get(k)
        if state == "delivered":
            result.sent.append(a)
        elif state == "skipped":
            result.skipped.append(a)
        elif not state:
            result.spooled.append(a)
    return result


def adopt_legacy_spool(path: str | Path, spool: Spool | None = None) -> int:
    """Move the entries of an old-format spool (``{"sink": URL, "alert": ...}`` lines, kept in
    a report's out folder) into ``spool``, naming each sink by :func:`sink_key`, and delete
    the old file, which may hold webhook URLs with their secrets. Returns the count moved."""
    old = Path(path)
    if not old.is_file():
        return 0
    store = spool or Spool()
    entries = []
    for rec in store._read_lines(old):  # noqa: SLF001 - the same line reader
        try:
            entries.append(Entry.new(sink_key(rec["sink"]), Alert.from_dict(rec["alert"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise AlertDeliveryError(f"old alert spool {old} holds an unreadable entry: {exc}"
                                     ) from exc
    store.write_ahead(entries)
    old.unlink()
    return len(entries)
