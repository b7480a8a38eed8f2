"""PromQL checked before a run starts, by Prometheus's own parser wherever one is at hand.

Three checks, each only as strong as what it can see:

- :func:`shape_problem`: no dependency at all -- brackets and quotes balanced, nothing empty.
  It never rejects what Prometheus accepts (tests hold it to that against the real parser);
- :func:`promtool_problems`: ``promtool check rules`` (Debian package ``prometheus``) on a
  generated rule file: the real parser, offline, in ~50 ms;
- :func:`server_problems`: the configured server's query endpoint at a time with no data, which
  parses the expression and answers ``bad_data`` with the parser's message when it is wrong.

:func:`problems` runs what is available and returns ``{name: message}`` for bad expressions.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["problems", "promtool_problems", "server_problems", "shape_problem"]

_PAIRS = {")": "(", "]": "[", "}": "{"}
_PROMTOOL_LINE = re.compile(r'"q(\d+)": could not parse expression: (.*)$')


def shape_problem(expr: str) -> str | None:
    """A reason ``expr`` cannot be PromQL (unbalanced brackets or quotes, empty), or None."""
    if not isinstance(expr, str) or not expr.strip():
        return "empty expression"
    stack: list[tuple[str, int]] = []
    quote = ""
    i = 0
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\" and quote != "`":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c == "#":
            nl = expr.find("\n", i)
            i = len(expr) if nl < 0 else nl
            continue
        elif c in "\"'`":
            quote = c
            start = i
        elif c in "([{":
            stack.append((c, i))
        elif c in ")]}":
            if not stack or stack[-1][0] != _PAIRS[c]:
                return f"unexpected {c!r} at character {i + 1}"
            stack.pop()
        i += 1
    if quote:
        return f"unterminated string starting at character {start + 1}"
    if stack:
        return f"unclosed {stack[-1][0]!r} at character {stack[-1][1] + 1}"
    return None


def promtool_problems(exprs: Mapping[str, str], promtool: str | None = None
                      ) -> dict[str, str] | None:
    """Parse ``exprs`` with ``promtool``; None when promtool is not installed."""
    binary = promtool or shutil.which("promtool")
    if not binary or not exprs:
        return None if not binary else {}
    names = list(exprs)
    rules = {"groups": [{"name": "workbench", "rules": [
        {"record": f"q{i}", "expr": exprs[n]} for i, n in enumerate(names)]}]}
    with tempfile.TemporaryDirectory(prefix="workbench-promql-") as tmp:
        path = Path(tmp) / "rules.yml"
        path.write_text(yaml.safe_dump(rules, sort_keys=False))
        try:
            done = subprocess.run([binary, "check", "rules", str(path)], capture_output=True,
                                  text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
    found: dict[str, str] = {}
    for line in (done.stdout + done.stderr).splitlines():
        m = _PROMTOOL_LINE.search(line)
        if m and int(m.group(1)) < len(names):
            found[names[int(m.group(1))]] = m.group(2).strip()
    if done.returncode != 0 and not found:
        return None  # promtool failed for a reason of its own: no verdict
    return found


def server_problems(source: Any, exprs: Mapping[str, str]) -> dict[str, str] | None:
    """Parse ``exprs`` on the Prometheus server behind ``source`` (a PrometheusSource);
    None when the server cannot give a verdict (unreachable, refused, timed out)."""
    return source.parse_problems(exprs)


def problems(exprs: Mapping[str, str], source: Any = None) -> dict[str, str]:
    """``{name: why}`` for every expression the available parsers reject."""
    found = {n: p for n, e in exprs.items() if (p := shape_problem(e))}
    rest = {n: e for n, e in exprs.items() if n not in found}
    verdict = server_problems(source, rest) if source is not None and rest else None
    if verdict is None and rest:
        verdict = promtool_problems(rest)
    found.update(verdict or {})
    return found
