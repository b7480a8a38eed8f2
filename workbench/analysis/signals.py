"""Per-trace signal columns, computed once: what every detector, KPI and notebook reads.

:func:`trace_signals` turns the canonical frames and the runbooks' settings into one row per
trace (a *unit*) with every quantity a runbook judges: whether it timed out (and why we say so),
came near its budget, failed, what it cost, how many tokens and model calls it took, whether it
ran away, its evaluation scores, and the dimensions attribution splits by. The daily report, the
runbook notebooks and their renderings all read these columns, so one window gives one number
everywhere.

Dimensions that a trace can hold several values of are tuples: ``model`` (every generation's
model), ``prompt_version`` (every generation's ``"<prompt name>|<version>"``, so a new prompt
version used in a trace's second generation counts), ``tool_name`` (the tools it called) and
``culprit_tool`` (the tools whose calls failed, and its slowest tool: the spans that made the
trace slow or broke it, which is what a timeout or a retry loop is about).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench import schema
from workbench.analysis.split import positions, text_array
from workbench.errors import SchemaError
from workbench.sources import conventions as conv

__all__ = ["SCORE_SIGNALS", "Budgets", "agent_budgets", "score_flags", "score_notes",
           "scores_pending_since", "trace_signals"]

#: Score signals and the per-trace column of their worst value.
SCORE_SIGNALS = ("hallucination", "groundedness", "refusal", "tool_call_valid")

_DEFAULT_BUDGET = {"seconds": schema.TIMEOUT_BUDGET_S, "warning_fraction": 0.75}
# an agent with more than this share of its baseline traces past the default budget runs slow
# by design: it is judged against its own baseline, not the shared budget
_SLOW_BY_DESIGN_SHARE = 0.2
# a baseline day whose p99 runs past this multiple of the median day's is an incident, left out
# of a derived budget
_OUTLYING_DAY = 1.5


@dataclass
class Budgets:
    """Latency budget per agent: the runbook's default, per-agent settings, and budgets derived
    for agents that routinely run past the default (said in ``notes``)."""

    default_s: float = schema.TIMEOUT_BUDGET_S
    warning_fraction: float = 0.75
    per_agent: dict[str, float] = field(default_factory=dict)
    derived: dict[str, float] = field(default_factory=dict)
    notes_by_agent: dict[str, str] = field(default_factory=dict)
    #: the share of each such agent's baseline traces that ran past the default
    over: dict[str, float] = field(default_factory=dict)

    @property
    def notes(self) -> list[str]:
        """What a reader is told about derived budgets: one agent's note, or one line for
        several (three agents' near-identical sentences read as three problems)."""
        if len(self.derived) < 2:
            return list(self.notes_by_agent.values())
        each = ", ".join(f"{a} {s:g} s ({self.over[a]:.0%} past)"
                         for a, s in sorted(self.derived.items()))
        return [f"{len(self.derived)} agents run past the {self.default_s:g} s budget in much of "
                f"their baseline traffic, so each is judged against its own p99 and its timeouts "
                f"are only those it reported: {each} (set budget.per_agent.<agent> in the "
                "timeout_surge runbook)"]

    def of(self, agent: str) -> float:
        return self.per_agent.get(agent, self.derived.get(agent, self.default_s))

    def for_agents(self, agents: pd.Series) -> np.ndarray:
        names = agents.astype(str)
        lookup = {a: self.of(a) for a in names.unique().tolist()}
        return names.map(lookup).to_numpy(dtype="float64")


def _budget_spec(runbooks: Mapping[str, Any] | None) -> Mapping[str, Any]:
    rb = (runbooks or {}).get("timeout_surge")
    spec = rb.spec.get("budget", {}) if rb is not None else {}
    return {**_DEFAULT_BUDGET, **spec}


def agent_budgets(traces: pd.DataFrame, runbooks: Mapping[str, Any] | None,
                  baseline: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> Budgets:
    """Budgets for the agents in ``traces``, derived from the ``baseline`` period.

    An agent without a budget of its own (``budget.per_agent``) whose baseline traces run past
    the default budget more than a fifth of the time gets its baseline p99 (whole seconds) as
    its budget (leaving out a baseline day whose own p99 stands far past the others', so a slow
    day in the baseline does not stretch it), and a note telling the reader to set one:
    otherwise its normal traffic would be a permanent timeout surge. Such a budget measures
    nearness (``near_timeout``) but is no limit: the agent's timeouts are those it reported.
    """
    spec = _budget_spec(runbooks)
    b = Budgets(default_s=float(spec["seconds"]),
                warning_fraction=float(spec["warning_fraction"]),
                per_agent={str(k): float(v) for k, v in (spec.get("per_agent") or {}).items()})
    if traces.empty:
        return b
    t = traces
    if baseline is not None:
        st = t["start_time"]
        read = [c for c in ("duration_s", "status", "agent", "start_time") if c in t.columns]
        t = t[read][((st >= baseline[0]) & (st < baseline[1])).to_numpy()]  # not every column
    if t.empty:
        return b
    dur = t["duration_s"].astype("float64")
    reported = t["status"].astype(str).eq("timeout")
    for agent, d in dur.groupby(t["agent"].astype(str), sort=True):
        if agent in b.per_agent or len(d) < 20:
            continue
        over = float(((d >= b.default_s) & ~reported.loc[d.index]).mean())
        if over > _SLOW_BY_DESIGN_SHARE:
            derived = float(math.ceil(_typical_p99(d, t["start_time"])))
            b.derived[agent] = derived
            b.over[agent] = over
            b.notes_by_agent[agent] = (
                f"agent {agent} runs past the {b.default_s:g} s budget in {over:.0%} of its "
                f"baseline traces: judged against its own p99, {derived:g} s, its timeouts "
                f"only those it reported (set budget.per_agent.{agent} in the timeout_surge "
                "runbook)")
    return b


def _typical_p99(durations: pd.Series, starts: pd.Series) -> float:
    """The p99 of the baseline without its outlying days: a day (of 20 or more runs) whose own
    p99 runs past ``_OUTLYING_DAY`` times the median day's is left out, so one incident in the
    baseline (a week ago's slow day) does not stretch the budget that judges the next. The
    other days are pooled: the median of daily p99s would sit below the agent's p99 (each day's
    tail is a few runs), pulling its usual traffic over the near-timeout line. Fewer than three
    such days: the pooled p99 of all."""
    day = starts.loc[durations.index].dt.floor("D").to_numpy()
    per_day = durations.groupby(day)
    p99 = per_day.quantile(0.99)[per_day.size() >= 20]
    if len(p99) < 3:
        return float(durations.quantile(0.99))
    outlying = p99.index[p99 > _OUTLYING_DAY * float(p99.median())]
    return float(durations[~pd.Index(day).isin(outlying)].quantile(0.99))


def score_flags(runbooks: Mapping[str, Any] | None) -> float:
    """The threshold above which a hallucination score marks a trace hallucinated."""
    rb = (runbooks or {}).get("hallucination_spike")
    return float(rb.spec.get("score_threshold", 0.5)) if rb is not None else 0.5


def trace_signals(traces: pd.DataFrame, observations: pd.DataFrame | None,
                  scores: pd.DataFrame | None, runbooks: Mapping[str, Any] | None = None, *,
                  budgets: Budgets | None = None,
                  conventions: conv.Conventions | None = None) -> pd.DataFrame:
    """One row per trace of ``traces`` with every signal column (module docstring).

    ``budgets`` default to :func:`agent_budgets` over all of ``traces``; pass the ones derived
    from the baseline period to judge a window (the detectors do).
    """
    need = {"trace_id", "start_time", "agent", "duration_s", "status"}
    missing = need - set(traces.columns)
    if missing:
        raise SchemaError(f"traces frame lacks column(s) {sorted(missing)}")
    obs = observations if observations is not None else schema.empty("observations")
    budgets = budgets or agent_budgets(traces, runbooks)
    cost_rb = (runbooks or {}).get("cost_spike")
    bounds = (cost_rb.spec.get("signals", {}).get("runaway_loop", {}).get("bounds", {})
              if cost_rb is not None else {"max_generations": 25, "max_total_tokens": 100_000})
    t = traces.reset_index(drop=True)
    u = pd.DataFrame({"trace_id": text_array(t["trace_id"]),
                      "time": t["start_time"].dt.tz_convert("UTC")})
    for col in ("agent", "environment", "release", "user_id", "session_id", "name", "status",
                "tags"):
        u[col] = _text(t[col]) if col in t.columns else pd.NA
    dur = t["duration_s"].astype("float64").to_numpy()
    u["duration"] = dur
    u["budget_s"] = budgets.for_agents(t["agent"])
    reported = t["status"].astype(str).eq("timeout").to_numpy()
    # past a budget someone set (the runbook's default or the agent's own) is a timeout; past
    # a budget derived from an agent's own p99 is only slow: the latency signals judge that,
    # and a loop or a longer prompt that slows such an agent is not a timeout surge
    limited = ~t["agent"].astype(str).isin(list(budgets.derived)).to_numpy()
    over = (dur >= u["budget_s"].to_numpy()) & limited
    u["timeout"] = (reported | over).astype("float64")
    u["timeout_reason"] = np.where(reported, "reported", np.where(over, "duration", ""))
    # a timeout the source reported (an error naming one), whatever the duration: an agent
    # that often runs past its budget would otherwise drown a surge of them
    u["timeout_reported"] = reported.astype("float64")
    u["near_timeout"] = (u["timeout"].to_numpy() > 0) | (
        dur >= u["budget_s"].to_numpy() * budgets.warning_fraction)
    u["near_timeout"] = u["near_timeout"].astype("float64")
    u["error"] = t["status"].astype(str).eq("error").to_numpy().astype("float64")
    tokens = t["total_tokens"].astype("float64").fillna(0.0).to_numpy()
    gens = t["n_generations"].astype("float64").fillna(0.0).to_numpy()
    u["cost"] = t["cost_usd"].astype("float64").fillna(0.0).to_numpy()
    u["tokens"] = tokens
    u["input_tokens"] = t["input_tokens"].astype("float64").fillna(0.0).to_numpy()
    u["output_tokens"] = t["output_tokens"].astype("float64").fillna(0.0).to_numpy()
    u["generations"] = gens
    u["tool_calls"] = t["n_tool_calls"].astype("float64").fillna(0.0).to_numpy()
    u["errors"] = t["n_errors"].astype("float64").fillna(0.0).to_numpy()
    runaway = np.zeros(len(t), dtype=bool)
    if "max_generations" in bounds:
        runaway |= gens > float(bounds["max_generations"])
    if "max_total_tokens" in bounds:
        runaway |= tokens > float(bounds["max_total_tokens"])
    u["runaway"] = runaway.astype("float64")
    u["waste"] = np.where(u["errors"].to_numpy() > 0, tokens, 0.0)
    unit_ids = _unit_ids(u["trace_id"])  # numbered once for the three below
    types = obs["type"].astype(str)
    _add_generation_dims(u, obs, unit_ids=unit_ids, types=types)
    _add_tool_dims(u, obs, unit_ids=unit_ids, types=types)
    _add_scores(u, scores, runbooks, conventions, unit_ids=unit_ids)
    _add_rejected_calls(u, obs, unit_ids=unit_ids, types=types)
    u.attrs["budgets"] = budgets
    return u


def _text(values: pd.Series) -> Any:
    """``values`` as a text column of the units (:func:`text_array`); a column without a
    single value stays the column of missing text (``pd.NA``, object dtype) it was."""
    return text_array(values) if values.notna().any() else values.astype("string").to_numpy()


def _unit_ids(units: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Per unit, the code of its trace id, and the distinct ids by code (as text when the
    ids are: :func:`_row_codes` then numbers rows against them without converting them)."""
    at, uniques = pd.factorize(units)
    return at, pd.Index(uniques)


def _row_codes(trace_ids: pd.Series, ids: pd.Index) -> np.ndarray:
    """Per row of ``trace_ids``, the code (:func:`_unit_ids`) of its unit; -1 for none."""
    return np.asarray(positions(ids, trace_ids.astype(str)), dtype="int64")


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` for integers, by one sort: numpy's hashing unique takes three
    times as long on the tens of thousands of (trace, value) pairs of a week."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) \
        else ordered


def _tuples_by_trace(trace_ids: pd.Series | None, values: pd.Series, units: pd.Series, *,
                     coded: tuple[np.ndarray, np.ndarray, pd.Index] | None = None
                     ) -> list[tuple]:
    """Per unit trace id, the sorted distinct ``values`` of its rows (``()`` when none).

    ``coded``: ``(row codes of trace_ids, unit codes, ids)`` already worked out
    (:func:`_row_codes`, :func:`_unit_ids`), when several columns of the same rows are read."""
    if coded is None:
        at, ids = _unit_ids(units)
        coded = (_row_codes(trace_ids, ids), at, ids)
    rows, at, ids = coded
    keep = values.notna().to_numpy() & (rows >= 0)
    if not keep.any():
        return [()] * len(at)
    trace = rows[keep]
    codes, uniques = pd.factorize(values[keep].astype(str))
    texts = [str(v) for v in uniques.tolist()]
    order = sorted(range(len(texts)), key=texts.__getitem__)  # values in text order
    ordered = [texts[i] for i in order]
    rank = np.empty(len(texts), dtype="int64")
    rank[order] = np.arange(len(texts))
    pairs = _sorted_distinct(trace * len(ordered) + rank[codes])
    owner, value = pairs // len(ordered), pairs % len(ordered)
    cuts = np.flatnonzero(owner[1:] != owner[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    stops = np.concatenate([cuts, [len(pairs)]])
    none = np.empty(1, dtype=object)
    none[0] = ()
    per_id = np.repeat(none, len(ids))
    if len(ordered) <= 62:
        # each trace's set of values as bits: the few distinct sets become tuples once, shared
        # by every trace holding them (fewer objects to build and to free)
        sets = np.bitwise_or.reduceat(np.left_shift(1, value), starts)
        _, kind = np.unique(sets, return_inverse=True)
        firsts = np.unique(kind, return_index=True)[1]
        table = np.empty(len(firsts), dtype=object)
        for k, g in enumerate(firsts.tolist()):
            table[k] = tuple(ordered[i] for i in value[starts[g]:stops[g]].tolist())
        per_id[owner[starts]] = table[kind]
    else:
        values_of = [ordered[i] for i in value.tolist()]
        for a, b, o in zip(starts.tolist(), stops.tolist(), owner[starts].tolist()):
            per_id[o] = tuple(values_of[a:b])
    return per_id[at].tolist()


def _add_generation_dims(u: pd.DataFrame, obs: pd.DataFrame, *,
                         unit_ids: tuple[np.ndarray, pd.Index] | None = None,
                         types: pd.Series | None = None) -> None:
    types = obs["type"].astype(str) if types is None else types
    gens = obs[["trace_id", "model", "prompt_name", "prompt_version", "total_tokens"]][
        types.isin(schema.BILLABLE_TYPES).to_numpy()]
    at, ids = _unit_ids(u["trace_id"]) if unit_ids is None else unit_ids
    coded = (_row_codes(gens["trace_id"], ids), at, ids)  # the rows' units, for every column
    u["model"] = pd.Series(_tuples_by_trace(gens["trace_id"], gens["model"], u["trace_id"],
                                            coded=coded), dtype=object)
    version = gens["prompt_version"].astype("Int64").astype("string")
    prompt = (gens["prompt_name"].astype("string") + "|" + version).where(
        gens["prompt_name"].notna() & version.notna())
    u["prompt_version"] = pd.Series(_tuples_by_trace(gens["trace_id"], prompt, u["trace_id"],
                                                     coded=coded), dtype=object)
    u["prompt_name"] = pd.Series(_tuples_by_trace(gens["trace_id"], gens["prompt_name"],
                                                  u["trace_id"], coded=coded), dtype=object)
    # the model that took most of a trace's tokens: its segment for cost baselines
    mine = gens["model"].notna().to_numpy() & (coded[0] >= 0)
    if mine.any():
        w = gens["total_tokens"].astype("float64").fillna(0.0).to_numpy()[mine] + 1e-9
        # numbered as Arrow holds the names, not as a Python string per call
        codes, models = pd.factorize(gens["model"][mine])
        texts = models.tolist()
        order = sorted(range(len(texts)), key=texts.__getitem__)
        rank = np.empty(len(texts), dtype="int64")
        rank[order] = np.arange(len(texts))  # ties go to the model first in text order
        per = pd.Series(w).groupby(coded[0][mine] * len(texts) + rank[codes]).sum()
        pair = per.index.to_numpy()
        owner, model = pair // len(texts), pair % len(texts)
        by_tokens = np.lexsort((model, -per.to_numpy(), owner))
        top = by_tokens[np.concatenate([[True], owner[by_tokens][1:] != owner[by_tokens][:-1]])]
        primary = np.full(len(ids), None, dtype=object)
        primary[owner[top]] = np.asarray([texts[i] for i in order], dtype=object)[model[top]]
        u["primary_model"] = pd.Series(primary[at], index=u.index).astype("string")
    else:
        u["primary_model"] = pd.Series(pd.NA, index=u.index, dtype="string")


def _add_tool_dims(u: pd.DataFrame, obs: pd.DataFrame, *,
                   unit_ids: tuple[np.ndarray, pd.Index] | None = None,
                   types: pd.Series | None = None) -> None:
    types = obs["type"].astype(str) if types is None else types
    tools = obs[["trace_id", "tool_name", "duration_s", "level"]][
        types.eq("tool").to_numpy() & obs["tool_name"].notna().to_numpy()]
    at, ids = _unit_ids(u["trace_id"]) if unit_ids is None else unit_ids
    trace = _row_codes(tools["trace_id"], ids)
    u["tool_name"] = pd.Series(_tuples_by_trace(tools["trace_id"], tools["tool_name"],
                                                u["trace_id"], coded=(trace, at, ids)),
                               dtype=object)
    mine = trace >= 0
    if not mine.any():
        u["culprit_tool"] = pd.Series([()] * len(u), dtype=object)
        return
    # per (trace, tool): time spent in the tool's calls and whether one failed
    # numbered as Arrow holds the names, not as a Python string per call
    codes, tool_names = pd.factorize(tools["tool_name"][mine])
    texts = tool_names.tolist()
    order = sorted(range(len(texts)), key=texts.__getitem__)
    rank = np.empty(len(texts), dtype="int64")
    rank[order] = np.arange(len(texts))  # a tool's place in text order: ties go to the first
    key = trace[mine] * len(texts) + rank[codes]
    per = pd.DataFrame({"dur": tools["duration_s"].astype("float64").to_numpy()[mine],
                        "failed": tools["level"].eq("ERROR").fillna(False).to_numpy()[mine]}
                       ).groupby(key).agg(dur=("dur", "sum"), failed=("failed", "any"))
    pair = per.index.to_numpy()
    owner, tool = pair // len(texts), pair % len(texts)
    # the tools whose calls failed, and the one the trace spent longest in: a transient error
    # retried past does not hide the call that hung
    by_time = np.lexsort((tool, -per["dur"].to_numpy(), owner))
    first = by_time[np.concatenate([[True], owner[by_time][1:] != owner[by_time][:-1]])]
    culprit = per["failed"].to_numpy().copy()
    culprit[first] = True
    ordered = np.asarray([texts[i] for i in order], dtype=object)
    u["culprit_tool"] = pd.Series(_tuples_by_trace(
        None, pd.Series(ordered[tool[culprit]], dtype=object), u["trace_id"],
        coded=(owner[culprit], at, ids)), dtype=object)


def _add_rejected_calls(u: pd.DataFrame, obs: pd.DataFrame, *,
                        unit_ids: tuple[np.ndarray, pd.Index], types: pd.Series) -> None:
    """Per trace that calls tools, its calls (``checked_calls``) and those rejected as invalid
    (``rejected_calls``): read from the spans of every such trace, not a judge's sample, and
    as soon as the trace is in. NaN for a trace that called no tool.

    A rejected call has the error class ``invalid_tool_call``: the model's arguments did not
    parse or validate, or it named a tool that does not exist. Frameworks record the rejection
    on the tool's span, or, when no tool ran, on the generation or agent span around it, and
    sometimes on several of them at once: a trace's rejected calls are the most that one
    observation type recorded, and those not on a tool span are calls no span shows."""
    at, ids = unit_ids
    calls = np.zeros(len(ids))
    rejected = np.zeros(len(ids))
    if not obs.empty:
        row = _row_codes(obs["trace_id"], ids)
        mine = row >= 0
        tool = (types.eq("tool") & obs["tool_name"].notna()).to_numpy()
        calls = np.bincount(row[mine & tool], minlength=len(ids)).astype("float64")
        hit = mine & obs["error_type"].eq("invalid_tool_call").fillna(False).to_numpy(bool)
        if hit.any():
            kind, kinds = pd.factorize(types)
            per = np.bincount(row[hit] * len(kinds) + kind[hit],
                              minlength=len(ids) * len(kinds)).reshape(len(ids), len(kinds))
            rejected = per.max(axis=1).astype("float64")
            on_tools = per[:, kinds.get_loc("tool")] if "tool" in kinds else 0
            calls = calls + np.maximum(rejected - on_tools, 0.0)
    none = calls[at] == 0
    u["checked_calls"] = np.where(none, np.nan, calls[at])
    u["rejected_calls"] = np.where(none, np.nan, rejected[at])


def _ns(times: pd.Series) -> np.ndarray:
    """UTC nanoseconds since the epoch, whatever the column's unit."""
    return times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype(
        "datetime64[ns]").view("int64")


def _drop_late(u: pd.DataFrame, values: pd.DataFrame, row: np.ndarray, signal: np.ndarray,
               names: list[str], lag: pd.Timedelta) -> None:
    """Unlink (``row = -1``) each score recorded more than ``lag`` after its trace's start.

    The rule depends on the trace alone, never on the window asked for, so a report, a check
    and a notebook count the same scores for a trace once its evaluations are in. How many were
    left out, per signal, is in ``attrs["late_scores"]``; how long each signal's judge takes
    (the 99th percentile of its counted scores' delays) in ``attrs["score_delays"]``.
    ``signal`` numbers each score's signal among ``names``."""
    u.attrs["late_scores"] = {}
    u.attrs["score_delays"] = {}
    linked = np.flatnonzero(row >= 0)
    if not len(linked):
        return
    delay = _ns(values["timestamp"])[linked] - _ns(u["time"])[row[linked]]
    late = delay > lag.value
    code = signal[linked]
    in_order = sorted(range(len(names)), key=names.__getitem__)  # signals by name
    if late.any():
        row[linked[late]] = -1
        counts = np.bincount(code[late], minlength=len(names))
        u.attrs["late_scores"] = {names[k]: int(counts[k]) for k in in_order if counts[k]}
    for k in in_order:
        kept = (code == k) & ~late
        if kept.any():
            u.attrs["score_delays"][names[k]] = pd.Timedelta(
                int(np.percentile(delay[kept], 99)), unit="ns")


def _hours(d: pd.Timedelta) -> str:
    h = d / pd.Timedelta(hours=1)
    return f"{h:.0f} h" if h >= 1.5 else f"{d / pd.Timedelta(minutes=1):.0f} min"


def score_notes(units: pd.DataFrame, end: pd.Timestamp,
                now: pd.Timestamp | None = None) -> list[str]:
    """What a reader of figures up to ``end`` must know of the evaluations, said at ``now``
    (the run's time): scores left out as too late, and judges that may not have scored the
    last traces yet (their figures can still change)."""
    notes = []
    if late := units.attrs.get("late_scores"):
        lag = conv.load().score_lag
        parts = ", ".join(f"{k} {n}" for k, n in sorted(late.items()))
        notes.append(f"{sum(late.values())} evaluation score(s) recorded more than "
                     f"{_hours(lag)} after their trace were left out ({parts}): raise "
                     "`score_lag` in the conventions to count them")
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    pending = _pending(units, end, now)
    if pending:
        since = min(now - d for d in pending.values()).floor("min")
        judges = ", ".join(f"{k} up to {_hours(d)}" for k, d in sorted(pending.items()))
        notes.append(f"evaluations may still be arriving: scores land after their trace "
                     f"({judges}, 99th percentile); traces after {since:%Y-%m-%d %H:%M} UTC may "
                     "not have theirs yet, so score figures from then on can still change")
    return notes


def _pending(units: pd.DataFrame, end: pd.Timestamp,
             now: pd.Timestamp) -> dict[str, pd.Timedelta]:
    """The score signals whose judges may not yet have scored traces before ``end``."""
    return {k: d for k, d in (units.attrs.get("score_delays") or {}).items() if now - d < end}


def scores_pending_since(units: pd.DataFrame, end: pd.Timestamp,
                         now: pd.Timestamp | None = None) -> pd.Timestamp | None:
    """From when, before ``end``, traces may still lack scores at ``now`` (None: none may):
    each score signal's judge is given its own 99th-percentile delay (``score_delays``)."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    pending = _pending(units, end, now)
    return min(now - d for d in pending.values()).floor("min") if pending else None


def _add_scores(u: pd.DataFrame, scores: pd.DataFrame | None,
                runbooks: Mapping[str, Any] | None,
                conventions: conv.Conventions | None, *,
                unit_ids: tuple[np.ndarray, pd.Index] | None = None) -> None:
    for name in SCORE_SIGNALS:
        u[name] = np.nan
    for flag in ("hallucinated", "refused", "ungrounded", "invalid_tool_calls",
                 "scored_tool_calls"):
        u[flag] = np.nan
    u.attrs["unmapped_scores"] = []
    u.attrs["unmapped_categories"] = {}
    u.attrs["score_scales"] = []
    u.attrs["late_scores"] = {}
    u.attrs["score_delays"] = {}
    if scores is None or scores.empty:
        return
    c = conventions or conv.load()
    values = c.score_values(scores)
    u.attrs["unmapped_scores"] = values.attrs.get("unmapped_names", [])
    u.attrs["unmapped_categories"] = values.attrs.get("unmapped_categories", {})
    u.attrs["score_scales"] = conv.scale_notes(values.attrs.get("rescaled", {}),
                                               values.attrs.get("unscaled", {}))
    if values.empty:
        return
    # each score's unit row (the first unit of its trace id; -1 for none), grouped on directly
    at, ids = _unit_ids(u["trace_id"]) if unit_ids is None else unit_ids
    first = np.full(len(ids), -1, dtype="int64")
    first[at[::-1]] = np.arange(len(at))[::-1]
    codes = _row_codes(values["trace_id"], ids)
    row = np.full(len(codes), -1, dtype="int64")
    row[codes >= 0] = first[codes[codes >= 0]]
    # each score's signal numbered once: the tests below compare integers, not strings
    signal, distinct = pd.factorize(values["signal"])
    names = [str(n) for n in distinct.tolist()]

    def scores_of(name: str) -> np.ndarray:
        return signal == (names.index(name) if name in names else -1)

    _drop_late(u, values, row, signal, names, c.score_lag)
    threshold = score_flags(runbooks)
    calls = scores_of("tool_call_valid") & (row >= 0)
    if calls.any():
        # validity is judged per call: a trace that calls more tools is not more suspect
        bad = (values["value"][calls] < 0.5).astype("float64")
        per = bad.groupby(row[calls]).agg(["sum", "count"])
        for col, src in (("invalid_tool_calls", "sum"), ("scored_tool_calls", "count")):
            arr = u[col].to_numpy().copy()
            arr[per.index.to_numpy()] = per[src].to_numpy(dtype="float64")
            u[col] = arr
    for name in SCORE_SIGNALS:
        mine = scores_of(name) & (row >= 0)
        if not mine.any():
            continue
        worst = "max" if c.scores[name].bad == "high" else "min"
        per = values["value"][mine].groupby(row[mine]).agg(worst)
        col = u[name].to_numpy().copy()
        col[per.index.to_numpy()] = per.to_numpy()
        u[name] = col
    for flag, source, bad in (("hallucinated", "hallucination", lambda v: v > threshold),
                              ("refused", "refusal", lambda v: v >= 0.5),
                              ("ungrounded", "groundedness", lambda v: v < 0.5)):
        v = u[source].to_numpy()
        u[flag] = np.where(np.isnan(v), np.nan, bad(np.nan_to_num(v)).astype("float64"))
