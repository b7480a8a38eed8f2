"""A second blind dataset: four agents traced the way other public frameworks trace them.

Written from the frameworks' public documentation and source, independently of the detectors
and of ``blind_data.py`` (only its public dataclasses are shared), so that a blind spot shared by
the detectors and the first dataset shows up here:

* ``shop-assistant``: Vercel AI SDK v5 ``generateText`` with tools (scope ``ai``):
  ``ai.generateText`` > ``ai.generateText.doGenerate`` (one span per attempt: the SDK retries
  outside the span) and ``ai.toolCall``; ``ai.telemetry.metadata.*`` carries user, session,
  tags and the Langfuse prompt; a tool that hits ``AbortSignal.timeout`` fails its
  ``ai.toolCall`` span with a ``TimeoutError`` and the model answers from the tool error.
* ``claims-triage``: Pydantic AI 1.x (scope ``pydantic-ai``): ``invoke_agent claims-triage``
  (``logfire.msg`` "claims-triage run", ``gen_ai.aggregated_usage.*``) > ``chat
  claude-sonnet-4-5`` and ``execute_tool <name>``; an unhandled tool exception fails the run.
* ``research-graph``: a LangGraph ReAct graph traced by the Langfuse Python SDK v3
  ``CallbackHandler`` (scope ``langfuse-sdk``): the root run named by ``run_name``, ``agent``
  and ``tools`` nodes, ``ChatOpenAI`` generations (o4-mini plans, gpt-4.1-mini summarises) whose
  ``usage_details`` are the handler's disjoint keys (``output_reasoning``), tool runs; a failing
  tool is an ERROR observation the graph carries on from (ToolNode handles tool errors).
* ``support-bot``: the Langfuse Python SDK ``@observe`` decorator with its OpenAI integration
  and prompt management (``OpenAI-generation`` linked to ``support-answer`` /
  ``support-intent``), ``langfuse.trace.name``, release, environment, user and session
  propagated to every span; the OpenAI usage object is sent as it comes (Langfuse normalises
  it server side).

Judges as teams configure them: a CATEGORICAL Langfuse LLM-as-judge ``groundedness``
(grounded | partially_grounded | hallucinated) on support-bot, a NUMERIC ragas
``faithfulness`` on the claims-triage answer generation, a BOOLEAN ``helpful`` evaluator on the
shop assistant (not a correctness judge), and thumbs ``user-feedback`` from the research UI.

Incidents, each a shape of its own: ``timeout_surge`` (the shop assistant's ``getOrderStatus``
tool aborts on its timeout ``magnitude`` times as often), ``cost_spike`` (research-graph's
o4-mini planner moves to a higher reasoning effort: reasoning tokens make each o4-mini call cost
``magnitude`` times as much), ``hallucination_spike`` (``support-answer`` version 15 ships and
the judge's hallucinated rate rises ``magnitude``-fold under it until it is rolled back to 14).
"""

from __future__ import annotations

import json
import math
import random
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from blind_data import (DEFAULT_HOURS, BlindData, Incident, Label, SeededIds, check_incidents,
                        model_prices, ns_micros)

__all__ = ["AGENTS", "PRICES", "generate"]

AGENTS = ("shop-assistant", "claims-triage", "research-graph", "support-bot")
#: weekday traces per agent, and the share kept on Saturdays and Sundays
VOLUME = {"shop-assistant": 420, "claims-triage": 160, "research-graph": 120, "support-bot": 520}
WEEKEND = {"shop-assistant": 0.75, "claims-triage": 0.3, "research-graph": 0.4,
           "support-bot": 0.5}
#: relative traffic per UTC hour: US business hours and evening peak, a deep night trough
HOURLY = np.array([0.55, 0.45, 0.35, 0.25, 0.15, 0.08, 0.05, 0.05, 0.06, 0.08, 0.12, 0.2,
                   0.35, 0.55, 0.8, 0.95, 1.0, 1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.65])

ORDER_TOOL_TIMEOUT_P = 0.05    # getOrderStatus calls aborted by AbortSignal.timeout(4000)
WEB_SEARCH_TIMEOUT_P = 0.02    # research web_search calls hitting the read timeout
CLAIM_FETCH_TIMEOUT_P = 0.008  # claims-triage history fetches timing out (fails the run)
OPENAI_TIMEOUT_P = 0.004       # support-bot answers whose OpenAI call times out after retries
HALLUCINATED_P = 0.07          # support-bot answers the judge calls hallucinated
UNFAITHFUL_P = 0.07            # claims-triage answers with ragas faithfulness < 0.5
JUDGED = {"support-bot": 0.25, "claims-triage": 0.2, "shop-assistant": 0.15}
FEEDBACK_P = 0.04              # research-graph answers the user rated

ANSWER_PROMPT = "support-answer"
INTENT_PROMPT = "support-intent"
INCIDENT_PROMPT_VERSION = 15

# Public list prices, USD per 1M tokens (input, output); reasoning tokens bill as output.
_PRICE_ROWS = (("gpt-4.1", 2.00, 8.00), ("gpt-4.1-mini", 0.40, 1.60), ("o4-mini", 1.10, 4.40),
               ("claude-sonnet-4-5", 3.00, 15.00))
_USD = {m: (i / 1e6, o / 1e6) for m, i, o in _PRICE_ROWS}
_SNAPSHOT = {"gpt-4.1": "gpt-4.1-2025-04-14", "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
             "o4-mini": "o4-mini-2025-04-16", "claude-sonnet-4-5": "claude-sonnet-4-5-20250929"}

LANGFUSE_SDK_VERSION = "3.10.1"
PYDANTIC_AI_VERSION = "1.4.0"


def _prices() -> tuple[Any, ...]:
    """The project's model table in the double's shape: dated snapshots match their model."""
    rows = []
    for model, inp, outp in _PRICE_ROWS:
        provider = r"(anthropic/)?" if model.startswith("claude") else r"(openai/)?"
        suffix = r"(-\d{8})?" if model.startswith("claude") else r"(-\d{4}-\d{2}-\d{2})?"
        rows.append((model, inp, outp, rf"(?i)^{provider}({re.escape(model)}){suffix}$"))
    return model_prices(rows)


PRICES = _prices()


def _cost(model: str, inp: int, out: int, reasoning: int = 0) -> float:
    pin, pout = _USD[model]
    return inp * pin + (out + reasoning) * pout


# ---- spans ---------------------------------------------------------------------------------------

class _Spans:
    """One TracerProvider per service (its resource), one tracer per instrumentation scope, all
    into one in-memory exporter; spans made with explicit start and end times."""

    def __init__(self, seed: int) -> None:
        self.exporter = InMemorySpanExporter()
        self._ids = SeededIds(random.Random(seed))
        self._providers: dict[str, TracerProvider] = {}
        self._tracers: dict[tuple[str, str], Any] = {}

    def tracer(self, resource: dict[str, Any], scope: str, version: str | None = None,
               scope_attrs: dict[str, Any] | None = None) -> Any:
        service = resource["service.name"]
        key = (service, scope)
        if key not in self._tracers:
            if service not in self._providers:
                p = TracerProvider(resource=Resource.create(resource), id_generator=self._ids,
                                   shutdown_on_exit=False)
                p.add_span_processor(SimpleSpanProcessor(self.exporter))
                self._providers[service] = p
            self._tracers[key] = self._providers[service].get_tracer(
                scope, version, attributes=scope_attrs)
        return self._tracers[key]

    def spans(self) -> list[Any]:
        return list(self.exporter.get_finished_spans())


def _open(tracer: Any, name: str, start: float, attrs: dict[str, Any], parent: Any = None,
          kind: SpanKind = SpanKind.INTERNAL) -> Any:
    ctx = otel_trace.set_span_in_context(parent) if parent is not None else Context()
    return tracer.start_span(name, context=ctx, kind=kind, attributes=attrs,
                             start_time=ns_micros(start))


def _fail(span: Any, at: float, exc_type: str, message: str,
          description: str | None = None) -> None:
    """As ``Span.record_exception`` + ``set_status(ERROR)`` leave it."""
    span.add_event("exception", {"exception.type": exc_type, "exception.message": message,
                                 "exception.stacktrace": f"{exc_type}: {message}",
                                 "exception.escaped": "False"}, timestamp=ns_micros(at))
    span.set_status(Status(StatusCode.ERROR, description if description is not None
                           else message))


def _close(span: Any, end: float, attrs: dict[str, Any] | None = None) -> None:
    if attrs:
        span.set_attributes(attrs)
    span.end(end_time=ns_micros(end))


# ---- one trace -----------------------------------------------------------------------------------

@dataclass
class _State:
    """What the incidents change for one trace."""

    order_timeout_p: float = ORDER_TOOL_TIMEOUT_P
    o4_cost_factor: float = 1.0
    answer_version: int = 14
    hallucinated_p: float = HALLUCINATED_P


@dataclass
class _Trace:
    agent: str
    trace_id: str = ""
    start: float = 0.0
    end: float = 0.0
    timeout: bool = False
    error: bool = False
    cost: float = 0.0
    judge_span: str | None = None   # observation a judge scores (None: the trace)
    scores: list[dict[str, Any]] = field(default_factory=list)
    scored: bool = False
    bad: bool | None = None


def _ln(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _tok(rng: random.Random, median: float, sigma: float = 0.35) -> int:
    return max(1, int(round(_ln(rng, median, sigma))))


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _tid(span: Any) -> str:
    return format(span.get_span_context().trace_id, "032x")


def _sid(span: Any) -> str:
    return format(span.get_span_context().span_id, "016x")


_VERCEL_RESOURCE = {"service.name": "storefront-web", "service.version": "4.12.0",
                    "deployment.environment.name": "production",
                    "telemetry.sdk.language": "nodejs", "telemetry.sdk.name": "opentelemetry",
                    "telemetry.sdk.version": "2.0.1", "process.runtime.name": "nodejs"}
_SHOP_TOOLS = (("searchProducts", 0.6, 0.35), ("getOrderStatus", 0.7, 0.6),
               ("checkInventory", 0.3, 0.25))


def _shop(out: _Spans, rng: random.Random, t0: float, st: _State, users: list[str]) -> _Trace:
    """Vercel AI SDK v5 generateText with tools and stopWhen: one doGenerate per attempt."""
    tr = out.tracer(_VERCEL_RESOURCE, "ai")
    fid = "shop-assistant"
    user = rng.choice(users)
    base = {"ai.telemetry.functionId": fid, "resource.name": fid,
            "ai.model.id": "gpt-4.1-mini", "ai.model.provider": "openai.responses",
            "ai.settings.maxRetries": 2,
            "ai.telemetry.metadata.userId": user,
            "ai.telemetry.metadata.sessionId": f"chat_{_hex(rng, 12)}",
            "ai.telemetry.metadata.tags": ["storefront", rng.choice(["web", "ios", "android"])],
            "ai.telemetry.metadata.langfusePrompt": json.dumps(
                {"name": "shop-assistant-system", "version": 7, "isFallback": False}),
            "ai.telemetry.metadata.route": "/api/chat"}
    t = _Trace("shop-assistant")
    root = _open(tr, "ai.generateText", t0, {
        **base, "operation.name": f"ai.generateText {fid}", "ai.operationId": "ai.generateText"})
    t.trace_id = _tid(root)
    now = t0 + rng.uniform(0.005, 0.03)
    history = _tok(rng, 1900, 0.3)
    tools = [(n, md) for n, p, md in _SHOP_TOOLS if rng.random() < p]
    steps = [tools, []] if tools else [[]]
    tot_in = tot_out = 0
    for i, step_tools in enumerate(steps):
        while True:  # attempts: the SDK's retry wraps the doGenerate span
            out_tok = (_tok(rng, 25 * len(step_tools) + 20, 0.3) if step_tools
                       else _tok(rng, 170, 0.45))
            dur = 0.35 + out_tok * 0.011 * _ln(rng, 1.0, 0.25)
            gen_attrs = {**base, "operation.name": f"ai.generateText.doGenerate {fid}",
                         "ai.operationId": "ai.generateText.doGenerate",
                         "gen_ai.system": "openai.responses",
                         "gen_ai.request.model": "gpt-4.1-mini"}
            g = _open(tr, "ai.generateText.doGenerate", now, gen_attrs, root)
            if rng.random() < 0.012:
                end = now + _ln(rng, 1.2, 0.5)
                _fail(g, end, "AI_APICallError",
                      "The server had an error while processing your request. Sorry about that!")
                _close(g, end)
                now = end + 2.0 * _ln(rng, 1.0, 0.1)  # first retry after ~2 s
                continue
            finish = "tool-calls" if step_tools else "stop"
            resp_id = f"resp_{_hex(rng, 24)}"
            _close(g, now + dur, {
                "ai.response.finishReason": finish, "ai.response.id": resp_id,
                "ai.response.model": _SNAPSHOT["gpt-4.1-mini"],
                "ai.response.timestamp": pd.Timestamp(now + dur, unit="s", tz="UTC").isoformat(),
                "ai.usage.inputTokens": history, "ai.usage.outputTokens": out_tok,
                "ai.usage.totalTokens": history + out_tok,
                "gen_ai.response.finish_reasons": [finish], "gen_ai.response.id": resp_id,
                "gen_ai.response.model": _SNAPSHOT["gpt-4.1-mini"],
                "gen_ai.usage.input_tokens": history, "gen_ai.usage.output_tokens": out_tok})
            tot_in += history
            tot_out += out_tok
            t.cost += _cost("gpt-4.1-mini", history, out_tok)
            t.judge_span = _sid(g)
            now += dur
            break
        longest = 0.0
        for name, median in step_tools:
            call = f"call_{_hex(rng, 24)}"
            ts = now + rng.uniform(0.001, 0.01)
            sp = _open(tr, "ai.toolCall", ts, {  # operation name only: no model, no metadata
                "operation.name": f"ai.toolCall {fid}", "resource.name": fid,
                "ai.operationId": "ai.toolCall", "ai.telemetry.functionId": fid,
                "ai.toolCall.name": name, "ai.toolCall.id": call,
                "ai.toolCall.args": json.dumps({"query": "order"} if name != "getOrderStatus"
                                               else {"orderId": f"ord_{_hex(rng, 8)}"})}, root)
            if name == "getOrderStatus" and rng.random() < st.order_timeout_p:
                te = ts + 4.0 + rng.uniform(0.001, 0.02)
                _fail(sp, te, "TimeoutError", "The operation was aborted due to timeout")
                _close(sp, te)
                t.timeout = True
                result_tokens = 40
            else:
                te = ts + _ln(rng, median, 0.5)
                _close(sp, te, {"ai.toolCall.result": json.dumps({"ok": True})})
                result_tokens = _tok(rng, 350, 0.5)
            history += result_tokens
            longest = max(longest, te - now)
        now += longest
        history += 60
    end = now + rng.uniform(0.002, 0.02)
    _close(root, end, {"ai.response.finishReason": "stop", "ai.usage.inputTokens": tot_in,
                       "ai.usage.outputTokens": tot_out,
                       "ai.usage.totalTokens": tot_in + tot_out})
    t.start, t.end = t0, end
    return t


_PYDANTIC_RESOURCE = {"service.name": "claims-worker", "service.version": "0.31.2",
                      "deployment.environment.name": "production",
                      "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry",
                      "telemetry.sdk.version": "1.37.0"}


def _claims(out: _Spans, rng: random.Random, t0: float, st: _State) -> _Trace:
    """Pydantic AI 1.x, default instrumentation (invoke_agent / chat / execute_tool)."""
    tr = out.tracer(_PYDANTIC_RESOURCE, "pydantic-ai", PYDANTIC_AI_VERSION)
    name, model = "claims-triage", "claude-sonnet-4-5"
    call_id = str(uuid.UUID(int=rng.getrandbits(128)))
    conv = str(uuid.UUID(int=rng.getrandbits(128))) if rng.random() < 0.5 else ""
    baggage = {"gen_ai.agent.name": name, "gen_ai.agent.call.id": call_id,
               "gen_ai.conversation.id": conv}
    t = _Trace(name)
    root = _open(tr, f"invoke_agent {name}", t0, {
        "model_name": model, "agent_name": name, "gen_ai.agent.name": name,
        "gen_ai.agent.call.id": call_id, "gen_ai.conversation.id": conv,
        "gen_ai.operation.name": "invoke_agent", "logfire.msg": f"{name} run",
        "logfire.json_schema": json.dumps({"type": "object", "properties": {}})})
    t.trace_id = _tid(root)
    now = t0 + rng.uniform(0.002, 0.01)
    rounds = [["lookup_policy", "fetch_claim_history"]]
    if rng.random() < 0.35:
        rounds.append(["lookup_policy"])
    rounds.append([])
    history = _tok(rng, 2600, 0.3)
    agg_in = agg_out = 0
    failed = None
    for tools in rounds:
        out_tok = _tok(rng, 90, 0.3) if tools else _tok(rng, 420, 0.4)
        dur = 0.9 + out_tok * 0.02 * _ln(rng, 1.0, 0.25)
        chat = _open(tr, f"chat {model}", now, {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
            "gen_ai.system": "anthropic", "gen_ai.request.model": model,
            "server.address": "api.anthropic.com", **baggage,
            "model_request_parameters": json.dumps({"function_tools": [
                {"name": "lookup_policy"}, {"name": "fetch_claim_history"}],
                "output_mode": "text", "allow_text_output": True}),
            "logfire.json_schema": json.dumps({"type": "object", "properties": {
                "model_request_parameters": {"type": "object"}}})}, root, kind=SpanKind.CLIENT)
        if rng.random() < 0.004:
            end = now + _ln(rng, 2.0, 0.4)
            msg = ("status_code: 529, model_name: claude-sonnet-4-5, body: {'type': 'error', "
                   "'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}")
            _fail(chat, end, "ModelHTTPError", msg)
            _close(chat, end)
            failed = ("ModelHTTPError", msg)
            now = end
            break
        c = _cost(model, history, out_tok)
        finish = "tool_call" if tools else "stop"
        _close(chat, now + dur, {"gen_ai.usage.input_tokens": history,
                                 "gen_ai.usage.output_tokens": out_tok,
                                 "gen_ai.response.model": _SNAPSHOT[model],
                                 "operation.cost": round(c, 6),
                                 "gen_ai.response.id": f"msg_{_hex(rng, 24)}",
                                 "gen_ai.response.finish_reasons": [finish]})
        t.cost += c
        t.judge_span = _sid(chat)
        agg_in += history
        agg_out += out_tok
        now += dur
        longest = 0.0
        for tool in tools:
            ts = now + rng.uniform(0.0005, 0.003)
            sp = _open(tr, f"execute_tool {tool}", ts, {
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool,
                "gen_ai.tool.call.id": f"toolu_{_hex(rng, 24)}", **baggage,
                "logfire.msg": f"running tool: {tool}",
                "logfire.json_schema": json.dumps({"type": "object", "properties": {
                    "gen_ai.tool.name": {}, "gen_ai.tool.call.id": {}}})}, root)
            if tool == "fetch_claim_history" and rng.random() < CLAIM_FETCH_TIMEOUT_P:
                te = ts + 10.0 + rng.uniform(0.001, 0.05)
                _fail(sp, te, "ReadTimeout", "The read operation timed out",
                      "ReadTimeout: The read operation timed out")
                _close(sp, te)
                t.timeout = True
                failed = ("ReadTimeout", "The read operation timed out")
                longest = max(longest, te - now)
                continue
            te = ts + _ln(rng, 0.4 if tool == "lookup_policy" else 0.9, 0.5)
            _close(sp, te)
            history += _tok(rng, 500, 0.5)
            longest = max(longest, te - now)
        now += longest
        if failed:
            break
        history += out_tok
    end = now + rng.uniform(0.001, 0.01)
    if failed:
        _fail(root, end, *failed)
        t.error = True
        t.judge_span = None
    _close(root, end, {"gen_ai.aggregated_usage.input_tokens": agg_in,
                       "gen_ai.aggregated_usage.output_tokens": agg_out})
    t.start, t.end = t0, end
    return t


_LANGFUSE_SCOPE = {"public_key": "pk-lf-4c1e7b1d-2a55-4c77-9d0e-5b1f0c6a8e21"}


def _lf(kind: str, env: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Attributes the Langfuse Python SDK v3 writes on an observation of ``kind``."""
    return {"langfuse.observation.type": kind, **env, **extra}


_RESEARCH_RESOURCE = {"service.name": "research-api", "telemetry.sdk.language": "python",
                      "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.version": "1.37.0"}


def _research(out: _Spans, rng: random.Random, t0: float, st: _State,
              users: list[str]) -> _Trace:
    """A LangGraph ReAct graph through the Langfuse CallbackHandler (run_name research-graph)."""
    tr = out.tracer(_RESEARCH_RESOURCE, "langfuse-sdk", LANGFUSE_SDK_VERSION, _LANGFUSE_SCOPE)
    env = {"langfuse.environment": "production", "user.id": rng.choice(users),
           "session.id": f"thread-{_hex(rng, 10)}"}
    t = _Trace("research-graph")
    root = _open(tr, "research-graph", t0, _lf("chain", env, **{
        "langfuse.observation.input": json.dumps({"messages": [["user", "…"]]})}))
    t.trace_id = _tid(root)
    now = t0 + rng.uniform(0.003, 0.02)
    loops = rng.choice([1, 2, 2, 3])
    history = _tok(rng, 1500, 0.3)
    step = 1
    for loop in range(loops + 1):
        final = loop == loops
        node = _open(tr, "agent", now, _lf("agent", env, **{
            "langfuse.observation.metadata.langgraph_step": str(step),
            "langfuse.observation.metadata.langgraph_node": "agent"}), root)
        visible = _tok(rng, 260 if final else 70, 0.4)
        reasoning = _tok(rng, 900 if final else 600, 0.5)
        if st.o4_cost_factor != 1.0:   # higher reasoning effort: same visible output
            base_cost = _cost("o4-mini", history, visible, reasoning)
            pin, pout = _USD["o4-mini"]
            reasoning = int(round((base_cost * st.o4_cost_factor - history * pin) / pout
                                  - visible))
        dur = 0.8 + (visible + reasoning) * 0.006 * _ln(rng, 1.0, 0.25)
        g = _open(tr, "ChatOpenAI", now + 0.002, _lf("generation", env, **{
            "langfuse.observation.model.name": "o4-mini",
            "langfuse.observation.model.parameters": json.dumps({"max_completion_tokens": 16000}),
            "langfuse.observation.metadata.ls_provider": "openai",
            "langfuse.observation.metadata.ls_model_name": "o4-mini",
            "langfuse.observation.metadata.ls_model_type": "chat",
            "langfuse.observation.metadata.langgraph_node": "agent",
            "langfuse.observation.metadata.langgraph_step": str(step)}), node)
        usage = {"input": history, "output": visible, "total": history + visible + reasoning,
                 "input_audio": 0, "input_cache_read": 0, "output_audio": 0,
                 "output_reasoning": reasoning}
        _close(g, now + 0.002 + dur, {
            "langfuse.observation.model.name": _SNAPSHOT["o4-mini"],
            "langfuse.observation.usage_details": json.dumps(usage)})
        t.cost += _cost("o4-mini", history, visible, reasoning)
        now += dur + 0.004
        _close(node, now)
        step += 1
        cond = _open(tr, "should_continue", now, _lf("chain", env), root)
        now += rng.uniform(0.0005, 0.002)
        _close(cond, now)
        history += visible
        if final:
            break
        tools = _open(tr, "tools", now, _lf("chain", env, **{
            "langfuse.observation.metadata.langgraph_step": str(step),
            "langfuse.observation.metadata.langgraph_node": "tools"}), root)
        calls = ["web_search"] + (["fetch_page"] if rng.random() < 0.5 else [])
        longest = 0.0
        for name in calls:
            ts = now + rng.uniform(0.001, 0.004)
            sp = _open(tr, name, ts, _lf("tool", env, **{
                "langfuse.observation.metadata.langgraph_node": "tools"}), tools)
            if name == "web_search" and rng.random() < WEB_SEARCH_TIMEOUT_P:
                te = ts + 10.0 + rng.uniform(0.005, 0.05)
                _close(sp, te, {"langfuse.observation.level": "ERROR",
                                "langfuse.observation.status_message": (
                                    "HTTPSConnectionPool(host='api.tavily.com', port=443): "
                                    "Read timed out. (read timeout=10)")})
                t.timeout = True
                history += 60
            else:
                te = ts + _ln(rng, 1.4 if name == "web_search" else 0.8, 0.45)
                _close(sp, te, {"langfuse.observation.output": json.dumps("…")})
                history += _tok(rng, 1200, 0.5)
            longest = max(longest, te - now)
        now += longest + 0.003
        _close(tools, now)
        step += 1
    # summarise node: a cheaper model writes the report
    node = _open(tr, "summarize", now, _lf("chain", env, **{
        "langfuse.observation.metadata.langgraph_node": "summarize"}), root)
    s_out = _tok(rng, 450, 0.35)
    dur = 0.5 + s_out * 0.01 * _ln(rng, 1.0, 0.2)
    g = _open(tr, "ChatOpenAI", now + 0.002, _lf("generation", env, **{
        "langfuse.observation.model.name": "gpt-4.1-mini",
        "langfuse.observation.model.parameters": json.dumps({"temperature": 0.3}),
        "langfuse.observation.metadata.ls_provider": "openai",
        "langfuse.observation.metadata.ls_model_name": "gpt-4.1-mini",
        "langfuse.observation.metadata.ls_model_type": "chat",
        "langfuse.observation.metadata.langgraph_node": "summarize"}), node)
    usage = {"input": history, "output": s_out, "total": history + s_out, "input_audio": 0,
             "input_cache_read": 0, "output_audio": 0, "output_reasoning": 0}
    _close(g, now + 0.002 + dur, {"langfuse.observation.model.name": _SNAPSHOT["gpt-4.1-mini"],
                                  "langfuse.observation.usage_details": json.dumps(usage)})
    t.cost += _cost("gpt-4.1-mini", history, s_out)
    now += dur + 0.004
    _close(node, now)
    end = now + rng.uniform(0.001, 0.005)
    _close(root, end, {"langfuse.observation.output": json.dumps({"messages": ["…"]})})
    t.start, t.end = t0, end
    return t


_SUPPORT_RESOURCE = {"service.name": "support-api", "service.version": "2.18.0",
                     "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry",
                     "telemetry.sdk.version": "1.37.0"}


def _openai_usage(prompt: int, completion: int) -> str:
    """The OpenAI chat completion usage object as the integration sends it."""
    return json.dumps({"prompt_tokens": prompt, "completion_tokens": completion,
                       "total_tokens": prompt + completion,
                       "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                       "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                     "accepted_prediction_tokens": 0,
                                                     "rejected_prediction_tokens": 0}})


def _support(out: _Spans, rng: random.Random, t0: float, st: _State,
             users: list[str]) -> _Trace:
    """@observe + langfuse.openai + prompt management, trace attributes propagated."""
    tr = out.tracer(_SUPPORT_RESOURCE, "langfuse-sdk", LANGFUSE_SDK_VERSION, _LANGFUSE_SCOPE)
    env = {"langfuse.environment": "production", "langfuse.release": "support-api@2.18.0",
           "langfuse.trace.name": "support-bot", "user.id": rng.choice(users),
           "session.id": f"tkt-{rng.randrange(10**6, 10**7)}",
           "langfuse.trace.tags": ("support", rng.choice(["email", "chat", "chat"]))}
    t = _Trace("support-bot")
    root = _open(tr, "handle_ticket", t0, _lf("span", env))
    t.trace_id = _tid(root)
    now = t0 + rng.uniform(0.002, 0.01)
    # intent classification
    p_in, p_out = _tok(rng, 420, 0.2), _tok(rng, 8, 0.3)
    dur = _ln(rng, 0.45, 0.3)
    g = _open(tr, "OpenAI-generation", now, _lf("generation", env, **{
        "langfuse.observation.model.name": "gpt-4.1-mini",
        "langfuse.observation.model.parameters": json.dumps({"temperature": 0, "max_tokens": 16}),
        "langfuse.observation.prompt.name": INTENT_PROMPT,
        "langfuse.observation.prompt.version": 3}), root)
    _close(g, now + dur, {"langfuse.observation.model.name": _SNAPSHOT["gpt-4.1-mini"],
                          "langfuse.observation.usage_details": _openai_usage(p_in, p_out)})
    t.cost += _cost("gpt-4.1-mini", p_in, p_out)
    now += dur + 0.002
    r = _open(tr, "search_kb", now, _lf("retriever", env), root)
    now += _ln(rng, 0.35, 0.4)
    _close(r, now)
    if rng.random() < 0.7:
        tl = _open(tr, "get_account", now + 0.001, _lf("tool", env), root)
        now += _ln(rng, 0.18, 0.4)
        _close(tl, now)
    a_in, a_out = _tok(rng, 2400, 0.3), _tok(rng, 300, 0.4)
    attrs = _lf("generation", env, **{
        "langfuse.observation.model.name": "gpt-4.1",
        "langfuse.observation.model.parameters": json.dumps({"temperature": 0.2,
                                                             "max_tokens": 800}),
        "langfuse.observation.prompt.name": ANSWER_PROMPT,
        "langfuse.observation.prompt.version": st.answer_version})
    g = _open(tr, "OpenAI-generation", now + 0.002, attrs, root)
    if rng.random() < OPENAI_TIMEOUT_P:
        # timeout=20 s, max_retries=2 inside the client: one call, three attempts
        end = now + 60.0 + rng.uniform(1.0, 3.0)
        _close(g, end, {"langfuse.observation.level": "ERROR",
                        "langfuse.observation.status_message": "Request timed out."})
        end += 0.003
        _close(root, end, {"langfuse.observation.level": "ERROR",
                           "langfuse.observation.status_message": "Request timed out."})
        t.timeout = t.error = True
        t.start, t.end = t0, end
        return t
    dur = 0.5 + a_out * 0.018 * _ln(rng, 1.0, 0.25)
    _close(g, now + 0.002 + dur, {"langfuse.observation.model.name": _SNAPSHOT["gpt-4.1"],
                                  "langfuse.observation.usage_details": _openai_usage(a_in,
                                                                                      a_out)})
    t.cost += _cost("gpt-4.1", a_in, a_out)
    end = now + 0.002 + dur + rng.uniform(0.002, 0.01)
    _close(root, end)
    t.start, t.end = t0, end
    return t


# ---- judges --------------------------------------------------------------------------------------

def _score(rng: random.Random, t: _Trace, name: str, when: float, data_type: str,
           value: float | None, string_value: str | None, source: str,
           observation: str | None = None) -> dict[str, Any]:
    return {"score_id": str(uuid.UUID(int=rng.getrandbits(128))), "trace_id": t.trace_id,
            "observation_id": observation, "timestamp": pd.Timestamp(when, unit="s", tz="UTC"),
            "name": name, "value": value, "string_value": string_value,
            "data_type": data_type, "source": source, "environment": "production"}


def _judge(rng: random.Random, t: _Trace, st: _State) -> None:
    later = t.end + rng.uniform(90, 720)  # evaluators run minutes after the trace
    if t.agent == "support-bot" and not t.error and rng.random() < JUDGED["support-bot"]:
        u = rng.random()
        label = ("hallucinated" if u < st.hallucinated_p else
                 "partially_grounded" if u < st.hallucinated_p + 0.1 else "grounded")
        # no score config linked: the API's numeric mapping of a categorical value is 0
        t.scores.append(_score(rng, t, "groundedness", later, "CATEGORICAL", 0.0, label, "EVAL"))
        t.scored, t.bad = True, label == "hallucinated"
    elif t.agent == "claims-triage" and not t.error and rng.random() < JUDGED["claims-triage"]:
        bad = rng.random() < UNFAITHFUL_P
        v = rng.uniform(0.05, 0.45) if bad else min(1.0, rng.uniform(0.62, 1.05))
        t.scores.append(_score(rng, t, "faithfulness", later, "NUMERIC", round(v, 4), None,
                               "API", t.judge_span))
        t.scored, t.bad = True, bad
    elif t.agent == "shop-assistant" and rng.random() < JUDGED["shop-assistant"]:
        ok = rng.random() < (0.55 if t.timeout else 0.9)
        t.scores.append(_score(rng, t, "helpful", later, "BOOLEAN", float(ok),
                               "True" if ok else "False", "EVAL"))
    elif t.agent == "research-graph" and rng.random() < FEEDBACK_P:
        up = rng.random() < 0.8
        t.scores.append(_score(rng, t, "user-feedback", t.end + rng.uniform(20, 600),
                               "NUMERIC", float(up), None, "API"))


# ---- the project ---------------------------------------------------------------------------------

def _starts(rng: np.random.Generator, agent: str, day: pd.Timestamp,
            volume: float) -> list[float]:
    weekend = day.day_of_week >= 5
    n = VOLUME[agent] * volume * (WEEKEND[agent] if weekend else 1.0)
    lam = n * HOURLY / HOURLY.sum()
    base = day.timestamp()
    out: list[float] = []
    for h, k in enumerate(rng.poisson(lam)):
        out.extend(base + 3600 * h + np.sort(rng.uniform(0, 3600, k)))
    return out


def _windows(incidents: Sequence[Incident]) -> dict[str, tuple[float, float, float]]:
    out: dict[str, tuple[float, float, float]] = {}
    for inc in incidents:
        s, e = inc.window()
        out[inc.runbook] = (s.timestamp(), e.timestamp(), float(inc.magnitude))
    return out


def _state(t0: float, windows: dict[str, tuple[float, float, float]],
           benign_change: float) -> _State:
    st = _State(answer_version=13 if t0 < benign_change else 14)
    w = windows.get("timeout_surge")
    if w and w[0] <= t0 < w[1]:
        st.order_timeout_p = min(1.0, ORDER_TOOL_TIMEOUT_P * w[2])
    w = windows.get("cost_spike")
    if w and w[0] <= t0 < w[1]:
        st.o4_cost_factor = w[2]
    w = windows.get("hallucination_spike")
    if w and w[0] <= t0 < w[1]:
        st.answer_version = INCIDENT_PROMPT_VERSION
        st.hallucinated_p = min(1.0, HALLUCINATED_P * w[2])
    return st


def _labels(incidents: Sequence[Incident]) -> list[Label]:
    cause = {"timeout_surge": ("shop-assistant", "tool", "getOrderStatus",
                               {"agent": "shop-assistant"}),
             "cost_spike": ("research-graph", "model", "o4-mini", {"agent": "research-graph"}),
             "hallucination_spike": ("support-bot", "prompt_version",
                                     str(INCIDENT_PROMPT_VERSION), {"prompt": ANSWER_PROMPT})}
    out = []
    for inc in incidents:
        s, e = inc.window()
        agent, dim, value, within = cause[inc.runbook]
        out.append(Label(inc.runbook, s, e, agent, dim, value, within, float(inc.magnitude)))
    return out


def generate(seed: int, end_day: str, days: int,
             incidents: Sequence[Incident] = (), volume: float = 1.0) -> BlindData:
    """``days`` whole UTC days ending with ``end_day`` of the four agents' traces and scores,
    with ``incidents`` injected and ``volume`` times the usual traffic (:data:`VOLUME`);
    deterministic for a seed."""
    check_incidents(incidents, days)
    if not volume > 0:
        raise ValueError(f"volume must be > 0, got {volume!r}")
    windows = _windows(incidents)
    end = pd.Timestamp(end_day, tz="UTC").normalize()
    first = end - pd.Timedelta(days=days - 1)
    benign_change = (end - pd.Timedelta(days=17, hours=-16)).timestamp()
    nrng = np.random.default_rng(seed)
    rng = random.Random(seed * 7919 + 1)
    out = _Spans(seed)
    users = [f"user_{rng.randrange(10**5, 10**6)}" for _ in range(900)]
    starts = [(t0, agent) for day in pd.date_range(first, end, freq="D") for agent in AGENTS
              for t0 in _starts(nrng, agent, day, volume)]
    starts.sort()
    traces: list[_Trace] = []
    for t0, agent in starts:
        st = _state(t0, windows, benign_change)
        if agent == "shop-assistant":
            t = _shop(out, rng, t0, st, users)
        elif agent == "claims-triage":
            t = _claims(out, rng, t0, st)
        elif agent == "research-graph":
            t = _research(out, rng, t0, st, users)
        else:
            t = _support(out, rng, t0, st, users)
        _judge(rng, t, st)
        traces.append(t)
    truth = pd.DataFrame({
        "trace_id": [t.trace_id for t in traces], "agent": [t.agent for t in traces],
        "start": pd.to_datetime([t.start for t in traces], unit="s", utc=True),
        "duration_s": [t.end - t.start for t in traces],
        "timeout": [t.timeout for t in traces], "error": [t.error for t in traces],
        "cost": [t.cost for t in traces], "scored": [t.scored for t in traces],
        "bad": pd.Series([t.bad for t in traces], dtype=object)})
    rows = [s for t in traces for s in t.scores]
    scores = pd.DataFrame(rows, columns=["score_id", "trace_id", "observation_id", "timestamp",
                                         "name", "value", "string_value", "data_type", "source",
                                         "environment"])
    scores = scores.sort_values("timestamp", kind="stable").reset_index(drop=True)
    return BlindData(spans=out.spans(), scores=scores, labels=_labels(incidents), truth=truth,
                     prices=PRICES)
