"""Render an executed notebook to one self-contained HTML file for sharing, without code.

What a report shares is the HTML and the executed notebook beside it; both must be fit to mail:

- **Redacted** (on unless asked otherwise): every output, markdown cell, code cell and widget
  state goes through :mod:`workbench.redact`; the HTML ends with the count of what was replaced.
- **Offline**: nbconvert's lab template loads require.js, MathJax, mermaid and (for notebooks
  saved with widget state) the widget manager from a CDN; the template here drops all of them.
  Widgets are drawn from their saved state as static HTML (:mod:`static_widgets`).
  :func:`external_loads` checks the result: nothing is fetched from the network.
- **plotly.js once**: figures are stored as plotly JSON only (see :func:`workbench.plots.show`);
  rendering draws each as a ``<div>`` and puts plotly.js once in the page's head. Any copy of
  plotly.js an output carries (``fig.show()`` in a notebook) is dropped, from the HTML and from
  the executed notebook alike.
- **Math-safe**: HTML outputs of the kept notebook are :func:`~workbench.safehtml.mathsafe`, so
  JupyterLab shows "$0.1757" as written.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
import nbformat
from nbconvert import HTMLExporter

from workbench.errors import ReportError
from workbench.plots import plotlyjs_html, to_html
from workbench.redact import Redactor, redactor
from workbench.reports.static_widgets import WIDGET_STATE, WIDGET_VIEW, render_view
from workbench.safehtml import escape, mathsafe

__all__ = ["Rendered", "clean_file", "clean_notebook", "external_loads", "external_scripts",
           "render_html", "render_report"]

PLOTLY = "application/vnd.plotly.v1+json"

_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{{ resources.workbench_head }}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block body_footer %}{{ resources.workbench_footer }}
</main>
</body>
{% endblock body_footer %}
"""
# A <script> holding plotly.js (its licence header names it), as fig.show() or
# to_html(include_plotlyjs=True) put it into an output.
_PLOTLYJS_SCRIPT = re.compile(r"<script[^>]*>(?:(?!</script>).){0,200}?\*\s*plotly\.js v"
                              r".*?</script>", re.DOTALL | re.IGNORECASE)
_PLOTLY_CONFIG = re.compile(r"<script[^>]*>\s*window\.PlotlyConfig\s*=\s*\{[^<]*\};?\s*</script>")


# -- checking the result ---------------------------------------------------------------------------

_LOADING_ATTRS = {"src", "href", "data", "poster", "srcset", "background", "action", "formaction"}
_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
_CSS_REMOTE = re.compile(r"@import\s+(?:url\()?\s*['\"]?\s*(?:https?:)?//|"
                         r"url\(\s*['\"]?\s*(?:https?:)?//", re.IGNORECASE)
_SCRIPT_URL = re.compile(r"^\s*(?:javascript|vbscript|data\s*:\s*text/html)", re.IGNORECASE)


class _LoadFinder(HTMLParser):
    """Every tag attribute and stylesheet that would fetch from the network, and every
    ``javascript:`` URL. ``<a href="https://...">`` is a link a reader may follow, not a load."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            value = value or ""
            if _SCRIPT_URL.match(value) and (name in _LOADING_ATTRS or name == "href"):
                self.found.append(f"<{tag} {name}={value[:80]!r}>")
            elif name in _LOADING_ATTRS and _REMOTE.match(value) and tag != "a":
                self.found.append(f"<{tag} {name}={value[:80]!r}>")
            elif name == "style" and _CSS_REMOTE.search(value):
                self.found.append(f"<{tag} style={value[:80]!r}>")
        refresh = dict(attrs).get("http-equiv", "") or ""
        if tag == "meta" and refresh.lower() == "refresh":
            self.found.append(f"<meta http-equiv=refresh content={dict(attrs).get('content')!r}>")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and (m := _CSS_REMOTE.search(data)):
            self.found.append(f"<style> {data[m.start():m.start() + 80]!r}")


def external_loads(html: str) -> list[str]:
    """Everything in ``html`` that would load from the network when opened (scripts,
    stylesheets, images, frames, CSS imports) or run a ``javascript:`` URL: should be none."""
    finder = _LoadFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def external_scripts(html: str) -> list[str]:
    """The ``<script src=...>`` tags among :func:`external_loads`."""
    return [x for x in external_loads(html) if x.startswith("<script ")]


# -- cleaning a notebook -----------------------------------------------------------------------

def _text(value: Any, red: Redactor) -> Any:
    if isinstance(value, list):
        return [red.text(v) if isinstance(v, str) else v for v in value]
    return red.text(value) if isinstance(value, str) else value


def _strip_plotlyjs(fragment: str) -> str:
    return _PLOTLY_CONFIG.sub("", _PLOTLYJS_SCRIPT.sub("", fragment))


def _clean_output(out: dict[str, Any], red: Redactor) -> None:
    if out.get("output_type") == "stream":
        out["text"] = _text(out.get("text", ""), red)
        return
    if out.get("output_type") == "error":
        out["evalue"] = red.text(out.get("evalue", ""))
        out["traceback"] = [red.text(line) for line in out.get("traceback", [])]
        return
    data = out.get("data")
    if not isinstance(data, dict):
        return
    if PLOTLY in data:
        data[PLOTLY] = red.data(data[PLOTLY])
        data.pop("text/html", None)  # the figure again, maybe with plotly.js: drawn at render
    for mime, value in list(data.items()):
        if mime == "text/html":
            html = value if isinstance(value, str) else "".join(value)
            data[mime] = mathsafe(red.text(_strip_plotlyjs(html)))
        elif mime.startswith("text/") or mime in ("application/json", WIDGET_VIEW):
            data[mime] = red.data(value) if isinstance(value, (dict, list)) and \
                mime != "text/plain" else _text(value, red)


def clean_notebook(nb: nbformat.NotebookNode, red: Redactor) -> nbformat.NotebookNode:
    """Make ``nb`` (changed in place and returned) fit to share: sources, outputs and widget
    state redacted, HTML outputs math-safe, copies of plotly.js dropped."""
    for cell in nb.cells:
        cell["source"] = red.text(cell.get("source", ""))
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            _clean_output(out, red)
    widgets = nb.metadata.get("widgets")
    if isinstance(widgets, dict):
        # Output widgets hold outputs like cells do: cleaned the same way (plotly.js dropped
        # before anything is redacted), then the rest of the state, which they pass unchanged.
        models = widgets.get(WIDGET_STATE, {}).get("state", {})
        for model in models.values() if isinstance(models, dict) else []:
            if isinstance(model, dict) and model.get("model_name") == "OutputModel":
                for out in (model.get("state") or {}).get("outputs") or []:
                    if isinstance(out, dict):
                        _clean_output(out, red)
        nb.metadata["widgets"] = red.data(widgets)
    for key in ("papermill", "title"):
        if key in nb.metadata:
            nb.metadata[key] = red.data(nb.metadata[key])
    return nb


# -- drawing for HTML ------------------------------------------------------------------------------

def _output_html(out: Mapping[str, Any]) -> str:
    """One output (of an ``Output`` widget) as HTML."""
    data = out.get("data") or {}
    if PLOTLY in data:
        return to_html(data[PLOTLY])
    if "text/html" in data:
        v = data["text/html"]
        return v if isinstance(v, str) else "".join(v)
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            return f"<img src='data:{mime};base64,{escape(str(data[mime]).strip())}'>"
    text = out.get("text") or data.get("text/plain") or ""
    text = text if isinstance(text, str) else "".join(text)
    return f"<pre>{escape(text)}</pre>" if text else ""


def _for_html(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """A copy of cleaned ``nb`` as nbconvert should draw it: figures as plotly divs, widget
    views from their saved state; and how many figures it holds."""
    nb = copy.deepcopy(nb)
    state = (nb.metadata.get("widgets") or {}).get(WIDGET_STATE, {}).get("state", {})
    nb.metadata.pop("widgets", None)
    figures = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = out.get("data")
            if not isinstance(data, dict):
                continue
            if WIDGET_VIEW in data:
                html = render_view(data.pop(WIDGET_VIEW), state, _output_html)
                data["text/html"] = html
            elif PLOTLY in data:
                data["text/html"] = to_html(data.pop(PLOTLY))
            html = data.get("text/html")
            if isinstance(html, str):
                figures += html.count("Plotly.newPlot(")
    return nb, figures


def _footer(stats: Mapping[str, Any]) -> str:
    if not stats["enabled"]:
        return ("<footer class='wb-redaction' data-redactions='off' style='background:#fdecea;"
                "border-left:6px solid #d62728;padding:8px 12px;margin:16px'><b>Redaction was "
                "turned off</b>: this file may hold secrets and personal data from traces."
                "</footer>")
    kinds = ", ".join(f"{escape(k)} {n}" for k, n in stats["by_kind"].items())
    said = (f"{stats['count']} value(s) redacted ({kinds})" if stats["count"] else
            "nothing needed redacting")
    return (f"<footer class='wb-redaction' data-redactions='{stats['count']}' "
            "style='color:#555;font-size:12px;margin:16px'>Secrets and personal data are "
            f"redacted before sharing: {said}.</footer>")


def _export(nb: nbformat.NotebookNode, stats: Mapping[str, Any]) -> str:
    drawn, figures = _for_html(nb)
    exporter = HTMLExporter(
        extra_loaders=[jinja2.DictLoader({"workbench_report.html.j2": _TEMPLATE})],
        template_file="workbench_report.html.j2",
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    resources = {"workbench_head": plotlyjs_html() if figures else "",
                 "workbench_footer": _footer(stats)}
    body, _ = exporter.from_notebook_node(drawn, resources=resources)
    return body


def _read(src: Path) -> nbformat.NotebookNode:
    try:
        return nbformat.read(src, as_version=4)
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read executed notebook {src}: {exc}") from exc


def _write_text(target: Path, text: str, what: str) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ReportError(f"cannot write {what} {target}: {exc.strerror}") from exc


def _html(notebook: nbformat.NotebookNode, target: Path, title: str | None,
          red: Redactor) -> Path:
    if title:
        notebook.metadata["title"] = red.text(title)
    # Cells tagged remove-cell are notes for whoever edits the notebook, not for readers.
    shown = copy.copy(notebook)
    shown.cells = [c for c in notebook.cells
                   if "remove-cell" not in c.get("metadata", {}).get("tags", [])]
    body = _export(shown, red.stats())
    if external := external_loads(body):
        raise ReportError(f"rendered report {target.name} would load from the network: "
                          f"{external[:3]}")
    _write_text(target, body, "report")
    return target


@dataclass(frozen=True)
class Rendered:
    """A report's shared files and what redaction replaced in them."""

    html: Path
    notebook: Path
    redaction: dict[str, Any]


def _clean_in_place(src: Path, red: Redactor) -> nbformat.NotebookNode:
    notebook = clean_notebook(_read(src), red)
    try:
        text = nbformat.writes(notebook)
    except (ValueError, TypeError) as exc:
        raise ReportError(f"cannot write executed notebook {src}: {exc}") from exc
    _write_text(src, text, "executed notebook")
    return notebook


def clean_file(path: str | Path, *, redact: bool = True) -> dict[str, Any] | None:
    """Rewrite the executed notebook at ``path`` in place, fit to share (a failed run's
    ``*-err.ipynb`` too); what redaction replaced, or None when there is no such file."""
    src = Path(path)
    if not src.is_file():
        return None
    red = redactor(redact)
    _clean_in_place(src, red)
    return red.stats()


def render_report(executed: str | Path, out_path: str | Path | None = None, *,
                  title: str | None = None, redact: bool = True) -> Rendered:
    """Make the executed notebook beside a report fit to share (rewritten in place: redacted,
    without plotly.js) and render it to HTML (``out_path``, default beside it)."""
    src = Path(executed)
    red = redactor(redact)
    notebook = _clean_in_place(src, red)
    html = _html(notebook, Path(out_path) if out_path else src.with_suffix(".html"), title, red)
    return Rendered(html=html, notebook=src, redaction=red.stats())


def render_html(nb: str | Path, out_path: str | Path | None = None, *,
                title: str | None = None, redact: bool = True) -> Path:
    """Write ``nb`` as HTML beside it (or to ``out_path``) and return the HTML path; ``nb``
    itself is left as it is. Code, prompts and cells tagged ``remove-cell`` are left out."""
    src = Path(nb)
    red = redactor(redact)
    notebook = clean_notebook(_read(src), red)
    return _html(notebook, Path(out_path) if out_path else src.with_suffix(".html"), title, red)
