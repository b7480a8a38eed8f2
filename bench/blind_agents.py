"""A fourth blind Langfuse project: four agents built on four agent frameworks, each traced the way
that framework (or its documented Langfuse integration) emits OpenTelemetry.

Written from the frameworks' public source and documentation and Langfuse's data model only,
without reading the detectors, so the two cannot share a blind spot by construction.

* ``kb-assistant``: the Langfuse Python SDK v3 (scope ``langfuse-sdk``): an ``@observe``
  function observed ``as_type="agent"`` (``handle_question``) whose trace is renamed with
  ``update_current_trace(name="kb-assistant", user_id, session_id, tags)``; a ``rewrite-query``
  and a ``compose-answer`` generation (``usage_details`` JSON, ``model.parameters``), the latter
  linked to the managed prompt ``kb-answer``; a ``vector-search`` retriever and a
  ``fetch_account`` tool observation. Judged by Langfuse-managed ``Hallucination`` (0..1,
  1 = hallucinated) and ``Helpfulness`` (0..1, 1 = helpful) evaluators.
* ``Triage Agent``: the OpenAI Agents SDK traced by OpenInference's openai-agents instrumentor:
  an ``Agent workflow`` root, one AGENT span per agent (``graph.node.id``), ``response`` LLM spans
  (Responses API: dated model, ``llm.token_count.*``), function TOOL spans named after the tool
  and a ``handoff to Billing Agent`` TOOL span before the ``Billing Agent`` runs. A failing
  function tool is non-fatal in the SDK: its span is ERROR ``Error running tool (non-fatal):
  {...}`` and the model carries on. Judged by ``Correctness`` (0..1, 1 = correct) and the
  boolean ``Resolved`` (a score config).
* ``vendor_research``: a CrewAI crew traced by OpenInference's crewai instrumentor with its
  LiteLLM instrumentor for the LLM calls: ``vendor_research.kickoff`` (CHAIN), one
  ``<role>._execute_core`` AGENT span per task, ``<tool>._use`` TOOL spans and LiteLLM
  ``completion`` LLM spans; gpt-4o, 20-60 s a run (the routinely slow one). Judged by
  ``report_quality``, a 1..10 rating defined by a score config (10 = best).
* ``travel_concierge``: a Google ADK ``LlmAgent`` with ADK's own OpenTelemetry spans (scope
  ``gcp.vertex.agent``): ``invocation``, ``invoke_agent travel_concierge``, ``call_llm``
  (``gen_ai.request.model``, ``gen_ai.usage.*``) and ``execute_tool <name>`` (``gen_ai.tool.*``).
  A tool exception propagates: the tool, agent and invocation spans end ERROR with the OTel
  SDK's ``exception`` event. Judged by ``Groundedness``, categorical under a score config
  (grounded / partially_grounded / ungrounded).

No span carries a cost: Langfuse prices usage with the project's model table (:data:`PRICES`).

Traffic: ~1,300 traces a weekday (55 % at weekends; the crew runs mostly on weekdays), US hours
(peak 14-22 UTC, a deep trough 06-11 UTC) and a mix that shifts by hour (the assistant by day,
the travel agent in the US evening, the crew in office hours). Evaluators sample ~20 % of the
traces that finished without error and write their scores (source EVAL) 5 s - 20 min after the
trace ends.

Incidents (:class:`blind_data.Incident`), each labelled (:class:`blind_data.Label`):

* ``timeout_surge``: ``check_availability`` of ``travel_concierge`` raises
  ``google.api_core.exceptions.DeadlineExceeded: 504 Deadline Exceeded`` after its 20 s deadline
  ``magnitude`` times as often (base 3 % of calls);
* ``cost_spike``: ``supplier_catalog`` of ``vendor_research`` starts returning malformed
  (truncated) JSON for a share of the crew's runs; the analyst re-calls it until CrewAI's
  iteration limit (14-20 extra ~8,000-token gpt-4o calls). The share is chosen so the crew's
  expected cost per run is ``magnitude`` times the normal one (share = (magnitude - 1) x normal
  cost / expected loop cost, at most 1); cause = the tool;
* ``hallucination_spike``: version 13 of prompt ``kb-answer`` is released for ``kb-assistant``
  at the start and rolled back at the end; the Hallucination judge calls its answers
  hallucinated ``magnitude`` times as often (base 6 % of judged answers).

Also in every dataset: a benign ``kb-answer`` v12 (same quality) replaces v11 eight days before
the last day at 10:00 UTC, and each service ships a new release every Monday at 15:00 UTC.

    data = generate(seed=1, end_day="2026-11-29", days=30,
                    incidents=[Incident("cost_spike", "2026-11-19", 16, 3.0)])
    data.spans, data.scores, data.labels, data.truth, data.score_configs
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from blind_data import BlindData, Incident, Label, SeededIds, check_incidents, model_prices, ns

__all__ = ["AGENTS", "PRICES", "SCORE_CONFIGS", "generate", "loop_share"]

KB, TRIAGE, CREW, TRAVEL = "kb-assistant", "Triage Agent", "vendor_research", "travel_concierge"
AGENTS = (KB, TRIAGE, CREW, TRAVEL)
#: weekday traces per agent (weekends: :data:`WEEKEND`)
DAILY = {KB: 520, TRIAGE: 380, CREW: 105, TRAVEL: 295}
WEEKEND = {KB: 0.55, TRIAGE: 0.7, CREW: 0.15, TRAVEL: 0.75}
#: (peak hour UTC, spread in hours, floor) of each agent's day
SHAPE = {KB: (17.0, 3.2, 0.015), TRIAGE: (18.5, 4.5, 0.04), CREW: (16.0, 2.6, 0.0),
         TRAVEL: (22.5, 3.0, 0.03)}
SAMPLE = {KB: 0.25, TRIAGE: 0.15, CREW: 0.30, TRAVEL: 0.15}
DEFAULT_HOURS = {"timeout_surge": 4, "cost_spike": 6, "hallucination_spike": 8}
PROMPT = "kb-answer"

BASE_TIMEOUT_P = 0.03        # check_availability calls that hit their deadline
DEADLINE_S = 20.0
BASE_HALLUCINATION_P = 0.06  # kb-assistant answers the Hallucination judge calls hallucinated
BASE_WRONG_P = 0.08          # Triage Agent answers judged incorrect
BASE_POOR_REPORT_P = 0.10    # crew reports rated 4 or less
BASE_UNGROUNDED_P = 0.07     # travel answers judged ungrounded

#: Public list prices, USD per 1M tokens: (model, input, output, snapshot suffix pattern).
_PRICE_ROWS = (
    ("gpt-4.1", 2.00, 8.00, r"(-\d{4}-\d{2}-\d{2})?"),
    ("gpt-4.1-mini", 0.40, 1.60, r"(-\d{4}-\d{2}-\d{2})?"),
    ("gpt-4.1-nano", 0.10, 0.40, r"(-\d{4}-\d{2}-\d{2})?"),
    ("gpt-4o", 2.50, 10.00, r"(-\d{4}-\d{2}-\d{2})?"),
    ("gemini-2.5-flash", 0.30, 2.50, r"(-\d{3})?"),
)
PRICE_PER_TOKEN = {m: (i / 1e6, o / 1e6) for m, i, o, _ in _PRICE_ROWS}


def _prices() -> tuple[Any, ...]:
    rows = []
    for model, inp, outp, suffix in _PRICE_ROWS:
        provider = r"(google/|gemini/)?" if model.startswith("gemini") else r"(openai/)?"
        rows.append((model, inp, outp, rf"(?i)^{provider}({re.escape(model)}){suffix}$"))
    return model_prices(rows)


PRICES = _prices()


def _config(name: str, data_type: str, description: str, *, min_value: float | None = None,
            max_value: float | None = None,
            categories: list[tuple[float, str]] | None = None) -> dict[str, Any]:
    """A ``ScoreConfig`` as the project defines it (the server adds project and times)."""
    return {"id": f"cfg-{name.lower().replace('_', '-')}", "name": name,
            "dataType": data_type, "isArchived": False, "minValue": min_value,
            "maxValue": max_value,
            "categories": None if categories is None else [
                {"value": v, "label": lab} for v, lab in categories],
            "description": description}


#: The project's score configs the evaluators write against.
SCORE_CONFIGS = (
    _config("report_quality", "NUMERIC", "Overall quality of the vendor report, 1 (unusable) "
            "to 10 (ready to send)", min_value=1, max_value=10),
    _config("Groundedness", "CATEGORICAL", "Is every claim in the answer supported by the "
            "tool results?", categories=[(0, "ungrounded"), (1, "partially_grounded"),
                                         (2, "grounded")]),
    _config("Resolved", "BOOLEAN", "Did the answer resolve the customer's request?",
            categories=[(0, "False"), (1, "True")]),
)


# ---- spans ---------------------------------------------------------------------------------------

@dataclass
class _Span:
    name: str
    start: float
    end: float
    attrs: dict[str, Any]
    scope: str
    kind: SpanKind = SpanKind.INTERNAL
    status: tuple[str, str | None] | None = None  # ("OK"|"ERROR", description)
    events: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)
    children: list[_Span] = field(default_factory=list)

    def add(self, child: _Span) -> _Span:
        self.children.append(child)
        return child


class _Emitter:
    """Finished OTel SDK spans with explicit times; one provider per service and release."""

    def __init__(self, rng: random.Random) -> None:
        self.exporter = InMemorySpanExporter()
        self.ids = SeededIds(rng)
        self._providers: dict[tuple[str, str], TracerProvider] = {}
        self._tracers: dict[tuple[str, str, str], Any] = {}

    def _tracer(self, resource: dict[str, Any], scope: str) -> Any:
        rkey = (resource["service.name"], json.dumps(resource, sort_keys=True))
        key = (*rkey, scope)
        if key not in self._tracers:
            if rkey not in self._providers:
                p = TracerProvider(resource=Resource.create(resource), id_generator=self.ids)
                p.add_span_processor(SimpleSpanProcessor(self.exporter))
                self._providers[rkey] = p
            name, _, version = scope.partition("@")
            self._tracers[key] = self._providers[rkey].get_tracer(name, version or None)
        return self._tracers[key]

    def emit(self, resource: dict[str, Any], node: _Span, parent: Any = None) -> str:
        tracer = self._tracer(resource, node.scope)
        ctx = otel_trace.set_span_in_context(parent) if parent is not None else None
        span = tracer.start_span(node.name, context=ctx, kind=node.kind,
                                 attributes=node.attrs, start_time=ns(node.start))
        for child in node.children:
            self.emit(resource, child, span)
        for name, attrs, t in node.events:
            span.add_event(name, attrs, timestamp=ns(t))
        if node.status is not None:
            code, desc = node.status
            if code == "OK":
                span.set_status(Status(StatusCode.OK))
            else:
                span.set_status(Status(StatusCode.ERROR, desc))
        span.end(end_time=ns(node.end))
        return format(span.get_span_context().trace_id, "032x")

    def spans(self) -> list[Any]:
        return list(self.exporter.get_finished_spans())


def _exception(exc_type: str, message: str, t: float) -> tuple[str, dict[str, Any], float]:
    """The ``exception`` event the OTel SDK records (``record_exception``)."""
    return ("exception", {"exception.type": exc_type, "exception.message": message,
                          "exception.stacktrace": f"Traceback (most recent call last):\n  ...\n"
                                                  f"{exc_type}: {message}",
                          "exception.escaped": "False"}, t)


# ---- per-trace context ---------------------------------------------------------------------------

@dataclass
class _Trace:
    """What a builder decides and reports for one trace."""

    rng: random.Random
    t0: float
    release: str
    prompt_version: int = 12
    timeout_p: float = BASE_TIMEOUT_P
    loop: bool = False
    hallucination_p: float = BASE_HALLUCINATION_P
    cost: float = 0.0
    timeout: bool = False
    error: bool = False
    end: float = 0.0
    poor: bool = False   # the answer is one the agent's judge will call bad

    def bill(self, model: str, inp: int, out: int) -> None:
        pin, pout = PRICE_PER_TOKEN[_base_model(model)]
        self.cost += inp * pin + out * pout

    def lognormal(self, median: float, sigma: float) -> float:
        return median * float(np.exp(self.rng.gauss(0.0, sigma)))

    def tokens(self, mean: float, spread: float) -> int:
        return max(1, int(round(mean + self.rng.uniform(-spread, spread))))

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def _base_model(model: str) -> str:
    for m, *_ in sorted(_PRICE_ROWS, key=lambda r: -len(r[0])):
        if model.split("/")[-1].startswith(m):
            return m
    raise KeyError(model)


# ---- kb-assistant: Langfuse Python SDK v3 -----------------------------------------------------

_LF_SCOPE = "langfuse-sdk@3.6.2"


def _lf(obs_type: str, **extra: Any) -> dict[str, Any]:
    a = {"langfuse.observation.type": obs_type, "langfuse.environment": "production"}
    a.update({k: v for k, v in extra.items() if v is not None})
    return a


def _kb(c: _Trace) -> tuple[_Span, dict[str, Any]]:
    rng = c.rng
    user = f"u_{rng.randrange(1, 4000):05d}"
    question = rng.choice(["How do I rotate an API key?", "Why was my invoice higher?",
                           "Can I export audit logs to S3?", "How do I add SSO for my team?"])
    t = c.t0
    root = _Span("handle_question", t, t, _lf(
        "agent", **{"langfuse.trace.name": KB, "user.id": user,
                    "session.id": f"sess-{c.uid()[:13]}",
                    "langfuse.trace.tags": ("kb", rng.choice(["web", "slack"])),
                    "langfuse.observation.input": json.dumps({"question": question})}),
        _LF_SCOPE)
    t += rng.uniform(0.01, 0.05)
    inp, out = c.tokens(380, 120), c.tokens(40, 15)
    d = c.lognormal(0.45, 0.3)
    root.add(_Span("rewrite-query", t, t + d, _lf(
        "generation", **{"langfuse.observation.model.name": "gpt-4.1-nano",
                         "langfuse.observation.model.parameters": json.dumps({"temperature": 0}),
                         "langfuse.observation.usage_details": json.dumps(
                             {"input": inp, "output": out}),
                         "langfuse.observation.completion_start_time": json.dumps(
                             pd.Timestamp(t + d * 0.6, unit="s", tz="UTC").isoformat())}),
        _LF_SCOPE))
    c.bill("gpt-4.1-nano", inp, out)
    t += d + 0.01
    d = c.lognormal(0.25, 0.35)
    root.add(_Span("vector-search", t, t + d, _lf(
        "retriever", **{"langfuse.observation.input": json.dumps({"query": question, "k": 8}),
                        "langfuse.observation.output": json.dumps({"documents": 8})}),
        _LF_SCOPE))
    t += d + 0.01
    if rng.random() < 0.4:
        d = c.lognormal(0.35, 0.4)
        failed = rng.random() < 0.01
        tool = _Span("fetch_account", t, t + d, _lf(
            "tool", **{"langfuse.observation.input": json.dumps({"user_id": user})}),
            _LF_SCOPE)
        if failed:  # caught by the app and recorded with update(level=..., status_message=...)
            tool.attrs.update({"langfuse.observation.level": "ERROR",
                               "langfuse.observation.status_message":
                                   "503 Service Unavailable from accounts-api"})
        root.add(tool)
        t += d + 0.01
    inp, out = c.tokens(2600, 700), c.tokens(340, 140)
    d = c.lognormal(2.6, 0.35)
    root.add(_Span("compose-answer", t, t + d, _lf(
        "generation", **{"langfuse.observation.model.name": "gpt-4.1-2025-04-14",
                         "langfuse.observation.model.parameters": json.dumps(
                             {"temperature": 0.2, "max_tokens": 800}),
                         "langfuse.observation.usage_details": json.dumps(
                             {"input": inp, "output": out}),
                         "langfuse.observation.prompt.name": PROMPT,
                         "langfuse.observation.prompt.version": c.prompt_version,
                         "langfuse.observation.completion_start_time": json.dumps(
                             pd.Timestamp(t + 0.7, unit="s", tz="UTC").isoformat())}),
        _LF_SCOPE))
    c.bill("gpt-4.1", inp, out)
    t += d + 0.02
    root.end = t
    root.attrs["langfuse.observation.output"] = json.dumps({"answer": "..."})
    c.poor = rng.random() < c.hallucination_p
    return root, {"service.name": "kb-assistant", "langfuse.release": c.release}


# ---- Triage Agent: OpenAI Agents SDK through OpenInference -----------------------------------------

_OAI_SCOPE = "openinference.instrumentation.openai_agents@1.3.0"
_OAI_MODEL = "gpt-4.1-mini-2025-04-14"


def _triage(c: _Trace) -> tuple[_Span, dict[str, Any]]:
    rng = c.rng
    t = c.t0
    root = _Span("Agent workflow", t, t, {"openinference.span.kind": "AGENT"}, _OAI_SCOPE,
                 status=("OK", None))

    def agent(name: str, start: float) -> _Span:
        return root.add(_Span(name, start, start, {
            "openinference.span.kind": "AGENT", "llm.system": "openai", "graph.node.id": name},
            _OAI_SCOPE, status=("OK", None)))

    def response(parent: _Span, start: float, inp: int, out: int) -> float:
        d = c.lognormal(1.3, 0.35)
        parent.add(_Span("response", start, start + d, {
            "openinference.span.kind": "LLM", "llm.system": "openai",
            "llm.model_name": _OAI_MODEL,
            "llm.invocation_parameters": json.dumps({"model": _OAI_MODEL, "temperature": 0.3}),
            "llm.token_count.prompt": inp, "llm.token_count.completion": out,
            "llm.token_count.total": inp + out,
            "llm.token_count.prompt_details.cache_read": 0,
            "llm.token_count.completion_details.reasoning": 0,
            "input.value": "[...]", "input.mime_type": "application/json",
            "output.value": "{...}", "output.mime_type": "application/json"},
            _OAI_SCOPE, status=("OK", None)))
        c.bill(_OAI_MODEL, inp, out)
        return start + d

    def tool(parent: _Span, start: float, name: str, median: float) -> float:
        d = c.lognormal(median, 0.5)
        span = parent.add(_Span(name, start, start + d, {
            "openinference.span.kind": "TOOL", "llm.system": "openai", "tool.name": name,
            "input.value": json.dumps({"order_id": f"A{rng.randrange(10**6):06d}"}),
            "input.mime_type": "application/json"}, _OAI_SCOPE, status=("OK", None)))
        if rng.random() < 0.006:  # the SDK's default tool error function: non-fatal
            d = 30.0 + rng.uniform(0, 0.2)
            span.end = start + d
            span.status = ("ERROR", "Error running tool (non-fatal): {'tool_name': '" + name
                           + "', 'error': 'Request timed out.'}")
            span.attrs["output.value"] = ("An error occurred while running the tool. Please "
                                          "try again. Error: Request timed out.")
            c.timeout = c.error = True
        else:
            span.attrs["output.value"] = json.dumps({"status": "shipped", "eta_days": 2})
            span.attrs["output.mime_type"] = "application/json"
        return start + d

    a = agent(TRIAGE, t + 0.002)
    t = response(a, t + 0.01, c.tokens(1150, 250), c.tokens(45, 20))
    t = tool(a, t + 0.005, "lookup_order", 0.6)
    if rng.random() < 0.35:
        t = response(a, t + 0.005, c.tokens(1400, 250), c.tokens(40, 15))
        t = tool(a, t + 0.005, "get_shipping_status", 0.9)
    if rng.random() < 0.25:
        t = response(a, t + 0.005, c.tokens(1500, 250), c.tokens(30, 10))
        h = a.add(_Span("handoff to Billing Agent", t + 0.001, t + 0.002, {
            "openinference.span.kind": "TOOL", "llm.system": "openai"}, _OAI_SCOPE,
            status=("OK", None)))
        a.end = h.end + 0.001
        b = agent("Billing Agent", a.end + 0.002)
        t = response(b, b.start + 0.01, c.tokens(1700, 300), c.tokens(45, 20))
        t = tool(b, t + 0.005, "get_invoice", 0.7)
        t = response(b, t + 0.005, c.tokens(2100, 300), c.tokens(220, 90))
        b.end = t + 0.003
    else:
        t = response(a, t + 0.005, c.tokens(1600, 300), c.tokens(200, 80))
        a.end = t + 0.003
    root.end = max(ch.end for ch in root.children) + 0.004
    c.poor = rng.random() < BASE_WRONG_P
    return root, {"service.name": "support-agents", "service.version": c.release}


# ---- vendor_research: CrewAI through OpenInference (crewai + litellm) --------------------------

_CREW_SCOPE = "openinference.instrumentation.crewai@0.1.17"
_LITELLM_SCOPE = "openinference.instrumentation.litellm@0.1.25"
_CREW_MODEL = "gpt-4o"
_MALFORMED = '{"items": [{"sku": "VX-2231", "supplier": "Norden Parts", "unit_price": 4.1'
#: analyst steps before the final answer: tool calls drawn from (1, 2, 3)
_ANALYST_PROMPT, _ANALYST_GROWTH, _STEP_OUT, _FINAL_OUT = 1800, 500, 150, 450
_WRITER_PROMPT, _WRITER_OUT = 2600, 700
_LOOP_PROMPT, _LOOP_OUT, _LOOP_ITERS = 8000, 180, (14, 20)


def _crew_costs() -> tuple[float, float]:
    """Expected cost of a normal crew run and of one extra loop iteration (USD)."""
    pin, pout = PRICE_PER_TOKEN[_CREW_MODEL]
    runs = []
    for n in (1, 2, 3):
        inp = sum(_ANALYST_PROMPT + _ANALYST_GROWTH * i for i in range(n + 1)) + _WRITER_PROMPT
        out = _STEP_OUT * n + _FINAL_OUT + _WRITER_OUT
        runs.append(inp * pin + out * pout)
    return float(np.mean(runs)), _LOOP_PROMPT * pin + _LOOP_OUT * pout


def loop_share(magnitude: float) -> float:
    """Share of crew runs caught in the retry loop so the expected cost per run is
    ``magnitude`` times the normal one (capped at every run)."""
    base, step = _crew_costs()
    iters = float(np.mean(_LOOP_ITERS))
    return min(1.0, max(0.0, (magnitude - 1.0) * base / (iters * step)))


def _crew(c: _Trace) -> tuple[_Span, dict[str, Any]]:
    rng = c.rng
    crew_id = c.uid()
    t = c.t0
    root = _Span(f"{CREW}.kickoff", t, t, {
        "openinference.span.kind": "CHAIN", "crew_key": "5f1c0e7d2a9b4c3e8d7f6a5b4c3d2e1f",
        "crew_id": crew_id, "input.value": json.dumps({"category": rng.choice(
            ["fasteners", "packaging", "bearings", "cabling"])}),
        "input.mime_type": "application/json"}, _CREW_SCOPE, status=("OK", None))

    def task(role: str, parent_role: str | None, start: float) -> _Span:
        attrs = {"openinference.span.kind": "AGENT", "input.value": "{...}",
                 "task_key": f"task-{role.lower().replace(' ', '-')}", "task_id": c.uid(),
                 "graph.node.id": role, "llm.model_name": _CREW_MODEL, "llm.provider": "openai",
                 "llm.system": "openai", "crew_key": root.attrs["crew_key"],
                 "crew_id": crew_id}
        if parent_role:
            attrs["graph.node.parent_id"] = parent_role
        return root.add(_Span(f"{role}._execute_core", start, start, attrs, _CREW_SCOPE,
                              status=("OK", None)))

    def llm(parent: _Span, start: float, inp: int, out: int, median: float) -> float:
        d = c.lognormal(median, 0.3)
        parent.add(_Span("completion", start, start + d, {
            "openinference.span.kind": "LLM", "llm.model_name": _CREW_MODEL,
            "llm.provider": "openai", "llm.system": "openai",
            "llm.invocation_parameters": json.dumps({"temperature": 0.7, "stop": ["\nObservation:"]}),
            "llm.token_count.prompt": inp, "llm.token_count.completion": out,
            "llm.token_count.total": inp + out, "input.value": "{...}",
            "input.mime_type": "application/json", "output.value": "Thought: ..."},
            _LITELLM_SCOPE, status=("OK", None)))
        c.bill(_CREW_MODEL, inp, out)
        return start + d

    def tool(parent: _Span, start: float, name: str, output: str, median: float) -> float:
        d = c.lognormal(median, 0.4)
        parent.add(_Span(f"{name}._use", start, start + d, {
            "openinference.span.kind": "TOOL", "tool.name": name,
            "input.value": json.dumps({"tool_string": f"Action: {name}"}),
            "input.mime_type": "application/json", "output.value": output},
            _CREW_SCOPE, status=("OK", None)))
        return start + d

    analyst = task("Procurement Analyst", None, t + 0.05)
    t = analyst.start + 0.02
    n = rng.choice((1, 2, 3))
    for i in range(n):
        t = llm(analyst, t, c.tokens(_ANALYST_PROMPT + _ANALYST_GROWTH * i, 300),
                c.tokens(_STEP_OUT, 60), 3.5)
        name = "supplier_catalog" if i == 0 else "price_history"
        t = tool(analyst, t + 0.01, name, json.dumps({"items": 12, "currency": "EUR"}), 1.4)
    if c.loop:
        for _ in range(rng.randint(*_LOOP_ITERS)):
            t = llm(analyst, t + 0.01, c.tokens(_LOOP_PROMPT, 500), c.tokens(_LOOP_OUT, 60), 4.5)
            t = tool(analyst, t + 0.01, "supplier_catalog", _MALFORMED, 1.4)
    t = llm(analyst, t + 0.01, c.tokens(_ANALYST_PROMPT + _ANALYST_GROWTH * n, 300),
            c.tokens(_FINAL_OUT, 150), 6.0)
    analyst.end = t + 0.02
    analyst.attrs["output.value"] = ("Agent stopped due to iteration limit or time limit."
                                     if c.loop else "Shortlist: ...")
    writer = task("Report Writer", "Procurement Analyst", analyst.end + 0.03)
    t = llm(writer, writer.start + 0.02, c.tokens(_WRITER_PROMPT, 500), c.tokens(_WRITER_OUT, 250),
            9.0)
    writer.end = t + 0.02
    root.end = writer.end + 0.05
    root.attrs["output.value"] = "# Vendor report ..."
    c.poor = c.loop or rng.random() < BASE_POOR_REPORT_P
    return root, {"service.name": "procurement-crew", "service.version": c.release}


# ---- travel_concierge: Google ADK's own spans ----------------------------------------------------

_ADK_SCOPE = "gcp.vertex.agent@1.18.0"
_ADK_MODEL = "gemini-2.5-flash"
_DEADLINE_TYPE = "google.api_core.exceptions.DeadlineExceeded"
_DEADLINE_MSG = "504 Deadline Exceeded"


def _travel(c: _Trace) -> tuple[_Span, dict[str, Any]]:
    rng = c.rng
    session, invocation = c.uid(), f"e-{c.uid()}"
    t = c.t0
    root = _Span("invocation", t, t, {}, _ADK_SCOPE)
    agent = root.add(_Span(f"invoke_agent {TRAVEL}", t + 0.003, t, {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.description": "Finds and books trips for travellers",
        "gen_ai.agent.name": TRAVEL, "gen_ai.conversation.id": session}, _ADK_SCOPE))
    t = agent.start + 0.01

    def call_llm(start: float, inp: int, out: int, finish: str) -> float:
        d = c.lognormal(1.1, 0.35)
        agent.add(_Span("call_llm", start, start + d, {
            "gen_ai.system": "gcp.vertex.agent", "gen_ai.request.model": _ADK_MODEL,
            "gcp.vertex.agent.invocation_id": invocation,
            "gcp.vertex.agent.session_id": session, "gcp.vertex.agent.event_id": c.uid(),
            "gcp.vertex.agent.llm_request": json.dumps({"model": _ADK_MODEL, "contents": []}),
            "gcp.vertex.agent.llm_response": json.dumps({"content": {"role": "model"}}),
            "gen_ai.request.max_tokens": 1024,
            "gen_ai.usage.input_tokens": inp, "gen_ai.usage.output_tokens": out,
            "gen_ai.response.finish_reasons": (finish,)}, _ADK_SCOPE))
        c.bill(_ADK_MODEL, inp, out)
        return start + d

    def execute_tool(start: float, name: str, description: str, median: float,
                     timeout_p: float) -> float | None:
        call_id = f"adk-{c.uid()}"
        attrs = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.description": description,
                 "gen_ai.tool.name": name, "gen_ai.tool.type": "FunctionTool",
                 "gcp.vertex.agent.llm_request": "{}", "gcp.vertex.agent.llm_response": "{}",
                 "gcp.vertex.agent.tool_call_args": json.dumps({"city": "Lisbon"}),
                 "gen_ai.tool.call.id": call_id}
        if rng.random() < timeout_p:
            end = start + DEADLINE_S + rng.uniform(0.0, 0.3)
            agent.add(_Span(f"execute_tool {name}", start, end, attrs, _ADK_SCOPE,
                            status=("ERROR", f"DeadlineExceeded: {_DEADLINE_MSG}"),
                            events=[_exception(_DEADLINE_TYPE, _DEADLINE_MSG, end)]))
            c.timeout = c.error = True
            return None
        d = c.lognormal(median, 0.45)
        attrs["gcp.vertex.agent.event_id"] = c.uid()
        attrs["gcp.vertex.agent.tool_response"] = json.dumps({"result": {"options": 4}})
        agent.add(_Span(f"execute_tool {name}", start, start + d, attrs, _ADK_SCOPE))
        return start + d

    t = call_llm(t, c.tokens(1500, 400), c.tokens(60, 25), "stop")
    done: float | None = t
    if rng.random() < 0.85:
        done = execute_tool(t + 0.005, "check_availability",
                            "Checks seat and room availability for dates", 1.2, c.timeout_p)
        if done is not None:
            done = call_llm(done + 0.005, c.tokens(2100, 400), c.tokens(70, 25), "stop")
    if done is not None and rng.random() < 0.4:
        done = execute_tool(done + 0.005, "get_weather", "Weather forecast for a city", 0.5,
                            0.004)
        if done is not None:
            done = call_llm(done + 0.005, c.tokens(2400, 400), c.tokens(60, 20), "stop")
    if done is not None:
        done = call_llm(done + 0.005, c.tokens(2600, 400), c.tokens(260, 100), "stop")
        agent.end = done + 0.004
        root.end = agent.end + 0.002
    else:  # the tool's exception propagates through the agent and the invocation
        t_err = agent.children[-1].end
        agent.end, root.end = t_err + 0.002, t_err + 0.004
        for span in (agent, root):
            span.status = ("ERROR", f"DeadlineExceeded: {_DEADLINE_MSG}")
            span.events.append(_exception(_DEADLINE_TYPE, _DEADLINE_MSG, span.end))
    c.poor = rng.random() < BASE_UNGROUNDED_P
    return root, {"service.name": "travel-concierge", "service.version": c.release}


_BUILDERS = {KB: _kb, TRIAGE: _triage, CREW: _crew, TRAVEL: _travel}


# ---- evaluators ----------------------------------------------------------------------------------

def _scores(agent: str, c: _Trace, trace_id: str, rng: random.Random) -> list[dict[str, Any]]:
    """The evaluators' scores of one judged trace (trace-level, source EVAL)."""
    out: list[dict[str, Any]] = []
    t = c.end + min(1200.0, 5.0 + rng.lognormvariate(np.log(45.0), 0.9))

    def add(name: str, value: float, dtype: str, label: str | None = None) -> None:
        out.append({"score_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "trace_id": trace_id, "observation_id": None,
                    "timestamp": pd.Timestamp(t + 0.3 * len(out), unit="s", tz="UTC"),
                    "name": name, "value": float(value), "string_value": label,
                    "data_type": dtype, "source": "EVAL", "environment": "production"})

    bad = c.poor
    if agent == KB:
        add("Hallucination", round(rng.uniform(0.6, 1.0) if bad else
                                   min(0.4, abs(rng.gauss(0.0, 0.12))), 1), "NUMERIC")
        add("Helpfulness", round(rng.uniform(0.1, 0.5) if bad else rng.uniform(0.6, 1.0), 1),
            "NUMERIC")
    elif agent == TRIAGE:
        add("Correctness", round(rng.uniform(0.0, 0.4) if bad else rng.uniform(0.7, 1.0), 1),
            "NUMERIC")
        resolved = (not bad) and rng.random() < 0.93
        add("Resolved", 1.0 if resolved else 0.0, "BOOLEAN", "True" if resolved else "False")
    elif agent == CREW:
        add("report_quality", rng.randint(1, 4) if bad else rng.choice((6, 7, 7, 8, 8, 8, 9, 10)),
            "NUMERIC")
    else:
        if bad:
            value, label = 0.0, "ungrounded"
        elif rng.random() < 0.15:
            value, label = 1.0, "partially_grounded"
        else:
            value, label = 2.0, "grounded"
        add("Groundedness", value, "CATEGORICAL", label)
    return out


# ---- traffic and incidents -----------------------------------------------------------------------

def _hour_weights(agent: str) -> np.ndarray:
    peak, spread, floor = SHAPE[agent]
    h = np.arange(24) + 0.5
    dist = np.minimum(np.abs(h - peak), 24 - np.abs(h - peak))
    w = floor + np.exp(-0.5 * (dist / spread) ** 2)
    return w / w.sum()


_RUNBOOKS = {
    # runbook: (agent, cause dimension, cause value, within)
    "timeout_surge": (TRAVEL, "tool", "check_availability", {"agent": TRAVEL}),
    "cost_spike": (CREW, "tool", "supplier_catalog", {"agent": CREW}),
    "hallucination_spike": (KB, "prompt_version", "13", {"prompt": PROMPT}),
}


def _window(inc: Incident) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(inc.day, tz="UTC") + pd.Timedelta(hours=inc.hour)
    return start, start + pd.Timedelta(hours=inc.hours or DEFAULT_HOURS[inc.runbook])


def _release(ts: pd.Timestamp, first: pd.Timestamp, service: str) -> str:
    """Weekly releases, Mondays 15:00 UTC."""
    anchor = (first - pd.Timedelta(days=first.weekday())).normalize() + pd.Timedelta(hours=15)
    weeks = int((ts - anchor) // pd.Timedelta(days=7))
    base = {KB: "2026.11", TRIAGE: "3.4", CREW: "0.9", TRAVEL: "1.7"}[service]
    return f"{base}.{max(weeks, 0) + 1}"


def generate(seed: int = 1, end_day: str = "2026-11-29", days: int = 30,
             incidents: Iterable[Incident] = (), volume: float = 1.0) -> BlindData:
    """``days`` whole UTC days ending on ``end_day`` (inclusive) of the four agents, with the
    given incidents injected and ``volume`` times the usual traffic (:data:`DAILY`);
    deterministic for a seed."""
    incidents = list(incidents)
    check_incidents(incidents, days)
    if not volume > 0:
        raise ValueError(f"volume must be > 0, got {volume!r}")
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    em = _Emitter(random.Random(seed * 7919 + 13))
    first = pd.Timestamp(end_day, tz="UTC") - pd.Timedelta(days=days - 1)
    benign = pd.Timestamp(end_day, tz="UTC") - pd.Timedelta(days=8) + pd.Timedelta(hours=10)
    windows = {inc.runbook: (_window(inc), inc.magnitude) for inc in incidents}

    starts: list[tuple[float, str]] = []
    for day in pd.date_range(first, periods=days, freq="D"):
        weekend = day.weekday() >= 5
        for agent in AGENTS:
            n = int(nrng.poisson(DAILY[agent] * volume * (WEEKEND[agent] if weekend else 1.0)))
            hours = nrng.choice(24, size=n, p=_hour_weights(agent))
            secs = nrng.uniform(0, 3600, size=n)
            base = day.value / 1e9
            starts += [(base + h * 3600.0 + s, agent) for h, s in zip(hours, secs)]
    starts.sort()

    def inside(runbook: str, ts: pd.Timestamp) -> float | None:
        if runbook not in windows:
            return None
        (lo, hi), mag = windows[runbook]
        return mag if lo <= ts < hi else None

    rows, scores = [], []
    for t0, agent in starts:
        ts = pd.Timestamp(t0, unit="s", tz="UTC")
        c = _Trace(random.Random(rng.getrandbits(64)), t0, _release(ts, first, agent))
        c.prompt_version = 12 if ts >= benign else 11
        if agent == TRAVEL and (m := inside("timeout_surge", ts)) is not None:
            c.timeout_p = min(0.95, BASE_TIMEOUT_P * m)
        if agent == CREW and (m := inside("cost_spike", ts)) is not None:
            c.loop = c.rng.random() < loop_share(m)
        if agent == KB and (m := inside("hallucination_spike", ts)) is not None:
            c.prompt_version = 13
            c.hallucination_p = min(0.95, BASE_HALLUCINATION_P * m)
        root, resource = _BUILDERS[agent](c)
        c.end = root.end
        trace_id = em.emit(resource, root)
        judged = (not c.error) and rng.random() < SAMPLE[agent]
        if judged:
            scores += _scores(agent, c, trace_id, rng)
        rows.append({"trace_id": trace_id, "agent": agent, "start": ts,
                     "duration_s": root.end - t0, "timeout": c.timeout, "error": c.error,
                     "cost": c.cost, "scored": judged, "bad": c.poor if judged else None})

    truth = pd.DataFrame(rows, columns=["trace_id", "agent", "start", "duration_s", "timeout",
                                        "error", "cost", "scored", "bad"])
    sc = pd.DataFrame(scores, columns=["score_id", "trace_id", "observation_id", "timestamp",
                                       "name", "value", "string_value", "data_type", "source",
                                       "environment"])
    labels = []
    for inc in incidents:
        agent, dim, value, within = _RUNBOOKS[inc.runbook]
        lo, hi = _window(inc)
        labels.append(Label(inc.runbook, lo, hi, agent, dim, value, dict(within), inc.magnitude))
    return BlindData(spans=em.spans(), scores=sc, labels=labels, truth=truth, prices=PRICES,
                      score_configs=[dict(cfg) for cfg in SCORE_CONFIGS])
