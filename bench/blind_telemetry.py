"""The seventh blind dataset: OpenLLMetry, Strands Agents, AutoGen AgentChat and the Langfuse
Python SDK v3 in one Langfuse project, with what Langfuse itself adds to a project (its
LLM-as-a-judge executions as traces, nightly SDK experiments, observation-level judge scores,
user feedback).

Written from the instrumentations' public source (span names and attributes as their tracers
set them) and Langfuse's public source and docs, without reading the detectors, the runbooks or
the project's simulator. Traffic is a US East Coast product: office hours 13-22 UTC, a night
trough 05-11 UTC, weekends at 55 %.

* ``claims_intake.workflow``: the Traceloop SDK (OpenLLMetry) decorators, ``@workflow`` >
  ``@task``/``@tool`` spans named ``<name>.<kind>`` with ``traceloop.span.kind``,
  ``traceloop.entity.name``, ``traceloop.workflow.name`` and association properties, around the
  OpenAI instrumentation's ``openai.chat`` spans (``llm.request.type``, ``gen_ai.system``,
  ``gen_ai.request.model``/``gen_ai.response.model``, ``gen_ai.usage.prompt_tokens``/
  ``completion_tokens``, ``llm.usage.total_tokens``).
* ``travel_planner`` (traces ``invoke_agent travel_planner``): Strands Agents (tracer ``strands.telemetry.tracer``):
  ``invoke_agent`` > ``execute_event_loop_cycle`` > ``chat`` / ``execute_tool <name>`` on a
  Bedrock model id. Sent to Langfuse, the agent span says ``langfuse.observation.type=span`` and
  carries the accumulated usage of its ``chat`` spans, so Langfuse bills the model calls twice
  (a known double count); the truth's cost is what Langfuse bills. A tool that raises ends its
  span with status ERROR and ``gen_ai.tool.status=error``; the agent carries on.
* ``billing_agent`` (traces ``invoke_agent billing_agent``): AutoGen AgentChat's ``AssistantAgent`` (tracer
  ``autogen-agentchat``, ``invoke_agent``; tools ``execute_tool`` from ``autogen-core``), its
  model calls seen by OpenLLMetry's OpenAI instrumentation.
* ``support-chat``: the Langfuse Python SDK v3 (``@observe(as_type="agent")``, a retriever and a
  generation linked to managed prompt ``support-system``).

Langfuse's own content: each managed judge run is a trace ``Execute evaluator: <name>`` in
environment ``langfuse-llm-as-a-judge`` (one generation, priced), its score written to the
judged trace (source EVAL, 1-30 minutes later; ``Helpfulness`` on support-chat targets the
generation: an observation-level score); a nightly ``run_experiment`` over dataset
``support-golden`` (``experiment-item-run`` > ``experiment-item-task`` > generation, environment
``sdk-experiment``, scores source API), one night with a worse prompt variant; thumbs from the
chat widget as ``user-feedback`` (BOOLEAN, source API, a score config).

Incidents, labelled as in ``blind_data``:

* ``timeout_surge``: Strands tool ``flight_search`` of ``travel_planner`` times out
  ``magnitude`` times as often (base 2 %, a 12 s read timeout);
* ``cost_spike``: the AutoGen agent's ``gpt-4.1`` calls carry ``magnitude`` times the input
  tokens (an unbounded model context);
* ``hallucination_spike``: prompt ``support-system`` v13 ships at the start and is rolled back
  at the end; support-chat hallucinates ``magnitude`` times as often (base 5 %).

Quiet changes: a same-quality v12 six days before the end at 14:00 UTC, releases every Tuesday
15:00 UTC.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from blind_data import (BlindData, Incident, Label, _Emitter, _lognormal, _Node, check_incidents,
                        model_prices)

__all__ = ["AGENTS", "PRICES", "SCORE_CONFIGS", "generate"]

CLAIMS = "claims_intake.workflow"
#: Strands and AutoGen agents by their ``gen_ai.agent.name``; Langfuse names their traces after
#: the root span, ``invoke_agent <name>``
TRAVEL = "travel_planner"
BILLING = "billing_agent"
TRAVEL_TRACE = f"invoke_agent {TRAVEL}"
BILLING_TRACE = f"invoke_agent {BILLING}"
SUPPORT = "support-chat"
AGENTS = (CLAIMS, TRAVEL, BILLING, SUPPORT)
SHARE = {CLAIMS: 0.30, TRAVEL: 0.25, BILLING: 0.17, SUPPORT: 0.28}
WEEKDAY_TRACES = 1250
WEEKEND_FACTOR = 0.55
SAMPLE_RATE = 0.20
FEEDBACK_RATE = 0.04
EXPERIMENT_ITEMS = 40
JUDGE_ENV = "langfuse-llm-as-a-judge"
EXPERIMENT_ENV = "sdk-experiment"
BEDROCK_SONNET = "us.anthropic.claude-sonnet-4-20250514-v1:0"
BASE_TIMEOUT_P = 0.02
BASE_HALLUCINATION_P = 0.05
BASE_INCORRECT_P = 0.07
DEFAULT_HOURS = {"timeout_surge": 4, "cost_spike": 5, "hallucination_spike": 6}
PROMPT = "support-system"
BASE_PROMPT, BENIGN_PROMPT, BAD_PROMPT, WORSE_VARIANT = 11, 12, 13, 14

#: USD per 1M tokens: (model id, input, output, Langfuse-style match pattern)
_PRICE_ROWS = (
    ("gpt-4o-mini", 0.15, 0.60, r"(?i)^(openai/)?(gpt-4o-mini)(-\d{4}-\d{2}-\d{2})?$"),
    ("gpt-4o", 2.50, 10.00, r"(?i)^(openai/)?(gpt-4o)(-\d{4}-\d{2}-\d{2})?$"),
    ("gpt-4.1", 2.00, 8.00, r"(?i)^(openai/)?(gpt-4.1)(-\d{4}-\d{2}-\d{2})?$"),
    ("gpt-4.1-mini", 0.40, 1.60, r"(?i)^(openai/)?(gpt-4.1-mini)(-\d{4}-\d{2}-\d{2})?$"),
    ("claude-sonnet-4", 3.00, 15.00, r"(?i)^(anthropic/)?(claude-sonnet-4(-20250514)?|"
                                     r"((eu|us|apac)\.)?anthropic\.claude-sonnet-4-20250514"
                                     r"-v1(:0)?)$"),
)
PER_TOKEN = {m: (i / 1e6, o / 1e6) for m, i, o, _ in _PRICE_ROWS}


PRICES = model_prices(_PRICE_ROWS)

SCORE_CONFIGS = [{"id": "cfg-user-feedback", "name": "user-feedback", "dataType": "BOOLEAN",
                  "description": "Thumbs up/down from the chat widget"}]


def _cost(model: str, inp: int, out: int) -> float:
    pi, po = PER_TOKEN[model]
    return inp * pi + out * po


def _hour_weights() -> np.ndarray:
    """Relative traffic per UTC hour for a US East Coast audience (UTC-5)."""
    local = (np.arange(24) - 5) % 24
    day = np.clip(np.sin(np.pi * (local - 6) / 17.0), 0, None) ** 1.5
    w = 0.04 + day
    return w / w.sum()


def _hex(rng: random.Random, bits: int) -> str:
    return format(rng.getrandbits(bits), f"0{bits // 4}x")


# ---- OpenLLMetry --------------------------------------------------------------------------------

_TRACELOOP = "traceloop.tracer"
_OPENAI_V1 = "opentelemetry.instrumentation.openai.v1@0.44.1"


def _openai_chat(rng: random.Random, t: float, model: str, snapshot: str, in_tok: int,
                 out_tok: int, speed: float, extra: dict[str, Any]) -> _Node:
    """OpenLLMetry's OpenAI instrumentation: one ``openai.chat`` CLIENT span."""
    d = 0.25 + in_tok / 50000 + out_tok / _lognormal(rng, speed, 0.25)
    return _Node("openai.chat", t, t + d, {
        "llm.request.type": "chat", "gen_ai.system": "openai",
        "gen_ai.request.model": model, "gen_ai.response.model": snapshot,
        "gen_ai.request.temperature": 0.1, "llm.is_streaming": False,
        "gen_ai.openai.api_base": "https://api.openai.com/v1/",
        "gen_ai.response.id": f"chatcmpl-{_hex(rng, 96)}",
        "gen_ai.usage.prompt_tokens": in_tok, "gen_ai.usage.completion_tokens": out_tok,
        "llm.usage.total_tokens": in_tok + out_tok, **extra}, scope=_OPENAI_V1,
        kind=SpanKind.CLIENT)


def _claims(c: dict[str, Any]) -> tuple[_Node, dict[str, Any]]:
    rng, t = c["rng"], c["t0"]
    assoc = {"traceloop.association.properties.user_id": c["user"],
             "traceloop.association.properties.session_id": c["session"]}
    wf = {"traceloop.workflow.name": "claims_intake", **assoc}

    def deco(name: str, kind: str, t0: float) -> _Node:
        return _Node(f"{name}.{kind}", t0, t0, {"traceloop.span.kind": kind,
                                                "traceloop.entity.name": name, **wf},
                     scope=_TRACELOOP)

    root = deco("claims_intake", "workflow", t)
    root.attrs["traceloop.entity.input"] = json.dumps({"args": ["claim #%d" % rng.randint(1, 99999)],
                                                       "kwargs": {}})
    t += rng.uniform(0.002, 0.01)
    task = deco("classify_claim", "task", t)
    a, b = int(rng.uniform(500, 900)), int(rng.uniform(10, 40))
    call = _openai_chat(rng, t + 0.002, "gpt-4o-mini", "gpt-4o-mini-2024-07-18", a, b, 140.0, wf)
    task.children.append(call)
    task.end = call.end + 0.002
    cost = _cost("gpt-4o-mini", a, b)
    root.children.append(task)
    t = task.end
    tool = deco("policy_lookup", "tool", t)
    tool.end = t + _lognormal(rng, 0.3, 0.4)
    root.children.append(tool)
    t = tool.end
    task = deco("draft_decision", "task", t)
    a, b = int(rng.uniform(1800, 3600)), int(rng.uniform(150, 450))
    call = _openai_chat(rng, t + 0.002, "gpt-4o", "gpt-4o-2024-08-06", a, b, 90.0, wf)
    failed = rng.random() < 0.003
    if failed:  # the SDK raises; the decorators record it and re-raise
        msg = ("Error code: 500 - {'error': {'message': 'The server had an error while "
               "processing your request. Sorry about that!', 'type': 'server_error'}}")
        call.end = t + rng.uniform(0.5, 2.0)
        for k in ("gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens",
                  "llm.usage.total_tokens", "gen_ai.response.model", "gen_ai.response.id"):
            call.attrs.pop(k)
        for node in (call, task, root):
            node.error = msg
            node.exception = ("openai.InternalServerError", msg)
    else:
        cost += _cost("gpt-4o", a, b)
    task.children.append(call)
    task.end = call.end + 0.002
    root.children.append(task)
    root.end = task.end + rng.uniform(0.001, 0.01)
    return root, {"cost": cost, "error": failed, "timeout": False}


# ---- Strands Agents ------------------------------------------------------------------------------

_STRANDS = "strands.telemetry.tracer"


def _travel(c: dict[str, Any]) -> tuple[_Node, dict[str, Any]]:
    rng, t = c["rng"], c["t0"]
    trace_attrs = {"session.id": c["session"], "user.id": c["user"],
                   "langfuse.tags": ("travel", "strands")}
    common = {"gen_ai.system": "strands-agents", **trace_attrs}
    root = _Node(TRAVEL_TRACE, t, t, {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "travel_planner",
        "gen_ai.request.model": BEDROCK_SONNET,
        "gen_ai.agent.tools": json.dumps(["flight_search", "hotel_search", "currency_convert"]),
        **common}, scope=_STRANDS)
    t += rng.uniform(0.005, 0.02)
    cycles = rng.choice([2, 2, 3, 3, 4])
    tot_in = tot_out = 0
    timed_out = False
    prompt = int(rng.uniform(1800, 2600))
    for i in range(cycles):
        cyc = _Node("execute_event_loop_cycle", t, t, {
            "event_loop.cycle_id": f"{_hex(rng, 32)[:8]}-{_hex(rng, 16)}-4{_hex(rng, 12)}-"
                                   f"a{_hex(rng, 12)}-{_hex(rng, 48)}", **trace_attrs},
            scope=_STRANDS)
        out_tok = int(rng.uniform(60, 220)) if i < cycles - 1 else int(rng.uniform(250, 600))
        d = 0.5 + prompt / 30000 + out_tok / _lognormal(rng, 70.0, 0.25)
        ttfb = int(rng.uniform(400, 900))
        cyc.children.append(_Node("chat", t, t + d, {
            "gen_ai.operation.name": "chat", "gen_ai.request.model": BEDROCK_SONNET,
            "gen_ai.usage.prompt_tokens": prompt, "gen_ai.usage.input_tokens": prompt,
            "gen_ai.usage.completion_tokens": out_tok, "gen_ai.usage.output_tokens": out_tok,
            "gen_ai.usage.total_tokens": prompt + out_tok,
            "gen_ai.server.time_to_first_token": ttfb,
            "gen_ai.server.request.duration": int(d * 1000), **common}, scope=_STRANDS))
        tot_in += prompt
        tot_out += out_tok
        t += d
        if i < cycles - 1:
            name = "flight_search" if i == 0 else rng.choice(["hotel_search",
                                                              "currency_convert"])
            median = {"flight_search": 1.4, "hotel_search": 0.9, "currency_convert": 0.15}[name]
            dt = _lognormal(rng, median, 0.45)
            tool = _Node(f"execute_tool {name}", t, t + dt, {
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
                "gen_ai.tool.call.id": f"tooluse_{_hex(rng, 88)}", "gen_ai.tool.status": "success",
                **common}, scope=_STRANDS)
            if name == "flight_search" and rng.random() < c["timeout_p"]:
                tool.end = t + 12.0 + rng.uniform(0.001, 0.05)
                tool.attrs["gen_ai.tool.status"] = "error"
                tool.error = "The read operation timed out"
                tool.exception = ("httpx.ReadTimeout", "The read operation timed out")
                timed_out = True
            cyc.children.append(tool)
            t = tool.end + rng.uniform(0.002, 0.01)
            prompt += out_tok + int(rng.uniform(300, 1500))
        cyc.end = t
        root.children.append(cyc)
    root.end = t + rng.uniform(0.003, 0.02)
    root.attrs.update({"langfuse.observation.type": "span",
                       "gen_ai.usage.prompt_tokens": tot_in, "gen_ai.usage.input_tokens": tot_in,
                       "gen_ai.usage.completion_tokens": tot_out,
                       "gen_ai.usage.output_tokens": tot_out,
                       "gen_ai.usage.total_tokens": tot_in + tot_out,
                       "gen_ai.usage.cache_read_input_tokens": 0,
                       "gen_ai.usage.cache_write_input_tokens": 0})
    # Langfuse bills the chat spans and the agent span's accumulated usage alike
    cost = 2 * _cost("claude-sonnet-4", tot_in, tot_out)
    return root, {"cost": cost, "error": False, "timeout": timed_out}


# ---- AutoGen AgentChat ---------------------------------------------------------------------------

def _billing(c: dict[str, Any]) -> tuple[_Node, dict[str, Any]]:
    rng, t = c["rng"], c["t0"]
    root = _Node(BILLING_TRACE, t, t, {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.system": "autogen",
        "gen_ai.agent.name": "billing_agent", "gen_ai.agent.id": "billing_agent/default",
        "gen_ai.agent.description": "Answers invoice and refund questions."},
        scope="autogen-agentchat", kind=SpanKind.CLIENT)
    t += rng.uniform(0.002, 0.01)
    a = int(rng.uniform(1400, 2800) * c["cost_factor"])
    b = int(rng.uniform(40, 120))
    call = _openai_chat(rng, t, "gpt-4.1", "gpt-4.1-2025-04-14", a, b, 100.0, {})
    cost = _cost("gpt-4.1", a, b)
    root.children.append(call)
    t = call.end + 0.003
    name = rng.choice(["get_invoice", "get_invoice", "refund_status"])
    dt = _lognormal(rng, 0.35, 0.4)
    root.children.append(_Node(f"execute_tool {name}", t, t + dt, {
        "gen_ai.operation.name": "execute_tool", "gen_ai.system": "autogen",
        "gen_ai.tool.name": name, "gen_ai.tool.description": f"Look up {name.split('_')[0]}",
        "gen_ai.tool.call.id": f"call_{_hex(rng, 96)}"}, scope="autogen-core"))
    t += dt + 0.003
    a2 = int((a + rng.uniform(200, 600)))
    b2 = int(rng.uniform(120, 320))
    call = _openai_chat(rng, t, "gpt-4.1", "gpt-4.1-2025-04-14", a2, b2, 100.0, {})
    cost += _cost("gpt-4.1", a2, b2)
    root.children.append(call)
    root.end = call.end + rng.uniform(0.002, 0.01)
    return root, {"cost": cost, "error": False, "timeout": False}


# ---- Langfuse Python SDK v3 ----------------------------------------------------------------------

_LF = "langfuse-sdk@3.11.2"


def _support(c: dict[str, Any], env: str = "production", experiment: dict[str, Any] | None = None
             ) -> tuple[_Node, dict[str, Any]]:
    rng, t = c["rng"], c["t0"]
    base = {"langfuse.environment": env}
    if env == "production":
        base["langfuse.release"] = c["release"]
    gen_parent: _Node
    if experiment is None:
        root = _Node(SUPPORT, t, t, {
            "langfuse.observation.type": "agent", "langfuse.trace.name": SUPPORT,
            "user.id": c["user"], "session.id": c["session"],
            "langfuse.trace.tags": ["support", rng.choice(["web", "web", "ios", "android"])],
            "langfuse.observation.input": json.dumps({"message": "How do I change my plan?"}),
            **base}, scope=_LF)
        gen_parent = root
    else:
        root = _Node("experiment-item-run", t, t, {
            "langfuse.observation.type": "span", "langfuse.trace.name": "experiment-item-run",
            "langfuse.experiment.id": experiment["id"],
            "langfuse.experiment.name": experiment["run"],
            "langfuse.experiment.dataset.id": "ds-support-golden",
            "langfuse.experiment.item.id": experiment["item"],
            "langfuse.observation.input": json.dumps({"question": "golden question"}),
            **base}, scope=_LF)
        t += rng.uniform(0.001, 0.004)
        gen_parent = _Node("experiment-item-task", t, t, {
            "langfuse.observation.type": "span", **base}, scope=_LF)
        root.children.append(gen_parent)
    t += rng.uniform(0.005, 0.02)
    d = _lognormal(rng, 0.18, 0.4)
    gen_parent.children.append(_Node("search_docs", t, t + d, {
        "langfuse.observation.type": "retriever", **base}, scope=_LF))
    t += d
    a, b = int(rng.uniform(1100, 2400)), int(rng.uniform(90, 350))
    d = 0.35 + b / _lognormal(rng, 110.0, 0.25)
    gen = _Node("answer", t, t + d, {
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": "gpt-4.1-mini",
        "langfuse.observation.model.parameters": json.dumps({"temperature": 0.3}),
        "langfuse.observation.usage_details": json.dumps({"input": a, "output": b}),
        "langfuse.observation.prompt.name": PROMPT,
        "langfuse.observation.prompt.version": c["prompt_version"], **base}, scope=_LF)
    failed = experiment is None and rng.random() < 0.003
    if failed:
        msg = "Error code: 429 - Rate limit reached for gpt-4.1-mini"
        gen.end = t + rng.uniform(0.2, 0.5)
        gen.attrs.pop("langfuse.observation.usage_details")
        for node in (gen, root):
            node.attrs["langfuse.observation.level"] = "ERROR"
            node.attrs["langfuse.observation.status_message"] = msg
    gen_parent.children.append(gen)
    gen_parent.end = gen.end + rng.uniform(0.001, 0.01)
    root.end = gen_parent.end + rng.uniform(0.001, 0.01)
    cost = 0.0 if failed else _cost("gpt-4.1-mini", a, b)
    return root, {"cost": cost, "error": failed, "timeout": False}


_BUILDERS = {CLAIMS: _claims, TRAVEL: _travel, BILLING: _billing, SUPPORT: _support}
_RESOURCES = {
    CLAIMS: {"service.name": "claims-service", "deployment.environment": "production"},
    TRAVEL: {"service.name": "travel-planner", "deployment.environment.name": "production",
             "telemetry.sdk.language": "python"},
    BILLING: {"service.name": "billing-agent", "deployment.environment": "production",
              "service.version": "0.7.5"},
    SUPPORT: {"service.name": "support-chat", "telemetry.sdk.language": "python",
              "telemetry.sdk.name": "opentelemetry"},
}
_LANGFUSE_RESOURCE = {"service.name": "langfuse-worker"}
_EXPERIMENT_RESOURCE = {"service.name": "support-chat-evals", "telemetry.sdk.language": "python"}

#: Langfuse-managed judges per agent: (score name, whether its verdict is the agent's quality)
JUDGES = {CLAIMS: ("Correctness", "Helpfulness"), TRAVEL: ("Hallucination", "Helpfulness"),
          BILLING: ("Correctness",), SUPPORT: ("Hallucination", "Helpfulness")}


class _Recording(InMemorySpanExporter):
    """Keeps the spans of the last emitted trace at hand (copying all finished spans per trace
    would make generation quadratic)."""

    def __init__(self) -> None:
        super().__init__()
        self.recent: list[Any] = []

    def export(self, spans: Any) -> Any:
        self.recent.extend(spans)
        return super().export(spans)


class _Project:
    """Accumulates spans, scores and truth rows for one generated project."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.em = _Emitter(random.Random(seed + 7919))
        self.em.exporter = self.recording = _Recording()  # before any tracer exists
        self.truth: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []

    def emit(self, service: str, resource: dict[str, Any], root: _Node) -> tuple[str, list[Any]]:
        self.recording.recent = []
        span = self.em.emit(service, resource, root)
        return format(span.context.trace_id, "032x"), self.recording.recent

    def score(self, trace_id: str, ts: pd.Timestamp, name: str, value: float, dtype: str,
              source: str, env: str, observation: str | None = None) -> str:
        sid = _hex(self.rng, 128)
        string = None if dtype == "NUMERIC" else ("True" if value else "False")
        self.scores.append({"score_id": sid, "trace_id": trace_id, "observation_id": observation,
                            "timestamp": ts, "name": name, "value": value,
                            "string_value": string, "data_type": dtype, "source": source,
                            "environment": env})
        return sid

    def judge_trace(self, name: str, target: str, at: float, score_id: str) -> None:
        """Langfuse's evaluator execution: a trace of one priced generation in the judge
        environment, ending just before the score it produced."""
        rng = self.rng
        a, b = int(rng.uniform(900, 2600)), int(rng.uniform(40, 140))
        d = 0.6 + b / _lognormal(rng, 120.0, 0.25)
        meta = {"job_execution_id": f"je-{_hex(rng, 64)}",
                "job_configuration_id": f"jc-{name.lower()}",
                "target_trace_id": target, "score_id": score_id}
        node = _Node("ChatOpenAI", at - d, at, {
            "langfuse.observation.type": "generation",
            "langfuse.trace.name": f"Execute evaluator: {name}",
            "langfuse.environment": JUDGE_ENV,
            "langfuse.observation.model.name": "gpt-4.1-mini",
            "langfuse.observation.usage_details": json.dumps({"input": a, "output": b}),
            **{f"langfuse.trace.metadata.{k}": v for k, v in meta.items()}}, scope="langfuse-sdk")
        tid, _ = self.emit("langfuse-worker", _LANGFUSE_RESOURCE, node)
        self.truth.append({"trace_id": tid, "agent": f"Execute evaluator: {name}",
                           "start": pd.Timestamp(node.start, unit="s", tz="UTC"),
                           "duration_s": d, "timeout": False, "error": False,
                           "cost": _cost("gpt-4.1-mini", a, b), "scored": False, "bad": None})


def _labels(incidents: list[Incident]) -> list[Label]:
    out = []
    for inc in incidents:
        start = pd.Timestamp(inc.day, tz="UTC") + pd.Timedelta(hours=inc.hour)
        end = start + pd.Timedelta(hours=inc.hours or DEFAULT_HOURS[inc.runbook])
        if inc.runbook == "timeout_surge":
            out.append(Label(inc.runbook, start, end, TRAVEL, "tool", "flight_search",
                             {"agent": TRAVEL}, inc.magnitude))
        elif inc.runbook == "cost_spike":
            out.append(Label(inc.runbook, start, end, BILLING, "model", "gpt-4.1",
                             {"agent": BILLING}, inc.magnitude))
        else:
            out.append(Label(inc.runbook, start, end, SUPPORT, "prompt_version",
                             str(BAD_PROMPT), {"prompt": PROMPT}, inc.magnitude))
    return out


def _release(ts: pd.Timestamp) -> str:
    """Weekly releases, Tuesdays 15:00 UTC (ISO week of the last release)."""
    shifted = ts - pd.Timedelta(days=1, hours=15)
    return f"claims-suite@2026.{shifted.isocalendar().week:02d}"


def generate(seed: int = 1, end_day: str = "2026-11-29", days: int = 30,
             incidents: Iterable[Incident] = (), weekday_traces: float = WEEKDAY_TRACES
             ) -> BlindData:
    """``days`` whole UTC days to ``end_day`` of the project, deterministic for a seed."""
    incidents = list(incidents)
    check_incidents(incidents, days)
    if not weekday_traces > 0:
        raise ValueError(f"weekday_traces must be > 0, got {weekday_traces!r}")
    p = _Project(seed)
    rng, nrng = p.rng, np.random.default_rng(seed)
    labels = _labels(incidents)
    window = {lab.runbook: (lab.start, lab.end, lab.magnitude) for lab in labels}
    first = pd.Timestamp(end_day, tz="UTC") - pd.Timedelta(days=days - 1)
    benign_at = first + pd.Timedelta(days=max(days - 6, 0), hours=14)
    worse_night = first + pd.Timedelta(days=max(days - 9, 0))
    weights = _hour_weights()
    agents = list(SHARE)
    shares = np.array([SHARE[a] for a in agents])
    users = [f"u-{i:05d}" for i in range(1200)]

    def active(runbook: str, agent: str, target: str, ts: pd.Timestamp) -> float | None:
        if agent != target or runbook not in window:
            return None
        a, b, mag = window[runbook]
        return mag if a <= ts < b else None

    for dnum in range(days):
        day = first + pd.Timedelta(days=dnum)
        _experiment(p, day, worse_night)
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
                c: dict[str, Any] = {
                    "rng": rng, "t0": ts.timestamp(), "user": user, "release": _release(ts),
                    "session": f"{user}-{ts:%m%d}-{rng.randint(0, 2)}",
                    "prompt_version": BENIGN_PROMPT if ts >= benign_at else BASE_PROMPT,
                    "timeout_p": BASE_TIMEOUT_P, "cost_factor": 1.0}
                bad_p = BASE_INCORRECT_P if agent in (CLAIMS, BILLING) else BASE_HALLUCINATION_P
                if (m := active("timeout_surge", agent, TRAVEL, ts)) is not None:
                    c["timeout_p"] = min(1.0, BASE_TIMEOUT_P * m)
                if (m := active("cost_spike", agent, BILLING, ts)) is not None:
                    c["cost_factor"] = m
                if (m := active("hallucination_spike", agent, SUPPORT, ts)) is not None:
                    c["prompt_version"] = BAD_PROMPT
                    bad_p = min(1.0, BASE_HALLUCINATION_P * m)
                root, info = _BUILDERS[agent](c)
                tid, spans = p.emit(agent, _RESOURCES[agent], root)
                row = {"trace_id": tid, "agent": agent, "start": ts,
                       "duration_s": root.end - root.start, "timeout": info["timeout"],
                       "error": info["error"], "cost": info["cost"], "scored": False,
                       "bad": None}
                p.truth.append(row)
                if rng.random() < SAMPLE_RATE:
                    _judge(p, agent, tid, root.end, bad_p, row, spans)
                if agent == SUPPORT and rng.random() < FEEDBACK_RATE:
                    up = rng.random() < (0.35 if row["bad"] else 0.8)
                    p.score(tid, pd.Timestamp(root.end + rng.uniform(5, 240), unit="s",
                                              tz="UTC"),
                            "user-feedback", 1.0 if up else 0.0, "BOOLEAN", "API", "production")
    truth = pd.DataFrame(p.truth, columns=["trace_id", "agent", "start", "duration_s", "timeout",
                                           "error", "cost", "scored", "bad"])
    truth = truth.sort_values("start", kind="stable").reset_index(drop=True)
    scores = pd.DataFrame(p.scores, columns=[
        "score_id", "trace_id", "observation_id", "timestamp", "name", "value", "string_value",
        "data_type", "source", "environment"])
    return BlindData(spans=p.em.spans(), scores=scores, labels=labels, truth=truth,
                     prices=PRICES, score_configs=[dict(c) for c in SCORE_CONFIGS])


def _judge(p: _Project, agent: str, tid: str, t_end: float, bad_p: float, row: dict[str, Any],
           spans: list[Any]) -> None:
    """Langfuse-managed judges on a sampled trace: each one an evaluator trace and a score."""
    rng = p.rng
    bad = rng.random() < bad_p
    row["scored"], row["bad"] = True, bad
    at = t_end + rng.uniform(60, 1800)
    for name in JUDGES[agent]:
        at += rng.uniform(0.5, 20)
        ts = pd.Timestamp(at, unit="s", tz="UTC")
        obs = None
        if name == "Hallucination":
            value = round(rng.uniform(0.6, 1.0) if bad else rng.uniform(0.0, 0.3), 2)
        elif name == "Correctness":
            value = round(rng.uniform(0.0, 0.4) if bad else rng.uniform(0.7, 1.0), 2)
        else:
            value = round(rng.uniform(0.2, 0.6) if bad else rng.uniform(0.6, 1.0), 2)
            if agent == SUPPORT:  # an observation-level evaluator on the generation
                obs = next(format(s.context.span_id, "016x") for s in spans
                           if s.name == "answer")
        sid = p.score(tid, ts, name, value, "NUMERIC", "EVAL", "production", obs)
        p.judge_trace(name, tid, at - rng.uniform(0.05, 0.3), sid)


def _experiment(p: _Project, day: pd.Timestamp, worse_night: pd.Timestamp) -> None:
    """The nightly ``run_experiment`` over ``support-golden`` at 07:30 UTC (02:30 New York):
    one trace per item, an ``accuracy`` score each (source API); on ``worse_night`` a worse
    prompt variant is tried and scores badly."""
    rng = p.rng
    worse = day == worse_night
    version = WORSE_VARIANT if worse else BASE_PROMPT
    t0 = day + pd.Timedelta(hours=7, minutes=30)
    run = f"nightly-support-golden - {t0.isoformat().replace('+00:00', 'Z')}"
    exp_id = _hex(rng, 64)
    t = t0.timestamp()
    for i in range(EXPERIMENT_ITEMS):
        c = {"rng": rng, "t0": t, "prompt_version": version}
        root, info = _support(c, env=EXPERIMENT_ENV, experiment={
            "id": exp_id, "run": run, "item": f"item-{i:03d}"})
        tid, _ = p.emit("support-chat-evals", _EXPERIMENT_RESOURCE, root)
        bad = rng.random() < (0.55 if worse else 0.08)
        value = round(rng.uniform(0.0, 0.4) if bad else rng.uniform(0.75, 1.0), 2)
        p.truth.append({"trace_id": tid, "agent": "experiment-item-run",
                        "start": pd.Timestamp(root.start, unit="s", tz="UTC"),
                        "duration_s": root.end - root.start, "timeout": False, "error": False,
                        "cost": info["cost"], "scored": True, "bad": bad})
        p.score(tid, pd.Timestamp(root.end + rng.uniform(1, 6), unit="s", tz="UTC"),
                "accuracy", value, "NUMERIC", "API", EXPERIMENT_ENV)
        t = root.end + rng.uniform(0.05, 0.3)
