"""An independent Langfuse project for a blind acceptance check of the detectors.

Written from public documentation only — Langfuse's data model and OpenTelemetry ingestion
(observation types, ``langfuse.*`` attributes, usage/cost details, prompts linked to
generations, scores with name/value/dataType), the OpenTelemetry GenAI semantic conventions
(``gen_ai.*``), OpenInference (``openinference.span.kind``, ``llm.*``, ``tool.name``) and the
Langfuse API contract — without reading the detectors, the runbooks' thresholds or the
project's own simulator, so the two cannot share a blind spot by construction.

Four agents, each instrumented the way a real team would:

* ``support-assistant``: the Langfuse Python SDK (scope ``langfuse-sdk``; ``agent``, ``retriever``,
  ``tool`` and ``generation`` observations, ``usage_details`` JSON, prompt ``support-answer``
  linked to its generations, trace name, user, session, tags and release). Judged by an
  LLM-as-judge ``hallucination`` score (numeric, 1 = hallucinated) and ``helpfulness``.
* ``research-agent``: a LangGraph app traced with OpenInference (``CHAIN``/``LLM``/``TOOL``
  spans, ``llm.model_name``, ``llm.token_count.*``, ``tool.name``); 3-6 Claude calls and web
  searches, so it routinely runs 10-30 s. Judged by ragas-style ``faithfulness`` (1 = faithful).
* ``order-agent``: hand-written OpenTelemetry GenAI spans (``invoke_agent``, ``execute_tool``)
  around the OpenAI instrumentation's ``chat`` spans (``gen_ai.request.model``,
  ``gen_ai.response.model``, ``gen_ai.usage.*``); timeouts are ``httpx.ReadTimeout`` raised in
  a tool span (OTel status ERROR, ``error.type``, an ``exception`` event). Judged by a boolean
  ``Correctness``.
* ``triage-agent``: the OpenAI Agents SDK traced through OpenInference: an ``Agent workflow``
  root, an ``AGENT`` span named after the agent, ``response`` LLM spans and function ``TOOL``
  spans. Judged by ``Correctness`` (boolean) and ``answer_relevance`` (numeric).

No span carries a cost: Langfuse prices usage from the project's model table (:data:`PRICES`,
public list prices, patterns matching dated snapshots as Langfuse's defaults do).

Traffic: ~1,250 traces a weekday with a night trough (UTC), weekends at 60 %; evaluators
sample ~20 % of traces and write their scores 1-30 minutes after the trace ends.

Incidents (:class:`Incident`), injected at a chosen day, hour and magnitude, each labelled
(:class:`Label`) with its runbook, window, agent and true cause:

* ``timeout_surge``: tool ``inventory_api`` of ``order-agent`` times out ``magnitude`` times as
  often (base 2.5 % of calls);
* ``cost_spike``: ``gpt-4o`` calls of ``triage-agent`` carry ``magnitude`` times the input
  tokens (a context blow-up), so cost per request rises about ``magnitude``-fold;
* ``hallucination_spike``: a new version of prompt ``support-answer`` ships at the start and is
  rolled back at the end; under it ``support-assistant`` hallucinates ``magnitude`` times as often
  (base 5 % of judged traces).

Also in every dataset, quiet or not: a benign prompt version (v7, same quality) ships six days
before the last day, and the application's release changes weekly (Tuesdays, 09:00 UTC).

    data = generate(seed=1, end_day="2026-11-29", days=30,
                    incidents=[Incident("cost_spike", "2026-11-22", 10, 3.0)])
    data.spans, data.scores, data.labels, data.truth
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

__all__ = ["AGENTS", "PRICES", "BlindData", "Incident", "Label", "SeededIds", "generate",
           "model_prices", "ns", "ns_micros"]

AGENTS = ("support-assistant", "research-agent", "order-agent", "triage-agent")
SHARE = {"support-assistant": 0.40, "order-agent": 0.28, "triage-agent": 0.20,
         "research-agent": 0.12}
WEEKDAY_TRACES = 1350
WEEKEND_FACTOR = 0.6
SAMPLE_RATE = 0.20

#: Public list prices, USD per 1M tokens: (model, input, output, pattern suffix of snapshots).
_PRICE_ROWS = (
    ("gpt-4o", 2.50, 10.00, r"(-\d{4}-\d{2}-\d{2})?"),
    ("gpt-4o-mini", 0.15, 0.60, r"(-\d{4}-\d{2}-\d{2})?"),
    ("gpt-4.1-mini", 0.40, 1.60, r"(-\d{4}-\d{2}-\d{2})?"),
    ("gpt-4.1-nano", 0.10, 0.40, r"(-\d{4}-\d{2}-\d{2})?"),
    ("claude-sonnet-4-5", 3.00, 15.00, r"(-\d{8})?"),
)
#: model -> (USD per input token, USD per output token)
PRICE_PER_TOKEN = {m: (i / 1e6, o / 1e6) for m, i, o, _ in _PRICE_ROWS}

DEFAULT_HOURS = {"timeout_surge": 4, "cost_spike": 6, "hallucination_spike": 8}
BASE_TIMEOUT_P = 0.025        # inventory_api calls that time out, per call
BASE_HALLUCINATION_P = 0.05   # support-assistant answers a judge calls hallucinated
BASE_UNFAITHFUL_P = 0.07      # research-agent answers with low faithfulness
BASE_INCORRECT_P = 0.08       # order/triage answers judged incorrect


def model_prices(rows: Iterable[tuple[str, float, float, str]]) -> tuple[Any, ...]:
    """A project's model table in the double's shape (Langfuse prices usage from it): one
    ``model-<model>`` row per (model, USD per 1M input tokens, USD per 1M output tokens, name
    pattern)."""
    from tests.doubles.langfuse_ingest import ModelPrice

    return tuple(ModelPrice(f"model-{model}", re.compile(pattern), inp / 1e6, outp / 1e6)
                 for model, inp, outp, pattern in rows)


def _prices() -> tuple[Any, ...]:
    """The project's model table in the double's shape (Langfuse prices usage from it)."""
    rows = []
    for model, inp, outp, suffix in _PRICE_ROWS:
        provider = r"(anthropic/)?" if model.startswith("claude") else r"(openai/)?"
        rows.append((model, inp, outp, rf"(?i)^{provider}({re.escape(model)}){suffix}$"))
    return model_prices(rows)


PRICES = _prices()


@dataclass(frozen=True)
class Incident:
    """An incident to inject: ``runbook`` in timeout_surge | cost_spike | hallucination_spike,
    starting ``day`` (YYYY-MM-DD) at ``hour`` UTC, ``magnitude`` times the normal rate or cost,
    lasting ``hours`` (a per-runbook default when None)."""

    runbook: str
    day: str
    hour: int
    magnitude: float
    hours: int | None = None

    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        start = pd.Timestamp(self.day, tz="UTC") + pd.Timedelta(hours=self.hour)
        return start, start + pd.Timedelta(hours=self.hours or DEFAULT_HOURS[self.runbook])


RUNBOOKS = ("timeout_surge", "cost_spike", "hallucination_spike")


def check_incidents(incidents: Sequence[Incident], days: int) -> None:
    """Refuse what no generator can inject: no days, an unknown runbook, two incidents of one
    runbook, a magnitude under 1 (an incident makes things worse) or an hour past 23."""
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days!r}")
    seen: set[str] = set()
    for inc in incidents:
        if inc.runbook not in RUNBOOKS:
            raise ValueError(f"unknown runbook {inc.runbook!r}: expected one of "
                             f"{', '.join(RUNBOOKS)}")
        if inc.runbook in seen:
            raise ValueError(f"one {inc.runbook} incident per dataset, got two")
        seen.add(inc.runbook)
        if not (isinstance(inc.magnitude, (int, float)) and inc.magnitude >= 1.0):
            raise ValueError(f"{inc.runbook}: magnitude must be >= 1, got {inc.magnitude!r}")
        if not 0 <= inc.hour <= 23:
            raise ValueError(f"{inc.runbook}: hour must be 0-23, got {inc.hour!r}")


@dataclass(frozen=True)
class Label:
    """The ground truth of one injected incident."""

    runbook: str
    start: pd.Timestamp
    end: pd.Timestamp
    agent: str
    cause_dimension: str   # tool | model | prompt_version
    cause_value: str       # inventory_api | gpt-4o | 8
    within: dict[str, str]  # {"agent": ...} or {"prompt": ...}
    magnitude: float

    @property
    def cause(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.within.items())
        return f"{self.cause_dimension}={self.cause_value} in {inner}"


@dataclass
class BlindData:
    spans: list[Any]
    scores: pd.DataFrame
    labels: list[Label]
    truth: pd.DataFrame
    """One row per trace: what the generator decided (agent, window flags, timeouts, cost)."""
    prices: tuple[Any, ...] = field(default=PRICES)
    score_configs: list[dict[str, Any]] = field(default_factory=list)
    """The project's score configs (``ScoreConfig`` objects as the API returns them)."""

    def double(self, **kwargs: Any) -> Any:
        """A Langfuse contract double holding these spans, scores and score configs."""
        from tests.doubles import LangfuseDouble

        kwargs.setdefault("score_configs", self.score_configs)
        return LangfuseDouble.from_spans(self.spans, self.scores, prices=self.prices, **kwargs)


# ---- ids and spans -------------------------------------------------------------------------------

class SeededIds(IdGenerator):
    """OTel span and trace ids drawn from ``rng``, so a seed gives the same ids every run."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def generate_span_id(self) -> int:
        return self.rng.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self.rng.getrandbits(128) or 1


@dataclass
class _Node:
    name: str
    start: float  # seconds since the epoch
    end: float
    attrs: dict[str, Any]
    scope: str = ""
    error: str | None = None          # OTel status description
    exception: tuple[str, str] | None = None  # (exception.type, exception.message)
    kind: SpanKind = SpanKind.INTERNAL
    children: list[_Node] = field(default_factory=list)


class _Emitter:
    """Finished OTel SDK spans with explicit times, one tracer provider per service."""

    def __init__(self, rng: random.Random) -> None:
        self.exporter = InMemorySpanExporter()
        self.ids = SeededIds(rng)
        self._providers: dict[str, TracerProvider] = {}
        self._tracers: dict[tuple[str, str], Any] = {}

    def tracer(self, service: str, scope: str, resource: dict[str, Any]) -> Any:
        key = (service, scope)
        if key not in self._tracers:
            if service not in self._providers:
                p = TracerProvider(resource=Resource.create(resource), id_generator=self.ids)
                p.add_span_processor(SimpleSpanProcessor(self.exporter))
                self._providers[service] = p
            name, _, version = scope.partition("@")
            self._tracers[key] = self._providers[service].get_tracer(name, version or None)
        return self._tracers[key]

    def emit(self, service: str, resource: dict[str, Any], node: _Node,
             parent: Any = None) -> Any:
        tracer = self.tracer(service, node.scope, resource)
        ctx = otel_trace.set_span_in_context(parent) if parent is not None else None
        span = tracer.start_span(node.name, context=ctx, kind=node.kind,
                                 attributes=node.attrs, start_time=ns(node.start))
        for child in node.children:
            self.emit(service, resource, child, span)
        if node.exception is not None:
            span.add_event("exception", {"exception.type": node.exception[0],
                                         "exception.message": node.exception[1],
                                         "exception.escaped": "True"},
                           timestamp=ns(node.end))
        if node.error is not None:
            span.set_status(Status(StatusCode.ERROR, node.error))
        span.end(end_time=ns(node.end))
        return span

    def spans(self) -> list[Any]:
        return list(self.exporter.get_finished_spans())


def ns(t: float) -> int:
    """Seconds since the epoch as integer nanoseconds."""
    return int(round(t * 1e9))


def ns_micros(t: float) -> int:
    """Seconds since the epoch as integer nanoseconds, rounded to whole microseconds."""
    return int(round(t * 1e6)) * 1000


# ---- traffic ----------------------------------------------------------------------------------------

def _hour_weights() -> np.ndarray:
    """Relative traffic per UTC hour: a deep trough 00-05, a peak mid-afternoon."""
    h = np.arange(24)
    day = np.clip(np.sin(np.pi * (h - 5) / 18.0), 0, None) ** 1.6
    w = 0.05 + day
    return w / w.sum()


@dataclass
class _Ctx:
    """What an agent builder needs to decide one trace."""

    rng: random.Random
    t0: float
    release: str
    prompt_version: int
    timeout_p: float = BASE_TIMEOUT_P
    cost_factor: float = 1.0
    hallucination_p: float = BASE_HALLUCINATION_P
    user: str = ""
    session: str = ""


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


# ---- agents --------------------------------------------------------------------------------------------

_RATE_LIMIT = ("Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o-mini in "
               "organization org-blind on tokens per min (TPM): Limit 200000, Used 199620, "
               "Requested 1533. Please try again in 460ms.', 'type': 'tokens', 'param': None, "
               "'code': 'rate_limit_exceeded'}}")


def _support(c: _Ctx) -> tuple[_Node, dict[str, Any]]:
    """Langfuse Python SDK v3: observation types and trace attributes as ``langfuse.*``."""
    rng, t = c.rng, c.t0
    scope = "langfuse-sdk@3.10.1"
    root = _Node("support-assistant", t, t, {
        "langfuse.observation.type": "agent",
        "langfuse.trace.name": "support-assistant",
        "user.id": c.user, "session.id": c.session,
        "langfuse.trace.tags": ["support", rng.choice(["web", "web", "email", "mobile"])],
        "langfuse.release": c.release, "langfuse.environment": "production",
        "langfuse.observation.input": json.dumps({"question": "Where is my refund?"}),
    }, scope=scope)
    t += rng.uniform(0.01, 0.05)
    d = _lognormal(rng, 0.25, 0.4)
    root.children.append(_Node("kb-search", t, t + d, {
        "langfuse.observation.type": "retriever",
        "langfuse.observation.metadata.top_k": 5}, scope=scope))
    t += d
    if rng.random() < 0.3:
        d = _lognormal(rng, 0.4, 0.5)
        root.children.append(_Node("crm_lookup", t, t + d, {
            "langfuse.observation.type": "tool"}, scope=scope))
        t += d
    in_tok = int(rng.uniform(900, 2200))
    out_tok = int(rng.uniform(120, 420))
    d = 0.4 + out_tok / _lognormal(rng, 95.0, 0.25)
    gen = _Node("answer", t, t + d, {
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": "gpt-4o-mini-2024-07-18",
        "langfuse.observation.model.parameters": json.dumps({"temperature": 0.2,
                                                             "max_tokens": 800}),
        "langfuse.observation.usage_details": json.dumps({"input": in_tok, "output": out_tok,
                                                          "total": in_tok + out_tok}),
        "langfuse.observation.prompt.name": "support-answer",
        "langfuse.observation.prompt.version": c.prompt_version,
        "langfuse.observation.completion_start_time": json.dumps(
            pd.Timestamp(t + 0.35, unit="s", tz="UTC").isoformat()),
    }, scope=scope)
    failed = rng.random() < 0.004
    if failed:  # the SDK marks the observation and lets the exception reach the root
        gen.end = t + rng.uniform(0.2, 0.6)
        gen.attrs["langfuse.observation.level"] = "ERROR"
        gen.attrs["langfuse.observation.status_message"] = _RATE_LIMIT
        gen.attrs.pop("langfuse.observation.usage_details")
        root.attrs["langfuse.observation.level"] = "ERROR"
        root.attrs["langfuse.observation.status_message"] = _RATE_LIMIT
    root.children.append(gen)
    root.end = gen.end + rng.uniform(0.01, 0.04)
    cost = 0.0 if failed else _cost("gpt-4o-mini", in_tok, out_tok)
    return root, {"cost": cost, "error": failed, "timeout": False, "model_calls": 1}


def _research(c: _Ctx) -> tuple[_Node, dict[str, Any]]:
    """OpenInference (LangChain/LangGraph instrumentor): CHAIN root, LLM and TOOL spans."""
    rng, t = c.rng, c.t0
    scope = "openinference.instrumentation.langchain@0.1.51"
    root = _Node("research-agent", t, t, {
        "openinference.span.kind": "CHAIN", "session.id": c.session, "user.id": c.user,
        "tag.tags": ["research"], "metadata": json.dumps({"release": c.release}),
        "input.value": json.dumps({"messages": [["user", "Compare vendor SLAs"]]}),
        "input.mime_type": "application/json"}, scope=scope)
    t += rng.uniform(0.02, 0.1)
    steps = rng.choice([2, 3, 3, 4, 4, 5])
    cost, errors, prompt = 0.0, False, int(rng.uniform(1800, 3000))
    for i in range(steps + 1):
        out_tok = int(rng.uniform(350, 800) if i == steps else rng.uniform(60, 240))
        d = 0.6 + prompt / 20000 + out_tok / _lognormal(rng, 95.0, 0.25)
        root.children.append(_Node("ChatAnthropic", t, t + d, {
            "openinference.span.kind": "LLM", "llm.model_name": "claude-sonnet-4-5-20250929",
            "llm.provider": "anthropic", "llm.system": "anthropic",
            "llm.invocation_parameters": json.dumps({"max_tokens": 2048}),
            "llm.token_count.prompt": prompt, "llm.token_count.completion": out_tok,
            "llm.token_count.total": prompt + out_tok}, scope=scope))
        cost += _cost("claude-sonnet-4-5", prompt, out_tok)
        t += d
        prompt += out_tok + int(rng.uniform(600, 2200))
        if i == steps:
            break
        tool = rng.choice(["web_search", "web_search", "fetch_page"])
        d = _lognormal(rng, 1.6 if tool == "web_search" else 0.9, 0.5)
        node = _Node(tool, t, t + d, {"openinference.span.kind": "TOOL", "tool.name": tool,
                                      "input.value": json.dumps({"query": "vendor SLA"})},
                     scope=scope)
        if rng.random() < 0.01:  # the search API is slow now and then; the agent goes on
            node.end = t + 15.0 + rng.uniform(0, 0.05)
            node.error = "ReadTimeout('The read operation timed out')"
            node.exception = ("httpx.ReadTimeout", "The read operation timed out")
            errors = True
        root.children.append(node)
        t = node.end
    root.end = t + rng.uniform(0.01, 0.05)
    return root, {"cost": cost, "error": False, "tool_error": errors, "timeout": False,
                  "model_calls": steps + 1}


def _order(c: _Ctx) -> tuple[_Node, dict[str, Any]]:
    """OTel GenAI semantic conventions: invoke_agent / chat / execute_tool spans."""
    rng, t = c.rng, c.t0
    app = "order_service.agent@1.4.0"
    oai = "opentelemetry.instrumentation.openai_v2@2.1b0"
    root = _Node("invoke_agent order-agent", t, t, {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "order-agent",
        "gen_ai.agent.id": "order-agent-v3", "gen_ai.provider.name": "openai",
        "gen_ai.conversation.id": c.session, "user.id": c.user}, scope=app,
        kind=SpanKind.SERVER)
    t += rng.uniform(0.005, 0.03)
    cost, calls = 0.0, 0
    timed_out = failed = False

    def chat(t: float, finish: str) -> float:
        nonlocal cost, calls
        in_tok, out_tok = int(rng.uniform(700, 1600)), int(rng.uniform(40, 260))
        d = 0.3 + out_tok / _lognormal(rng, 110.0, 0.25)
        root.children.append(_Node("chat gpt-4.1-mini", t, t + d, {
            "gen_ai.operation.name": "chat", "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4.1-mini",
            "gen_ai.response.model": "gpt-4.1-mini-2025-04-14",
            "gen_ai.request.temperature": 0.0,
            "gen_ai.response.finish_reasons": (finish,),
            "gen_ai.response.id": f"chatcmpl-{rng.getrandbits(48):012x}",
            "gen_ai.usage.input_tokens": in_tok, "gen_ai.usage.output_tokens": out_tok,
            "server.address": "api.openai.com"}, scope=oai, kind=SpanKind.CLIENT))
        cost += _cost("gpt-4.1-mini", in_tok, out_tok)
        calls += 1
        return t + d

    def tool(t: float, name: str, median: float) -> tuple[float, bool]:
        d = _lognormal(rng, median, 0.45)
        node = _Node(f"execute_tool {name}", t, t + d, {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
            "gen_ai.tool.type": "function",
            "gen_ai.tool.call.id": f"call_{rng.getrandbits(64):016x}"}, scope=app)
        late = name == "inventory_api" and rng.random() < c.timeout_p
        if late:  # httpx.Client(timeout=10.0) gives up
            node.end = t + 10.0 + rng.uniform(0.001, 0.03)
            node.error = "ReadTimeout: The read operation timed out"
            node.exception = ("httpx.ReadTimeout", "The read operation timed out")
            node.attrs["error.type"] = "httpx.ReadTimeout"
        root.children.append(node)
        return node.end, late

    t = chat(t, "tool_calls")
    t, _ = tool(t, "lookup_order", 0.18)
    if rng.random() < 0.65:
        t, timed_out = tool(t, "inventory_api", 0.6)
        if timed_out and rng.random() < 0.7:
            failed = True  # the exception escapes the agent
    if not failed and rng.random() < 0.3:
        t, _ = tool(t, "shipping_quote", 0.35)
    if not failed:
        t = chat(t, "stop")
    root.end = t + rng.uniform(0.005, 0.02)
    if failed:
        root.error = "ReadTimeout: The read operation timed out"
        root.exception = ("httpx.ReadTimeout", "The read operation timed out")
        root.attrs["error.type"] = "httpx.ReadTimeout"
    return root, {"cost": cost, "error": failed, "timeout": timed_out, "model_calls": calls}


def _triage(c: _Ctx) -> tuple[_Node, dict[str, Any]]:
    """OpenAI Agents SDK through OpenInference: Agent workflow > AGENT > response / TOOL."""
    rng, t = c.rng, c.t0
    scope = "openinference.instrumentation.openai_agents@1.2.0"
    root = _Node("Agent workflow", t, t, {"openinference.span.kind": "CHAIN"}, scope=scope)
    t += rng.uniform(0.001, 0.01)
    agent = _Node("triage-agent", t, t, {"openinference.span.kind": "AGENT",
                                         "graph.node.id": "triage-agent"}, scope=scope)
    root.children.append(agent)

    def response(t: float, model: str, snapshot: str, in_tok: int, out_tok: int,
                 speed: float) -> float:
        d = 0.3 + in_tok / 40000 + out_tok / _lognormal(rng, speed, 0.25)
        agent.children.append(_Node("response", t, t + d, {
            "openinference.span.kind": "LLM", "llm.model_name": snapshot,
            "llm.provider": "openai", "llm.system": "openai",
            "llm.token_count.prompt": in_tok, "llm.token_count.completion": out_tok,
            "llm.token_count.total": in_tok + out_tok}, scope=scope))
        return t + d

    n_in, n_out = int(rng.uniform(350, 700)), int(rng.uniform(15, 60))
    t = response(t, "gpt-4.1-nano", "gpt-4.1-nano-2025-04-14", n_in, n_out, 160.0)
    d = _lognormal(rng, 0.5, 0.4)
    agent.children.append(_Node("search_kb", t, t + d, {
        "openinference.span.kind": "TOOL", "tool.name": "search_kb",
        "input.value": json.dumps({"query": "reset password"})}, scope=scope))
    t += d
    g_in = int(rng.uniform(2600, 6200) * c.cost_factor)
    g_out = int(rng.uniform(120, 380) * (1.0 + 0.15 * (c.cost_factor - 1.0)))
    t = response(t, "gpt-4o", "gpt-4o-2024-08-06", g_in, g_out, 95.0)
    agent.end = t + rng.uniform(0.002, 0.01)
    root.end = agent.end + rng.uniform(0.001, 0.005)
    cost = _cost("gpt-4.1-nano", n_in, n_out) + _cost("gpt-4o", g_in, g_out)
    return root, {"cost": cost, "error": False, "timeout": False, "model_calls": 2}


_BUILDERS = {"support-assistant": _support, "research-agent": _research,
             "order-agent": _order, "triage-agent": _triage}
_RESOURCES = {
    "support-assistant": {"service.name": "support-assistant", "telemetry.sdk.language": "python",
                          "telemetry.sdk.name": "opentelemetry"},
    "research-agent": {"service.name": "research-worker", "deployment.environment": "production"},
    "order-agent": {"service.name": "order-service", "deployment.environment.name": "production",
                    "service.version": "1.4.0"},
    "triage-agent": {"service.name": "helpdesk-api", "deployment.environment.name": "production"},
}


def _cost(model: str, inp: int, out: int) -> float:
    pi, po = PRICE_PER_TOKEN[model]
    return inp * pi + out * po


# ---- scores ------------------------------------------------------------------------------------------

def _judge(agent: str, rng: random.Random, c: _Ctx, trace_id: str, t_end: float,
           rows: list[dict[str, Any]], info: dict[str, Any]) -> None:
    """LLM-as-judge scores on a sampled trace, written minutes after it ended."""
    ts = pd.Timestamp(t_end + rng.uniform(60, 1800), unit="s", tz="UTC")

    def add(name: str, value: float | None, dtype: str, string: str | None = None) -> None:
        rows.append({"score_id": f"{rng.getrandbits(96):024x}", "trace_id": trace_id,
                     "observation_id": None, "timestamp": ts, "name": name, "value": value,
                     "string_value": string, "data_type": dtype, "source": "EVAL",
                     "environment": "production"})

    if agent == "support-assistant":
        bad = rng.random() < c.hallucination_p
        info["bad"] = bad
        add("hallucination", round(rng.uniform(0.6, 1.0) if bad else rng.uniform(0.0, 0.3), 2),
            "NUMERIC")
        add("helpfulness", round(rng.uniform(0.5, 1.0), 2), "NUMERIC")
    elif agent == "research-agent":
        bad = rng.random() < BASE_UNFAITHFUL_P
        info["bad"] = bad
        add("faithfulness", round(rng.uniform(0.0, 0.45) if bad else rng.uniform(0.7, 1.0), 2),
            "NUMERIC")
    elif agent == "order-agent":
        bad = rng.random() < BASE_INCORRECT_P
        info["bad"] = bad
        add("Correctness", 0.0 if bad else 1.0, "BOOLEAN", "False" if bad else "True")
    else:
        bad = rng.random() < BASE_INCORRECT_P
        info["bad"] = bad
        add("Correctness", 0.0 if bad else 1.0, "BOOLEAN", "False" if bad else "True")
        add("answer_relevance", round(rng.uniform(0.55, 1.0), 2), "NUMERIC")


# ---- the project ---------------------------------------------------------------------------------------

def _labels(incidents: Sequence[Incident], prompt_at: dict[pd.Timestamp, int]) -> list[Label]:
    out = []
    for inc in incidents:
        start, end = inc.window()
        if inc.runbook == "timeout_surge":
            out.append(Label(inc.runbook, start, end, "order-agent", "tool", "inventory_api",
                             {"agent": "order-agent"}, inc.magnitude))
        elif inc.runbook == "cost_spike":
            out.append(Label(inc.runbook, start, end, "triage-agent", "model", "gpt-4o",
                             {"agent": "triage-agent"}, inc.magnitude))
        elif inc.runbook == "hallucination_spike":
            out.append(Label(inc.runbook, start, end, "support-assistant", "prompt_version",
                             str(prompt_at[start]), {"prompt": "support-answer"},
                             inc.magnitude))
        else:
            raise ValueError(f"unknown runbook {inc.runbook!r}: expected timeout_surge, "
                             "cost_spike or hallucination_spike")
    return out


def generate(seed: int = 1, end_day: str = "2026-11-29", days: int = 30,
             incidents: Iterable[Incident] = (), weekday_traces: float = WEEKDAY_TRACES
             ) -> BlindData:
    """``days`` whole UTC days ending on ``end_day`` (inclusive) of the four agents, with the
    given incidents injected and ``weekday_traces`` expected on a weekday; deterministic for a
    seed."""
    incidents = list(incidents)
    check_incidents(incidents, days)
    if not weekday_traces > 0:
        raise ValueError(f"weekday_traces must be > 0, got {weekday_traces!r}")
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    em = _Emitter(random.Random(seed + 7919))
    first = pd.Timestamp(end_day, tz="UTC") - pd.Timedelta(days=days - 1)
    weights = _hour_weights()
    agents = list(SHARE)
    shares = np.array([SHARE[a] for a in agents])
    users = [f"user_{i:04d}" for i in range(900)]
    # the prompt's history: v6 at the start, a benign v7 (same quality) six days before the
    # end at 09:00, so quiet reports judge a new version that is no worse
    benign_day = first + pd.Timedelta(days=max(days - 6, 0), hours=9)
    windows = {inc.runbook: inc.window() for inc in incidents}
    prompt_at: dict[pd.Timestamp, int] = {}
    if "hallucination_spike" in windows:
        prompt_at[windows["hallucination_spike"][0]] = 8
    labels = _labels(incidents, prompt_at)
    truth: list[dict[str, Any]] = []
    score_rows: list[dict[str, Any]] = []
    for d in range(days):
        day = first + pd.Timedelta(days=d)
        n_day = weekday_traces * (WEEKEND_FACTOR if day.day_of_week >= 5 else 1.0)
        for h in range(24):
            hour = day + pd.Timedelta(hours=h)
            n = int(nrng.poisson(n_day * weights[h]))
            offsets = np.sort(nrng.uniform(0, 3600, n))
            picks = nrng.choice(len(agents), size=n, p=shares)
            for off, ai in zip(offsets, picks):
                agent = agents[ai]
                ts = hour + pd.Timedelta(seconds=float(off))
                user = rng.choice(users)
                c = _Ctx(rng=rng, t0=ts.timestamp(), release=_release(ts, first),
                         prompt_version=7 if ts >= benign_day else 6,
                         user=user, session=f"sess-{user[-4:]}-{ts:%m%d}-{rng.randint(0, 3)}")
                in_incident = None
                for name, (a, b) in windows.items():
                    if a <= ts < b:
                        in_incident = name
                mag = {i.runbook: i.magnitude for i in incidents}
                if in_incident == "timeout_surge" and agent == "order-agent":
                    c.timeout_p = min(1.0, BASE_TIMEOUT_P * mag[in_incident])
                if in_incident == "cost_spike" and agent == "triage-agent":
                    c.cost_factor = mag[in_incident]
                if in_incident == "hallucination_spike" and agent == "support-assistant":
                    c.prompt_version = 8
                    c.hallucination_p = min(1.0, BASE_HALLUCINATION_P * mag[in_incident])
                root, info = _BUILDERS[agent](c)
                span = em.emit(agent, _RESOURCES[agent], root)
                info.update(trace_id=format(span.context.trace_id, "032x"), agent=agent, start=ts, duration_s=root.end - root.start,
                            incident=in_incident if in_incident and _hit(in_incident, agent)
                            else None, prompt_version=c.prompt_version
                            if agent == "support-assistant" else None, scored=False,
                            bad=None)
                if rng.random() < SAMPLE_RATE:
                    trace_id = format(span.context.trace_id, "032x")
                    info["scored"] = True
                    _judge(agent, rng, c, trace_id, root.end, score_rows, info)
                truth.append(info)
    spans = em.spans()
    scores = pd.DataFrame(score_rows, columns=[
        "score_id", "trace_id", "observation_id", "timestamp", "name", "value", "string_value",
        "data_type", "source", "environment"])
    return BlindData(spans=spans, scores=scores, labels=labels, truth=pd.DataFrame(truth))


def _hit(runbook: str, agent: str) -> bool:
    return {"timeout_surge": "order-agent", "cost_spike": "triage-agent",
            "hallucination_spike": "support-assistant"}[runbook] == agent


def _release(ts: pd.Timestamp, first: pd.Timestamp) -> str:
    """Weekly application releases, shipped on Tuesdays at 09:00 UTC."""
    weeks = int((ts - pd.Timedelta(hours=9) - (first - pd.Timedelta(days=first.day_of_week - 1)))
                / pd.Timedelta(days=7))
    return f"2026.11.{max(weeks, 0) + 1}"
