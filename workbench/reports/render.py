"""Render an executed notebook to one self-contained HTML file, without code.

nbconvert's lab template loads require.js, MathJax and mermaid from a CDN; the template here
drops those blocks, so the report opens offline and holds no ``<script src="http...">``. Plotly
figures carry their own inline plotly.js (once per report, see :func:`workbench.plots.show`).
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import nbformat
from nbconvert import HTMLExporter

from workbench.errors import ReportError

__all__ = ["external_scripts", "render_html"]

_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
_EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE)


def external_scripts(html: str) -> list[str]:
    """Every ``<script src=...>`` tag that points off the file (should be none)."""
    return [m.group(0) for m in _EXTERNAL_SCRIPT.finditer(html)]


def _exporter() -> HTMLExporter:
    return HTMLExporter(
        extra_loaders=[jinja2.DictLoader({"workbench_report.html.j2": _TEMPLATE})],
        template_file="workbench_report.html.j2",
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
    )


def render_html(nb: str | Path, out_path: str | Path | None = None, *,
                title: str | None = None) -> Path:
    """Write ``nb`` as HTML beside it (or to ``out_path``) and return the HTML path.

    Code, prompts and cells tagged ``remove-cell`` are left out.
    """
    src = Path(nb)
    target = Path(out_path) if out_path else src.with_suffix(".html")
    try:
        notebook = nbformat.read(src, as_version=4)
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read executed notebook {src}: {exc}") from exc
    if title:
        notebook.metadata["title"] = title
    # Cells tagged remove-cell are notes for whoever edits the notebook, not for readers.
    notebook.cells = [c for c in notebook.cells
                      if "remove-cell" not in c.get("metadata", {}).get("tags", [])]
    body, _ = _exporter().from_notebook_node(notebook)
    if external := external_scripts(body):
        raise ReportError(f"rendered report {target.name} would load scripts from the network: "
                          f"{external[:3]}")
    try:
        target.write_text(body, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write report {target}: {exc.strerror}") from exc
    return target
