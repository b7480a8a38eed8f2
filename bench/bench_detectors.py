"""Quality and speed benchmark of the runbook detectors (prints figures, asserts nothing).

Quality: a labelled suite from the simulator. Each dataset holds 7 clean days of baseline, then one
incident per runbook on its own day (timeout surge, cost spike, hallucination spike), at several
magnitudes and seeds. Each incident day is judged as one window ``[00:00, 24:00)``, as a daily
report would. Separate quiet datasets (no incidents) give the false alerts per 30 quiet days.

- recall: incidents with a firing finding (warning or worse) of their runbook overlapping them;
- precision: firing findings of a runbook on incident days that overlap one of its incidents;
- delay: from incident start to the end of the first firing bucket (when a detector could know);
- top-1 attribution: the first suspect of the incident's most urgent finding is the injected cause.

Speed: ``detect_all`` over about 1,000,000 observations (a 7-day baseline and the judged day)
against a named baseline measured in the same run: one plain pandas groupby over the same frame
(hourly sum of cost, mean and p95 of duration per agent), the least any hourly detector must do.

    python bench/bench_detectors.py            # full suite
    python bench/bench_detectors.py --quick    # smaller suite and a 200k-observation timing
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import pandas as pd

from workbench import runbooks, simulate
from workbench.analysis import detect_all
from workbench.findings import SEVERITIES

START = pd.Timestamp("2026-11-02", tz="UTC")
BASELINE_DAYS = 7
FIRING = {"warning", "critical", "page"}
_CAUSES = {"cost_spike": ("tool_name", "search_api"),
           "hallucination_spike": ("prompt_version", "8"),
           "timeout_surge": ("tool_name", "web_fetch")}
# (runbook, day after the baseline, start hour, hours)
_PLAN = (("timeout_surge", 0, 13, 3), ("cost_spike", 1, 9, 3), ("hallucination_spike", 2, 10, 5))


def incidents(magnitude: float) -> list:
    out = []
    for rb, day, hour, hours in _PLAN:
        t0 = START + pd.Timedelta(days=BASELINE_DAYS + day, hours=hour)
        dim, val = _CAUSES[rb]
        out.append(simulate.Incident(rb, t0, t0 + pd.Timedelta(hours=hours), dim, val,
                                     magnitude, f"bench {rb} x{magnitude}"))
    return out


def judge_days(ds, books, days):
    for d in days:
        start = START + pd.Timedelta(days=d)
        yield start, detect_all(books, ds.traces, ds.observations, ds.scores, start,
                                start + pd.Timedelta(days=1))


def quality(seeds, magnitudes, quiet_seeds, quiet_days, per_day) -> None:
    books = runbooks.load_all()
    bucket = pd.Timedelta(hours=1)
    rows = []
    precision = defaultdict(lambda: [0, 0])
    cross = defaultdict(int)
    for magnitude in magnitudes:
        for seed in seeds:
            t = time.perf_counter()
            ds = simulate.generate(seed=seed, days=BASELINE_DAYS + 3, traces_per_day=per_day,
                                   start=START, incidents=incidents(magnitude))
            labels = ds.labels
            found = [f for _, fs in judge_days(ds, books, range(BASELINE_DAYS, BASELINE_DAYS + 3))
                     for f in fs if f.severity in FIRING and f.status == "firing"]
            for f in found:
                mine = labels[labels["runbook"] == f.runbook]
                hit = any(f.start < e and s < f.end for s, e in zip(mine["start"], mine["end"]))
                precision[f.runbook][0] += hit
                precision[f.runbook][1] += 1
                other = labels[labels["runbook"] != f.runbook]
                if not hit and any(f.start < e and s < f.end
                                   for s, e in zip(other["start"], other["end"])):
                    cross[f.runbook] += 1
            for inc in labels.itertuples():
                match = [f for f in found if f.runbook == inc.runbook
                         and f.start < inc.end and inc.start < f.end]
                row = {"runbook": inc.runbook, "magnitude": magnitude, "seed": seed,
                       "found": bool(match), "delay_h": float("nan"), "top1": False}
                if match:
                    first = min(f.start for f in match)
                    row["delay_h"] = max((first + bucket - inc.start) / pd.Timedelta(hours=1), 0)
                    worst = max(match, key=lambda f: (SEVERITIES.index(f.severity), -f.start.value))
                    if worst.suspects:
                        s = worst.suspects[0]
                        row["top1"] = (s.dimension, s.value) == (inc.cause_dimension,
                                                                 inc.cause_value)
                rows.append(row)
            print(f"  x{magnitude} seed {seed}: {len(found)} firing findings "
                  f"({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    res = pd.DataFrame(rows)
    print("\n== Recall, delay and top-1 attribution (labelled incidents) ==")
    table = res.groupby(["runbook", "magnitude"]).agg(
        incidents=("found", "size"), recall=("found", "mean"),
        median_delay_h=("delay_h", "median"), top1=("top1", "mean"))
    print(table.to_string(float_format=lambda x: f"{x:.2f}"))
    big = res[res["magnitude"] >= 2]
    if len(big):
        found = big[big["found"]]
        print(f"\nAt magnitude >= 2x: recall {big['found'].mean():.3f} "
              f"({int(big['found'].sum())}/{len(big)}), top-1 attribution "
              f"{found['top1'].mean() if len(found) else float('nan'):.3f} of detected, "
              f"median delay {found['delay_h'].median():.1f} h")
    print("\n== Precision on incident days (firing findings overlapping their own incident) ==")
    for rb in sorted(precision):
        ok, n = precision[rb]
        print(f"  {rb:22s} {ok}/{n} = {ok / n:.3f}   (of the misses, {cross[rb]} overlap "
              f"another runbook's incident)")

    print("\n== False alerts on quiet days (no incidents) ==")
    false = defaultdict(int)
    info = defaultdict(int)
    insufficient = 0
    n_days = 0
    for seed in quiet_seeds:
        ds = simulate.generate(seed=seed, days=BASELINE_DAYS + quiet_days,
                               traces_per_day=per_day, start=START, incidents=[])
        for _, fs in judge_days(ds, books, range(BASELINE_DAYS, BASELINE_DAYS + quiet_days)):
            n_days += 1
            for f in fs:
                if f.status == "insufficient_data":
                    insufficient += 1
                elif f.severity in FIRING:
                    false[f.runbook] += 1
                    print(f"    false alert: {f.runbook}/{f.signal} {f.severity} "
                          f"{f.start:%Y-%m-%d %H:%M} {f.labels}", file=sys.stderr)
                else:
                    info[f.runbook] += 1
    for rb in sorted(books):
        print(f"  {rb:22s} {false[rb]} false alert(s) in {n_days} quiet days = "
              f"{false[rb] * 30 / n_days:.2f} per 30 days   (info findings: {info[rb]})")
    print(f"  insufficient_data findings on quiet days: {insufficient}")


def speed(per_day: int, days: int) -> None:
    books = runbooks.load_all()
    t = time.perf_counter()
    ds = simulate.generate(seed=11, days=days, traces_per_day=per_day, start=START,
                           incidents=[])
    gen_s = time.perf_counter() - t
    obs = ds.observations
    start = START + pd.Timedelta(days=days - 1)
    end = start + pd.Timedelta(days=1)

    def baseline() -> pd.DataFrame:
        hour = obs["start_time"].dt.floor("1h")
        return obs.groupby([obs["agent"], hour]).agg(
            cost=("cost_usd", "sum"), mean_s=("duration_s", "mean"),
            p95_s=("duration_s", lambda s: s.quantile(0.95)))

    def detectors() -> list:
        return detect_all(books, ds.traces, ds.observations, ds.scores, start, end)

    timings = {}
    for name, fn in (("pandas groupby (baseline)", baseline), ("detect_all", detectors)):
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        timings[name] = best
    print(f"\n== Speed over {len(obs):,} observations, {len(ds.traces):,} traces, "
          f"{len(ds.scores):,} scores ({days} days; generated in {gen_s:.0f} s) ==")
    base = timings["pandas groupby (baseline)"]
    for name, s in timings.items():
        print(f"  {name:28s} {s:7.2f} s   {s / base:6.1f}x the baseline")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smaller suite for a fast look")
    a = p.parse_args(argv)
    if a.quick:
        quality(seeds=[1, 2], magnitudes=[2.0, 5.0], quiet_seeds=[101], quiet_days=10,
                per_day=5000)
        speed(per_day=5500, days=8)
    else:
        quality(seeds=[1, 2, 3, 4, 5], magnitudes=[1.5, 2.0, 3.0, 5.0],
                quiet_seeds=[101, 102, 103], quiet_days=12, per_day=5000)
        speed(per_day=28000, days=8)


if __name__ == "__main__":
    main()
