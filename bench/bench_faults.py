"""Fault benchmark: alert delivery through kills, outages and slow receivers, counted.

    python bench/bench_faults.py [--runs 120] [--seed 2026]

Runs the fault campaign of ``tests/fault_campaign.py``: at least ``--runs`` sender runs (child
processes calling ``workbench.alerts.send`` through one spool, as scheduled reports and checks
do) against a webhook receiver that does not dedupe, with random receiver outages (500s,
resets), stalls and slow drips past the run's deadline, SIGKILL and SIGTERM mid-delivery or at
random moments, and concurrent pairs; killed slots run again, as the next scheduled run would;
at the end the receiver recovers and one more run drains the spool.

Prints the counts (generated, delivered, lost, delivered twice) and, against the baseline of the
same number of fault-free runs measured in the same process, the time per run. Exits 1 when an
alert was lost or delivered twice.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fault_campaign import run_campaign  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=120)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--baseline-runs", type=int, default=30,
                        help="fault-free runs for the time-per-run baseline")
    parser.add_argument("--budget", type=float, default=2.0,
                        help="each run's deadline in seconds (stalls and drips outlast it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        base = run_campaign(Path(tmp) / "baseline", runs=args.baseline_runs, seed=args.seed,
                            kinds=("ok",), weights=(1,), budget_s=args.budget)
        faulted = run_campaign(Path(tmp) / "faults", runs=args.runs, seed=args.seed,
                               budget_s=args.budget)
    s = faulted.summary()
    per_base = base.seconds / max(base.runs, 1)
    per_run = faulted.seconds / max(faulted.runs, 1)
    print(f"fault campaign: {s['runs']} runs (seed {args.seed}), kinds {s['kinds']}")
    print(f"  killed {s['killed']} (slots re-run {s['reruns']}), exit codes {s['exit_codes']}")
    print(f"  alerts generated {s['generated']}, delivered {s['delivered']}, "
          f"lost {s['lost']}, delivered twice {s['duplicates']} "
          f"(receiver does not dedupe)")
    print(f"  baseline (fault-free, {base.runs} runs): {per_base:.2f} s/run; "
          f"faulted: {per_run:.2f} s/run; ratio {per_run / per_base:.2f}x")
    stalled = faulted.send_times.get("stall", []) + faulted.send_times.get("drip", [])
    print(f"  send() under a stall or slow drip: longest {max(stalled, default=0):.2f} s with a "
          f"{args.budget:g} s deadline (fault-free longest "
          f"{max(base.send_times.get('ok', [0])):.2f} s); whole runs, process start included, "
          f"longest by kind {s['max_run_s']}")
    print(json.dumps({"faulted": s, "baseline": base.summary()}))
    ok = s["lost"] == 0 and s["duplicates"] == 0 and s["generated"] == s["delivered"] \
        and not faulted.unexpected and base.summary()["lost"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
