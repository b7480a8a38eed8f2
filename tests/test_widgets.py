"""Widget controls without a frontend: remembered state, redraw callbacks, validated values."""

import pandas as pd
import plotly.graph_objects as go
import pytest

from workbench import widgets
from workbench.errors import ConfigError


@pytest.fixture(autouse=True)
def _fresh_registry():
    widgets.forget()
    yield
    widgets.forget()


class FakeInvestigation:
    """What AttributionExplorer reads: dimensions and per-dimension suspects."""

    def __init__(self, dimensions, tag="a"):
        self.dimensions = list(dimensions)
        self.tag = tag
        self.calls = []

    def suspects_html(self, dimension):
        self.calls.append(dimension)
        return f"<p>{self.tag}:{dimension}</p>"

    def suspects_figure(self, dimension):
        return go.Figure(layout={"title": {"text": f"{self.tag}:{dimension}"}})


def html_of(output):
    return [o["data"]["text/html"] for o in output.outputs if "text/html" in o["data"]]


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


def test_attribution_explorer_redraws_on_a_new_dimension_and_remembers_it():
    inv = FakeInvestigation(["agent", "tool_name"])
    ex = widgets.AttributionExplorer("dim", inv)
    assert html_of(ex.output) == ["<p>a:None</p>"] and figure_titles(ex.output) == ["a:None"]
    ex.dropdown.value = "tool_name"
    assert html_of(ex.output) == ["<p>a:tool_name</p>"]
    assert figure_titles(ex.output) == ["a:tool_name"]
    rerun = widgets.AttributionExplorer("dim", FakeInvestigation(["agent", "tool_name"], "b"))
    assert rerun.dimension == "tool_name" and html_of(rerun.output) == ["<p>b:tool_name</p>"]
    assert widgets.state("dim") == {"dimension": "tool_name"}


def test_attribution_explorer_drops_a_dimension_the_runbook_no_longer_has():
    ex = widgets.AttributionExplorer("dim", FakeInvestigation(["agent", "tool_name"]))
    ex.dropdown.value = "tool_name"
    rerun = widgets.AttributionExplorer("dim", FakeInvestigation(["agent"]))
    assert rerun.dimension is None and rerun.dropdown.value == rerun.ALL
    with pytest.raises(Exception, match="Invalid selection"):
        rerun.dropdown.value = "tool_name"


def test_attribution_explorer_follows_a_new_investigation():
    ex = widgets.AttributionExplorer("dim", FakeInvestigation(["agent"]))
    ex.dropdown.value = "agent"
    ex.set_investigation(FakeInvestigation(["agent"], "later"))
    assert html_of(ex.output) == ["<p>later:agent</p>"]


def waterfall(trace_id):
    if trace_id == "gone":
        raise ConfigError("trace 'gone' is not in the window")
    return go.Figure(layout={"title": {"text": f"trace {trace_id}"}})


def test_trace_picker_redraws_the_waterfall_of_the_picked_trace():
    picker = widgets.TracePicker("t", ["t1", "t2", "t3"], waterfall)
    assert picker.value == "t1" and figure_titles(picker.output) == ["trace t1"]
    picker.select.value = "t3"
    assert figure_titles(picker.output) == ["trace t3"]
    rerun = widgets.TracePicker("t", ["t1", "t2", "t3"], waterfall)
    assert rerun.value == "t3" and figure_titles(rerun.output) == ["trace t3"]


def test_trace_picker_keeps_the_pick_when_still_offered_and_falls_back_otherwise():
    picker = widgets.TracePicker("t", ["t1", "t2"], waterfall)
    picker.select.value = "t2"
    picker.set_traces(["t0", "t2"])
    assert picker.value == "t2" and figure_titles(picker.output) == ["trace t2"]
    picker.set_traces(["t7", "t8"])
    assert picker.value == "t7" and figure_titles(picker.output) == ["trace t7"]
    picker.set_traces([])
    assert picker.value is None and "No trace" in html_of(picker.output)[0]


def test_trace_picker_shows_a_drawing_error_in_place():
    picker = widgets.TracePicker("t", ["gone"], waterfall)
    assert "is not in the window" in html_of(picker.output)[0]


def test_checklist_ticks_survive_a_rerun_and_follow_the_steps_text():
    steps = ["Split spend", "List runaway traces", "Rank <suspects>"]
    first = widgets.Checklist("c", steps)
    first.boxes[2].value = True
    first.boxes[0].value = True
    assert first.ticked == ["Split spend", "Rank <suspects>"]
    rerun = widgets.Checklist("c", steps)
    assert rerun.ticked == ["Split spend", "Rank <suspects>"]
    rerun.boxes[0].value = False
    assert widgets.Checklist("c", steps).ticked == ["Rank <suspects>"]


def test_forget_drops_state_and_closes_widgets():
    picker = widgets.TracePicker("t", ["t1", "t2"], waterfall)
    picker.select.value = "t2"
    widgets.forget("t")
    assert picker.widget.comm is None and widgets.state("t") == {}
    assert widgets.TracePicker("t", ["t1", "t2"], waterfall).value == "t1"
