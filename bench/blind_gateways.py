"""A third independent blind dataset: agents wired to Langfuse through gateways and SDKs the
other two datasets do not use, with a B2B traffic shape and judges on their own scales.

Written from the public documentation and source of each library, not from the detectors:

- ``invoice-copilot`` (Python): a LiteLLM ``Router`` with the ``langfuse_otel`` callback. The
  app's own spans follow the OpenTelemetry GenAI conventions (``invoke_agent`` /
  ``execute_tool``); LiteLLM adds one ``litellm_request`` span per completion (scope
  ``litellm``, OpenInference attributes: ``openinference.span.kind`` LLM, ``llm.model_name``,
  ``llm.provider``, ``llm.token_count.*``) with the Langfuse metadata it maps
  (``langfuse.trace.name``, ``langfuse.generation.name``, ``user.id``, ``session.id``,
  ``langfuse.trace.tags``). The primary deployment is ``azure/gpt-4o-mini``; the router falls
  back to ``openai/gpt-4o`` when Azure refuses (the cost spike). Provider timeouts surface as
  ``litellm.Timeout`` and are retried.
- ``helpdesk-agent`` (TypeScript): the Langfuse JS/TS SDK v4 (``@langfuse/tracing``, scope
  ``langfuse-sdk``): ``startActiveObservation`` with ``asType`` agent / tool / generation,
  ``langfuse.observation.*`` attributes, generations linked to the managed prompt
  ``helpdesk-reply`` (a new version is the hallucination spike). Its ``create_ticket`` tool goes
  through an API gateway that answers HTTP 504 when the ticketing backend is slow (the timeout
  surge).
- ``policy-rag`` (Python): LlamaIndex through OpenInference
  (``openinference.instrumentation.llama_index``): query CHAIN, RETRIEVER with
  ``retrieval.documents``, EMBEDDING, LLM spans.

Traffic: EU business hours (07:00-17:00 UTC), weekends near zero for the two B2B agents.
Judges: ``faithfulness`` NUMERIC 1-5 (Likert, LLM-as-a-judge, bad <= 2) on 25 % of helpdesk
traces; ``answer_support`` CATEGORICAL (supported / partially_supported / unsupported) from an
offline pipeline on 15 % of policy-rag traces; ``hallucination`` BOOLEAN from a guardrail on 10 %
of invoice-copilot traces. Scores arrive tens of seconds to minutes after the trace ends.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from blind_data import (BlindData, Incident, Label, SeededIds, check_incidents, model_prices,
                        ns_micros)

__all__ = ["AGENTS", "PRICES", "generate"]

AGENTS = ("invoice-copilot", "helpdesk-agent", "policy-rag")
#: traces on a weekday, and the weekend share of it
VOLUME = {"invoice-copilot": 360, "helpdesk-agent": 560, "policy-rag": 280}
WEEKEND = {"invoice-copilot": 0.03, "helpdesk-agent": 0.12, "policy-rag": 0.04}
#: relative traffic per UTC hour: EU office hours, a lunch dip at 11-12 UTC
HOURLY = np.array([0.02, 0.01, 0.01, 0.01, 0.02, 0.05, 0.2, 0.7, 1.0, 1.0, 0.95, 0.8,
                   0.75, 0.95, 1.0, 0.9, 0.7, 0.35, 0.15, 0.08, 0.05, 0.04, 0.03, 0.02])

TICKET_TIMEOUT_P = 0.04     # create_ticket calls answered 504 by the gateway
ERP_TIMEOUT_P = 0.01        # invoice-copilot erp_lookup calls timing out (run fails)
LITELLM_TIMEOUT_P = 0.006   # litellm_request calls raising litellm.Timeout (retried once)
AZURE_REFUSAL_P = 0.01      # Azure deployment refusing (429), the router falls back to gpt-4o
UNFAITHFUL_P = 0.08         # helpdesk answers the judge rates 1 or 2 on faithfulness
UNSUPPORTED_P = 0.07        # policy-rag answers the pipeline labels unsupported
INVOICE_HALLUCINATION_P = 0.03
JUDGED = {"helpdesk-agent": 0.25, "policy-rag": 0.15, "invoice-copilot": 0.10}

REPLY_PROMPT = "helpdesk-reply"
REPLY_VERSION = 7
INCIDENT_REPLY_VERSION = 8
ROUTER_PRIMARY = "azure/gpt-4o-mini"
ROUTER_FALLBACK = "openai/gpt-4o"

LITELLM_VERSION = "1.77.5"
LANGFUSE_JS_VERSION = "4.2.0"
OPENINFERENCE_LLAMA_INDEX_VERSION = "4.3.4"

# Public list prices, USD per 1M tokens (input, output).
_PRICE_ROWS = (("gpt-4o-mini", 0.15, 0.60), ("gpt-4o", 2.50, 10.00), ("gpt-4.1-mini", 0.40, 1.60),
               ("gpt-4.1", 2.00, 8.00))
_USD = {m: (i / 1e6, o / 1e6) for m, i, o in _PRICE_ROWS}


def _prices() -> tuple[Any, ...]:
    """The project's model table in the double's shape. Langfuse's default definitions match
    ``openai/`` prefixes and dated snapshots; the team added ``azure/`` to each pattern so the
    LiteLLM Azure deployment is priced (a custom model definition, as Langfuse documents)."""
    return model_prices(
        (m, i, o, rf"(?i)^(openai/|azure/)?({re.escape(m)})(-\d{{4}}-\d{{2}}-\d{{2}})?$")
        for m, i, o in _PRICE_ROWS)


PRICES = _prices()


def _base(model: str) -> str:
    return re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model.split("/", 1)[-1])


def _cost(model: str, inp: int, out: int) -> float:
    pin, pout = _USD[_base(model)]
    return inp * pin + out * pout


# ---- spans ---------------------------------------------------------------------------------------

class _Emitter:
    """One TracerProvider per service (its resource), spans with explicit times and seeded ids."""

    def __init__(self, seed: int) -> None:
        self.ids = SeededIds(random.Random(seed * 104729 + 17))
        self.exporter = InMemorySpanExporter()
        self.providers: dict[str, TracerProvider] = {}

    def tracer(self, resource: dict[str, Any], scope: str, version: str | None) -> Any:
        key = json.dumps(resource, sort_keys=True)
        if key not in self.providers:
            p = TracerProvider(resource=Resource.create(resource), id_generator=self.ids)
            p.add_span_processor(SimpleSpanProcessor(self.exporter))
            self.providers[key] = p
        return self.providers[key].get_tracer(scope, version)

    def spans(self) -> list[Any]:
        out = list(self.exporter.get_finished_spans())
        for p in self.providers.values():
            p.shutdown()
        return out


def _start(tracer: Any, name: str, t: float, attrs: dict[str, Any], parent: Any = None,
           kind: SpanKind = SpanKind.INTERNAL) -> Any:
    ctx = otel_trace.set_span_in_context(parent) if parent is not None else None
    return tracer.start_span(name, context=ctx, kind=kind, attributes=attrs,
                             start_time=ns_micros(t))


def _end(span: Any, t: float, error: str | None = None, exc: tuple[str, str] | None = None
         ) -> None:
    if exc is not None:
        span.add_event("exception", {"exception.type": exc[0], "exception.message": exc[1]},
                       timestamp=ns_micros(t))
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end(end_time=ns_micros(t))


def _ln(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _tok(rng: random.Random, median: float, sigma: float = 0.35) -> int:
    return max(1, int(_ln(rng, median, sigma)))


class _Trace:
    """What the generator decided for one trace (the truth row)."""

    def __init__(self, agent: str, start: float) -> None:
        self.agent, self.start, self.end = agent, start, start
        self.timeout = self.error = False
        self.cost = 0.0
        self.trace_id = ""
        self.root_id = 0
        self.scored = False
        self.bad: bool | None = None


# ---- invoice-copilot: LiteLLM Router + langfuse_otel ---------------------------------------------

_INVOICE_RES = {"service.name": "invoice-copilot", "service.version": "2.3.1",
                "deployment.environment.name": "production", "telemetry.sdk.language": "python"}
_LITELLM_RES = _INVOICE_RES  # the callback exports through the app's provider (same process)


def _litellm_call(em: _Emitter, parent: Any, t: float, rng: random.Random, tr: _Trace,
                  model: str, gen_name: str, user: str, session: str, inp: int, out: int,
                  fail: tuple[str, str, float] | None = None) -> float:
    """One ``litellm_request`` span; ``fail``: (status description, exception type, seconds)."""
    tracer = em.tracer(_LITELLM_RES, "litellm", None)
    provider = model.split("/", 1)[0]
    attrs: dict[str, Any] = {
        "openinference.span.kind": "LLM", "llm.model_name": model, "llm.provider": provider,
        "llm.request.type": "acompletion", "llm.is_streaming": "False",
        "langfuse.trace.name": "invoice-copilot", "langfuse.generation.name": gen_name,
        "user.id": user, "session.id": session,
        "langfuse.trace.tags": json.dumps(["invoice-copilot", "router"]),
        "metadata": json.dumps({"model_group": "gpt-4o-mini", "deployment": model}),
        "llm.invocation_parameters": json.dumps({"temperature": 0.1, "max_tokens": 800}),
    }
    if fail is None:
        dur = _ln(rng, 0.9 + out / 90.0, 0.3)
        attrs.update({"llm.token_count.prompt": inp, "llm.token_count.completion": out,
                      "llm.token_count.total": inp + out})
        sp = _start(tracer, "litellm_request", t, attrs, parent, SpanKind.CLIENT)
        _end(sp, t + dur)
        tr.cost += _cost(model, inp, out)
        return t + dur
    message, exc_type, dur = fail
    sp = _start(tracer, "litellm_request", t, attrs, parent, SpanKind.CLIENT)
    _end(sp, t + dur, message, (exc_type, message))
    return t + dur


def _invoice(em: _Emitter, rng: random.Random, t0: float, tr: _Trace, fallback_p: float) -> None:
    tracer = em.tracer(_INVOICE_RES, "invoice_copilot.agent", "2.3.1")
    user = f"acct-{rng.randrange(1, 140):04d}"
    session = f"inv-{rng.getrandbits(40):010x}"
    root = _start(tracer, "invoke_agent invoice-copilot", t0, {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "invoice-copilot",
        "gen_ai.system": "litellm", "langfuse.trace.name": "invoice-copilot",
        "user.id": user, "session.id": session}, kind=SpanKind.SERVER)
    ctx = root.get_span_context()
    tr.trace_id, tr.root_id = format(ctx.trace_id, "032x"), ctx.span_id
    t = t0 + _ln(rng, 0.05, 0.4)

    def routed(t: float, name: str, inp: int, out: int) -> float:
        """One completion through the router: a timeout is retried on the same deployment, a
        refusal (429) falls back to the other model group."""
        model = ROUTER_PRIMARY
        if rng.random() < LITELLM_TIMEOUT_P:
            t = _litellm_call(em, root, t, rng, tr, model, name, user, session, inp, out,
                              ("litellm.Timeout: AzureException Timeout - Request timed out. "
                               "timeout=30.0", "litellm.exceptions.Timeout", 30.0))
            t += 1.0  # the router's backoff before its retry
        if rng.random() < fallback_p:
            t = _litellm_call(em, root, t, rng, tr, model, name, user, session, inp, out,
                              ("litellm.RateLimitError: AzureException RateLimitError - Requests "
                               "to the ChatCompletions_Create Operation have exceeded call rate "
                               "limit", "litellm.exceptions.RateLimitError", _ln(rng, 0.3, 0.3)))
            model = ROUTER_FALLBACK
        return _litellm_call(em, root, t, rng, tr, model, name, user, session, inp, out)

    error: str | None = None
    steps = rng.choice((1, 2, 2, 3))
    for step in range(steps):
        t = routed(t, "plan-step", _tok(rng, 2400 if step else 1800), _tok(rng, 180))
        if step < steps - 1 or steps == 1:
            tool = "erp_lookup" if step == 0 else rng.choice(("erp_lookup", "fx_rate"))
            sp = _start(tracer, f"execute_tool {tool}", t, {
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool,
                "gen_ai.tool.type": "function"}, root)
            if tool == "erp_lookup" and rng.random() < ERP_TIMEOUT_P:
                t += 20.0
                msg = "ReadTimeout: timed out after 20.0 s calling erp.internal/invoices"
                _end(sp, t, msg, ("httpx.ReadTimeout", "timed out"))
                tr.timeout = True
                error = "ReadTimeout while looking up the invoice"
                break
            t += _ln(rng, 0.6 if tool == "erp_lookup" else 0.15, 0.5)
            _end(sp, t)
    if error is None:
        t = routed(t, "final-answer", _tok(rng, 2600), _tok(rng, 260))
    t += 0.02
    _end(root, t, error, ("httpx.ReadTimeout", "timed out") if error else None)
    tr.end, tr.error = t, error is not None


# ---- helpdesk-agent: Langfuse JS SDK v4 ------------------------------------------------------------

_HELPDESK_RES = {"service.name": "helpdesk-agent", "service.version": "1.14.0",
                 "deployment.environment.name": "production", "telemetry.sdk.language": "nodejs",
                 "telemetry.sdk.name": "opentelemetry", "process.runtime.name": "nodejs"}


def _lf(obs_type: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    a: dict[str, Any] = {"langfuse.observation.type": obs_type, "langfuse.environment": "production"}
    a.update(extra or {})
    return a


def _helpdesk(em: _Emitter, rng: random.Random, t0: float, tr: _Trace, ticket_p: float,
              version: int) -> None:
    tracer = em.tracer(_HELPDESK_RES, "langfuse-sdk", LANGFUSE_JS_VERSION)
    user = f"u_{rng.getrandbits(32):08x}"
    session = f"conv_{rng.getrandbits(48):012x}"
    root = _start(tracer, "helpdesk-turn", t0, _lf("agent", {
        "langfuse.trace.name": "helpdesk-turn", "user.id": user, "session.id": session,
        "langfuse.trace.tags": ["helpdesk", "web-widget"], "langfuse.release": "1.14.0",
        "langfuse.observation.input": json.dumps({"message": "..."})}))
    ctx = root.get_span_context()
    tr.trace_id, tr.root_id = format(ctx.trace_id, "032x"), ctx.span_id
    t = t0 + _ln(rng, 0.03, 0.5)

    def generation(name: str, inp: int, out: int, prompt: bool) -> None:
        nonlocal t
        model = "gpt-4.1-mini"
        extra = {"langfuse.observation.model.name": model,
                 "langfuse.observation.model.parameters": json.dumps({"temperature": 0.2}),
                 "langfuse.observation.usage_details": json.dumps({"input": inp, "output": out})}
        if prompt:
            extra.update({"langfuse.observation.prompt.name": REPLY_PROMPT,
                          "langfuse.observation.prompt.version": version})
        g = _start(tracer, name, t, _lf("generation", extra), root)
        t += _ln(rng, 0.7 + out / 80.0, 0.3)
        _end(g, t)
        tr.cost += _cost(model, inp, out)

    generation("route-intent", _tok(rng, 900), _tok(rng, 25), False)
    kb = _start(tracer, "kb_search", t, _lf("tool", {"langfuse.observation.metadata.index":
                                                    "zendesk-articles"}), root)
    t += _ln(rng, 0.35, 0.4)
    _end(kb, t)
    if rng.random() < 0.6:
        tk = _start(tracer, "create_ticket", t, _lf("tool"), root)
        if rng.random() < ticket_p:
            t += 29.0 + rng.random()
            tk.set_attribute("langfuse.observation.level", "ERROR")
            tk.set_attribute("langfuse.observation.status_message",
                             "HTTP 504 Gateway Timeout from api-gateway (tickets.create)")
            _end(tk, t, "Request failed with status code 504")
            tr.timeout = True
        else:
            t += _ln(rng, 0.8, 0.4)
            _end(tk, t)
    generation("compose-reply", _tok(rng, 3200), _tok(rng, 220), True)
    t += 0.01
    _end(root, t)
    tr.end = t


# ---- policy-rag: LlamaIndex + OpenInference ---------------------------------------------------------

_POLICY_RES = {"service.name": "policy-rag", "service.version": "0.9.2",
               "deployment.environment": "prod", "telemetry.sdk.language": "python"}


def _policy(em: _Emitter, rng: random.Random, t0: float, tr: _Trace) -> None:
    tracer = em.tracer(_POLICY_RES, "openinference.instrumentation.llama_index",
                       OPENINFERENCE_LLAMA_INDEX_VERSION)
    root = _start(tracer, "RetrieverQueryEngine.query", t0, {
        "openinference.span.kind": "CHAIN", "input.value": "What is the notice period ...?",
        "session.id": f"ws-{rng.getrandbits(32):08x}", "user.id": f"emp-{rng.randrange(900)}"})
    ctx = root.get_span_context()
    tr.trace_id, tr.root_id = format(ctx.trace_id, "032x"), ctx.span_id
    t = t0 + 0.01
    ret = _start(tracer, "VectorIndexRetriever.retrieve", t, {"openinference.span.kind":
                                                             "RETRIEVER"}, root)
    emb = _start(tracer, "OpenAIEmbedding.get_query_embedding", t + 0.005, {
        "openinference.span.kind": "EMBEDDING", "embedding.model_name": "text-embedding-3-small"},
        ret)
    t += _ln(rng, 0.18, 0.3)
    _end(emb, t)
    k = 6
    for i in range(k):
        ret.set_attribute(f"retrieval.documents.{i}.document.id", f"pol-{rng.randrange(4000)}")
        ret.set_attribute(f"retrieval.documents.{i}.document.score", round(0.9 - 0.05 * i, 3))
    t += _ln(rng, 0.12, 0.4)
    _end(ret, t)
    synth = _start(tracer, "CompactAndRefine.get_response", t, {"openinference.span.kind":
                                                                "CHAIN"}, root)
    model = "gpt-4.1-2025-04-14"
    inp, out = _tok(rng, 4200, 0.25), _tok(rng, 300)
    llm = _start(tracer, "OpenAI.chat", t + 0.005, {
        "openinference.span.kind": "LLM", "llm.model_name": model, "llm.provider": "openai",
        "llm.system": "openai", "llm.token_count.prompt": inp,
        "llm.token_count.completion": out, "llm.token_count.total": inp + out,
        "llm.invocation_parameters": json.dumps({"temperature": 0.0, "model": "gpt-4.1"})},
        synth)
    t += _ln(rng, 1.2 + out / 70.0, 0.3)
    _end(llm, t)
    tr.cost += _cost(model, inp, out)
    t += 0.01
    _end(synth, t)
    _end(root, t + 0.005)
    tr.end = t + 0.005


# ---- incidents, judges, assembly ----------------------------------------------------------------

_RUNBOOKS = ("timeout_surge", "cost_spike", "hallucination_spike")


def _windows(incidents: Sequence[Incident]) -> dict[str, tuple[float, float, float]]:
    out: dict[str, tuple[float, float, float]] = {}
    for inc in incidents:
        s, e = inc.window()
        out[inc.runbook] = (s.timestamp(), e.timestamp(), float(inc.magnitude))
    return out


def _inside(w: tuple[float, float, float] | None, t: float) -> bool:
    return w is not None and w[0] <= t < w[1]


def _fallback_share(mag: float) -> float:
    """The share of invoice-copilot completions the router sends to gpt-4o so that the mean
    cost per request is ``mag`` times the usual (all its cost is in routed completions)."""
    ratio = (_USD["gpt-4o"][0] / _USD["gpt-4o-mini"][0])
    return min(1.0, max(AZURE_REFUSAL_P, (mag - 1.0) / (ratio - 1.0)))


def _labels(incidents: Sequence[Incident]) -> list[Label]:
    out = []
    for inc in incidents:
        s, e = inc.window()
        if inc.runbook == "timeout_surge":
            out.append(Label(inc.runbook, s, e, "helpdesk-agent", "tool", "create_ticket",
                             {"agent": "helpdesk-agent"}, float(inc.magnitude)))
        elif inc.runbook == "cost_spike":
            out.append(Label(inc.runbook, s, e, "invoice-copilot", "model", ROUTER_FALLBACK,
                             {"agent": "invoice-copilot"}, float(inc.magnitude)))
        else:
            out.append(Label(inc.runbook, s, e, "helpdesk-agent", "prompt_version",
                             str(INCIDENT_REPLY_VERSION), {"prompt": REPLY_PROMPT},
                             float(inc.magnitude)))
    return out


def _judge(rng: random.Random, tr: _Trace, w_h: tuple[float, float, float] | None,
           scores: list[dict[str, Any]]) -> None:
    if rng.random() >= JUDGED[tr.agent]:
        return
    tr.scored = True
    root = format(tr.root_id, "016x")
    if tr.agent == "helpdesk-agent":
        p = UNFAITHFUL_P * (w_h[2] if _inside(w_h, tr.start) else 1.0)
        bad = rng.random() < min(p, 0.95)
        value = float(rng.choice((1, 2, 2)) if bad else rng.choice((3, 4, 4, 5, 5, 5)))
        row = {"name": "faithfulness", "value": value, "string_value": None,
               "data_type": "NUMERIC", "source": "EVAL", "observation_id": None,
               "lag": _ln(rng, 45.0, 0.5)}
    elif tr.agent == "policy-rag":
        bad = rng.random() < UNSUPPORTED_P
        label = "unsupported" if bad else rng.choice(("supported",) * 4 + ("partially_supported",))
        row = {"name": "answer_support", "value": None, "string_value": label,
               "data_type": "CATEGORICAL", "source": "API", "observation_id": None,
               "lag": _ln(rng, 240.0, 0.4)}
    else:
        bad = rng.random() < INVOICE_HALLUCINATION_P
        row = {"name": "hallucination", "value": 1.0 if bad else 0.0, "string_value": None,
               "data_type": "BOOLEAN", "source": "API", "observation_id": root,
               "lag": _ln(rng, 4.0, 0.4)}
    tr.bad = bad
    lag = row.pop("lag")
    row.update({"score_id": f"sc-{rng.getrandbits(64):016x}", "trace_id": tr.trace_id,
                "timestamp": pd.Timestamp(tr.end + lag, unit="s", tz="UTC"),
                "environment": "production" if tr.agent != "policy-rag" else "prod"})
    scores.append(row)


def _starts(nrng: np.random.Generator, day: pd.Timestamp, agent: str,
            volume: float) -> np.ndarray:
    weekend = day.day_of_week >= 5
    n = nrng.poisson(VOLUME[agent] * volume * (WEEKEND[agent] if weekend else 1.0))
    hours = nrng.choice(24, size=n, p=HOURLY / HOURLY.sum())
    return np.sort(day.timestamp() + hours * 3600.0 + nrng.random(n) * 3600.0)


def generate(seed: int, end_day: str, days: int,
             incidents: Sequence[Incident] = (), volume: float = 1.0) -> BlindData:
    """``days`` whole UTC days ending with ``end_day`` of the three agents' traces and scores,
    with ``incidents`` injected and ``volume`` times the usual traffic (:data:`VOLUME`);
    deterministic for a seed."""
    check_incidents(incidents, days)
    if not volume > 0:
        raise ValueError(f"volume must be > 0, got {volume!r}")
    w = _windows(incidents)
    w_t, w_c, w_h = (w.get(k) for k in _RUNBOOKS)
    end = pd.Timestamp(end_day, tz="UTC").normalize()
    nrng = np.random.default_rng(seed)
    rng = random.Random(seed * 7907 + 3)
    em = _Emitter(seed)
    traces: list[_Trace] = []
    scores: list[dict[str, Any]] = []
    for d in range(days - 1, -1, -1):
        day = end - pd.Timedelta(days=d)
        starts = [(float(s), a) for a in AGENTS for s in _starts(nrng, day, a, volume)]
        for s, agent in sorted(starts):
            tr = _Trace(agent, s)
            if agent == "invoice-copilot":
                fb = _fallback_share(w_c[2]) if _inside(w_c, s) else AZURE_REFUSAL_P
                _invoice(em, rng, s, tr, fb)
            elif agent == "helpdesk-agent":
                tp = TICKET_TIMEOUT_P * (w_t[2] if _inside(w_t, s) else 1.0)
                version = INCIDENT_REPLY_VERSION if _inside(w_h, s) else REPLY_VERSION
                _helpdesk(em, rng, s, tr, min(tp, 0.95), version)
            else:
                _policy(em, rng, s, tr)
            _judge(rng, tr, w_h, scores)
            traces.append(tr)
    truth = pd.DataFrame({
        "trace_id": [t.trace_id for t in traces], "agent": [t.agent for t in traces],
        "start": pd.to_datetime([t.start for t in traces], unit="s", utc=True),
        "duration_s": [t.end - t.start for t in traces],
        "timeout": [t.timeout for t in traces], "error": [t.error for t in traces],
        "cost": [t.cost for t in traces], "scored": [t.scored for t in traces],
        "bad": pd.Series([t.bad for t in traces], dtype=object)})
    cols = ["score_id", "trace_id", "observation_id", "timestamp", "name", "value",
            "string_value", "data_type", "source", "environment"]
    sc = pd.DataFrame(scores, columns=cols) if scores else pd.DataFrame(columns=cols)
    return BlindData(spans=em.spans(), scores=sc, labels=_labels(incidents), truth=truth,
                     prices=PRICES)

