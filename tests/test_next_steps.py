"""Next steps everywhere: runbook and report links, the exact commands for a finding's window,
and each daily-report finding's first investigation steps and mitigations."""

from __future__ import annotations

import re
import shlex

import pandas as pd
import pytest

from workbench.alerts import Alert
from workbench.cli import EXIT_BAD_INPUT, main
from workbench.errors import ConfigError
from workbench.findings import Finding
from workbench.links import (check_urls, postmortem_command, report_url, runbook_command,
                             runbook_url)

START = pd.Timestamp("2026-11-06 09:00", tz="UTC")


def finding(runbook="cost_spike", **labels):
    return Finding(runbook=runbook, signal="cost_per_request", severity="page", start=START,
                   end=START + pd.Timedelta(hours=3), observed=0.17, baseline=0.0135,
                   summary="cost up", unit="USD", labels=labels)


def test_runbook_url_from_a_jupyterlab_server_a_docs_template_or_the_local_file(monkeypatch):
    nb = "notebooks/runbooks/cost_spike.ipynb"
    monkeypatch.setenv("WORKBENCH_RUNBOOK_URL", "https://jupyter.example.com/lab/tree/")
    assert runbook_url("cost_spike", nb) == \
        "https://jupyter.example.com/lab/tree/notebooks/runbooks/cost_spike.ipynb"
    monkeypatch.setenv("WORKBENCH_RUNBOOK_URL", "https://docs.example.com/rb/{runbook}.html")
    assert runbook_url("cost spike", nb) == "https://docs.example.com/rb/cost%20spike.html"
    monkeypatch.delenv("WORKBENCH_RUNBOOK_URL")
    url = runbook_url("cost_spike", nb)
    assert url.startswith("file:///") and url.endswith(nb)


def test_report_url_is_served_or_a_file_uri(monkeypatch, tmp_path):
    assert report_url("daily-report-2026-11-06.html", tmp_path) == \
        f"{tmp_path.resolve().as_uri()}/daily-report-2026-11-06.html"
    monkeypatch.setenv("WORKBENCH_REPORT_URL", "https://reports.example.com/daily")
    assert report_url("daily-report-2026-11-06.html", tmp_path) == \
        "https://reports.example.com/daily/daily-report-2026-11-06.html"


@pytest.mark.parametrize("var,value,message", [
    ("WORKBENCH_RUNBOOK_URL", "docs/runbooks", "is not an absolute http(s):// URL"),
    ("WORKBENCH_RUNBOOK_URL", "ftp://docs.example.com/", "is not an absolute http(s):// URL"),
    ("WORKBENCH_RUNBOOK_URL", "https://docs.example.com/{name}", "is not a template"),
    ("WORKBENCH_REPORT_URL", "https://user:pw@reports.example.com/", "must not carry credentials"),
    ("WORKBENCH_REPORT_URL", "https://reports.example.com/my reports", "holds white space"),
])
def test_bad_base_urls_are_config_errors_naming_the_variable(monkeypatch, var, value, message):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=var) as err:
        check_urls()
    assert message in str(err.value)


def test_bad_base_url_stops_a_report_before_any_kernel(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("WORKBENCH_RUNBOOK_URL", "runbooks/")
    from workbench.simulate import write_demo

    store = write_demo(tmp_path / "demo", days=2, traces_per_day=50)
    out = tmp_path / "out"
    code = main(["report", "daily", "--date", "2026-11-03", "--data", str(store),
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1 and "WORKBENCH_RUNBOOK_URL" in err
    assert not out.exists()


def test_commands_name_the_window_source_data_and_agent_and_survive_any_agent_name(tmp_path):
    hostile = "tool-agent; rm -rf / <script>"
    cmd = postmortem_command("cost_spike", START, START + pd.Timedelta(hours=3), "local",
                             tmp_path, hostile)
    assert shlex.split(cmd) == [
        "workbench", "postmortem", "--runbook", "cost_spike", "--start", "2026-11-06T09:00Z",
        "--end", "2026-11-06T12:00Z", "--source", "local", "--data", str(tmp_path.resolve()),
        "--agent", hostile]
    remote = runbook_command("cost_spike", START, START + pd.Timedelta(hours=3), "langfuse",
                             tmp_path)
    assert shlex.split(remote) == ["workbench", "runbook", "cost_spike", "--start",
                                   "2026-11-06T09:00Z", "--end", "2026-11-06T12:00Z",
                                   "--source", "langfuse"]  # remote sources read no folder


def test_alerts_carry_runbook_url_and_the_report_as_generator_url(monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNBOOK_URL", "https://jupyter.example.com/lab/tree")
    a = Alert.from_finding(finding(agent="tool-agent"),
                           generator_url="https://reports.example.com/d.html")
    assert a.annotations["runbook_url"] == \
        "https://jupyter.example.com/lab/tree/notebooks/runbooks/cost_spike.ipynb"
    assert a.annotations["runbook_notebook"] == "notebooks/runbooks/cost_spike.ipynb"
    assert a.to_postable()["generatorURL"] == "https://reports.example.com/d.html"
    # the report's own health has no runbook to link
    health = Alert.from_finding(finding(runbook="daily_report"))
    assert "runbook_url" not in health.annotations and "generatorURL" not in health.to_postable()


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    from shared_datasets import demo_store

    return demo_store(tmp_path_factory.mktemp("steps") / "demo", days=7, traces_per_day=500)


def test_every_incident_of_the_week_says_what_to_do_next(week, tmp_path):
    from workbench.reports import daily
    from workbench.sources.local import LocalSource

    rep = daily.build("2026-11-08", "local", week, days=7, alert_days=7, prometheus=False)
    html = rep.findings_html()
    section = html[html.index("<h3>Next steps</h3>"):]
    for lab in LocalSource(week).labels().itertuples():
        rb = rep.runbooks[lab.runbook]
        hourly = [f for f in rep.findings if f.runbook == lab.runbook and f.status == "firing"
                  and lab.start <= f.start < lab.end and "agent" in f.labels]
        assert hourly, lab.runbook
        f = hourly[0]
        steps = rep.next_steps(f)
        assert steps["investigation"] == rb.spec["investigation"][:3]
        # the mitigation for the kind of cause the finding names first leads, then the
        # runbook's: the demo's incidents name a tool, a tool's loop and a prompt version
        top = f.suspects[0]
        entry = rb.spec["suspect_mitigations"][top.dimension]
        fitted = entry["say"].format(
            value=top.value, agent=top.within.get("agent") or f.labels["agent"],
            prompt_name=f"prompt {top.within.get('prompt_name')}")
        # the general mitigation it stands instead of is not said again
        general = [m for m in rb.spec["mitigations"] if m != entry["instead_of"]]
        assert len(general) == len(rb.spec["mitigations"]) - 1
        assert steps["mitigations"] == [fitted] + general[:3]
        assert entry["instead_of"] not in steps["mitigations"]
        assert (top.dimension, top.value) == (lab.cause_dimension, str(lab.cause_value))
        assert fitted.replace("'", "&#x27;") in section
        cmd = shlex.split(steps["postmortem_command"])
        assert cmd[cmd.index("--start") + 1] == f"{f.start:%Y-%m-%dT%H:%M}Z"
        assert cmd[cmd.index("--end") + 1] == f"{f.end:%Y-%m-%dT%H:%M}Z"
        assert cmd[cmd.index("--agent") + 1] == f.labels["agent"]
        assert cmd[cmd.index("--data") + 1] == str(week.resolve())
        for text in (rb.spec["investigation"][0], general[0]):
            assert text.replace("'", "&#x27;") in section, text
        # the section shows one block per incident: its runbook command covers the finding
        blocks = [shlex.split(c) for c in re.findall(r"<pre class='wb-command'>(workbench "
                                                     r"runbook [^<]*)</pre>", section)]
        mine = [c for c in blocks if c[2] == lab.runbook and "--agent" in c
                and c[c.index("--agent") + 1] == f.labels["agent"]
                and pd.Timestamp(c[c.index("--start") + 1]) <= f.start
                and pd.Timestamp(c[c.index("--end") + 1]) >= f.end]
        assert len(mine) == 1, (lab.runbook, blocks)
    # traffic growth (an info finding) is no incident: nothing to mitigate, no next steps
    import dataclasses

    growth = dataclasses.replace(f, signal="cost_per_hour", severity="info",
                                 summary="Spend grew with traffic ...: traffic growth")
    assert rep.next_steps(growth) is None and rep.next_steps(f) is not None
    # the alerts sent carry the report as generatorURL
    delivery = rep.send_alerts(None, tmp_path)
    assert delivery.sent and {a.generator_url for a in delivery.sent} == {
        f"{tmp_path.resolve().as_uri()}/daily-report-2026-11-08.html"}


def test_a_whole_day_check_joins_the_agent_incident_it_overlaps(week):
    """The day's hallucination check fires over all traffic while the hourly detectors name
    the agent and hours: one incident, one block, whose commands keep the agent's hours."""
    from workbench.reports import daily
    from workbench.reports.html import _incidents
    from workbench.sources.local import LocalSource

    lab = next(r for r in LocalSource(week).labels().itertuples()
               if r.runbook == "hallucination_spike")
    day = lab.start.floor("D")
    rep = daily.build(day, "local", week, days=7, alert_days=1, prometheus=False)
    firing = [f for f in rep.findings if f.status == "firing" and f.runbook == lab.runbook
              and f.end > rep.date and rep.next_steps(f) is not None]
    whole = [f for f in firing if not f.labels.get("agent")]
    scoped = [f for f in firing if f.labels.get("agent")]
    assert whole and scoped  # the case: a whole-day check and an agent's hours
    blocks = [(span, members) for span, members in _incidents(rep, firing)]
    assert len(blocks) == 1
    span, members = blocks[0]
    assert span.labels["agent"] == scoped[0].labels["agent"]
    assert sorted(map(id, members)) == sorted(map(id, firing))
    assert (span.start, span.end) == (min(f.start for f in scoped), max(f.end for f in scoped))
    html = rep.findings_html()
    assert html.count("data-runbook='hallucination_spike'") == 1

