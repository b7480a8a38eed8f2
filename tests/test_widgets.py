"""Widget controls without a frontend, over real investigations of a small simulated store:
remembered state, redraw callbacks, validated values, wording."""

import re
from dataclasses import replace

import pandas as pd
import pytest

from workbench import widgets
from workbench.errors import ConfigError
from workbench.investigate import explore, investigate
from workbench.safehtml import mathsafe
from workbench.sources.local import LocalSource


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from workbench.simulate import write_demo

    return write_demo(tmp_path_factory.mktemp("widgets") / "demo", days=8, traces_per_day=400)


@pytest.fixture(scope="module")
def labels(store):
    return {r.runbook: r for r in LocalSource(store).labels().itertuples()}


@pytest.fixture(scope="module")
def cost(store, labels):
    lab = labels["cost_spike"]
    return investigate("cost_spike", "local", lab.start, lab.end, data_dir=store)


@pytest.fixture(scope="module")
def cost_quiet(store, labels):
    """The cost runbook over the timeout incident's window: other suspects, other traces."""
    lab = labels["timeout_surge"]
    return investigate("cost_spike", "local", lab.start, lab.end, data_dir=store)


@pytest.fixture(scope="module")
def timeouts(store, labels):
    lab = labels["timeout_surge"]
    return investigate("timeout_surge", "local", lab.start, lab.end, data_dir=store)


@pytest.fixture(autouse=True)
def _fresh_registry():
    widgets.forget()
    yield
    widgets.forget()


def html_of(output):
    return [o["data"]["text/html"] for o in output.outputs if "text/html" in o["data"]]


def figure_bars(output):
    """The bar labels (y) of the first figure in ``output``."""
    fig = next(o["data"]["application/vnd.plotly.v1+json"] for o in output.outputs
               if "application/vnd.plotly.v1+json" in o["data"])
    return list(fig["data"][0]["y"])


def figure_titles(output):
    return [o["data"]["application/vnd.plotly.v1+json"]["layout"]["title"]["text"]
            for o in output.outputs if "application/vnd.plotly.v1+json" in o["data"]]


@pytest.mark.parametrize("start, end, message", [
    ("yesterday-ish", "2026-11-06T12:00Z", "window start 'yesterday-ish' is not a timestamp"),
    ("2026-11-06T12:00Z", "2026-11-06T12:00Z", "is not after its start"),
    ("2026-11-06T12:00Z", "2026-11-06T09:00Z", "is not after its start"),
    ("2026-10-01T00:00Z", "2026-11-06T00:00Z", "longer than"),
])
def test_parse_window_names_what_is_wrong(start, end, message):
    with pytest.raises(ConfigError, match=message):
        widgets.parse_window(start, end)


def test_parse_window_reads_naive_values_as_utc():
    t0, t1 = widgets.parse_window(" 2026-11-06T09:00 ", "2026-11-06T12:30Z")
    assert t0 == pd.Timestamp("2026-11-06T09:00Z") and t1 - t0 == pd.Timedelta(hours=3.5)


def test_window_picker_applies_valid_windows_and_remembers_them_across_reruns():
    seen = []
    picker = widgets.WindowPicker("w", "2026-11-06T09:00Z", "2026-11-06T12:00Z",
                                  on_apply=lambda s, e: seen.append((s, e)))
    picker.start_box.value = "2026-11-05T13:00Z"
    picker.end_box.value = "2026-11-05T16:00Z"
    assert picker.apply()
    assert seen == [(pd.Timestamp("2026-11-05T13:00Z"), pd.Timestamp("2026-11-05T16:00Z"))]
    again = widgets.WindowPicker("w", "2026-11-06T09:00Z", "2026-11-06T12:00Z")
    assert again.value == seen[0]
    assert picker.widget.comm is None  # the re-run closed the widget it replaced


def test_window_picker_refuses_an_invalid_window_and_keeps_the_last_good_one():
    seen = []
    picker = widgets.WindowPicker("w", "2026-11-06T09:00Z", "2026-11-06T12:00Z",
                                  on_apply=lambda s, e: seen.append(s))
    picker.end_box.value = "2026-11-06T08:00Z"
    assert not picker.apply()
    assert seen == [] and "is not after its start" in picker.message.value
    again = widgets.WindowPicker("w", "2026-11-06T09:00Z", "2026-11-06T12:00Z")
    assert again.end_box.value == "2026-11-06T12:00Z"


def test_window_picker_escapes_what_was_typed_in_its_error():
    picker = widgets.WindowPicker("w", "2026-11-06T09:00Z", "2026-11-06T12:00Z")
    picker.start_box.value = "<img src=x onerror=alert(1)>"
    assert not picker.apply()
    assert "<img" not in picker.message.value and "&lt;img" in picker.message.value


def test_new_defaults_replace_remembered_values():
    picker = widgets.WindowPicker("w", "2026-11-06T09:00Z", "2026-11-06T12:00Z")
    picker.start_box.value = "2026-11-06T10:00Z"
    assert picker.apply()
    edited = widgets.WindowPicker("w", "2026-11-07T09:00Z", "2026-11-07T12:00Z")
    assert edited.value == (pd.Timestamp("2026-11-07T09:00Z"), pd.Timestamp("2026-11-07T12:00Z"))


def test_window_picker_reports_a_failing_reload_instead_of_raising():
    def reload(s, e):
        raise ConfigError("no traces in <that> window")

    picker = widgets.WindowPicker("w", "2026-11-06T09:00Z", "2026-11-06T12:00Z", reload)
    assert not picker.apply()
    assert "no traces in &lt;that&gt; window" in picker.message.value


def test_attribution_explorer_redraws_on_a_new_dimension_and_remembers_it(cost, cost_quiet,
                                                                          labels):
    ex = widgets.AttributionExplorer("dim", cost)
    assert html_of(ex.output) == [mathsafe(cost.suspects_html())]
    # in the agent and hours of the finding the headline quotes
    assert figure_titles(ex.output) == ["Share of the excess cost_per_request explained in "
                                        "agent=tool-agent, 09:00–12:00 UTC"]
    ex.dropdown.value = "culprit_tool"  # the tool a trace failed or was slow on
    table = cost.suspects("culprit_tool")
    assert set(table["dimension"]) == {"tool_name"}
    assert html_of(ex.output) == [mathsafe(cost.suspects_html("culprit_tool"))]
    bars = figure_bars(ex.output)
    assert bars[0] == f"tool_name={labels['cost_spike'].cause_value}"  # the whole suspect
    assert len(bars) == len(table)
    rerun = widgets.AttributionExplorer("dim", cost_quiet)
    assert rerun.dimension == "culprit_tool"
    assert html_of(rerun.output) == [mathsafe(cost_quiet.suspects_html("culprit_tool"))]
    assert html_of(rerun.output) != html_of(ex.output)
    assert widgets.state("dim") == {"dimension": "culprit_tool"}


def test_attribution_explorer_drops_a_dimension_the_runbook_no_longer_has(cost, timeouts):
    ex = widgets.AttributionExplorer("dim", cost)
    ex.dropdown.value = "user_id"  # cost_spike attributes to users, timeout_surge does not
    rerun = widgets.AttributionExplorer("dim", timeouts)
    assert rerun.dimension is None and rerun.dropdown.value == rerun.ALL
    assert "user_id" not in rerun.dropdown.options
    with pytest.raises(Exception, match="Invalid selection"):
        rerun.dropdown.value = "user_id"


def test_attribution_explorer_follows_a_new_investigation(cost, cost_quiet):
    ex = widgets.AttributionExplorer("dim", cost)
    ex.dropdown.value = "agent"
    ex.set_investigation(cost_quiet)
    assert html_of(ex.output) == [mathsafe(cost_quiet.suspects_html("agent"))]


def test_trace_picker_redraws_the_waterfall_of_the_picked_trace(cost):
    ids = cost.worst_traces(3)["trace_id"].tolist()
    picker = widgets.TracePicker("t", ids, cost.waterfall)
    assert picker.value == ids[0] and figure_titles(picker.output) == [f"Trace {ids[0]}"]
    picker.select.value = ids[2]
    assert figure_titles(picker.output) == [f"Trace {ids[2]}"]
    spans = cost.view.spans(ids[2])
    assert len(figure_bars(picker.output)) == len(spans)
    rerun = widgets.TracePicker("t", ids, cost.waterfall)
    assert rerun.value == ids[2] and figure_titles(rerun.output) == [f"Trace {ids[2]}"]


def test_trace_picker_keeps_the_pick_when_still_offered_and_falls_back_otherwise(cost,
                                                                                 cost_quiet):
    ids = cost.worst_traces(3)["trace_id"].tolist()
    other = cost_quiet.worst_traces(2)["trace_id"].tolist()
    picker = widgets.TracePicker("t", ids[:2], cost.waterfall)
    picker.select.value = ids[1]
    picker.set_traces([ids[2], ids[1]])
    assert picker.value == ids[1] and figure_titles(picker.output) == [f"Trace {ids[1]}"]
    picker._draw = cost_quiet.waterfall
    picker.set_traces(other)
    assert picker.value == other[0] and figure_titles(picker.output) == [f"Trace {other[0]}"]
    picker.set_traces([])
    assert picker.value is None and "No trace" in html_of(picker.output)[0]


def test_trace_picker_shows_a_drawing_error_in_place(cost):
    picker = widgets.TracePicker("t", ["0" * 32], cost.waterfall)
    assert "is not in the window" in html_of(picker.output)[0]


def test_checklist_ticks_survive_a_rerun_and_follow_the_steps_text(cost):
    steps = cost.steps("investigation")
    assert len(steps) >= 3
    first = widgets.Checklist("c", steps)
    first.boxes[2].value = True
    first.boxes[0].value = True
    assert first.ticked == [steps[0], steps[2]]
    rerun = widgets.Checklist("c", steps)
    assert rerun.ticked == [steps[0], steps[2]]
    rerun.boxes[0].value = False
    assert widgets.Checklist("c", steps).ticked == [steps[2]]
    edited = widgets.Checklist("c", [*steps[1:], "Page the owner of <search_api>"])
    assert edited.ticked == [steps[2]] and edited.steps[-1].endswith("<search_api>")


def test_checklist_labels_are_escaped_math_safe_html():
    box = widgets.Checklist("c", ["Cap spend at $0.10 <b>per</b> call"]).boxes[0]
    assert box.description_allow_html is True
    assert box.description == ('Cap spend at <span class="wb-tex">$</span>0.10 '
                               '&lt;b&gt;per&lt;/b&gt; call')


def test_forget_drops_state_and_closes_widgets(cost):
    ids = cost.worst_traces(2)["trace_id"].tolist()
    picker = widgets.TracePicker("t", ids, cost.waterfall)
    picker.select.value = ids[1]
    widgets.forget("t")
    assert picker.widget.comm is None and widgets.state("t") == {}
    assert widgets.TracePicker("t", ids, cost.waterfall).value == ids[0]


@pytest.mark.parametrize("n, rows, line", [
    (0, 50, "<p>No trace matches these filters in this window.</p>"),
    (1, 50, "<p>1 trace matches.</p>"),
    (7, 50, "<p>7 traces match; all 7 are listed, slowest first.</p>"),
    (1234, 50, "<p>1,234 traces match; the 50 slowest are listed, slowest first.</p>"),
])
def test_the_match_line_reads_right_for_every_count(n, rows, line):
    assert widgets.matches(n, rows) == line


def test_trace_browser_filters_label_any_and_redraw_table_and_scatter(store, labels):
    lab = labels["timeout_surge"]

    def load(s, e):
        return explore("local", s, e, data_dir=store)

    browser = widgets.TraceBrowser("tx", load(lab.start, lab.end), load, rows=20)
    status = browser.dropdowns["status"]
    assert status.options[0] == (widgets.ANY_LABEL, widgets.ANY) and status.value == widgets.ANY
    assert status.label == "(any)"
    assert all(label for label, _ in status.options)  # no blank choice
    total = len(browser.view.traces)
    head = html_of(browser.table_out)[0]
    assert head.startswith(f"<p>{total:,} traces match; the 20 slowest are listed")
    assert head.split("<tbody>")[1].count("<tr>") == 20
    status.value = "timeout"
    timeouts = browser.view.table(status="timeout")
    assert 0 < len(timeouts) < total
    head = html_of(browser.table_out)[0]
    assert re.match(rf"<p>{len(timeouts):,} traces? match", head)
    assert "<td>ok</td>" not in head and "<td>timeout</td>" in head
    scatter = browser.scatter_out.outputs[0]["data"]["application/vnd.plotly.v1+json"]
    assert [t["name"] for t in scatter["data"]] == ["timeout"]
    assert list(browser.traces.select.options) == timeouts["trace_id"].head(20).tolist()
    assert widgets.state("tx")["status"] == "timeout"


def test_trace_browser_says_when_nothing_matches(store, labels):
    lab = labels["timeout_surge"]
    view = explore("local", lab.start, lab.end, data_dir=store)
    t = view.traces
    agent = next(a for a in view.options("agent")
                 if not ((t["agent"] == a) & (t["status"] == "timeout")).any())
    browser = widgets.TraceBrowser("tx", view, lambda s, e: view, status="timeout",
                                   agent=agent)
    assert html_of(browser.table_out) == [widgets.matches(0, 50)]
    assert browser.traces.value is None and "No trace" in html_of(browser.traces.output)[0]


def test_trace_browser_applies_a_new_window_and_keeps_filters_that_still_apply(store, labels):
    timeout, cost = labels["timeout_surge"], labels["cost_spike"]
    loaded = []

    def load(s, e):
        loaded.append((s, e))
        return explore("local", s, e, data_dir=store)

    browser = widgets.TraceBrowser("tx", load(timeout.start, timeout.end), load)
    browser.dropdowns["status"].value = "ok"
    before = html_of(browser.table_out)[0]
    browser.picker.start_box.value = f"{cost.start:%Y-%m-%dT%H:%MZ}"
    browser.picker.end_box.value = f"{cost.end:%Y-%m-%dT%H:%MZ}"
    assert browser.picker.apply()
    assert loaded[-1] == (cost.start, cost.end) and browser.view.start == cost.start
    assert browser.filters["status"] == "ok"
    after = html_of(browser.table_out)[0]
    n = len(browser.view.table(status="ok"))
    assert after != before and after.startswith(f"<p>{n:,} traces match")


SPEND = "tool-agent spends more per request ($0.1757 vs $0.0136), \\(x\\) too"


def test_runbook_board_shows_dollar_amounts_as_written_not_as_math(cost):
    noted = replace(cost, notes=[SPEND])
    board = widgets.RunbookBoard("rb", noted, lambda s, e: noted)
    summary = "".join(html_of(board.summary_out))
    assert summary.count('<span class="wb-tex">$</span>') >= 2  # the note's, and findings'
    assert summary.count('<span class="wb-tex">\\</span>') == 2
    text_runs = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", "\n", summary,
                       flags=re.S)
    assert "$" not in text_runs.replace("\n$\n", "")  # every $ stands alone in its element


def test_static_sections_are_math_safe_too(cost, capsys, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    noted = replace(cost, notes=[SPEND])
    widgets.RunbookBoard("rb", noted, lambda s, e: noted, live=False).summary()
    html = "".join(o.data for o in shown if hasattr(o, "data"))
    assert html.count('<span class="wb-tex">$</span>') >= 2
