"""Benchmark: a 30-day range at 15 s step from a real Prometheus.

workbench's ``PrometheusSource.query_range`` (chunks on the step grid, fetched on 4 threads,
one tidy frame) against ``PrometheusConnect.get_metric_range_data`` with ``chunk_size`` (raw
samples, sequential chunks) on the same server, the same series and the same chunk span. Prints
the times, their ratio, and whether both return the same samples (with the counts). No asserts.

Run: ``python bench/bench_prometheus.py`` (needs the Debian package ``prometheus``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from prometheus_api_client import MetricRangeDataFrame, PrometheusConnect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from prometheus_server import PrometheusServer, build_tsdb  # noqa: E402

from workbench.sources.prometheus import PrometheusSource  # noqa: E402

DAYS, STEP, SERIES, REPEAT = 30, 15, 3, 3
START = pd.Timestamp("2026-10-01", tz="UTC")
END = START + pd.Timedelta(days=DAYS)
METRIC = "bench_requests_total"


def openmetrics(path: Path) -> int:
    """A counter per agent, one sample every 15 s for 30 days (a bit past the window)."""
    rng = np.random.default_rng(1)
    t = np.arange(int(START.timestamp()), int(END.timestamp()) + 3600, STEP)
    with path.open("w") as f:
        f.write("# HELP bench_requests Requests.\n# TYPE bench_requests counter\n")
        for i in range(SERIES):
            values = np.cumsum(rng.poisson(3, t.size))
            lines = np.strings.add(np.strings.add(f'{METRIC}{{agent_id="a{i}"}} ',
                                                  values.astype(str)),
                                   np.strings.add(" ", t.astype(str)))
            f.write("\n".join(lines.tolist()) + "\n")
        f.write("# EOF\n")
    return t.size * SERIES


def timed(fn):
    times, out = [], None
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="wb-bench-prom-"))
    n = openmetrics(work / "bench.om")
    t0 = time.perf_counter()
    build_tsdb(work / "bench.om", work / "tsdb", block_hours=24 * 8)
    print(f"TSDB: {n:,} samples in {SERIES} series, built in {time.perf_counter() - t0:.1f} s")
    with PrometheusServer(work / "tsdb", work / "server") as server:
        src = PrometheusSource(server.url)
        client = PrometheusConnect(server.url)
        chunk = timedelta(seconds=11_000 * STEP)

        t_wb, ours = timed(lambda: src.query_range(METRIC, START, END, step=STEP))
        src1 = PrometheusSource(server.url, max_workers=1)
        t_wb1, _ = timed(lambda: src1.query_range(METRIC, START, END, step=STEP))
        src1.close()
        t_raw, raw = timed(lambda: client.get_metric_range_data(
            METRIC, start_time=START.to_pydatetime(), end_time=END.to_pydatetime(),
            chunk_size=chunk))
        t_df, raw_df = timed(lambda: MetricRangeDataFrame(client.get_metric_range_data(
            METRIC, start_time=START.to_pydatetime(), end_time=END.to_pydatetime(),
            chunk_size=chunk)))

        print(f"window {DAYS} d at {STEP} s step: {(END - START).total_seconds() / STEP + 1:,.0f}"
              f" points per series, {SERIES} series; median of {REPEAT} runs")
        print(f"workbench query_range (frame, 4 threads):       {t_wb:7.3f} s")
        print(f"workbench query_range (frame, 1 thread):        {t_wb1:7.3f} s")
        print(f"get_metric_range_data (raw JSON lists):         {t_raw:7.3f} s"
              f"  ratio baseline/workbench {t_raw / t_wb:5.2f}x")
        print(f"get_metric_range_data + MetricRangeDataFrame:   {t_df:7.3f} s"
              f"  ratio baseline/workbench {t_df / t_wb:5.2f}x")

        rows = [(s["metric"]["agent_id"], float(ts), float(v))
                for s in raw for ts, v in s["values"]]
        base = pd.DataFrame(rows, columns=["agent_id", "t", "value"])
        dups = int(base.duplicated(["agent_id", "t"]).sum())
        base = base.drop_duplicates(["agent_id", "t"])
        base = base[(base["t"] >= START.timestamp()) & (base["t"] <= END.timestamp())]
        mine = pd.DataFrame({"agent_id": ours["agent_id"].astype(str),
                             "t": ours["timestamp"].astype("int64") / 1e6,
                             "value": ours["value"]})
        merged = mine.merge(base, on=["agent_id", "t"], how="outer", suffixes=("_wb", "_raw"),
                            indicator=True)
        same = (merged["_merge"] == "both").all() and np.array_equal(
            merged["value_wb"].to_numpy(), merged["value_raw"].to_numpy())
        print(f"samples: workbench {len(mine):,} (duplicates "
              f"{int(mine.duplicated(['agent_id', 't']).sum())}); baseline {len(base) + dups:,} "
              f"raw rows incl. {dups} duplicated at chunk edges, {len(base):,} in the window "
              f"after dedupe")
        print(f"same samples (timestamps and values): {same}")
        src.close()
        client.close()


if __name__ == "__main__":
    main()
