"""One number per fact: the daily report, its summary JSON, the runbook notebook opened on a
finding's hours, that notebook's rendering, and the post-mortem of those hours (its summary,
HTML and Markdown) all show the same figures, because they read one computation (the per-trace
signals, :meth:`workbench.analysis.Judge.interval` and :meth:`~workbench.analysis.Judge.totals`)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from workbench.investigate import investigate
from workbench.reports import daily_report
from workbench.reports.runbook import run_runbook
from workbench.reports.runner import postmortem_report
from workbench.sources.local import LocalSource

pytestmark = pytest.mark.notebook

CHECKED = {"cost_spike": "cost_per_request", "timeout_surge": "timeout_rate",
           "hallucination_spike": "hallucination_rate"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from workbench.simulate import write_demo

    return write_demo(tmp_path_factory.mktemp("one") / "demo", days=7, traces_per_day=1500)


@pytest.fixture(scope="module")
def labels(store):
    return {r.runbook: r for r in LocalSource(store).labels().itertuples()}


def fmt(x: float, unit: str) -> str:
    """How every page prints a figure: 4 significant digits, a share as a percentage."""
    return f"{100 * x:.4g}%" if unit == "ratio" else f"${x:.4g}" if unit == "USD" else \
        f"{x:.4g}"


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_report_summary_notebook_and_rendering_agree(store, labels, tmp_path, name):
    signal = CHECKED[name]
    day = labels[name].start.floor("D")
    result = daily_report(day, "local", store, tmp_path / "daily", days=1, alert_days=1)
    summary = json.loads(result.summary_path.read_text())
    found = [f for f in summary["findings"] if f["signal"] == signal and f["status"] == "firing"]
    assert found, f"no {signal} finding on {day:%Y-%m-%d}"
    f = found[0]
    start, end = pd.Timestamp(f["start"]), pd.Timestamp(f["end"])
    agent = f["labels"].get("agent")

    # the notebook's facade, opened on the finding's hours for the finding's agent
    inv = investigate(name, "local", start, end, data_dir=store, agent=agent)
    row = inv.signal_table().set_index("signal").loc[signal]
    assert (row["observed"], row["expected"], row["p_value"]) == (
        f["observed"], f["baseline"], f["p_value"])

    # the daily report's HTML and the runbook notebook's rendering print the same figures
    report_html = result.html.read_text()
    seen, base = (fmt(f[k], f["unit"]) for k in ("observed", "baseline"))
    # (the report sets "$" apart in a span: the digits are what must agree there)
    assert seen.lstrip("$") in report_html and base.lstrip("$") in report_html
    rendered = run_runbook(name, start, end, "local", store, tmp_path / "rb",
                           agent=agent).read_text()
    table = re.search(rf"<td>{signal}</td>(.*?)</tr>", rendered, re.DOTALL).group(1)
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", table, re.S)]
    assert seen in cells and base in cells

    # the post-mortem of the finding's hours, written by the command's runner
    pm = postmortem_report(name, start, end, "local", store, tmp_path / "pm", agent=agent)
    s = pm.summary
    primary = s["impact"]["primary"]
    assert primary["signal"] == signal
    assert (primary["observed"], primary["expected"], primary["p_value"]) == (
        f["observed"], f["baseline"], f["p_value"])
    assert s["timeline"][0]["utc"] == f"{start:%Y-%m-%d %H:%M}"
    assert (s["impact_window"]["start"], s["impact_window"]["end"]) == (f["start"], f["end"])
    # its impact is the notebook's judge's sums over the same hours
    tot = inv.judge.totals(signal, start, end, agent or "__all__")
    assert primary["units"] == tot.units == row["units"]
    if primary["events"] is not None:
        assert (primary["events"], primary["expected_events"]) == (tot.value, tot.expected)
    if name == "cost_spike":
        assert (s["impact"]["cost_usd"], s["impact"]["expected_cost_usd"]) == (
            tot.value, tot.expected)
        assert s["impact"]["excess_cost_usd"] == pytest.approx(
            (f["observed"] - f["baseline"]) * primary["units"], rel=1e-9)
    # the daily report's alert is the one the post-mortem states: its detection, or, the
    # demo's incident being over before the report ran, the alert sent after the fact
    sent = {a["labels"]["alertname"] for a in summary["alerts"]["sent"]}
    late = s["alert_after_the_fact"]
    assert (s["detected_by"] is None) != (late is None)
    assert (s["detected_by"] or late["alertname"]) in sent
    # and its HTML and Markdown print the figures the report printed
    for text in (pm.html.read_text(), pm.extra["markdown"].read_text()):
        assert seen.lstrip("$") in text and base.lstrip("$") in text
