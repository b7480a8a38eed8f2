"""Benchmark of the daily report (prints, asserts nothing).

1. ``workbench demo`` wall time on a fresh folder (generates the store) and again on the
   existing store.
2. The daily report notebook's papermill wall time as a ratio to papermill running an empty
   notebook in the same process (kernel start-up is the baseline both pay). The empty notebook
   and both reports run in turn, ``--repeat`` rounds: each is taken at its best, like the
   baseline always was, and the median is printed beside it (the machine may be shared).

    python bench/bench_report.py [--traces-per-day N] [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from workbench.reports import run_notebook
from workbench.reports.demo import demo_days
from workbench.reports.runner import notebooks_dir


def _timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces-per-day", type=int, default=None,
                    help="demo store size (default: the simulator's default)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds of the empty notebook and both reports (default 3)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cmd = ["workbench", "demo", "--data", str(root / "data"), "--out", str(root / "out")]
        if args.traces_per_day:
            cmd += ["--traces-per-day", str(args.traces_per_day)]
        fresh, _ = _timed(lambda: subprocess.run(cmd, check=False, capture_output=True))
        again, done = _timed(lambda: subprocess.run(cmd, check=False, capture_output=True))
        print(f"workbench demo, fresh folder (generates the store): {fresh:7.2f} s")
        print(f"workbench demo, existing store:                     {again:7.2f} s "
              f"(exit {done.returncode})")

        empty = root / "empty.ipynb"
        nbformat.write(new_notebook(cells=[new_code_cell("x = 1", metadata={
            "tags": ["parameters"]})], metadata={"kernelspec": {
                "name": "python3", "display_name": "Python 3", "language": "python"}}), empty)
        first, last = demo_days(root / "data")
        params = {"date": f"{last:%Y-%m-%d}", "source": "local",
                  "data_dir": str(root / "data"), "out_dir": str(root / "bench"),
                  "days": (last - first).days + 1, "alert_days": (last - first).days + 1}
        one_day = dict(params, days=7, alert_days=1)
        runs: dict[str, list[float]] = {"empty": [], "week": [], "day": []}
        for _ in range(max(1, args.repeat)):  # in turn, so a busy moment hits all three alike
            runs["empty"].append(_timed(lambda: run_notebook(empty, {"x": 2}, root / "bench"))[0])
            runs["week"].append(_timed(lambda: run_notebook(
                notebooks_dir() / "daily_report.ipynb", params, root / "bench",
                output_name="daily.ipynb"))[0])
            runs["day"].append(_timed(lambda: run_notebook(
                notebooks_dir() / "daily_report.ipynb", one_day, root / "bench",
                output_name="daily1.ipynb"))[0])
        best = {k: min(v) for k, v in runs.items()}
        median = {k: statistics.median(v) for k, v in runs.items()}
        n = len(runs["empty"])
        print(f"papermill, empty notebook (best of {n}):              {best['empty']:7.2f} s "
              f"(median {median['empty']:.2f} s)")
        for key, label in (("week", "demo: whole week alerted"),
                           ("day", "7 days, report day only")):
            print(f"papermill, daily report ({label + '):':<26} {best[key]:7.2f} s "
                  f"= {best[key] / best['empty']:.2f}x empty (median {median[key]:.2f} s "
                  f"= {median[key] / median['empty']:.2f}x)")
        print("all runs (s): " + "; ".join(
            f"{k} " + " ".join(f"{t:.2f}" for t in v) for k, v in runs.items()))


if __name__ == "__main__":
    main()
