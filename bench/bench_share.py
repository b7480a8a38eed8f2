"""Benchmark of making a report fit to share (prints, asserts nothing).

The daily report notebook is executed once over a demo store; its executed copy is then rendered
to HTML without redaction (the baseline: nbconvert and the page as such) and with everything a
report command does (redact the notebook and rewrite it, redact and render the HTML). Ratios are
against the baseline measured in the same run; sizes are of the files a report leaves.

    python bench/bench_share.py [--traces-per-day N]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from workbench.redact import Redactor
from workbench.reports import run_notebook
from workbench.reports.demo import demo_days
from workbench.reports.render import render_html, render_report
from workbench.reports.runner import notebooks_dir


def _best(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _output_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(str(o.get("data", o.get("text", ""))) for c in nb.cells
                   if c.cell_type == "code" for o in c.outputs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces-per-day", type=int, default=2000)
    args = ap.parse_args()
    from workbench.simulate import write_demo

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = write_demo(root / "data", days=7, traces_per_day=args.traces_per_day)
        first, last = demo_days(store)
        params = {"date": f"{last:%Y-%m-%d}", "source": "local", "data_dir": str(store),
                  "out_dir": str(root / "out"), "days": 7, "alert_days": 1}
        executed = run_notebook(notebooks_dir() / "daily_report.ipynb", params, root / "out")
        work = root / "work.ipynb"

        def fresh() -> Path:
            shutil.copy(executed, work)
            return work

        base = _best(lambda: render_html(fresh(), root / "plain.html", redact=False))
        full = _best(lambda: render_report(fresh(), root / "shared.html"))
        text = _output_text(executed)
        red = Redactor()
        scan = _best(lambda: red.text(text))
        shared = render_report(fresh(), root / "shared.html")
        print(f"render without redaction (baseline, best of 3):   {base:6.2f} s  1.00x")
        print(f"render_report: redact notebook + HTML (best of 3): {full:6.2f} s  "
              f"{full / base:.2f}x")
        print(f"redaction scan of the outputs ({len(text) / 1e6:.2f} MB):        {scan:6.2f} s  "
              f"{scan / base:.2f}x")
        print(f"HTML: {shared.html.stat().st_size / 1e6:.2f} MB; executed notebook beside it: "
              f"{shared.notebook.stat().st_size / 1e6:.3f} MB")


if __name__ == "__main__":
    main()
