"""The alert spool: alerts persisted *before* their first delivery attempt, removed once settled.

Files, all in one folder (mode 0700; every file 0600), named after the spool file
(default ``<cache>/alerts/spool.jsonl``, see :func:`default_spool`):

- ``spool.jsonl`` -- pending entries, one JSON object a line: ``id``, ``sink`` (the sink's
  :func:`~workbench.alerts.sinks.sink_key`, never its URL), ``alert``, ``spooled_at``.
- ``spool.inbox/`` -- write-ahead files, one per :meth:`Spool.write_ahead`, created by atomic
  rename without waiting for any lock (a run that cannot get a lock still keeps its alerts);
  whoever next holds the lock merges them into ``spool.jsonl``.
- ``spool.sent.jsonl`` -- the ledger: the last outcome (``delivered``, ``rejected``,
  ``dropped``) per sink and alert occurrence, so a re-run never sends an alert twice to a
  receiver that does not dedupe (webhook, Slack, file). Each record also says whose the
  alert was (``agent``, ``all_traffic``) and which data it was judged on (``source_id``):
  the folder is shared by every project on the machine, and a post-mortem counts only its
  own source's alerts. Alertmanager merges alerts itself and
  is sent every time (that also renews them).
- ``spool.lock`` -- held while the files above are read and replaced (never across a network
  wait); ``spool.deliver-<digest>.lock`` -- one per sink, held while delivering to it, so two
  runs never post the same entries at once.

Every file is replaced atomically (unique temporary name, fsync, rename). Entries expire after
``ttl`` and the spool keeps at most ``max_entries``; what is dropped is counted, recorded in the
ledger and reported by :func:`~workbench.alerts.send`, never silently lost.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.alerts.alert import Alert
from workbench.deadline import Deadline, active_deadline
from workbench.errors import AlertDeliveryError, WorkbenchError
from workbench.settings import cache_dir

__all__ = ["DEFAULT_MAX_ENTRIES", "DEFAULT_TTL", "LEDGER_TTL", "Entry", "Merge", "Spool",
           "SpoolBusy", "default_spool", "entry_key"]

#: Pending alerts older than this are dropped (and reported): a week-old page helps nobody.
DEFAULT_TTL = dt.timedelta(days=7)
#: At most this many pending entries; the oldest beyond it are dropped (and reported).
DEFAULT_MAX_ENTRIES = 10_000
#: How long the ledger remembers a delivery (re-runs within it never send twice).
LEDGER_TTL = dt.timedelta(days=30)
#: A temporary file older than this was left by a writer that died.
_STALE_TMP_S = 600.0
_RESOLVED_AT = "resolved_at"  # the mark workbench.alerts.alertmanager.resolved() sets


class SpoolBusy(AlertDeliveryError):
    """Another run held the spool or the sink's delivery lock for longer than we could wait."""


def default_spool() -> Path:
    """``$WORKBENCH_ALERT_SPOOL`` or ``alerts/spool.jsonl`` in the workbench cache folder."""
    env = os.environ.get("WORKBENCH_ALERT_SPOOL")
    return Path(env) if env else cache_dir("alerts", "spool.jsonl")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _parse(ts: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def entry_key(sink: str, alert: Alert) -> tuple[str, str, str, str, str]:
    """One alert *occurrence* at one sink: sink, fingerprint, start, firing/resolved, and the
    data it was judged on.

    The start is part of it because a fingerprint names an incident kind (runbook, signal,
    labels): the same kind a week later is a new occurrence and must reach the receiver again.
    The source is, because the spool is the machine's: two projects' alerts with the same
    labels and hour are two occurrences, and the second is no duplicate of the first.
    """
    state = "resolved" if _RESOLVED_AT in alert.annotations else "firing"
    return (sink, alert.fingerprint, alert.starts_at, state,
            alert.annotations.get("source_id", ""))


def sink_dedupes(sink: str) -> bool:
    """Alertmanager merges alerts with the same labels: sending again is harmless (and renews
    the alert). Every other receiver shows each post: those get each occurrence once."""
    return sink.startswith("alertmanager+")


@dataclass(frozen=True)
class Entry:
    """One pending alert for one sink."""

    id: str
    sink: str
    alert: Alert
    spooled_at: str

    @classmethod
    def new(cls, sink: str, alert: Alert, now: dt.datetime | None = None) -> Entry:
        return cls(id=uuid.uuid4().hex, sink=sink, alert=alert, spooled_at=_iso(now or _now()))

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return entry_key(self.sink, self.alert)

    def to_json(self) -> str:
        return json.dumps({"id": self.id, "sink": self.sink, "spooled_at": self.spooled_at,
                           "alert": self.alert.to_dict()}, sort_keys=True)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Entry:
        return cls(id=str(rec.get("id") or uuid.uuid4().hex), sink=str(rec["sink"]),
                   alert=Alert.from_dict(rec["alert"]),
                   spooled_at=str(rec.get("spooled_at") or _iso(_now())))


@dataclass
class Merge:
    """What one merge of the inbox into the spool did."""

    pending: list[Entry] = field(default_factory=list)
    #: entry id of a write-ahead entry -> the pending entry it joined (same occurrence)
    joined: dict[str, str] = field(default_factory=dict)
    #: write-ahead entries whose occurrence the ledger says was delivered already
    already_sent: list[Entry] = field(default_factory=list)
    #: (entry, reason) dropped by expiry or the size cap
    dropped: list[tuple[Entry, str]] = field(default_factory=list)
    #: inbox files that could not be read (moved aside as ``*.corrupt``)
    problems: list[str] = field(default_factory=list)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Spool:
    """The spool files named after ``path`` (see the module docstring)."""

    def __init__(self, path: str | Path | None = None, *, ttl: dt.timedelta = DEFAULT_TTL,
                 max_entries: int = DEFAULT_MAX_ENTRIES,
                 ledger_ttl: dt.timedelta = LEDGER_TTL) -> None:
        self.path = Path(path) if path is not None else default_spool()
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.ttl = ttl
        self.max_entries = max_entries
        self.ledger_ttl = ledger_ttl
        stem = self.path.name.removesuffix(".jsonl")
        self.folder = self.path.parent
        self.ledger_path = self.folder / f"{stem}.sent.jsonl"
        self.inbox = self.folder / f"{stem}.inbox"
        self.lock_path = self.folder / f"{stem}.lock"
        self._stem = stem

    def __repr__(self) -> str:
        return f"Spool({self.path})"

    # -- files ----------------------------------------------------------------------------------
    def _ensure_folders(self) -> None:
        for folder in (self.folder, self.inbox):
            try:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                if folder.stat().st_mode & 0o077 and folder.stat().st_uid == os.getuid():
                    folder.chmod(0o700)
            except OSError as exc:
                raise AlertDeliveryError(f"alert spool folder {folder} cannot be created "
                                         f"({exc.strerror or exc})") from exc

    def _replace(self, target: Path, lines: Iterable[str]) -> None:
        """Write ``lines`` to ``target`` atomically (mode 0600); no lines removes it."""
        text = "".join(line + "\n" for line in lines)
        if not text:
            target.unlink(missing_ok=True)
            _fsync_dir(target.parent)
            return
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(target.parent)

    def _read_lines(self, path: Path) -> list[dict[str, Any]]:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                raise AlertDeliveryError(f"alert spool {path} line {n} is unreadable: {exc}"
                                         ) from exc
            out.append(rec)
        return out

    def _entries(self, path: Path) -> list[Entry]:
        out = []
        for n, rec in enumerate(self._read_lines(path), 1):
            try:
                out.append(Entry.from_record(rec))
            except (KeyError, TypeError, WorkbenchError) as exc:
                raise AlertDeliveryError(f"alert spool {path} entry {n} is unreadable: {exc}"
                                         ) from exc
        return out

    def pending(self) -> list[Entry]:
        """The entries in ``spool.jsonl`` (without merging the inbox; no lock taken)."""
        return self._entries(self.path)

    def inbox_entries(self) -> list[Entry]:
        """Write-ahead entries not merged yet (no lock taken)."""
        if not self.inbox.is_dir():
            return []
        return [e for f in sorted(self.inbox.glob("*.jsonl")) for e in self._entries(f)]

    def ledger(self) -> dict[tuple[str, str, str, str, str], dict[str, Any]]:
        """The last outcome per occurrence, within :attr:`ledger_ttl`."""
        horizon = _now() - self.ledger_ttl
        out = {}
        for rec in self._read_lines(self.ledger_path):
            try:
                key = (rec["sink"], rec["fingerprint"], rec["starts_at"], rec["state"],
                       rec.get("source_id", ""))
                if _parse(rec["at"]) >= horizon:
                    out[key] = rec
            except (KeyError, TypeError, ValueError):
                continue  # an old or foreign line: it only costs a dedupe
        return out

    # -- write-ahead ------------------------------------------------------------------------------
    def write_ahead(self, entries: list[Entry]) -> Path | None:
        """Persist ``entries`` before any delivery attempt; no lock needed (unique file name,
        atomic rename). Raises AlertDeliveryError when they cannot be kept."""
        if not entries:
            return None
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        target = self.inbox / name
        try:
            self._ensure_folders()
            self._replace(target, (e.to_json() for e in entries))
        except (OSError, AlertDeliveryError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise AlertDeliveryError(f"alert spool {self.inbox} cannot be written ({why}); "
                                     f"{len(entries)} alert(s) could not be kept") from exc
        return target

    # -- locks ------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _flock(self, path: Path, deadline: Deadline, what: str) -> Iterator[None]:
        self._ensure_folders()
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise
                if deadline.expired:
                    raise SpoolBusy(f"{what} is held by another run (lock {path.name}); "
                                    "the alerts stay spooled for the next run")
                time.sleep(min(0.05, max(deadline.remaining(), 0.001)))
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def locked(self, deadline: Deadline | None = None, wait_s: float = 30.0
               ) -> contextlib.AbstractContextManager[None]:
        """Hold ``spool.lock`` (waiting at most ``wait_s`` and never past ``deadline``)."""
        d = (deadline or active_deadline() or Deadline(None)).within(wait_s)
        return self._flock(self.lock_path, d, f"alert spool {self.path}")

    def delivering(self, sink: str, deadline: Deadline | None = None, wait_s: float = 120.0
                   ) -> contextlib.AbstractContextManager[None]:
        """Hold ``sink``'s delivery lock while posting its entries."""
        digest = hashlib.sha256(sink.encode()).hexdigest()[:16]
        d = (deadline or active_deadline() or Deadline(None)).within(wait_s)
        return self._flock(self.folder / f"{self._stem}.deliver-{digest}.lock", d,
                           "delivery to this sink")

    # -- merge and settle (callers hold :meth:`locked`) ---------------------------------------------
    def _sweep_tmp(self) -> None:
        cutoff = time.time() - _STALE_TMP_S
        for folder in (self.folder, self.inbox):
            for tmp in folder.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    if tmp.stat().st_mtime < cutoff:
                        tmp.unlink()

    def merge(self, now: dt.datetime | None = None) -> Merge:
        """Fold the inbox into the spool: dedupe by occurrence against what is pending and what
        the ledger says was delivered, expire, cap. Call under :meth:`locked`."""
        now = now or _now()
        self._ensure_folders()
        self._sweep_tmp()
        result = Merge()
        ledger = self.ledger()
        merged: dict[tuple, Entry] = {}

        def delivered_since(e: Entry) -> bool:
            rec = ledger.get(e.key)
            return (rec is not None and rec.get("outcome") == "delivered"
                    and not sink_dedupes(e.sink) and _parse(rec["at"]) >= _parse(e.spooled_at))

        try:
            current = self.pending()
        except AlertDeliveryError as exc:
            # One bad line must not block every later delivery: keep the file for a person to
            # read, start a fresh spool, and say so.
            aside = self.path.with_name(f"{self.path.name}.corrupt-{time.time_ns()}")
            with contextlib.suppress(OSError):
                self.path.rename(aside)
            result.problems.append(f"{exc}; moved aside to {aside.name}")
            current = []
        for e in current:
            if delivered_since(e):
                continue  # delivered, but the run died before it could remove the entry
            merged.setdefault(e.key, e)
        files = sorted(self.inbox.glob("*.jsonl"))
        for f in files:
            try:
                incoming = self._entries(f)
            except AlertDeliveryError as exc:
                result.problems.append(str(exc))
                with contextlib.suppress(OSError):
                    f.rename(f.with_suffix(".corrupt"))
                continue
            for e in incoming:
                rec = ledger.get(e.key)
                if (rec is not None and rec.get("outcome") == "delivered"
                        and not sink_dedupes(e.sink)):
                    result.already_sent.append(e)
                elif e.key in merged:
                    result.joined[e.id] = merged[e.key].id
                else:
                    merged[e.key] = e
        keep = sorted(merged.values(), key=lambda e: e.spooled_at)
        horizon = now - self.ttl
        for e in [e for e in keep if _parse(e.spooled_at) < horizon]:
            result.dropped.append((e, f"expired: spooled at {e.spooled_at}, older than "
                                      f"{self.ttl}"))
        keep = [e for e in keep if _parse(e.spooled_at) >= horizon]
        if len(keep) > self.max_entries:
            over = len(keep) - self.max_entries
            result.dropped += [(e, f"spool full: more than {self.max_entries} pending alerts, "
                                   "oldest dropped") for e in keep[:over]]
            keep = keep[over:]
        if result.dropped:
            self._record([(e, "dropped", reason) for e, reason in result.dropped], now)
        self._replace(self.path, (e.to_json() for e in keep))
        for f in files:
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
        _fsync_dir(self.inbox)
        result.pending = keep
        return result

    def _record(self, outcomes: list[tuple[Entry, str, str]], now: dt.datetime) -> None:
        ledger = self.ledger()
        for e, outcome, note in outcomes:
            sink, fp, starts_at, state, _ = e.key
            rec = {"sink": sink, "fingerprint": fp, "starts_at": starts_at, "state": state,
                   "outcome": outcome, "at": _iso(now), "alertname": e.alert.labels.get(
                       "alertname", "")}
            if agent := e.alert.labels.get("agent"):
                rec["agent"] = agent  # so a post-mortem finds the alert of its own agent
            if e.alert.all_traffic:
                rec["all_traffic"] = True  # ... or one on all traffic, which has every agent's
            if source_id := e.alert.annotations.get("source_id"):
                rec["source_id"] = source_id  # ... judged on its own data
            if note:
                rec["note"] = note
            ledger[e.key] = rec
        self._replace(self.ledger_path,
                      (json.dumps(r, sort_keys=True) for r in
                       sorted(ledger.values(), key=lambda r: r["at"])))

    def settle(self, delivered: list[Entry], rejected: list[Entry],
               now: dt.datetime | None = None) -> None:
        """Record outcomes in the ledger, then remove those entries from the spool (in that
        order: a crash in between leaves an entry the ledger already marks delivered, which the
        next merge removes instead of sending again). Call under :meth:`locked`."""
        if not delivered and not rejected:
            return
        now = now or _now()
        self._record([(e, "delivered", "") for e in delivered]
                     + [(e, "rejected", "") for e in rejected], now)
        done = {e.id for e in delivered} | {e.id for e in rejected}
        self._replace(self.path, (e.to_json() for e in self.pending() if e.id not in done))
