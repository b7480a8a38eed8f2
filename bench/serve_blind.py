"""Serve one blind dataset through the Langfuse contract double until stopped, so the CLI can read
it as it reads a real Langfuse project (``--source langfuse``).

The dataset is generated as ``bench_blind.py`` generates it (same seeds, days and incidents);
the double's URL and keys are written as shell ``export`` lines to ``--env`` and the injected
incidents (the generator's labels) are printed, so a rendered report can be read against them.

    python bench/serve_blind.py --data stacks --magnitude 3 --env /tmp/lf.env &
    . /tmp/lf.env && workbench report daily --source langfuse --date 2026-11-18 --out /tmp/out
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import blind_data as bd  # noqa: E402
from bench_blind import DATASETS, END_DAY, QUIET_SEED, _traffic  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", choices=sorted(DATASETS), default="sdk")
    ap.add_argument("--magnitude", type=float, default=3.0,
                    help="the incidents' magnitude; 0: the quiet project (default 3)")
    ap.add_argument("--volume", type=float, default=1.0)
    ap.add_argument("--env", required=True, help="file the export lines are written to")
    args = ap.parse_args()
    module, incidents_at = DATASETS[args.data]
    gen = importlib.import_module(module)
    t0 = time.perf_counter()
    if args.magnitude > 0:
        seed = 200 + int(args.magnitude * 10)
        incidents = [bd.Incident(rb, day, hour, args.magnitude) for rb, day, hour in incidents_at]
    else:
        seed, incidents = QUIET_SEED, []
    data = gen.generate(seed=seed, end_day=END_DAY, days=30, incidents=incidents,
                        **_traffic(gen, args.volume))
    print(f"{args.data} seed {seed}: {len(data.truth):,} traces in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    for label in data.labels:
        print(f"  {label.runbook}: {label.agent} {label.start:%Y-%m-%dT%H:%M}"
              f"..{label.end:%Y-%m-%dT%H:%M} cause {label.cause}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with data.double() as dbl:
        # the double's own keys, still kept from other users of the machine
        fd = os.open(args.env, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as env:
            env.write(f"export LANGFUSE_BASE_URL={dbl.base_url}\n"
                      f"export LANGFUSE_PUBLIC_KEY={dbl.public_key}\n"
                      f"export LANGFUSE_SECRET_KEY={dbl.secret_key}\n")
        print(f"serving at {dbl.base_url}", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
