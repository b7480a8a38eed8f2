"""Widgets drawn from their saved state as plain HTML, for files that must open offline.

A notebook run in JupyterLab (or executed with live widgets) saves each widget's state in its
metadata; nbconvert would show them by loading the widget manager from a CDN. Here each view is
drawn from that state instead: a text box shows its value, a dropdown its choice, a checkbox its
tick, an ``Output`` widget its outputs (figures as plotly divs), boxes their children. Nothing is
interactive, nothing is fetched, and every value is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

from workbench.safehtml import escape

__all__ = ["WIDGET_STATE", "WIDGET_VIEW", "render_view"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_REF = "IPY_MODEL_"

_STYLE = ("<style>.wb-w-row{display:flex;flex-wrap:wrap;gap:6px;align-items:center}"
          ".wb-w-col{display:flex;flex-direction:column;gap:4px}"
          ".wb-w-label{margin-right:4px;color:#555}</style>")


def _description(state: Mapping[str, Any]) -> str:
    """A widget's label as HTML: given as HTML by the kernel (``description_allow_html``,
    escaped there and redacted here) or as text, escaped now."""
    desc = str(state.get("description") or "")
    return desc if state.get("description_allow_html") else escape(desc)


def _label(state: Mapping[str, Any]) -> str:
    desc = _description(state)
    return f"<span class='wb-w-label'>{desc}</span>" if desc else ""


def _options(state: Mapping[str, Any]) -> tuple[list[str], int | None]:
    labels = [str(x) for x in state.get("_options_labels") or []]
    index = state.get("index")
    return labels, index if isinstance(index, int) else None


class _Drawer:
    def __init__(self, models: Mapping[str, Any], output_html: Callable[[Mapping], str]) -> None:
        self.models = models
        self.output_html = output_html
        self.seen: set[str] = set()

    def view(self, model_id: str) -> str:
        model = self.models.get(model_id)
        if not isinstance(model, Mapping) or model_id in self.seen:
            return "<span class='wb-w-missing'>(widget not saved)</span>"
        self.seen.add(model_id)  # a cycle in bad state draws each widget once
        name = str(model.get("model_name", ""))
        state = model.get("state") or {}
        try:
            return self._draw(name, state)
        finally:
            self.seen.discard(model_id)

    def _children(self, state: Mapping[str, Any]) -> list[str]:
        return [self.view(c[len(_REF):]) for c in state.get("children") or []
                if isinstance(c, str) and c.startswith(_REF)]

    def _draw(self, name: str, state: Mapping[str, Any]) -> str:
        if name in ("VBoxModel", "BoxModel", "GridBoxModel", "AccordionModel", "TabModel",
                    "StackModel"):
            return f"<div class='wb-w-col'>{''.join(self._children(state))}</div>"
        if name == "HBoxModel":
            return f"<div class='wb-w-row'>{''.join(self._children(state))}</div>"
        if name in ("HTMLModel", "HTMLMathModel"):
            return f"<div>{state.get('value', '')}</div>"  # HTML the kernel made, redacted
        if name == "LabelModel":
            return f"<span>{escape(state.get('value', ''))}</span>"
        if name == "OutputModel":
            return "<div>" + "".join(self.output_html(o) for o in state.get("outputs") or []) \
                + "</div>"
        if name in ("TextModel", "TextareaModel", "PasswordModel", "IntTextModel",
                    "FloatTextModel", "BoundedIntTextModel", "BoundedFloatTextModel"):
            value = "••••" if name == "PasswordModel" else state.get("value", "")
            return (f"<label class='wb-w-row'>{_label(state)}<input type='text' disabled "
                    f"value=\"{html.escape(str(value), quote=True)}\"></label>")
        if name == "ButtonModel":
            return f"<button disabled>{_description(state)}</button>"
        if name in ("CheckboxModel", "ToggleButtonModel"):
            mark = "&#9745;" if state.get("value") else "&#9744;"
            return f"<div>{mark} {_description(state)}</div>"
        if name in ("DropdownModel", "SelectModel", "RadioButtonsModel", "ToggleButtonsModel"):
            labels, index = _options(state)
            if name == "DropdownModel":
                chosen = escape(labels[index]) if index is not None and index < len(labels) \
                    else "–"
                return f"<div class='wb-w-row'>{_label(state)}<b>{chosen}</b></div>"
            items = "".join(f"<li>{'<b>' if i == index else ''}{escape(x)}"
                            f"{'</b>' if i == index else ''}</li>" for i, x in enumerate(labels))
            return f"<div>{_label(state)}<ul>{items}</ul></div>"
        return f"<span class='wb-w-missing'>({escape(name or 'widget')})</span>"


def render_view(view: Mapping[str, Any], state: Mapping[str, Any],
                output_html: Callable[[Mapping], str]) -> str:
    """HTML for one widget view output (``{"model_id": ...}``) from the notebook's saved widget
    ``state`` (the ``state`` mapping of its widget-state metadata); ``output_html`` draws an
    ``Output`` widget's outputs."""
    return _STYLE + _Drawer(state, output_html).view(str(view.get("model_id", "")))
