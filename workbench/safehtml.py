"""HTML text that shows as written wherever it is displayed: escaped, and never typeset as math.

JupyterLab typesets output HTML with MathJax, which reads ``$...$``, ``\\(...\\)`` and ``\\[...\\]``
as math: "($0.1757 vs $0.0136)" turns into italic formulae. MathJax only matches delimiters within
one run of text, so each ``$`` and ``\\`` is put in an element of its own (``<span
class="wb-tex">$</span>``), which reads the same everywhere and is never typeset. HTML entities
would not do: the browser decodes them before MathJax looks.
"""

from __future__ import annotations

import html as _html
import re

__all__ = ["escape", "mathsafe"]

_OPEN = '<span class="wb-tex">'
_CLOSE = "</span>"
# Tags, comments and whole script/style elements: never touched, only the text between them.
_MARKUP = re.compile(r"(<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>)",
                     re.IGNORECASE | re.DOTALL)
_MATH = re.compile(r"[$\\]")


def mathsafe(fragment: str) -> str:
    """``fragment`` (HTML) with every ``$`` and ``\\`` of its text set apart; markup, scripts
    and styles unchanged. Applying it twice changes nothing more."""
    if not _MATH.search(fragment):
        return fragment
    parts = _MARKUP.split(fragment)
    for i in range(0, len(parts), 2):  # even indices: text between markup
        text = parts[i]
        if not text or not _MATH.search(text):
            continue
        if i > 0 and parts[i - 1] == _OPEN and text in ("$", "\\"):
            continue  # already set apart
        parts[i] = _MATH.sub(lambda m: _OPEN + m.group(0) + _CLOSE, text)
    return "".join(parts)


def escape(text: object) -> str:
    """``text`` as HTML: escaped (quotes included) and :func:`mathsafe`."""
    return mathsafe(_html.escape(str(text)))
