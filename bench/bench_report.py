"""Benchmark of the daily report (prints, asserts nothing).

1. ``workbench demo`` wall time on a fresh folder (generates the store) and again on the
   existing store.
2. The daily report notebook's papermill wall time as a ratio to papermill running an empty
   notebook in the same process (kernel start-up is the baseline both pay).

    python bench/bench_report.py [--traces-per-day N]
"""

from __future__ import annotations

import argparse
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
        base = min(_timed(lambda: run_notebook(empty, {"x": 2}, root / "bench"))[0]
                   for _ in range(2))
        report, _ = _timed(lambda: run_notebook(notebooks_dir() / "daily_report.ipynb", params,
                                                root / "bench", output_name="daily.ipynb"))
        one_day = dict(params, days=7, alert_days=1)
        report1, _ = _timed(lambda: run_notebook(notebooks_dir() / "daily_report.ipynb",
                                                 one_day, root / "bench",
                                                 output_name="daily1.ipynb"))
        print(f"papermill, empty notebook (best of 2):              {base:7.2f} s")
        print(f"papermill, daily report (demo: whole week alerted): {report:7.2f} s "
              f"= {report / base:.2f}x empty")
        print(f"papermill, daily report (7 days, report day only):  {report1:7.2f} s "
              f"= {report1 / base:.2f}x empty")


if __name__ == "__main__":
    main()
