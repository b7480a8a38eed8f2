"""Tempo source benchmarks against the in-process contract double (prints, never asserts).

1. pull a day of traces, ``--latency`` seconds per request: workbench (grid slices, concurrent
   whole-trace fetches, one decode per slice) vs a naive loop (one search, then every trace
   fetched one after the other), same data, same decoder, same run;
2. the cached re-run vs the first run;
3. cost per hour and model through TraceQL metrics (tokens summed by Tempo, priced locally) vs
   pulling the raw spans and summing them: bytes over the wire and time.

    python bench/bench_tempo.py [--quick] [--traces N] [--latency S]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pandas as pd  # noqa: E402

from tests.doubles import TempoDouble  # noqa: E402
from workbench.simulate import generate_spans  # noqa: E402
from workbench.sources import conventions as conv  # noqa: E402
from workbench.sources import otlp, prices  # noqa: E402

DAY = ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")
LATER = pd.Timestamp("2026-12-01", tz="UTC")


def _bytes(d: TempoDouble) -> int:
    return sum(r.nbytes for r in d.requests)


def naive(d: TempoDouble) -> tuple[pd.DataFrame, float, int]:
    """One search over the day, then each trace fetched in turn; the same decoder and mapping."""
    d.reset_log()
    t0 = time.perf_counter()
    start, end = int(pd.Timestamp(DAY[0]).timestamp()), int(pd.Timestamp(DAY[1]).timestamp())
    with httpx.Client(base_url=d.base_url, timeout=60) as http:
        found = http.get("/api/search", params={"q": "{ }", "start": start, "end": end,
                                                "limit": 100000, "spss": 1}).json()["traces"]
        bodies = [http.get(f"/api/v2/traces/{otlp.normalise_trace_id(t['traceID'])}").json()
                  for t in found]
    decoded = otlp.decode(bodies)
    obs, _ = prices.load().fill_costs(conv.load().observations(decoded.raw))
    return obs, time.perf_counter() - t0, _bytes(d)


def workbench(d: TempoDouble, cache: str | None = None, **kw) -> tuple[pd.DataFrame, float, int]:
    d.reset_log()
    t0 = time.perf_counter()
    with d.source(cache_dir=cache, now=lambda: LATER, **kw) as src:
        obs = src.observations(*DAY)
    return obs, time.perf_counter() - t0, _bytes(d)


def cost_pushdown(d: TempoDouble) -> tuple[pd.DataFrame, float, int]:
    d.reset_log()
    t0 = time.perf_counter()
    with d.source() as src:
        agg = src.aggregate(*DAY, ["cost_usd"], by=["model"])
    return agg, time.perf_counter() - t0, _bytes(d)


def cost_raw(d: TempoDouble) -> tuple[pd.DataFrame, float, int]:
    d.reset_log()
    t0 = time.perf_counter()
    with d.source(now=lambda: LATER, reconcile=False) as src:
        obs = src.observations(*DAY)
    gens = obs[obs["type"].isin(["generation", "embedding"]).to_numpy()]
    hour = gens["start_time"].dt.ceil("h") - pd.Timedelta(hours=1)
    agg = gens.groupby([hour, gens["model"]])["cost_usd"].sum()
    return agg, time.perf_counter() - t0, _bytes(d)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--traces", type=int, default=None, help="traces in the day")
    ap.add_argument("--latency", type=float, default=0.02, help="seconds per request")
    a = ap.parse_args()
    n = a.traces or (300 if a.quick else 2000)
    spans = generate_spans(seed=5, days=1, traces_per_day=n, start=DAY[0][:10])
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print(f"# Tempo benchmark: {n} traces, {len(spans)} spans, {a.latency * 1000:.0f} ms per "
          f"request, commit {commit}, {pd.Timestamp.now(tz='UTC'):%Y-%m-%d}")
    with TempoDouble(spans, latency_s=a.latency) as d:
        base, t_naive, b_naive = naive(d)
        got, t_wb, b_wb = workbench(d)
        same = (sorted(got["observation_id"]) == sorted(base["observation_id"])
                and abs(got["cost_usd"].sum() - base["cost_usd"].sum()) < 1e-9)
        print("\n| pull one day | seconds | bytes | naive / workbench |\n|---|---:|---:|---:|")
        print(f"| naive: one search, traces fetched one by one | {t_naive:.2f} | {b_naive:,} | |")
        print(f"| workbench: hourly slices, 8 fetches in flight | {t_wb:.2f} | {b_wb:,} | "
              f"{t_naive / t_wb:.1f}x |")
        print(f"\nsame spans and cost: {'yes' if same else 'NO'} ({len(got)} spans)")
        with tempfile.TemporaryDirectory() as tmp:
            _, t_first, _ = workbench(d, cache=tmp)
            _, t_again, b_again = workbench(d, cache=tmp)
        print(f"\n| cache | seconds | bytes |\n|---|---:|---:|\n| first run | {t_first:.2f} | |\n"
              f"| re-run from the cache | {t_again:.2f} | {b_again:,} |\n"
              f"\nre-run speed-up: {t_first / t_again:.0f}x")
        push, t_push, b_push = cost_pushdown(d)
        raw, t_raw, b_raw = cost_raw(d)
        agree = abs(push["value"].sum() - raw.sum()) <= 1e-9 * max(1.0, raw.sum())
        print("\n| hourly cost by model, one day | seconds | bytes |\n|---|---:|---:|")
        print(f"| TraceQL metrics (tokens summed by Tempo, priced here) | {t_push:.2f} | "
              f"{b_push:,} |")
        print(f"| raw pull, summed here | {t_raw:.2f} | {b_raw:,} |")
        print(f"\nraw / metrics: {t_raw / t_push:.1f}x time, {b_raw / max(b_push, 1):.0f}x bytes; "
              f"same total cost: {'yes' if agree else 'NO'} "
              f"(${push['value'].sum():.4f} vs ${raw.sum():.4f})")


if __name__ == "__main__":
    main()
