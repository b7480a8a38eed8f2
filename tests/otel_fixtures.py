"""Traces in the public span conventions, recorded by the OpenTelemetry SDK itself and encoded by
its OTLP exporter's own encoder (``encode_spans`` -> protobuf -> JSON).

Each builder records one or two agent requests the way the named instrumentation writes them
(attribute keys, span names and kinds, status, exception events): OpenTelemetry GenAI, OpenInference,
Langfuse's OTel attributes, and the OpenAI Agents SDK as its OpenInference and Logfire
instrumentations export it. Tests compare what a source reads back with
``conventions.observations(raw_from_spans(the same spans))``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from google.protobuf import json_format
from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

T0 = pd.Timestamp("2026-11-02T10:00:00Z")


class _Ids(RandomIdGenerator):
    """Deterministic ids; every third trace id starts with a zero nibble, every fifth is a
    64-bit id (upper half zero), the shapes Tempo's search strips."""

    def __init__(self, seed: int) -> None:
        import random

        self._r = random.Random(seed)
        self._n = 0

    def generate_span_id(self) -> int:
        return self._r.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        self._n += 1
        tid = self._r.getrandbits(128) or 1
        if self._n % 5 == 0:
            return tid & ((1 << 64) - 1) or 1
        if self._n % 3 == 0:
            return tid & ((1 << 124) - 1) or 1
        return tid


class Recorder:
    """Tracer providers per resource over one in-memory exporter."""

    def __init__(self, seed: int = 1) -> None:
        self.exporter = InMemorySpanExporter()
        self._ids = _Ids(seed)
        self._providers: list[TracerProvider] = []

    def tracer(self, resource: dict[str, Any], scope: str = "app",
               version: str | None = None) -> trace_api.Tracer:
        provider = TracerProvider(resource=Resource(resource), id_generator=self._ids,
                                  shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self._providers.append(provider)
        return provider.get_tracer(scope, version)

    @property
    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


def ns(seconds: float, base: pd.Timestamp = T0) -> int:
    return base.value + int(round(seconds * 1e6)) * 1000


def _child(tracer, name, parent, start, end, attrs=None, kind=SpanKind.INTERNAL, status=None,
           exception=None, events=(), links=()):
    ctx = trace_api.set_span_in_context(parent) if parent is not None else None
    span = tracer.start_span(name, context=ctx, kind=kind, attributes=attrs or {},
                             start_time=start, links=list(links))
    for ev_name, ev_attrs, ev_t in events:
        span.add_event(ev_name, ev_attrs, timestamp=ev_t)
    if exception is not None:
        span.record_exception(exception, timestamp=end)
        span.set_status(Status(StatusCode.ERROR, f"{type(exception).__name__}: {exception}"))
    if status is not None:
        span.set_status(status)
    return span


# -- OpenTelemetry GenAI ------------------------------------------------------------------------

def genai(rec: Recorder, base: pd.Timestamp = T0) -> None:
    """An agent answering with a chat call, a tool that times out (exception event), a second
    chat call in the deprecated keys (``gen_ai.system``, ``prompt_tokens``), an evaluation result
    event, and usage rolled up on the agent span (which must not be counted twice)."""
    t = rec.tracer({"service.name": "support-svc", "service.version": "2.1.0",
                    "deployment.environment.name": "production"}, "opentelemetry.instrumentation.genai")
    root = _child(t, "invoke_agent support-bot", None, ns(0, base), None,
                  {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support-bot",
                   "gen_ai.provider.name": "openai", "gen_ai.conversation.id": "conv-17",
                   "user.id": "user-4", "gen_ai.usage.input_tokens": 2000,
                   "gen_ai.usage.output_tokens": 420})
    chat = _child(t, "chat gpt-4o", root, ns(0.1, base), None,
                  {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                   "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.provider.name": "openai",
                   "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 300,
                   "gen_ai.response.finish_reasons": ("tool_calls",),
                   "gen_ai.request.temperature": 0.2}, kind=SpanKind.CLIENT,
                  events=[("gen_ai.evaluation.result",
                           {"gen_ai.evaluation.name": "groundedness",
                            "gen_ai.evaluation.score.value": 0.25,
                            "gen_ai.evaluation.score.label": "not_grounded",
                            "gen_ai.evaluation.explanation": "the answer cites no document"},
                           ns(1.9, base))])
    chat.end(ns(1.4, base))
    tool = _child(t, "execute_tool get_weather", root, ns(1.5, base), None,
                  {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather",
                   "gen_ai.tool.call.id": "call_1", "gen_ai.tool.type": "function"},
                  exception=TimeoutError("weather API timed out after 5 s"))
    tool.end(ns(6.5, base))
    old = _child(t, "chat claude-sonnet-4-5", root, ns(6.6, base), None,
                 {"gen_ai.operation.name": "chat", "gen_ai.system": "anthropic",
                  "gen_ai.request.model": "claude-sonnet-4-5-20250929",
                  "gen_ai.usage.prompt_tokens": 800, "gen_ai.usage.completion_tokens": 120},
                 kind=SpanKind.CLIENT)
    old.end(ns(8.0, base))
    root.end(ns(8.1, base))
    # a second request of the same agent, quiet, in another environment
    t2 = rec.tracer({"service.name": "support-svc", "service.version": "2.2.0",
                     "deployment.environment.name": "staging"})
    r2 = _child(t2, "invoke_agent support-bot", None, ns(30, base), None,
                {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support-bot"})
    c2 = _child(t2, "chat gpt-4o-mini", r2, ns(30.1, base), None,
                {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
                 "gen_ai.usage.input_tokens": 300, "gen_ai.usage.output_tokens": 40},
                kind=SpanKind.CLIENT)
    c2.end(ns(31.0, base))
    e2 = _child(t2, "embeddings text-embedding-3-small", r2, ns(31.1, base), None,
                {"gen_ai.operation.name": "embeddings",
                 "gen_ai.request.model": "text-embedding-3-small",
                 "gen_ai.usage.input_tokens": 64}, kind=SpanKind.CLIENT)
    e2.end(ns(31.2, base))
    r2.end(ns(31.3, base))


# -- OpenInference ------------------------------------------------------------------------------

def openinference(rec: Recorder, base: pd.Timestamp = T0) -> None:
    """A research agent: AGENT with its children's tokens rolled up, an LLM call that reports
    its own cost (the price table must not replace it), a retriever, a tool and a reranker."""
    t = rec.tracer({"service.name": "research-svc", "deployment.environment.name": "production"},
                   "openinference.instrumentation.langchain")
    root = _child(t, "research-agent", None, ns(60, base), None,
                  {"openinference.span.kind": "AGENT", "agent.name": "research-agent",
                   "session.id": "sess-9", "user.id": "user-2", "tag.tags": ("beta", "eu"),
                   "input.value": "what changed?", "llm.token_count.total": 999})
    ret = _child(t, "retrieve", root, ns(60.1, base), None,
                 {"openinference.span.kind": "RETRIEVER", "input.value": "what changed?"})
    ret.end(ns(60.4, base))
    llm = _child(t, "ChatOpenAI", root, ns(60.5, base), None,
                 {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
                  "llm.provider": "openai", "llm.system": "openai",
                  "llm.token_count.prompt": 900, "llm.token_count.completion": 80,
                  "llm.token_count.total": 980, "llm.cost.total": 0.00042,
                  "llm.invocation_parameters": json.dumps({"temperature": 0}),
                  "output.value": "the release notes say ..."}, kind=SpanKind.CLIENT)
    llm.end(ns(62.0, base))
    tool = _child(t, "search", root, ns(62.1, base), None,
                  {"openinference.span.kind": "TOOL", "tool.name": "search",
                   "input.value": json.dumps({"q": "release"})},
                  status=Status(StatusCode.ERROR, "HTTP 429 Too Many Requests"))
    tool.end(ns(62.3, base))
    rr = _child(t, "rerank", root, ns(62.4, base), None, {"openinference.span.kind": "RERANKER"})
    rr.end(ns(62.5, base))
    root.end(ns(62.6, base))


# -- Langfuse OTel attributes -----------------------------------------------------------------

def langfuse_otel(rec: Recorder, base: pd.Timestamp = T0) -> None:
    """As the Langfuse SDKs write it over OTel: types, trace name, user and session, usage and
    cost details as JSON strings, level and status message, prompt name and version."""
    t = rec.tracer({"service.name": "checkout", "telemetry.sdk.language": "python",
                    "langfuse.release": "rel-7"}, "langfuse-sdk", "3.9.0")
    root = _child(t, "handle-checkout", None, ns(120, base), None,
                  {"langfuse.observation.type": "span", "langfuse.trace.name": "checkout-bot",
                   "langfuse.user.id": "u-77", "langfuse.session.id": "s-77",
                   "langfuse.trace.tags": ("vip",), "langfuse.environment": "production"})
    gen = _child(t, "draft-reply", root, ns(120.1, base), None,
                 {"langfuse.observation.type": "generation",
                  "langfuse.observation.model.name": "gpt-4.1",
                  "langfuse.observation.usage_details": json.dumps(
                      {"input": 500, "output": 50, "total": 550}),
                  "langfuse.observation.cost_details": json.dumps({"total": 0.0014}),
                  "langfuse.observation.prompt.name": "reply", "langfuse.observation.prompt.version": 3,
                  "langfuse.observation.level": "WARNING",
                  "langfuse.observation.status_message": "slow model"})
    gen.end(ns(121.5, base))
    gen2 = _child(t, "summarise", root, ns(121.6, base), None,
                  {"langfuse.observation.type": "generation",
                   "langfuse.observation.model.name": "gpt-4.1-mini",
                   "langfuse.observation.usage_details": json.dumps({"input": 200, "output": 20})})
    gen2.end(ns(122.0, base))
    tool = _child(t, "charge-card", root, ns(122.1, base), None,
                  {"langfuse.observation.type": "tool",
                   "langfuse.observation.level": "ERROR",
                   "langfuse.observation.status_message": "Rate limit reached for payments"})
    tool.end(ns(122.4, base))
    root.end(ns(122.5, base))


# -- OpenAI Agents SDK --------------------------------------------------------------------------

def agents_openinference(rec: Recorder, base: pd.Timestamp = T0) -> None:
    """The OpenAI Agents SDK's trace through OpenInference's instrumentation: the workflow as a
    root AGENT span, agent, response (LLM), function (TOOL), handoff (TOOL) and guardrail spans."""
    t = rec.tracer({"service.name": "agents-app"}, "openinference.instrumentation.openai_agents")
    root = _child(t, "Agent workflow", None, ns(180, base), None,
                  {"openinference.span.kind": "AGENT"})
    agent = _child(t, "Triage", root, ns(180.01, base), None,
                   {"openinference.span.kind": "AGENT", "agent.name": "Triage",
                    "graph.node.id": "Triage"})
    resp = _child(t, "response", agent, ns(180.02, base), None,
                  {"openinference.span.kind": "LLM", "llm.system": "openai",
                   "llm.provider": "openai", "llm.model_name": "gpt-4o",
                   "llm.token_count.prompt": 640, "llm.token_count.completion": 55,
                   "llm.token_count.total": 695,
                   "llm.token_count.prompt_details.cache_read": 128}, kind=SpanKind.CLIENT)
    resp.end(ns(181.0, base))
    fn = _child(t, "get_weather", agent, ns(181.1, base), None,
                {"openinference.span.kind": "TOOL", "tool.name": "get_weather",
                 "input.value": json.dumps({"city": "Oslo"}), "output.value": "4C"})
    fn.end(ns(181.3, base))
    hand = _child(t, "handoff to Billing", agent, ns(181.4, base), None,
                  {"openinference.span.kind": "TOOL"})
    hand.end(ns(181.41, base))
    guard = _child(t, "pii_check", agent, ns(181.5, base), None,
                   {"openinference.span.kind": "GUARDRAIL"},
                   status=Status(StatusCode.ERROR,
                                 "Guardrail tripwire triggered: {'guardrail': 'pii_check'}"))
    guard.end(ns(181.6, base))
    agent.end(ns(181.7, base))
    root.end(ns(181.8, base))


def agents_logfire(rec: Recorder, base: pd.Timestamp = T0) -> None:
    """The same SDK through Logfire's instrumentation: span names are message templates, the
    rendered text is in ``logfire.msg``, response spans carry GenAI usage keys."""
    t = rec.tracer({"service.name": "agents-logfire"}, "logfire.openai_agents")
    root = _child(t, "OpenAI Agents trace: {name}", None, ns(240, base), None,
                  {"logfire.msg": "OpenAI Agents trace: Agent workflow", "name": "Agent workflow"})
    agent = _child(t, "Agent run: {name!r}", root, ns(240.01, base), None,
                   {"logfire.msg": "Agent run: 'Triage'", "name": "Triage",
                    "handoffs": ("Billing",), "tools": ("get_weather",), "gen_ai.system": "openai"})
    resp = _child(t, "Responses API with {gen_ai.request.model!r}", agent, ns(240.02, base), None,
                  {"logfire.msg": "Responses API with 'gpt-4o'", "gen_ai.system": "openai",
                   "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
                   "gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 410,
                   "gen_ai.usage.output_tokens": 33, "response_id": "resp_1"})
    resp.end(ns(241.0, base))
    fn = _child(t, "Function: {name}", agent, ns(241.1, base), None,
                {"logfire.msg": "Function: get_weather", "name": "get_weather",
                 "input": json.dumps({"city": "Oslo"}), "output": "4C"},
                exception=TimeoutError("Tool 'get_weather' timed out after 5 seconds."))
    fn.end(ns(246.1, base))
    hand = _child(t, "Handoff: {from_agent} → {to_agent}", agent, ns(246.2, base), None,
                  {"logfire.msg": "Handoff: Triage → Billing", "from_agent": "Triage",
                   "to_agent": "Billing"})
    hand.end(ns(246.21, base))
    guard = _child(t, "Guardrail {name!r} {triggered=}", agent, ns(246.3, base), None,
                   {"logfire.msg": "Guardrail 'pii_check' triggered=False", "name": "pii_check",
                    "triggered": False})
    guard.end(ns(246.4, base))
    agent.end(ns(246.5, base))
    root.end(ns(246.6, base), )


# -- prompt caches -------------------------------------------------------------------------------

def prompt_cache(rec: Recorder, base: pd.Timestamp = T0) -> None:
    """Prompt-cache usage in each convention: three requests of one GenAI agent with the same
    10,000 input tokens (8,000 read from the cache, 8,000 written to it, no cache), an
    OpenInference LLM call reading and writing the cache, and a Langfuse SDK generation whose
    usage details keep the cached part out of ``input``. Not in :data:`BUILDERS`."""
    t = rec.tracer({"service.name": "cache-svc", "deployment.environment.name": "production"},
                   "opentelemetry.instrumentation.anthropic")
    usage = {"hit": {"gen_ai.usage.cache_read.input_tokens": 8000},
             "write": {"gen_ai.usage.cache_creation.input_tokens": 8000}, "miss": {}}
    for i, (name, cache) in enumerate(usage.items()):
        root = _child(t, f"invoke_agent cache-bot {name}", None, ns(400 + 10 * i, base), None,
                      {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "cache-bot"})
        chat = _child(t, f"chat {name}", root, ns(400.1 + 10 * i, base), None,
                      {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                       "gen_ai.request.model": "claude-sonnet-4-5",
                       "gen_ai.response.model": "claude-sonnet-4-5-20250929",
                       "gen_ai.usage.input_tokens": 10000, "gen_ai.usage.output_tokens": 200,
                       **cache}, kind=SpanKind.CLIENT)
        chat.end(ns(402.0 + 10 * i, base))
        root.end(ns(402.1 + 10 * i, base))
    oi = rec.tracer({"service.name": "cache-oi"}, "openinference.instrumentation.anthropic")
    llm = _child(oi, "Messages", None, ns(440, base), None,
                 {"openinference.span.kind": "LLM", "llm.provider": "anthropic",
                  "llm.model_name": "claude-haiku-4-5-20251001", "llm.token_count.prompt": 5000,
                  "llm.token_count.completion": 100, "llm.token_count.total": 5100,
                  "llm.token_count.prompt_details.cache_read": 3000,
                  "llm.token_count.prompt_details.cache_write": 1000}, kind=SpanKind.CLIENT)
    llm.end(ns(441, base))
    lf = rec.tracer({"service.name": "cache-lf"}, "langfuse-sdk", "3.9.0")
    gen = _child(lf, "cached-answer", None, ns(450, base), None,
                 {"langfuse.observation.type": "generation",
                  "langfuse.observation.model.name": "gpt-4o",
                  "langfuse.observation.usage_details": json.dumps(
                      {"input": 400, "input_cached_tokens": 1600, "output": 50,
                       "total": 2050})})
    gen.end(ns(451, base))


# -- reasoning and audio output tokens ----------------------------------------------------------

def reasoning(rec: Recorder, base: pd.Timestamp = T0) -> None:
    """Reasoning (and audio) output tokens in each convention, each counted inside the output
    count: a GenAI chat with gen_ai.usage.reasoning.output_tokens, OpenInference LLM calls
    with llm.token_count.completion_details.reasoning and .audio, and Langfuse SDK generations
    whose usage details keep the reasoning tokens out of ``output`` (Langfuse's
    output_reasoning_tokens, and Genkit's output_reasoning). Not in :data:`BUILDERS`."""
    t = rec.tracer({"service.name": "reason-svc", "deployment.environment.name": "production"},
                   "opentelemetry.instrumentation.openai_v2")
    chat = _child(t, "chat o4-mini", None, ns(500, base), None,
                  {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                   "gen_ai.request.model": "o4-mini", "gen_ai.response.model": "o4-mini",
                   "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 3000,
                   "gen_ai.usage.reasoning.output_tokens": 2500}, kind=SpanKind.CLIENT)
    chat.end(ns(512, base))
    oi = rec.tracer({"service.name": "reason-oi"}, "openinference.instrumentation.openai")
    llm = _child(oi, "ChatCompletion", None, ns(520, base), None,
                 {"openinference.span.kind": "LLM", "llm.provider": "openai",
                  "llm.model_name": "o3-2025-04-16", "llm.token_count.prompt": 500,
                  "llm.token_count.completion": 1200, "llm.token_count.total": 1700,
                  "llm.token_count.completion_details.reasoning": 1000}, kind=SpanKind.CLIENT)
    llm.end(ns(525, base))
    audio = _child(oi, "AudioCompletion", None, ns(530, base), None,
                   {"openinference.span.kind": "LLM", "llm.provider": "openai",
                    "llm.model_name": "gpt-4o", "llm.token_count.prompt": 100,
                    "llm.token_count.completion": 600, "llm.token_count.total": 700,
                    "llm.token_count.completion_details.audio": 400}, kind=SpanKind.CLIENT)
    audio.end(ns(532, base))
    lf = rec.tracer({"service.name": "reason-lf"}, "langfuse-sdk", "3.9.0")
    for i, (name, model, usage) in enumerate((
            ("reasoned-answer", "gpt-5-mini", {"input": 400, "output": 100,
                                               "output_reasoning_tokens": 900, "total": 1400}),
            ("thought-answer", "gemini-2.5-flash", {"input": 50, "output": 20,
                                                    "output_reasoning": 30, "total": 100}))):
        gen = _child(lf, name, None, ns(540 + 10 * i, base), None,
                     {"langfuse.observation.type": "generation",
                      "langfuse.observation.model.name": model,
                      "langfuse.observation.usage_details": json.dumps(usage)})
        gen.end(ns(541 + 10 * i, base))


# -- audio and predicted-output tokens ----------------------------------------------------------

#: The OpenAI chat completion usage object of an audio reply to an audio prompt that also used a
#: predicted output, as the API returns it: every detail is part of prompt_tokens /
#: completion_tokens (rejected prediction tokens are billed as completion tokens too).
OPENAI_AUDIO_USAGE = {
    "prompt_tokens": 1200, "completion_tokens": 900, "total_tokens": 2100,
    "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 300},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 400,
                                  "accepted_prediction_tokens": 150,
                                  "rejected_prediction_tokens": 50}}


def audio(rec: Recorder, base: pd.Timestamp = T0) -> None:
    """Audio and predicted-output tokens in each convention: Langfuse SDK generations (the
    Python SDK's OpenAI integration sends the usage object as it is; the JS SDK's flattens it
    into Langfuse usage types, each detail taken off ``input`` / ``output``), an OpenInference
    LLM call with prompt_details.audio and completion_details.audio / .reasoning, and a GenAI
    chat with gen_ai.usage.audio.input_tokens / .output_tokens (subsets of the input / output
    counts). Not in :data:`BUILDERS`."""
    lf = rec.tracer({"service.name": "voice-lf"}, "langfuse-sdk", "3.9.0")
    flattened = {"input": 500, "output": 120, "total": 800, "input_cached_tokens": 0,
                 "input_audio_tokens": 0, "output_reasoning_tokens": 0,
                 "output_audio_tokens": 0, "output_accepted_prediction_tokens": 120,
                 "output_rejected_prediction_tokens": 60}
    for i, (name, model, usage) in enumerate((("voice-answer", "gpt-4o", OPENAI_AUDIO_USAGE),
                                              ("predicted-edit", "gpt-4o-mini", flattened))):
        gen = _child(lf, name, None, ns(600 + 10 * i, base), None,
                     {"langfuse.observation.type": "generation",
                      "langfuse.observation.model.name": model,
                      "langfuse.observation.usage_details": json.dumps(usage)})
        gen.end(ns(602 + 10 * i, base))
    oi = rec.tracer({"service.name": "voice-oi"}, "openinference.instrumentation.openai")
    llm = _child(oi, "AudioChat", None, ns(620, base), None,
                 {"openinference.span.kind": "LLM", "llm.provider": "openai",
                  "llm.model_name": "gpt-4o", "llm.token_count.prompt": 300,
                  "llm.token_count.completion": 600, "llm.token_count.total": 900,
                  "llm.token_count.prompt_details.audio": 120,
                  "llm.token_count.completion_details.audio": 400,
                  "llm.token_count.completion_details.reasoning": 100}, kind=SpanKind.CLIENT)
    llm.end(ns(623, base))
    t = rec.tracer({"service.name": "voice-genai"}, "opentelemetry.instrumentation.openai_v2")
    chat = _child(t, "chat gpt-4o", None, ns(630, base), None,
                  {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                   "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 250,
                   "gen_ai.usage.output_tokens": 500, "gen_ai.usage.audio.input_tokens": 200,
                   "gen_ai.usage.audio.output_tokens": 450}, kind=SpanKind.CLIENT)
    chat.end(ns(633, base))


def provider_usage(rec: Recorder, base: pd.Timestamp = T0) -> None:
    """Langfuse SDK generations whose usage details are a provider's usage object as the
    Langfuse Python SDK sends it: OpenAI responses (input_tokens counts the cached input) and
    Anthropic messages (input_tokens leaves the cache reads and writes out). Not in
    :data:`BUILDERS`."""
    lf = rec.tracer({"service.name": "usage-lf"}, "langfuse-sdk", "3.9.0")
    for i, (name, model, usage) in enumerate((
            ("responses-answer", "o3", {
                "input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500,
                "input_tokens_details": {"cached_tokens": 400},
                "output_tokens_details": {"reasoning_tokens": 300}}),
            ("messages-answer", "claude-sonnet-4.5", {
                "input_tokens": 50, "output_tokens": 200, "cache_read_input_tokens": 1000,
                "cache_creation_input_tokens": 300}))):
        gen = _child(lf, name, None, ns(700 + 10 * i, base), None,
                     {"langfuse.observation.type": "generation",
                      "langfuse.observation.model.name": model,
                      "langfuse.observation.usage_details": json.dumps(usage)})
        gen.end(ns(702 + 10 * i, base))


def openllmetry(rec: Recorder, base: pd.Timestamp = T0) -> None:
    """As OpenLLMetry (the Traceloop SDK) writes it: spans of decorated functions named
    "<name>.<kind>" with ``traceloop.span.kind``, ``traceloop.entity.name`` and the
    ``traceloop.workflow.name`` they run in, association properties for user and session, and
    its OpenAI instrumentation's "openai.chat" span (``llm.request.type``, ``gen_ai.system``,
    the older ``gen_ai.usage.prompt_tokens`` / ``completion_tokens``, ``llm.usage.total_tokens``).
    A tool's time-out is an exception event and an ERROR status. Not in :data:`BUILDERS`."""
    t = rec.tracer({"service.name": "helpdesk-api"}, "traceloop.tracer", "0.47.3")
    flow = {"traceloop.workflow.name": "order_support",
            "traceloop.association.properties.user_id": "u-9",
            "traceloop.association.properties.session_id": "chat-9"}
    root = _child(t, "order_support.workflow", None, ns(600, base), None,
                  {"traceloop.span.kind": "workflow", "traceloop.entity.name": "order_support",
                   "traceloop.entity.path": "", **flow})
    agent = _child(t, "triage.agent", root, ns(600.01, base), None,
                   {"traceloop.span.kind": "agent", "traceloop.entity.name": "triage",
                    "traceloop.entity.path": "order_support", **flow})
    chat = _child(t, "openai.chat", agent, ns(600.02, base), None,
                  {"llm.request.type": "chat", "gen_ai.system": "openai",
                   "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini",
                   "gen_ai.usage.prompt_tokens": 900, "gen_ai.usage.completion_tokens": 70,
                   "llm.usage.total_tokens": 970, "gen_ai.prompt.0.role": "user",
                   "gen_ai.prompt.0.content": "Where is order 1187?", **flow},
                  kind=SpanKind.CLIENT)
    chat.end(ns(601.2, base))
    tool = _child(t, "lookup_order.tool", agent, ns(601.3, base), None,
                  {"traceloop.span.kind": "tool", "traceloop.entity.name": "lookup_order",
                   "traceloop.entity.path": "order_support.triage", **flow},
                  exception=TimeoutError("httpx.ReadTimeout: The read operation timed out"))
    tool.end(ns(609.3, base))
    agent.end(ns(609.4, base))
    root.end(ns(609.5, base))


def strands(rec: Recorder, base: pd.Timestamp = T0) -> None:
    """As Strands Agents' tracer writes an agent run: ``invoke_agent`` >
    ``execute_event_loop_cycle`` > ``chat`` and ``execute_tool <name>``. A tool that raised is handed back to the model as an
    error result: its span ends with status OK and ``gen_ai.tool.status`` "error"; a tool that
    answered says "success". Not in :data:`BUILDERS`."""
    t = rec.tracer({"service.name": "trip-desk"}, "strands.telemetry.tracer")
    common = {"gen_ai.system": "strands-agents", "gen_ai.agent.name": "trip_desk"}
    root = _child(t, "invoke_agent trip_desk", None, ns(900, base), None,
                  {"gen_ai.operation.name": "invoke_agent", **common,
                   "gen_ai.request.model": "us.anthropic.claude-sonnet-4-20250514-v1:0"})
    cycle = _child(t, "execute_event_loop_cycle", root, ns(900.01, base), None,
                   {"event_loop.cycle_id": "c-1"})
    chat = _child(t, "chat", cycle, ns(900.02, base), None,
                  {"gen_ai.operation.name": "chat", "gen_ai.system": "strands-agents",
                   "gen_ai.request.model": "us.anthropic.claude-sonnet-4-20250514-v1:0",
                   "gen_ai.usage.input_tokens": 1500, "gen_ai.usage.output_tokens": 90},
                  kind=SpanKind.CLIENT)
    chat.end(ns(902.0, base))
    for i, (tool, outcome) in enumerate((("flight_search", "error"),
                                         ("hotel_search", "success"))):
        span = _child(t, f"execute_tool {tool}", cycle, ns(902.1 + i, base), None,
                      {"gen_ai.operation.name": "execute_tool", "gen_ai.system": "strands-agents",
                       "gen_ai.tool.name": tool, "gen_ai.tool.call.id": f"tooluse_{i}"},
                      events=[("gen_ai.tool.message", {"role": "tool", "id": f"tooluse_{i}"},
                               ns(902.1 + i, base))])
        span.set_attribute("gen_ai.tool.status", outcome)
        span.set_status(Status(StatusCode.OK))
        span.end(ns(902.9 + i, base))
    cycle.end(ns(904.0, base))
    root.end(ns(904.1, base))


BUILDERS: dict[str, Callable[[Recorder, pd.Timestamp], None]] = {
    "genai": genai, "openinference": openinference, "langfuse_otel": langfuse_otel,
    "agents_openinference": agents_openinference, "agents_logfire": agents_logfire,
}


def record(*names: str, seed: int = 1, base: pd.Timestamp = T0) -> list[ReadableSpan]:
    """Spans of the named conventions (all when none are named)."""
    rec = Recorder(seed)
    for name in names or tuple(BUILDERS):
        BUILDERS[name](rec, base)
    return rec.spans


def linked(rec: Recorder, base: pd.Timestamp = T0) -> None:
    """A batch job span linked to two request spans (links of another trace)."""
    t = rec.tracer({"service.name": "batcher"})
    a = _child(t, "request a", None, ns(300, base), None)
    a.end(ns(300.1, base))
    b = _child(t, "request b", None, ns(300.2, base), None)
    b.end(ns(300.3, base))
    job = _child(t, "batch", None, ns(301, base), None, links=[
        Link(a.get_span_context(), {"why": "batched"}), Link(b.get_span_context())])
    job.end(ns(302, base))


# -- encoding -----------------------------------------------------------------------------------

def otlp_dict(spans: Sequence[ReadableSpan], ids: str = "base64") -> dict[str, Any]:
    """The OTLP exporter's protobuf of ``spans`` as JSON: ids base64 (protobuf's mapping, as
    Tempo's trace-by-id writes them) or hex (the OTLP/HTTP JSON rule)."""
    body = json_format.MessageToDict(encode_spans(list(spans)))
    if ids == "hex":
        for rs in body.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in sp:
                            sp[key] = base64.b64decode(sp[key]).hex().upper()
                    for link in sp.get("links", []):
                        for key in ("traceId", "spanId"):
                            link[key] = base64.b64decode(link[key]).hex()
    return body
