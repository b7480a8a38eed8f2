"""The sixth blind dataset: low-code platforms and older SDKs writing into one Langfuse project.

Written from the public source and documentation of the platforms it imitates, not from the
detectors. Four agents, each recorded the way its platform records it:

* ``message``: a Dify chatflow (advanced-chat app) through Dify's built-in Langfuse tracing.
  Dify names every chatflow trace ``message`` (tags ``message``, ``workflow``; the trace id is the
  message id, the session the conversation id, the version the workflow's published version)
  and opens one ``workflow`` span under it; each node run becomes a child observation named by
  the node's title. Nodes with a chat model (LLM, Question Classifier) are generations with the
  model name from the node's settings and token usage but no cost (Langfuse prices them); the
  rest are spans. A failed node and the workflow span are level ERROR and both carry the
  workflow's error as status message. Dify sets no environment, so the project sees
  ``default``. Workflow apps (trace ``workflow``, nodes at the top) and basic agent apps (trace
  ``message`` with an ``llm`` generation and one span per tool) are recorded alike; this project
  runs one chatflow. Its HTTP Request node ``Order Status API`` calls the shop's ERP through
  Dify's SSRF proxy, whose exhausted retries read ``Reached maximum retries (3) for URL ...``.
* ``AgentExecutor``: a Flowise Tool Agent, traced by Flowise's Langfuse analytics (the
  ``langfuse-langchain`` callback handler, session = Flowise chat id, release from the analytics
  settings): trace and root span named after the root LangChain run, ``ChatOpenAI`` generations
  and one span per tool call.
* ``policy-qa``: a Python service on the Langfuse Python SDK v2 low-level API
  (``langfuse.trace()``, ``trace.span()``, ``span.generation(prompt=...)``, ``span.event()``,
  levels, status messages, ``version`` and ``release``), prompt ``policy-answer`` linked to its
  answer generation.
* ``travel-agent``: a LangChain ``AgentExecutor`` (``run_name="travel-agent"``) with tools,
  traced by Langfuse's LangChain ``CallbackHandler`` (SDK v3 over OpenTelemetry: the executor as
  an ``agent`` observation, ``chain``, ``generation`` and ``tool`` observations, errors as level
  ERROR with the exception text).

Dify, Flowise and the v2 SDK write through Langfuse's ingestion API, not OpenTelemetry, so their
observations carry only the metadata the platform sends (:meth:`LowcodeData.double` serves them
so); only SPAN, GENERATION and EVENT exist on that path.

Traffic: ~1,300 traces a weekday on a European working day (UTC+1: busy 07-17 UTC, quiet nights),
weekends about half; about 10 % staging (``policy-qa`` and ``travel-agent`` test traffic, a
nightly regression run and load-test bursts). Judges: Langfuse LLM-as-a-judge evaluators
(``hallucination`` 0-1, 1 = hallucinated; ``helpfulness`` 0-1; ``toxicity`` 0-1) on 15-25 % of
traces, annotation-queue scores against score configs (``quality`` 1-5, ``answer_correct``
boolean) on about 1.5 % of production traces, and ``user-feedback`` thumbs from the two in-house
apps.

Incidents (:class:`blind_data.Incident`), each labelled (:class:`blind_data.Label`):

* ``timeout_surge``: Dify's ``Order Status API`` HTTP node times out ``magnitude`` times as
  often (base 2 % of its runs);
* ``cost_spike``: the Flowise agent's ChatOpenAI node is switched from ``gpt-4.1-mini`` to a
  dearer model picked so that cost per request rises about ``magnitude``-fold (``o4-mini`` ~3x,
  ``gpt-4.1`` ~5x, ``o3`` ~9x: their reasoning tokens are billed as output);
* ``hallucination_spike``: prompt ``policy-answer`` version 13 ships at the start and is rolled
  back at the end; under it ``policy-qa`` answers the judge calls hallucinated are ``magnitude``
  times as common (base 6 % of judged traces).

Also in every dataset: a benign ``policy-answer`` v12 ships nine days before the last day, Dify's
workflow is republished on Tuesdays, and the in-house apps release weekly.
"""

from __future__ import annotations

import json
import math
import random
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry.trace import SpanKind

from blind_data import BlindData, Incident, Label, _Emitter, _Node, check_incidents, model_prices

__all__ = ["AGENTS", "PRICES", "LowcodeData", "generate"]

AGENTS = ("message", "AgentExecutor", "policy-qa", "travel-agent")
#: production share of each agent's traces
SHARE = {"message": 0.36, "AgentExecutor": 0.20, "policy-qa": 0.29, "travel-agent": 0.15}
WEEKDAY_TRACES = 1180   # production; staging adds ~10 % on top
WEEKEND_FACTOR = 0.5
INGESTION_SCOPE = "langfuse-ingestion-api"

#: Public list prices, USD per 1M tokens (model, input, output).
_PRICE_ROWS = (
    ("gpt-4o-mini", 0.15, 0.60), ("gpt-4.1-mini", 0.40, 1.60), ("gpt-4.1", 2.00, 8.00),
    ("o4-mini", 1.10, 4.40), ("o3", 2.00, 8.00), ("claude-sonnet-4-5", 3.00, 15.00),
)
PRICE_PER_TOKEN = {m: (i / 1e6, o / 1e6) for m, i, o in _PRICE_ROWS}

BASE_HTTP_TIMEOUT_P = 0.02     # Dify "Order Status API" runs that time out
FLIGHTS_TIMEOUT_P = 0.03       # travel-agent search_flights calls that time out
BASE_HALLUCINATION_P = 0.06    # policy-qa answers judged hallucinated
BASE_UNHELPFUL_P = 0.08
INCIDENT_PROMPT_VERSION = 13
TIMEOUT_NODE = "Order Status API"
ERP_URL = "https://erp.northwind-shop.eu/api/v2/orders/status"


def _prices() -> tuple[Any, ...]:
    rows = []
    for model, inp, outp in _PRICE_ROWS:
        provider = r"(anthropic/)?" if model.startswith("claude") else r"(openai/)?"
        suffix = r"(-\d{8})?" if model.startswith("claude") else r"(-\d{4}-\d{2}-\d{2})?"
        rows.append((model, inp, outp, rf"(?i)^{provider}({re.escape(model)}){suffix}$"))
    return model_prices(rows)


PRICES = _prices()

SCORE_CONFIGS = [
    {"id": "cfg-quality-1to5", "name": "quality", "dataType": "NUMERIC", "minValue": 1,
     "maxValue": 5, "description": "Reviewer's overall answer quality, 1 (unusable) to 5"},
    {"id": "cfg-answer-correct", "name": "answer_correct", "dataType": "BOOLEAN",
     "categories": [{"label": "True", "value": 1}, {"label": "False", "value": 0}],
     "description": "Reviewer: the answer is factually correct"},
]


class LowcodeData(BlindData):
    """:class:`BlindData` whose double stores ingestion-API observations as that path does."""

    def double(self, **kwargs: Any) -> Any:
        from tests.doubles import LangfuseDouble
        from tests.doubles import langfuse_ingest as ingest

        kwargs.setdefault("score_configs", self.score_configs)
        records = ingest.ingest(self.spans, self.prices)
        for r in records:
            md = r["metadata"]["metadata"]
            if md.get("scope.name") == INGESTION_SCOPE:
                r["metadata"]["metadata"] = {k: v for k, v in md.items()
                                             if not k.startswith(("scope.", "resourceAttributes."))}
        return LangfuseDouble(records, self.scores, **kwargs)


def _cost(model: str, inp: int, out: int) -> float:
    base = re.sub(r"-\d{4}-\d{2}-\d{2}$|-\d{8}$", "", model)
    pi, po = PRICE_PER_TOKEN[base]
    return inp * pi + out * po


def _ln(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hour_weights() -> np.ndarray:
    """Traffic per UTC hour of a European (UTC+1) working day: quiet nights, a lunch dip."""
    w = np.array([0.6, 0.4, 0.3, 0.3, 0.4, 0.9, 2.0, 4.5, 7.5, 8.8, 9.0, 8.6, 7.2, 8.0, 8.8,
                  8.6, 7.6, 5.8, 4.2, 3.4, 2.8, 2.0, 1.3, 0.9])
    return w / w.sum()


@dataclass
class _Ctx:
    rng: random.Random
    t0: float
    env: str
    user: str
    session: str
    week: int
    http_timeout_p: float = BASE_HTTP_TIMEOUT_P
    flowise_model: str = "gpt-4.1-mini"
    prompt_version: int = 11
    hallucination_p: float = BASE_HALLUCINATION_P


# ---- Dify chatflow ------------------------------------------------------------------------------

_DIFY_RATE_LIMIT = ("[openai] Rate Limit Error, Error code: 429 - {'error': {'message': 'Rate "
                    "limit reached for gpt-4.1-mini in organization org-northwind on tokens per "
                    "min (TPM): Limit 2000000, Used 1998231, Requested 2876.', 'type': 'tokens', "
                    "'param': None, 'code': 'rate_limit_exceeded'}}")


def _dify_version(t: float, first: float) -> str:
    """Dify stores a published workflow's version as its publish time; republished Tuesdays."""
    day = pd.Timestamp(t, unit="s", tz="UTC")
    tues = day.normalize() - pd.Timedelta(days=(day.day_of_week - 1) % 7) + pd.Timedelta(hours=8,
                                                                                        minutes=41)
    if tues > day:
        tues -= pd.Timedelta(days=7)
    return (tues + pd.Timedelta(seconds=17.482113)).strftime("%Y-%m-%d %H:%M:%S.%f")


def _dify(c: _Ctx, first: float) -> tuple[_Node, dict[str, Any]]:
    rng, t = c.rng, c.t0
    app_id = "6f1c2f0e-8a4b-4d52-9b0e-2f7b5c1d9e31"
    run_id = _uuid(rng)
    message_id = _uuid(rng)
    meta_common = {"tenant_id": "b3a7d0c2-51e4-4f1b-8d6e-0c9a4f2e7b18", "app_id": app_id}

    def node(title: str, ntype: str, start: float, dur: float, status: str = "succeeded",
             extra: dict[str, Any] | None = None) -> _Node:
        attrs: dict[str, Any] = {"langfuse.observation.type": "span"}
        md = {**meta_common, "workflow_run_id": run_id, "node_execution_id": _uuid(rng),
              "node_name": title, "node_type": ntype, "status": status, **(extra or {})}
        for k, v in md.items():
            attrs[f"langfuse.observation.metadata.{k}"] = v
        if status != "succeeded":
            attrs["langfuse.observation.level"] = "ERROR"
        return _Node(title, start, start + dur, attrs, scope=INGESTION_SCOPE)

    def llm(title: str, ntype: str, start: float, model: str, inp: int, out: int,
            dur: float) -> _Node:
        cost = _cost(model, inp, out)
        n = node(title, ntype, start, dur, extra={
            "total_tokens": inp + out, "total_price": f"{cost:.7f}", "currency": "USD",
            "model_provider": "langgenius/openai/openai", "model_name": model})
        n.attrs.update({
            "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": model,
            "langfuse.observation.usage_details": json.dumps(
                {"input": inp, "output": out, "total": inp + out}),
        })
        return n

    children: list[_Node] = []
    t += 0.003
    children.append(node("Start", "start", t, 0.004))
    t += 0.01
    ci, co = int(rng.uniform(420, 700)), int(rng.uniform(8, 20))
    d = _ln(rng, 0.7, 0.3)
    children.append(llm("Question Classifier", "question-classifier", t, "gpt-4o-mini", ci, co,
                        d))
    cost = _cost("gpt-4o-mini", ci, co)
    t += d + 0.005
    error: str | None = None
    failed_node: _Node | None = None
    timeout = False
    order = rng.random() < 0.45
    if order:
        timeout = rng.random() < c.http_timeout_p
        if timeout:  # 4 attempts at a 10 s read timeout, backoff 0.2/0.4/0.8 s
            d = 4 * 10.0 + 1.4 + rng.uniform(0.01, 0.2)
            error = f"Reached maximum retries (3) for URL {ERP_URL}"
            failed_node = node(TIMEOUT_NODE, "http-request", t, d, status="failed")
            children.append(failed_node)
        else:
            d = _ln(rng, 0.45, 0.5)
            children.append(node(TIMEOUT_NODE, "http-request", t, d))
        t += d + 0.004
    else:
        d = _ln(rng, 0.35, 0.35)
        children.append(node("Knowledge Retrieval", "knowledge-retrieval", t, d))
        t += d + 0.004
    if error is None:
        inp = int(rng.uniform(1400, 2600) if not order else rng.uniform(900, 1600))
        out = int(rng.uniform(180, 450))
        d = 0.5 + out / _ln(rng, 85.0, 0.2)
        if rng.random() < 0.004:
            error = _DIFY_RATE_LIMIT
            d = rng.uniform(0.3, 1.0)
            failed_node = node("LLM", "llm", t, d, status="failed", extra={
                "model_provider": "langgenius/openai/openai", "model_name": "gpt-4.1-mini"})
            children.append(failed_node)
        else:
            children.append(llm("LLM", "llm", t, "gpt-4.1-mini", inp, out, d))
            cost += _cost("gpt-4.1-mini", inp, out)
        t += d + 0.003
    if error is None:
        children.append(node("Answer", "answer", t, 0.002))
        t += 0.01
    for ch in children:
        if ch is failed_node or ch.attrs.get("langfuse.observation.level") == "ERROR":
            ch.attrs["langfuse.observation.status_message"] = error or ""
    root_attrs: dict[str, Any] = {
        "langfuse.observation.type": "span",
        "langfuse.trace.name": "message",
        "user.id": c.user, "session.id": c.session,
        "langfuse.trace.tags": ["message", "workflow"],
        "langfuse.version": _dify_version(c.t0, first),
        "langfuse.observation.input": json.dumps({"sys.query": "Where is my order?"}),
    }
    md = {**meta_common, "workflow_id": "0d5e8a3b-77c1-4e0a-a5f4-1b2c3d4e5f60",
          "workflow_run_id": run_id, "message_id": message_id, "conversation_id": c.session,
          "user_id": c.user, "workflow_app_log_id": None}
    for k, v in md.items():
        if v is not None:
            root_attrs[f"langfuse.trace.metadata.{k}"] = v
            root_attrs[f"langfuse.observation.metadata.{k}"] = v
    if error is not None:
        root_attrs["langfuse.observation.level"] = "ERROR"
        root_attrs["langfuse.observation.status_message"] = error
    root = _Node("workflow", c.t0, t, root_attrs, scope=INGESTION_SCOPE, children=children)
    return root, {"cost": cost, "error": error is not None, "timeout": timeout}


# ---- Flowise Tool Agent -------------------------------------------------------------------------

_FLOWISE_TOOLS = (("order_lookup", 0.30, 0.5), ("shipping_quote", 0.55, 0.4),
                  ("calculator", 0.01, 0.3))


def _flowise_usage(model: str, rng: random.Random, inp: int, out: int) -> tuple[int, int]:
    """Tokens billed: reasoning models add hidden reasoning tokens to the completion."""
    if model == "o4-mini":
        return inp, out + int(rng.uniform(10, 60))
    if model == "o3":
        return inp, out + int(rng.uniform(200, 480))
    return inp, out


def _flowise(c: _Ctx) -> tuple[_Node, dict[str, Any]]:
    rng, t = c.rng, c.t0
    model = c.flowise_model
    scope = INGESTION_SCOPE
    root = _Node("AgentExecutor", t, t, {
        "langfuse.observation.type": "span", "langfuse.trace.name": "AgentExecutor",
        "session.id": c.session, "langfuse.release": "storefront-assistant@14",
        "langfuse.environment": c.env,
        "langfuse.observation.input": json.dumps({"input": "How much is shipping to Lyon?"}),
    }, scope=scope)
    steps = rng.choice([1, 2, 2, 2, 3])
    cost, error = 0.0, False
    t += 0.02
    history = 0
    for i in range(steps + 1):
        final = i == steps
        inp = int(rng.uniform(700, 1100)) + history
        out = int(rng.uniform(25, 60)) if not final else int(rng.uniform(120, 320))
        inp, billed_out = _flowise_usage(model, rng, inp, out)
        speed = 70.0 if model in ("gpt-4.1-mini", "gpt-4.1") else 45.0
        d = 0.35 + billed_out / _ln(rng, speed, 0.25)
        gen = _Node("ChatOpenAI", t, t + d, {
            "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": model,
            "langfuse.observation.model.parameters": json.dumps(
                {"temperature": 0.2 if not model.startswith("o") else 1, "max_tokens": 1024,
                 "streaming": True}),
            "langfuse.observation.usage_details": json.dumps(
                {"input": inp, "output": billed_out, "total": inp + billed_out}),
        }, scope=scope)
        if rng.random() < 0.003:
            gen.end = t + rng.uniform(0.2, 0.8)
            gen.attrs.pop("langfuse.observation.usage_details")
            msg = (f"429 Rate limit reached for {model} in organization org-northwind on "
                   "requests per min (RPM): Limit 5000, Used 5000, Requested 1.")
            gen.attrs["langfuse.observation.level"] = "ERROR"
            gen.attrs["langfuse.observation.status_message"] = msg
            root.attrs["langfuse.observation.level"] = "ERROR"
            root.attrs["langfuse.observation.status_message"] = msg
            root.children.append(gen)
            t = gen.end
            error = True
            break
        root.children.append(gen)
        cost += _cost(model, inp, billed_out)
        t = gen.end + 0.01
        history += out + 150
        if final:
            break
        name, median, sigma = rng.choice(_FLOWISE_TOOLS)
        d = _ln(rng, median, sigma)
        root.children.append(_Node(name, t, t + d, {"langfuse.observation.type": "span"},
                                   scope=scope))
        t += d + 0.01
    root.end = t + 0.01
    return root, {"cost": cost, "error": error, "timeout": False}


# ---- policy-qa: Langfuse Python SDK v2 low-level API ------------------------------------------------

_OVERLOADED = ("Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', "
               "'message': 'Overloaded'}}")


def _policy(c: _Ctx) -> tuple[_Node, dict[str, Any]]:
    rng, t = c.rng, c.t0
    scope = INGESTION_SCOPE
    release = f"2026.{c.week}.{1 + (c.week * 7) % 3}"
    root = _Node("handle-question", t, t, {
        "langfuse.observation.type": "span", "langfuse.trace.name": "policy-qa",
        "user.id": c.user, "session.id": c.session, "langfuse.release": release,
        "langfuse.version": "rag-v3", "langfuse.environment": c.env,
        "langfuse.trace.tags": ["policy", rng.choice(["web", "web", "app", "partner-portal"])],
        "langfuse.trace.metadata.product_line": rng.choice(["home", "motor", "travel", "pet"]),
        "langfuse.observation.input": json.dumps({"question": "Am I covered for storm damage?"}),
    }, scope=scope)
    t += 0.005
    if rng.random() < 0.03:
        root.children.append(_Node("pii-redaction", t, t, {
            "langfuse.observation.type": "event", "langfuse.observation.level": "WARNING",
            "langfuse.observation.status_message": "PII detected in question; 1 entity redacted",
            "langfuse.observation.metadata.entity_types": "IBAN"}, scope=scope))
    d = _ln(rng, 0.32, 0.35)
    root.children.append(_Node("retrieve-policies", t, t + d, {
        "langfuse.observation.type": "span", "langfuse.version": "rag-v3",
        "langfuse.observation.metadata.top_k": 8,
        "langfuse.observation.metadata.index": "policies-2026-11"}, scope=scope))
    t += d
    d = _ln(rng, 0.18, 0.3)
    root.children.append(_Node("rerank", t, t + d, {
        "langfuse.observation.type": "span", "langfuse.version": "rag-v3",
        "langfuse.observation.metadata.model": "rerank-v3.5"}, scope=scope))
    t += d + 0.01
    inp, out = int(rng.uniform(2200, 4200)), int(rng.uniform(160, 480))
    d = 0.8 + out / _ln(rng, 60.0, 0.2)
    model = "claude-sonnet-4-5-20250929"
    gen = _Node("answer", t, t + d, {
        "langfuse.observation.type": "generation", "langfuse.version": "rag-v3",
        "langfuse.observation.model.name": model,
        "langfuse.observation.model.parameters": json.dumps({"max_tokens": 1024,
                                                             "temperature": 0.0}),
        "langfuse.observation.usage_details": json.dumps({"input": inp, "output": out,
                                                          "total": inp + out}),
        "langfuse.observation.prompt.name": "policy-answer",
        "langfuse.observation.prompt.version": c.prompt_version,
    }, scope=scope)
    failed = rng.random() < 0.006
    if failed:
        gen.end = t + rng.uniform(0.5, 2.0)
        gen.attrs.pop("langfuse.observation.usage_details")
        for n in (gen, root):
            n.attrs["langfuse.observation.level"] = "ERROR"
            n.attrs["langfuse.observation.status_message"] = _OVERLOADED
    root.children.append(gen)
    root.end = gen.end + rng.uniform(0.005, 0.03)
    return root, {"cost": 0.0 if failed else _cost(model, inp, out), "error": failed,
                  "timeout": False}


# ---- travel-agent: LangChain AgentExecutor through Langfuse's CallbackHandler (SDK v3) --------------

_TOOLS = {"search_flights": (1.6, 0.5), "get_weather": (0.35, 0.4),
          "convert_currency": (0.2, 0.3)}
_FLIGHTS_TIMEOUT = ("HTTPSConnectionPool(host='api.skyroutes.example', port=443): Read timed out. "
                    "(read timeout=15)")


def _travel(c: _Ctx) -> tuple[_Node, dict[str, Any]]:
    rng, t = c.rng, c.t0
    scope = "langfuse-sdk@3.6.2"
    common = {"langfuse.environment": c.env, "langfuse.release": f"travel-{c.week}.0"}
    root = _Node("travel-agent", t, t, {
        **common, "langfuse.observation.type": "agent", "user.id": c.user,
        "session.id": c.session, "langfuse.trace.tags": ["travel"],
        "langfuse.observation.metadata.is_langchain_root": True,
        "langfuse.observation.input": json.dumps({"input": "Flights to Porto next Friday?"}),
    }, scope=scope)
    t += 0.01
    steps = rng.choice([1, 2, 2, 3, 3, 4])
    model = "gpt-4.1-mini-2025-04-14"
    cost, error, timeout = 0.0, False, False
    history = 0
    for i in range(steps + 1):
        final = i == steps
        inp = int(rng.uniform(1100, 1600)) + history
        out = int(rng.uniform(30, 90)) if not final else int(rng.uniform(150, 400))
        d = 0.45 + out / _ln(rng, 80.0, 0.25)
        seq = _Node("RunnableSequence", t, t + d + 0.02, {
            **common, "langfuse.observation.type": "chain"}, scope=scope)
        seq.children.append(_Node("ChatOpenAI", t + 0.01, t + 0.01 + d, {
            **common, "langfuse.observation.type": "generation",
            "langfuse.observation.model.name": model,
            "langfuse.observation.model.parameters": json.dumps({"temperature": 0.0}),
            "langfuse.observation.usage_details": json.dumps(
                {"input": inp, "output": out, "total": inp + out}),
            "langfuse.observation.metadata.ls_provider": "openai",
            "langfuse.observation.metadata.ls_model_name": "gpt-4.1-mini",
            "langfuse.observation.metadata.ls_model_type": "chat"}, scope=scope))
        root.children.append(seq)
        cost += _cost(model, inp, out)
        t = seq.end + 0.005
        history += out + 220
        if final:
            break
        name = rng.choice(list(_TOOLS))
        median, sigma = _TOOLS[name]
        tool = _Node(name, t, t, {**common, "langfuse.observation.type": "tool"}, scope=scope)
        if name == "search_flights" and rng.random() < FLIGHTS_TIMEOUT_P:
            tool.end = t + 15.0 + rng.uniform(0.01, 0.3)
            tool.attrs["langfuse.observation.level"] = "ERROR"
            tool.attrs["langfuse.observation.status_message"] = _FLIGHTS_TIMEOUT
            root.attrs["langfuse.observation.level"] = "ERROR"
            root.attrs["langfuse.observation.status_message"] = _FLIGHTS_TIMEOUT
            root.children.append(tool)
            t = tool.end
            error = timeout = True
            break
        tool.end = t + _ln(rng, median, sigma)
        root.children.append(tool)
        t = tool.end + 0.005
    root.end = t + 0.01
    return root, {"cost": cost, "error": error, "timeout": timeout}


# ---- scores -------------------------------------------------------------------------------------

def _score(rng: random.Random, trace_id: str, ts: float, name: str, value: float | None,
           data_type: str, source: str, env: str, string_value: str | None = None
           ) -> dict[str, Any]:
    return {"score_id": _uuid(rng), "trace_id": trace_id, "observation_id": None,
            "timestamp": pd.Timestamp(ts, unit="s", tz="UTC"), "name": name, "value": value,
            "string_value": string_value, "data_type": data_type, "source": source,
            "environment": env}


def _judge_value(rng: random.Random, bad: bool, higher_is_bad: bool) -> float:
    """Langfuse's evaluator templates answer a 0-1 score, usually at round steps."""
    v = rng.choice([0.7, 0.8, 0.9, 1.0]) if bad else rng.choice([0.0, 0.0, 0.0, 0.1, 0.1, 0.2])
    return v if higher_is_bad else round(1.0 - v, 1)


def _office_time(rng: random.Random, after: float) -> float:
    """When a reviewer in the annotation queue gets to it: a later working hour (UTC+1)."""
    ts = pd.Timestamp(after, unit="s", tz="UTC") + pd.Timedelta(hours=rng.uniform(1, 40))
    while ts.day_of_week >= 5 or not 8 <= ts.hour < 16:
        ts += pd.Timedelta(hours=1)
    return ts.timestamp()


def _scores_for(rng: random.Random, agent: str, tid: str, end: float, env: str,
                info: dict[str, Any], c: _Ctx) -> tuple[list[dict[str, Any]], bool, Any]:
    out: list[dict[str, Any]] = []
    rate = {"message": 0.18, "AgentExecutor": 0.15, "policy-qa": 0.22,
            "travel-agent": 0.20}[agent]
    if info["error"] or rng.random() >= rate:
        scored, bad = False, None
    else:
        scored = True
        lag = end + rng.uniform(60, 1800)
        if agent == "policy-qa":
            bad = rng.random() < c.hallucination_p
            out.append(_score(rng, tid, lag, "hallucination", _judge_value(rng, bad, True),
                              "NUMERIC", "EVAL", env))
            out.append(_score(rng, tid, lag + rng.uniform(1, 20), "helpfulness",
                              _judge_value(rng, bad or rng.random() < 0.04, False),
                              "NUMERIC", "EVAL", env))
        elif agent == "AgentExecutor":
            bad = rng.random() < 0.01
            out.append(_score(rng, tid, lag, "toxicity", _judge_value(rng, bad, True),
                              "NUMERIC", "EVAL", env))
        else:
            bad = rng.random() < BASE_UNHELPFUL_P
            out.append(_score(rng, tid, lag, "helpfulness", _judge_value(rng, bad, False),
                              "NUMERIC", "EVAL", env))
    hallucinated = agent == "policy-qa" and bool(bad) if scored else (
        agent == "policy-qa" and rng.random() < c.hallucination_p)
    if env == "production" or env == "default":
        if not info["error"] and rng.random() < 0.015:
            at = _office_time(rng, end)
            poor = hallucinated or (bool(bad) and scored)
            q = rng.choice([1, 2]) if poor else rng.choice([3, 4, 4, 5, 5])
            out.append(_score(rng, tid, at, "quality", float(q), "NUMERIC", "ANNOTATION", env))
            out.append(_score(rng, tid, at + rng.uniform(2, 30), "answer_correct",
                              0.0 if poor else 1.0, "BOOLEAN", "ANNOTATION", env,
                              "False" if poor else "True"))
        if agent in ("policy-qa", "travel-agent") and rng.random() < 0.05:
            down = info["error"] or hallucinated or rng.random() < 0.15
            out.append(_score(rng, tid, end + rng.uniform(5, 240), "user-feedback",
                              0.0 if down else 1.0, "BOOLEAN", "API", env,
                              "False" if down else "True"))
    return out, scored, bad


def _stamp_environment(node: _Node, env: str) -> None:
    node.attrs["langfuse.environment"] = env
    for child in node.children:
        _stamp_environment(child, env)


# ---- generate -----------------------------------------------------------------------------------

_RUNBOOKS = {"timeout_surge": ("message", "tool", TIMEOUT_NODE),
             "cost_spike": ("AgentExecutor", "model", None),
             "hallucination_spike": ("policy-qa", "prompt_version",
                                     str(INCIDENT_PROMPT_VERSION))}


def _dearer_model(magnitude: float) -> str:
    """The Flowise model switch whose cost per request is nearest ``magnitude`` x gpt-4.1-mini."""
    return min((("o4-mini", 3.0), ("gpt-4.1", 5.0), ("o3", 9.0)),
               key=lambda m: abs(math.log(m[1] / magnitude)))[0]


def _label(inc: Incident) -> Label:
    agent, dim, value = _RUNBOOKS[inc.runbook]
    start, end = inc.window()
    if inc.runbook == "cost_spike":
        value = _dearer_model(inc.magnitude)
    within = {"prompt": "policy-answer"} if dim == "prompt_version" else {"agent": agent}
    return Label(inc.runbook, start, end, agent, dim, str(value), within, inc.magnitude)


def _staging_times(rng: random.Random, day: pd.Timestamp, scale: float) -> list[float]:
    """Staging: scattered developer traffic, a nightly regression run at 02:00 UTC and, on some
    weekdays, a load-test burst; developer traffic and bursts ``scale`` times the usual, the
    regression suite a fixed 40 cases."""
    base = day.timestamp()
    weekday = day.day_of_week < 5
    hw = _hour_weights()
    out = []
    n = int(rng.gauss(60 if weekday else 8, 6 if weekday else 3) * scale)
    for _ in range(max(n, 0)):
        h = int(np.searchsorted(np.cumsum(hw), rng.random()))
        out.append(base + min(h, 23) * 3600 + rng.uniform(0, 3600))
    start = base + 2 * 3600
    for i in range(40):  # the regression suite, one case every ~20 s
        out.append(start + i * 20 + rng.uniform(0, 5))
    if weekday and rng.random() < 0.35:
        b = base + rng.uniform(9, 16) * 3600
        out.extend(b + rng.uniform(0, 1500) for _ in range(int(rng.uniform(80, 160) * scale)))
    return out


def generate(seed: int, end_day: str, days: int = 30,
             incidents: Sequence[Incident] = (), weekday_traces: float = WEEKDAY_TRACES
             ) -> LowcodeData:
    """``days`` days of traffic ending with ``end_day`` (UTC), ``incidents`` injected,
    ``weekday_traces`` production traces expected on a weekday (staging scales with it)."""
    incidents = list(incidents)
    check_incidents(incidents, days)
    if not weekday_traces > 0:
        raise ValueError(f"weekday_traces must be > 0, got {weekday_traces!r}")
    scale = weekday_traces / WEEKDAY_TRACES
    rng = random.Random(seed)
    em = _Emitter(random.Random(seed * 7919 + 1))
    end = pd.Timestamp(end_day, tz="UTC")
    first = end - pd.Timedelta(days=days - 1)
    benign_ship = (end - pd.Timedelta(days=9) + pd.Timedelta(hours=10)).timestamp()
    windows = {inc.runbook: tuple(w.timestamp() for w in inc.window()) for inc in incidents}
    labels = [_label(inc) for inc in incidents]
    magnitude = {inc.runbook: inc.magnitude for inc in incidents}
    resources = {
        "message": {"service.name": "dify-api", "telemetry.sdk.language": "python"},
        "AgentExecutor": {"service.name": "flowise", "telemetry.sdk.language": "nodejs"},
        "policy-qa": {"service.name": "policy-qa", "telemetry.sdk.language": "python"},
        "travel-agent": {"service.name": "travel-agent", "telemetry.sdk.language": "python"},
    }
    users = {a: [f"{a[:3]}-user-{i:04d}" for i in range(n)]
             for a, n in (("message", 900), ("AgentExecutor", 500), ("policy-qa", 700),
                          ("travel-agent", 350))}
    users["message"] = [str(uuid.UUID(int=random.Random(i).getrandbits(128), version=4))
                        for i in range(900)]
    hw = np.cumsum(_hour_weights())
    turns = {"message": 2.4, "AgentExecutor": 1.8, "policy-qa": 1.6, "travel-agent": 2.0}
    plan: list[tuple[float, str, str, str, str]] = []   # start, agent, env, user, session

    def conversation(start: float, agent: str, env: str, one_turn: bool = False) -> None:
        """A session: its turns 20-150 s apart (mean turns per agent), one user."""
        user = rng.choice(users[agent][: 60 if env == "staging" else None])
        session = _uuid(rng) if agent in ("message", "AgentExecutor") else \
            f"sess-{agent[:3]}-{rng.getrandbits(48):012x}"
        k = 1
        while not one_turn and rng.random() > 1.0 / turns[agent]:
            k += 1
        ts = start
        for _ in range(k):
            plan.append((ts, agent, "default" if agent == "message" else env, user, session))
            ts += rng.uniform(20, 150)

    for day in pd.date_range(first, end, freq="D"):
        n = weekday_traces * (WEEKEND_FACTOR if day.day_of_week >= 5 else 1.0)
        n = n * rng.uniform(0.93, 1.07)
        base = day.timestamp()
        for a, share in SHARE.items():
            for _ in range(int(n * share / turns[a])):
                h = min(int(np.searchsorted(hw, rng.random())), 23)
                conversation(base + h * 3600 + rng.uniform(0, 3600), a, "production")
        for ts in _staging_times(rng, day, scale):
            conversation(ts, rng.choice(["policy-qa", "policy-qa", "travel-agent"]), "staging",
                         one_turn=True)
    plan.sort()
    truth: list[dict[str, Any]] = []
    score_rows: list[dict[str, Any]] = []
    for ts, agent, env, user, session in plan:
        week = int(pd.Timestamp(ts, unit="s", tz="UTC").isocalendar().week)
        c = _Ctx(rng=rng, t0=ts, env=env, user=user, session=session, week=week)
        c.prompt_version = 12 if ts >= benign_ship else 11

        def inside(rb: str) -> bool:
            w = windows.get(rb)
            return w is not None and w[0] <= ts < w[1]

        if env != "staging":
            if inside("timeout_surge"):
                c.http_timeout_p = min(BASE_HTTP_TIMEOUT_P * magnitude["timeout_surge"], 1.0)
            if inside("cost_spike"):
                c.flowise_model = _dearer_model(magnitude["cost_spike"])
            if inside("hallucination_spike"):
                c.prompt_version = INCIDENT_PROMPT_VERSION
                c.hallucination_p = min(BASE_HALLUCINATION_P * magnitude["hallucination_spike"],
                                        1.0)
        if agent == "message":
            root, info = _dify(c, first.timestamp())
        elif agent == "AgentExecutor":
            root, info = _flowise(c)
        elif agent == "policy-qa":
            root, info = _policy(c)
        else:
            root, info = _travel(c)
        if agent in ("AgentExecutor", "policy-qa"):  # the SDK client stamps every event
            _stamp_environment(root, env)
        root.kind = SpanKind.SERVER if agent != "travel-agent" else SpanKind.INTERNAL
        span = em.emit(agent, resources[agent], root)
        tid = format(span.context.trace_id, "032x")
        rows, scored, bad = _scores_for(rng, agent, tid, root.end, env, info, c)
        score_rows.extend(rows)
        truth.append({"trace_id": tid, "agent": agent, "start": ts,
                      "duration_s": root.end - root.start, "timeout": info["timeout"],
                      "error": info["error"], "cost": info["cost"], "scored": scored,
                      "bad": bad})
    t = pd.DataFrame(truth, columns=["trace_id", "agent", "start", "duration_s", "timeout",
                                     "error", "cost", "scored", "bad"])
    t["start"] = pd.to_datetime(t["start"], unit="s", utc=True)
    t["bad"] = t["bad"].astype(object)
    scores = pd.DataFrame(score_rows, columns=[
        "score_id", "trace_id", "observation_id", "timestamp", "name", "value", "string_value",
        "data_type", "source", "environment"])
    scores = scores.sort_values(["timestamp", "score_id"], kind="stable").reset_index(drop=True)
    return LowcodeData(spans=em.spans(), scores=scores, labels=labels, truth=t,
                       prices=PRICES, score_configs=[dict(c) for c in SCORE_CONFIGS])
