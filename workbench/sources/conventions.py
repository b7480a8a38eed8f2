"""The one mapping from the public trace conventions to the canonical frames.

Sources do not map fields themselves. Each turns its records into a *raw* frame
(:data:`RAW_COLUMNS`: the record's native fields, plus one column per OpenTelemetry attribute,
resource attribute or Langfuse metadata key the conventions name, as ``attr:<key>``,
``res:<key>``, ``meta:<key>``) and hands it to :meth:`Conventions.observations`. The rules live in
``conventions.yaml`` beside this module: Langfuse's native data model (trace name, observation
types, levels, ``providedModelName``, usage and cost details, prompts), OpenTelemetry GenAI
(``gen_ai.*``), OpenInference (``openinference.span.kind``, ``llm.*``, ``tool.name``) and
Langfuse's own OTel attributes (``langfuse.*``). Users add or replace rules in a YAML file of
their own (``WORKBENCH_CONVENTIONS``).

Trace-level columns (agent, user, session, release, environment, tags) are resolved once per
trace and given to all its observations, so a child span that does not repeat them still belongs
to its agent. Errors at level ERROR are classified (``timeout``, ``rate_limit``, ...) from the
words the failing library used. What could not be mapped stays visible: see :func:`coverage`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench import schema
from workbench.errors import ConfigError
from workbench.runbooks import parse_duration
from workbench.yaml_file import parse_yaml, read_yaml

__all__ = [
    "ENV_CONVENTIONS",
    "RAW_COLUMNS",
    "as_text",
    "TYPES",
    "Conventions",
    "Coverage",
    "coverage",
    "load",
    "raw_frame",
]

ENV_CONVENTIONS = "WORKBENCH_CONVENTIONS"
_DEFAULTS = Path(__file__).with_name("conventions.yaml")

#: Observation types, as Langfuse names them (canonical frames hold them lower-case).
TYPES = ("SPAN", "GENERATION", "EVENT", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EVALUATOR",
         "EMBEDDING", "GUARDRAIL")

_STR, _TS, _INT, _FLOAT, _BOOL = "string", "timestamp", "int", "float", "bool"

#: The native fields a raw frame may carry (any may be missing or null, except the ids and start).
RAW_COLUMNS: Mapping[str, str] = {
    "trace_id": _STR, "observation_id": _STR, "parent_observation_id": _STR,
    "start_time": _TS, "end_time": _TS, "name": _STR,
    "native_type": _STR,       # Langfuse observation type (None from plain OTel)
    "level": _STR,             # Langfuse level (None from plain OTel)
    "status_code": _STR,       # OTel span status: OK | ERROR | UNSET (None from Langfuse)
    "status_message": _STR,    # Langfuse statusMessage or the OTel status description
    "exception_type": _STR,    # from the span's first `exception` event
    "exception_message": _STR,
    "trace_name": _STR, "user_id": _STR, "session_id": _STR, "release": _STR, "version": _STR,
    "environment": _STR, "tags": _STR,  # tags joined with ","
    "model": _STR, "prompt_name": _STR, "prompt_version": _INT,
    "input_tokens": _INT, "output_tokens": _INT, "total_tokens": _INT, "cost_usd": _FLOAT,
    "cache_read_tokens": _INT, "cache_write_tokens": _INT, "reasoning_tokens": _INT,
    "is_root": _BOOL,
}

_PREFIXES = {"attribute": "attr:", "resource": "res:", "metadata": "meta:"}
# rule kinds that read an observation's name (text, never a number)
_NAME_KINDS = ("span_name", "observation_type", "root_observation")
_TRACE_LEVEL = ("agent", "user_id", "session_id", "release", "environment", "tags")
_OBSERVATION_LEVEL = ("tool_name", "model", "prompt_name", "prompt_version", "input_tokens",
                      "output_tokens", "total_tokens", "cost_usd", "cache_read_tokens",
                      "cache_write_tokens", "reasoning_tokens", "level", "status_message")
_NUMERIC = {"prompt_version": "Int64", "input_tokens": "Int64", "output_tokens": "Int64",
            "total_tokens": "Int64", "cost_usd": "float64", "cache_read_tokens": "Int64",
            "cache_write_tokens": "Int64", "reasoning_tokens": "Int64"}
#: The parts of the input a prompt cache served or stored: counted in ``input_tokens``.
_CACHE_PARTS = ("cache_read_tokens", "cache_write_tokens")
#: The rule options that mark a count leaving a part out, per column: (option, the parts).
_EXCLUDABLE = {"input_tokens": ("cache", _CACHE_PARTS),
               "output_tokens": ("reasoning", ("reasoning_tokens",))}
_TEXT = pd.StringDtype()


@dataclass(frozen=True)
class Rule:
    """One place a canonical value may come from (see ``conventions.yaml``).

    ``json_key`` (written ``key#field``) reads one field of a JSON object held by the attribute,
    as the Langfuse SDKs send usage and cost details: ``a.b`` reads field ``b`` of the object in
    field ``a`` (when no field is named ``a.b``), and ``a+b`` the sum of the fields present
    (the parts a count leaves out, added to it). ``parts_excluded`` marks a count that
    leaves out parts of itself, as Langfuse's usage details do, so that they are added back to
    it: the cached input on ``input_tokens`` rules (written ``cache: excluded``), the reasoning
    tokens on ``output_tokens`` rules (``reasoning: excluded``).
    """

    kind: str
    key: str
    pattern: re.Pattern[str] | None = None
    json_key: str | None = None
    parts_excluded: bool = False
    generic_allowed: bool = False  # agent rules: a generic name is taken too (`generic: allowed`)

    @property
    def column(self) -> str:
        """The raw column this rule reads."""
        if self.kind in _PREFIXES:
            return _PREFIXES[self.kind] + self.key
        return "name" if self.kind in _NAME_KINDS else self.key

    def values(self, raw: pd.DataFrame, rows: np.ndarray | None = None) -> pd.Series | None:
        """This rule's value per row (object dtype, nulls where absent), or None when the raw
        frame has no such column. Only at the positions ``rows`` when given: a row's value
        depends on that row alone."""
        if self.kind in ("observation_type", "root_observation") \
                or self.column not in raw.columns:
            return None
        values = raw[self.column]
        if rows is not None:
            values = values.iloc[rows]
        if self.kind == "span_name":
            assert self.pattern is not None
            values = _extract(values, self.pattern)
        elif self.json_key is not None:
            values = values.map(lambda v: _json_field(v, self.json_key), na_action="ignore")
        if isinstance(values.dtype, pd.StringDtype):  # blanks dropped in Arrow
            text = _arrow_text(values)
            kept = pc.if_else(_filled(text), text, pa.scalar(None, text.type))
            return pd.Series(pd.arrays.ArrowStringArray(kept), index=values.index,
                             name=values.name, dtype=_TEXT)
        return values.astype(object).where(_present(values))

    def numbers(self, raw: pd.DataFrame) -> np.ndarray | None:
        """This rule's values as float64 (NaN where absent) when its raw column already
        holds numbers; None when it does not (the general path then reads them)."""
        if self.kind in _NAME_KINDS or self.json_key is not None:
            return None
        if self.column not in raw.columns or not _is_number(raw[self.column].dtype):
            return None
        return raw[self.column].to_numpy(dtype="float64", na_value=np.nan)


class _TypeSource(NamedTuple):
    """One place an observation's type comes from (see ``Conventions._types``)."""

    types: pd.Series | None  # upper-case types, NA where it says nothing (None: nothing at all)
    strong: bool  # said of the record; weak: guessed from its other fields
    span_stated: bool = False  # its SPAN is a choice, not the default of a writer told nothing


@dataclass(frozen=True)
class ScoreSignal:
    """Score names that feed one signal, which way is bad, and categorical values on 0..1."""

    name: str
    names: frozenset[str]
    bad: str  # "high" | "low"
    categories: Mapping[str, float]
    scales: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # name key -> lo, hi


@dataclass(frozen=True)
class Conventions:
    """Loaded mapping rules; build with :func:`load`."""

    rules: Mapping[str, tuple[Rule, ...]]
    type_attributes: Mapping[str, Mapping[str, str]]
    present_means_tool: tuple[str, ...]
    tool_span_names: tuple[re.Pattern[str], ...]
    agent_name_prefixes: tuple[str, ...]
    generic_agent_names: re.Pattern[str] | None
    errors: Mapping[str, re.Pattern[str]]
    scores: Mapping[str, ScoreSignal]
    source: str = "defaults"
    fingerprint: str = ""
    """A hash of the rules: caches of mapped frames are keyed by it."""
    agent_name_suffixes: tuple[str, ...] = ()
    type_metadata: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """As ``type_attributes``, for metadata keys (what platforms writing through Langfuse's
    ingestion API, such as Dify, say of a span)."""
    score_lag: pd.Timedelta = pd.Timedelta(hours=48)
    """A score counts toward its trace when recorded within this long of the trace's start."""
    not_traffic: re.Pattern[str] | None = None
    """Environments whose traces are not the application's traffic (whole-name match)."""
    failed_when: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Attribute -> the lower-case values that mark an observation failed whatever its status."""

    # -- what sources must extract ---------------------------------------------------------
    def wanted(self) -> dict[str, set[str]]:
        """The attribute, resource and metadata keys a source should put in its raw frame."""
        out: dict[str, set[str]] = {"attribute": set(), "resource": set(), "metadata": set()}
        for rules in self.rules.values():
            for r in rules:
                if r.kind in out:
                    out[r.kind].add(r.key)
        out["attribute"].update(self.type_attributes)
        out["metadata"].update(self.type_metadata)
        out["attribute"].update(self.present_means_tool)
        out["attribute"].add("error.type")
        out["attribute"].update(self.failed_when)
        return out

    def wanted_columns(self) -> list[str]:
        """:meth:`wanted` as raw column names (``attr:...``, ``res:...``, ``meta:...``)."""
        w = self.wanted()
        return sorted(_PREFIXES[k] + key for k, keys in w.items() for key in keys)

    # -- the mapping -----------------------------------------------------------------------
    def observations(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Canonical ``observations`` from a raw frame (see the module docstring)."""
        raw = _complete(raw)
        if raw.empty:
            return schema.empty("observations")
        n = len(raw)
        out: dict[str, Any] = {}
        out["trace_id"] = raw["trace_id"].str.lower()
        out["observation_id"] = raw["observation_id"]
        out["parent_observation_id"] = _where(raw["parent_observation_id"],
                                              raw["parent_observation_id"].fillna("") != "")
        start = raw["start_time"]
        end = raw["end_time"].where(raw["end_time"].notna() & (raw["end_time"] >= start), start)
        out["start_time"], out["end_time"] = start, end
        out["duration_s"] = (end - start).dt.total_seconds()
        out["name"] = self._first(raw, "name").fillna("")
        model = self._first(raw, "model")
        types = self._types(raw, model.notna())
        out["type"] = types.str.lower()
        level = self._first(raw, "level").str.upper()
        errored = raw["status_code"].fillna("").str.upper().isin(["ERROR", "STATUS_CODE_ERROR"])
        level = _where(level, level.notna(), pd.Series(
            pd.arrays.ArrowStringArray(pc.if_else(pa.array(errored.to_numpy(dtype=bool)),
                                                  pa.scalar("ERROR", pa.large_string()),
                                                  pa.scalar("DEFAULT", pa.large_string()))),
            index=raw.index, dtype=_TEXT))
        level, said_failed = self._failed_by_attribute(raw, level)
        out["level"] = level
        message = self._first(raw, "status_message")
        if said_failed is not None:
            message = _where(message, message.notna(), said_failed)
        exc = _join_text(raw["exception_type"], raw["exception_message"], sep=": ")
        out["status_message"] = _where(message, message.notna(), exc)
        out["error_type"] = self._error_types(raw, level, out["status_message"])
        trace = self._trace_level(raw, types, out["trace_id"])
        for col in _TRACE_LEVEL:
            out[col] = trace[col]
        out["agent"] = out["agent"].fillna("unknown")
        out["environment"] = out["environment"].fillna("default")
        is_tool = (types == "TOOL").to_numpy()
        tool = self._first(raw, "tool_name", rows=is_tool)
        out["tool_name"] = _where(tool, is_tool)
        out["model"] = model
        out["prompt_name"] = self._first(raw, "prompt_name")
        for col in ("prompt_version", "total_tokens", "cost_usd", *_CACHE_PARTS,
                    "reasoning_tokens"):
            out[col] = _numeric(self._first(raw, col), _NUMERIC[col])
        for col, (_, parts) in _EXCLUDABLE.items():
            out[col] = self._with_parts(raw, col, [out[p] for p in parts])
        total = out["total_tokens"]
        both = out["input_tokens"].fillna(0) + out["output_tokens"].fillna(0)
        has_any = out["input_tokens"].notna() | out["output_tokens"].notna()
        out["total_tokens"] = total.where(total.notna(), both.where(has_any))
        df = pd.DataFrame(out, index=raw.index, copy=False)  # columns not stacked in blocks
        assert len(df) == n
        return schema.conform(df.reset_index(drop=True), "observations")

    def _with_parts(self, raw: pd.DataFrame, column: str, parts: Sequence[pd.Series]
                    ) -> pd.Series:
        """Every token ``column`` counts: the first rule's count, with ``parts`` added where
        that rule's count leaves them out (``cache: excluded`` on input_tokens rules: the cached
        input; ``reasoning: excluded`` on output_tokens rules: the reasoning tokens)."""
        rules = self.rules.get(column, ())
        if not any(r.parts_excluded for r in rules):
            return _numeric(self._first(raw, column), "Int64")
        counts, by = self._first_number(raw, column)
        excluded = np.array([r.parts_excluded for r in rules] + [False])[by]  # -1: no rule
        added = sum(p.to_numpy(dtype="float64", na_value=0.0) for p in parts)
        counts = np.where(excluded, counts + added, counts)
        return _numeric(pd.Series(counts, index=raw.index), "Int64")

    def _first(self, raw: pd.DataFrame, column: str, rows: np.ndarray | None = None
               ) -> pd.Series:
        """The first non-empty value of ``column``'s rules, per row; for a numeric column the
        first number (text that is no number gives way to the next rule)."""
        if column in _NUMERIC:
            return pd.Series(self._first_number(raw, column, rows)[0], index=raw.index)
        # Each rule is read only where no earlier rule gave a value; the values found are
        # gathered in Arrow and put in place by one take.
        n = len(raw)
        pending = None if rows is None else np.flatnonzero(rows)  # None: every row
        pieces: list[pa.Array] = []
        index = np.full(n, -1, dtype="int64")  # row -> position among the pieces' values
        size = 0
        for rule in self.rules.get(column, ()):
            if pending is not None and not len(pending):
                break
            values = rule.values(raw, pending)
            if values is None:
                continue
            if pending is not None and rule.kind != "span_name" \
                    and not isinstance(values.dtype, pd.StringDtype):
                # text made of other values is decided on the whole column (as it was read)
                whole = rule.values(raw)
                whole = whole if rows is None else _where(whole, rows)
                text = _arrow_array(pa.array(_to_text(whole).array)).take(pending)
            else:
                text = _arrow_array(pa.array(_to_text(values).array))
            valid = text.is_valid().to_numpy(zero_copy_only=False)
            at = np.flatnonzero(valid) if pending is None else pending[valid]
            index[at] = size + np.flatnonzero(valid)
            pieces.append(text)
            size += len(text)
            pending = np.flatnonzero(~valid) if pending is None else pending[~valid]
        if not pieces:
            return pd.Series(pd.NA, index=raw.index, dtype=_TEXT)
        if len(pieces) == 1 and len(pieces[0]) == n:
            merged = pieces[0]
        else:
            merged = pa.concat_arrays([p.cast(pa.large_string()) for p in pieces]).take(
                pa.array(index, mask=index < 0))
        return pd.Series(pd.arrays.ArrowStringArray(merged), index=raw.index, dtype=_TEXT)

    def _first_number(self, raw: pd.DataFrame, column: str, rows: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """The first number of ``column``'s rules per row (NaN where none), and the position
        of the rule it came from (-1 where none), in numpy. A rule reading text, JSON or a span
        name has its values parsed as numbers."""
        result = np.full(len(raw), np.nan)
        by = np.full(len(raw), -1)
        for i, rule in enumerate(self.rules.get(column, ())):
            values = rule.numbers(raw)
            if values is None:
                if rule.kind == "observation_type" or rule.column not in raw.columns:
                    continue
                read = rule.values(raw)
                if read is None:
                    continue
                values = _numeric(read, "float64").to_numpy(dtype="float64", na_value=np.nan)
            if rows is not None:
                values = np.where(rows, values, np.nan)
            new = np.isnan(result) & ~np.isnan(values)
            result[new] = values[new]
            by[new] = i
        return result, by

    def _types(self, raw: pd.DataFrame, has_model: pd.Series) -> pd.Series:
        """Each row's observation type (upper case): the first strong source below that gives
        one, else the first weak one, else SPAN.

        A strong source says what the record is; a weak one guesses it from its other fields.
        SPAN is what SDKs and Langfuse write of anything they know no more of, so a SPAN never
        hides a type a strong source gives; only where it was set on purpose
        (``span_stated``) does it stand against the guesses: a Dify node an SDK calls a "span"
        is typed by its node_type, but a "span" that names a model stays a span."""
        index = raw.index
        sources = [
            # the type an SDK set on the span (langfuse.observation.type)
            _TypeSource(_known_types(raw.get("attr:langfuse.observation.type")), strong=True,
                        span_stated=True),
            # the type Langfuse stored: SPAN for anything untyped
            _TypeSource(_known_types(raw["native_type"]), strong=True),
            # what the type attributes, then the type metadata keys, map to
            *(_TypeSource(mapped, strong=True) for mapped in self._mapped_types(raw)),
            _TypeSource(_typed(self._tool_like(raw), "TOOL", index), strong=False),
            _TypeSource(_typed(has_model.to_numpy(dtype=bool), "GENERATION", index),
                        strong=False),
        ]
        said, guessed = [], []  # the strong sources' types but SPAN; the weak sources'
        stated = np.zeros(len(raw), dtype=bool)  # a strong source stated SPAN
        for source in sources:
            if source.types is None:
                continue
            types = _arrow_text(source.types)
            if not source.strong:
                guessed.append(types)
                continue
            is_span = pc.fill_null(pc.equal(types, "SPAN"), False)
            said.append(pc.if_else(is_span, pa.scalar(None, types.type), types))
            if source.span_stated:
                stated |= is_span.to_numpy(zero_copy_only=False)
        # the first of: a strong source's type, a stated SPAN, a weak source's type, SPAN
        text = pa.large_string()
        span = pc.if_else(pa.array(stated), pa.scalar("SPAN", text), pa.scalar(None, text))
        out = pc.coalesce(*(a.cast(text) for a in (*said, span, *guessed)),
                          pa.scalar("SPAN", text))
        return pd.Series(pd.arrays.ArrowStringArray(out), index=index, dtype=_TEXT)

    def _mapped_types(self, raw: pd.DataFrame) -> Iterator[pd.Series]:
        """The type each type attribute, then each type metadata key, maps its value to."""
        typed = [("attr:" + k, m) for k, m in self.type_attributes.items()] + \
            [("meta:" + k, m) for k, m in self.type_metadata.items()]
        for col, mapping in typed:
            if col not in raw.columns:
                continue
            lookup = {str(k).lower(): v for k, v in mapping.items()}
            yield _per_value(raw[col].astype(_TEXT).str.lower(),
                             lambda v, lookup=lookup: v.map(lookup), _TEXT)

    def _tool_like(self, raw: pd.DataFrame) -> np.ndarray:
        """Rows that look like a tool call: a ``present_means_tool`` attribute set, or a span
        name like a tool call's."""
        tool_like = np.zeros(len(raw), dtype=bool)
        for key in self.present_means_tool:
            if "attr:" + key in raw.columns:
                tool_like |= _present(raw["attr:" + key]).to_numpy(dtype=bool)
        names = raw["name"].fillna("")
        for pattern in self.tool_span_names:
            tool_like |= _per_value(names, lambda v, p=pattern: v.str.contains(p, regex=True)
                                    ).to_numpy(dtype=bool)
        return tool_like

    def _failed_by_attribute(self, raw: pd.DataFrame, level: pd.Series
                             ) -> tuple[pd.Series, pd.Series | None]:
        """``level`` with ERROR where a ``failed_when`` attribute says the observation failed,
        and what said so ("gen_ai.tool.status=error") for a status message (None: no row)."""
        said = None
        for key, values in self.failed_when.items():
            column = raw.get("attr:" + key)
            if column is None:
                continue
            text = _to_text(column.where(_present(column)))
            hit = text.str.lower().isin(values).fillna(False).to_numpy(dtype=bool)
            if not hit.any():
                continue
            what = pd.Series(pd.NA, index=raw.index, dtype=_TEXT)
            what = _where(what, ~hit, key + "=" + text.fillna(""))
            said = what if said is None else _where(said, said.notna(), what)
        if said is None:
            return level, None
        return _where(level, said.isna(), "ERROR"), said

    def _error_types(self, raw: pd.DataFrame, level: pd.Series, message: pd.Series
                     ) -> pd.Series:
        """The error class of every failing row (level ERROR), NA elsewhere: classified on
        the failing rows alone, a few in a pull."""
        at = np.flatnonzero(level.eq("ERROR").fillna(False).to_numpy())
        if not len(at):
            return pd.Series(pd.NA, index=raw.index, dtype=_TEXT)
        parts = [c for c in ("exception_type", "exception_message", "attr:error.type")
                 if c in raw.columns]
        failing = raw[parts].iloc[at]
        classes = _arrow_array(_arrow_text(self._failing_error_types(failing, message.iloc[at])))
        index = np.full(len(raw), -1, dtype="int64")
        index[at] = np.arange(len(at))
        return pd.Series(pd.arrays.ArrowStringArray(classes.take(pa.array(index,
                                                                          mask=index < 0))),
                         index=raw.index, dtype=_TEXT)

    def _failing_error_types(self, failing: pd.DataFrame, message: pd.Series) -> pd.Series:
        fallback = failing["attr:error.type"] if "attr:error.type" in failing.columns else None
        text = _join_text(message, failing["exception_type"], failing["exception_message"],
                          fallback, sep=" | ").fillna("")
        out = pd.Series(pd.NA, index=failing.index, dtype=object)
        for cls, pattern in self.errors.items():
            hit = _per_value(text, lambda v, p=pattern: v.str.contains(p, regex=True)
                             ).to_numpy(dtype=bool)
            out = out.where(out.notna() | ~hit, cls)
        # The exception class the status message names comes before the `exception` event's:
        # Langfuse keeps the message but drops the events, and one span must get the same
        # error type whichever way it was read.
        named = _per_value(message, _named_exception)
        named = named.where(named.notna(), failing["exception_type"])
        if fallback is not None:
            named = fallback.where(_present(fallback), named)
        out = out.where(out.notna(), named.astype(object).where(_present(named)))
        out = out.where(out.notna(), "error")
        return out.astype(_TEXT)

    def _trace_level(self, raw: pd.DataFrame, types: pd.Series, trace_ids: pd.Series
                     ) -> dict[str, pd.Series]:
        """Per row, the trace's value of every trace-level column.

        A rule is read only on the rows of traces no earlier rule gave a value (after the
        first rule or two, few), and the values are gathered per trace, then spread to its
        rows in Arrow."""
        is_root = (raw["is_root"].astype(object).eq(True).to_numpy()
                   | raw["parent_observation_id"].isna().to_numpy())
        codes, _ = pd.factorize(trace_ids)
        n, n_traces = len(raw), (int(codes.max()) + 1 if len(codes) else 0)
        # the root first, then the others by start: "first value wins" within a trace
        start = raw["start_time"].to_numpy(dtype="datetime64[us]").astype("int64")
        order = np.lexsort((start, ~is_root, codes))
        spread = pa.array(np.where(codes < 0, codes + n_traces, codes))
        names = raw["name"]
        named: np.ndarray | None = None
        out = {}
        for col in _TRACE_LEVEL:
            chosen = np.full(n_traces, -1, dtype="int64")  # row holding each trace's value
            value_of = np.full(n_traces, None, dtype=object)
            rows: np.ndarray | None = None  # rows of traces still without a value (None: all)
            for rule in self.rules.get(col, ()):
                if rows is not None and not len(rows):
                    break
                if rule.kind in ("observation_type", "root_observation"):
                    if named is None:
                        named = _present(names).to_numpy(dtype=bool)
                    typed = is_root if rule.kind == "root_observation" else None
                    if rule.key != "*":
                        kind = (types == rule.key.upper()).to_numpy()
                        typed = kind if typed is None else typed & kind
                    keep = named if typed is None else typed & named
                    values = _where(names if rows is None else names.iloc[rows],
                                    keep if rows is None else keep[rows])
                else:
                    values = rule.values(raw, rows)
                    if values is None:
                        continue
                if col == "agent":
                    values = self._named_agents(values, generic=rule.generic_allowed)
                have = values.notna().to_numpy(dtype=bool)
                at = np.flatnonzero(have) if rows is None else rows[have]
                if not len(at):
                    continue
                mask = np.zeros(n, dtype=bool)
                mask[at] = True
                ordered = order[mask[order]]
                trace_codes, first = np.unique(codes[ordered], return_index=True)
                picked = ordered[first]
                chosen[trace_codes] = picked
                pos = picked if rows is None else np.searchsorted(rows, picked)
                value_of[trace_codes] = values.iloc[pos].to_numpy(dtype=object)
                rows = np.flatnonzero((chosen < 0)[codes])
            text = pa.array(_to_text(pd.Series(value_of, dtype=object)).array)
            out[col] = pd.Series(pd.arrays.ArrowStringArray(text.take(spread)),
                                 index=raw.index, dtype=_TEXT)
        return out

    def _named_agents(self, values: pd.Series, generic: bool = False) -> pd.Series:
        """``values`` as agent names: operation prefixes and method suffixes stripped
        ("invoke_agent x", "vendor_research.kickoff"), and the names frameworks
        give every trace ("Agent workflow", "LangGraph", "POST /chat") set to null, so that the
        next rule is tried rather than every trace landing in one "agent" (unless ``generic``:
        the last resort, a framework's name for the trace rather than none)."""
        have = values.notna().to_numpy(dtype=bool)
        if not have.any():
            return values
        # a handful of distinct names among many rows: each is judged once
        present = values[have]
        codes, distinct = pd.factorize(present if present.dtype == _TEXT
                                       else present.astype(object))
        names = _strip_prefixes(pd.Series(distinct, dtype=object).astype(str),
                                self.agent_name_prefixes)
        for suffix in self.agent_name_suffixes:
            names = names.str.replace(f"{re.escape(suffix)}$", "", regex=True)
        if self.generic_agent_names is not None and not generic:
            names = names.where(~names.str.fullmatch(self.generic_agent_names))
        named = names.astype(object).where(names.notna() & names.ne(""), None).to_numpy()
        at = np.full(len(values), -1, dtype="int64")
        at[have] = codes
        text = pa.array(named, type=pa.large_string()).take(pa.array(at, mask=at < 0))
        return pd.Series(pd.arrays.ArrowStringArray(text), index=values.index, dtype=_TEXT)

    # -- scores ----------------------------------------------------------------------------
    def score_signal(self, name: str) -> str | None:
        """The signal a score name feeds (``hallucination``, ``groundedness``, ...), if any."""
        for key in _score_keys(name):
            for sig in self.scores.values():
                if key in sig.names:
                    return sig.name
        return None

    def score_values(self, scores: pd.DataFrame) -> pd.DataFrame:
        """Scores that feed a signal: ``trace_id``, ``observation_id``, ``timestamp``,
        ``signal`` and ``value`` on the signal's 0..1 scale (categorical values mapped through
        the signal's ``categories``; unmapped categories dropped). Unused names are in
        ``attrs["unmapped_names"]``; categories no ``categories`` entry maps, with how many
        scores carried them, in ``attrs["unmapped_categories"]`` (``{(name, value): n}``)."""
        names = scores["name"].astype(str)
        # the few distinct names judged once; each row's signal and name taken by its name's
        # code (no Python string per row: they would be made and hashed again and again)
        code, by_code = pd.factorize(names, use_na_sentinel=False)
        signal_of = {n: self.score_signal(n) for n in by_code.tolist()}
        signals = pd.array([signal_of[n] for n in by_code.tolist()], dtype=names.dtype)
        keep = ~signals.isna()[code] if len(by_code) else np.zeros(len(names), dtype=bool)
        part = scores.loc[keep, ["trace_id", "observation_id", "timestamp", "value",
                                 "string_value", "data_type"]].copy()
        kept_code = code[keep]
        part["signal"] = signals.take(kept_code) if len(kept_code) else np.empty(0, dtype=object)
        kept_names = names.array[keep]
        value = part["value"].astype("float64")
        text = part["string_value"].astype(object)
        missing = value.isna() & text.notna()
        lost: dict[tuple[str, str], int] = {}
        if missing.any():
            pairs = pd.DataFrame({"signal": part.loc[missing, "signal"],
                                  "text": text[missing].astype(str),
                                  "name": kept_names[missing.to_numpy()]})
            distinct = pairs.drop_duplicates(["signal", "text"])
            level = {(sg, t): self.scores[sg].categories.get(_score_key(t))
                     for sg, t in zip(distinct["signal"], distinct["text"])}
            mapped = [level[k] for k in zip(pairs["signal"], pairs["text"])]
            value = value.copy()
            value[missing] = pd.array(mapped, dtype="Float64").to_numpy(
                dtype="float64", na_value=np.nan)
            unmapped = pairs[[m is None for m in mapped]]
            lost = {k: int(n) for k, n in unmapped.groupby(["name", "text"]).size().items()}
        numeric = ~missing.to_numpy() & value.notna().to_numpy()
        rescaled: dict[str, tuple[float, float]] = {}
        unscaled: dict[str, tuple[float, float]] = {}
        configured: dict[str, tuple[float, float]] = {}
        if numeric.any():
            nums = pd.DataFrame({"name": kept_names[numeric],
                                 "v": value.to_numpy()[numeric]})
            seen = nums.groupby("name")["v"].agg(["min", "max", _integral])
            declared = _declared_scales(scores.loc[keep], numeric, kept_names)
            value = value.copy()
            for name, lo, hi, integral in seen.itertuples():
                sig = self.scores[signal_of[name]]
                scale = sig.scales.get(_score_key(name))
                if scale is None and name in declared:
                    scale = configured[name] = declared[name]
                scale = scale or _infer_scale(lo, hi, integral)
                at = numeric & (kept_code == by_code.get_loc(name))
                if scale is None:
                    unscaled[name] = (float(lo), float(hi))
                    value[at] = np.nan
                elif scale != (0.0, 1.0):
                    if name not in configured:
                        rescaled[name] = scale
                    value[at] = (value[at] - scale[0]) / (scale[1] - scale[0])
        part["value"] = value
        part = part[part["value"].notna()].drop(columns=["string_value", "data_type"])
        out = part.reset_index(drop=True)
        out.attrs["unmapped_names"] = sorted(n for n, s in signal_of.items() if s is None)
        out.attrs["unmapped_categories"] = lost
        out.attrs["rescaled"] = rescaled
        out.attrs["unscaled"] = unscaled
        out.attrs["configured"] = configured
        return out


# -- coverage ------------------------------------------------------------------------------

@dataclass
class Coverage:
    """How much of a pull the conventions could map; ``notes`` say what to do about gaps."""

    traces: int
    unknown: dict[str, float] = field(default_factory=dict)  # column -> share of traces
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"traces": self.traces, "unknown": dict(self.unknown), "notes": list(self.notes)}


def coverage(observations: pd.DataFrame, scores: pd.DataFrame | None = None,
             conventions: Conventions | None = None) -> Coverage:
    """Share of traces whose agent, tool, model and prompt could not be mapped, with a note
    for every gap a reader should act on (never silent when a mapping is wrong).

    A trace's agent is that of its first observation naming one. The trace ids are numbered
    once and every count works on those numbers and on the few columns read, not on copies of
    the observations frame."""
    obs = observations
    trace, ids = pd.factorize(obs["trace_id"]) if len(obs) else (np.zeros(0, "int64"), [])
    n = len(ids)
    cov = Coverage(traces=n)
    if n == 0:
        return cov
    known = trace >= 0

    def traces_with(rows: np.ndarray) -> int:
        return int(np.count_nonzero(np.bincount(trace[rows & known], minlength=n)))

    agent = obs["agent"]
    named = np.flatnonzero(known & agent.notna().to_numpy())
    first = named[np.unique(trace[named], return_index=True)[1]]  # per trace, in trace order
    unknown_agents = int(agent.take(first).astype(str).eq("unknown").sum())
    types = obs["type"].astype(str)
    gen_rows = types.isin(["generation", "embedding"]).to_numpy()
    tool_rows = types.eq("tool").to_numpy()
    n_gens, n_tools = int(gen_rows.sum()), int(tool_rows.sum())
    traces_with_model = traces_with(gen_rows & obs["model"].notna().to_numpy())
    traces_with_prompt = traces_with(gen_rows & obs["prompt_name"].notna().to_numpy())
    traces_with_tool = traces_with(tool_rows & obs["tool_name"].notna().to_numpy())
    cov.unknown = {
        "agent": unknown_agents / n,
        "model": 1.0 - traces_with_model / n,
        "prompt": 1.0 - traces_with_prompt / n,
        "tool": 1.0 - traces_with_tool / n,
    }
    if cov.unknown["agent"] > 0:
        cov.notes.append(f"agent unknown on {cov.unknown['agent']:.0%} of traces: set `agent:` "
                         f"in the conventions file ({ENV_CONVENTIONS}) to the field that names "
                         "your agents")
    conv = conventions or load()
    if conv.generic_agent_names is not None:
        counts = agent.take(first).astype(str).value_counts()
        generic = counts[counts.index.str.fullmatch(conv.generic_agent_names)]
        if len(generic):
            names = ", ".join(generic.index[:3])
            cov.notes.append(f"agent named only by a framework's generic name ({names}) on "
                             f"{generic.sum() / n:.0%} of traces: set `agent:` in the "
                             f"conventions file ({ENV_CONVENTIONS}) to the field that names "
                             "your agents")
    if n_gens == 0:
        cov.notes.append("no generation (LLM call) found in any trace: cost and model "
                         "attribution are off; map your LLM spans with `types:` or `model:`")
    elif cov.unknown["model"] > 0.5:
        cov.notes.append(f"model unknown on {cov.unknown['model']:.0%} of traces: set `model:` "
                         "in the conventions file")
    if n_tools == 0:
        cov.notes.append("no tool call found in any trace: tool attribution is off; if your "
                         "agents call tools, map them with `types:` or `tool_name:`")
    if traces_with_prompt == 0 and n_gens:
        cov.notes.append("no prompt name or version on any generation: prompt attribution is "
                         "off (link prompts to generations, or set `prompt_name:` / "
                         "`prompt_version:`)")
    if "cost_usd" in obs:
        cov.notes += _uncounted_cost(obs, trace, known, types, n)
    if scores is not None and len(scores):
        names = sorted(str(x) for x in scores["name"].unique())
        used = [s for s in names if conv.score_signal(s) is not None]
        if not used:
            cov.notes.append(f"no score name maps to a signal (scores seen: "
                             f"{', '.join(names[:8])}): add them under `scores:` in the "
                             "conventions file")
    return cov


def _uncounted_cost(obs: pd.DataFrame, trace: np.ndarray, known: np.ndarray,
                    types: pd.Series, n: int) -> list[str]:
    """A note on cost the source put on observations that are not model calls, in traces that
    have model calls: cost counts the model calls only (:func:`workbench.schema.
    traces_from_observations`), so it reads below the source's own total by that much."""
    cost = obs["cost_usd"].to_numpy(dtype="float64", na_value=np.nan)
    billable = types.isin(schema.BILLABLE_TYPES).to_numpy()
    has_calls = np.bincount(trace[billable & known], minlength=n) > 0
    off = known & ~billable & (cost > 0) & has_calls[np.where(known, trace, 0)]
    if not off.any():
        return []
    k = int(off.sum())
    return [f"${np.nansum(cost[off]):,.2f} the source priced on {k:,} "
            f"observation{'' if k == 1 else 's'} other than model calls, in the traces read "
            "(the window and the days it is judged against), is not counted: agent and span "
            "observations on which some frameworks repeat their model calls' usage; cost counts "
            "the model calls, so it can read below the source's own total"]


def _integral(v: pd.Series) -> bool:
    return bool(np.all(np.mod(v.to_numpy(dtype="float64"), 1.0) == 0))


def _declared_scales(scores: pd.DataFrame, numeric: np.ndarray,
                     names: np.ndarray) -> dict[str, tuple[float, float]]:
    """Score name -> the scale its rows declare (``scale_min`` / ``scale_max``, from a Langfuse
    score config), where every numeric row of the name declares the same one."""
    if "scale_min" not in scores.columns or "scale_max" not in scores.columns:
        return {}
    lo = scores["scale_min"].to_numpy(dtype="float64", na_value=np.nan)[numeric]
    hi = scores["scale_max"].to_numpy(dtype="float64", na_value=np.nan)[numeric]
    if np.isnan(lo).all():  # no row declares one (no score configs): nothing to group
        return {}
    rows = pd.DataFrame({"name": names[numeric], "lo": lo, "hi": hi})
    ends = rows.groupby("name").agg(lo_min=("lo", "min"), lo_max=("lo", "max"),
                                    hi_min=("hi", "min"), hi_max=("hi", "max"),
                                    missing=("lo", lambda v: bool(v.isna().any())))
    return {str(name): (float(r.lo_min), float(r.hi_min))
            for name, r in ends.iterrows()
            if not r.missing and r.lo_min == r.lo_max and r.hi_min == r.hi_max
            and np.isfinite(r.hi_min) and r.hi_min > r.lo_min}


def _infer_scale(lo: float, hi: float, integral: bool) -> tuple[float, float] | None:
    """The scale a judge's numbers are on, from the values seen: 0..1 as the signals read
    them; whole numbers up to 5 or 10 a rating (from 1 when no 0 was seen); up to 100 a
    percentage. None when the values fit none of these."""
    if lo >= 0 and hi <= 1:
        return (0.0, 1.0)
    if integral and lo >= 0 and hi <= 10:
        return (1.0 if lo >= 1 else 0.0, 5.0 if hi <= 5 else 10.0)
    if lo >= 0 and hi <= 100:
        return (0.0, 100.0)
    return None


def scale_notes(rescaled: Mapping[str, tuple[float, float]],
                unscaled: Mapping[str, tuple[float, float]]) -> list[str]:
    """What a reader should know of scores not on the 0..1 scale the signals read."""
    notes = [f"score {name!r} read on a {lo:g}–{hi:g} scale (its values are not on 0..1); "
             f"if that is not its scale, set `scores: <signal>: scales: {{{name}: [lowest, "
             f"highest]}}` in the conventions file ({ENV_CONVENTIONS})"
             for name, (lo, hi) in sorted(rescaled.items())]
    notes += [f"score {name!r} left out: its values ({lo:g} to {hi:g}) fit no scale its signal "
              f"reads; set `scores: <signal>: scales: {{{name}: [lowest, highest]}}` in the "
              f"conventions file ({ENV_CONVENTIONS})"
              for name, (lo, hi) in sorted(unscaled.items())]
    return notes


def unmapped_categories_note(lost: Mapping[tuple[str, str], int]) -> str:
    """What a reader should know of categorical judge values no ``categories`` entry maps:
    those scores are left out of their signal, so the signal may read quieter than it is."""
    n = sum(lost.values())
    shown = ", ".join(f"{name} = {value!r} ({k})" for (name, value), k in
                      sorted(lost.items(), key=lambda kv: -kv[1])[:6])
    return (f"{n} categorical score(s) left out: their values map to no level of their signal "
            f"({shown}); add them under `scores: <signal>: categories:` in the conventions "
            f"file ({ENV_CONVENTIONS})")


# -- loading ---------------------------------------------------------------------------------

def load(path: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> Conventions:
    """The default conventions, with ``path`` (or ``$WORKBENCH_CONVENTIONS``) layered on top.

    ``path`` may also be a mapping with the same structure as the YAML file.
    """
    if path is None:
        path = os.environ.get(ENV_CONVENTIONS) or None
    if isinstance(path, Mapping):
        return _build(_merge(_defaults(), path, "<mapping>"), "<mapping>")
    if path is None:
        return _default_conventions()
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return _read_file(str(p))  # read_yaml names what is wrong with the path
    return _load_file(str(p), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _load_file(path: str, mtime_ns: int, size: int) -> Conventions:
    """A user's conventions file, built once per version of it: every pull and every signal
    computation asks for the conventions, and an edited file (new mtime or size) is read again."""
    return _read_file(path)


def _read_file(path: str) -> Conventions:
    user = read_yaml(Path(path), f"conventions file {path}")
    if user is None:
        user = {}
    if not isinstance(user, Mapping):
        raise ConfigError(f"conventions file {path}: expected a mapping at the top level")
    return _build(_merge(_defaults(), user, path), path)


@functools.lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    return parse_yaml(_DEFAULTS.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _default_conventions() -> Conventions:
    return _build(_defaults(), "defaults")


_RULE_KEYS = set(_TRACE_LEVEL) | set(_OBSERVATION_LEVEL) | {"name"}
_KINDS = ("field", "attribute", "resource", "metadata", "observation_type", "root_observation",
          "span_name")


def _merge(base: Mapping[str, Any], user: Mapping[str, Any], where: str) -> dict[str, Any]:
    out = {k: v for k, v in base.items()}
    known = _RULE_KEYS | {"types", "agent_name_prefixes", "agent_name_suffixes",
                          "generic_agent_names", "errors", "scores", "score_lag",
                          "not_traffic", "failed_when"}
    for key, value in user.items():
        if key not in known:
            raise ConfigError(f"conventions file {where}: unknown key {key!r}; known keys: "
                              f"{sorted(known)}")
        if key in _RULE_KEYS:
            replace = False
            rules = value
            if isinstance(value, Mapping):
                replace = bool(value.get("replace", False))
                rules = value.get("rules", [])
            if not isinstance(rules, list):
                raise ConfigError(f"conventions file {where}: {key} must be a list of rules")
            out[key] = list(rules) + ([] if replace else list(base.get(key, [])))
        elif key == "scores":
            if not isinstance(value, Mapping):
                raise ConfigError(f"conventions file {where}: {key} must be a mapping")
            merged = dict(base.get(key, {}))
            for signal, mine in value.items():
                merged[signal] = _merge_score_signal(merged.get(signal), mine)
            out[key] = merged
        elif key == "not_traffic":
            out[key] = _merge_not_traffic(base.get(key), value, where)
        elif key in ("errors", "failed_when"):
            if not isinstance(value, Mapping):
                raise ConfigError(f"conventions file {where}: {key} must be a mapping")
            merged = dict(base.get(key, {}))
            merged.update(value)
            out[key] = merged
        else:
            out[key] = value
    return out


def _merge_not_traffic(base: Any, mine: Any, where: str) -> dict[str, Any]:
    """A user's ``not_traffic`` environments tried with the defaults (``replace: true`` drops
    the defaults: an empty list then keeps every environment)."""
    if not isinstance(mine, Mapping) or not isinstance(mine.get("environments", []), list):
        raise ConfigError(f"conventions file {where}: not_traffic must be a mapping with "
                          "`environments:`, a list of patterns")
    kept = [] if mine.get("replace") else list((base or {}).get("environments", []) or [])
    return {"environments": list(mine.get("environments", []) or []) + kept}


def _merge_score_signal(base: Any, mine: Any) -> Any:
    """A user's score signal on top of the default one: names added (tried first),
    categories and scales added or changed, `bad` changed; `replace: true` drops the
    default."""
    if not isinstance(base, Mapping) or not isinstance(mine, Mapping) or mine.get("replace"):
        return {k: v for k, v in mine.items() if k != "replace"} \
            if isinstance(mine, Mapping) else mine
    out = {**base, **mine}
    out["names"] = list(mine.get("names", []) or []) + list(base.get("names", []) or [])
    for part in ("categories", "scales"):
        out[part] = {**(base.get(part) or {}), **(mine.get(part) or {})}
    return out


def _build(spec: Mapping[str, Any], where: str) -> Conventions:
    rules: dict[str, tuple[Rule, ...]] = {}
    for key in _RULE_KEYS:
        parsed = []
        for i, entry in enumerate(spec.get(key, []) or []):
            excluded = generic = False
            if key == "agent" and isinstance(entry, Mapping) and "generic" in entry:
                if entry["generic"] not in ("allowed", "skipped"):
                    raise ConfigError(f"conventions {where}: {key}[{i}]: `generic` must be "
                                      f"`allowed` or `skipped`, got {entry['generic']!r}")
                generic = entry["generic"] == "allowed"
                entry = {k: v for k, v in entry.items() if k != "generic"}
            option = _EXCLUDABLE[key][0] if key in _EXCLUDABLE else None
            if isinstance(entry, Mapping) and option is not None and option in entry:
                marker = entry[option]
                if marker not in ("excluded", "included"):
                    raise ConfigError(f"conventions {where}: {key}[{i}]: `{option}` must be "
                                      f"`excluded` or `included`, got {marker!r}")
                excluded = marker == "excluded"
                entry = {k: v for k, v in entry.items() if k != option}
            if not isinstance(entry, Mapping) or len(entry) != 1:
                extra = f" (`{option}: excluded|included` may follow on {key} rules)" \
                    if option is not None else ""
                raise ConfigError(f"conventions {where}: {key}[{i}] must be one `kind: key` "
                                  f"pair{extra}, kinds: {list(_KINDS)}; got {entry!r}")
            (kind, value), = entry.items()
            if kind not in _KINDS:
                raise ConfigError(f"conventions {where}: {key}[{i}] has unknown kind {kind!r}; "
                                  f"kinds: {list(_KINDS)}")
            pattern, json_key = None, None
            if kind in _PREFIXES and "#" in str(value):
                value, json_key = str(value).split("#", 1)
            if kind == "span_name":
                pattern = _compile(str(value), f"{where}: {key}[{i}]")
            elif kind == "field" and value not in RAW_COLUMNS:
                raise ConfigError(f"conventions {where}: {key}[{i}] names unknown field "
                                  f"{value!r}; fields: {sorted(RAW_COLUMNS)}")
            parsed.append(Rule(kind, str(value), pattern, json_key, excluded, generic))
        rules[key] = tuple(parsed)
    types = spec.get("types", {}) or {}
    typed: dict[str, dict[str, dict[str, str]]] = {}
    for part in ("attributes", "metadata"):
        typed[part] = {str(k): {str(a): str(b).upper() for a, b in (v or {}).items()}
                       for k, v in (types.get(part, {}) or {}).items()}
        for key, mapping in typed[part].items():
            bad = sorted(set(mapping.values()) - set(TYPES))
            if bad:
                raise ConfigError(f"conventions {where}: types.{part}.{key} maps to unknown "
                                  f"type(s) {bad}; types: {list(TYPES)}")
    type_attributes = typed["attributes"]
    present = tuple(str(k) for k in types.get("present_means_tool", []) or [])
    tool_names = tuple(_compile(p, f"{where}: types.tool_span_names")
                       for p in types.get("tool_span_names", []) or [])
    generic = spec.get("generic_agent_names", []) or []
    if not isinstance(generic, list):
        raise ConfigError(f"conventions {where}: generic_agent_names must be a list of patterns")
    generic_names = _compile("|".join(f"(?:{p})" for p in generic),
                             f"{where}: generic_agent_names") if generic else None
    errors = {}
    for cls, patterns in (spec.get("errors", {}) or {}).items():
        if not isinstance(patterns, list) or not patterns:
            raise ConfigError(f"conventions {where}: errors.{cls} must be a list of patterns")
        errors[str(cls)] = _compile("|".join(f"(?:{p})" for p in patterns),
                                    f"{where}: errors.{cls}")
    scores = {}
    for name, s in (spec.get("scores", {}) or {}).items():
        if not isinstance(s, Mapping) or s.get("bad") not in ("high", "low"):
            raise ConfigError(f"conventions {where}: scores.{name} needs `names:` and "
                              "`bad: high|low`")
        scales = {}
        for score, scale in (s.get("scales") or {}).items():
            if not (isinstance(scale, (list, tuple)) and len(scale) == 2
                    and all(isinstance(x, (int, float)) for x in scale) and scale[0] < scale[1]):
                raise ConfigError(f"conventions {where}: scores.{name}.scales.{score} must be "
                                  f"[lowest, highest], got {scale!r}")
            scales[_score_key(score)] = (float(scale[0]), float(scale[1]))
        scores[str(name)] = ScoreSignal(
            name=str(name), names=frozenset(_score_key(x) for x in s.get("names", []) or []),
            bad=str(s["bad"]),
            categories={_score_key(k): float(v) for k, v in (s.get("categories") or {}).items()},
            scales=scales)
    try:
        lag = parse_duration(spec.get("score_lag", "48h"))
    except ConfigError:
        lag = pd.Timedelta(0)
    if lag <= pd.Timedelta(0):
        raise ConfigError(f"conventions {where}: score_lag must be a positive duration such as "
                          f"48h or 30h, got {spec.get('score_lag')!r}")
    failed_when = {}
    for key, values in (spec.get("failed_when", {}) or {}).items():
        if not isinstance(values, list) or not values \
                or not all(isinstance(v, (str, bool, int)) for v in values):
            raise ConfigError(f"conventions {where}: failed_when.{key} must be a list of the "
                              f"values that mean failed, got {values!r}")
        failed_when[str(key)] = frozenset(str(v).lower() for v in values)
    envs = (spec.get("not_traffic") or {}).get("environments") or []
    not_traffic = _compile("|".join(f"(?:{p})" for p in envs), f"{where}: not_traffic") \
        if envs else None
    # the mapped frames do not depend on which environments are set aside after mapping
    mapping = {k: v for k, v in spec.items() if k != "not_traffic"}
    digest = hashlib.sha256(json.dumps(mapping, sort_keys=True, default=str).encode()).hexdigest()
    return Conventions(rules=rules, type_attributes=type_attributes,
                       type_metadata=typed["metadata"], present_means_tool=present,
                       tool_span_names=tool_names,
                       agent_name_prefixes=tuple(spec.get("agent_name_prefixes", []) or []),
                       agent_name_suffixes=tuple(spec.get("agent_name_suffixes", []) or []),
                       generic_agent_names=generic_names,
                       errors=errors, scores=scores, source=where, fingerprint=digest[:16],
                       score_lag=lag, not_traffic=not_traffic, failed_when=failed_when)


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"conventions {where}: bad regular expression {pattern!r}: {exc}") \
            from exc


# -- raw frames ------------------------------------------------------------------------------

def raw_frame(columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """A raw frame from column lists: native fields get their kinds, ``attr:``/``res:``/
    ``meta:`` columns are kept as given (strings, numbers or lists)."""
    data: dict[str, Any] = {}
    n = None
    for name, values in columns.items():
        n = len(values) if n is None else n
        if len(values) != n:
            raise ValueError(f"raw column {name!r} has {len(values)} values, expected {n}")
        data[name] = values
    if n is not None and all(isinstance(v, (list, np.ndarray, pd.api.extensions.ExtensionArray))
                             or (isinstance(v, pd.Series) and v.index.equals(pd.RangeIndex(n)))
                             for v in data.values()):
        # one frame built, not one inferred and another completed from it
        index = pd.RangeIndex(n)
        return _completed({k: v if isinstance(v, pd.Series) else pd.Series(v, index=index)
                           for k, v in data.items()}, index)
    return _complete(pd.DataFrame(data))


def _complete(raw: pd.DataFrame) -> pd.DataFrame:
    """Every native raw column present with its kind; ``attr:`` etc. columns kept."""
    natives = list(raw.columns[:len(RAW_COLUMNS)])
    if natives == list(RAW_COLUMNS) and all(_has_kind(raw[c], k) for c, k in RAW_COLUMNS.items()):
        return raw  # a raw frame already completed (when built, and now to be mapped)
    return _completed(dict(raw.items()), raw.index)


def _completed(columns: Mapping[str, pd.Series], index: pd.Index) -> pd.DataFrame:
    """:func:`_complete` of a frame's columns: a column that already has its kind is kept as
    it is."""
    missing = [c for c in ("trace_id", "observation_id", "start_time") if c not in columns]
    if missing and len(columns):
        raise ConfigError(f"raw frame lacks required column(s) {missing}")
    out = {}
    n = len(index)
    for col, kind in RAW_COLUMNS.items():
        s = columns.get(col)
        if s is None and kind == _STR:  # what `_to_text` makes of nulls, without reading them
            out[col] = pd.Series(pd.arrays.ArrowStringArray(pa.nulls(n, pa.string())),
                                 index=index, dtype=_TEXT)
            continue
        if s is None:
            s = pd.Series([None] * n, index=index, dtype=object)
        elif _has_kind(s, kind):
            out[col] = s
            continue
        if kind == _TS:
            if not isinstance(s.dtype, pd.DatetimeTZDtype):
                s = pd.to_datetime(s, utc=True, format="ISO8601", errors="coerce")
            s = s.dt.tz_convert("UTC").astype(_TS_DTYPE)
        elif kind == _STR:
            s = _to_text(s)
        elif kind == _INT:
            s = _numeric(s, "Int64")
        elif kind == _FLOAT:
            s = _numeric(s, "float64")
        elif kind == _BOOL:
            s = s.astype(object)
        out[col] = s
    out.update((c, s) for c, s in columns.items() if c not in RAW_COLUMNS)
    return pd.DataFrame(out, index=index, copy=False)  # columns kept, not stacked in blocks


_TS_DTYPE = pd.DatetimeTZDtype(unit="us", tz="UTC")
#: Integers as large as this and smaller pass through float64 unchanged (as `_numeric` reads
#: them).
_EXACT_INT = 2 ** 53


def _has_kind(s: pd.Series, kind: str) -> bool:
    """Whether ``s`` is already what :func:`_complete` makes of a column of ``kind``."""
    if kind == _STR:
        return s.dtype == _TEXT
    if kind == _TS:
        return s.dtype == _TS_DTYPE
    if kind == _FLOAT:
        return s.dtype == np.float64
    if kind == _BOOL:
        return s.dtype == object
    if s.dtype != "Int64":
        return False
    values = s.to_numpy(dtype="int64", na_value=0)
    return bool(values.min(initial=0) >= -_EXACT_INT and values.max(initial=0) <= _EXACT_INT)


def as_text(raw: pd.DataFrame) -> pd.DataFrame:
    """``raw`` with every ``attr:``/``res:``/``meta:`` column as text, so raw frames of
    different pages concatenate and store (Parquet wants one type a column). Objects become
    JSON, lists are joined with ","; the rules read numbers and JSON back from text."""
    extra = [c for c in raw.columns if c.startswith(tuple(_PREFIXES.values()))]
    if not extra:
        return raw
    out = raw.copy()
    for c in extra:
        if isinstance(out[c].dtype, pd.StringDtype):
            out[c] = out[c].astype(_TEXT)
            continue
        if out[c].dtype == object:
            try:  # strings and nulls only (the usual case): converted in C++
                text = pa.array(out[c].to_numpy(dtype=object), type=pa.string(),
                                from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                pass
            else:
                out[c] = pd.Series(pd.arrays.ArrowStringArray(text), index=out.index,
                                   dtype=_TEXT)
                continue
        values = out[c].to_numpy(dtype=object)
        missing = pd.isna(out[c]).to_numpy()
        text = [None if m else (json.dumps(v, sort_keys=True, default=str)
                                if isinstance(v, Mapping) else _text_value(v))
                for v, m in zip(values.tolist(), missing.tolist())]
        out[c] = pd.array(text, dtype=_TEXT)
    return out


def _to_text(s: pd.Series) -> pd.Series:
    """Values as strings (lists joined with ","), every kind of missing value as NA."""
    if isinstance(s.dtype, pd.StringDtype):
        return s.astype(_TEXT)
    values = s.to_numpy(dtype=object)
    if s.dtype == object:
        try:  # strings and nulls only (the usual case): converted in C++
            text = pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
        else:
            return pd.Series(pd.arrays.ArrowStringArray(text), index=s.index, dtype=_TEXT)
    missing = s.isna().to_numpy()
    text = [None if m else _text_value(v) for v, m in zip(values.tolist(), missing.tolist())]
    return pd.Series(text, index=s.index, dtype=_TEXT)


def _text_value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _json_field(value: Any, key: str) -> Any:
    """``value[key]`` of a JSON object given as a mapping or a JSON string (None otherwise).

    ``key`` may be a path (``prompt_tokens_details.cached_tokens``: a field of a nested object,
    as OpenAI nests usage details) and a sum (``output+output_audio_tokens``: the numbers among
    the fields present, None when none is)."""
    if isinstance(value, str):
        value = _json_object(value)
    if not isinstance(value, Mapping):
        return None
    if "+" not in key:
        return _json_path(value, key)
    found = [v for v in (_json_path(value, k) for k in key.split("+"))
             if v is not None and not isinstance(v, bool)]
    numbers = [n for n in (_number(v) for v in found) if n is not None]
    if not numbers:
        return None
    total = sum(numbers)
    return int(total) if float(total).is_integer() else total


@functools.lru_cache(maxsize=4096)
def _json_object(text: str) -> Any:
    """A JSON string parsed once for every rule that reads a field of it (never modified)."""
    try:
        return json.loads(text)
    except ValueError:
        return None


def _json_path(value: Mapping[str, Any], key: str) -> Any:
    if key in value or "." not in key:
        return value.get(key)
    head, rest = key.split(".", 1)
    inner = value.get(head)
    return _json_path(inner, rest) if isinstance(inner, Mapping) else None


def _number(v: Any) -> float | None:
    if isinstance(v, (int, float)):
        return float(v) if v == v else None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _where(s: pd.Series, cond: Any, other: Any = None) -> pd.Series:
    """``s.where(cond, other)``; for text (``other`` a string, text series or missing), in
    Arrow: pandas masks Arrow strings value by value."""
    keep = np.asarray(cond, dtype=bool)
    if s.dtype != _TEXT or not (other is None or isinstance(other, str)
                                or (isinstance(other, pd.Series) and other.dtype == _TEXT)):
        return s.where(cond, other) if other is not None else s.where(cond)
    text = _arrow_text(s)
    if isinstance(other, pd.Series):
        alt = _arrow_text(other)
    else:
        alt = pa.scalar(other, text.type)
    return pd.Series(pd.arrays.ArrowStringArray(pc.if_else(keep, text, alt)), index=s.index,
                     name=s.name, dtype=_TEXT)


def _known_types(values: pd.Series | None) -> pd.Series | None:
    """``values`` upper-cased where they name a Langfuse observation type, NA elsewhere."""
    if values is None:
        return None
    upper = values.astype(_TEXT).str.upper()
    return _where(upper, upper.isin(TYPES))


def _typed(rows: np.ndarray, type_: str, index: pd.Index) -> pd.Series:
    """``type_`` at ``rows``, NA elsewhere."""
    return _where(pd.Series(type_, index=index, dtype=_TEXT), rows)


def _arrow_array(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One Arrow array (chunks combined)."""
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


def _arrow_text(s: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A text series' values in Arrow."""
    return pa.array(s.astype(_TEXT).array)


def _filled(text: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Non-null and not blank, as an Arrow boolean array without nulls. Blank: empty or
    whitespace alone (the characters ``utf8_trim_whitespace`` strips; no trimmed copy made)."""
    blank = pc.or_(pc.equal(pc.binary_length(text), 0), pc.utf8_is_space(text))
    return pc.fill_null(pc.invert(blank), False)


def _present(s: pd.Series) -> pd.Series:
    """Non-null and not an empty string."""
    if isinstance(s.dtype, pd.StringDtype):
        ok = _filled(_arrow_text(s))
        return pd.Series(ok.to_numpy(zero_copy_only=False), index=s.index)
    ok = s.notna()
    if s.dtype == object:  # only text can be blank: the other values are not turned to text
        at = np.flatnonzero(ok.to_numpy(dtype=bool))
        values = s.to_numpy(dtype=object)[at].tolist()
        if not any(issubclass(t, str) for t in set(map(type, values))):
            return ok  # lists, numbers, objects: none is blank
        blank = np.fromiter((isinstance(v, str) and not v.strip() for v in values),
                            dtype=bool, count=len(values))
        keep = ok.to_numpy(dtype=bool, copy=True)
        keep[at[blank]] = False
        ok = pd.Series(keep, index=s.index)
    return ok


def _per_value(values: pd.Series, fn: Any, dtype: Any = object) -> pd.Series:
    """``fn`` (Series -> Series of the same length) run on the distinct values only, spread
    back to every row; nulls stay null. Span names, error messages and attribute values
    repeat a lot, and the regular expressions run in Python."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) * 2 > len(values):
        return pd.Series(fn(values).to_numpy(dtype=object), index=values.index, dtype=dtype)
    done = fn(pd.Series(uniques, dtype=values.dtype)).to_numpy(dtype=object)
    out = np.append(done, None)[codes]  # code -1 (null) picks the None
    return pd.Series(out, index=values.index, dtype=dtype)


def _extract(values: pd.Series, pattern: re.Pattern[str]) -> pd.Series:
    def extract(text: pd.Series) -> pd.Series:
        text = text.astype(_TEXT)
        if "value" in pattern.groupindex:
            return text.str.extract(pattern, expand=True)["value"].astype(object)
        return text.str.extract(f"({pattern.pattern})", flags=re.IGNORECASE,
                                expand=True)[0].astype(object)
    return _per_value(values, extract)


def _is_number(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _numeric(s: pd.Series, dtype: str) -> pd.Series:
    if _is_number(s.dtype):  # already numbers: no parsing, value by value, of objects
        values = pd.Series(s.to_numpy(dtype="float64", na_value=np.nan), index=s.index,
                           name=s.name)
    else:
        values = pd.to_numeric(s.astype(object).where(s.notna(), None), errors="coerce")
    if dtype == "Int64":
        values = values.where(values.isna() | (values == np.floor(values)))
        return values.astype("Float64").astype("Int64")
    return values.astype("float64")


def _join_text(*parts: pd.Series | None, sep: str) -> pd.Series:
    """The parts that are present, joined with ``sep`` (NA where none is), in Arrow."""
    parts_ = [p for p in parts if p is not None]
    out = None
    for p in parts_:
        text = _arrow_text(p)
        text = pc.if_else(_filled(text), text, pa.scalar(None, text.type))
        out = text if out is None else pc.coalesce(
            pc.binary_join_element_wise(out, text, pa.scalar(sep, text.type)), out, text)
    return pd.Series(pd.arrays.ArrowStringArray(out), index=parts_[0].index, dtype=_TEXT)


_EXCEPTION_NAME = r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*(?:Error|Exception|Timeout|Failure|Fault)"
_FIRST_LINE_EXCEPTION = re.compile(rf"^({_EXCEPTION_NAME})(?::|$)")
_TRACEBACK_LINE_EXCEPTION = re.compile(rf"^({_EXCEPTION_NAME})(?::|$)", re.MULTILINE)
_TRACEBACK = "Traceback (most recent call last):"


def _named_exception(message: pd.Series) -> pd.Series:
    """The exception class a status message names: ``"ReadTimeout: timed out"`` (the OTel SDK's
    ``"{type}: {message}"``) or the last unindented exception line of a Python traceback
    (LangChain run errors)."""
    out = pd.Series(None, index=message.index, dtype=object)
    values = message.to_numpy(dtype=object, na_value=None)
    for i, text in enumerate(values.tolist()):
        if text is None:
            continue
        if not text:
            continue
        if text.startswith(_TRACEBACK):
            found = _TRACEBACK_LINE_EXCEPTION.findall(text)
            if found:
                out.iat[i] = found[-1]
        elif m := _FIRST_LINE_EXCEPTION.match(text):
            out.iat[i] = m.group(1)
    return out


def _strip_prefixes(values: pd.Series, prefixes: Iterable[str]) -> pd.Series:
    for p in prefixes:
        if isinstance(values.dtype, pd.StringDtype) and not pc.any(
                pc.starts_with(_arrow_text(values), pattern=p)).as_py():
            continue  # no value starts with it: nothing to replace
        values = values.str.replace(f"^{re.escape(p)}", "", regex=True)
    return values


def _score_key(name: Any) -> str:
    return re.sub(r"[\s\-./:]+", "_", str(name).strip().lower())


# What evaluation frameworks and teams put around a metric's name: the framework or judge
# ("ragas_faithfulness", "llm_judge_hallucination"), the kind of number or a version
# ("faithfulness_score", "hallucination_v2", "HallucinationEvaluator").
_SCORE_DECORATION = re.compile(
    r"^(?:(?:ragas|deepeval|phoenix|arize|trulens|langfuse|llm_as_a_judge|llm_as_judge|llm_judge"
    r"|judge|eval|evaluator|online|auto)_)+"
    r"|(?:_?(?:score|metric|evaluator|eval|judge|check)|_v\d+)+$")


def _score_keys(name: Any) -> list[str]:
    """A score name's key, then the key without decorations: exact names win."""
    key = _score_key(name)
    bare = _SCORE_DECORATION.sub("", key).strip("_")
    return [key, bare] if bare and bare != key else [key]
