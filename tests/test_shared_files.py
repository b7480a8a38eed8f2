"""What a report shares (HTML, summary JSON, the executed notebook beside them) is redacted, opens
offline, holds plotly.js once, stays small, and runs no script from trace content.

The files are checked as files (parsed) and as pages (opened from disk in Chromium with every
network request refused)."""

import html as html_mod
import json
import re

import nbformat
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from browser import PageLog, artifacts_dir, chromium
from workbench.redact import marker
from workbench.reports import daily_report, run_notebook
from workbench.reports.render import external_loads, render_html, render_report
from workbench.reports.runbook import run_runbook
from workbench.reports.runner import notebooks_dir
from workbench.reports.summary import read_summary, write_summary

KEY = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" * 3
EMAIL = "oncall.lead@example.com"
PHONE = "+44 20 7946 0958"
CARD = "4111 1111 1111 1111"
IP = "203.0.113.42"
SECRETS = (KEY, EMAIL, PHONE, CARD, IP)
SCRIPT = '<script>window.__pwned="script"</script>'
IMG = '<img src=x onerror="window.__pwned=\'img\'">'
LINK = '<a href="javascript:window.__pwned=\'link\'">details</a>'
SVG = '<svg onload="window.__pwned=\'svg\'">'
HOSTILE = (SCRIPT, IMG, LINK, SVG)
MB = 1024 * 1024
PLOTLY = "application/vnd.plotly.v1+json"
VIEW = "application/vnd.jupyter.widget-view+json"


def figure_json(hover):
    fig = go.Figure(go.Bar(x=[1, 2], y=[3, 4], hovertext=hover, name=SCRIPT))
    return json.loads(pio.to_json(fig))


def widget_state():
    """A saved VBox of a text box, a dropdown and an Output widget holding a figure."""
    def model(name, **state):
        return {"model_name": name, "model_module": "@jupyter-widgets/controls",
                "model_module_version": "2.0.0", "state": state}

    return {"version_major": 2, "version_minor": 0, "state": {
        "box": model("VBoxModel", children=["IPY_MODEL_text", "IPY_MODEL_pick", "IPY_MODEL_out"]),
        "text": model("TextModel", value=EMAIL, description="start (UTC)"),
        "pick": model("DropdownModel", _options_labels=["(any)", SCRIPT], index=1,
                      description="agent"),
        "out": model("OutputModel", outputs=[
            {"output_type": "display_data", "metadata": {},
             "data": {PLOTLY: figure_json([EMAIL, "b"])}},
            {"output_type": "display_data", "metadata": {},
             "data": {"text/html": pio.to_html(go.Figure(), include_plotlyjs=True,
                                               full_html=False) + "<p>$3 a call</p>"}}]),
    }}


@pytest.fixture
def executed(tmp_path):
    """An executed notebook as a kernel would leave it, secrets and hostile markup included."""
    with_plotlyjs = pio.to_html(go.Figure(go.Scatter(x=[1], y=[2], text=[EMAIL])),
                                include_plotlyjs=True, full_html=False)
    outputs = [
        new_output("display_data", {"text/html": f"<p>key {KEY}, spend $0.1757 "
                                                 f"{html_mod.escape(IMG)}</p>"}),
        new_output("display_data", {PLOTLY: figure_json([f"ask {EMAIL}", "x"]),
                                    "text/plain": "<figure>"}),
        new_output("display_data", {"text/html": with_plotlyjs}),  # what fig.show() leaves
        new_output("stream", name="stdout", text=f"mailed {EMAIL}\n"),
        new_output("error", ename="ValueError", evalue=f"bad token {KEY}",
                   traceback=[f"ValueError: bad token {KEY}"]),
        new_output("display_data", {VIEW: {"model_id": "box", "version_major": 2,
                                           "version_minor": 0}, "text/plain": "VBox()"}),
    ]
    nb = new_notebook(cells=[new_markdown_cell(f"Call {PHONE}"),
                             new_code_cell("x = 1", outputs=outputs)],
                      metadata={"widgets": {"application/vnd.jupyter.widget-state+json":
                                            widget_state()}})
    path = tmp_path / "report.ipynb"
    nbformat.write(nb, path)
    return path


def no_secrets(text):
    return [s for s in SECRETS if s in text]


def redactions_shown(html):
    """The count the HTML's footer states (``off`` when redaction was turned off)."""
    return re.search(r"data-redactions=[\"'](\w+)[\"']", html).group(1)


def outside_plotlyjs(html):
    """``html`` without the plotly.js library (whose code names URLs it never loads here)."""
    return re.sub(r"<script>/\*\*\s*\* plotly\.js v.*?</script>", "", html, flags=re.S)


def test_report_and_notebook_beside_it_are_redacted_small_and_offline(executed):
    before = executed.stat().st_size
    rendered = render_report(executed, title=f"Report for {EMAIL}")
    html = rendered.html.read_text()
    kept = executed.read_text()
    assert rendered.redaction == {"enabled": True, "count": 10,
                                  "by_kind": {"email": 6, "openai_key": 3, "phone": 1}}
    assert no_secrets(html) == [] and no_secrets(kept) == []
    assert marker("email") in html and marker("openai_key") in kept
    assert "10 value(s) redacted (email 6, openai_key 3, phone 1)" in html
    # plotly.js once in the HTML, none in the notebook; every figure drawn from it
    assert html.count("plotly.js v") == 1 and "plotly.js v" not in kept
    assert html.count("Plotly.newPlot(") == 4
    state = nbformat.read(executed, as_version=4).metadata["widgets"]
    kept_out = state["application/vnd.jupyter.widget-state+json"]["state"]["out"]["state"]
    assert '<span class="wb-tex">$</span>3 a call' in kept_out["outputs"][1]["data"]["text/html"]
    assert executed.stat().st_size < before / 10 and executed.stat().st_size < 100_000
    assert external_loads(html) == [] and redactions_shown(html) == "10"
    assert "unpkg" not in outside_plotlyjs(html)
    # the widget drawn from its saved state, values escaped
    assert 'value="[redacted:email]"' in html and "start (UTC)" in html
    # JupyterLab shows the kept notebook's dollar amounts as written
    first = nbformat.read(executed, as_version=4).cells[1].outputs[0].data["text/html"]
    assert '<span class="wb-tex">$</span>0.1757' in first


def test_hostile_markup_is_shown_as_text_never_as_markup(executed):
    html = render_report(executed).html.read_text()
    for bad in HOSTILE:
        assert bad not in html
    assert "&lt;img src=x onerror=" in html
    assert "&lt;script&gt;window.__pwned" in html  # the dropdown's choice, as text


def test_without_redaction_the_file_says_so(executed):
    html = render_html(executed, redact=False).read_text()
    assert KEY in html and EMAIL in html
    assert "Redaction was turned off" in html and redactions_shown(html) == "off"
    assert EMAIL in executed.read_text()  # render_html leaves its input as it was


def test_external_loads_finds_every_kind_of_fetch_and_script_url():
    page = ("<script src='https://cdn.example/x.js'></script>"
            "<link rel=stylesheet href='//cdn.example/x.css'>"
            "<img src='http://img.example/p.png'><iframe src='https://x.example'></iframe>"
            "<style>@import url('https://fonts.example/f.css');</style>"
            "<div style=\"background: url(https://img.example/b.png)\"></div>"
            "<a href='javascript:alert(1)'>x</a><a href='https://docs.example/'>docs</a>"
            "<img src='data:image/png;base64,AAAA'><script>var u = '<img src=\"https://x\">'"
            "</script><meta http-equiv='refresh' content='0; url=https://x.example/'>")
    found = external_loads(page)
    assert len(found) == 8, found
    assert not any("docs.example" in f or "data:image" in f for f in found)


def test_summary_is_redacted_and_counts_survive_a_rewrite(tmp_path):
    path = write_summary(tmp_path / "s.json", {"findings": [{"summary": f"ask {EMAIL}"}],
                                               "notes": [f"key {KEY}", "trace 4bf92f3577b34da6"]})
    first = read_summary(path)
    assert first["findings"][0]["summary"] == "ask [redacted:email]"
    assert first["notes"] == ["key [redacted:openai_key]", "trace 4bf92f3577b34da6"]
    assert first["redaction"]["count"] == 2
    first["redaction"]["parts"]["report"] = {"by_kind": {"email": 3}}
    again = read_summary(write_summary(path, first))
    assert again["redaction"] == {
        "enabled": True, "count": 5, "by_kind": {"email": 4, "openai_key": 1},
        "parts": {"summary": {"count": 2, "by_kind": {"email": 1, "openai_key": 1}},
                  "report": {"count": 3, "by_kind": {"email": 3}}}}
    plain = read_summary(write_summary(tmp_path / "p.json", {"note": EMAIL}, redact=False))
    assert plain["note"] == EMAIL and plain["redaction"]["enabled"] is False


def open_offline(browser, path, shot):
    """Open ``path`` from disk with the network refused; what it did, and its figures."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    drawn = page.eval_on_selector_all(".js-plotly-plot",
                                      "els => els.map(e => !!e.querySelector('.main-svg'))")
    pwned = page.evaluate("() => window.__pwned === undefined ? null : String(window.__pwned)")
    page.screenshot(path=str(artifacts_dir() / shot), full_page=True)
    page.close()
    return log, drawn, pwned


@pytest.mark.browser
def test_rendered_file_opens_offline_in_chromium_with_every_figure_drawn(executed):
    path = render_report(executed).html
    with chromium() as browser:
        log, drawn, pwned = open_offline(browser, path, "synthetic-report.png")
    assert drawn == [True, True, True, True]
    assert log.remote == [] and log.dialogs == [] and pwned is None
    assert log.errors == []


# -- real reports over a store whose trace content is hostile --------------------------------------

@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    """The demo with secrets and markup in every field a report can show: agent and trace
    names, span names, tool names, status messages, user ids (metadata), environments."""
    from shared_datasets import simulated
    from workbench.simulate import write_demo

    ds = simulated(days=6, traces_per_day=2000)
    obs, traces = ds.observations, ds.traces
    for frame in (obs, traces):
        frame["agent"] = frame["agent"].str.replace("tool-agent", f"tool-agent {SCRIPT}",
                                                    regex=False)
        frame["user_id"] = frame["user_id"] + "@example.com"
        frame["environment"] = frame["environment"] + SVG
    traces["name"] = traces["name"] + IMG
    tools = obs["type"] == "tool"
    obs.loc[tools, "name"] = obs.loc[tools, "name"] + IMG
    obs["tool_name"] = obs["tool_name"].str.replace("search_api", f"search_api {LINK} {EMAIL}",
                                                    regex=False)
    errors = obs["status_message"].notna()
    obs.loc[errors, "status_message"] = (obs.loc[errors, "status_message"] +
                                         f" {LINK} ask {EMAIL} or {PHONE}; key {KEY}; "
                                         f"card {CARD}; from {IP}")
    return write_demo(tmp_path_factory.mktemp("hostile") / "demo", dataset=ds)


@pytest.fixture(scope="module")
def hostile_labels(hostile_store):
    from workbench.sources.local import LocalSource

    return {r.runbook: r for r in LocalSource(hostile_store).labels().itertuples()}


@pytest.fixture(scope="module")
def hostile_runbook(hostile_store, hostile_labels, tmp_path_factory):
    lab = hostile_labels["cost_spike"]
    out = tmp_path_factory.mktemp("hostile-runbook")
    return run_runbook("cost_spike", lab.start, lab.end, "local", hostile_store, out)


@pytest.fixture(scope="module")
def hostile_explorer(hostile_store, hostile_labels, tmp_path_factory):
    """The trace explorer run with live widgets, so its HTML draws them from saved state."""
    lab = hostile_labels["cost_spike"]
    out = tmp_path_factory.mktemp("hostile-explorer")
    params = {"start": lab.start.isoformat(), "end": lab.end.isoformat(), "source": "local",
              "data_dir": str(hostile_store), "interactive": True}
    executed = run_notebook(notebooks_dir() / "trace_explorer.ipynb", params, out)
    return render_report(executed, title="Trace explorer")


@pytest.fixture(scope="module")
def hostile_postmortem(hostile_store, hostile_labels, tmp_path_factory, own_cache):
    """The cost spike's post-mortem over the hostile store, with secrets and markup in every
    part people write too (the notes file)."""
    from workbench.reports.runner import postmortem_report

    lab = hostile_labels["cost_spike"]
    out = tmp_path_factory.mktemp("hostile-postmortem")
    notes = out.parent / f"{out.name}-notes.yaml"
    quoted = json.dumps  # YAML reads JSON strings
    notes.write_text(
        f"title: {quoted('Loop ' + SCRIPT)}\nsummary: {quoted(f'call {PHONE}, key {KEY} ' + IMG)}\n"
        f"went_well: [{quoted(LINK + ' ' + EMAIL)}]\n"
        f"action_items:\n  - {{action: {quoted(SVG + ' card ' + CARD)}, owner: {quoted(EMAIL)},"
        f" tracked_in: {quoted('http://' + IP + '/x')}}}\n")
    with pytest.MonkeyPatch.context() as mp:  # a cache of its own
        mp.setenv("WORKBENCH_CACHE_DIR", str(own_cache(tmp_path_factory.mktemp("cache"))))
        return postmortem_report("cost_spike", lab.start, lab.end, "local", hostile_store, out,
                                 notes=notes)


def markdown_page(md_path, html_path):
    """The Markdown as a wiki that passes raw HTML through would show it (mistune, which
    nbconvert uses): written to ``html_path`` for a browser to open."""
    import mistune

    html_path.write_text(f"<!doctype html><meta charset=utf-8><body>"
                         f"{mistune.html(md_path.read_text())}</body>")
    return html_path


@pytest.fixture(scope="module")
def hostile_daily(hostile_store, hostile_labels, tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile-daily")
    return daily_report(hostile_labels["cost_spike"].start, "local", hostile_store, out, days=4)


def check_shared(html_path, notebook_path):
    html, kept = html_path.read_text(), notebook_path.read_text()
    assert no_secrets(html) == [] and no_secrets(kept) == []
    for bad in HOSTILE:
        assert bad not in html, bad
    assert external_loads(html) == [] and "unpkg" not in outside_plotlyjs(html)
    assert html.count("plotly.js v") == 1 and "plotly.js v" not in kept
    assert html_path.stat().st_size <= 6 * MB and notebook_path.stat().st_size <= 1 * MB
    assert int(redactions_shown(html)) > 0
    return html


@pytest.mark.notebook
def test_runbook_report_over_hostile_traces(hostile_runbook):
    html = check_shared(hostile_runbook, hostile_runbook.with_suffix(".ipynb"))
    assert marker("email") in html  # the user_id suspects
    assert "search_api &lt;a href=" in html  # the top suspect, as text
    # the summary JSON beside it: redacted like the daily report's, its counts added up
    path = hostile_runbook.with_name(f"{hostile_runbook.stem}.summary.json")
    text = path.read_text()
    assert no_secrets(text) == []
    s = json.loads(text)
    assert s["top_suspect"].startswith("tool_name=search_api") and marker("email") in text
    red = s["redaction"]
    assert red["enabled"] is True and set(red["parts"]) == {"summary", "report"}
    assert red["parts"]["summary"]["count"] > 0
    assert red["parts"]["report"]["count"] == int(redactions_shown(html))
    assert red["count"] == red["parts"]["report"]["count"] + red["parts"]["summary"]["count"]


@pytest.mark.notebook
def test_trace_explorer_with_live_widgets_over_hostile_traces(hostile_explorer):
    html = check_shared(hostile_explorer.html, hostile_explorer.notebook)
    assert VIEW not in html and "Error displaying widget" not in html
    assert hostile_explorer.redaction["by_kind"]["email"] > 0
    assert "(any)" in html and "start (UTC)" in html  # the controls, drawn as they were left


@pytest.mark.notebook
def test_daily_report_over_hostile_traces(hostile_daily):
    html = check_shared(hostile_daily.html, hostile_daily.notebook)
    summary = hostile_daily.summary_path.read_text()
    assert no_secrets(summary) == [] and SCRIPT not in html
    red = hostile_daily.summary["redaction"]
    assert red["enabled"] is True and set(red["parts"]) == {"summary", "report"}
    assert red["parts"]["report"]["count"] == int(redactions_shown(html))
    assert red["count"] == red["parts"]["report"]["count"] + red["parts"]["summary"]["count"]


@pytest.mark.notebook
def test_postmortem_over_hostile_traces(hostile_postmortem):
    result = hostile_postmortem
    html = check_shared(result.html, result.notebook)
    md, summary = result.extra["markdown"].read_text(), result.summary_path.read_text()
    assert no_secrets(md) == [] and no_secrets(summary) == []
    for bad in HOSTILE:
        assert bad not in md, bad
    assert "<" not in md.replace("&lt;", "")  # no markup at all: every < is an entity
    assert "](javascript" not in md
    assert html.count("Plotly.newPlot(") == 2
    assert "&lt;script&gt;" in html and "\\[redacted:email\\]" in md
    red = result.summary["redaction"]
    assert red["parts"]["markdown"]["count"] > 0 and red["parts"]["report"]["count"] > 0
    assert red["count"] == sum(p["count"] for p in red["parts"].values())
    # the hostile agent's name, escaped, is the incident's scope, and its tool the cause
    assert "tool-agent &lt;script&gt;" in html
    assert result.summary["root_cause"][0]["value"].startswith("search_api")
    rendered = markdown_page(result.extra["markdown"], result.html.with_suffix(".md.html"))
    page = rendered.read_text()
    assert external_loads(page) == [] and "<script" not in page.lower()
    assert "<img" not in page and "<svg" not in page


@pytest.mark.notebook
def test_no_redact_flag_keeps_content_and_says_so(hostile_store, hostile_labels, tmp_path,
                                                 capsys):
    from workbench.cli import main

    lab = hostile_labels["cost_spike"]
    code = main(["runbook", "cost_spike", "--start", lab.start.isoformat(), "--end",
                 lab.end.isoformat(), "--data", str(hostile_store), "--out", str(tmp_path),
                 "--no-redact"])
    assert code == 0
    html = (tmp_path / f"cost_spike-{lab.start:%Y%m%dT%H%M}.html").read_text()
    assert "@example.com" in html and "Redaction was turned off" in html
    s = json.loads((tmp_path / f"cost_spike-{lab.start:%Y%m%dT%H%M}.summary.json").read_text())
    assert s["redaction"]["enabled"] is False and EMAIL in s["top_suspect"]
    for bad in HOSTILE:
        assert bad not in html  # escaping does not depend on redaction


@pytest.mark.browser
@pytest.mark.notebook
def test_hostile_reports_open_offline_in_chromium_and_run_nothing(hostile_runbook,
                                                                   hostile_explorer,
                                                                   hostile_daily,
                                                                   hostile_postmortem):
    pages = {"hostile-runbook.png": hostile_runbook, "hostile-explorer.png":
             hostile_explorer.html, "hostile-daily.png": hostile_daily.html,
             "hostile-postmortem.png": hostile_postmortem.html}
    with chromium() as browser:
        for shot, path in pages.items():
            log, drawn, pwned = open_offline(browser, path, shot)
            figures = path.read_text().count("Plotly.newPlot(")
            assert figures >= 2 and drawn == [True] * figures, shot
            assert log.remote == [] and log.dialogs == [] and pwned is None, shot
            assert log.errors == [], shot
        # the post-mortem's Markdown, as a wiki that passes raw HTML through shows it
        md_page = markdown_page(hostile_postmortem.extra["markdown"],
                                hostile_postmortem.html.with_suffix(".md.html"))
        log, drawn, pwned = open_offline(browser, md_page, "hostile-postmortem-md.png")
        assert log.remote == [] and log.dialogs == [] and pwned is None
        assert log.errors == []


def test_bad_redaction_patterns_stop_a_report_before_any_kernel_starts(monkeypatch, tmp_path,
                                                                        capsys):
    from workbench.cli import main
    from workbench.simulate import write_demo

    store = write_demo(tmp_path / "demo", days=2, traces_per_day=50)
    monkeypatch.setenv("WORKBENCH_REDACT_PATTERNS", "ok\n[unclosed")
    out = tmp_path / "out"
    code = main(["runbook", "cost_spike", "--start", "2026-11-03T09:00Z", "--end",
                 "2026-11-03T12:00Z", "--data", str(store), "--out", str(out)])
    assert code == 2
    assert "WORKBENCH_REDACT_PATTERNS line 2" in capsys.readouterr().err
    code = main(["report", "daily", "--date", "2026-11-03", "--data", str(store), "--out",
                 str(out)])
    assert code == 2 and not out.exists()
    # Turning redaction off does not read the patterns, so they cannot stop the run.
    monkeypatch.setenv("WORKBENCH_REDACT_FILE", str(tmp_path / "missing.yaml"))
    from workbench.redact import redactor

    assert redactor(False).enabled is False
