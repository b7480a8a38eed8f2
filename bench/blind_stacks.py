"""A fifth blind dataset (``--data stacks``): four agents on four other stacks, as each stack
really reports into one Langfuse project.

Written from the stacks' public documentation and source only (facts, not code), without reading
the detectors:

* ``trip-planner``: a Mastra (TypeScript) agent with Mastra's ``LangfuseExporter`` (AI tracing
  spans converted to OpenTelemetry GenAI spans by ``@mastra/otel-exporter`` and sent through
  Langfuse's span processor; scope ``@mastra/langfuse``). ``invoke_agent <agent>``
  (``AGENT_RUN``) holds one ``chat <model>`` span (``MODEL_GENERATION``, usage summed over the
  loop, ``gen_ai.request.model`` / ``gen_ai.response.model``), its ``step N`` spans
  (``MODEL_STEP``) and the ``execute_tool <tool>`` spans (``TOOL_CALL``, ``gen_ai.tool.name``).
  The system prompt is a Langfuse prompt (``trip-planner-system``) linked through
  ``metadata.langfuse.prompt``, which the exporter maps to ``langfuse.observation.prompt.*``;
  thread and user to ``session.id`` / ``user.id``. Judged by end users (``user-feedback``).
* ``kb-rag``: a Haystack 2 RAG pipeline traced by ``LangfuseConnector("kb-rag")`` (Langfuse
  Python SDK v3, scope ``langfuse-sdk``): root span named after the connector, one observation
  per component named after it, typed by component class (``*Embedder`` -> embedding,
  ``*Retriever`` -> retriever, ``*Generator`` -> generation, else span), usage as
  ``input_tokens``/``output_tokens``/``total_tokens``, component name and type as metadata.
  The app retries a pipeline run that failed on a provider 429 (a new trace). Judged by a
  nightly RAGAS job (``faithfulness``, ``answer_relevancy``, ``context_precision``; 0..1, high
  is good) written with the SDK hours after the traces.
* ``sales_analyst``: a smolagents ``CodeAgent`` (``LiteLLMModel`` on Claude) traced by
  OpenInference's smolagents instrumentor: ``<name>.run`` (AGENT), ``Step N`` (CHAIN),
  ``LiteLLMModel.generate`` (LLM, ``llm.model_name``, ``llm.token_count.*``) and tool spans
  named after the tool class (TOOL, ``tool.name``). A step whose code raises ends ERROR (the
  run goes on). Judged by a DeepEval ``Task Completion`` metric (0..1, high is good).
* ``billing-assistant``: a Semantic Kernel ``ChatCompletionAgent`` on Azure OpenAI deployments,
  with SK's own experimental GenAI diagnostics: ``invoke_agent <agent>``, ``chat.completions
  <deployment>`` (``gen_ai.operation.name`` ``chat.completions``, ``gen_ai.request.model``,
  ``gen_ai.usage.input_tokens``/``output_tokens``, on failure ``error.type`` and the status
  ``repr(exception)``) and ``execute_tool <Plugin-function>``; a prompt function used as a tool
  runs on the cheaper deployment. Sent to Langfuse's OTel endpoint. Judged by DeepEval
  (``Hallucination``: 0..1, high is bad; ``Answer Relevancy``) and by end users.

Traffic: a Tokyo (UTC+9) product: office hours 09-18 JST (00-09 UTC), quiet nights, weekends with
fewer analysts and billing questions but more trip planning; ~1,250 traces a weekday, ~760 on a
weekend day. Unrelated errors: a provider 429 that fails a Haystack run (retried by the app, so
a second trace follows), a Claude rate limit that exhausts LiteLLM's retries, a Mastra
``AI_RetryError``, code-execution errors in analyst steps, and kernel-function argument
validation errors the billing agent recovers from. Score configs: ``faithfulness`` and
``Hallucination`` (NUMERIC 0..1) and ``user-feedback`` (BOOLEAN).

Incidents (:class:`blind_data.Incident`), each labelled:

* ``timeout_surge``: Azure OpenAI deployment ``gpt-4o`` of ``billing-assistant`` times out
  (``APITimeoutError`` after the client's retries, wrapped in SK's
  ``ServiceResponseException``) ``magnitude`` times as often (base 0.8 % of its calls);
* ``cost_spike``: version 14 of prompt ``trip-planner-system`` (a bloated system prompt) ships
  at the start and is rolled back at the end: input tokens per request grow ~``magnitude``-fold
  on the same model;
* ``hallucination_spike``: a ``kb-rag`` release switches the query embedder to
  ``text-embedding-3-large`` while the index was built with ``text-embedding-3-small``:
  retrieval degrades and RAGAS marks ``magnitude`` times as many answers unfaithful (base 6 %).

Also in every dataset: version 13 of ``trip-planner-system`` (same size) replaces 12 on
2026-11-23 (benign), and each service's release changes weekly.

    data = generate(seed=1, end_day="2026-11-29", days=30,
                    incidents=[Incident("cost_spike", "2026-11-20", 1, 3.0)])
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from blind_data import BlindData, Incident, Label, _Emitter, _Node, check_incidents, model_prices

__all__ = ["AGENTS", "PRICES", "SCORE_CONFIGS", "generate"]

AGENTS = ("trip-planner", "kb-rag", "sales_analyst", "billing-assistant")
TZ_OFFSET_H = 9  # Asia/Tokyo, no daylight saving

#: traces a day per agent (a local weekday, a local weekend day)
VOLUME = {"trip-planner": (340, 390), "kb-rag": (460, 190), "sales_analyst": (120, 22),
          "billing-assistant": (330, 160)}

# Relative traffic per local (JST) hour.
_OFFICE = (0.15, 0.08, 0.05, 0.05, 0.05, 0.1, 0.4, 1.5, 3.5, 6.0, 7.0, 7.0, 5.0, 6.5, 7.0, 7.0,
           6.5, 5.0, 3.0, 2.0, 1.4, 0.9, 0.5, 0.3)
_EVENING = (0.9, 0.5, 0.25, 0.15, 0.15, 0.25, 0.8, 2.0, 3.0, 3.5, 3.5, 3.5, 4.0, 3.5, 3.5, 3.5,
            3.5, 4.0, 5.0, 6.0, 6.5, 6.0, 4.5, 2.5)
_WEEKEND = (0.7, 0.4, 0.2, 0.15, 0.15, 0.25, 0.5, 1.5, 3.0, 4.5, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0,
            5.0, 5.0, 5.0, 5.0, 4.5, 3.5, 2.5, 1.4)
_SHAPE = {"trip-planner": _EVENING, "kb-rag": _OFFICE, "sales_analyst": _OFFICE,
          "billing-assistant": _OFFICE}

#: USD per 1M tokens (input, output) and the model-name suffix of dated snapshots
_PRICE_ROWS = (
    ("gpt-4o", 2.50, 10.00, r"(-\d{4}-\d{2}-\d{2})?"),
    ("gpt-4o-mini", 0.15, 0.60, r"(-\d{4}-\d{2}-\d{2})?"),
    ("gpt-4.1-mini", 0.40, 1.60, r"(-\d{4}-\d{2}-\d{2})?"),
    ("claude-sonnet-4-5", 3.00, 15.00, r"(-\d{8})?"),
    ("text-embedding-3-small", 0.02, 0.0, ""),
    ("text-embedding-3-large", 0.13, 0.0, ""),
)
PER_TOKEN = {m: (i / 1e6, o / 1e6) for m, i, o, _ in _PRICE_ROWS}

BASE_GPT4O_TIMEOUT_P = 0.008   # billing-assistant gpt-4o calls that time out
BASE_UNFAITHFUL_P = 0.06       # kb-rag answers RAGAS finds unfaithful
BASE_BILLING_HALLUCINATION_P = 0.04
BASE_TASK_FAILED_P = 0.10
PROMPT_NAME = "trip-planner-system"
BENIGN_PROMPT_AT = pd.Timestamp("2026-11-23", tz="UTC")

SCORE_CONFIGS = [
    {"id": "cfg-faithfulness-01", "name": "faithfulness", "dataType": "NUMERIC",
     "minValue": 0.0, "maxValue": 1.0,
     "description": "RAGAS faithfulness: share of the answer's claims the retrieved context "
                    "supports (1 = fully grounded)"},
    {"id": "cfg-deepeval-hallucination-01", "name": "Hallucination", "dataType": "NUMERIC",
     "minValue": 0.0, "maxValue": 1.0,
     "description": "DeepEval HallucinationMetric: share of contexts the answer contradicts "
                    "(0 = none; lower is better)"},
    {"id": "cfg-user-feedback-01", "name": "user-feedback", "dataType": "BOOLEAN",
     "categories": [{"value": 1.0, "label": "True"}, {"value": 0.0, "label": "False"}],
     "description": "End-user thumbs up (True) or thumbs down (False)"},
]


def _prices() -> tuple[Any, ...]:
    rows = []
    for model, inp, outp, suffix in _PRICE_ROWS:
        prefix = r"(anthropic/)?" if model.startswith("claude") else r"(openai/|azure/)?"
        rows.append((model, inp, outp, rf"(?i)^{prefix}{re.escape(model)}{suffix}$"))
    return model_prices(rows)


PRICES = _prices()


def _cost(model: str, inp: int, out: int) -> float:
    i, o = PER_TOKEN[model]
    return inp * i + out * o


def _ln(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _hex(rng: random.Random, bits: int = 128) -> str:
    return format(rng.getrandbits(bits), f"0{bits // 4}x")


@dataclass
class _Trace:
    """What one agent builder decided for one request."""

    rng: random.Random
    t0: float
    local: pd.Timestamp
    incident: str | None
    magnitude: float
    release: str
    user: str
    session: str
    cost: float = 0.0
    timeout: bool = False
    error: bool = False
    answered: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class _ScopedEmitter(_Emitter):
    """The shared emitter, with scope names that may start with ``@`` (npm scopes): the version
    is what follows the last ``@``."""

    def tracer(self, service: str, scope: str, resource: dict[str, Any]) -> Any:
        key = (service, scope)
        if key not in self._tracers:
            if service not in self._providers:
                p = TracerProvider(resource=Resource.create(resource), id_generator=self.ids)
                p.add_span_processor(SimpleSpanProcessor(self.exporter))
                self._providers[service] = p
            name, at, version = scope.rpartition("@")
            if not name:
                name, version = scope, ""
            self._tracers[key] = self._providers[service].get_tracer(name, version or None)
        return self._tracers[key]


# ---- Mastra: trip-planner ---------------------------------------------------------------------------

_MASTRA_SCOPE = "@mastra/langfuse@0.2.4"
_MASTRA_TOOLS = (("searchFlights", 1.1, "Search flights between two airports on a date"),
                 ("searchHotels", 0.8, "Search hotels in a city for given dates"),
                 ("getWeather", 0.25, "Current weather and 5-day forecast for a city"))


def _mastra_common(t: _Trace, span_type: str, op: str) -> dict[str, Any]:
    return {"gen_ai.operation.name": op, "mastra.span.type": span_type,
            "langfuse.observation.metadata.spanType": span_type,
            "langfuse.observation.metadata.operationName": op,
            "langfuse.environment": "production", "langfuse.release": t.release,
            "user.id": t.user, "session.id": t.session}


def _trip_planner(t: _Trace) -> _Node:
    rng = t.rng
    if t.incident == "cost_spike":
        version, system = 14, 1700 * t.magnitude
    elif pd.Timestamp(t.t0, unit="s", tz="UTC") >= BENIGN_PROMPT_AT:
        version, system = 13, 1720
    else:
        version, system = 12, 1690
    t.extra["prompt_version"] = version
    rounds = rng.choices((0, 1, 2, 3), (0.25, 0.4, 0.25, 0.1))[0]
    clock = t.t0 + rng.uniform(0.02, 0.06)
    gen_start = clock
    steps: list[_Node] = []
    inp_total = out_total = 0
    failed = rng.random() < 0.003
    for k in range(rounds + 1):
        final = k == rounds
        inp = int(system + 320 + 260 * k + rng.randint(0, 180))
        out = rng.randint(260, 480) if final else rng.randint(50, 120)
        llm_s = 0.35 + out * 0.011 + inp * 0.00003 + _ln(rng, 0.3, 0.4)
        s_start = clock
        clock += llm_s
        tools: list[_Node] = []
        if not final:
            for _ in range(rng.choices((1, 2), (0.7, 0.3))[0]):
                name, med, desc = rng.choice(_MASTRA_TOOLS)
                dur = _ln(rng, med, 0.5)
                a = _mastra_common(t, "tool_call", "execute_tool")
                a.update({"gen_ai.tool.name": name, "gen_ai.tool.description": desc,
                          "gen_ai.tool.call.id": "call_" + _hex(rng, 96),
                          "gen_ai.tool.call.arguments": json.dumps({"city": "Osaka"}),
                          "gen_ai.tool.call.result": json.dumps({"ok": True})})
                tools.append(_Node(f"execute_tool {name}", clock, clock + dur, a,
                                   scope=_MASTRA_SCOPE))
                clock += dur + rng.uniform(0.005, 0.02)
        inp_total += inp
        out_total += out
        sa = _mastra_common(t, "model_step", "model_step")
        steps.append(_Node(f"step {k}", s_start, clock, sa, scope=_MASTRA_SCOPE, children=tools))
        if failed:
            break
    ga = _mastra_common(t, "model_generation", "chat")
    ga.update({"gen_ai.request.model": "gpt-4.1-mini", "gen_ai.provider.name": "openai",
               "gen_ai.agent.id": "tripPlannerAgent", "gen_ai.agent.name": "trip-planner",
               "langfuse.observation.metadata.agentId": "tripPlannerAgent",
               "langfuse.observation.metadata.agentName": "trip-planner",
               "gen_ai.request.temperature": 0.3,
               "langfuse.observation.prompt.name": PROMPT_NAME,
               "langfuse.observation.prompt.version": version,
               "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [
                   {"type": "text", "content": "Plan 3 days in Kyoto"}]}])})
    gen = _Node("chat gpt-4.1-mini", gen_start, clock, ga, scope=_MASTRA_SCOPE,
                kind=SpanKind.CLIENT, children=steps)
    if failed:
        msg = ("Failed after 3 attempts. Last error: Rate limit reached for gpt-4.1-mini in "
               "organization org-concierge on tokens per min (TPM): Limit 2000000, Used "
               "1998412, Requested 2391. Please try again in 47ms.")
        ga.update({"error.type": "AI_RetryError", "error.message": msg})
        gen.error = msg
        clock += 2.5
        gen.end = clock
        t.error, t.answered = True, False
    else:
        ga.update({"gen_ai.response.model": "gpt-4.1-mini-2025-04-14",
                   "gen_ai.usage.input_tokens": inp_total, "gen_ai.usage.output_tokens": out_total,
                   "gen_ai.response.finish_reasons": json.dumps(["stop"]),
                   "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
                       {"type": "text", "content": "Day 1: ..."}]}])})
        t.cost += _cost("gpt-4.1-mini", inp_total, out_total)
    ra = _mastra_common(t, "agent_run", "invoke_agent")
    ra.update({"gen_ai.agent.id": "tripPlannerAgent", "gen_ai.agent.name": "trip-planner",
               "langfuse.observation.metadata.agentId": "tripPlannerAgent",
               "langfuse.observation.metadata.agentName": "trip-planner",
               "gen_ai.conversation.id": t.session, "mastra.agent_run.max_steps": 5,
               "langfuse.trace.tags": ["concierge", "web"],
               "langfuse.observation.input": "Plan 3 days in Kyoto with my kids"})
    end = clock + rng.uniform(0.01, 0.04)
    root = _Node("invoke_agent trip-planner", t.t0, end, ra, scope=_MASTRA_SCOPE,
                 kind=SpanKind.SERVER, children=[gen])
    if failed:
        ra.update({"error.type": "AI_RetryError", "error.message": gen.error})
        root.error = gen.error
    else:
        ra["langfuse.observation.output"] = "Here is a 3-day plan ..."
    return root


# ---- Haystack + LangfuseConnector: kb-rag ------------------------------------------------------------

_LF_SCOPE = "langfuse-sdk@3.11.2"
_RATE_429 = ("Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o-mini in "
             "organization org-kbrag on requests per min (RPM): Limit 5000, Used 5000, "
             "Requested 1. Please try again in 12ms.', 'type': 'requests', 'param': None, "
             "'code': 'rate_limit_exceeded'}}")


def _lf_common(t: _Trace, name: str, ctype: str | None, typ: str) -> dict[str, Any]:
    a = {"langfuse.observation.type": typ, "langfuse.trace.name": "kb-rag",
         "user.id": t.user, "session.id": t.session, "langfuse.version": "pipeline-v5",
         "langfuse.environment": "production", "langfuse.release": t.release}
    if ctype is not None:
        a["langfuse.observation.metadata.haystack.component.name"] = name
        a["langfuse.observation.metadata.haystack.component.type"] = ctype
    return a


def _kb_rag(t: _Trace, fail_429: bool) -> _Node:
    rng = t.rng
    embed_model = "text-embedding-3-large" if t.incident == "hallucination_spike" \
        else "text-embedding-3-small"
    clock = t.t0 + rng.uniform(0.002, 0.01)
    q_tokens = rng.randint(9, 48)
    kids = []
    d = _ln(rng, 0.14, 0.35)
    ea = _lf_common(t, "query_embedder", "OpenAITextEmbedder", "embedding")
    ea.update({"langfuse.observation.model.name": embed_model,
               "langfuse.observation.usage_details": json.dumps(
                   {"input_tokens": q_tokens, "total_tokens": q_tokens})})
    kids.append(_Node("query_embedder", clock, clock + d, ea, scope=_LF_SCOPE))
    clock += d + 0.001
    d = _ln(rng, 0.07, 0.4)
    top_k = 5
    ra = _lf_common(t, "retriever", "QdrantEmbeddingRetriever", "retriever")
    ra["langfuse.observation.output"] = json.dumps({"documents": top_k})
    kids.append(_Node("retriever", clock, clock + d, ra, scope=_LF_SCOPE))
    clock += d + 0.001
    d = rng.uniform(0.002, 0.006)
    kids.append(_Node("prompt_builder", clock, clock + d,
                      _lf_common(t, "prompt_builder", "ChatPromptBuilder", "span"),
                      scope=_LF_SCOPE))
    clock += d + 0.001
    inp = 380 + q_tokens + sum(rng.randint(210, 330) for _ in range(top_k))
    ga = _lf_common(t, "llm", "OpenAIChatGenerator", "generation")
    if fail_429:
        d = _ln(rng, 0.25, 0.3)
        llm = _Node("llm", clock, clock + d, ga, scope=_LF_SCOPE,
                    error=f"RateLimitError: {_RATE_429}",
                    exception=("openai.RateLimitError", _RATE_429))
        ga["langfuse.observation.model.name"] = "gpt-4o-mini"
        t.error, t.answered = True, False
    else:
        out = rng.randint(110, 360)
        d = 0.3 + out * 0.009 + _ln(rng, 0.25, 0.35)
        ga.update({"langfuse.observation.model.name": "gpt-4o-mini-2024-07-18",
                   "langfuse.observation.usage_details": json.dumps(
                       {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out}),
                   "langfuse.observation.completion_start_time": json.dumps(
                       pd.Timestamp(clock + 0.35, unit="s", tz="UTC").isoformat())})
        llm = _Node("llm", clock, clock + d, ga, scope=_LF_SCOPE)
        t.cost += _cost("gpt-4o-mini", inp, out)
    kids.append(llm)
    clock += d + 0.002
    root_a = _lf_common(t, "kb-rag", None, "span")
    root_a.update({"langfuse.observation.metadata.haystack.pipeline.max_runs_per_component": 100,
                   "langfuse.trace.tags": ["kb", "haystack"],
                   "langfuse.observation.input": json.dumps({"query": "How do I rotate keys?"})})
    root = _Node("kb-rag", t.t0, clock, root_a, scope=_LF_SCOPE, children=kids)
    if fail_429:
        root.error = f"PipelineRuntimeError: The following component failed to run:\nComponent " \
                     f"name: 'llm'\nComponent type: 'OpenAIChatGenerator'\nError: {_RATE_429}"
        root.exception = ("haystack.core.errors.PipelineRuntimeError", root.error)
    else:
        root_a["langfuse.observation.output"] = json.dumps({"llm": {"replies": ["..."]}})
    return root


# ---- smolagents + OpenInference: sales_analyst -----------------------------------------------------

_OI_SCOPE = "openinference.instrumentation.smolagents@0.1.20"
_CLAUDE = "anthropic/claude-sonnet-4-5-20250929"
_CODE_ERRORS = ("Code execution failed at line 'df = sql_query(query)' due to: "
                "InterpreterError: Could not index DataFrame with 'region': KeyError: 'region'",
                "Code execution failed at line 'total = rows[0][\"amount\"] / n' due to: "
                "ZeroDivisionError: division by zero",
                "Code execution failed at line 'import matplotlib.pyplot as plt' due to: "
                "InterpreterError: Import of matplotlib.pyplot is not allowed.")
_RATE_CLAUDE = ('litellm.RateLimitError: AnthropicException - {"type":"error","error":'
                '{"type":"rate_limit_error","message":"This request would exceed the rate limit '
                'for your organization of 400,000 input tokens per minute."}}')


def _sales_analyst(t: _Trace) -> _Node:
    rng = t.rng
    n_steps = rng.choices((2, 3, 4, 5, 6), (0.2, 0.3, 0.25, 0.15, 0.1))[0]
    bad_step = rng.randint(1, n_steps - 1) if rng.random() < 0.10 else None
    if bad_step is not None:
        n_steps += 1
    gave_up = rng.random() < 0.004
    clock = t.t0 + rng.uniform(0.01, 0.05)
    steps = []
    for k in range(1, n_steps + 1):
        final = k == n_steps
        s_start = clock
        inp = 2900 + 1450 * (k - 1) + rng.randint(0, 400)
        out = rng.randint(220, 650)
        la = {"openinference.span.kind": "LLM", "llm.model_name": _CLAUDE,
              "llm.provider": "anthropic", "llm.system": "anthropic",
              "llm.invocation_parameters": json.dumps({"max_tokens": 4096}),
              "input.value": "[task memory]"}
        if gave_up and k == 1:
            d = _ln(rng, 1.2, 0.3)
            llm = _Node("LiteLLMModel.generate", clock, clock + d, la, scope=_OI_SCOPE,
                        error=_RATE_CLAUDE, exception=("litellm.exceptions.RateLimitError",
                                                       _RATE_CLAUDE))
            clock += d + 0.01
            step = _Node(f"Step {k}", s_start, clock, {"openinference.span.kind": "CHAIN",
                                                       "input.value": "{}"},
                         scope=_OI_SCOPE, children=[llm],
                         error="AgentGenerationError: Error in generating model output:\n"
                               + _RATE_CLAUDE)
            steps.append(step)
            t.error, t.answered = True, False
            break
        d = 1.2 + out * 0.018 + inp * 0.00004 + _ln(rng, 0.6, 0.4)
        la.update({"llm.token_count.prompt": inp, "llm.token_count.completion": out,
                   "llm.token_count.total": inp + out, "output.value": "Thought: ..."})
        llm = _Node("LiteLLMModel.generate", clock, clock + d, la, scope=_OI_SCOPE)
        t.cost += _cost("claude-sonnet-4-5", inp, out)
        clock += d + 0.005
        kids = [llm]
        if final:
            tname, tcls, med = "final_answer", "FinalAnswerTool", 0.002
        else:
            tname, tcls, med = rng.choice((("sql_query", "SQLQueryTool", 1.4),
                                           ("sql_query", "SQLQueryTool", 1.4),
                                           ("make_chart", "ChartTool", 0.6)))
        d = _ln(rng, med, 0.6)
        ta = {"openinference.span.kind": "TOOL", "tool.name": tname,
              "tool.description": f"{tname} tool", "input.value": "{}",
              "tool.parameters": json.dumps({"query": {"type": "string"}})}
        kids.append(_Node(tcls, clock, clock + d, ta, scope=_OI_SCOPE))
        clock += d + 0.003
        step_a = {"openinference.span.kind": "CHAIN", "input.value": "{}",
                  "output.value": "Execution logs: ..."}
        step = _Node(f"Step {k}", s_start, clock, step_a, scope=_OI_SCOPE, children=kids)
        if k == bad_step:
            msg = rng.choice(_CODE_ERRORS)
            step.error = f"AgentExecutionError: {msg}"
            step.exception = ("smolagents.utils.AgentExecutionError", msg)
        steps.append(step)
    ra = {"openinference.span.kind": "AGENT", "input.value": json.dumps(
              {"task": "Compare Q3 revenue by region", "stream": False}),
          "smolagents.max_steps": 8,
          "smolagents.tools_names": ["sql_query", "make_chart", "final_answer"],
          "session.id": t.session, "user.id": t.user}
    root = _Node("sales_analyst.run", t.t0, clock + 0.01, ra, scope=_OI_SCOPE, children=steps)
    if gave_up:
        root.error = steps[-1].error
        root.exception = ("smolagents.utils.AgentGenerationError", _RATE_CLAUDE)
    else:
        ra["output.value"] = "Revenue by region: ..."
    return root


# ---- Semantic Kernel (own GenAI diagnostics) -> Langfuse OTel endpoint: billing-assistant ---------

_SK_AGENT = "semantic_kernel.utils.telemetry.agent_diagnostics.decorators@1.37.0"
_SK_MODEL = "semantic_kernel.utils.telemetry.model_diagnostics.decorators@1.37.0"
_SK_FUNC = "semantic_kernel.functions.kernel_function@1.37.0"
_SK_EXC = "<class 'semantic_kernel.exceptions.service_exceptions.ServiceResponseException'>"
_SK_TIMEOUT = ("ServiceResponseException(\"<class 'semantic_kernel.connectors.ai.open_ai.services."
               "azure_chat_completion.AzureChatCompletion'> service failed to complete the "
               "prompt\", APITimeoutError('Request timed out.'))")
_SK_INVALID = ("FunctionExecutionException: Error occurred while invoking function: "
               "'Billing-get_invoice'. 1 validation error for get_invoice\ninvoice_id\n  String "
               "should match pattern '^INV-[0-9]{8}$' [type=string_pattern_mismatch]")


def _sk_chat(t: _Trace, model: str, start: float, inp: int, out: int, finish: str) -> _Node:
    a = {"gen_ai.operation.name": "chat.completions", "gen_ai.system": "openai",
         "gen_ai.request.model": model, "gen_ai.request.max_tokens": 800,
         "gen_ai.request.temperature": 0.2, "gen_ai.response.id": "chatcmpl-" + _hex(t.rng, 96),
         "gen_ai.response.finish_reason": finish, "gen_ai.usage.input_tokens": inp,
         "gen_ai.usage.output_tokens": out}
    d = 0.3 + out * (0.012 if model == "gpt-4o" else 0.007) + _ln(t.rng, 0.25, 0.4)
    t.cost += _cost(model, inp, out)
    return _Node(f"chat.completions {model}", start, start + d, a, scope=_SK_MODEL,
                 kind=SpanKind.CLIENT)


def _sk_tool(name: str, start: float, end: float, call_id: str, desc: str,
             children: list[_Node] | None = None) -> _Node:
    a = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
         "gen_ai.tool.call.id": call_id, "gen_ai.tool.description": desc}
    return _Node(f"execute_tool {name}", start, end, a, scope=_SK_FUNC,
                 children=children or [])


def _billing(t: _Trace) -> _Node:
    rng = t.rng
    p_timeout = BASE_GPT4O_TIMEOUT_P * (t.magnitude if t.incident == "timeout_surge" else 1.0)
    clock = t.t0 + rng.uniform(0.005, 0.02)
    kids: list[_Node] = []
    history = 900 + rng.randint(0, 500)
    plan = ["get_invoice"] + (["explain_charges"] if rng.random() < 0.6 else [])
    if rng.random() < 0.03:
        plan.insert(0, "get_invoice!invalid")
    failed = None
    for step in plan + ["answer"]:
        if rng.random() < p_timeout:
            # three attempts of a 30 s client timeout, then SK wraps the APITimeoutError
            d = 90.0 + rng.uniform(1.0, 3.5)
            a = {"gen_ai.operation.name": "chat.completions", "gen_ai.system": "openai",
                 "gen_ai.request.model": "gpt-4o", "gen_ai.request.max_tokens": 800,
                 "gen_ai.request.temperature": 0.2, "error.type": _SK_EXC}
            kids.append(_Node("chat.completions gpt-4o", clock, clock + d, a, scope=_SK_MODEL,
                              kind=SpanKind.CLIENT, error=_SK_TIMEOUT))
            clock += d
            failed = _SK_TIMEOUT
            t.timeout, t.answered = True, False
            break
        final = step == "answer"
        out = rng.randint(140, 420) if final else rng.randint(25, 60)
        node = _sk_chat(t, "gpt-4o", clock, history, out,
                        "FinishReason.STOP" if final else "FinishReason.TOOL_CALLS")
        kids.append(node)
        clock = node.end + 0.002
        history += out
        if final:
            break
        call = "call_" + _hex(rng, 96)
        if step == "get_invoice!invalid":
            d = rng.uniform(0.002, 0.01)
            bad = _sk_tool("Billing-get_invoice", clock, clock + d, call,
                           "Fetch an invoice by its id")
            bad.error = _SK_INVALID
            bad.exception = ("semantic_kernel.exceptions.function_exceptions."
                             "FunctionExecutionException", _SK_INVALID)
            kids.append(bad)
            history += 120
        elif step == "get_invoice":
            d = _ln(rng, 0.35, 0.5)
            kids.append(_sk_tool("Billing-get_invoice", clock, clock + d, call,
                                 "Fetch an invoice by its id"))
            history += 650
        else:  # a prompt function on the cheaper deployment
            inner_in, inner_out = 700 + rng.randint(0, 500), rng.randint(120, 260)
            inner = _sk_chat(t, "gpt-4o-mini", clock + 0.003, inner_in, inner_out,
                             "FinishReason.STOP")
            d = inner.end - clock + 0.002
            kids.append(_sk_tool("Billing-explain_charges", clock, clock + d, call,
                                 "Explain the line items of an invoice", [inner]))
            history += inner_out
        clock += d + 0.002
    ra = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "billing-assistant",
          "gen_ai.agent.id": "8f0c2c4e-agent-billing",
          "gen_ai.agent.description": "Answers questions about invoices and charges"}
    root = _Node("invoke_agent billing-assistant", t.t0, clock + 0.003, ra, scope=_SK_AGENT,
                 children=kids)
    if failed:
        root.error = "ServiceResponseException: <class 'semantic_kernel.connectors.ai.open_ai." \
                     "services.azure_chat_completion.AzureChatCompletion'> service failed to " \
                     "complete the prompt"
        root.exception = ("semantic_kernel.exceptions.service_exceptions."
                          "ServiceResponseException", root.error)
    return root


# ---- resources ----------------------------------------------------------------------------------------

_SERVICE = {"trip-planner": "concierge-web", "kb-rag": "kb-rag-api",
            "sales_analyst": "sales-analyst-worker", "billing-assistant": "billing-assistant-api"}
_RESOURCES = {
    "trip-planner": {"service.name": "concierge-web", "telemetry.sdk.language": "nodejs",
                     "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.version": "2.0.1"},
    "kb-rag": {"service.name": "kb-rag-api", "telemetry.sdk.language": "python",
               "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.version": "1.36.0"},
    "sales_analyst": {"service.name": "sales-analyst-worker", "telemetry.sdk.language": "python",
                      "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.version": "1.36.0",
                      "deployment.environment.name": "production"},
    "billing-assistant": {"service.name": "billing-assistant-api",
                          "telemetry.sdk.language": "python",
                          "telemetry.sdk.name": "opentelemetry",
                          "telemetry.sdk.version": "1.36.0", "service.version": "4.2.0",
                          "deployment.environment.name": "production"},
}
_RELEASE_BASE = {"trip-planner": "2.14", "kb-rag": "3.7", "sales_analyst": "0.9",
                 "billing-assistant": "4.2"}


def _release(agent: str, ts: pd.Timestamp, incident: str | None) -> str:
    if agent == "kb-rag" and incident == "hallucination_spike":
        return "3.8.0"
    week = int((ts - pd.Timedelta(days=1, hours=1)).isocalendar().week)  # Tuesdays 01:00 UTC
    return f"{_RELEASE_BASE[agent]}.{week}"


# ---- judges ---------------------------------------------------------------------------------------

def _score(rows: list[dict[str, Any]], rng: random.Random, trace_id: str, ts: pd.Timestamp,
           name: str, value: float, dtype: str = "NUMERIC") -> None:
    sval = None
    if dtype == "BOOLEAN":
        sval = "True" if value >= 0.5 else "False"
    rows.append({"score_id": _hex(rng), "trace_id": trace_id, "observation_id": None,
                 "timestamp": ts, "name": name, "value": float(value), "string_value": sval,
                 "data_type": dtype, "source": "API", "environment": "production"})


def _ragas_batch_time(end: pd.Timestamp, rng: random.Random) -> pd.Timestamp:
    """The nightly RAGAS job: 02:00 JST (17:00 UTC) the next time after the trace ended."""
    run = end.floor("D") + pd.Timedelta(hours=17)
    if run <= end:
        run += pd.Timedelta(days=1)
    return run + pd.Timedelta(seconds=rng.uniform(60, 2400))


def _judge(agent: str, t: _Trace, trace_id: str, end: pd.Timestamp, rows: list[dict[str, Any]],
           info: dict[str, Any]) -> None:
    rng = t.rng
    if agent == "kb-rag" and t.answered and rng.random() < 0.25:
        p = BASE_UNFAITHFUL_P * (t.magnitude if t.incident == "hallucination_spike" else 1.0)
        bad = rng.random() < min(p, 1.0)
        ts = _ragas_batch_time(end, rng)
        faith = rng.uniform(0.0, 0.45) if bad else min(1.0, rng.uniform(0.72, 1.05))
        if bad:
            precision = rng.uniform(0.05, 0.45)
        elif t.incident == "hallucination_spike":
            precision = rng.uniform(0.2, 0.65)
        else:
            precision = rng.uniform(0.5, 1.0)
        _score(rows, rng, trace_id, ts, "faithfulness", round(faith, 4))
        _score(rows, rng, trace_id, ts, "answer_relevancy",
               round(rng.uniform(0.55, 0.85) if bad else rng.uniform(0.78, 0.99), 4))
        _score(rows, rng, trace_id, ts, "context_precision", round(precision, 4))
        info.update(scored=True, bad=bad)
    elif agent == "billing-assistant" and t.answered and rng.random() < 0.20:
        bad = rng.random() < BASE_BILLING_HALLUCINATION_P
        ts = end.ceil("h") + pd.Timedelta(minutes=rng.uniform(4, 40))
        _score(rows, rng, trace_id, ts, "Hallucination",
               round(rng.uniform(0.55, 1.0) if bad else rng.choice((0.0, 0.0, 0.0, 0.25)), 4))
        _score(rows, rng, trace_id, ts, "Answer Relevancy",
               round(rng.uniform(0.4, 0.8) if bad else rng.uniform(0.8, 1.0), 4))
        info.update(scored=True, bad=bad)
    elif agent == "sales_analyst" and t.answered and rng.random() < 0.30:
        bad = rng.random() < BASE_TASK_FAILED_P
        ts = end.ceil("h") + pd.Timedelta(minutes=rng.uniform(4, 40))
        _score(rows, rng, trace_id, ts, "Task Completion",
               round(rng.uniform(0.0, 0.45) if bad else rng.uniform(0.7, 1.0), 4))
        info.update(scored=True, bad=bad)
    if agent in ("trip-planner", "billing-assistant") and rng.random() < 0.06:
        down = rng.random() < (0.6 if not t.answered else 0.15)
        ts = end + pd.Timedelta(seconds=rng.uniform(8, 600))
        _score(rows, rng, trace_id, ts, "user-feedback", 0.0 if down else 1.0, "BOOLEAN")
        if agent == "trip-planner":
            info.update(scored=True, bad=down)


# ---- generate ---------------------------------------------------------------------------------------

_CAUSES = {
    "timeout_surge": ("billing-assistant", "model", "gpt-4o", {"agent": "billing-assistant"}),
    "cost_spike": ("trip-planner", "prompt_version", "14", {"prompt": PROMPT_NAME}),
    "hallucination_spike": ("kb-rag", "model", "text-embedding-3-large", {"agent": "kb-rag"}),
}


def generate(seed: int = 1, end_day: str = "2026-11-29", days: int = 30,
             incidents: Iterable[Incident] = (), volume: float = 1.0) -> BlindData:
    """``days`` whole UTC days ending on ``end_day`` of the four agents with the incidents
    injected and ``volume`` times the usual traffic (:data:`VOLUME`); deterministic for a
    seed."""
    incidents = list(incidents)
    check_incidents(incidents, days)
    if not volume > 0:
        raise ValueError(f"volume must be > 0, got {volume!r}")
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    em = _ScopedEmitter(random.Random(seed + 104729))
    windows = {inc.runbook: (inc, *inc.window()) for inc in incidents}
    first = pd.Timestamp(end_day, tz="UTC") - pd.Timedelta(days=days - 1)
    shapes = {a: np.asarray(s) / sum(s) for a, s in _SHAPE.items()}
    weekend = np.asarray(_WEEKEND) / sum(_WEEKEND)
    users = {a: [f"{a[:4]}-u{i:04d}" for i in range(n)]
             for a, n in (("trip-planner", 2600), ("kb-rag", 900), ("sales_analyst", 40),
                          ("billing-assistant", 1800))}
    truth: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    day_noise: dict[tuple[str, pd.Timestamp], float] = {}
    for hour in pd.date_range(first, periods=24 * days, freq="h"):
        local = hour + pd.Timedelta(hours=TZ_OFFSET_H)
        lday = local.floor("D")
        is_weekend = local.day_of_week >= 5
        starts: list[tuple[float, str]] = []
        for agent in AGENTS:
            key = (agent, lday)
            if key not in day_noise:
                day_noise[key] = math.exp(rng.gauss(0.0, 0.07))
            w = (weekend if is_weekend else shapes[agent])[local.hour]
            lam = VOLUME[agent][int(is_weekend)] * volume * w * day_noise[key]
            for _ in range(int(nrng.poisson(lam))):
                starts.append((hour.timestamp() + rng.uniform(0, 3600), agent))
        starts.sort()
        for t0, agent in starts:
            ts = pd.Timestamp(t0, unit="s", tz="UTC")
            incident, mag = None, 1.0
            for rb, (inc, s, e) in windows.items():
                if _CAUSES[rb][0] == agent and s <= ts < e:
                    incident, mag = rb, inc.magnitude
            user = rng.choice(users[agent])
            trace = _Trace(rng=rng, t0=t0, local=ts + pd.Timedelta(hours=TZ_OFFSET_H),
                           incident=incident, magnitude=mag,
                           release=_release(agent, ts, incident), user=user,
                           session=f"{user}-s{rng.randint(0, 40)}")
            attempts = [trace]
            if agent == "kb-rag" and rng.random() < 0.012:
                attempts.append(None)  # the app retries the failed run once
            for i, tr in enumerate(attempts):
                if tr is None:
                    prev_end = truth[-1]["start"] + pd.Timedelta(seconds=truth[-1]["duration_s"])
                    t1 = prev_end.timestamp() + rng.uniform(1.0, 3.0)
                    t1s = pd.Timestamp(t1, unit="s", tz="UTC")
                    tr = _Trace(rng=rng, t0=t1, local=t1s + pd.Timedelta(hours=TZ_OFFSET_H),
                                incident=incident, magnitude=mag, release=trace.release,
                                user=user, session=trace.session)
                if agent == "trip-planner":
                    root = _trip_planner(tr)
                elif agent == "kb-rag":
                    root = _kb_rag(tr, fail_429=len(attempts) == 2 and i == 0)
                elif agent == "sales_analyst":
                    root = _sales_analyst(tr)
                else:
                    root = _billing(tr)
                span = em.emit(_SERVICE[agent], _RESOURCES[agent], root)
                trace_id = format(span.context.trace_id, "032x")
                start = pd.Timestamp(tr.t0, unit="s", tz="UTC")
                info = {"trace_id": trace_id, "agent": agent, "start": start,
                        "duration_s": root.end - root.start, "timeout": tr.timeout,
                        "error": tr.error and not tr.timeout, "cost": tr.cost,
                        "scored": False, "bad": None}
                _judge(agent, tr, trace_id, pd.Timestamp(root.end, unit="s", tz="UTC"), rows,
                       info)
                truth.append(info)
    labels = []
    for rb, (inc, s, e) in sorted(windows.items(), key=lambda kv: kv[1][1]):
        agent, dim, value, within = _CAUSES[rb]
        labels.append(Label(rb, s, e, agent, dim, value, dict(within), inc.magnitude))
    scores = pd.DataFrame(rows, columns=[
        "score_id", "trace_id", "observation_id", "timestamp", "name", "value", "string_value",
        "data_type", "source", "environment"])
    if len(scores):
        scores["timestamp"] = pd.to_datetime(scores["timestamp"], utc=True)
    return BlindData(spans=em.spans(), scores=scores, labels=labels,
                     truth=pd.DataFrame(truth, columns=[
                         "trace_id", "agent", "start", "duration_s", "timeout", "error", "cost",
                         "scored", "bad"]),
                     prices=PRICES, score_configs=[dict(c) for c in SCORE_CONFIGS])
