"""Write planned requests as OpenTelemetry spans, in the style of the producer that instruments
each agent.

Spans are real ``opentelemetry-sdk`` spans (one ``TracerProvider`` per agent deployment, seeded
ids), with attributes exactly as these producers write them:

``langfuse``
    the Langfuse Python SDK (instrumentation scope ``langfuse-sdk``): ``@observe``-decorated
    functions with ``langfuse.observation.type``; ``propagate_attributes`` puts the trace name,
    ``user.id``, ``session.id``, tags and version on every span; generations carry the model,
    usage and cost details as JSON strings and the Langfuse prompt's name and version. A failure
    is what ``@observe`` records: level ERROR and status message ``str(e) or type(e).__name__``,
    OTel status ERROR, no exception event. Environment and release sit on the resource.
``genai``
    OpenTelemetry GenAI semantic conventions: ``invoke_agent {agent}``, ``chat {model}`` and
    ``execute_tool {tool}`` spans with ``gen_ai.*`` attributes and no cost; optionally under an
    HTTP server span. Exceptions are recorded as the SDK's ``use_span`` does: an ``exception``
    event and status ERROR ``"{ExcType}: {msg}"``, on every span the exception passes through
    (``CancelledError`` is a BaseException and is not recorded), plus ``error.type``.
``openinference``
    a LangGraph app under OpenInference's LangChain instrumentation: a ``LangGraph`` CHAIN root,
    the agent node (AGENT), ``ChatOpenAI``/``ChatAnthropic`` LLM spans with ``llm.*`` token counts
    and costs, tools (TOOL, ``tool.name``); ``session.id``, ``user.id``, ``tag.tags`` and
    ``metadata`` on every span; a failure is status ERROR with the traceback text, plus an
    ``exception`` event.
``openai_agents``
    the OpenAI Agents SDK through OpenInference's processor: a root span named after the
    workflow (AGENT, always OK), the agent span (AGENT), ``response`` spans (LLM) and function
    spans named by the tool (TOOL); a failure is status ERROR ``"{message}: {data}"``.

No attribute outside these conventions is written.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, Status, StatusCode

from workbench.simulate import errors
from workbench.simulate.catalog import MODELS, AgentSpec
from workbench.simulate.errors import Failure
from workbench.simulate.plan import TracePlan

__all__ = ["LANGFUSE_SDK_VERSION", "SeededIdGenerator", "SpanRecorder", "ToolObservation"]

LANGFUSE_SDK_VERSION = "4.14.3"
_OTEL_SDK = {"telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry",
             "telemetry.sdk.version": "1.45.2"}
_PUBLIC_KEY = "pk-lf-1f0c6a35-sim"
_TOOL_CALL_ID = "call_"


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


@dataclass(frozen=True, slots=True)
class ToolObservation:
    """A recorded tool call, for the evaluators that judge tool calls."""

    plan: int
    trace_id: str
    observation_id: str
    end_ns: int
    environment: str


def _ns(t0: int, seconds: float) -> int:
    """Request start (ns) plus seconds, at microsecond precision (the canonical resolution)."""
    return t0 + int(round(seconds * 1e6)) * 1000


def _traceback(f: Failure, where: str) -> str:
    """A short Python traceback ending in the exception line, as LangChain stores run errors."""
    last = f.qualified if not f.message else f"{f.qualified}: {f.message}"
    return ("Traceback (most recent call last):\n"
            f"  File \"/app/agent/{where}.py\", line 42, in {where}\n"
            f"    result = await self._call(inputs)\n{last}\n")


@functools.lru_cache(maxsize=None)
def _tool_schemas_of(names: tuple[str, ...]) -> dict[str, str]:
    return {f"llm.tools.{i}.tool.json_schema": json.dumps({
        "type": "function", "function": {
            "name": name, "description": f"Call {name.replace('_', ' ')} and return its JSON "
                                         "answer; use it whenever the user asks for something "
                                         "it can look up.",
            "parameters": {"type": "object", "properties": {
                "query": {"type": "string", "description": "what to look up"}},
                "required": ["query"]}}}) for i, name in enumerate(names)}


def _tool_schemas(agent: AgentSpec) -> dict[str, str]:
    """The tools an LLM span offers the model, as OpenInference writes them (``llm.tools``)."""
    return _tool_schemas_of(tuple(agent.tools))


def _span_id(span: Any) -> str:
    return format(span.get_span_context().span_id, "016x")


class SpanRecorder:
    """One TracerProvider per agent deployment (agent, environment), sharing ids and the
    collector; :meth:`record` writes one planned request in its agent's style."""

    def __init__(self, seed: int) -> None:
        self._ids = SeededIdGenerator(seed)
        self._collector = _Collector()
        self._tracers: dict[tuple[str, str, str], trace_api.Tracer] = {}
        self.tool_observations: list[ToolObservation] = []
        self._n = 0

    @property
    def spans(self) -> list[ReadableSpan]:
        return self._collector.spans

    # ---- providers ---------------------------------------------------------------------------

    def _resource(self, agent: AgentSpec, environment: str) -> Resource:
        # Resource(...) rather than Resource.create(): no OTEL_* environment is merged in, so a
        # dataset does not depend on the shell it is generated in.
        if agent.style == "langfuse":  # the SDK's own provider: environment and release
            return Resource({**_OTEL_SDK, "service.name": agent.service,
                             "langfuse.environment": environment,
                             "langfuse.release": agent.release})
        attrs = {**_OTEL_SDK, "service.name": agent.service, "service.version": agent.release,
                 "deployment.environment.name": environment}
        if agent.style in ("openinference", "openai_agents"):
            attrs["openinference.project.name"] = agent.service
        return Resource(attrs)

    def _tracer(self, agent: AgentSpec, environment: str, scope: str,
                version: str | None = None,
                attributes: Mapping[str, Any] | None = None) -> trace_api.Tracer:
        key = (agent.name, environment, scope)
        tracer = self._tracers.get(key)
        if tracer is None:
            provider = TracerProvider(sampler=ALWAYS_ON, resource=self._resource(agent,
                                                                                 environment),
                                      shutdown_on_exit=False, id_generator=self._ids)
            provider.add_span_processor(self._collector)
            tracer = provider.get_tracer(scope, version, attributes=attributes)
            self._tracers[key] = tracer
        return tracer

    # ---- one request -------------------------------------------------------------------------

    def record(self, plan: TracePlan) -> None:
        """Emit the request's spans with the plan's simulated timestamps; set ``trace_id``."""
        style = plan.agent.style
        getattr(self, f"_{style}")(plan, plan.start_us * 1000)
        self._n += 1

    def _note_tool(self, plan: TracePlan, span: Any, end_ns: int) -> None:
        self.tool_observations.append(ToolObservation(
            self._n, plan.trace_id, _span_id(span), end_ns, plan.environment))

    @staticmethod
    def _set_trace_id(plan: TracePlan, span: Any) -> None:
        plan.trace_id = format(span.get_span_context().trace_id, "032x")

    # ---- the Langfuse Python SDK ----------------------------------------------------------------

    def _langfuse(self, plan: TracePlan, t0: int) -> None:
        agent = plan.agent
        tracer = self._tracer(agent, plan.environment, "langfuse-sdk", LANGFUSE_SDK_VERSION,
                              {"public_key": _PUBLIC_KEY})
        propagated: dict[str, Any] = {"langfuse.trace.name": agent.name, "user.id": plan.user_id,
                                      "session.id": plan.session_id,
                                      "langfuse.version": agent.release}
        if plan.tags:
            propagated["langfuse.trace.tags"] = tuple(plan.tags)
        root = tracer.start_span("handle_request", kind=SpanKind.INTERNAL, start_time=t0,
                                 attributes={**propagated, "langfuse.observation.type": "agent"})
        self._set_trace_id(plan, root)
        ctx = trace_api.set_span_in_context(root)
        for c in plan.calls:
            attrs = dict(propagated)
            if c.kind == "generation":
                assert c.model is not None
                attrs["langfuse.observation.type"] = "generation"
                attrs["langfuse.observation.model.name"] = c.model
                if c.prompt_name is not None:
                    attrs["langfuse.observation.prompt.name"] = c.prompt_name
                    attrs["langfuse.observation.prompt.version"] = c.prompt_version
            if c.kind == "generation" and c.failure is None:  # usage comes with the response
                assert c.model is not None
                attrs["langfuse.observation.usage_details"] = json.dumps(
                    {"input": c.input_tokens, "output": c.output_tokens})
                m = MODELS[c.model]
                cin = (c.input_tokens or 0) * m.input_per_m / 1e6
                cout = (c.output_tokens or 0) * m.output_per_m / 1e6
                attrs["langfuse.observation.cost_details"] = json.dumps(
                    {"input": cin, "output": cout, "total": cin + cout})
            elif c.kind == "tool":
                attrs["langfuse.observation.type"] = "tool"
            elif c.kind == "retrieval":
                attrs["langfuse.observation.type"] = "retriever"
            if c.failure is not None:
                attrs["langfuse.observation.level"] = "ERROR"
                attrs["langfuse.observation.status_message"] = c.failure.observe_message
            child = tracer.start_span(c.name, context=ctx, kind=SpanKind.INTERNAL,
                                      attributes=attrs, start_time=_ns(t0, c.start))
            if c.failure is not None:
                child.set_status(Status(StatusCode.ERROR, c.failure.observe_message))
            end = _ns(t0, c.end)
            child.end(end_time=end)
            if c.kind == "tool":
                self._note_tool(plan, child, end)
        if plan.failure is not None:
            msg = plan.failure.observe_message
            root.set_attributes({"langfuse.observation.level": "ERROR",
                                 "langfuse.observation.status_message": msg})
            root.set_status(Status(StatusCode.ERROR, msg))
        elif plan.warning:
            root.set_attributes({"langfuse.observation.level": "WARNING",
                                 "langfuse.observation.status_message": plan.warning})
        root.end(end_time=_ns(t0, plan.end))

    # ---- OpenTelemetry GenAI semantic conventions -----------------------------------------------

    @staticmethod
    def _otel_error(span: Any, f: Failure, at: int, error_type: bool = True) -> None:
        """What ``use_span`` records when an exception leaves the span's ``with`` block."""
        if f.is_base_exception:
            return
        span.record_exception(errors.exception(f), timestamp=at, escaped=False)
        span.set_status(Status(StatusCode.ERROR, f.otel_description))
        if error_type:
            span.set_attribute("error.type", f.type_name)

    def _genai(self, plan: TracePlan, t0: int) -> None:
        agent = plan.agent
        app = self._tracer(agent, plan.environment, agent.service.replace("-", "_") + ".agent")
        provider = MODELS[agent.models[0]].provider if agent.models else "openai"
        end_ns = _ns(t0, plan.end)
        http = None
        if agent.http_root:
            http = app.start_span("POST /v1/chat", kind=SpanKind.SERVER, start_time=t0,
                                  attributes={"http.request.method": "POST",
                                              "http.route": "/v1/chat", "url.path": "/v1/chat",
                                              "url.scheme": "https",
                                              "server.address": f"{agent.service}.internal"})
            self._set_trace_id(plan, http)
        ctx = trace_api.set_span_in_context(http) if http is not None else None
        root = app.start_span(f"invoke_agent {agent.name}", context=ctx, kind=SpanKind.INTERNAL,
                              start_time=_ns(t0, 0.002 if http is not None else 0.0),
                              attributes={"gen_ai.operation.name": "invoke_agent",
                                          "gen_ai.agent.name": agent.name,
                                          "gen_ai.provider.name": provider,
                                          "gen_ai.conversation.id": plan.session_id,
                                          "user.id": plan.user_id})
        if http is None:
            self._set_trace_id(plan, root)
        ctx = trace_api.set_span_in_context(root)
        for i, c in enumerate(plan.calls):
            start, end = _ns(t0, c.start), _ns(t0, c.end)
            if c.kind == "generation":
                assert c.model is not None
                m = MODELS[c.model]
                scope = ("opentelemetry.instrumentation.anthropic" if m.provider == "anthropic"
                         else "opentelemetry.instrumentation.openai_v2")
                attrs: dict[str, Any] = {"gen_ai.operation.name": "chat",
                                         "gen_ai.provider.name": m.provider,
                                         "gen_ai.request.model": c.model}
                if c.failure is None:
                    attrs.update({"gen_ai.response.model": c.model,
                                  "gen_ai.response.finish_reasons": ("stop",),
                                  "gen_ai.usage.input_tokens": c.input_tokens,
                                  "gen_ai.usage.output_tokens": c.output_tokens})
                span = self._tracer(agent, plan.environment, scope, "2.1b0").start_span(
                    f"chat {c.model}", context=ctx, kind=SpanKind.CLIENT, attributes=attrs,
                    start_time=start)
            elif c.kind == "tool":
                assert c.tool is not None
                span = app.start_span(f"execute_tool {c.tool.name}", context=ctx,
                                      kind=SpanKind.INTERNAL, start_time=start, attributes={
                                          "gen_ai.operation.name": "execute_tool",
                                          "gen_ai.tool.name": c.tool.name,
                                          "gen_ai.tool.type": "function",
                                          "gen_ai.tool.call.id": f"{_TOOL_CALL_ID}{i:02d}"
                                                                 f"{plan.start_us % 10**8:08d}"})
            else:
                span = app.start_span("retrieval knowledge-base", context=ctx,
                                      kind=SpanKind.CLIENT, start_time=start, attributes={
                                          "gen_ai.operation.name": "retrieval",
                                          "gen_ai.data_source.id": "knowledge-base"})
            if c.failure is not None:
                self._otel_error(span, c.failure, end)
            span.end(end_time=end)
            if c.kind == "tool":
                self._note_tool(plan, span, end)
        if plan.failure is not None:
            self._otel_error(root, plan.failure, end_ns, error_type=False)
        root.end(end_time=end_ns - (1000 if http is not None else 0))
        if http is not None:
            http.set_attribute("http.response.status_code", 500 if plan.failure else 200)
            if plan.failure is not None:
                self._otel_error(http, plan.failure, end_ns, error_type=False)
            http.end(end_time=end_ns)

    # ---- OpenInference (LangGraph under the LangChain instrumentation) -------------------------

    def _oi_error(self, span: Any, f: Failure, where: str, at: int) -> None:
        span.record_exception(errors.exception(f), timestamp=at, escaped=False)
        span.set_status(Status(StatusCode.ERROR, _traceback(f, where)))

    def _openinference(self, plan: TracePlan, t0: int) -> None:
        agent = plan.agent
        tracer = self._tracer(agent, plan.environment, "openinference.instrumentation.langchain",
                              "0.1.43")
        context: dict[str, Any] = {"session.id": plan.session_id, "user.id": plan.user_id,
                                   "metadata": json.dumps({"thread_id": plan.session_id})}
        if plan.tags:
            context["tag.tags"] = tuple(plan.tags)
        end_ns = _ns(t0, plan.end)
        root = tracer.start_span("LangGraph", kind=SpanKind.INTERNAL, start_time=t0,
                                 attributes={**context, "openinference.span.kind": "CHAIN"})
        self._set_trace_id(plan, root)
        node = tracer.start_span(agent.name, context=trace_api.set_span_in_context(root),
                                 kind=SpanKind.INTERNAL, start_time=_ns(t0, 0.003),
                                 attributes={**context, "openinference.span.kind": "AGENT",
                                             "agent.name": agent.name})
        ctx = trace_api.set_span_in_context(node)
        for c in plan.calls:
            start, end = _ns(t0, c.start), _ns(t0, c.end)
            attrs = dict(context)
            if c.kind == "generation":
                assert c.model is not None
                m = MODELS[c.model]
                name = "ChatAnthropic" if m.provider == "anthropic" else "ChatOpenAI"
                attrs.update({"openinference.span.kind": "LLM", "llm.model_name": c.model,
                              "llm.provider": m.provider, "llm.system": m.provider,
                              "llm.invocation_parameters": json.dumps(
                                  {"model": c.model, "temperature": 0.0})})
                attrs.update(_tool_schemas(agent))
                if c.failure is None:
                    cin = (c.input_tokens or 0) * m.input_per_m / 1e6
                    cout = (c.output_tokens or 0) * m.output_per_m / 1e6
                    attrs.update({"llm.token_count.prompt": c.input_tokens,
                                  "llm.token_count.completion": c.output_tokens,
                                  "llm.token_count.total": (c.input_tokens or 0)
                                  + (c.output_tokens or 0),
                                  "llm.cost.prompt": cin, "llm.cost.completion": cout,
                                  "llm.cost.total": cin + cout})
            elif c.kind == "tool":
                assert c.tool is not None
                name = c.tool.name
                attrs.update({"openinference.span.kind": "TOOL", "tool.name": c.tool.name})
            else:
                name = "VectorStoreRetriever"
                attrs["openinference.span.kind"] = "RETRIEVER"
            span = tracer.start_span(name, context=ctx, kind=SpanKind.INTERNAL,
                                     attributes=attrs, start_time=start)
            if c.failure is not None:
                self._oi_error(span, c.failure, c.name, end)
            else:
                span.set_status(Status(StatusCode.OK))
            span.end(end_time=end)
            if c.kind == "tool":
                self._note_tool(plan, span, end)
        for span, where in ((node, agent.name.replace("-", "_")), (root, "graph")):
            f = plan.failure
            if f is not None:
                cancelled = plan.cut and where != "graph"
                self._oi_error(span, errors.CANCELLED if cancelled else f, where, end_ns)
            else:
                span.set_status(Status(StatusCode.OK))
            span.end(end_time=end_ns - (1000 if span is node else 0))

    # ---- the OpenAI Agents SDK under OpenInference's processor ----------------------------------

    @staticmethod
    def _agents_status(message: str, data: Mapping[str, Any]) -> Status:
        return Status(StatusCode.ERROR, f"{message}: {dict(data)}")

    def _openai_agents(self, plan: TracePlan, t0: int) -> None:
        agent = plan.agent
        tracer = self._tracer(agent, plan.environment,
                              "openinference.instrumentation.openai_agents", "1.2.0")
        context = {"session.id": plan.session_id, "user.id": plan.user_id}
        end_ns = _ns(t0, plan.end)
        root = tracer.start_span(agent.name, kind=SpanKind.INTERNAL, start_time=t0,
                                 attributes={**context, "openinference.span.kind": "AGENT"})
        self._set_trace_id(plan, root)
        node = tracer.start_span(agent.name, context=trace_api.set_span_in_context(root),
                                 kind=SpanKind.INTERNAL, start_time=_ns(t0, 0.002),
                                 attributes={**context, "openinference.span.kind": "AGENT",
                                             "llm.system": "openai", "agent.name": agent.name,
                                             "graph.node.id": agent.name})
        ctx = trace_api.set_span_in_context(node)
        for c in plan.calls:
            start, end = _ns(t0, c.start), _ns(t0, c.end)
            attrs: dict[str, Any] = {**context, "llm.system": "openai"}
            status = Status(StatusCode.OK)
            if c.kind == "generation":
                name = "response"
                attrs["openinference.span.kind"] = "LLM"
                if c.failure is None:
                    attrs.update({"llm.model_name": c.model, "llm.provider": "openai",
                                  "llm.token_count.prompt": c.input_tokens,
                                  "llm.token_count.completion": c.output_tokens,
                                  "llm.token_count.total": (c.input_tokens or 0)
                                  + (c.output_tokens or 0),
                                  "llm.token_count.prompt_details.cache_read": 0,
                                  "llm.token_count.completion_details.reasoning": 0})
                else:
                    status = self._agents_status("Error getting response",
                                                 {"error": c.failure.message})
            else:
                assert c.tool is not None
                name = c.tool.name
                attrs.update({"openinference.span.kind": "TOOL", "tool.name": c.tool.name})
                if c.failure is not None:
                    status = self._agents_status("Error running tool",
                                                 {"tool_name": c.tool.name,
                                                  "error": c.failure.message})
            span = tracer.start_span(name, context=ctx, kind=SpanKind.INTERNAL,
                                     attributes=attrs, start_time=start)
            span.set_status(status)
            span.end(end_time=end)
            if c.kind == "tool":
                self._note_tool(plan, span, end)
        if plan.failure is not None and not plan.cut:
            node.set_status(self._agents_status("Error in agent run",
                                                {"error": plan.failure.message}))
        else:
            node.set_status(Status(StatusCode.OK))
        node.end(end_time=end_ns - 1000)
        root.set_status(Status(StatusCode.OK))  # the processor ends every trace span OK
        root.end(end_time=end_ns)
