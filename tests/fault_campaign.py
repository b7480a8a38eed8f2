"""A seeded campaign of alert-sending runs under faults, counted: what was generated, what the
receiver (a webhook that does not dedupe) committed, what was lost, what arrived twice.

Runs are child processes calling :func:`workbench.alerts.send` (what the report's kernel and
``workbench check`` call) through one spool, as a scheduler would start them. Each run belongs
to a *slot* (a report day, a check window) and carries that slot's alerts; a few alerts are
shared by the slots of one day (the same occurrence seen by several runs). Faults, drawn per run:

- ``ok``: the receiver answers;
- ``outage``: every attempt gets 500s or connection resets;
- ``stall``: the receiver holds each request longer than the run's deadline;
- ``drip``: the receiver answers one byte at a time, slower than the deadline allows;
- ``sigkill`` / ``sigterm``: the run is killed while the receiver holds its request (a stalled
  receiver, the signal sent once the request arrived) or at a random moment; a killed slot is
  run again later, as the next scheduled run would;
- ``pair``: two runs at once (two slots, or the same slot twice).

At the end the receiver comes back and one more run delivers what is still spooled.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from fault_receiver import FaultReceiver, make_alert

__all__ = ["KINDS", "Campaign", "run_campaign"]

KINDS = ("ok", "outage", "stall", "drip", "sigkill", "sigterm", "pair")
_SENDER = Path(__file__).with_name("fault_receiver.py")
_WEIGHTS = (3, 2, 2, 2, 2, 2, 2)


@dataclass
class Campaign:
    runs: int = 0
    kinds: Counter = field(default_factory=Counter)
    generated: set[str] = field(default_factory=set)
    delivered: Counter = field(default_factory=Counter)
    killed: int = 0
    reruns: int = 0
    seconds: float = 0.0
    exit_codes: Counter = field(default_factory=Counter)
    #: wall-clock seconds of each run (start to exit), by kind
    times: dict[str, list[float]] = field(default_factory=dict)
    #: seconds each finished run spent in send() (deadline to result), by kind
    send_times: dict[str, list[float]] = field(default_factory=dict)

    @property
    def lost(self) -> set[str]:
        return self.generated - set(self.delivered)

    @property
    def duplicates(self) -> dict[str, int]:
        return {fp: n for fp, n in self.delivered.items() if n > 1}

    @property
    def unexpected(self) -> set[str]:
        return set(self.delivered) - self.generated

    def summary(self) -> dict[str, object]:
        return {"runs": self.runs, "kinds": dict(sorted(self.kinds.items())),
                "killed": self.killed, "reruns": self.reruns,
                "generated": len(self.generated), "delivered": len(self.delivered),
                "lost": len(self.lost), "duplicates": sum(n - 1 for n in self.delivered.values()),
                "exit_codes": dict(sorted(self.exit_codes.items())),
                "seconds": round(self.seconds, 1),
                "max_run_s": {k: round(max(v), 2) for k, v in sorted(self.times.items())},
                "max_send_s": {k: round(max(v), 2) for k, v in sorted(self.send_times.items())
                               if v}}


def _fingerprints(slot: int, shared: int, per_run: int) -> list[str]:
    """The cases a slot's run sends: its own and the ones its day shares."""
    day = slot // 4
    return [f"s{slot}-{i}" for i in range(per_run)] + [f"d{day}-{i}" for i in range(shared)]


def _start(spool: Path, url: str, cases: list[str], budget_s: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(_SENDER), str(spool), url, "|".join(cases),
                             "0", f"{budget_s}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, campaign: Campaign, kind: str = "recovery",
            timeout: float = 120.0) -> None:
    out, _ = proc.communicate(timeout=timeout)
    campaign.exit_codes[proc.returncode] += 1
    if proc.returncode == 0 and out.strip():
        report = json.loads(out.strip().splitlines()[-1])  # the run's Delivery
        campaign.send_times.setdefault(kind, []).append(report["send_seconds"])


def run_campaign(workdir: Path, runs: int, seed: int, *, per_run: int = 4, shared: int = 1,
                 budget_s: float = 2.0, kinds: tuple[str, ...] = KINDS,
                 weights: tuple[int, ...] = _WEIGHTS) -> Campaign:
    """``runs`` faulted runs (re-runs of killed slots included), then the recovery run."""
    rng = random.Random(seed)
    spool = workdir / "cache" / "alerts" / "spool.jsonl"
    campaign = Campaign()
    started = time.monotonic()
    pending_slots: list[int] = []
    next_slot = 0
    with FaultReceiver(stall_s=budget_s * 3, drip_s=budget_s / 8) as recv:
        while campaign.runs < runs:
            if pending_slots and rng.random() < 0.7:
                slot = pending_slots.pop(0)
                campaign.reruns += 1
            else:
                slot, next_slot = next_slot, next_slot + 1
            # Every kind once first, then drawn at random.
            kind = kinds[campaign.runs] if campaign.runs < len(kinds) \
                else rng.choices(kinds, weights=weights[:len(kinds)])[0]
            campaign.kinds[kind] += 1
            cases = _fingerprints(slot, shared, per_run)
            recv.arrived.clear()
            if kind == "ok":
                recv.default, recv.script = "ok", []
            elif kind == "outage":
                recv.default = rng.choice(["500", "reset"])
            elif kind in ("stall", "drip"):
                recv.default = kind
            elif kind in ("sigkill", "sigterm"):
                recv.default = "stall"
            else:  # pair
                recv.default = rng.choice(["ok", "ok", "500", "stall"])
            campaign.generated |= {make_alert(c).fingerprint for c in cases}
            t0 = time.monotonic()
            proc = _start(spool, recv.url, cases, budget_s)
            campaign.runs += 1
            if kind == "pair":
                other = slot if rng.random() < 0.3 else next_slot
                if other == next_slot:
                    next_slot += 1
                more = _fingerprints(other, shared, per_run)
                campaign.generated |= {make_alert(c).fingerprint for c in more}
                second = _start(spool, recv.url, more, budget_s)
                campaign.runs += 1
                _finish(proc, campaign, kind)
                _finish(second, campaign, kind)
            elif kind in ("sigkill", "sigterm"):
                sig = signal.SIGKILL if kind == "sigkill" else signal.SIGTERM
                if rng.random() < 0.7:
                    recv.arrived.wait(30)  # mid-delivery: the receiver holds the request
                else:
                    time.sleep(rng.uniform(0.0, 0.6))  # anywhere: before, during or after
                proc.send_signal(sig)
                proc.communicate(timeout=60)
                campaign.exit_codes[proc.returncode] += 1
                campaign.killed += 1
                pending_slots.append(slot)  # the schedule runs that slot again
            else:
                _finish(proc, campaign, kind)
            campaign.times.setdefault(kind, []).append(time.monotonic() - t0)
        # The receiver is back; the killed slots' next runs and one last run drain the spool.
        recv.default, recv.script = "ok", []
        for slot in pending_slots:
            _finish(_start(spool, recv.url, _fingerprints(slot, shared, per_run), budget_s),
                    campaign)
            campaign.reruns += 1
        _finish(_start(spool, recv.url, [], budget_s), campaign)
        campaign.delivered = Counter(recv.counts)
    campaign.seconds = time.monotonic() - started
    return campaign
