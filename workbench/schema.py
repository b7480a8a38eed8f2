"""The canonical frames every source returns and every analysis reads.

Four frames, one schema whatever the source (Langfuse, Tempo, Prometheus, the local store):

- ``observations``: one row per span / Langfuse observation.
- ``traces``: one row per trace, rolled up from its observations (:func:`traces_from_observations`).
- ``scores``: one row per evaluation score (hallucination, groundedness, ...).
- ``metrics``: tidy Prometheus-style samples; label columns beyond the fixed ones are free.

Timestamps are tz-aware UTC, durations are seconds, cost is USD. ``validate`` names every wrong
column and why, so a source that drifts fails loudly at the edge instead of deep inside a detector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.errors import SchemaError

__all__ = [
    "FRAMES",
    "TIMEOUT_BUDGET_S",
    "TRACE_STATUSES",
    "columns",
    "conform",
    "empty",
    "traces_from_observations",
    "validate",
]

#: The latency budget of one agent request; a trace at or over it is a timeout.
TIMEOUT_BUDGET_S = 8.0

TRACE_STATUSES = ("ok", "error", "timeout")

# Logical kinds, mapped to concrete pandas dtypes by ``conform``.
_STR, _TS, _FLOAT, _INT = "string", "timestamp", "float", "int"

_DTYPES = {
    _STR: pd.StringDtype(),
    _TS: pd.DatetimeTZDtype(unit="us", tz="UTC"),
    _FLOAT: np.dtype("float64"),
    _INT: pd.Int64Dtype(),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    nullable: bool = True
    doc: str = ""
    required: bool = True  # False: a frame may leave it out (added as nulls by ``conform``)


_OBSERVATIONS = (
    Column("trace_id", _STR, False, "trace the observation belongs to (32 hex)"),
    Column("observation_id", _STR, False, "span / observation id (16 hex)"),
    Column("parent_observation_id", _STR, True, "parent span id; null for the root"),
    Column("start_time", _TS, False, "span start, UTC"),
    Column("end_time", _TS, False, "span end, UTC"),
    Column("duration_s", _FLOAT, False, "end_time - start_time in seconds"),
    Column("name", _STR, False, "span / observation name"),
    Column("type", _STR, False, "span | generation | event | agent | tool | chain | retriever | "
           "evaluator | embedding | guardrail (Langfuse observation types, lower-case)"),
    Column("level", _STR, False, "DEBUG | DEFAULT | WARNING | ERROR (Langfuse levels)"),
    Column("status_message", _STR, True, "error text when level is ERROR"),
    Column("error_type", _STR, True, "class of an ERROR: invalid_tool_call | timeout | "
           "rate_limit | malformed_output | the exception type | error"),
    Column("agent", _STR, False, "agent that served the trace; 'unknown' when unmapped"),
    Column("environment", _STR, False, "deployment environment, e.g. production"),
    Column("release", _STR, True, "application release / version"),
    Column("user_id", _STR, True, "end user or tenant"),
    Column("session_id", _STR, True, "conversation / session"),
    Column("model", _STR, True, "model name for generations (gen_ai.request.model)"),
    Column("prompt_name", _STR, True, "prompt template name"),
    Column("prompt_version", _INT, True, "prompt template version"),
    Column("tool_name", _STR, True, "tool called, for tool spans"),
    Column("input_tokens", _INT, True, "gen_ai.usage.input_tokens: every input token, those "
           "read from or written to a prompt cache included"),
    Column("output_tokens", _INT, True, "gen_ai.usage.output_tokens: every output token, "
           "reasoning (and audio) tokens included"),
    Column("total_tokens", _INT, True, "input + output tokens"),
    Column("cost_usd", _FLOAT, True, "cost of the observation in USD"),
    Column("tags", _STR, True, "the trace's tags, comma-separated"),
    Column("cache_read_tokens", _INT, True, "input tokens served from a prompt cache "
           "(gen_ai.usage.cache_read.input_tokens); part of input_tokens"),
    Column("cache_write_tokens", _INT, True, "input tokens written to a prompt cache "
           "(gen_ai.usage.cache_creation.input_tokens); part of input_tokens"),
    Column("reasoning_tokens", _INT, True, "output tokens the model spent reasoning "
           "(gen_ai.usage.reasoning.output_tokens); part of output_tokens"),
)

_TRACES = (
    Column("trace_id", _STR, False, "trace id (32 hex)"),
    Column("name", _STR, False, "name of the root observation"),
    Column("agent", _STR, False, "agent that served the request"),
    Column("environment", _STR, False, "deployment environment"),
    Column("release", _STR, True, "application release"),
    Column("user_id", _STR, True, "end user or tenant"),
    Column("session_id", _STR, True, "conversation / session"),
    Column("start_time", _TS, False, "root start, UTC"),
    Column("end_time", _TS, False, "latest end of any observation, UTC"),
    Column("duration_s", _FLOAT, False, "end_time - start_time in seconds"),
    Column("status", _STR, False, "ok | error | timeout"),
    Column("model", _STR, True, "model of the trace's first generation (attribution uses "
           "every generation's)"),
    Column("prompt_name", _STR, True, "prompt of the trace's first generation"),
    Column("prompt_version", _INT, True, "prompt version of the trace's first generation"),
    Column("input_tokens", _INT, False, "sum over observations"),
    Column("output_tokens", _INT, False, "sum over observations"),
    Column("total_tokens", _INT, False, "sum over observations"),
    Column("cost_usd", _FLOAT, False, "sum over observations, USD"),
    Column("n_observations", _INT, False, "observations in the trace"),
    Column("n_generations", _INT, False, "LLM calls (agent iterations)"),
    Column("n_tool_calls", _INT, False, "tool spans"),
    Column("n_errors", _INT, False, "observations at level ERROR"),
    Column("tags", _STR, True, "the trace's tags, comma-separated"),
)

_SCORES = (
    Column("score_id", _STR, False, "score id"),
    Column("trace_id", _STR, False, "trace scored"),
    Column("observation_id", _STR, True, "observation scored, if any"),
    Column("timestamp", _TS, False, "when the score was recorded, UTC"),
    Column("name", _STR, False, "hallucination | groundedness | tool_call_valid | refusal | ..."),
    Column("value", _FLOAT, True, "numeric value (booleans as 0/1)"),
    Column("string_value", _STR, True, "categorical value"),
    Column("data_type", _STR, False, "NUMERIC | BOOLEAN | CATEGORICAL"),
    Column("source", _STR, False, "EVAL | API | ANNOTATION"),
    Column("environment", _STR, True, "environment of the scored trace"),
    # added later: frames written before them stay valid
    Column("scale_min", _FLOAT, True, "lowest value the score's definition allows (a Langfuse "
                                      "score config's minValue), if it says", required=False),
    Column("scale_max", _FLOAT, True, "highest value the score's definition allows, if it says",
           required=False),
)

_METRICS = (
    Column("timestamp", _TS, False, "sample time, UTC"),
    Column("metric", _STR, False, "metric name (__name__) or query alias"),
    Column("value", _FLOAT, True, "sample value; NaN and Inf are kept as floats"),
)

_LINKS = (
    Column("trace_id", _STR, False, "trace of the linking span (32 hex)"),
    Column("observation_id", _STR, False, "the linking span (16 hex)"),
    Column("linked_trace_id", _STR, False, "trace of the span it links to, often another one "
           "(a batch job linking the requests it serves)"),
    Column("linked_observation_id", _STR, False, "the span it links to (16 hex)"),
)

FRAMES: Mapping[str, tuple[Column, ...]] = {
    "observations": _OBSERVATIONS,
    "traces": _TRACES,
    "scores": _SCORES,
    "metrics": _METRICS,
    "links": _LINKS,
}

# Frames whose extra columns are data (Prometheus labels), not drift.
_OPEN_FRAMES = {"metrics"}


def _spec(frame: str) -> tuple[Column, ...]:
    try:
        return FRAMES[frame]
    except KeyError:
        raise SchemaError(f"unknown frame {frame!r}; expected one of {sorted(FRAMES)}") from None


def columns(frame: str) -> list[str]:
    """Fixed column names of ``frame``, in canonical order."""
    return [c.name for c in _spec(frame)]


def empty(frame: str) -> pd.DataFrame:
    """A zero-row frame with the canonical columns and dtypes."""
    return pd.DataFrame({c.name: pd.Series(dtype=_DTYPES[c.kind]) for c in _spec(frame)})


def _kind_ok(kind: str, dtype: object) -> bool:
    if kind == _STR:
        return isinstance(dtype, pd.StringDtype)
    if kind == _TS:
        return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"
    if kind == _FLOAT:
        return dtype == np.dtype("float64")
    if kind == _INT:
        return isinstance(dtype, pd.Int64Dtype)
    raise AssertionError(kind)


_EXPECTED = {
    _STR: "a string dtype",
    _TS: "datetime64 with tz UTC",
    _FLOAT: "float64",
    _INT: "Int64 (nullable integer)",
}


def validate(df: pd.DataFrame, frame: str) -> pd.DataFrame:
    """Check ``df`` against the canonical ``frame`` schema and return it unchanged.

    Raises :class:`SchemaError` listing every missing column (but those a frame may leave out),
    every column of the wrong dtype and every non-nullable column holding nulls, so one run
    shows all that is wrong.
    """
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(f"{frame}: expected a pandas DataFrame, got {type(df).__name__}")
    problems = []
    for col in _spec(frame):
        if col.name not in df.columns:
            if col.required:
                problems.append(f"{col.name!r}: missing ({_EXPECTED[col.kind]} expected)")
            continue
        dtype = df[col.name].dtype
        if not _kind_ok(col.kind, dtype):
            problems.append(f"{col.name!r}: dtype {dtype} is not {_EXPECTED[col.kind]}")
        elif not col.nullable and df[col.name].isna().any():
            n = int(df[col.name].isna().sum())
            problems.append(f"{col.name!r}: {n} null value(s) in a non-nullable column")
    if frame not in _OPEN_FRAMES:
        extra = [c for c in df.columns if c not in set(columns(frame))]
        if extra:
            problems.append(f"unexpected column(s) {extra}")
    if problems:
        raise SchemaError(f"{frame} frame does not match the schema: " + "; ".join(problems),
                          frame=frame, problems=problems)
    return df


def conform(df: pd.DataFrame, frame: str) -> pd.DataFrame:
    """Coerce a source's frame to the canonical columns and dtypes, then validate it.

    Missing nullable columns are added as nulls; timestamps are parsed and converted to UTC.
    Label columns of the open ``metrics`` frame are kept as strings after the fixed ones.
    """
    spec = _spec(frame)
    out = {}
    n = len(df)
    for col in spec:
        target = _DTYPES[col.kind]
        if col.name not in df.columns:
            if not col.nullable:
                continue  # reported by validate
            out[col.name] = pd.Series([None] * n, index=df.index, dtype=target)
            continue
        s = df[col.name]
        try:
            if col.kind == _TS:
                s = pd.to_datetime(s, utc=True, format="ISO8601") if not isinstance(
                    s.dtype, pd.DatetimeTZDtype) else s.dt.tz_convert("UTC")
                s = s.astype(target)
            elif col.kind == _INT and not isinstance(s.dtype, pd.Int64Dtype):
                s = pd.to_numeric(s, errors="raise").astype(target)
            elif col.kind == _FLOAT and s.dtype != np.dtype("float64"):
                s = pd.to_numeric(s, errors="raise").astype(target)
            elif col.kind == _STR and not isinstance(s.dtype, pd.StringDtype):
                s = s.astype(target)
            elif col.kind == _STR and s.dtype != target:
                s = s.astype(target)
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"{frame}: column {col.name!r} cannot be read as "
                              f"{_EXPECTED[col.kind]}: {exc}", frame=frame,
                              problems=[f"{col.name!r}: {exc}"]) from exc
        out[col.name] = s
    # the columns as they are (copy on write keeps ``df`` and the result apart): a copy of
    # every column of a week costs milliseconds
    result = pd.DataFrame(out, index=df.index, copy=False)
    if frame in _OPEN_FRAMES:
        for label in df.columns:
            if label not in result.columns:
                result[label] = df[label].astype(_DTYPES[_STR])
    return validate(result.reset_index(drop=True), frame)


#: Observation types whose tokens and cost are the trace's: the model calls themselves. Agent
#: and chain spans may carry their children's usage rolled up, so summing them would count twice.
BILLABLE_TYPES = ("generation", "embedding")


def traces_from_observations(obs: pd.DataFrame) -> pd.DataFrame:
    """Roll canonical observations up to one row per trace.

    The root observation (no parent) gives the trace's name, agent and environment. ``status`` is
    ``timeout`` when any observation failed with a timeout (a tool that timed out is the classic
    cause), ``error`` when the root is at level ERROR, else ``ok``: a failed tool call the agent
    retried past is counted in ``n_errors`` but leaves the trace ok. Tokens and cost are summed
    over model calls (:data:`BILLABLE_TYPES`), or over every observation of a trace that has none
    typed as such. Every source rolls up through this one function, so KPIs agree across sources.
    """
    validate(obs, "observations")
    if obs.empty:
        return empty("traces")
    types = obs["type"].astype(str)
    billable = types.isin(BILLABLE_TYPES).to_numpy()
    timeout = (obs["level"].eq("ERROR") & obs["error_type"].eq("timeout")).fillna(False)
    flags = pd.DataFrame({
        "trace_id": obs["trace_id"],
        "n_generations": (types == "generation").astype("int64").to_numpy(),
        "n_tool_calls": (types == "tool").astype("int64").to_numpy(),
        "n_errors": obs["level"].eq("ERROR").fillna(False).astype("int64").to_numpy(),
        "n_timeouts": timeout.astype("int64").to_numpy(),
        "n_billable": billable.astype("int64"),
    })
    g = obs.groupby("trace_id", sort=False, observed=True)
    agg = pd.DataFrame({
        "start_time": g["start_time"].min(),
        "end_time": g["end_time"].max(),
        "n_observations": g.size(),
    })
    usage = ["input_tokens", "output_tokens", "total_tokens", "cost_usd"]
    all_sums = g[usage].sum(min_count=0)
    bill_sums = obs.loc[billable].groupby("trace_id", sort=False, observed=True)[usage].sum(
        min_count=0).reindex(all_sums.index)
    agg = agg.join(flags.groupby("trace_id", sort=False).sum())
    use_billable = (agg["n_billable"] > 0).to_numpy()
    for col in usage:
        agg[col] = np.where(use_billable, bill_sums[col].fillna(0).to_numpy(dtype="float64"),
                            all_sums[col].fillna(0).to_numpy(dtype="float64"))

    roots = obs[obs["parent_observation_id"].isna()].drop_duplicates("trace_id")
    roots = roots.set_index("trace_id")[
        ["name", "agent", "environment", "release", "user_id", "session_id", "level", "tags"]]
    gens = obs[(types == "generation").to_numpy()].sort_values("start_time")
    gens = gens.drop_duplicates("trace_id").set_index("trace_id")[
        ["model", "prompt_name", "prompt_version"]]

    out = agg.join(roots, how="left").join(gens, how="left")
    # A trace whose root was not pulled (e.g. a filtered drill-down) still rolls up: fall back to
    # the earliest observation for the descriptive columns.
    missing = out["name"].isna()
    if missing.any():
        first = obs.sort_values("start_time").drop_duplicates("trace_id").set_index("trace_id")
        for c in ["name", "agent", "environment", "release", "user_id", "session_id", "tags"]:
            out.loc[missing, c] = first.loc[out.index[missing], c]
        out.loc[missing, "level"] = "DEFAULT"
    is_err = out["level"].eq("ERROR").fillna(False).to_numpy()
    is_timeout = (out["n_timeouts"] > 0).to_numpy()
    out["status"] = np.where(is_timeout, "timeout", np.where(is_err, "error", "ok"))
    out["duration_s"] = (out["end_time"] - out["start_time"]).dt.total_seconds()
    out = out.reset_index()
    return conform(out[columns("traces")], "traces")
