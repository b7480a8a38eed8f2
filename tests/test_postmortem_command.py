"""``workbench postmortem`` end to end: the post-mortem of each demo incident as HTML, Markdown
and summary JSON under one name, through papermill and the report runner; bad input stops it
before any kernel starts; the notes file and --no-redact."""

from __future__ import annotations

import contextlib
import io
import json
import re
import stat

import pandas as pd
import pytest

from workbench.cli import EXIT_BAD_INPUT, EXIT_DEGRADED, EXIT_OK, main
from workbench.reports.render import external_loads
from workbench.sources.local import LocalSource

pytestmark = pytest.mark.notebook

SECTIONS = ("Summary", "Impact", "Timeline", "Root cause", "Action items")
CAUSE = {"cost_spike": "tool_name=search_api in agent=tool-agent",
         "timeout_surge": "tool_name=web_fetch in agent=planner-agent",
         "hallucination_spike": "prompt_version=8 in prompt_name=rag-answer"}
STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from shared_datasets import demo_store

    return demo_store(tmp_path_factory.mktemp("pm") / "demo", days=7, traces_per_day=1000)


@pytest.fixture(scope="module")
def labels(store):
    return {r.runbook: r for r in LocalSource(store).labels().itertuples()}


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def argv(name, start, end, store, out, *extra):
    return ["postmortem", "--runbook", name, "--start", f"{start:%Y-%m-%dT%H:%MZ}", "--end",
            f"{end:%Y-%m-%dT%H:%MZ}", "--data", str(store), "--out", str(out), *extra]


@pytest.fixture(scope="module")
def written(store, labels, tmp_path_factory, own_cache):
    """The post-mortem of each demo incident, over the incident's whole day."""
    out = tmp_path_factory.mktemp("postmortems")
    runs = {}
    with pytest.MonkeyPatch.context() as mp:  # a cache, hence an alert ledger, of its own
        mp.setenv("WORKBENCH_CACHE_DIR", str(own_cache(tmp_path_factory.mktemp("cache"))))
        for name, lab in labels.items():
            day = lab.start.floor("D")
            runs[name] = run(argv(name, day, day + pd.Timedelta(days=1), store, out))
    return out, runs


def files(out, name, lab):
    stem = f"postmortem-{name}-{lab.start.floor('D'):%Y%m%dT%H%M}"
    return {k: out / f"{stem}{k}" for k in (".html", ".md", ".summary.json", ".ipynb")}


def text_of(html):
    """The page's text: tags dropped, entities and math-safe dollars as a reader sees them."""
    import html as h

    body = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)
    return h.unescape(re.sub(r"<[^>]+>", "", body))


@pytest.mark.parametrize("name", sorted(CAUSE))
def test_postmortem_of_each_demo_incident_renders_timeline_impact_and_cause(written, labels,
                                                                           name):
    out, runs = written
    code, stdout, stderr = runs[name]
    lab = labels[name]
    assert code == EXIT_OK, stderr
    paths = files(out, name, lab)
    assert stdout.splitlines()[-1] == str(paths[".html"])
    assert all(p.is_file() for p in paths.values())
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o640 for p in paths.values())
    s = json.loads(paths[".summary.json"].read_text())
    assert s["outputs"] == {"html": str(paths[".html"]), "notebook": str(paths[".ipynb"]),
                            "markdown": str(paths[".md"])}
    times = {e["event"]: e["utc"] for e in s["timeline"]}
    assert times["Started"] == f"{lab.start:%Y-%m-%d %H:%M}"
    assert times["Resolved"] == f"{lab.end:%Y-%m-%d %H:%M}"
    assert all(STAMP.fullmatch(t) for t in times.values())
    # no alert history here: detection is the first hour an hourly check would have alerted
    assert s["detected_by"] is None and lab.start < pd.Timestamp(times["Detected"], tz="UTC") \
        <= lab.end
    detected = next(e for e in s["timeline"] if e["event"] == "Detected")
    assert "an hourly check would have alerted" in detected["what"]
    assert s["root_cause"][0]["suspect"] == CAUSE[name]
    assert s["state"] == "resolved" and s["degraded"] is False
    excess = s["impact"]["excess_cost_usd"]
    usd = f"${excess:,.2f}" if excess > 0 else "excess cost: none"  # no more than expected

    html = paths[".html"].read_text()
    shown = text_of(html)
    # the title first, then the sections as headings
    heads = re.findall(r"<h([12])[^>]*>([^<]+)", html)
    assert heads[0][0] == "1" and heads[0][1].startswith(
        {"cost_spike": "Cost spike", "timeout_surge": "Timeout surge",
         "hallucination_spike": "Hallucination spike"}[name])
    h2 = [t for level, t in heads if level == "2"]
    assert [x for x in h2 if x in SECTIONS] == list(SECTIONS)
    for event, at in times.items():
        assert re.search(rf"{event}\s*{at}", shown), event
    assert usd in shown and CAUSE[name] in shown
    assert external_loads(html) == [] and html.count("plotly.js v") == 1
    assert html.count("Plotly.newPlot(") == 2  # the timeline and the candidates
    assert "plotly.js v" not in paths[".ipynb"].read_text()

    md = paths[".md"].read_text()
    assert md.startswith("# ") and [x for x in re.findall(r"^## (.+)$", md, flags=re.M)
                                    if x in SECTIONS] == list(SECTIONS)
    for event, at in times.items():
        assert f"| {event} | {at} |" in md
    assert usd.replace("$", "\\$") in md
    assert CAUSE[name].replace("_", "\\_") in md
    assert "| # " not in md and "| \\# | action | owner | due | tracked in |" in md


def test_the_daily_reports_postmortem_command_runs_as_printed(store, labels, tmp_path,
                                                              monkeypatch):
    """The command a daily-report finding prints, pasted as it is."""
    import shlex

    from workbench.reports import daily

    lab = labels["cost_spike"]
    rep = daily.build(lab.start, "local", store, days=1, prometheus=False)
    f = next(f for f in rep.findings if f.signal == "cost_per_request")
    cmd = shlex.split(rep.next_steps(f)["postmortem_command"])
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run(cmd[1:])
    assert code == EXIT_OK, stderr
    s = json.loads(next(tmp_path.glob("out/postmortem-*.summary.json")).read_text())
    assert s["scope"]["agent"] == "tool-agent" == f.labels["agent"]
    assert s["impact"]["primary"]["observed"] == f.observed
    assert s["impact"]["primary"]["expected"] == f.baseline


def test_notes_fill_the_document_and_no_redact_says_so(store, labels, tmp_path):
    lab = labels["cost_spike"]
    notes = tmp_path / "notes.yaml"
    notes.write_text("status: Final\nwent_badly: [Paged nobody for 3 h; ask ops@example.com]\n"
                     "action_items:\n  - {action: Fail on non-JSON tool output, owner: ana, "
                     "due: 2026-11-20, tracked_in: OPS-42}\n")
    code, _, err = run(argv("cost_spike", lab.start, lab.end, store, tmp_path / "a",
                            "--notes", str(notes)))
    assert code == EXIT_OK, err
    md = next((tmp_path / "a").glob("*.md")).read_text()
    assert "| Status | Final |" in md and "| ana | 2026-11-20 | OPS-42 |" in md
    assert "ops@example.com" not in md and "\\[redacted:email\\]" in md
    code, _, err = run(argv("cost_spike", lab.start, lab.end, store, tmp_path / "b",
                            "--notes", str(notes), "--no-redact"))
    assert code == EXIT_OK, err
    md = next((tmp_path / "b").glob("*.md")).read_text()
    html = next((tmp_path / "b").glob("*.html")).read_text()
    assert "ops@example.com" in md and "Redaction was turned off" in md
    assert "Redaction was turned off" in html


@pytest.mark.parametrize("extra,message", [
    (["--runbook", "nope"], "runbook file"),
    (["--start", "2026-11-06T12:00Z", "--end", "2026-11-06T09:00Z"], "is not after its start"),
    (["--start", "2026-11-01T00:00Z", "--end", "2026-11-09T00:00Z"], "longer than 7 days"),
    (["--start", "2999-01-01T00:00Z", "--end", "2999-01-01T03:00Z"], "in the future"),
    (["--start", "yesterday-ish"], "window bounds must be timestamps"),
    (["--agent", " "], "--agent is empty"),
    (["--source", "nosuch"], "unknown source"),
])
def test_bad_input_exits_2_before_any_kernel(store, tmp_path, extra, message):
    base = {"--runbook": "cost_spike", "--start": "2026-11-06T09:00Z",
            "--end": "2026-11-06T12:00Z", "--data": str(store), "--out": str(tmp_path / "out")}
    for k, v in zip(extra[::2], extra[1::2]):
        base[k] = v
    code, stdout, stderr = run(["postmortem", *[x for kv in base.items() for x in kv]])
    assert code == EXIT_BAD_INPUT and stdout == "" and stderr.count("\n") == 1, stderr
    assert message in stderr
    assert not (tmp_path / "out").exists()


def test_bad_notes_file_or_link_setting_exit_2_before_any_kernel(store, tmp_path, monkeypatch):
    notes = tmp_path / "notes.yaml"
    notes.write_text("action_items: [{owner: ana}]\n")
    out = tmp_path / "out"
    code, _, err = run(argv("cost_spike", pd.Timestamp("2026-11-06T09:00Z"),
                            pd.Timestamp("2026-11-06T12:00Z"), store, out, "--notes",
                            str(notes)))
    assert code == EXIT_BAD_INPUT and f"notes file {notes}: action_items item 1" in err
    monkeypatch.setenv("WORKBENCH_REPORT_URL", "reports/")
    code, _, err = run(argv("cost_spike", pd.Timestamp("2026-11-06T09:00Z"),
                            pd.Timestamp("2026-11-06T12:00Z"), store, out))
    assert code == EXIT_BAD_INPUT and "WORKBENCH_REPORT_URL" in err
    assert not out.exists()


def test_a_window_without_data_is_written_degraded_never_an_all_clear(store, tmp_path):
    start = pd.Timestamp("2026-11-20T09:00Z")  # the store ends on 2026-11-09
    code, stdout, stderr = run(argv("timeout_surge", start, start + pd.Timedelta(hours=3),
                                    store, tmp_path))
    assert code == EXIT_DEGRADED, stderr
    assert "post-mortem on incomplete data: no traces in the window" in stderr
    assert "(no change found); started –, detected –, peaked –, resolved – UTC" in stdout
    s = json.loads(next(tmp_path.glob("*.summary.json")).read_text())
    assert s["degraded"] is True and s["state"] == "no change found"
    md = next(tmp_path.glob("*.md")).read_text()
    html = next(tmp_path.glob("*.html")).read_text()
    for text in (md, text_of(html)):
        assert "Incomplete data: " in text and "no all-clear" in text


def test_postmortem_notebook_is_thin_stored_without_outputs_with_a_parameters_cell():
    import nbformat

    from workbench.reports.runner import notebooks_dir

    nb = nbformat.read(notebooks_dir() / "postmortem.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "runbook = " in params[0].source
    assert all(len(c.source.splitlines()) <= 12 for c in code if c not in params)
    heads = [c.source for c in nb.cells if c.cell_type == "markdown"
             and c.source.startswith("## ")]
    assert [h for h in heads if h[3:] in SECTIONS] == [f"## {x}" for x in SECTIONS]
