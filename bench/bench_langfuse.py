"""Langfuse source benchmarks against the in-process contract double (prints, never asserts).

1. pull N observations at 100 ms per request: workbench (slices planned by the Metrics API's
   hourly counts into pulls of about a page, pulled in parallel, converted and mapped once) vs a
   plain sequential loop over the official SDK (``limit=1000``, pydantic models);
2. the cached re-run vs the first run (same window, closed: served whole from the cache);
3. a 30-day cost-by-model trend via the Metrics API v2 vs pulling the raw observations
   (bytes over the wire and time);
4. converting M observation records to the canonical frame vs ``pandas.json_normalize``
   (time and tracemalloc peak memory).

    python bench/bench_langfuse.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pandas as pd  # noqa: E402
from langfuse.api import LangfuseAPI  # noqa: E402

from tests.doubles import LangfuseDouble, sample  # noqa: E402
from tests.doubles import langfuse_shapes as shapes  # noqa: E402
from workbench.sources.langfuse import _parse  # noqa: E402

START = "2026-10-01T00:00:00Z"
DAYS = 30
FIELDS = "core,basic,metadata,model,usage,prompt,trace_context"  # what the source asks for


def _frames(n_obs: int) -> tuple[list, pd.DataFrame]:
    """Langfuse-native records of simulated spans (four instrumentation styles, ~5.6
    observations a trace) and their scores."""
    return sample(n_traces=int(n_obs / 5.6), start=START, hours=DAYS * 24, seed=11).frames


def _sdk_loop(d: LangfuseDouble) -> tuple[int, float]:
    t0 = time.perf_counter()
    rows = 0
    with httpx.Client(timeout=60) as http:
        sdk = LangfuseAPI(base_url=d.base_url, username=d.public_key, password=d.secret_key,
                          httpx_client=http)
        cursor = None
        lo = datetime.fromisoformat(START)
        hi = lo + pd.Timedelta(days=DAYS).to_pytimedelta()
        while True:
            page = sdk.observations.get_many(fields=FIELDS, limit=1000, cursor=cursor,
                                             from_start_time=lo, to_start_time=hi)
            rows += len(page.data)
            cursor = page.meta.cursor
            if not cursor:
                break
    return rows, time.perf_counter() - t0


def _bytes(d: LangfuseDouble, path: str) -> int:
    return sum(r.nbytes for r in d.requests_to(path))


def _peak(fn, *args) -> tuple[float, int]:
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn(*args)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del out
    gc.collect()
    return elapsed, peak


def _timed(fn, *args) -> float:
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args)
    elapsed = time.perf_counter() - t0
    del out
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller run (20k obs, 200k records)")
    args = ap.parse_args()
    n_obs = 20_000 if args.quick else 100_000
    n_records = 200_000 if args.quick else 1_000_000
    latency = 0.1

    t0 = time.perf_counter()
    obs, scores = _frames(n_obs)
    print(f"data: {len(obs):,} observation records over {DAYS} days "
          f"(built in {time.perf_counter() - t0:.1f} s); double latency {latency * 1000:.0f} ms")
    end = pd.Timestamp(START) + pd.Timedelta(days=DAYS)
    later = pd.Timestamp("2027-01-01T00:00:00Z")

    with LangfuseDouble(obs, scores, latency_s=latency) as d, \
            tempfile.TemporaryDirectory() as cache:
        d.prepare(FIELDS)  # rows serialised up front: the runs below time the clients
        n_sdk, t_sdk = _sdk_loop(d)
        print(f"\n[1] pull {n_sdk:,} observations")
        print(f"  baseline: sequential SDK loop, limit=1000 : {t_sdk:7.2f} s")
        d.reset_log()
        with d.source(cache_dir=cache, slice_s=6 * 3600, concurrency=8, progress=False,
                      now=lambda: later) as src:
            t = time.perf_counter()
            got = src.observations(START, end)
            t_wb = time.perf_counter() - t
            raw_bytes = _bytes(d, "/api/public/v2/observations")
            reqs = len(d.requests)
            print(f"  workbench: planned parallel pulls         : {t_wb:7.2f} s "
                  f"({len(got):,} rows, {reqs} requests)  -> {t_sdk / t_wb:5.1f}x faster")

            print("\n[2] cached re-run")
            d.reset_log()
            t = time.perf_counter()
            again = src.observations(START, end)
            t_cached = time.perf_counter() - t
            print(f"  first run {t_wb:.2f} s, cached re-run {t_cached:.3f} s "
                  f"({len(again):,} rows, {len(d.requests)} requests) "
                  f"-> {t_wb / t_cached:5.1f}x faster")

            print("\n[3] 30-day cost-by-model trend (daily)")
            d.reset_log()
            t = time.perf_counter()
            trend = src.aggregate(START, end, measures=["totalCost", "count"], by=["model"],
                                  granularity="day")
            t_metrics = time.perf_counter() - t
            m_bytes = _bytes(d, "/api/public/v2/metrics")
            print(f"  Metrics API v2 : {m_bytes:>12,} bytes {t_metrics:7.2f} s "
                  f"({len(trend)} rows)")
            print(f"  raw pull       : {raw_bytes:>12,} bytes {t_wb:7.2f} s (workbench, "
                  f"uncached)")
            print(f"  -> {raw_bytes / max(m_bytes, 1):,.0f}x fewer bytes, "
                  f"{t_wb / t_metrics:,.1f}x faster")

    print(f"\n[4] convert {n_records:,} observation records to a frame")
    base = [shapes.project_v2(g, tuple(FIELDS.split(","))) for g in obs[:100_000]]
    records = (base * (n_records // len(base) + 1))[:n_records]
    t_ours = _timed(lambda r: _parse.observations(r)[0], records)
    t_norm = _timed(pd.json_normalize, records)
    _, m_ours = _peak(lambda r: _parse.observations(r)[0], records)
    _, m_norm = _peak(pd.json_normalize, records)
    print(f"  workbench _parse.observations (canonical): {t_ours:7.2f} s, "
          f"peak {m_ours / 2**20:8.0f} MiB")
    print(f"  pandas.json_normalize (untyped)          : {t_norm:7.2f} s, "
          f"peak {m_norm / 2**20:8.0f} MiB")
    print(f"  -> {t_norm / t_ours:5.1f}x faster, {m_norm / max(m_ours, 1):4.1f}x less peak memory")


if __name__ == "__main__":
    main()
