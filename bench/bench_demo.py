"""Wall time of generating and writing the default demo, against the raw OpenTelemetry span
creation it cannot avoid (the named baseline), all measured in this one process; plus the
realistic profile's default 28 days for reference.

    python bench/bench_demo.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from workbench.simulate import default_incidents, ensure_demo, generate, write_demo
from workbench.simulate.generator import DEFAULT_START, _day0, plan_requests
from workbench.simulate.styles import SpanRecorder

SEED, DAYS, PER_DAY = 7, 7, 5000


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    day0 = _day0(DEFAULT_START)
    plans, _ = plan_requests(SEED, DAYS, PER_DAY, day0, default_incidents(day0, DAYS))

    def record():
        rec = SpanRecorder(SEED)
        for p in plans:
            rec.record(p)
        return rec.spans

    spans, t_spans = _timed(record)
    n_spans = len(spans)
    del spans
    plans.clear()  # the plans are not needed any more: free them

    ds, t_gen = _timed(lambda: generate(seed=SEED, days=DAYS, traces_per_day=PER_DAY))
    n_obs = len(ds.observations)
    rows = n_obs + len(ds.traces) + len(ds.scores)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "demo"
        _, t_write = _timed(lambda: write_demo(root, dataset=ds))
        _, t_ensure_present = _timed(lambda: ensure_demo(root))
        fresh = Path(tmp) / "fresh"
        _, t_ensure_fresh = _timed(lambda: ensure_demo(fresh))

    real, t_real = _timed(lambda: generate(profile="realistic"))
    n_real = len(real.observations) + len(real.traces) + len(real.scores)
    print(f"default demo: {DAYS} days x {PER_DAY} traces/day, {n_obs:,} observations "
          f"({n_spans:,} spans), {rows:,} rows in all frames")
    print(f"{'step':<38}{'seconds':>9}{'rows/s':>12}{'x baseline':>12}")
    table = [
        ("OTel span creation alone (baseline)", t_spans, n_spans),
        ("generate()", t_gen, rows),
        ("write_demo(dataset)", t_write, rows),
        ("generate + write", t_gen + t_write, rows),
        ("ensure_demo, store present", t_ensure_present, None),
        ("ensure_demo, store missing", t_ensure_fresh, rows),
        ("generate(profile='realistic'), 28 days", t_real, n_real),
    ]
    for name, secs, n in table:
        rate = f"{n / secs:,.0f}" if n else "-"
        print(f"{name:<38}{secs:>9.3f}{rate:>12}{secs / t_spans:>12.2f}")


if __name__ == "__main__":
    main()
