"""Report machinery: papermill execution, HTML rendering, summary JSON, the daily content."""

import copy
import json
import math
import os
import re
from html import unescape as html_unescape
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from workbench import schema
from workbench.errors import ConfigError, ReportError, SourceUnavailable
from workbench.reports import daily, render_html, run_notebook
from workbench.reports.execute import check_parameters
from workbench.reports.render import external_scripts
from workbench.reports.summary import jsonable, redact_url, safe_parameters, write_summary
from workbench.sources import TraceSource, mark_incomplete, to_utc

KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def write_nb(path, *sources, params="x = 1"):
    cells = [new_code_cell(params, metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(s) for s in sources]
    nbformat.write(new_notebook(cells=cells, metadata=KERNEL), path)
    return path


@pytest.mark.notebook
def test_run_notebook_injects_parameters_and_renders_offline_html(tmp_path):
    nb = write_nb(tmp_path / "fig.ipynb",
                  "import plotly.graph_objects as go\nfrom workbench import plots\n"
                  "for k in range(3):\n    plots.show(go.Figure(go.Bar(x=[1, 2], y=[x, k])))",
                  "print('value', x * 2)")
    executed = run_notebook(nb, {"x": 21}, tmp_path / "out")
    assert executed == tmp_path / "out" / "fig.ipynb"
    ran = nbformat.read(executed, as_version=4)
    assert "value 42" in ran.cells[-1].outputs[0]["text"]

    html_path = render_html(executed)
    html = html_path.read_text()
    assert html_path == tmp_path / "out" / "fig.html"
    assert "value 42" in html
    assert "plots.show" not in html and "print(" not in html  # no code
    assert '<div class="jp-CodeMirrorEditor' not in html and '<div class="highlight' not in html
    assert '<div class="jp-InputPrompt' not in html and '<div class="jp-OutputPrompt' not in html
    assert external_scripts(html) == []
    assert html.count("plotly.js v") == 1  # the library once, three figures
    assert html.count("Plotly.newPlot(") == 3


@pytest.mark.notebook
def test_kernel_runs_on_this_interpreter_whatever_python3_kernelspec_is_registered(
        tmp_path, monkeypatch):
    # Another environment's "python3" kernelspec, first on the Jupyter path, must not be used.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": ["/nonexistent/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "elsewhere", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = write_nb(tmp_path / "which.ipynb", "import sys\nprint(sys.executable)")
    ran = nbformat.read(run_notebook(nb, {}, tmp_path / "out"), as_version=4)
    import sys

    assert ran.cells[-1].outputs[0]["text"].strip() == sys.executable


@pytest.mark.notebook
def test_kernel_imports_the_workbench_that_asked_for_the_report(tmp_path, monkeypatch):
    # An older copy of the package, found first by the kernel (installed into the interpreter or
    # named by PYTHONPATH), must not run the report: it lacks what the notebooks call.
    stale = tmp_path / "stale" / "workbench"
    stale.mkdir(parents=True)
    (stale / "__init__.py").write_text("STALE = True\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "stale"))
    nb = write_nb(tmp_path / "which.ipynb",
                  "import workbench\nprint(workbench.__file__)\nprint(hasattr(workbench, 'STALE'))")
    ran = nbformat.read(run_notebook(nb, {}, tmp_path / "out"), as_version=4)
    import workbench

    printed = ran.cells[-1].outputs[0]["text"].split()
    assert printed == [str(Path(workbench.__file__).resolve()), "False"]


@pytest.mark.notebook
def test_kernel_exit_runs_exit_hooks_and_keeps_what_the_notebook_wrote(tmp_path):
    # The kernel ends without tearing the interpreter down, but only after the exit hooks:
    # one the notebook registered runs, and a file it left open is flushed (IPython clears the
    # notebook's namespace in its own exit hook).
    hook, left_open = tmp_path / "hook.txt", tmp_path / "open.txt"
    nb = write_nb(tmp_path / "exit.ipynb",
                  "import atexit, pathlib, sys\n"
                  f"atexit.register(pathlib.Path({str(hook)!r}).write_text, 'ran')\n"
                  f"f = open({str(left_open)!r}, 'w')\n"
                  "f.write('kept')\n"
                  "print(sys.argv[0], 'workbench.reports.kernel' in sys.modules)")
    ran = nbformat.read(run_notebook(nb, {}, tmp_path / "out"), as_version=4)
    assert ran.cells[-1].outputs[0]["text"].split() == ["-c", "True"]
    assert hook.read_text() == "ran"
    assert left_open.read_text() == "kept"


@pytest.mark.notebook
@pytest.mark.skipif(os.name != "posix", reason="Unix sockets only where the platform has them")
def test_kernel_talks_over_unix_sockets_not_localhost_tcp(tmp_path, capfd):
    nb = write_nb(tmp_path / "transport.ipynb",
                  "import json\nfrom ipykernel.connect import get_connection_info\n"
                  "print(json.loads(get_connection_info())['transport'])")
    ran = nbformat.read(run_notebook(nb, {}, tmp_path / "out"), as_version=4)
    assert ran.cells[-1].outputs[0]["text"].strip() == "ipc"
    assert "without encryption" not in capfd.readouterr().err


@pytest.mark.notebook
def test_failed_notebook_keeps_err_copy_and_names_the_cell(tmp_path):
    nb = write_nb(tmp_path / "broken.ipynb", "y = x + 1", "raise ValueError(f'boom {y}')")
    with pytest.raises(ReportError) as info:
        run_notebook(nb, {"x": 1}, tmp_path / "out")
    msg = str(info.value)
    assert "ValueError: boom 2" in msg
    assert "raise ValueError" in msg and "cell 3" in msg  # 0: params, 1: injected, 2, 3
    err = tmp_path / "out" / "broken-err.ipynb"
    assert err.is_file() and not (tmp_path / "out" / "broken.ipynb").exists()
    errors = [o["ename"] for c in nbformat.read(err, as_version=4).cells if c.cell_type == "code"
              for o in c.outputs if o.get("output_type") == "error"]
    assert errors == ["ValueError"]


def test_secret_looking_parameters_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\['api_key', 'langfuse_secret'\]"):
        check_parameters({"date": "x", "api_key": "k", "langfuse_secret": "s"})
    with pytest.raises(ConfigError):
        run_notebook(write_nb(tmp_path / "a.ipynb"), {"token": "t"}, tmp_path)


def test_missing_notebook_is_a_report_error(tmp_path):
    with pytest.raises(ReportError, match="not found"):
        run_notebook(tmp_path / "nope.ipynb", {}, tmp_path)


def test_render_drops_remove_cell_and_rejects_cdn_scripts(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("editor notes", metadata={"tags": ["remove-cell"]}),
                             new_markdown_cell("reader text")], metadata=KERNEL)
    nbformat.write(nb, tmp_path / "n.ipynb")
    html = render_html(tmp_path / "n.ipynb", title="T").read_text()
    assert "reader text" in html and "editor notes" not in html and "<title>T</title>" in html
    assert external_scripts('<script src="https://cdn.example/x.js">') != []
    assert external_scripts("<script src='//cdn.example/x.js'>") != []
    assert external_scripts('<script type="text/javascript">var a;</script>') == []
    evil = new_notebook(cells=[new_markdown_cell('<script src="http://cdn.example/x.js"></script>')],
                        metadata=KERNEL)
    nbformat.write(evil, tmp_path / "evil.ipynb")
    with pytest.raises(ReportError, match="network"):
        render_html(tmp_path / "evil.ipynb")


def test_summary_json_is_strict_and_redacted(tmp_path):
    data = {"t": pd.Timestamp("2026-11-06", tz="UTC"), "nan": float("nan"), "inf": math.inf,
            "na": pd.NA, "frame": pd.DataFrame({"a": [1.0, float("nan")]})}
    path = write_summary(tmp_path / "s.json", data)
    written = json.loads(path.read_text())
    assert written.pop("redaction")["count"] == 0
    assert written == {"t": "2026-11-06T00:00:00+00:00", "nan": None,
                                            "inf": None, "na": None,
                                            "frame": [{"index": 0, "a": 1.0},
                                                      {"index": 1, "a": None}]}
    assert jsonable({"k": (1, 2)}) == {"k": [1, 2]}
    assert redact_url("https://hooks.example.com/services/T0/B0/secret?x=1") == \
        "https://hooks.example.com/..."
    assert redact_url("out/alerts.jsonl") == "out/alerts.jsonl"
    assert safe_parameters({"date": "d", "api_token": "t", "alerts_url": "http://h:9093/x"}) == \
        {"date": "d", "alerts_url": "http://h:9093/..."}


# -- the daily report's content, from in-memory sources (no kernel) --------------------------------

class FrameSource(TraceSource):
    """A trace source over fixed frames; ``fail`` makes observations raise, ``partial`` marks
    them incomplete, as a real source does when its budget runs out."""

    name = "frames"

    def __init__(self, ds, fail=None, partial=None):
        self.ds, self.fail, self.partial = ds, fail, partial

    def observations(self, start, end, **filters):
        if self.fail:
            raise self.fail
        o = self.ds.observations
        out = o[(o["start_time"] >= to_utc(start)) & (o["start_time"] < to_utc(end))]
        return mark_incomplete(out.copy(), self.partial) if self.partial else out

    def scores(self, start, end, **filters):
        s = self.ds.scores
        return s[(s["timestamp"] >= to_utc(start)) & (s["timestamp"] < to_utc(end))]


@pytest.fixture(scope="module")
def week():
    from shared_datasets import simulated

    return simulated(seed=7, days=7, traces_per_day=500)


def label_day(ds, runbook):
    row = ds.labels[ds.labels["runbook"] == runbook].iloc[0]
    return row["start"].floor("D")


def test_build_flags_each_incident_day_and_nothing_else(week):
    rep = daily.build("2026-11-08", FrameSource(week), days=7, alert_days=7)
    assert not rep.degraded
    assert list(rep.kpis.index) == list(pd.date_range("2026-11-02", periods=7, tz="UTC"))
    assert rep.kpis["traces"].sum() == len(week.traces)
    fired = {(f.signal, f.start) for f in rep.findings
             if f.status == "firing" and f.signal.startswith("daily_")}
    assert fired == {("daily_timeout_rate", label_day(week, "timeout_surge")),
                     ("daily_cost_usd", label_day(week, "cost_spike")),
                     ("daily_hallucination_rate", label_day(week, "hallucination_spike"))}
    unjudged = [f for f in rep.findings if f.status == "insufficient_data"]
    assert {f.start for f in unjudged if f.signal.startswith("daily_")} == {
        pd.Timestamp("2026-11-02", tz="UTC")}
    # The whole window alerts (alert_days=7); a one-day alert window keeps only the last day.
    assert {f.signal for f in rep.alert_findings()} >= {
        "daily_timeout_rate", "daily_cost_usd", "daily_hallucination_rate"}
    last_day = daily.build("2026-11-07", FrameSource(week), days=7, alert_days=1)
    assert {f.signal for f in last_day.alert_findings() if f.signal.startswith("daily_")} == {
        "daily_hallucination_rate"}


def test_an_incident_day_leads_its_banner_with_the_most_urgent_alert_never_green(week):
    day = label_day(week, "hallucination_spike")
    rep = daily.build(day, FrameSource(week), days=7, alert_days=1)
    alerted = [f for f in rep.alert_findings() if f.status == "firing"]
    assert alerted
    rank = ("info", "warning", "critical", "page")
    worst = min(alerted, key=lambda f: (-rank.index(f.severity), f.start))
    head = rep.header_html()
    assert "class='wb-ok'" not in head
    shade = "wb-warning" if worst.severity == "warning" else "wb-alert"
    banner = re.search(r"<div class='(wb-[a-z]+)'>(.*?)</div>", head, re.S)
    assert banner.group(1) == shade
    text = banner.group(2)
    assert text.startswith(f"<b>{worst.severity.upper()}</b>: Hallucination spike")
    agent = worst.labels.get("agent")
    assert (f" in {agent}, " in text) if agent else " in " not in text.split(",")[0]
    assert "finding(s) on the report day" in text and text.rstrip().endswith("Source ok.")
    # a quiet day of the same week stays green
    quiet = daily.build("2026-11-03", FrameSource(week), days=2, alert_days=1)
    assert quiet.alert_findings() == [] and "<div class='wb-ok'>Source ok." in \
        quiet.header_html()


def test_the_banner_names_other_runbooks_alerting_on_the_same_agent_and_hours(week):
    """The demo's runaway loop costs and slows tool-agent: it pages as a cost spike and a
    timeout surge. The banner leads with the most urgent and names the other, with the first
    suspect they share, so the reader does not open one runbook only."""
    import dataclasses

    day = label_day(week, "cost_spike")
    rep = copy.copy(daily.build(day, FrameSource(week), days=7, alert_days=1))
    alerted = [f for f in rep.alert_findings() if f.status == "firing"]
    lead = min(alerted, key=daily.urgency)
    agent = lead.labels["agent"]
    others = sorted((f for f in alerted if f.runbook != lead.runbook
                     and f.labels.get("agent") == agent
                     and f.start < lead.end and lead.start < f.end), key=daily.urgency)
    assert others and {f.runbook for f in others} == {"timeout_surge"}
    twin = others[0]
    assert twin.suspects[0].label == lead.suspects[0].label
    said = (f"With {rep.runbooks[twin.runbook].title} ({twin.severity.upper()}) in the same "
            f"agent and hours, first suspect {lead.suspects[0].label} as well.")
    banner = re.search(r"<div class='wb-[a-z]+'>(.*?)</div>", rep.header_html(), re.S).group(1)
    assert said in html_unescape(banner)
    # another agent's alert, or hours apart, is not the same incident
    rep.findings = [f for f in rep.findings if f not in others] + [
        dataclasses.replace(twin, labels={**twin.labels, "agent": "someone-else"}),
        dataclasses.replace(twin, start=lead.end, end=lead.end + pd.Timedelta(hours=2))]
    assert " With " not in rep.header_html()


def test_kpi_table_html_marks_anomalous_days_and_escapes(week):
    rep = daily.build("2026-11-08", FrameSource(week), days=7, alert_days=1)
    table = rep.kpi_table_html()
    assert table.count("ANOMALOUS") == 3
    assert "ANOMALOUS: daily_cost_usd" in table
    findings_html = rep.findings_html()
    assert "Earlier in the window" in findings_html and "daily_cost_usd" in findings_html
    # earlier days are judged by the daily checks alone, and the report says so
    assert "Daily checks only: the hourly detectors judged on the report day" in findings_html
    assert not any(f.signal == "cost_per_request" for f in rep.findings)  # the 11-06 hours
    # the first day's check could not judge (no days before it): that day's report says so,
    # this one counts it and keeps its own "could not judge" list for its day
    before = [f for f in rep.findings if f.status == "insufficient_data" and f.end <= rep.date]
    assert before and all(f.start < rep.date for f in before)
    assert (f"<p><i>{len(before)} check(s) of earlier days could not judge (too little data): "
            "their days' reports list them.</i></p>") in findings_html
    assert "Could not judge (insufficient data)" not in findings_html


def test_earlier_days_without_a_firing_daily_check_say_so_not_nothing_fired(week):
    """Earlier days are judged by their daily checks only: "Nothing fired" there, beside an
    hourly page two days before, read as a quiet week."""
    rep = daily.build("2026-11-04", FrameSource(week), days=3, alert_days=1)
    html = rep.findings_html()
    earlier = html[html.index("<h3>Earlier in the window</h3>"):]
    assert not [f for f in rep.findings if f.status == "firing" and f.end <= rep.date]
    assert "<p>No daily check fired on the earlier days.</p>" in earlier
    assert "<p>Nothing fired.</p>" not in earlier


def test_trace_content_is_escaped_in_findings(week):
    from workbench.findings import Finding
    from workbench.reports import html

    rep = daily.build("2026-11-08", FrameSource(week), days=2)
    rep.findings.append(Finding(runbook="cost_spike", signal="x", severity="warning",
                                start=rep.date, end=rep.window_end, observed=1.0, baseline=1.0,
                                summary="<script>alert(1)</script> from agent <b>"))
    out = html.findings(rep)
    assert "<script>alert(1)" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out


def test_findings_table_prints_figures_in_their_unit_and_missing_ones_as_a_dash(week):
    """Observed and baseline in one unit (dollars for cost, as the finding's summary says);
    a check that could not judge shows a dash, never "– ratio", and a value with nothing
    before it a "new" ratio, never "inf"."""
    from workbench.findings import Finding
    from workbench.reports import html

    rep = daily.build("2026-11-08", FrameSource(week), days=2)
    day, nan = rep.date, float("nan")
    rep.findings[:] = [
        Finding(runbook="cost_spike", signal="cost_per_request", severity="warning",
                start=day, end=day + pd.Timedelta(hours=2), observed=0.11370404,
                baseline=0.03917890, unit="USD", summary="cost per request rose"),
        Finding(runbook="hallucination_spike", signal="daily_hallucination_rate",
                severity="info", status="insufficient_data", start=day,
                end=day + pd.Timedelta(days=1), observed=nan, baseline=nan, unit="ratio",
                summary="no hallucination score"),
        Finding(runbook="timeout_surge", signal="timeout_errors", severity="warning",
                start=day, end=day + pd.Timedelta(hours=1), observed=0.05, baseline=0.0,
                unit="ratio", summary="timeouts where there were none"),
    ]
    out = html.findings(rep)
    # the text of each cell ("$" is set apart in a span so that JupyterLab shows no math)
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", out, re.S)]
    assert "$0.1137" in cells and "$0.03918" in cells
    assert "– ratio" not in out and not any(c.lower() in ("nan", "inf") for c in cells)
    assert "5%" in cells and "new" in cells  # a share, as a percentage


def test_failing_source_degrades_the_report_and_alerts(week, tmp_path):
    boom = SourceUnavailable("connection refused by 10.0.0.1:3000", source="frames")
    rep = daily.build("2026-11-08", FrameSource(week, fail=boom), days=7)
    assert rep.degraded and rep.source.to_dict() == {
        "name": "frames", "status": "degraded", "degraded": True,
        "reason": "traces: SourceUnavailable: frames: connection refused by 10.0.0.1:3000"}
    assert rep.kpis["traces"].sum() == 0
    assert "DEGRADED REPORT" in rep.header_html() and "connection refused" in rep.header_html()
    delivery = rep.send_alerts(None, tmp_path)
    assert [a.name for a in delivery.sent] == ["DailyReportSourceDegraded"]
    assert delivery.sent[0].labels["source"] == "frames"
    assert delivery.sent[0].severity == "critical"
    line = json.loads((tmp_path / "alerts.jsonl").read_text())
    assert line["fingerprint"] == rep.degraded_finding().fingerprint
    summary = json.loads(rep.write_summary(tmp_path, {"date": "2026-11-08"}, delivery)
                         .read_text())
    assert summary["degraded"] is True and summary["source"]["status"] == "degraded"
    assert summary["alerts"]["sent"][0]["labels"]["alertname"] == "DailyReportSourceDegraded"


def test_report_alerts_name_the_source_they_judged(week, tmp_path):
    """The alert ledger is shared by every project on the machine: a report's alerts say
    which data they were judged on, so a post-mortem counts only its own."""
    class Project(FrameSource):
        identity = "frames:project-a"

    boom = SourceUnavailable("connection refused", source="frames")
    rep = daily.build("2026-11-08", Project(week, fail=boom), days=7)
    delivery = rep.send_alerts(None, tmp_path)
    assert delivery.sent
    assert {a.annotations["source_id"] for a in delivery.sent} == {"frames:project-a"}


def test_incomplete_pull_is_degraded_but_keeps_its_data(week):
    rep = daily.build("2026-11-08", FrameSource(week, partial="page 3 lost after retries"))
    assert rep.degraded and "observations incomplete: page 3 lost" in rep.source.reason
    assert rep.kpis["traces"].sum() > 0


def test_summary_content(week, tmp_path):
    rep = daily.build("2026-11-08", FrameSource(week), days=7, alert_days=7)
    delivery = rep.send_alerts(str(tmp_path / "a.jsonl"), tmp_path)
    params = {"date": "2026-11-08", "source": "frames", "alerts_url": "https://h/x?token=1"}
    s = json.loads(rep.write_summary(tmp_path, params, delivery).read_text())
    assert s["date"] == "2026-11-08" and s["degraded"] is False
    assert s["parameters"] == {"date": "2026-11-08", "source": "frames",
                               "alerts_url": "https://h/..."}
    assert [k["day"][:10] for k in s["kpis"]] == [f"2026-11-0{d}" for d in range(2, 9)]
    assert s["kpis"][0]["traces"] == int(rep.kpis["traces"].iloc[0])
    steps = [f.pop("next_steps") for f in s["findings"]]
    assert s["findings"] == json.loads(json.dumps([f.to_dict() for f in rep.findings]))
    for f, step in zip(rep.findings, steps):  # every runbook finding says what to do next
        assert (step is None) == (f.runbook not in rep.runbooks or f.status != "firing")
        if step is not None:
            assert step["investigation"] == rep.runbooks[f.runbook].spec["investigation"][:3]
            assert step["postmortem_command"].startswith(
                f"workbench postmortem --runbook {f.runbook} --start {f.start:%Y-%m-%dT%H:%M}Z")
    assert {a["fingerprint"] for a in s["alerts"]["sent"]} == {
        f.fingerprint for f in rep.alert_findings()}
    assert len(s["checks"]) == 3 and {c["runbook"] for c in s["checks"]} == {
        "cost_spike", "hallucination_spike", "timeout_surge"}


def test_bad_inputs_are_config_errors(week, tmp_path):
    with pytest.raises(ConfigError, match="bad date 'yesterday-ish'"):
        daily.build("yesterday-ish", FrameSource(week))
    with pytest.raises(ConfigError, match="unknown source 'nope'"):
        daily.build("2026-11-08", "nope")
    with pytest.raises(ConfigError, match="not found"):
        daily.build("2026-11-08", "local", tmp_path / "missing")
    with pytest.raises(ConfigError, match="at least 1"):
        daily.build("2026-11-08", FrameSource(week), days=0)


class SilentAfter(FrameSource):
    """Traces stop at ``cut``: the source answers, with nothing in it."""

    def __init__(self, ds, cut, keep=0):
        super().__init__(ds)
        self.cut, self.keep = to_utc(cut), keep

    def observations(self, start, end, **filters):
        out = super().observations(start, end)
        late = out["start_time"] >= self.cut
        ids = out.loc[late, "trace_id"].drop_duplicates().iloc[:self.keep]
        return out[~late | out["trace_id"].isin(set(ids))]


def test_a_day_without_data_is_a_finding_not_a_green_banner(week):
    rep = daily.build("2026-11-08", SilentAfter(week, "2026-11-08"), days=3)
    gap = [f for f in rep.findings if f.signal == "no_data"]
    assert len(gap) == 1 and gap[0].severity == "critical" and gap[0].observed == 0
    assert gap[0].baseline > 400  # the days before had ~500 traces each
    assert rep.no_data and rep.degraded
    assert gap[0] in rep.alert_findings()
    head = rep.header_html()
    assert "NO DATA" in head and "Source ok" not in head
    # a tenth of the usual volume is a warning; the usual volume is no finding at all
    thin = daily.build("2026-11-08", SilentAfter(week, "2026-11-08", keep=20), days=3)
    assert [f.severity for f in thin.findings if f.signal == "no_data"] == ["warning"]
    assert not [f for f in daily.build("2026-11-08", FrameSource(week), days=3).findings
                if f.signal == "no_data"]


@pytest.fixture(scope="module")
def quiet_project():
    """A week of 2,000 traces a day and no incident: every agent (~400-800 traces a day)
    big enough to judge on its own."""
    from workbench.simulate import generate

    return generate(seed=7, days=7, traces_per_day=2000, incidents=[])


def test_a_small_teams_quiet_day_that_could_not_be_judged_is_no_green_all_clear(
        tmp_path, quiet_project):
    """100 traces a day: nothing fires, but a page-size timeout change could not be told apart
    on the day. The banner names the runbook instead of a green all-clear, and the summary
    says the same; a project big enough to judge keeps its green banner."""
    from workbench.simulate import generate

    small = generate(seed=7, days=7, traces_per_day=100, incidents=[])
    rep = daily.build("2026-11-08", FrameSource(small), days=2)
    assert not [f for f in rep.findings if f.status == "firing"]
    gap = [f for f in rep.findings if f.signal == "data_volume"]
    assert [f.runbook for f in gap] == ["timeout_surge"] and rep.not_judged() == [
        "timeout_surge"]
    head = rep.header_html()
    assert "<div class='wb-ok'>" not in head and "<div class='wb-partial'>Source ok. Nothing " \
        "fired: no daily check in the window, no hourly detector on the report day. " \
        "<b>Not judged</b> (too little data, see \"Could not judge\" below): Timeout " \
        "surge.</div>" in head
    s = json.loads(rep.write_summary(tmp_path, {"date": "2026-11-08"}, None).read_text())
    assert s["not_judged"] == ["timeout_surge"] and s["degraded"] is False
    # the day's timeout check cannot judge either, and says so in its row; its finding would
    # repeat the detectors' own, so there is one
    (row,) = [c for c in s["checks"] if c["runbook"] == "timeout_surge"]
    assert row["status"] == "insufficient_data" and row["detectable"] == pytest.approx(10.59,
                                                                                       abs=0.01)
    assert row["reason"] == (
        "timeout_rate on 2026-11-08 was 0.00%, the 6-day median 0.00% (limit 3x); timeout_rate "
        "0 against 0.004949 expected for the day's traffic (0.00x); the day's 70 "
        "traces can only tell apart a timeout_rate change of 10.6x or more (page threshold "
        "10x): too few to judge")
    assert [(f.runbook, f.signal) for f in rep.findings if f.status == "insufficient_data"
            and f.end > rep.date] == [("timeout_surge", "data_volume")]
    assert {c["runbook"]: c["status"] for c in s["checks"]} == {
        "cost_spike": "ok", "hallucination_spike": "ok", "timeout_surge": "insufficient_data"}
    busy = daily.build("2026-11-08", FrameSource(quiet_project), days=2)
    assert busy.not_judged() == [] and busy.too_little_traffic() == []
    assert "<div class='wb-ok'>Source ok." in busy.header_html()
    # the coverage line counts what was pulled (the checks' earlier days too), and says so
    shown = len(busy.window(busy.traces))
    assert busy.coverage.traces > shown
    assert (f"{shown:,} traces.</p>" in busy.header_html()
            and f"Mapping coverage over the {busy.coverage.traces:,} traces pulled (the window "
            "and the days its checks compare with)" in busy.header_html())
    # a trace with no prompt or tool call is said as such, not as an unknown mapping
    u = busy.coverage.unknown
    assert (f"agent unknown on {u['agent']:.0%}; no model on {u['model']:.0%}, no prompt on "
            f"{u['prompt']:.0%}, no tool call on {u['tool']:.0%} of traces (an agent that "
            "links no managed prompt or calls no tool counts there too") in busy.header_html()


class ThinAgent(FrameSource):
    """``agent`` sends only ``keep`` traces on ``day`` (its first ones): a small agent beside
    busy ones, in the simulator's own spans."""

    def __init__(self, ds, agent, day, keep):
        super().__init__(ds)
        t = ds.traces
        day = to_utc(day)
        mine = t[(t["agent"] == agent) & (t["start_time"] >= day)
                 & (t["start_time"] < day + pd.Timedelta(days=1))].sort_values("start_time")
        self.dropped = set(mine["trace_id"].iloc[keep:])

    def observations(self, start, end, **filters):
        out = super().observations(start, end)
        return out[~out["trace_id"].isin(self.dropped)]


def test_an_agent_too_small_to_judge_on_its_own_is_named_not_passed_over(tmp_path,
                                                                          quiet_project):
    """The planner sends 4 traces on the report day beside ~1,600 of the other agents: all
    traffic can be judged, the planner's own cannot show a page-size change of either traffic
    runbook. The report names it (banner amber, one line in the summary and the HTML); the
    same day with the planner's usual ~400 traces names nobody and stays green."""
    quiet = quiet_project
    rep = daily.build("2026-11-08", ThinAgent(quiet, "planner-agent", "2026-11-08", 4), days=2)
    assert not [f for f in rep.findings if f.status == "firing"] and rep.not_judged() == []
    assert rep.too_little_traffic() == [
        {"agent": "planner-agent", "traces": 4, "runbooks": ["cost_spike", "timeout_surge"]}]
    line = "too little traffic to judge: planner-agent (4 traces: Cost spike, Timeout surge)"
    assert rep.too_little_traffic_note() == line
    head = rep.header_html()
    assert "<div class='wb-ok'>" not in head
    assert ("<div class='wb-partial'>Source ok. Nothing fired: no daily check in the window, "
            "no hourly detector on the report day. "
            "<b>Too little traffic to judge</b> on their own: planner-agent (4 traces: Cost "
            "spike, Timeout surge).</div>") in head
    s = json.loads(rep.write_summary(tmp_path, {"date": "2026-11-08"}, None).read_text())
    assert s["too_little_traffic"] == {"note": line, "agents": [
        {"agent": "planner-agent", "traces": 4, "runbooks": ["cost_spike", "timeout_surge"]}]}
    # what each agent could show: the planner's 4 traces nothing over any window; the others'
    # day a cost change a few percent up, an hour of them less
    rows = {(r["agent"], r["signal"]): r for r in s["sensitivity"]["rows"]}
    planner = rows[("planner-agent", "cost_per_request")]
    assert planner == {"runbook": "cost_spike", "agent": "planner-agent",
                       "signal": "cost_per_request", "units": 4, "window_h": 24.0,
                       "1h": None, "6h": None, "window": None}
    rag = rows[("rag-agent", "cost_per_request")]
    assert rag["units"] > 500 and 1.0 < rag["window"] < rag["6h"] < rag["1h"] < 2.0
    assert rows[("rag-agent", "hallucination_rate")]["units"] > 500
    assert set(s["sensitivity"]["rows"][0]) == {"runbook", "agent", "signal", "units",
                                                "window_h", "1h", "6h", "window"}
    shown = rep.findings_html()
    assert "<h3>What each agent's traffic could show</h3>" in shown
    assert "<th>cost per request (pages at 5x)</th>" in shown
    assert "<td>planner-agent</td>\n      <td>4</td>\n      <td>– / – / –</td>" in shown
    assert (f"<td>{rag['1h']:.3g}x / {rag['6h']:.3g}x / {rag['window']:.3g}x</td>") in shown
    usual = daily.build("2026-11-08", FrameSource(quiet), days=2)
    assert usual.too_little_traffic() == [] and usual.too_little_traffic_note() is None
    assert "<div class='wb-ok'>Source ok. Nothing fired: no daily check" in usual.header_html()
    s = json.loads(usual.write_summary(tmp_path, {"date": "2026-11-08"}, None).read_text())
    assert s["too_little_traffic"] == {"note": None, "agents": []}


def test_findings_on_partial_data_are_shown_unconfirmed_and_never_alerted(week):
    rep = daily.build("2026-11-06", FrameSource(week, partial="3 of 24 slices lost"), days=2)
    incident = [f for f in rep.findings if f.runbook == "cost_spike" and f.status == "firing"]
    assert incident and all(not f.confirmed for f in incident)
    alerted = rep.alert_findings()
    assert [f.signal for f in alerted] == ["source_degraded"]
    assert "(unconfirmed)" in rep.findings_html()
    assert any("unconfirmed" in n for n in rep.notes)


def test_judge_labels_and_scales_the_signals_do_not_read_as_is_are_said_in_the_report(week):
    """Scores a categorical judge wrote in words the conventions do not know are left out of
    their signal, and a 1-5 rating is read on its scale; the report says both, so a quiet
    signal is not read as a good one."""
    ds = copy.copy(week)
    day = pd.Timestamp("2026-11-08T12:00:00Z")
    labels = pd.DataFrame({"score_id": [f"c{i}" for i in range(5)],
                           "trace_id": week.traces["trace_id"].iloc[:5].to_numpy(),
                           "observation_id": None, "timestamp": day,
                           "name": "groundedness", "value": float("nan"),
                           "string_value": ["grounded", "hallucinated", "borderline",
                                            "borderline", "borderline"],
                           "data_type": "CATEGORICAL", "source": "EVAL",
                           "environment": "default"})
    ratings = labels.assign(score_id=[f"r{i}" for i in range(5)], name="answer_groundedness",
                            value=[1.0, 2.0, 4.0, 5.0, 5.0], string_value=None,
                            data_type="NUMERIC")
    ds.scores = schema.conform(pd.concat([week.scores, labels, ratings], ignore_index=True),
                               "scores")
    rep = daily.build("2026-11-08", FrameSource(ds), days=2)
    assert any(n.startswith("score 'answer_groundedness' read on a 1–5 scale") for n in rep.notes)
    said = [n for n in rep.notes if "categorical score(s) left out" in n]
    assert said == ["3 categorical score(s) left out: their values map to no level of their "
                    "signal (groundedness = 'borderline' (3)); add them under `scores: "
                    "<signal>: categories:` in the conventions file (WORKBENCH_CONVENTIONS)"]
    assert "3 categorical score(s) left out" in rep.header_html()


def test_a_weekend_as_quiet_as_the_last_one_is_not_no_data(week):
    """A business-hours agent's Saturday is a tenth of its weekdays: usual for a Saturday
    when the Saturday a week before was as quiet; an outage when it was not."""
    from workbench.simulate import generate

    two = generate(seed=7, days=14, traces_per_day=300)
    sat = [pd.Timestamp("2026-11-07T00:00:00Z"), pd.Timestamp("2026-11-14T00:00:00Z")]
    t = two.traces
    day = t["start_time"].dt.floor("D")
    quiet = day.isin(sat).to_numpy()
    keep = ~quiet | (t["trace_id"].rank(method="first").to_numpy() % 20 == 0)
    ids = set(t.loc[keep, "trace_id"])
    thin = copy.copy(two)
    thin.observations = two.observations[two.observations["trace_id"].isin(ids)]
    thin.scores = two.scores[two.scores["trace_id"].isin(ids)]
    weekend = daily.build("2026-11-14", FrameSource(thin), days=2)
    assert [f for f in weekend.findings if f.signal == "no_data"] == []
    # the week before had a busy Saturday: a quiet one now is a finding
    once = copy.copy(two)
    only = set(t.loc[~(day == sat[1]).to_numpy() | keep, "trace_id"])
    once.observations = two.observations[two.observations["trace_id"].isin(only)]
    once.scores = two.scores[two.scores["trace_id"].isin(only)]
    gap = [f for f in daily.build("2026-11-14", FrameSource(once), days=2).findings
           if f.signal == "no_data"]
    assert [f.severity for f in gap] == ["warning"]
    assert "the same weekday in the weeks before" in gap[0].summary


def test_a_small_teams_silent_day_is_no_data_once_silence_cannot_be_chance():
    """Ten traces a day: a silent day has Poisson chance 5e-5, a finding; a team of four a
    day is silent by chance one day in fifty, no finding. A thin day is judged the same way."""
    days = pd.date_range("2026-11-01", periods=8, freq="D", tz="UTC")

    def gap(before: int, today: int):
        kpis = pd.DataFrame({"traces": [before] * 7 + [today]}, index=days)
        return daily._no_data(pd.DataFrame(), days[-1], kpis)

    silent = gap(10, 0)
    assert (silent.severity, silent.observed, silent.baseline) == ("critical", 0.0, 10.0)
    assert silent.summary.startswith("no traces on 2026-11-08 where 10 were usual")
    assert gap(4, 0) is None and gap(10, 1) is None
    assert gap(12, 1).severity == "warning"  # 1 of 12 usual: p = 8e-5, under a tenth
    assert gap(19, 1) is not None and gap(500, 50) is None


def test_an_outage_a_week_earlier_does_not_make_a_second_one_usual():
    """Three Saturdays: busy, silent (an outage), silent again. The second outage is a
    finding: the busiest of the earlier Saturdays is that weekday's usual volume."""
    from workbench.simulate import generate

    three = generate(seed=7, days=20, traces_per_day=200, incidents=[])
    t = three.traces
    day = t["start_time"].dt.floor("D")
    out = day.isin([pd.Timestamp("2026-11-14T00:00:00Z"),
                    pd.Timestamp("2026-11-21T00:00:00Z")]).to_numpy()
    ids = set(t.loc[~out, "trace_id"])
    gone = copy.copy(three)
    gone.observations = three.observations[three.observations["trace_id"].isin(ids)]
    gone.scores = three.scores[three.scores["trace_id"].isin(ids)]
    busy = int((day == pd.Timestamp("2026-11-07T00:00:00Z")).sum())
    rep = daily.build("2026-11-21", FrameSource(gone), days=8, alert_days=1)
    gap = [f for f in rep.findings if f.signal == "no_data"]
    assert [(f.severity, f.observed) for f in gap] == [("critical", 0.0)]
    # the usual volume: the week before's median (its Saturday was silent too) or that busy
    # Saturday, whichever is lower
    assert 0 < gap[0].baseline <= busy


def _cells(table_html):
    """Header and rows of the first table in ``table_html``, as text."""
    rows = re.findall(r"<tr.*?>(.*?)</tr>", table_html, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd]>(.*?)</t[hd]>",
                                                                 r, re.S)] for r in rows]


def _finding(runbook, signal, severity, start, hours, **labels):
    from workbench.findings import Finding

    return Finding(runbook=runbook, signal=signal, severity=severity, start=start,
                   end=start + pd.Timedelta(hours=hours), observed=0.2, baseline=0.07,
                   unit="ratio", summary=f"{signal} up", labels=labels)


def test_lists_said_most_urgent_first_put_page_and_critical_above_warning(week):
    """A daily check (a warning from midnight) never goes above a critical of the
    afternoon: the findings and the next steps are most urgent first, then by start."""
    from workbench.reports import html

    rep = daily.build("2026-11-08", FrameSource(week), days=2)
    day = rep.date
    before = day - pd.Timedelta(days=1)
    rep.findings[:] = sorted([
        _finding("hallucination_spike", "daily_hallucination_rate", "warning", day, 24,
                 day=f"{day:%Y-%m-%d}"),
        _finding("hallucination_spike", "hallucination_rate", "critical",
                 day + pd.Timedelta(hours=14), 8, agent="rag-agent"),
        _finding("cost_spike", "cost_per_request", "warning", before, 2, agent="tool-agent"),
        _finding("cost_spike", "runaway_loop", "page", before + pd.Timedelta(hours=9), 2,
                 agent="planner-agent"),
    ], key=daily._order)
    assert [f.severity for f in rep.findings] == ["page", "warning", "critical", "warning"]
    out = html.findings(rep)
    today = out[out.index("<h3>On "):out.index("<h3>Earlier")]
    assert [r[0] for r in _cells(today)[1:]] == ["CRITICAL", "WARNING"]
    earlier = out[out.index("<h3>Earlier"):]
    earlier = earlier[:earlier.index("</table>")]
    assert [r[0] for r in _cells(earlier)[1:]] == ["PAGE", "WARNING"]
    steps = re.findall(r"<div class='wb-next'.*?<b>(.*?)</b>", out, re.S)
    assert [s.split(",")[0] for s in steps] == [
        "Cost spike in planner-agent", "Hallucination spike in rag-agent",
        "Cost spike in tool-agent"]
    # the whole-day check joins the agent's incident it overlaps, which keeps its own hours
    rag = re.search(r"<div class='wb-next'[^>]*><p><b>Hallucination spike in rag-agent, "
                    r"([^<]*)</b> \(([^)]*\)[^)]*)\)", out)
    assert rag.group(2) + ")" == \
        "hallucination_rate (CRITICAL), daily_hallucination_rate (WARNING)"
    assert rag.group(1).startswith(f"{day:%Y-%m-%d} 14:00")


def test_overlapping_findings_of_one_runbook_and_agent_share_one_next_step_block(week):
    """A runaway loop (page, 16-22) and the cost per request it raised (warning, 16-23) of
    one agent are one incident: one block with the page's commands over 16-23 naming both
    signals; another agent, or a later hour that does not overlap, gets its own."""
    from workbench.reports import html

    rep = daily.build("2026-11-08", FrameSource(week), days=2)
    t = rep.date + pd.Timedelta(hours=16)
    found = [_finding("cost_spike", "cost_per_request", "warning", t, 7, agent="tool-agent"),
             _finding("cost_spike", "runaway_loop", "page", t, 6, agent="tool-agent"),
             _finding("cost_spike", "cost_per_request", "critical", t, 2, agent="rag-agent"),
             _finding("cost_spike", "cost_per_request", "warning", t - pd.Timedelta(hours=6),
                      3, agent="tool-agent")]
    out = html.next_steps(rep, found)
    blocks = re.findall(r"<div class='wb-next'.*?</div>", out, re.S)
    assert len(blocks) == 3
    first = blocks[0]
    assert "Cost spike in tool-agent, 2026-11-08 16:00 – 23:00 UTC" in first
    assert "(runaway_loop (PAGE), cost_per_request (WARNING))" in first
    commands = re.findall(r"<pre class='wb-command'>(.*?)</pre>", first)
    assert len(commands) == 2
    for cmd in commands:
        assert "--start 2026-11-08T16:00Z --end 2026-11-08T23:00Z" in cmd
        assert "--agent tool-agent" in cmd
    assert "in rag-agent, 2026-11-08 16:00 – 18:00 UTC</b> (cost_per_request)" in blocks[1]
    assert "in tool-agent, 2026-11-08 10:00 – 13:00 UTC</b> (cost_per_request)" in blocks[2]


def test_an_agent_missing_one_score_is_not_said_to_have_no_scores(week):
    """tool-agent's traces carry tool-call validity scores, no hallucination score: its
    hallucination cell says so; "no scores" only for an agent with none at all."""
    from workbench.reports import html

    rep = daily.build("2026-11-08", FrameSource(week), days=2)
    assert rep.score_names()["tool-agent"] == ["tool_call_valid"]
    table = html.sensitivity(rep)
    rows = {r[0]: r for r in _cells(table[table.index("<table"):])}
    head = rows["agent"]
    cell = rows["tool-agent"][next(i for i, h in enumerate(head)
                                   if h.startswith("hallucination rate"))]
    assert cell == "no hallucination score (tool_call_valid judged)"
    assert html._no_score("hallucination_rate", ["groundedness", "answer_relevancy"]) == \
        "no hallucination score (groundedness judged)"
    assert html._no_score("hallucination_rate", ["Correctness"]) == \
        "no hallucination score (only Correctness, which no signal reads)"
    assert html._no_score("groundedness", []) == "no scores"


def test_daily_check_rows_name_the_median_and_the_days_expected_value(week):
    """A daily check compares its KPI with the median of the days before and its signal with
    what the day's traffic expects: each in its own labelled column, the numbers unchanged;
    an hourly finding keeps its baseline and ratio."""
    from workbench.kpis import check_findings
    from workbench.reports import html

    rep = daily.build("2026-11-08", FrameSource(week), days=2)
    row = rep.checks.loc[(rep.checks["runbook"] == "hallucination_spike")
                         & (rep.checks["status"] == "breach")].iloc[0]
    check = [f for f in check_findings(rep.all_kpis, rep.checks.loc[[row.name]])
             if f.signal == "daily_hallucination_rate"][0]
    hourly = _finding("hallucination_spike", "hallucination_rate", "critical",
                      rep.date + pd.Timedelta(hours=14), 8, agent="rag-agent")
    table = _cells(html._table(html._findings_frame([hourly, check], rep.checks)))
    head = table[0]
    assert head[4:10] == ["observed", "baseline", "ratio", f"{row.baseline_days}-day median",
                          "ratio to median", "expected for the day's traffic"]
    assert table[1][4:10] == ["20%", "7%", "2.86", "–", "–", "–"]
    pct = lambda x: f"{100 * x:.4g}%"  # noqa: E731  a share, as every table prints it
    assert table[2][4:10] == [
        pct(row.value), "–", "–", pct(row.baseline), f"{row.value / row.baseline:.2f}",
        f"{pct(row.expected)} (hallucination_rate {pct(row.observed)})"]
    # a table of hourly findings alone has no empty daily columns
    alone = _cells(html._table(html._findings_frame([hourly], rep.checks)))[0]
    assert "ratio to median" not in alone and "baseline" in alone
