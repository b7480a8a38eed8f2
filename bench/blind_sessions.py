"""The eighth blind dataset (``--data sessions``): a European rail operator's customer service in
one Langfuse project, four agents on four stacks, one of them a multi-turn chat whose traces
are grouped into sessions.

Written from the instrumentations' public source (span names and attributes as their tracers
set them) and Langfuse's public source and docs, without reading the detectors, the runbooks or
the project's simulator. Traffic follows a Central European working day (UTC+1): busy 07-17
UTC, a deep trough 22-05 UTC, weekends at 50 %.

* ``refund_agent``: an Agno agent (``OpenAIChat`` on ``gpt-4.1-mini``) traced by OpenInference's
  agno instrumentor (scope ``openinference.instrumentation.agno``) and sent to Langfuse's OTel
  endpoint: ``refund_agent.run`` (AGENT, ``agent.name``, ``graph.node.name``, ``agno.tools``,
  ``session.id``, ``user.id``), ``OpenAIChat.invoke`` (LLM, ``llm.model_name``,
  ``llm.provider``, ``llm.token_count.prompt``/``completion``) and one span per tool call named
  after the function (TOOL, ``tool.name``). Agno catches what a tool raises and hands the error
  to the model (``FunctionCall.execute`` returns ``failure``): the TOOL span ends with status
  ERROR and the error text as its description, no exception event, and the run goes on.
* ``FareRulesQA``: a DSPy program (a ``dspy.ReAct`` over a tariff search tool)
  traced by OpenInference's dspy instrumentor together with its litellm instrumentor, as the
  DSPy integration docs advise for token counts: ``FareRulesQA.forward`` > ``ReAct.forward`` >
  ``Predict(StringSignature).forward`` > ``ChatAdapter.__call__`` (CHAIN) > ``LM.__call__`` (LLM,
  model, no usage) > ``completion`` (LiteLLM, LLM, ``llm.token_count.*``), tools as
  ``<name>.__call__`` (TOOL, including ReAct's own ``finish``), the answer extracted by
  ``ChainOfThought.forward``. A nightly regression run (01:30 UTC) replays 60 fare questions.
* ``journey_planner``: a LangGraph JS ReAct agent with Langfuse's JS ``CallbackHandler``
  (``@langfuse/langchain``, scope ``langfuse-sdk``, ``telemetry.sdk.language=nodejs``): chains
  as spans (the graph run named ``journey_planner`` by its ``runName``, ``__start__``, the
  ``agent`` and ``tools`` nodes, ``RunnableSequence``, ``ChatPromptTemplate``), ``ChatOpenAI``
  generations (usage ``input``/``output``/``total`` and ``input_cache_read``, the response's
  dated model) linked to managed prompt ``journey-planner-system`` through the template's
  ``langfusePrompt`` metadata, tools as ``tool`` observations. A tool error is recorded by
  ``handleToolError`` (level ERROR, ``statusMessage`` the error's ``toString()``); LangGraph's
  ``ToolNode`` returns it to the model and the agent goes on.
* ``support-chat``: a chat service on the Langfuse Python SDK v3 (``@observe`` root span
  ``handle_turn``, a retriever, ``start_as_current_generation`` on Claude Sonnet 4.5 with
  ``usage_details`` carrying Anthropic's ``cache_read_input_tokens`` /
  ``cache_creation_input_tokens``, prompt ``support-chat-system`` linked), one trace per turn,
  every trace with ``session.id`` (sessions of 1-8 turns).

Scores: Langfuse-managed LLM-as-judge evaluators on ~20 % of traces, 1-25 minutes after the
trace (source EVAL: ``hallucination`` on support-chat, high is bad; ``correctness``,
``faithfulness``, ``helpfulness`` elsewhere, high is good); thumbs from the chat widget
(``thumbs``, BOOLEAN, API); human annotation (``human-review``, CATEGORICAL, ANNOTATION) on a few
chat turns, hours later; and a session-level ``resolved`` (BOOLEAN, API) written with
``create_score(session_id=...)`` and no trace id. The canonical scores frame (and so the
contract double) requires a trace id, so the session scores are kept apart in
:attr:`SessionsData.session_scores`, not served.

No span carries a cost: Langfuse prices usage from the project's model table (:data:`PRICES`),
which prices input and output tokens only (cache tokens are recorded as usage, not billed).

Incidents, labelled as in ``blind_data``:

* ``timeout_surge``: ``journey_planner``'s tool ``live_departures`` (a ``fetch`` with
  ``AbortSignal.timeout(8000)``) times out ``magnitude`` times as often (base 3 %);
* ``cost_spike``: ``refund_agent``'s tool ``get_booking`` starts returning truncated JSON; the
  agent calls it again and again, each round a model call over a growing context, so a request
  costs about ``magnitude`` times as much (cause: the tool, within the agent);
* ``hallucination_spike``: prompt ``support-chat-system`` v23 ships at the start and is rolled
  back at the end; support-chat answers are judged hallucinated ``magnitude`` times as often
  (base 6 %).

Quiet changes: a same-quality ``support-chat-system`` v22 six days before the end (09:00 UTC), a
same-quality ``journey-planner-system`` v5 twelve days before the end (10:00 UTC), weekly
releases (Tuesdays 08:00 UTC) and the nightly DSPy regression run.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from blind_data import (BlindData, Incident, Label, _Emitter, _lognormal, _Node, check_incidents,
                        model_prices)

__all__ = ["AGENTS", "PRICES", "SCORE_CONFIGS", "SessionsData", "generate"]

REFUND, FARES, JOURNEY, CHAT = "refund_agent", "FareRulesQA", "journey_planner", "support-chat"
AGENTS = (REFUND, FARES, JOURNEY, CHAT)
#: share of a day's traces (support-chat counts turns, not sessions)
SHARE = {CHAT: 0.38, REFUND: 0.24, JOURNEY: 0.24, FARES: 0.14}
WEEKDAY_TRACES = 1200
WEEKEND_FACTOR = 0.5
SAMPLE_RATE = 0.20
THUMBS_RATE = 0.06
ANNOTATION_RATE = 0.015
RESOLVED_RATE = 0.55
NIGHTLY_RUNS = 60
#: turns per chat session, 1..8
TURN_WEIGHTS = np.array([0.22, 0.22, 0.18, 0.13, 0.10, 0.07, 0.05, 0.03])
MEAN_TURNS = float((np.arange(1, 9) * TURN_WEIGHTS).sum())
BASE_TIMEOUT_P = 0.03
REFUND_TIMEOUT_P = 0.015  # ticket_status_api, unaffected by the incidents
BASE_HALLUCINATION_P = 0.06
BASE_INCORRECT_P = 0.07
DEFAULT_HOURS = {"timeout_surge": 4, "cost_spike": 5, "hallucination_spike": 6}
PROMPT = "support-chat-system"
BASE_PROMPT, BENIGN_PROMPT, BAD_PROMPT = 21, 22, 23
JOURNEY_PROMPT = "journey-planner-system"
TIMEOUT_TOOL, LOOP_TOOL = "live_departures", "get_booking"
CLAUDE = "claude-sonnet-4-5-20250929"

#: USD per 1M tokens: (model id, input, output, Langfuse-style match pattern)
_PRICE_ROWS = (
    ("gpt-4.1-mini", 0.40, 1.60, r"(?i)^(openai/)?(gpt-4\.1-mini)(-\d{4}-\d{2}-\d{2})?$"),
    ("gpt-4.1", 2.00, 8.00, r"(?i)^(openai/)?(gpt-4\.1)(-\d{4}-\d{2}-\d{2})?$"),
    ("gpt-4o-mini", 0.15, 0.60, r"(?i)^(openai/)?(gpt-4o-mini)(-\d{4}-\d{2}-\d{2})?$"),
    ("claude-sonnet-4-5", 3.00, 15.00, r"(?i)^(anthropic/)?(claude-sonnet-4-5)(-\d{8})?$"),
)
PER_TOKEN = {m: (i / 1e6, o / 1e6) for m, i, o, _ in _PRICE_ROWS}


PRICES = model_prices(_PRICE_ROWS)

SCORE_CONFIGS = (
    {"id": "cfg-thumbs", "name": "thumbs", "dataType": "BOOLEAN",
     "description": "Thumbs up/down under a chat answer",
     "categories": [{"value": 0, "label": "False"}, {"value": 1, "label": "True"}]},
    {"id": "cfg-human-review", "name": "human-review", "dataType": "CATEGORICAL",
     "description": "Support lead's review of a chat answer",
     "categories": [{"value": 0, "label": "incorrect"}, {"value": 1, "label": "partially_correct"},
                    {"value": 2, "label": "correct"}]},
    {"id": "cfg-resolved", "name": "resolved", "dataType": "BOOLEAN",
     "description": "Was the customer's issue resolved in this conversation?",
     "categories": [{"value": 0, "label": "False"}, {"value": 1, "label": "True"}]},
)
REVIEW_LABELS = ("incorrect", "partially_correct", "correct")
SCORE_COLUMNS = ["score_id", "trace_id", "observation_id", "timestamp", "name", "value",
                 "string_value", "data_type", "source", "environment"]
SESSION_SCORE_COLUMNS = ["score_id", "session_id", "timestamp", "name", "value", "string_value",
                         "data_type", "source", "environment"]
TRUTH_COLUMNS = ["trace_id", "agent", "start", "duration_s", "timeout", "error", "cost", "scored",
                 "bad"]


@dataclass
class SessionsData(BlindData):
    session_scores: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=SESSION_SCORE_COLUMNS))
    """Scores attached to a chat session (``sessionId``, no ``traceId``): not in ``scores``."""


def _cost(model: str, inp: int, out: int) -> float:
    pi, po = PER_TOKEN[model]
    return inp * pi + out * po


def _hour_weights() -> np.ndarray:
    """Relative traffic per UTC hour for a Central European audience (UTC+1)."""
    local = (np.arange(24) + 1) % 24
    day = np.clip(np.sin(np.pi * (local - 6) / 17.0), 0, None) ** 1.5
    w = 0.03 + day
    return w / w.sum()


def _hex(rng: random.Random, bits: int) -> str:
    return format(rng.getrandbits(bits), f"0{bits // 4}x")


def _uuid(rng: random.Random) -> str:
    h = _hex(rng, 128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


# ---- Agno through OpenInference -----------------------------------------------------------------

_AGNO = "openinference.instrumentation.agno@1.0.3"
_AGNO_TOOLS = ("get_booking", "ticket_status_api", "issue_refund")
_GARBLED = '{"booking_ref": "BR-%d", "legs": [{"from": "DE-KLN", "to": "NL-AMS", "dep'
_TIMEOUT_MSG = "The read operation timed out"
#: mean cost of an ordinary refund_agent trace (measured), the runaway loop's yardstick
REFUND_MEAN_COST = 0.00325


def _refund(c: dict[str, Any]) -> tuple[_Node, dict[str, Any]]:
    rng, t = c["rng"], c["t0"]
    ctx = {"session.id": c["session"], "user.id": c["user"]}
    root = _Node("refund_agent.run", t, t, {
        "openinference.span.kind": "AGENT", "graph.node.id": _hex(rng, 64)[:16],
        "graph.node.name": REFUND, "agent.name": REFUND, "agno.agent.id": "refund-agent",
        "agno.agent": REFUND, "agno.tools": _AGNO_TOOLS,
        "input.value": "My train to Amsterdam was cancelled, I want my money back.", **ctx},
        scope=_AGNO)
    t += rng.uniform(0.01, 0.04)
    cost = 0.0

    def invoke(t: float, prompt: int, out: int) -> float:
        nonlocal cost
        d = 0.3 + prompt / 60000 + out / _lognormal(rng, 85.0, 0.25)
        root.children.append(_Node("OpenAIChat.invoke", t, t + d, {
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4.1-mini",
            "llm.provider": "OpenAI", "llm.system": "openai",
            "llm.invocation_parameters": json.dumps({"temperature": 0.2}),
            "llm.token_count.prompt": prompt, "llm.token_count.completion": out, **ctx},
            scope=_AGNO))
        cost += _cost("gpt-4.1-mini", prompt, out)
        return t + d + rng.uniform(0.002, 0.01)

    def tool(t: float, name: str, median: float, output: str) -> _Node:
        d = _lognormal(rng, median, 0.4)
        node = _Node(name, t, t + d, {
            "openinference.span.kind": "TOOL", "tool.name": name,
            "tool.description": {"get_booking": "Fetch a booking by reference",
                                 "ticket_status_api": "Ticket status from the ticketing system",
                                 "issue_refund": "Issue a refund to the original payment"}[name],
            "tool.parameters": json.dumps({"booking_ref": "BR-%d" % rng.randint(100000, 999999)}),
            "input.value": json.dumps({"booking_ref": "BR"}), "output.value": output, **ctx},
            scope=_AGNO)
        root.children.append(node)
        return node

    prompt = int(rng.uniform(1900, 3200))
    out = int(rng.uniform(30, 90))
    t = invoke(t, prompt, out)
    prompt += out
    garbled = c["loop"] is not None
    timed_out = False
    node = tool(t, "get_booking", 0.25, (_GARBLED % rng.randint(1, 99999)) if garbled
                else json.dumps({"status": "cancelled", "fare": "Flex"}))
    t = node.end + 0.003
    prompt += int(rng.uniform(250, 600))
    if garbled:  # the model cannot read the booking and asks again, round after round
        target = c["loop"] * REFUND_MEAN_COST * rng.uniform(0.85, 1.15)
        rounds = 0
        while rounds < 40 and (cost + _cost("gpt-4.1-mini", prompt, 75) / 2
                               + _cost("gpt-4.1-mini", prompt + 600, 215)) < target:
            out = int(rng.uniform(40, 110))
            t = invoke(t, prompt, out)
            node = tool(t, "get_booking", 0.25, _GARBLED % rng.randint(1, 99999))
            t = node.end + 0.003
            prompt += out + int(rng.uniform(450, 800))
            rounds += 1
    elif rng.random() < 0.7:
        node = tool(t, "ticket_status_api", 0.5, json.dumps({"ticket": "void", "refundable": True}))
        if rng.random() < REFUND_TIMEOUT_P:  # httpx gives up; Agno hands the error to the model
            node.end = t + 10.0 + rng.uniform(0.001, 0.03)
            node.error = _TIMEOUT_MSG
            node.attrs["output.value"] = _TIMEOUT_MSG
            node.attrs["output.mime_type"] = "text/plain"
            timed_out = True
        t = node.end + 0.003
        prompt += int(rng.uniform(150, 400))
    if not garbled and not timed_out and rng.random() < 0.35:
        out = int(rng.uniform(30, 80))
        t = invoke(t, prompt, out)
        prompt += out
        node = tool(t, "issue_refund", 0.6,
                    json.dumps({"refund_id": "RF-%d" % rng.randint(1, 99999)}))
        t = node.end + 0.003
        prompt += int(rng.uniform(80, 200))
    t = invoke(t, prompt, int(rng.uniform(110, 320)))
    root.attrs["agno.run.id"] = _uuid(rng)
    root.end = t + rng.uniform(0.005, 0.02)
    return root, {"cost": cost, "error": False, "timeout": timed_out}


# ---- DSPy through OpenInference (dspy + litellm instrumentors) ----------------------------------

_DSPY = "openinference.instrumentation.dspy@0.1.39"
_LITELLM = "openinference.instrumentation.litellm@0.1.37"


def _fares(c: dict[str, Any]) -> tuple[_Node, dict[str, Any]]:
    rng, t = c["rng"], c["t0"]
    ctx: dict[str, Any] = {}
    if c.get("session"):
        ctx = {"session.id": c["session"], "user.id": c["user"]}
    if c.get("metadata"):
        ctx["metadata"] = json.dumps(c["metadata"])
    question = {"question": "Can I use my Sparpreis ticket on an earlier train?"}
    root = _Node("FareRulesQA.forward", t, t, {
        "openinference.span.kind": "CHAIN", "input.value": json.dumps(question),
        "input.mime_type": "application/json", **ctx}, scope=_DSPY)
    t += rng.uniform(0.001, 0.005)
    react = _Node("ReAct.forward", t, t, {"openinference.span.kind": "CHAIN",
                                          "input.value": json.dumps(question),
                                          "input.mime_type": "application/json", **ctx},
                  scope=_DSPY)
    root.children.append(react)
    cost = 0.0

    def predict(parent: _Node, name: str, t: float, prompt: int, out: int) -> float:
        nonlocal cost
        pred = _Node(name, t, t, {"openinference.span.kind": "CHAIN", **ctx}, scope=_DSPY)
        adapter = _Node("ChatAdapter.__call__", t + 0.001, t, {
            "openinference.span.kind": "CHAIN", **ctx}, scope=_DSPY)
        t1 = t + 0.002
        d = 0.35 + prompt / 50000 + out / _lognormal(rng, 120.0, 0.25)
        lm = _Node("LM.__call__", t1, t1 + d, {
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
            "llm.provider": "openai",
            "llm.invocation_parameters": json.dumps({"temperature": 0.0, "max_tokens": 4000}),
            **ctx}, scope=_DSPY)
        lm.children.append(_Node("completion", t1 + 0.002, t1 + d - 0.002, {
            "openinference.span.kind": "LLM", "llm.model_name": "openai/gpt-4o-mini",
            "llm.provider": "openai", "llm.token_count.prompt": prompt,
            "llm.token_count.completion": out, "llm.token_count.total": prompt + out, **ctx},
            scope=_LITELLM))
        cost += _cost("gpt-4o-mini", prompt, out)
        adapter.children.append(lm)
        adapter.end = lm.end + 0.002
        pred.children.append(adapter)
        pred.end = adapter.end + 0.001
        parent.children.append(pred)
        return pred.end

    steps = rng.choice([1, 2, 2, 3])
    prompt = int(rng.uniform(1100, 1700))
    for i in range(steps + 1):
        out = int(rng.uniform(60, 160))
        t = predict(react, "Predict(StringSignature).forward", t, prompt, out)
        name = "search_tariffs" if i < steps else "finish"
        d = _lognormal(rng, 0.4, 0.4) if i < steps else 0.0002
        react.children.append(_Node(f"{name}.__call__", t, t + d, {
            "openinference.span.kind": "TOOL",
            "input.value": json.dumps({"query": "Sparpreis earlier train"} if i < steps else {}),
            **ctx}, scope=_DSPY))
        t += d + 0.001
        prompt += out + (int(rng.uniform(300, 700)) if i < steps else 20)
    cot = _Node("ChainOfThought.forward", t, t, {"openinference.span.kind": "CHAIN", **ctx},
                scope=_DSPY)
    t = predict(cot, "Predict(StringSignature).forward", t + 0.001, prompt,
                int(rng.uniform(150, 380)))
    cot.end = t + 0.001
    react.children.append(cot)
    react.end = cot.end + 0.001
    root.end = react.end + rng.uniform(0.001, 0.004)
    return root, {"cost": cost, "error": False, "timeout": False}


# ---- LangGraph JS with Langfuse's CallbackHandler ------------------------------------------------

_LFJS = "langfuse-sdk@5.10.1"
_TIMEOUT_JS = "TimeoutError: The operation was aborted due to timeout"


def _journey(c: dict[str, Any]) -> tuple[_Node, dict[str, Any]]:
    rng, t = c["rng"], c["t0"]
    common = {"user.id": c["user"], "session.id": c["session"],
              "langfuse.trace.tags": ["journey-planner", "web"],
              "langfuse.environment": "production", "langfuse.release": c["release"]}

    def span(name: str, t0: float, kind: str = "span", **extra: Any) -> _Node:
        return _Node(name, t0, t0, {"langfuse.observation.type": kind, **common, **extra},
                     scope=_LFJS)

    root = span("journey_planner", t, **{"langfuse.observation.input": json.dumps(
        {"messages": ["Fastest way from Lyon to Munich tomorrow morning?"]})})
    t += rng.uniform(0.002, 0.008)
    st = span("__start__", t)
    st.end = t + rng.uniform(0.001, 0.004)
    root.children.append(st)
    t = st.end
    cost = 0.0
    timed_out = False
    prompt = int(rng.uniform(1500, 2600))
    rounds = rng.choice([1, 1, 2, 2, 3])
    for i in range(rounds + 1):
        agent = span("agent", t)
        seq = span("RunnableSequence", t + 0.001)
        tpl = span("ChatPromptTemplate", t + 0.002)
        tpl.end = tpl.start + rng.uniform(0.001, 0.003)
        seq.children.append(tpl)
        final = i == rounds
        out = int(rng.uniform(140, 380)) if final else int(rng.uniform(25, 70))
        cached = (prompt // 128) * 128 - 256 if prompt > 1280 and rng.random() < 0.6 else 0
        d = 0.3 + prompt / 50000 + out / _lognormal(rng, 80.0, 0.25)
        usage = {"input": prompt - cached, "output": out, "total": prompt + out}
        if cached:
            usage["input_cache_read"] = cached
        gen = _Node("ChatOpenAI", tpl.end + 0.001, tpl.end + 0.001 + d, {
            "langfuse.observation.type": "generation", **common,
            "langfuse.observation.model.name": "gpt-4.1-2025-04-14",
            "langfuse.observation.model.parameters": json.dumps({"temperature": 0}),
            "langfuse.observation.usage_details": json.dumps(usage),
            "langfuse.observation.prompt.name": JOURNEY_PROMPT,
            "langfuse.observation.prompt.version": c["journey_prompt"]}, scope=_LFJS)
        cost += _cost("gpt-4.1", prompt - cached, out)
        seq.children.append(gen)
        seq.end = gen.end + 0.001
        agent.children.append(seq)
        agent.end = seq.end + 0.001
        root.children.append(agent)
        t = agent.end + 0.001
        prompt += out
        if final:
            break
        tools = span("tools", t)
        name = TIMEOUT_TOOL if i == 0 else rng.choice(["fare_lookup", "seat_map"])
        dt = _lognormal(rng, {TIMEOUT_TOOL: 0.7, "fare_lookup": 0.4, "seat_map": 0.3}[name], 0.4)
        tool = _Node(name, t + 0.001, t + 0.001 + dt, {
            "langfuse.observation.type": "tool", **common,
            "langfuse.observation.input": json.dumps({"station": "8000261"})}, scope=_LFJS)
        if name == TIMEOUT_TOOL and rng.random() < c["timeout_p"]:
            tool.end = tool.start + 8.0 + rng.uniform(0.001, 0.02)
            tool.attrs["langfuse.observation.level"] = "ERROR"
            tool.attrs["langfuse.observation.status_message"] = _TIMEOUT_JS
            timed_out = True
        tools.children.append(tool)
        tools.end = tool.end + 0.001
        root.children.append(tools)
        t = tools.end + 0.001
        prompt += int(rng.uniform(200, 700))
    root.end = t + rng.uniform(0.002, 0.01)
    return root, {"cost": cost, "error": False, "timeout": timed_out}


# ---- the chat service on the Langfuse Python SDK v3 ----------------------------------------------

_LFPY = "langfuse-sdk@3.8.1"
_OVERLOADED = ("Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', "
               "'message': 'Overloaded'}}")


def _chat_turn(c: dict[str, Any]) -> tuple[_Node, dict[str, Any]]:
    rng, t = c["rng"], c["t0"]
    base = {"langfuse.environment": "production", "langfuse.release": c["release"]}
    root = _Node("handle_turn", t, t, {
        "langfuse.observation.type": "span", "langfuse.trace.name": CHAT,
        "user.id": c["user"], "session.id": c["session"],
        "langfuse.trace.tags": ["chat", c["channel"]],
        "langfuse.trace.metadata.turn": c["turn"],
        "langfuse.observation.input": json.dumps({"message": "And if I miss the connection?"}),
        **base}, scope=_LFPY)
    t += rng.uniform(0.005, 0.02)
    d = _lognormal(rng, 0.2, 0.4)
    root.children.append(_Node("search_help_center", t, t + d, {
        "langfuse.observation.type": "retriever", **base}, scope=_LFPY))
    t += d
    system = 1850  # the system prompt, cached across turns
    history = c["history"]
    fresh = int(rng.uniform(60, 220)) + int(rng.uniform(400, 1100))  # message + retrieved docs
    if c["turn"] == 1:
        cache_read, cache_write = 0, system
    else:
        cache_read, cache_write = system + history, 0
    out = int(rng.uniform(120, 420))
    d = 0.6 + out / _lognormal(rng, 65.0, 0.25)
    usage = {"input": fresh + (history if c["turn"] == 1 else 0), "output": out,
             "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_write}
    gen = _Node("claude-answer", t, t + d, {
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": CLAUDE,
        "langfuse.observation.model.parameters": json.dumps({"max_tokens": 1024,
                                                             "temperature": 0.3}),
        "langfuse.observation.usage_details": json.dumps(usage),
        "langfuse.observation.prompt.name": PROMPT,
        "langfuse.observation.prompt.version": c["prompt_version"],
        "langfuse.observation.completion_start_time": json.dumps(
            pd.Timestamp(t + 0.55, unit="s", tz="UTC").isoformat()), **base}, scope=_LFPY)
    failed = rng.random() < 0.003
    if failed:  # the SDK marks the observations it leaves with the exception
        gen.end = t + rng.uniform(0.3, 1.2)
        gen.attrs.pop("langfuse.observation.usage_details")
        gen.attrs.pop("langfuse.observation.completion_start_time")
        for node in (gen, root):
            node.attrs["langfuse.observation.level"] = "ERROR"
            node.attrs["langfuse.observation.status_message"] = _OVERLOADED
    root.children.append(gen)
    root.end = gen.end + rng.uniform(0.003, 0.02)
    cost = 0.0 if failed else _cost("claude-sonnet-4-5", usage["input"], out)
    c["history"] = history + fresh + out
    return root, {"cost": cost, "error": failed, "timeout": False}


_BUILDERS = {REFUND: _refund, FARES: _fares, JOURNEY: _journey}
_RESOURCES = {
    REFUND: {"service.name": "refund-agent", "deployment.environment": "production",
             "telemetry.sdk.language": "python"},
    FARES: {"service.name": "fare-rules-qa", "telemetry.sdk.language": "python"},
    JOURNEY: {"service.name": "journey-planner", "telemetry.sdk.language": "nodejs",
              "telemetry.sdk.name": "opentelemetry", "service.version": "3.2.0"},
    CHAT: {"service.name": "support-chat", "telemetry.sdk.language": "python",
           "telemetry.sdk.name": "opentelemetry"},
}
#: the managed judge each agent's sampled traces get: (score name, whether high is bad)
JUDGES = {REFUND: ("correctness", False), FARES: ("faithfulness", False),
          JOURNEY: ("helpfulness", False), CHAT: ("hallucination", True)}


# ---- the project ---------------------------------------------------------------------------------

class _Project:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.em = _Emitter(random.Random(seed + 7919))
        self.truth: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []
        self.session_scores: list[dict[str, Any]] = []

    def emit(self, agent: str, root: _Node) -> str:
        span = self.em.emit(agent, _RESOURCES[agent], root)
        return format(span.context.trace_id, "032x")

    def score(self, trace_id: str, at: float, name: str, value: float, dtype: str, source: str,
              string: str | None = None) -> None:
        if dtype == "BOOLEAN":
            string = "True" if value else "False"
        self.scores.append({"score_id": _uuid(self.rng), "trace_id": trace_id,
                            "observation_id": None,
                            "timestamp": pd.Timestamp(at, unit="s", tz="UTC"), "name": name,
                            "value": value, "string_value": string, "data_type": dtype,
                            "source": source, "environment": "production"})

    def record(self, agent: str, tid: str, root: _Node, info: dict[str, Any], bad_p: float
               ) -> dict[str, Any]:
        rng = self.rng
        row = {"trace_id": tid, "agent": agent,
               "start": pd.Timestamp(root.start, unit="s", tz="UTC"),
               "duration_s": root.end - root.start, "timeout": info["timeout"],
               "error": info["error"], "cost": info["cost"], "scored": False, "bad": None}
        self.truth.append(row)
        if rng.random() < SAMPLE_RATE:
            bad = rng.random() < bad_p
            row["scored"], row["bad"] = True, bad
            name, high_is_bad = JUDGES[agent]
            if bad == high_is_bad:
                value = round(rng.uniform(0.65, 1.0), 2)
            else:
                value = round(rng.uniform(0.0, 0.35), 2)
            self.score(tid, root.end + rng.uniform(60, 1500), name, value, "NUMERIC", "EVAL")
        return row


def _labels(incidents: list[Incident]) -> list[Label]:
    out = []
    for inc in incidents:
        start = pd.Timestamp(inc.day, tz="UTC") + pd.Timedelta(hours=inc.hour)
        end = start + pd.Timedelta(hours=inc.hours or DEFAULT_HOURS[inc.runbook])
        if inc.runbook == "timeout_surge":
            out.append(Label(inc.runbook, start, end, JOURNEY, "tool", TIMEOUT_TOOL,
                             {"agent": JOURNEY}, inc.magnitude))
        elif inc.runbook == "cost_spike":
            out.append(Label(inc.runbook, start, end, REFUND, "tool", LOOP_TOOL,
                             {"agent": REFUND}, inc.magnitude))
        else:
            out.append(Label(inc.runbook, start, end, CHAT, "prompt_version", str(BAD_PROMPT),
                             {"prompt": PROMPT}, inc.magnitude))
    return out


def _release(ts: pd.Timestamp) -> str:
    """Weekly releases, Tuesdays 08:00 UTC (ISO week of the last release)."""
    shifted = ts - pd.Timedelta(days=1, hours=8)
    return f"rail-assist@2026.{shifted.isocalendar().week:02d}"


def generate(seed: int = 1, end_day: str = "2026-11-29", days: int = 30,
             incidents: Iterable[Incident] = (), weekday_traces: float = WEEKDAY_TRACES
             ) -> SessionsData:
    """``days`` whole UTC days to ``end_day`` of the project, ``weekday_traces`` expected on a
    weekday, the given incidents injected; deterministic for a seed."""
    incidents = list(incidents)
    check_incidents(incidents, days)
    if not weekday_traces > 0:
        raise ValueError(f"weekday_traces must be > 0, got {weekday_traces!r}")
    p = _Project(seed)
    rng, nrng = p.rng, np.random.default_rng(seed)
    labels = _labels(incidents)
    window = {lab.runbook: (lab.start, lab.end, lab.magnitude) for lab in labels}
    first = pd.Timestamp(end_day, tz="UTC") - pd.Timedelta(days=days - 1)
    benign_at = first + pd.Timedelta(days=max(days - 6, 0), hours=9)
    journey_v5_at = first + pd.Timedelta(days=max(days - 12, 0), hours=10)
    weights = _hour_weights()
    others = [REFUND, JOURNEY, FARES]
    other_p = np.array([SHARE[a] for a in others]) / sum(SHARE[a] for a in others)
    users = [f"cust-{i:05d}" for i in range(1500)]

    def active(runbook: str, ts: pd.Timestamp) -> float | None:
        if runbook not in window:
            return None
        a, b, mag = window[runbook]
        return mag if a <= ts < b else None

    def one(agent: str, ts: pd.Timestamp, user: str, session: str) -> None:
        c: dict[str, Any] = {"rng": rng, "t0": ts.timestamp(), "user": user,
                             "session": session, "release": _release(ts),
                             "timeout_p": BASE_TIMEOUT_P, "loop": None,
                             "journey_prompt": 5 if ts >= journey_v5_at else 4}
        if agent == JOURNEY and (m := active("timeout_surge", ts)) is not None:
            c["timeout_p"] = min(1.0, BASE_TIMEOUT_P * m)
        if agent == REFUND:
            c["loop"] = active("cost_spike", ts)
        root, info = _BUILDERS[agent](c)
        p.record(agent, p.emit(agent, root), root, info, BASE_INCORRECT_P)

    def chat_session(ts: pd.Timestamp, user: str) -> None:
        turns = int(nrng.choice(8, p=TURN_WEIGHTS)) + 1
        session = _uuid(rng)
        c: dict[str, Any] = {"rng": rng, "user": user, "session": session, "history": 0,
                             "channel": rng.choice(["web", "web", "app"])}
        t = ts.timestamp()
        bad_any = False
        for turn in range(1, turns + 1):
            at = pd.Timestamp(t, unit="s", tz="UTC")
            c.update(t0=t, turn=turn, release=_release(at),
                     prompt_version=BENIGN_PROMPT if at >= benign_at else BASE_PROMPT)
            bad_p = BASE_HALLUCINATION_P
            if (m := active("hallucination_spike", at)) is not None:
                c["prompt_version"] = BAD_PROMPT
                bad_p = min(1.0, BASE_HALLUCINATION_P * m)
            root, info = _chat_turn(c)
            tid = p.emit(CHAT, root)
            row = p.record(CHAT, tid, root, info, bad_p)
            bad = bool(row["bad"]) if row["scored"] else rng.random() < bad_p
            bad_any = bad_any or bad
            if rng.random() < THUMBS_RATE:
                up = rng.random() < (0.3 if bad else 0.85)
                p.score(tid, root.end + rng.uniform(5, 120), "thumbs", 1.0 if up else 0.0,
                        "BOOLEAN", "API")
            if rng.random() < ANNOTATION_RATE:
                k = 0 if bad else (1 if rng.random() < 0.15 else 2)
                p.score(tid, root.end + rng.uniform(2 * 3600, 30 * 3600), "human-review",
                        float(k), "CATEGORICAL", "ANNOTATION", REVIEW_LABELS[k])
            t = root.end + _lognormal(rng, 45.0, 0.6)  # the customer reads and types
        if rng.random() < RESOLVED_RATE:
            ok = rng.random() < (0.35 if bad_any else 0.8)
            p.session_scores.append({
                "score_id": _uuid(rng), "session_id": session,
                "timestamp": pd.Timestamp(t + rng.uniform(30, 600), unit="s", tz="UTC"),
                "name": "resolved", "value": 1.0 if ok else 0.0,
                "string_value": "True" if ok else "False", "data_type": "BOOLEAN",
                "source": "API", "environment": "production"})

    for dnum in range(days):
        day = first + pd.Timedelta(days=dnum)
        n_day = weekday_traces * (WEEKEND_FACTOR if day.day_of_week >= 5 else 1.0)
        nightly = day + pd.Timedelta(hours=1, minutes=30)
        for h in range(24):
            hour = day + pd.Timedelta(hours=h)
            if hour == nightly.floor("h"):
                t = nightly.timestamp()
                for i in range(NIGHTLY_RUNS):
                    c = {"rng": rng, "t0": t, "metadata": {"job": "nightly-regression",
                                                           "example": i}}
                    root, info = _fares(c)
                    p.record(FARES, p.emit(FARES, root), root, info, BASE_INCORRECT_P)
                    t = root.end + rng.uniform(0.05, 0.4)
            n_sessions = int(nrng.poisson(n_day * SHARE[CHAT] * weights[h] / MEAN_TURNS))
            n = int(nrng.poisson(n_day * (1 - SHARE[CHAT]) * weights[h]))
            arrivals = [(float(o), CHAT) for o in nrng.uniform(0, 3600, n_sessions)]
            picks = nrng.choice(len(others), size=n, p=other_p)
            arrivals += [(float(o), others[k]) for o, k in zip(nrng.uniform(0, 3600, n), picks)]
            for off, agent in sorted(arrivals):
                ts = hour + pd.Timedelta(seconds=off)
                user = rng.choice(users)
                if agent == CHAT:
                    chat_session(ts, user)
                else:
                    one(agent, ts, user, f"{user}-{ts:%m%d}-{rng.randint(0, 3)}")
    truth = pd.DataFrame(p.truth, columns=TRUTH_COLUMNS)
    truth = truth.sort_values("start", kind="stable").reset_index(drop=True)
    scores = pd.DataFrame(p.scores, columns=SCORE_COLUMNS)
    return SessionsData(spans=p.em.spans(), scores=scores, labels=labels, truth=truth,
                        prices=PRICES, score_configs=[dict(c) for c in SCORE_CONFIGS],
                        session_scores=pd.DataFrame(p.session_scores,
                                                    columns=SESSION_SCORE_COLUMNS))
