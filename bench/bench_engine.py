"""Speed of the detection engine against one pandas groupby over the same frames (prints, asserts
nothing).

The demo profile, 8 days at 5,000 traces a day with its three incidents moved onto the last
day (so the scans find something and attribution runs); that day is judged against the 7
before, as in a daily report:

- baseline: one groupby over the traces (hourly cost sum, duration mean and p95 per agent),
  the least any hourly dashboard does;
- ``units_for``: every trace's signals, computed once per report;
- ``detect_all``: the three runbooks' scans, attribution and extras over the day;
- ``daily_kpis`` + ``check_table``: the whole-day checks.

    python bench/bench_engine.py [--per-day 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import pandas as pd

from workbench import kpis, runbooks, simulate
from workbench.analysis import detect_all, units_for


def best(fn, repeat: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-day", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    start = pd.Timestamp(simulate.DEFAULT_START, tz="UTC")
    last_day = start + pd.Timedelta(days=7)
    incidents = [replace(i, start=i.start + (last_day - i.start.normalize()),
                         end=i.end + (last_day - i.start.normalize()))
                 for i in simulate.default_incidents(start, 8)]
    ds = simulate.generate(seed=2026, days=8, traces_per_day=args.per_day, start=start,
                           incidents=incidents)
    print(f"generated {len(ds.traces):,} traces, {len(ds.observations):,} observations, "
          f"{len(ds.scores):,} scores in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    books = runbooks.load_all()
    day = ds.traces["start_time"].max().floor("D")
    end = day + pd.Timedelta(days=1)
    tr, obs, sc = ds.traces, ds.observations, ds.scores

    def groupby():
        g = tr.assign(hour=tr["start_time"].dt.floor("h")).groupby(["agent", "hour"])
        return g.agg(cost=("cost_usd", "sum"), mean=("duration_s", "mean"),
                     p95=("duration_s", lambda s: s.quantile(0.95)))

    base_s, _ = best(groupby, args.repeat)
    units_s, units = best(lambda: units_for(books, tr, obs, sc, day), args.repeat)
    detect_s, found = best(lambda: detect_all(books, tr, obs, sc, day, end, units=units),
                           args.repeat)

    def daily():
        k = kpis.daily_kpis(units)
        return kpis.check_table(k, books, day, units)

    daily_s, _ = best(daily, args.repeat)
    rows = [("one pandas groupby (baseline)", base_s), ("units_for: signals per trace", units_s),
            ("detect_all: three runbooks over the day", detect_s),
            ("daily KPIs and whole-day checks", daily_s),
            ("all of the engine", units_s + detect_s + daily_s)]
    print(f"\n{len(tr):,} traces, {len(obs):,} observations, {len(sc):,} scores; best of "
          f"{args.repeat}; {len(found)} findings on {day:%Y-%m-%d}\n")
    print("| what | seconds | x baseline |\n|---|---:|---:|")
    for name, s in rows:
        print(f"| {name} | {s:.2f} | {s / base_s:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
