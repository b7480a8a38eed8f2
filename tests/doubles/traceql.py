"""The part of TraceQL the Tempo double answers: one spanset filter, optionally piped into a
metrics function with ``by (...)``.

Filters: ``&&``, ``||``, parentheses; ``= != > < >= <= =~ !~``; scoped attributes
(``span.x``, ``resource.x``, ``.x`` for either), the intrinsics ``name``, ``status``, ``kind``,
``duration``, ``nestedSetParent`` (``-1`` for a root span, as Tempo's nested-set model stores it)
and ``statusMessage``; strings, numbers, durations (``1.5s``), ``error``/``ok``/``unset``,
span kinds, ``true``/``false`` and ``nil``. Metrics: ``count_over_time()``, ``rate()``,
``sum_over_time(x)``, ``min_over_time(x)``, ``max_over_time(x)``, ``avg_over_time(x)``.
A missing attribute matches nothing but ``= nil``, as in Tempo.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`)
  | (?P<dur>\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)(?![\w.]))
  | (?P<num>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op>=~|!~|!=|>=|<=|&&|\|\||[=<>{}()|,!])
  | (?P<id>[A-Za-z_.:][\w.:\-/]*)
)""", re.VERBOSE)
_DUR = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_STATUS = {"error", "ok", "unset"}
_KINDS = {"unspecified", "internal", "server", "client", "producer", "consumer"}
FUNCTIONS = {"count_over_time", "rate", "sum_over_time", "min_over_time", "max_over_time",
             "avg_over_time"}


class BadQuery(ValueError):
    """What Tempo answers with 400 ``invalid TraceQL query: ...``."""


@dataclass(frozen=True)
class Span:
    """What the double knows of a span, for filters and metrics."""

    trace_id: str
    span_id: str
    parent: str | None
    is_root: bool
    name: str
    kind: str
    status: str
    status_message: str
    start_ns: int
    end_ns: int
    attrs: Mapping[str, Any]
    resource: Mapping[str, Any]

    def field(self, name: str) -> Any:
        if name.startswith("span."):
            return self.attrs.get(name[5:])
        if name.startswith("resource."):
            return self.resource.get(name[9:])
        if name.startswith("."):
            key = name[1:]
            return self.attrs[key] if key in self.attrs else self.resource.get(key)
        intrinsic = name.split(":", 1)[1] if name.startswith("span:") else name
        if intrinsic == "name":
            return self.name
        if intrinsic == "status":
            return _Keyword(self.status)
        if intrinsic == "kind":
            return _Keyword(self.kind)
        if intrinsic == "duration":
            return (self.end_ns - self.start_ns) / 1e9
        if intrinsic == "statusMessage":
            return self.status_message
        if intrinsic == "nestedSetParent":
            return -1 if self.is_root else 1
        raise BadQuery(f"unknown intrinsic {name}")


@dataclass(frozen=True)
class _Keyword:
    value: str


@dataclass(frozen=True)
class Query:
    """A parsed query: ``match(span)``, and a metrics stage when piped."""

    match: Callable[[Span], bool]
    function: str | None = None
    argument: str | None = None
    by: tuple[str, ...] = ()


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise BadQuery(f"parse error at col {pos + 1}: unexpected {text[pos:pos + 10]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None, kind: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value) or \
                (kind is not None and tok[0] != kind):
            want = value or kind
            raise BadQuery(f"parse error: expected {want}, got {tok[1] if tok else 'end'}")
        self.i += 1
        return tok

    def query(self) -> Query:
        self.take("{")
        match: Callable[[Span], bool] = lambda s: True  # noqa: E731
        if self.peek() != ("op", "}"):
            match = self.or_()
        self.take("}")
        if self.peek() is None:
            return Query(match)
        self.take("|")
        fn = self.take(kind="id")[1]
        if fn not in FUNCTIONS:
            raise BadQuery(f"parse error: unknown function {fn}")
        self.take("(")
        arg = None
        if self.peek() != ("op", ")"):
            arg = self.take(kind="id")[1]
        self.take(")")
        by: list[str] = []
        if self.peek() == ("id", "by"):
            self.take("by")
            self.take("(")
            by.append(self.take(kind="id")[1])
            while self.peek() == ("op", ","):
                self.take(",")
                by.append(self.take(kind="id")[1])
            self.take(")")
        if self.peek() is not None:
            raise BadQuery(f"parse error: unexpected {self.peek()[1]}")  # type: ignore[index]
        if fn in ("count_over_time", "rate") and arg is not None:
            raise BadQuery(f"{fn}() takes no argument")
        if fn not in ("count_over_time", "rate") and arg is None:
            raise BadQuery(f"{fn}() needs an attribute")
        return Query(match, fn, arg, tuple(by))

    def or_(self) -> Callable[[Span], bool]:
        parts = [self.and_()]
        while self.peek() == ("op", "||"):
            self.take("||")
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else (lambda s: any(p(s) for p in parts))

    def and_(self) -> Callable[[Span], bool]:
        parts = [self.unary()]
        while self.peek() == ("op", "&&"):
            self.take("&&")
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda s: all(p(s) for p in parts))

    def unary(self) -> Callable[[Span], bool]:
        if self.peek() == ("op", "("):
            self.take("(")
            inner = self.or_()
            self.take(")")
            return inner
        field = self.take(kind="id")[1]
        op = self.take(kind="op")[1]
        if op not in ("=", "!=", ">", "<", ">=", "<=", "=~", "!~"):
            raise BadQuery(f"parse error: unexpected {op}")
        value = self.value()
        return _comparison(field, op, value)

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace('\\"', '"') if text[0] == '"' else text[1:-1]
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "dur":
            m = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
            assert m
            return float(m.group(1)) * _DUR[m.group(2)]
        if kind == "id" and text in ("true", "false"):
            return text == "true"
        if kind == "id" and text == "nil":
            return None
        if kind == "id" and text in _STATUS | _KINDS:
            return _Keyword(text)
        raise BadQuery(f"parse error: unexpected value {text}")


def _comparison(field: str, op: str, value: Any) -> Callable[[Span], bool]:
    regex = re.compile(value) if op in ("=~", "!~") and isinstance(value, str) else None

    def test(span: Span) -> bool:
        got = span.field(field)
        if value is None:
            return (got is None) if op == "=" else (got is not None) if op == "!=" else False
        if got is None:
            return False
        if isinstance(value, _Keyword) or isinstance(got, _Keyword):
            if not (isinstance(value, _Keyword) and isinstance(got, _Keyword)):
                return False
            return (got.value == value.value) if op == "=" else \
                (got.value != value.value) if op == "!=" else False
        if regex is not None:
            hit = isinstance(got, str) and regex.fullmatch(got) is not None
            return hit if op == "=~" else not hit
        numeric = (isinstance(got, (int, float)) and not isinstance(got, bool)
                   and isinstance(value, (int, float)) and not isinstance(value, bool))
        if not numeric and type(got) is not type(value):
            return False
        return {"=": got == value, "!=": got != value, ">": numeric and got > value,
                "<": numeric and got < value, ">=": numeric and got >= value,
                "<=": numeric and got <= value}[op]
    return test


def parse(text: str) -> Query:
    """Parse ``text``; :class:`BadQuery` names what is wrong."""
    if not text or not text.strip():
        raise BadQuery("parse error: empty query")
    return _Parser(text).query()


def numeric(span: Span, field: str) -> float | None:
    """A span field as a number, for ``*_over_time(field)``; None when it has none."""
    v = span.field(field)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)
