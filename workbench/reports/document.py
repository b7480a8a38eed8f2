"""One content, two renderings: blocks of text, lists and tables drawn as HTML (escaped,
math-safe) and as Markdown (escaped for wikis, chat and issue trackers).

Text from trace data is untrusted: in HTML it is escaped (:func:`workbench.safehtml.escape`);
in Markdown :func:`md_text` turns ``<``, ``>`` and ``&`` into entities (no markup, no
autolinks) and backslash-escapes Markdown's punctuation (no emphasis, links, tables or ``$``
math). Every piece of text goes through a :class:`~workbench.redact.Redactor` before it is
escaped, so a redaction marker never splits an escape and nothing escaped hides a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.redact import Redactor
from workbench.safehtml import escape, mathsafe

__all__ = ["Block", "Code", "Link", "fmt_duration", "fmt_p", "fmt_ratio", "fmt_time",
           "fmt_excess_usd", "fmt_usd", "fmt_value", "html", "markdown", "md_text", "para",
           "suspect_columns"]


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True)
class Code:
    """A command or identifier to copy as it is."""

    text: str


Part = str | Link | Code


@dataclass(frozen=True)
class Block:
    """``p`` (a list of parts), ``alert`` (a paragraph that must stand out), ``list`` (a list
    of such lists) or ``table`` (a DataFrame of plain text)."""

    kind: str
    content: Any


def para(*parts: Part) -> Block:
    return Block("p", list(parts))


# -- escaping ---------------------------------------------------------------------------------

# parentheses and ``!`` are left as written: with both brackets escaped no link or image can form
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#+|~$])")
_CODE_UNSAFE = re.compile(r"[`<>&\n]")


def md_text(text: object) -> str:
    """Plain ``text`` as Markdown that shows it as written: one line, ``<``, ``>`` and ``&``
    as entities, Markdown's punctuation escaped with backslashes."""
    s = re.sub(r"\s+", " ", str(text))
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def _md_url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _inline_html(parts: Iterable[Part], red: Redactor) -> str:
    out = []
    for part in parts:
        if isinstance(part, Link):
            out.append(f"<a href='{escape(part.url)}'>{escape(red.text(part.text))}</a>")
        elif isinstance(part, Code):
            out.append(f"<code>{escape(red.text(part.text))}</code>")
        else:
            out.append(escape(red.text(part)))
    return "".join(out)


def _inline_md(parts: Iterable[Part], red: Redactor) -> str:
    out = []
    for part in parts:
        if isinstance(part, Link):
            out.append(f"[{md_text(red.text(part.text))}]({_md_url(part.url)})")
        elif isinstance(part, Code):
            text = red.text(part.text)
            # a code span shows its text raw: only for text that cannot be markup
            out.append(f"`{text}`" if not _CODE_UNSAFE.search(text) else md_text(text))
        else:
            out.append(md_text(red.text(part)))
    return "".join(out)


_STYLE = """<style>
.wb-doc-table { border-collapse: collapse; font-size: 13px; margin: 6px 0 14px 0; }
.wb-doc-table th, .wb-doc-table td { border: 1px solid #ddd; padding: 3px 8px;
  text-align: left !important; vertical-align: top; }
.wb-doc-alert { background: #fdecea; border-left: 6px solid #d62728; padding: 8px 12px; }
</style>"""


def html(blocks: Iterable[Block], red: Redactor) -> str:
    """``blocks`` as an HTML fragment."""
    out = [_STYLE]
    for b in blocks:
        if b.kind == "p":
            out.append(f"<p>{_inline_html(b.content, red)}</p>")
        elif b.kind == "alert":
            out.append(f"<div class='wb-doc-alert'>{_inline_html(b.content, red)}</div>")
        elif b.kind == "list":
            out.append("<ul>" + "".join(f"<li>{_inline_html(i, red)}</li>" for i in b.content)
                       + "</ul>")
        elif b.kind == "table":
            frame = b.content.map(lambda v: red.text(str(v)))
            frame.columns = [red.text(str(c)) for c in frame.columns]
            out.append(mathsafe(frame.to_html(escape=True, index=False, border=0,
                                              classes="wb-doc-table")))
        else:
            raise ValueError(f"unknown block kind {b.kind!r}")
    return "\n".join(out)


def markdown(blocks: Iterable[Block], red: Redactor) -> str:
    """``blocks`` as Markdown (CommonMark with GitHub's tables), blank-line separated."""
    out = []
    for b in blocks:
        if b.kind == "p":
            out.append(_inline_md(b.content, red))
        elif b.kind == "alert":
            out.append(f"> **{_inline_md(b.content, red)}**")
        elif b.kind == "list":
            out.append("\n".join(f"- {_inline_md(i, red)}" for i in b.content))
        elif b.kind == "table":
            cols = [md_text(red.text(str(c))) or " " for c in b.content.columns]
            rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            for row in b.content.itertuples(index=False):
                rows.append("| " + " | ".join(md_text(red.text(str(v))) or " " for v in row)
                            + " |")
            out.append("\n".join(rows))
        else:
            raise ValueError(f"unknown block kind {b.kind!r}")
    return "\n\n".join(out)


# -- numbers and times, as every report prints them --------------------------------------------

def fmt_time(ts: pd.Timestamp | None) -> str:
    """``2026-11-06 09:00`` (UTC), or a dash."""
    return "–" if ts is None else f"{ts:%Y-%m-%d %H:%M}"


def fmt_value(x: float | None, unit: str = "") -> str:
    """A signal's value as every document prints it: 4 significant digits (10,000 or more in
    full, never 1.235e+04), in the signal's ``unit`` where one is worth saying: ``$0.1137``
    (USD), ``$12.5/h`` (USD/h), ``8.214 s``; a ratio (a share of traces) as a percentage,
    ``8.209%`` (a bare "1" read as one trace, not all of them); a score bare; "–" when
    missing."""
    if x is None or not np.isfinite(x):
        return "–"
    if unit == "ratio":
        pct = 100 * x
        return f"{pct:,.0f}%" if abs(pct) >= 1e4 else f"{pct:.4g}%"
    digits = f"{abs(x):,.0f}" if abs(x) >= 1e4 else f"{abs(x):.4g}"
    sign = "-" if x < 0 else ""
    if unit in ("USD", "USD/h"):
        return f"{sign}${digits}" + unit[3:]
    if unit in ("", "ratio", "score"):
        return sign + digits
    return f"{sign}{digits} {unit}"


def suspect_columns(signal: str) -> tuple[str, str]:
    """The headers of a suspect's two figures (:class:`workbench.findings.Suspect`): the
    signal over the window's traces holding the value, and what the baseline expects of those
    same traces; printed with :func:`fmt_value` in the signal's unit."""
    return f"{signal} of its traces", "expected of its traces"


def fmt_usd(x: float | None) -> str:
    """``$1,234.50``, ``-$3.10``; never "-$0.00" (a negative less than a cent is $0.00)."""
    if x is None or not np.isfinite(x):
        return "unknown"
    return f"-${-x:,.2f}" if round(x, 2) < 0 else f"${abs(x):,.2f}"


def fmt_excess_usd(x: float | None) -> str:
    """An excess over what was expected: "none" where nothing was spent beyond it (a negative
    excess is a saving, not a cost); less than a cent is $0.00."""
    if x is not None and np.isfinite(x) and x <= 0:
        return "none"
    return fmt_usd(x)


def fmt_ratio(observed: float, expected: float) -> str:
    if not np.isfinite(observed) or not np.isfinite(expected):
        return "–"
    if expected == 0:
        return "new" if observed > 0 else "–"
    return f"{observed / expected:.2f}x"


def fmt_duration(td: pd.Timedelta) -> str:
    minutes = int(round(td / pd.Timedelta(minutes=1)))
    if minutes < 60:
        return f"{minutes} min"
    h, m = divmod(minutes, 60)
    return f"{h} h {m:02d} min" if m else f"{h} h"


def fmt_p(x: float) -> str:
    return "p<1e-12" if x < 1e-12 else f"p={x:.2g}"
