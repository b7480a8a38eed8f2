"""Quality of the detectors as the daily report alerts on them (prints figures, asserts nothing).

For each simulated profile (``realistic``: four agents in four instrumentation styles, about
1,250 traces a day with deep night troughs, evaluations on ~20 % of traces; ``demo``) and seed:

- **false alerts**: quiet data (no incident) judged day after day, as a daily report would:
  the findings it would alert on (firing, confirmed, warning or worse: the hourly detectors over
  the day and the whole-day checks), counted per runbook and scaled to 30 days, each listed;
  and the same quiet days checked every hour over each runbook's look-back, as a scheduled
  ``workbench check`` would: an alert is a finding that fires where the run an hour before did
  not fire it (the same fingerprint firing on is the same alert, as the alert sinks dedupe it);
- **recall**: the labelled incidents (tool timeout surge, cost spike on one agent's model,
  hallucination spike after a prompt release) at several magnitudes, each judged on its day:
  detected when an alerted finding of its runbook overlaps it;
- **top-1 attribution**: the first suspect of the incident's most urgent alerted finding names
  the injected cause (dimension and value, and its ``within``);
- **delay**: the detectors run every hour over the runbook's look-back, as ``workbench check``
  would: hours from the incident's start to the first run that alerts on it;
- **onset**: how far the earliest hour window of the daily report's hourly findings on an
  incident starts from its first changed hour (the report says when it began, as a timeline
  needs; the whole-day checks carry no hours);
- **what the first hour holds** (hallucination spikes): an oracle that knows the hour and the
  new prompt version counts its scored traces the first hourly check can see and the bad ones
  among them, and gives the power of an exact binomial test of that version at the runbook's
  ``canary_alpha``: the best any detector could do an hour after the release.

    python bench/bench_detectors.py                 # 3 seeds x (30 quiet days, 3 magnitudes)
    python bench/bench_detectors.py --quick         # 1 seed, fewer days
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from workbench import kpis, runbooks, simulate
from workbench.analysis import detect_all, units_for
from workbench.analysis.attribution import in_slice
from workbench.findings import Suspect
from workbench.sources import conventions as conv
from workbench.findings import SEVERITIES

START = pd.Timestamp("2026-11-02", tz="UTC")
DAY = pd.Timedelta(days=1)
H = pd.Timedelta(hours=1)
BASELINE_DAYS = 7
ALERTED = ("warning", "critical", "page")


@dataclass
class Tally:
    quiet_days: int = 0
    false: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    hourly_runs: int = 0
    hourly_false: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    incidents: list[dict] = field(default_factory=list)


def _slice(ds, lo, hi, now=None):
    """The frames a run at ``now`` pulls for ``[lo, hi)``: scores as every report pulls them,
    up to the conventions' score_lag past the traces, but none recorded after ``now``."""
    t = ds.traces[(ds.traces["start_time"] >= lo) & (ds.traces["start_time"] < hi)]
    o = ds.observations[(ds.observations["start_time"] >= lo)
                        & (ds.observations["start_time"] < hi)]
    ts = ds.scores["timestamp"]
    s = ds.scores[(ts >= lo) & (ts < min(hi + conv.load().score_lag, now or hi + DAY * 365))]
    return t, o, s


def alerted(books, ds, start, end, now=None):
    """What a daily report (or a check) over ``[start, end)``, run at ``now`` (default: once
    every score is in), would alert on."""
    lo = start.floor("D") - BASELINE_DAYS * DAY
    t, o, s = _slice(ds, lo, end, now)
    units = units_for(books, t, o, s, start)
    found = detect_all(books, t, o, s, start, end, units=units)
    if end - start == DAY:
        k = kpis.daily_kpis(units)
        found += kpis.check_findings(k, kpis.check_table(k, books, start, units), books, units,
                                     o)
    return [f for f in found if f.status == "firing" and f.confirmed
            and f.severity in ALERTED and f.end > start]


def _describe(f) -> str:
    who = ",".join(f"{k}={v}" for k, v in f.labels.items())
    top = f.suspects[0].label if f.suspects else "-"
    return (f"{f.runbook}/{f.signal} {f.severity} {f.start:%m-%d %H:%M}-{f.end:%H:%M} [{who}] "
            f"obs={f.observed:.4g} exp={f.baseline:.4g} p={f.p_value:.1g} top={top}")


def quiet(profile: str, seed: int, days: int, books, tally: Tally) -> None:
    ds = simulate.generate(seed=seed, days=BASELINE_DAYS + days, profile=profile, incidents=[])
    for d in range(BASELINE_DAYS, BASELINE_DAYS + days):
        day = START + d * DAY
        for f in alerted(books, ds, day, day + DAY):
            tally.false[f.runbook].append(f"seed {seed} {day:%Y-%m-%d}: {_describe(f)}")
        tally.quiet_days += 1
    hourly(seed, ds, START + BASELINE_DAYS * DAY, START + (BASELINE_DAYS + days) * DAY, books,
           tally)


def hourly(seed: int, ds, first: pd.Timestamp, last: pd.Timestamp, books, tally: Tally) -> None:
    """Checks every hour from ``first`` to ``last``, each over its runbook's look-back: the
    alerts a scheduled check sends (a fingerprint firing where the run before did not)."""
    before: set[str] = set()
    at = first + H
    while at <= last:
        now = set()
        for lookback in {rb.lookback for rb in books.values()}:  # the runbooks of one look-back
            mine = {n: rb for n, rb in books.items() if rb.lookback == lookback}  # run together
            for f in alerted(mine, ds, at - lookback, at, now=at):
                now.add(f.fingerprint)
                if f.fingerprint not in before:
                    tally.hourly_false[f.runbook].append(
                        f"seed {seed} run at {at:%Y-%m-%d %H:%M}: {_describe(f)}")
        before = now
        tally.hourly_runs += 1
        at += H


def _rank(f) -> tuple:
    return (-SEVERITIES.index(f.severity), f.signal.startswith("daily_"), f.start)


def _matches(s, label) -> tuple[bool, bool]:
    right = (s.dimension, s.value) == (label.cause_dimension, str(label.cause_value))
    within = label.cause_within or ""
    if not within:
        return right, right
    key, _, value = within.partition("=")
    return right, right and s.within.get(key) in (None, value)


def first_hour(books, ds, label, magnitude: float) -> dict:
    """What the first hourly check after a prompt release can see of the new version: its
    scored traces and the bad ones, the baseline rate of the prompt's earlier versions, and
    the power of an exact binomial test at ``canary_alpha`` against ``magnitude`` times it."""
    at = label.start.floor("h") + H
    lo = label.start.floor("D") - BASELINE_DAYS * DAY
    t, o, s = _slice(ds, lo, at, now=at)
    units = units_for(books, t, o, s, label.start)
    key, _, value = (label.cause_within or "").partition("=")
    within = {key: value} if key else {}
    version = in_slice(units, Suspect(label.cause_dimension, str(label.cause_value), 1.0,
                                      within=within))
    prompt = in_slice(units, Suspect(key, value, 1.0)) if key else np.ones(len(units), bool)
    bad = units["hallucinated"].to_numpy(dtype="float64")
    scored = ~np.isnan(bad)
    when = units["time"]
    win = version & scored & (when >= label.start).to_numpy() & (when < at).to_numpy()
    base = prompt & scored & (when < label.start.floor("D")).to_numpy()
    n, k, p0 = int(win.sum()), int(np.nansum(bad[win])), float(np.nanmean(bad[base]))
    alpha = float(books[label.runbook].spec["evaluation"].get("canary_alpha", 0.01))
    crit = next((c for c in range(n + 1) if sps.binom.sf(c - 1, n, p0) <= alpha), None)
    power = float(sps.binom.sf(crit - 1, n, min(1.0, magnitude * p0))) if crit else 0.0
    return {"n": n, "k": k, "p0": p0, "p": float(sps.binom.sf(k - 1, n, p0)) if n else 1.0,
            "power": power}


def incidents(profile: str, seed: int, magnitude: float, days: int, books, tally: Tally,
              hourly: int) -> None:
    n_days = BASELINE_DAYS + days
    chosen = simulate.default_incidents(START, n_days, magnitude=magnitude, profile=profile)
    ds = simulate.generate(seed=seed, days=n_days, profile=profile, incidents=chosen)
    for label in ds.labels.itertuples():
        day = label.start.floor("D")
        mine = [f for f in alerted(books, ds, day, day + DAY) if f.runbook == label.runbook]
        hits = sorted([f for f in mine if f.start < label.end and label.start < f.end],
                      key=_rank)
        top = hits[0].suspects[0] if hits and hits[0].suspects else None
        right, within = _matches(top, label) if top else (False, False)
        delay = None
        lookback = books[label.runbook].lookback
        for k in range(1, hourly + 1):  # hourly checks after the start
            at = label.start.floor("h") + k * H
            runs = [f for f in alerted({label.runbook: books[label.runbook]}, ds,
                                       at - lookback, at, now=at)
                    if f.start < label.end and label.start < f.end]
            if runs:
                delay = (at - label.start) / H
                break
        hour1 = first_hour(books, ds, label, magnitude) \
            if label.runbook == "hallucination_spike" else None
        tally.incidents.append({
            "runbook": label.runbook, "seed": seed, "magnitude": magnitude, "hour1": hour1,
            "detected": bool(hits), "top1": right, "top1_within": within,
            "top": top.label if top else "-", "delay_h": delay,
            "onset_h": (min(f.start for f in hourly_hits) - label.start) / H
            if (hourly_hits := [f for f in hits if f.end - f.start < DAY]) else None,
            "window": (f"{hits[0].start:%H:%M}-{hits[0].end:%H:%M}" if hits else "-"),
            "cause": f"{label.cause_dimension}={label.cause_value} ({label.cause_within})",
            "start": f"{label.start:%m-%d %H:%M}-{label.end:%H:%M}"})


def report(profile: str, tally: Tally, seeds: list[int]) -> None:
    print(f"\n=== profile {profile}: {tally.quiet_days} quiet days over seeds {seeds} ===")
    scale = 30.0 / max(tally.quiet_days, 1)
    for rb in sorted(runbooks.load_all()):
        falses = tally.false.get(rb, [])
        print(f"  false alerts {rb:<20} {len(falses):3d}  = {len(falses) * scale:.2f} per 30 "
              "quiet days")
        for line in falses:
            print(f"      {line}")
    days = tally.hourly_runs / 24.0
    print(f"  hourly checks over the same quiet days ({tally.hourly_runs} runs):")
    for rb in sorted(runbooks.load_all()):
        falses = tally.hourly_false.get(rb, [])
        print(f"  false alerts {rb:<20} {len(falses):3d}  = "
              f"{len(falses) * 30.0 / max(days, 1):.2f} per 30 quiet days")
        for line in falses:
            print(f"      {line}")
    inc = pd.DataFrame(tally.incidents)
    if inc.empty:
        return
    print("  recall / top-1 / top-1 within / delay (median h, share <= 1 h, <= 2 h) / the "
          "report's window starts within 1 h of the first changed hour:")
    for (rb, mag), g in inc.groupby(["runbook", "magnitude"]):
        delays = g["delay_h"].dropna()
        onset = g["onset_h"].dropna().abs()
        print(f"    {rb:<20} x{mag:<4g} recall {g['detected'].mean():.2f} ({g['detected'].sum()}"
              f"/{len(g)})  top-1 {g['top1'].mean():.2f}  within {g['top1_within'].mean():.2f}"
              f"  delay {delays.median() if len(delays) else float('nan'):.0f} h, "
              f"{(delays <= 1).sum()}/{len(g)} <= 1 h, {(delays <= 2).sum()}/{len(g)} <= 2 h"
              f"  onset {(onset <= 1).sum()}/{len(g)} <= 1 h")
    for seed, g in inc.groupby("seed"):
        print(f"    seed {seed}: recall {g['detected'].mean():.2f}, top-1 {g['top1'].mean():.2f}")
    seen = inc[inc["hour1"].notna()]
    if len(seen):
        print("  the first hour of each hallucination spike, as the first hourly check sees the "
              "new version (n scored, k bad, baseline rate; oracle p; power of an exact test at "
              "canary_alpha knowing the hour and the version):")
    for r in seen.itertuples():
        h = r.hour1
        print(f"    seed {r.seed} x{r.magnitude:g}: {h['k']}/{h['n']} bad vs {h['p0']:.3f}, "
              f"p={h['p']:.2g}, power {h['power']:.2f}; alerted after "
              f"{'-' if pd.isna(r.delay_h) else f'{r.delay_h:.0f} h'}")
    late = inc[inc["detected"] & ~(inc["onset_h"].abs() <= 1)]
    for r in late.itertuples():
        print(f"      onset off by more than 1 h: seed {r.seed} {r.runbook} x{r.magnitude:g} "
              f"{r.start}, the report's earliest hourly window "
              f"{'-' if pd.isna(r.onset_h) else f'{r.onset_h:+.0f} h from it'}")
    misses = inc[~inc["detected"] | ~inc["top1"]]
    for r in misses.itertuples():
        print(f"      miss: seed {r.seed} {r.runbook} x{r.magnitude:g} {r.start} cause {r.cause}"
              f": detected={r.detected} window={r.window} top={r.top}")
    at2 = inc[inc["magnitude"] >= 2]
    print(f"  at >= 2x: recall {at2['detected'].mean():.3f}  top-1 {at2['top1'].mean():.3f}  "
          f"top-1 within {at2['top1_within'].mean():.3f}  delay <= 1 h "
          f"{(at2['delay_h'] <= 1).mean():.2f}, <= 2 h {(at2['delay_h'] <= 2).mean():.2f}  "
          f"onset <= 1 h {(at2['onset_h'].abs() <= 1).mean():.2f}")
    print("  false alerts per runbook per 30 quiet days: " + ", ".join(
        f"{rb} {len(tally.false.get(rb, [])) * scale:.2f}" for rb in sorted(runbooks.load_all())))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 seed, 8 quiet days, 2 magnitudes")
    ap.add_argument("--profiles", default="realistic,demo")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args(argv)
    books = runbooks.load_all()
    seeds = [11, 12, 13][: 1 if args.quick else args.seeds]
    plan = {"realistic": (8 if args.quick else 30, [2.0, 5.0] if args.quick else [2.0, 3.0, 5.0]),
            "demo": (4 if args.quick else 10, [2.0, 5.0] if args.quick else [2.0, 3.0, 5.0])}
    t0 = time.perf_counter()
    for profile in args.profiles.split(","):
        quiet_days, magnitudes = plan[profile]
        tally = Tally()
        for seed in seeds:
            quiet(profile, seed, quiet_days, books, tally)
            for m in magnitudes:
                incidents(profile, seed, m, 6, books, tally, hourly=6)
            print(f"  [{profile} seed {seed} done at {time.perf_counter() - t0:.0f} s]",
                  file=sys.stderr)
        report(profile, tally, seeds)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
