"""Record planned traces as real OpenTelemetry spans, and turn finished spans into observations.

Spans carry the OpenTelemetry GenAI semantic conventions (``gen_ai.*``), the general ``user.id``,
``session.id`` and ``error.type``, and a few ``workbench.*`` attributes for what the conventions do
not cover (cost, prompt template, level). The resource names the agent (``service.name``), its
release (``service.version``) and ``deployment.environment.name``. :func:`spans_to_observations` is
the one mapping from spans to the canonical ``observations`` frame; any OTel-based source reuses it.
``user.id`` and ``session.id`` are trace-level: set on the root span and inherited by its children.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, Status, StatusCode

from workbench import schema
from workbench.simulate.plan import TracePlan

__all__ = ["ATTR", "SeededIdGenerator", "SpanRecorder", "spans_to_observations"]

#: Attribute keys used on spans (GenAI semantic conventions first, workbench.* where none exist).
ATTR = {
    "operation": "gen_ai.operation.name",
    "request_model": "gen_ai.request.model",
    "response_model": "gen_ai.response.model",
    "provider": "gen_ai.provider.name",
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "tool_name": "gen_ai.tool.name",
    "agent_name": "gen_ai.agent.name",
    "data_source": "gen_ai.data_source.id",
    "user": "user.id",
    "session": "session.id",
    "error_type": "error.type",
    "cost": "workbench.cost_usd",
    "prompt_name": "workbench.prompt.name",
    "prompt_version": "workbench.prompt.version",
    "level": "workbench.level",
    "message": "workbench.status_message",
}

_OPERATION = {"generation": "chat", "tool": "execute_tool", "retriever": "retrieval",
              "agent": "invoke_agent"}
# gen_ai.operation.name -> canonical observation type
_TYPE_OF_OPERATION = {
    "invoke_agent": "agent", "create_agent": "agent", "invoke_workflow": "agent",
    "chat": "generation", "text_completion": "generation", "generate_content": "generation",
    "embeddings": "generation", "execute_tool": "tool", "retrieval": "retriever",
}
_PROVIDER = {"gpt-4o": "openai", "gpt-4o-mini": "openai", "claude-sonnet-4.5": "anthropic"}


class SeededIdGenerator(IdGenerator):
    """Trace and span ids from a seeded PRNG, so the same seed gives the same ids."""

    def __init__(self, seed: int) -> None:
        self._r = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._r.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._r.getrandbits(128) or 1

    def is_trace_id_random(self) -> bool:
        return True


class _Collector(SpanProcessor):
    """In-memory span processor: keeps every finished span, in the order they ended."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


class SpanRecorder:
    """One TracerProvider per (agent, environment) resource, sharing ids and the collector."""

    def __init__(self, seed: int) -> None:
        self._ids = SeededIdGenerator(seed)
        self._collector = _Collector()
        self._tracers: dict[tuple[str, str, str], trace_api.Tracer] = {}

    @property
    def spans(self) -> list[ReadableSpan]:
        return self._collector.spans

    def _tracer(self, agent: str, environment: str, release: str) -> trace_api.Tracer:
        key = (agent, environment, release)
        tracer = self._tracers.get(key)
        if tracer is None:
            # Resource(...) rather than Resource.create(): no OTEL_* environment is merged in, so
            # the demo does not depend on the shell it runs in.
            resource = Resource({"service.name": agent, "service.version": release,
                                 "deployment.environment.name": environment})
            provider = TracerProvider(sampler=ALWAYS_ON, resource=resource,
                                      shutdown_on_exit=False, id_generator=self._ids)
            provider.add_span_processor(self._collector)
            tracer = provider.get_tracer("workbench.simulate")
            self._tracers[key] = tracer
        return tracer

    def record(self, plan: TracePlan) -> None:
        """Emit the root span and its children with the plan's simulated timestamps."""
        tracer = self._tracer(plan.agent, plan.environment, plan.release)
        t0 = plan.start_us * 1000
        # user and session are trace-level: set on the root, inherited by spans_to_observations.
        root_attrs: dict[str, Any] = {ATTR["operation"]: "invoke_agent",
                                      ATTR["agent_name"]: plan.agent,
                                      ATTR["user"]: plan.user_id, ATTR["session"]: plan.session_id}
        if plan.level == "WARNING":
            root_attrs[ATTR["level"]] = "WARNING"
            root_attrs[ATTR["message"]] = plan.message
        root = tracer.start_span(f"invoke_agent {plan.agent}", kind=SpanKind.INTERNAL,
                                 attributes=root_attrs, start_time=t0)
        ctx = trace_api.set_span_in_context(root)
        for s in plan.spans:
            attrs: dict[str, Any] = {ATTR["operation"]: _OPERATION[s.type]}
            kind = SpanKind.INTERNAL
            if s.type == "generation":
                kind = SpanKind.CLIENT
                attrs[ATTR["request_model"]] = s.model
                attrs[ATTR["response_model"]] = s.model
                attrs[ATTR["provider"]] = _PROVIDER.get(s.model, "unknown")
                attrs[ATTR["input_tokens"]] = s.input_tokens
                attrs[ATTR["output_tokens"]] = s.output_tokens
                attrs[ATTR["cost"]] = s.cost
                if s.prompt_name is not None:
                    attrs[ATTR["prompt_name"]] = s.prompt_name
                    attrs[ATTR["prompt_version"]] = s.prompt_version
            elif s.type == "tool":
                attrs[ATTR["tool_name"]] = s.tool
            elif s.type == "retriever":
                attrs[ATTR["data_source"]] = "knowledge-base"
            if s.error_type is not None:
                attrs[ATTR["error_type"]] = s.error_type
            child = tracer.start_span(s.name, context=ctx, kind=kind, attributes=attrs,
                                      start_time=t0 + _ns(s.start))
            if s.level == "ERROR":
                child.set_status(Status(StatusCode.ERROR, s.message))
            child.end(end_time=t0 + _ns(s.end))
        if plan.level == "ERROR":
            root.set_attribute(ATTR["error_type"], plan.error_type)
            root.set_status(Status(StatusCode.ERROR, plan.message))
        root.end(end_time=t0 + _ns(plan.end))


def _ns(seconds: float) -> int:
    """Seconds to nanoseconds at microsecond precision (the canonical frames' resolution)."""
    return int(round(seconds * 1e6)) * 1000


def _hex(n: int | None, width: int) -> str | None:
    return None if n is None else format(n, f"0{width}x")


def spans_to_observations(spans: Iterable[ReadableSpan]) -> pd.DataFrame:
    """Canonical ``observations`` from finished OpenTelemetry spans (any producer, not only ours).

    The type comes from ``gen_ai.operation.name`` (unknown operations are ``span``); the level is
    ERROR for an ERROR status, else ``workbench.level`` if set, else DEFAULT (a WARNING's text is in
    ``workbench.status_message``, as an OK status carries none); the agent is the
    resource's ``service.name`` (falling back to ``gen_ai.agent.name``).
    """
    cols: dict[str, list[Any]] = {c: [] for c in schema.columns("observations") if c != "tags"}
    start_ns: list[int] = []
    end_ns: list[int] = []
    resources: dict[int, Any] = {}
    for sp in spans:
        # BoundedAttributes.copy() is a plain dict: far cheaper to read than the locked mapping.
        a = sp.attributes.copy() if sp.attributes else {}
        res = resources.get(id(sp.resource))
        if res is None:
            res = resources[id(sp.resource)] = (
                dict(sp.resource.attributes) if sp.resource is not None else {})
        cols["trace_id"].append(_hex(sp.context.trace_id, 32))
        cols["observation_id"].append(_hex(sp.context.span_id, 16))
        cols["parent_observation_id"].append(_hex(sp.parent.span_id, 16) if sp.parent else None)
        start_ns.append(sp.start_time)
        end_ns.append(sp.end_time if sp.end_time is not None else sp.start_time)
        cols["name"].append(sp.name)
        cols["type"].append(_TYPE_OF_OPERATION.get(a.get(ATTR["operation"]), "span"))
        is_error = sp.status.status_code is StatusCode.ERROR
        cols["level"].append("ERROR" if is_error else a.get(ATTR["level"], "DEFAULT"))
        cols["status_message"].append(sp.status.description if is_error
                                      else a.get(ATTR["message"]))
        cols["error_type"].append(a.get(ATTR["error_type"]))
        cols["agent"].append(res.get("service.name") or a.get(ATTR["agent_name"]) or "unknown")
        cols["environment"].append(res.get("deployment.environment.name")
                                   or res.get("deployment.environment") or "unknown")
        cols["release"].append(res.get("service.version"))
        cols["user_id"].append(a.get(ATTR["user"]))
        cols["session_id"].append(a.get(ATTR["session"]))
        cols["model"].append(a.get(ATTR["request_model"]) or a.get(ATTR["response_model"]))
        cols["prompt_name"].append(a.get(ATTR["prompt_name"]))
        cols["prompt_version"].append(a.get(ATTR["prompt_version"]))
        cols["tool_name"].append(a.get(ATTR["tool_name"]))
        tin, tout = a.get(ATTR["input_tokens"]), a.get(ATTR["output_tokens"])
        cols["input_tokens"].append(tin)
        cols["output_tokens"].append(tout)
        cols["total_tokens"].append(None if tin is None and tout is None
                                    else (tin or 0) + (tout or 0))
        cols["cost_usd"].append(a.get(ATTR["cost"]))
    s = np.asarray(start_ns, dtype="int64")
    e = np.asarray(end_ns, dtype="int64")
    cols["start_time"] = pd.to_datetime(s, unit="ns", utc=True)
    cols["end_time"] = pd.to_datetime(e, unit="ns", utc=True)
    cols["duration_s"] = (e - s) / 1e9
    df = pd.DataFrame({c: _column(c, v) for c, v in cols.items()})
    _inherit_from_root(df, ("user_id", "session_id"))
    return schema.conform(df, "observations")


def _inherit_from_root(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Fill trace-level attributes that only the root span carries into its descendants."""
    roots = df[df["parent_observation_id"].isna()].drop_duplicates("trace_id")
    if roots.empty:
        return
    roots = roots.set_index("trace_id")
    for c in columns:
        if df[c].isna().any():
            df[c] = df[c].fillna(df["trace_id"].map(roots[c]))


_NUMERIC = {"prompt_version": "Int64", "input_tokens": "Int64", "output_tokens": "Int64",
            "total_tokens": "Int64", "cost_usd": "float64"}


def _column(name: str, values: Sequence[Any] | Any) -> Any:
    if name in _NUMERIC and isinstance(values, list):
        return pd.array([np.nan if v is None else v for v in values], dtype=_NUMERIC[name]) \
            if _NUMERIC[name] == "float64" else pd.array(values, dtype=_NUMERIC[name])
    if isinstance(values, list):
        return pd.array(values, dtype="string")
    return values
