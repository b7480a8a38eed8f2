"""Interactive controls (ipywidgets) for the runbook notebooks and the trace explorer.

Two rules shape this module:

- **Re-running a cell keeps what the engineer chose.** Every control is created under a ``key``;
  its values live in a module-level registry, so a re-run cell rebuilds the control with the
  chosen window, dimension, trace and ticked steps (the previous widget is closed). When the
  defaults a control is built with change (the parameters cell was edited), the chosen values
  are dropped in favour of the new defaults.
- **Static output where no one can click.** Under papermill (``live=False``) each section
  displays the same tables and figures directly, so the HTML report holds them; widgets do not
  render there.

Content is drawn into ``Output`` widgets by setting their ``outputs`` (mime bundles), so redraws
are plain data and work the same with or without a frontend. HTML goes out :func:`mathsafe`, so
JupyterLab shows dollar amounts as written, not typeset as math.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import ipywidgets as w
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from workbench.errors import ConfigError
from workbench.safehtml import escape, mathsafe
from workbench.sources import to_utc

__all__ = ["AttributionExplorer", "Checklist", "RunbookBoard", "TraceBrowser", "TracePicker",
           "WindowPicker", "forget", "parse_window", "remembered", "state"]

Item = str | go.Figure  # HTML text or a plotly figure
MAX_WINDOW = pd.Timedelta(days=31)
ANY = ""  # the "no filter" choice of a filter dropdown
ANY_LABEL = "(any)"  # what that choice reads as

_REGISTRY: dict[str, dict[str, Any]] = {}
_WIDGETS: dict[str, list[w.Widget]] = {}


# -- registry -----------------------------------------------------------------------------------

def state(key: str) -> dict[str, Any]:
    """The remembered values under ``key`` (a copy; defaults bookkeeping left out)."""
    return {k: v for k, v in _REGISTRY.get(key, {}).items() if not k.startswith("_")}


def forget(key: str | None = None) -> None:
    """Drop what is remembered under ``key`` (everything when None) and close its widgets."""
    for k in [key] if key is not None else list(_WIDGETS):
        for widget in _WIDGETS.pop(k, []):
            widget.close()
    if key is None:
        _REGISTRY.clear()
    else:
        _REGISTRY.pop(key, None)


def remembered(key: str, name: str, default: Any, valid: Callable[[Any], bool] = lambda v: True,
               *, follow_default: bool = True) -> Any:
    """The value remembered for ``name`` under ``key``; ``default`` when there is none, when it
    no longer passes ``valid``, or (``follow_default``) when the default itself changed since
    it was remembered. Data-derived defaults (the first of a list) pass ``follow_default=False``.
    """
    entry = _REGISTRY.setdefault(key, {})
    defaults = entry.setdefault("_defaults", {})
    if name not in entry or (follow_default and defaults.get(name) != default):
        defaults[name] = default
        entry[name] = default
    value = entry[name]
    return value if valid(value) else default


def _remember(key: str, name: str, value: Any) -> None:
    _REGISTRY.setdefault(key, {})[name] = value


def _adopt(key: str, *widgets: w.Widget) -> None:
    """Close the widgets an earlier run of the same cell built, then keep these."""
    for old in _WIDGETS.pop(key, []):
        old.close()
    _WIDGETS[key] = list(widgets)


# -- rendering ------------------------------------------------------------------------------------

def _bundle(item: Item) -> dict[str, Any]:
    if isinstance(item, go.Figure):
        data = {"application/vnd.plotly.v1+json": json.loads(pio.to_json(item, validate=False)),
                "text/plain": f"<figure: {html.escape(item.layout.title.text or '')}>"}
    else:
        data = {"text/html": mathsafe(str(item)), "text/plain": "(table)"}
    return {"output_type": "display_data", "data": data, "metadata": {}}


def draw(output: w.Output, items: Iterable[Item]) -> None:
    """Replace what ``output`` shows with ``items``."""
    output.outputs = tuple(_bundle(i) for i in items)


def show_static(items: Iterable[Item]) -> None:
    """Display ``items`` as plain notebook output (HTML reports, papermill runs)."""
    from IPython.display import HTML, display

    from workbench.plots import show

    for item in items:
        show(item) if isinstance(item, go.Figure) else display(HTML(mathsafe(item)))


def _display(widget: w.Widget) -> None:
    from IPython.display import display

    display(widget)


def _error(exc: Exception) -> str:
    return f"<p style='color:#d62728'>{escape(str(exc))}</p>"


# -- controls -------------------------------------------------------------------------------------

def parse_window(start: Any, end: Any, max_span: pd.Timedelta = MAX_WINDOW
                 ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` as UTC timestamps; ConfigError naming what is wrong otherwise."""
    out = []
    for label, value in (("start", start), ("end", end)):
        try:
            out.append(to_utc(str(value).strip() if isinstance(value, str) else value))
        except (TypeError, ValueError):
            raise ConfigError(f"window {label} {value!r} is not a timestamp "
                              "(e.g. 2026-11-06T09:00Z)") from None
    t0, t1 = out
    if not t1 > t0:
        raise ConfigError(f"window end {t1:%Y-%m-%d %H:%M} is not after its start "
                          f"{t0:%Y-%m-%d %H:%M}")
    if t1 - t0 > max_span:
        raise ConfigError(f"window of {t1 - t0} is longer than the {max_span} allowed")
    return t0, t1


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%MZ")


class WindowPicker:
    """Start/end text boxes and an Apply button; ``on_apply(start, end)`` on a valid window."""

    def __init__(self, key: str, start: Any, end: Any,
                 on_apply: Callable[[pd.Timestamp, pd.Timestamp], None] | None = None) -> None:
        t0, t1 = parse_window(start, end)
        self.key, self.on_apply = key, on_apply
        self.start_box = w.Text(value=remembered(key, "start", _iso(t0)),
                                description="start (UTC)")
        self.end_box = w.Text(value=remembered(key, "end", _iso(t1)), description="end (UTC)")
        self.button = w.Button(description="Apply", button_style="primary")
        self.message = w.HTML()
        self.button.on_click(lambda _: self.apply())
        self.widget = w.VBox([w.HBox([self.start_box, self.end_box, self.button]),
                              self.message])
        _adopt(key, self.widget)

    @property
    def value(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The window as chosen (applied or not); ConfigError when the boxes are invalid."""
        return parse_window(self.start_box.value, self.end_box.value)

    def apply(self) -> bool:
        """Validate the boxes; remember and announce a valid window, explain an invalid one."""
        try:
            t0, t1 = self.value
        except ConfigError as exc:
            self.message.value = _error(exc)
            return False
        _remember(self.key, "start", self.start_box.value)
        _remember(self.key, "end", self.end_box.value)
        self.message.value = ""
        if self.on_apply is not None:
            try:
                self.on_apply(t0, t1)
            except ConfigError as exc:
                self.message.value = _error(exc)
                return False
        return True


class TracePicker:
    """A list of trace ids; picking one redraws its waterfall (``draw(trace_id) -> Figure``)."""

    def __init__(self, key: str, trace_ids: Sequence[str], draw: Callable[[str], go.Figure]
                 ) -> None:
        self.key, self._draw = key, draw
        self.select = w.Select(options=[], rows=8, description="trace",
                               layout=w.Layout(width="430px"))
        self.output = w.Output()
        self.widget = w.VBox([self.select, self.output])
        self.set_traces(trace_ids)
        self.select.observe(self._picked, names="value")
        _adopt(key, self.widget)

    def set_traces(self, trace_ids: Sequence[str]) -> None:
        """New choices; the remembered trace stays picked when it is still among them."""
        ids = [str(t) for t in trace_ids]
        value = remembered(self.key, "trace_id", ids[0] if ids else None, lambda v: v in ids,
                           follow_default=False)
        self.select.unobserve_all("value")
        self.select.options = ids
        self.select.value = value
        self.select.observe(self._picked, names="value")
        self.redraw()

    @property
    def value(self) -> str | None:
        return self.select.value

    def _picked(self, change: dict[str, Any]) -> None:
        _remember(self.key, "trace_id", change["new"])
        self.redraw()

    def items(self) -> list[Item]:
        if self.value is None:
            return ["<p>No trace to show in this window.</p>"]
        try:
            return [self._draw(self.value)]
        except ConfigError as exc:
            return [_error(exc)]

    def redraw(self) -> None:
        draw(self.output, self.items())


class AttributionExplorer:
    """A dimension selector over an investigation's suspects: table and bar chart redrawn."""

    ALL = "(all dimensions)"

    def __init__(self, key: str, investigation: Any) -> None:
        self.key, self.investigation = key, investigation
        options = [self.ALL, *investigation.dimensions]
        value = remembered(key, "dimension", self.ALL, lambda v: v in options)
        self.dropdown = w.Dropdown(options=options, value=value, description="dimension")
        self.output = w.Output()
        self.dropdown.observe(self._picked, names="value")
        self.widget = w.VBox([self.dropdown, self.output])
        self.redraw()
        _adopt(key, self.widget)

    @property
    def dimension(self) -> str | None:
        return None if self.dropdown.value == self.ALL else self.dropdown.value

    def _picked(self, change: dict[str, Any]) -> None:
        _remember(self.key, "dimension", change["new"])
        self.redraw()

    def set_investigation(self, investigation: Any) -> None:
        self.investigation = investigation
        self.redraw()

    def items(self) -> list[Item]:
        inv = self.investigation
        return [inv.suspects_html(self.dimension), inv.suspects_figure(self.dimension)]

    def redraw(self) -> None:
        draw(self.output, self.items())


class Checklist:
    """One checkbox per step; ticks are remembered per step text across re-runs.

    A step's label is given as escaped, math-safe HTML: JupyterLab typesets widget labels with
    MathJax, and a step quoting "$0.10 per call" must read as written."""

    def __init__(self, key: str, steps: Sequence[str]) -> None:
        self.key = key
        self.steps = [str(s) for s in steps]
        ticked = remembered(key, "ticked", frozenset(), lambda v: isinstance(v, frozenset))
        self.boxes = [w.Checkbox(value=s in ticked, description=escape(s),
                                 description_allow_html=True, indent=False,
                                 layout=w.Layout(width="auto")) for s in self.steps]
        for box in self.boxes:
            box.observe(self._changed, names="value")
        self.widget = w.VBox(self.boxes)
        _adopt(key, self.widget)

    def _changed(self, _: dict[str, Any]) -> None:
        _remember(self.key, "ticked", frozenset(self.ticked))

    @property
    def ticked(self) -> list[str]:
        return [s for s, b in zip(self.steps, self.boxes) if b.value]


# -- boards: a notebook's sections, redrawn together -------------------------------------------

class RunbookBoard:
    """The sections of a runbook notebook over one :class:`Investigation`.

    ``live``: widgets (window picker, dimension selector, trace picker, checklists); applying a
    window calls ``reload(start, end)`` for a new investigation and redraws every section.
    Not live (papermill): no widget is created at all, so the executed notebook holds no widget
    state, and each section prints the same tables and figures as static output.
    """

    def __init__(self, key: str, investigation: Any,
                 reload: Callable[[pd.Timestamp, pd.Timestamp], Any], live: bool = True) -> None:
        self.key, self.investigation, self.reload, self.live = key, investigation, reload, live
        if not live:
            return
        self.picker = WindowPicker(f"{key}/window", investigation.start, investigation.end,
                                   on_apply=self._apply)
        self.summary_out, self.signals_out = w.Output(), w.Output()
        self.attribution = AttributionExplorer(f"{key}/dimension", investigation)
        self.traces = TracePicker(f"{key}/trace", self._worst_ids(), investigation.waterfall)
        self.checklists = {s: Checklist(f"{key}/{s}", investigation.steps(s))
                           for s in ("investigation", "mitigations", "rollback")}
        self._redraw()

    def _worst_ids(self) -> list[str]:
        return self.investigation.worst_traces(10)["trace_id"].astype(str).tolist()

    def _apply(self, start: pd.Timestamp, end: pd.Timestamp) -> None:
        self.investigation = self.reload(start, end)
        self.traces._draw = self.investigation.waterfall
        self.attribution.set_investigation(self.investigation)
        self.traces.set_traces(self._worst_ids())
        self._redraw()

    def _redraw(self) -> None:
        draw(self.summary_out, self.summary_items())
        draw(self.signals_out, self.signals_items())

    def summary_items(self) -> list[Item]:
        inv = self.investigation
        return [inv.summary_html(), inv.signal_table_html(), inv.findings_html()]

    def signals_items(self) -> list[Item]:
        return [self.investigation.signals_figure()]

    def drilldown_items(self) -> list[Item]:
        inv = self.investigation
        ids = self._worst_ids()
        return [inv.worst_traces_html(), inv.waterfall(ids[0]) if ids else
                "<p>No trace in this window.</p>"]

    def summary(self) -> None:
        if self.live:
            _display(w.VBox([self.picker.widget, self.summary_out]))
        else:
            show_static(self.summary_items())

    def signals(self) -> None:
        _display(self.signals_out) if self.live else show_static(self.signals_items())

    def attribution_section(self) -> None:
        if self.live:
            _display(self.attribution.widget)
        else:
            inv = self.investigation
            show_static([inv.suspects_html(), inv.suspects_figure()])

    def drilldown(self) -> None:
        if self.live:
            _display(w.VBox([w.HTML(mathsafe(self.investigation.worst_traces_html())),
                             self.traces.widget]))
        else:
            show_static(self.drilldown_items())

    def checklist(self, section: str) -> None:
        if self.live:
            _display(self.checklists[section].widget)
        else:
            show_static([self.investigation.checklist_html(section)])


def _choices(values: Sequence[str]) -> list[tuple[str, str]]:
    """A filter dropdown's (label, value) pairs: "(any)" first, then each value as itself."""
    return [(ANY_LABEL, ANY), *((v, v) for v in values)]


def matches(n: int, rows: int) -> str:
    """The line above the trace table: how many traces match and how many are listed."""
    if n == 0:
        return "<p>No trace matches these filters in this window.</p>"
    if n == 1:
        return "<p>1 trace matches.</p>"
    listed = f"all {n:,} are listed" if n <= rows else f"the {rows:,} slowest are listed"
    return f"<p>{n:,} traces match; {listed}, slowest first.</p>"


class TraceBrowser:
    """The trace explorer: window and filters (agent, model, status), a table, a latency/cost
    scatter, and a trace picker redrawing the waterfall. ``load(start, end) -> TraceWindow``.
    Not ``live``: no widgets, the same table and figures as static output."""

    FILTERS = ("agent", "model", "status")

    def __init__(self, key: str, view: Any, load: Callable[[pd.Timestamp, pd.Timestamp], Any],
                 rows: int = 50, live: bool = True, **filters: str | None) -> None:
        self.key, self.view, self.load, self.rows, self.live = key, view, load, rows, live
        unknown = set(filters) - set(self.FILTERS)
        if unknown:
            raise ConfigError(f"unknown trace filter(s) {sorted(unknown)}; filters: "
                              f"{list(self.FILTERS)}")
        self._filters = {}
        for name in self.FILTERS:
            default = filters.get(name) or ANY
            options = [ANY, *view.options(name)]
            if default not in options:
                raise ConfigError(f"{name} {default!r} has no traces in this window; known: "
                                  f"{options[1:]}")
            self._filters[name] = remembered(key, name, default, lambda v, o=options: v in o)
        if not live:
            return
        self.picker = WindowPicker(f"{key}/window", view.start, view.end, on_apply=self._apply)
        self.dropdowns = {}
        for name, value in self._filters.items():
            dd = w.Dropdown(options=_choices(view.options(name)), value=value,
                            description=name)
            dd.observe(lambda ch, n=name: self._filtered(n, ch["new"]), names="value")
            self.dropdowns[name] = dd
        self.table_out, self.scatter_out = w.Output(), w.Output()
        self.traces = TracePicker(f"{key}/trace", self._ids(), self.view.waterfall)
        self.widget = w.VBox([self.picker.widget, w.HBox(list(self.dropdowns.values())),
                              self.table_out, self.scatter_out, self.traces.widget])
        self._redraw()
        _adopt(key, self.widget)

    @property
    def filters(self) -> dict[str, str]:
        return dict(self._filters)

    def table(self) -> pd.DataFrame:
        return self.view.table(**self.filters)

    def _ids(self) -> list[str]:
        return self.table().head(self.rows)["trace_id"].astype(str).tolist()

    def _filtered(self, name: str, value: str) -> None:
        self._filters[name] = value
        _remember(self.key, name, value)
        self.traces.set_traces(self._ids())
        self._redraw()

    def _apply(self, start: pd.Timestamp, end: pd.Timestamp) -> None:
        self.view = self.load(start, end)
        for name, dd in self.dropdowns.items():
            keep = dd.value if dd.value in self.view.options(name) else ANY
            dd.unobserve_all("value")
            dd.options = _choices(self.view.options(name))
            dd.value = keep
            self._filters[name] = keep
            dd.observe(lambda ch, n=name: self._filtered(n, ch["new"]), names="value")
        self.traces._draw = self.view.waterfall
        self.traces.set_traces(self._ids())
        self._redraw()

    def table_items(self) -> list[Item]:
        from workbench.investigate import html_table

        t = self.table()
        return [matches(len(t), self.rows) + (html_table(t.head(self.rows)) if len(t) else "")]

    def scatter_items(self) -> list[Item]:
        return [self.view.scatter(**self.filters)]

    def _redraw(self) -> None:
        draw(self.table_out, self.table_items())
        draw(self.scatter_out, self.scatter_items())

    def show(self) -> None:
        if self.live:
            _display(self.widget)
            return
        ids = self._ids()
        show_static([*self.table_items(), *self.scatter_items(),
                     self.view.waterfall(ids[0]) if ids else "<p>No trace matches.</p>"])
