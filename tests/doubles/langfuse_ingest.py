"""OpenTelemetry spans -> the records Langfuse stores, as its OTel ingestion makes them.

An imitation of Langfuse's ``/api/public/otel/v1/traces`` processing (server v4.16,
``OtelIngestionProcessor``/``ObservationTypeMapper``; the facts are in the project's research
notes), so the double serves what a real Langfuse project holds when the same spans were sent to
it: observation type from the mapper chain in its priority order, the name rule, levels with
their aliases and the OTel status, ``statusMessage`` from the status description (``exception``
events are ignored), the model precedence (the response model before the request model), usage
and cost normalisation (an OpenAI usage object split into usage types as the ingestion schema
does; cost computed from the model price table when the span carries none, reasoning usage at the
output price as Langfuse's default prices bill it), prompts only on generations (also the Vercel
AI SDK's ``ai.telemetry.metadata.langfusePrompt``), environment, version and release, the ``langfuse.trace.name``-only
``traceName`` of the v2 events path, tags, user and session, and metadata flattened to dotted keys
(``attributes.*`` left out for the ``langfuse-sdk`` scope, ``resourceAttributes.*``, ``scope.*``,
user metadata), each leaf a string.

Every observation comes out as a dict of v2 field groups (``core``, ``basic``, ``time``, ``io``,
``metadata``, ``model``, ``usage``, ``prompt``, ``metrics``, ``trace_context``) plus ``_enrich``
(the matched model's id and prices), ``_trace`` (trace-level fields) and ``_metrics`` (the values
the Metrics API groups and measures on).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

PROJECT_ID = "cl-project-double-0001"

TYPES = ("SPAN", "GENERATION", "EVENT", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EVALUATOR",
         "EMBEDDING", "GUARDRAIL")
_LANGFUSE_TYPES = {t.lower(): t for t in TYPES}
_OPENINFERENCE = {"CHAIN": "CHAIN", "RETRIEVER": "RETRIEVER", "LLM": "GENERATION",
                  "EMBEDDING": "EMBEDDING", "AGENT": "AGENT", "TOOL": "TOOL",
                  "GUARDRAIL": "GUARDRAIL", "EVALUATOR": "EVALUATOR"}
_GENAI = {"chat": "GENERATION", "completion": "GENERATION", "text_completion": "GENERATION",
          "generate_content": "GENERATION", "generate": "GENERATION", "embeddings": "EMBEDDING",
          "invoke_agent": "AGENT", "create_agent": "AGENT", "execute_tool": "TOOL"}
_GENKIT = {"model": "GENERATION", "background-model": "GENERATION", "embedder": "EMBEDDING",
           "tool": "TOOL", "tool.v2": "TOOL", "retriever": "RETRIEVER", "evaluator": "EVALUATOR"}
_VERCEL_GENERATION = ("ai.generateText.doGenerate", "ai.streamText.doStream",
                      "ai.generateObject.doGenerate", "ai.streamObject.doStream")
_VERCEL_EMBEDDING = ("ai.embed.doEmbed", "ai.embedMany.doEmbed")
_MODEL_KEYS = ("langfuse.observation.model.name", "gen_ai.response.model", "ai.model.id",
               "gen_ai.request.model", "llm.response.model", "llm.model_name", "model")
_LEVELS = {"DEBUG": "DEBUG", "TRACE": "DEBUG", "VERBOSE": "DEBUG", "DEFAULT": "DEFAULT",
           "INFO": "DEFAULT", "LOG": "DEFAULT", "NOTICE": "DEFAULT", "OK": "DEFAULT",
           "SUCCESS": "DEFAULT", "WARNING": "WARNING", "WARN": "WARNING", "ERROR": "ERROR",
           "FATAL": "ERROR", "CRITICAL": "ERROR"}
# Attribute keys that never reach metadata.attributes: input/output and message payloads.
_IO_KEYS = {"langfuse.observation.input", "langfuse.observation.output", "input.value",
            "output.value", "gen_ai.input.messages", "gen_ai.output.messages",
            "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "langfuse.trace.input",
            "langfuse.trace.output"}
_NOT_IN_ATTRIBUTES = ("gen_ai.prompt", "gen_ai.completion", "llm.input_messages",
                      "llm.output_messages", "langfuse.trace.metadata",
                      "langfuse.observation.metadata", "ai.telemetry.metadata")
METADATA_LEAF_LIMIT = 200


@dataclass(frozen=True)
class ModelPrice:
    """One row of the project's model table: a name pattern and USD per token."""

    model_id: str
    pattern: re.Pattern[str]
    input: float
    output: float


def _price(name: str, input_per_m: float, output_per_m: float) -> ModelPrice:
    provider = "(openai/)?" if name.startswith(("gpt", "o1", "o3", "o4")) else "(anthropic/)?"
    return ModelPrice(f"model-{name}", re.compile(rf"(?i)^{provider}({re.escape(name)})"
                                                  r"(-\d{8})?$"),
                      input_per_m / 1e6, output_per_m / 1e6)


#: Langfuse's default model prices (USD per 1M tokens) for the models the simulator uses.
DEFAULT_PRICES = tuple(_price(*row) for row in (
    ("gpt-4o", 2.50, 10.00), ("gpt-4o-mini", 0.15, 0.60), ("gpt-4.1", 2.00, 8.00),
    ("gpt-4.1-mini", 0.40, 1.60), ("gpt-4.1-nano", 0.10, 0.40),
    ("claude-sonnet-4-5", 3.00, 15.00), ("claude-haiku-4-5", 1.00, 5.00),
))


def iso(ns: int | None) -> str | None:
    """Nanoseconds since the epoch -> ISO 8601 UTC with ``Z``: milliseconds, microseconds when
    the value carries them (the canonical frames' resolution)."""
    if ns is None:
        return None
    us = ns // 1000
    ts = pd.Timestamp(us, unit="us", tz="UTC")
    base = ts.strftime("%Y-%m-%dT%H:%M:%S")
    frac = us % 1_000_000
    return f"{base}.{frac // 1000:03d}Z" if frac % 1000 == 0 else f"{base}.{frac:06d}Z"


def _present(v: Any) -> bool:
    if v is None or v == "":
        return False
    if isinstance(v, (list, tuple, dict)) and len(v) == 0:
        return False
    return True


def _json_string(v: Any) -> str:
    """A value as Langfuse stores attribute values: strings as they are, the rest as JSON."""
    if isinstance(v, str):
        return v
    if isinstance(v, tuple):
        v = list(v)
    return json.dumps(v, separators=(",", ":"))


# ---- observation type ----------------------------------------------------------------------------

def observation_type(a: Mapping[str, Any], scope: str, scope_version: str | None,
                     resource: Mapping[str, Any], name: str) -> str:
    """The mapper chain, first mapper that can map *and* knows the value wins; else SPAN."""
    lf = a.get("langfuse.observation.type")
    if (lf == "span" and scope == "langfuse-sdk"
            and resource.get("telemetry.sdk.language") == "python" and scope_version
            and _version_at_most(scope_version, (3, 3))
            and any(_present(a.get(k)) for k in (
                "langfuse.observation.model.name", "langfuse.observation.cost_details",
                "langfuse.observation.usage_details",
                "langfuse.observation.completion_start_time",
                "langfuse.observation.model.parameters", "langfuse.observation.prompt.name",
                "langfuse.observation.prompt.version"))):
        return "GENERATION"
    if isinstance(lf, str) and lf in _LANGFUSE_TYPES:
        return _LANGFUSE_TYPES[lf]
    oi = a.get("openinference.span.kind")
    if isinstance(oi, str) and oi.upper() in _OPENINFERENCE:
        return _OPENINFERENCE[oi.upper()]
    op = a.get("gen_ai.operation.name")
    if isinstance(op, str) and op in _GENAI:
        return _GENAI[op]
    gk = a.get("genkit:metadata:subtype")
    if isinstance(gk, str) and gk in _GENKIT:
        return _GENKIT[gk]
    if any(_present(a.get(k)) for k in ("langfuse.observation.model.name", "ai.model.id",
                                        "gen_ai.request.model", "gen_ai.response.model")):
        op_name = str(a.get("operation.name") or "")
        op_id = str(a.get("ai.operationId") or "")
        if op_id in _VERCEL_GENERATION or op_name.startswith(_VERCEL_GENERATION):
            return "GENERATION"
        if op_id in _VERCEL_EMBEDDING or op_name.startswith(_VERCEL_EMBEDDING):
            return "EMBEDDING"
    if _present(a.get("ai.toolCall")) or _present(a.get("ai.toolCall.name")):
        return "TOOL"
    if _present(a.get("gen_ai.tool.name")) or _present(a.get("gen_ai.tool.call.id")):
        return "TOOL"
    if _present(a.get("flue.tool.name")) or _present(a.get("flue.tool.call_id")):
        return "TOOL"
    if _present(a.get("flue.task.id")) or _present(a.get("flue.task.agent")):
        return "AGENT"
    if scope == "livekit-agents":
        if name in ("agent_turn", "start_agent_activity"):
            return "AGENT"
        if name == "function_tool":
            return "TOOL"
    if any(_present(a.get(k)) for k in ("langfuse.observation.model.name",
                                        "gen_ai.request.model", "gen_ai.response.model",
                                        "llm.model_name", "model")):
        return "GENERATION"
    return "SPAN"


def _version_at_most(version: str, limit: tuple[int, int]) -> bool:
    parts = re.findall(r"\d+", version)[:2]
    try:
        return tuple(int(p) for p in parts) <= limit
    except ValueError:
        return False


# ---- fields ------------------------------------------------------------------------------------

def observation_name(a: Mapping[str, Any], span_name: str) -> str:
    for key in ("gen_ai.tool.name", "genkit:name", "logfire.msg", "ai.toolCall.name"):
        if _present(a.get(key)):
            return str(a[key])
    if _present(a.get("ai.operationId")):
        fn = a.get("ai.telemetry.functionId")
        return f"{fn}:{a['ai.operationId']}" if _present(fn) else str(a["ai.operationId"])
    return span_name


def level_and_message(a: Mapping[str, Any], status_code: str,
                      status_description: str | None) -> tuple[str, str | None]:
    raw = a.get("langfuse.observation.level")
    level = _LEVELS.get(str(raw).upper()) if raw is not None else None
    if level is None:
        level = "ERROR" if status_code == "ERROR" else "DEFAULT"
    message = a.get("langfuse.observation.status_message")
    if not _present(message):
        message = status_description or None
    return level, message


def model_name(a: Mapping[str, Any], scope: str) -> str | None:
    if scope == "ai" and a.get("gen_ai.operation.name") in ("invoke_agent", "agent_step"):
        return None
    for key in _MODEL_KEYS:
        if _present(a.get(key)):
            return str(a[key])
    return None


def _json_object(value: Any) -> dict[str, Any] | None:
    """The JSON object a ``langfuse.observation.*_details`` attribute holds; ``{}`` when it is
    not a string holding an object; None when the string is not JSON (fall through)."""
    if not isinstance(value, str):
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else {}


_CACHE_READ = ("cache_read.input_tokens", "cache_read_input_tokens", "prompt_details.cache_read",
               "input_tokens_details.cached_tokens", "prompt_tokens_details.cached_tokens")
_CACHE_WRITE = ("cache_creation.input_tokens", "cache_creation_input_tokens",
                "prompt_details.cache_write")
_REASONING = ("reasoning.output_tokens", "completion_details.reasoning",
              "output_tokens_details.reasoning_tokens")
_AUDIO_OUT = ("completion_details.audio",)


def _generic_usage(a: Mapping[str, Any]) -> dict[str, float]:
    raw: dict[str, float] = {}
    for key, value in a.items():
        if key.startswith("gen_ai.usage.") and key != "gen_ai.usage.cost":
            short = key[len("gen_ai.usage."):]
        elif key.startswith("llm.token_count."):
            short = key[len("llm.token_count."):]
        else:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raw[short] = value
    if not raw:
        return {}
    out: dict[str, float] = {}
    used: set[str] = set()

    def first(keys: Iterable[str]) -> float | None:
        for k in keys:
            if k in raw:
                used.add(k)
                return raw[k]
        return None

    cache_read = first(_CACHE_READ)
    cache_write = first(_CACHE_WRITE)
    reasoning = first(_REASONING)
    audio = first(_AUDIO_OUT)
    inp = first(("prompt_tokens", "input_tokens", "prompt"))
    outp = first(("completion_tokens", "output_tokens", "completion"))
    total = first(("total_tokens", "total"))
    if inp is not None:
        out["input"] = inp - (cache_read or 0) - (cache_write or 0)
    if outp is not None:
        out["output"] = outp - (reasoning or 0) - (audio or 0)
    if total is not None:
        out["total"] = total
    if cache_read is not None:
        out["input_cached_tokens"] = cache_read
    if cache_write is not None:
        out["input_cache_creation"] = cache_write
    if reasoning is not None:
        out["output_reasoning_tokens"] = reasoning
    if audio is not None:
        out["output_audio_tokens"] = audio
    for k, v in raw.items():
        if k not in used:
            out[k[len("details."):] if k.startswith("details.") else k] = v
    return out


_OPENAI_USAGE = (("prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
                  "completion_tokens_details"),
                 ("input_tokens", "output_tokens", "total_tokens", "input_tokens_details",
                  "output_tokens_details"))


def _openai_usage(parsed: dict[str, Any]) -> dict[str, Any] | None:
    """An OpenAI usage object (chat completions or responses) as Langfuse's ingestion schema
    turns it into usage types: each ``*_details`` entry becomes ``input_<key>`` /
    ``output_<key>`` and is taken off ``input`` / ``output``; None when ``parsed`` is not
    exactly such an object."""
    for inp, outp, total, in_details, out_details in _OPENAI_USAGE:
        if not {inp, outp, total} <= parsed.keys() or not parsed.keys() <= {
                inp, outp, total, in_details, out_details}:
            continue
        if not all(isinstance(parsed[k], int) and not isinstance(parsed[k], bool)
                   for k in (inp, outp, total)):
            return None
        out: dict[str, Any] = {"input": parsed[inp], "output": parsed[outp],
                               "total": parsed[total]}
        for details, side in ((in_details, "input"), (out_details, "output")):
            for key, value in (parsed.get(details) or {}).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    out[f"{side}_{key}"] = value
                    out[side] = max(out[side] - value, 0)
        return out
    return None


def usage_details(a: Mapping[str, Any]) -> dict[str, float]:
    if "langfuse.observation.usage_details" in a:
        parsed = _json_object(a["langfuse.observation.usage_details"])
        if parsed is not None:
            parsed = _openai_usage(parsed) or parsed
            return {k: v for k, v in parsed.items() if isinstance(v, (int, float))}
    return _generic_usage(a)


#: Usage types Langfuse's default prices bill at the output price of reasoning models.
REASONING_USAGE = ("output_reasoning_tokens", "output_reasoning", "reasoning_tokens")


def cost_details(a: Mapping[str, Any]) -> dict[str, float]:
    if "langfuse.observation.cost_details" in a:
        parsed = _json_object(a["langfuse.observation.cost_details"])
        if parsed is not None:
            return {k: v for k, v in parsed.items() if isinstance(v, (int, float))}
    for key in ("gen_ai.usage.cost", "llm.cost.total"):
        v = a.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return {"total": v}
    return {}


def _first_attr(a: Mapping[str, Any], r: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        for source in (a, r):
            if _present(source.get(key)):
                return source[key]
    return None


def _stringify(v: Any) -> str:
    return v if isinstance(v, str) else _json_string(v)


def user_id(a: Mapping[str, Any]) -> str | None:
    for key in ("langfuse.user.id", "user.id", "langfuse.observation.metadata.langfuse_user_id",
                "langfuse.trace.metadata.langfuse_user_id", "ai.telemetry.metadata.userId"):
        if _present(a.get(key)):
            return _stringify(a[key])
    return None


def session_id(a: Mapping[str, Any]) -> str | None:
    for key in ("langfuse.session.id", "session.id", "gen_ai.conversation.id",
                "langfuse.observation.metadata.langfuse_session_id",
                "langfuse.trace.metadata.langfuse_session_id", "ai.telemetry.metadata.sessionId"):
        if _present(a.get(key)):
            return _stringify(a[key])
    return None


def tags(a: Mapping[str, Any]) -> list[str]:
    for key in ("langfuse.trace.tags", "langfuse.tags",
                "langfuse.observation.metadata.langfuse_tags",
                "langfuse.trace.metadata.langfuse_tags", "ai.telemetry.metadata.tags", "tag.tags"):
        v = a.get(key)
        if not _present(v):
            continue
        if isinstance(v, (list, tuple)):
            return [str(x) for x in v]
        s = str(v)
        if s.startswith("["):
            try:
                parsed = json.loads(s)
                if isinstance(parsed, list):
                    return [str(x) for x in parsed]
            except ValueError:
                pass
        return [t.strip() for t in s.split(",") if t.strip()] if "," in s else [s]
    return []


def _user_metadata(a: Mapping[str, Any], r: Mapping[str, Any]) -> dict[str, str]:
    """Top-level user metadata keys: the text after the prefix, not nested further."""
    out: dict[str, str] = {}
    for source, prefixes in ((r, ("langfuse.trace.metadata.", "langfuse.metadata.",
                                  "ai.telemetry.metadata.")),
                             (a, ("langfuse.observation.metadata.", "langfuse.metadata.",
                                  "ai.telemetry.metadata.", "langfuse.trace.metadata."))):
        for key, value in source.items():
            for p in prefixes:
                if key.startswith(p):
                    k = key[len(p):]
                    if p == "ai.telemetry.metadata." and k in ("userId", "sessionId", "tags",
                                                                "langfusePrompt"):
                        continue
                    out[k] = _stringify(value)
    return out


def metadata(a: Mapping[str, Any], r: Mapping[str, Any], scope_name: str,
             scope_version: str | None, scope_attrs: Mapping[str, Any]) -> dict[str, str]:
    """The observation's metadata as the events table stores it: flat dotted leaf paths, each
    value a string (``flattenJsonToPathArrays``)."""
    flat: dict[str, str] = {}
    if not scope_name.startswith("langfuse-sdk"):
        for key, value in a.items():
            if key in _IO_KEYS or key.startswith(_NOT_IN_ATTRIBUTES):
                continue
            flat[f"attributes.{key}"] = _json_string(value)
    for key, value in r.items():
        flat[f"resourceAttributes.{key}"] = _json_string(value)
    flat["scope.name"] = scope_name
    if scope_version is not None:
        flat["scope.version"] = scope_version
    for key, value in scope_attrs.items():
        flat[f"scope.attributes.{key}"] = _json_string(value)
    flat.update(_user_metadata(a, r))  # user metadata last: it may overwrite scope
    return flat


def read_metadata_value(stored: str, expand: bool) -> Any:
    """A stored leaf as the API returns it: cut to 200 characters unless expanded, then parsed
    as JSON when it parses (``"42"`` -> 42), else the raw string (``parseJsonPrioritised``)."""
    value = stored if expand else stored[:METADATA_LEAF_LIMIT]
    try:
        return json.loads(value)
    except ValueError:
        return value


# ---- spans -> records ----------------------------------------------------------------------------

def _ai_sdk_prompt(a: Mapping[str, Any]) -> dict[str, Any]:
    """The prompt a Vercel AI SDK span links through ``ai.telemetry.metadata.langfusePrompt``
    (a JSON object with ``name`` and ``version``)."""
    raw = a.get("ai.telemetry.metadata.langfusePrompt")
    if not isinstance(raw, str):
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _matched_price(model: str | None, prices: Iterable[ModelPrice]) -> ModelPrice | None:
    if not model:
        return None
    for p in prices:
        if p.pattern.match(model):
            return p
    return None


def ingest(spans: Iterable[Any], prices: Iterable[ModelPrice] = DEFAULT_PRICES
           ) -> list[dict[str, Any]]:
    """Langfuse-native observation records (v2 field groups) of finished OTel SDK spans."""
    prices = tuple(prices)
    records = []
    for sp in spans:
        a = sp.attributes.copy() if sp.attributes else {}
        r = dict(sp.resource.attributes) if sp.resource is not None else {}
        scope = sp.instrumentation_scope
        scope_name = scope.name if scope is not None else ""
        scope_version = scope.version if scope is not None else None
        scope_attrs = dict(scope.attributes or {}) if scope is not None else {}
        trace_id = format(sp.context.trace_id, "032x")
        obs_id = format(sp.context.span_id, "016x")
        parent = format(sp.parent.span_id, "016x") if sp.parent is not None else None
        is_root = parent is None or str(a.get("langfuse.internal.as_root")) == "true"
        status = sp.status
        code = status.status_code.name if status is not None else "UNSET"
        typ = observation_type(a, scope_name, scope_version, r, sp.name)
        name = observation_name(a, sp.name)
        level, message = level_and_message(a, code, status.description if status else None)
        model = model_name(a, scope_name)
        usage = usage_details(a)
        if usage and "total" not in usage:
            usage["total"] = sum(v for k, v in usage.items())
        cost = cost_details(a)
        price = _matched_price(model, prices)
        if not cost and price is not None and usage:
            cin = usage.get("input", 0) * price.input
            cout = usage.get("output", 0) * price.output
            cost = {"input": cin, "output": cout}
            for key in REASONING_USAGE:
                if usage.get(key):
                    cost[key] = usage[key] * price.output
        if cost and "total" not in cost:
            cost["total"] = sum(cost.values())
        total_cost = cost.get("total") if cost else None
        prompt_name = prompt_version = None
        if typ == "GENERATION":
            ai_prompt = _ai_sdk_prompt(a)
            prompt_name = a.get("langfuse.observation.prompt.name") or a.get(
                "langfuse.prompt.name") or ai_prompt.get("name")
            prompt_version = a.get("langfuse.observation.prompt.version") or a.get(
                "langfuse.prompt.version") or ai_prompt.get("version")
        environment = _first_attr(a, r, ("langfuse.environment", "deployment.environment.name",
                                         "deployment.environment")) or "default"
        version = a.get("langfuse.version") or r.get("service.version")
        release = a.get("langfuse.release") or r.get("langfuse.release")
        start_ns = sp.start_time
        end_ns = sp.end_time if sp.end_time is not None else start_ns
        start, end = iso(start_ns), iso(end_ns)
        completion = a.get("langfuse.observation.completion_start_time")
        if isinstance(completion, str) and completion.startswith('"'):
            completion = json.loads(completion)
        trace_tags = tags(a)
        records.append({
            "core": {"id": obs_id, "traceId": trace_id, "startTime": start, "endTime": end,
                     "projectId": PROJECT_ID, "parentObservationId": parent, "type": typ},
            "basic": {"name": name, "level": level, "statusMessage": message,
                      "version": None if version is None else str(version),
                      "environment": str(environment), "bookmarked": False, "public": False,
                      "userId": user_id(a), "sessionId": session_id(a),
                      "isRootObservation": is_root},
            "time": {"completionStartTime": completion, "createdAt": start, "updatedAt": end},
            "io": {"input": a.get("langfuse.observation.input") or a.get("input.value"),
                   "output": a.get("langfuse.observation.output") or a.get("output.value")},
            "metadata": {"metadata": metadata(a, r, scope_name, scope_version, scope_attrs)},
            "model": {"providedModelName": model,
                      "internalModelId": price.model_id if price else None,
                      "modelParameters": _json_object(
                          a.get("langfuse.observation.model.parameters")) or None},
            "usage": {"usageDetails": usage, "costDetails": cost, "totalCost": total_cost,
                      "usagePricingTierName": None},
            "prompt": {"promptId": f"prompt-{prompt_name}-{prompt_version}"
                       if prompt_name else None,
                       "promptName": prompt_name, "promptVersion": prompt_version},
            "metrics": {"latency": (end_ns - start_ns) / 1e9, "timeToFirstToken": None},
            "trace_context": {"tags": trace_tags,
                              "release": None if release is None else str(release),
                              "traceName": a.get("langfuse.trace.name")},
            "_enrich": {"modelId": price.model_id if price else None,
                        "inputPrice": _decimal(price.input) if price else None,
                        "outputPrice": _decimal(price.output) if price else None,
                        "totalPrice": None},
            "_trace": {"name": a.get("langfuse.trace.name") if is_root else None,
                       "root_name": observation_name(a, sp.name) if is_root else None},
        })
    _trace_level(records)
    return records


def _decimal(per_token: float) -> str:
    text = f"{per_token:.12f}".rstrip("0")
    return text if not text.endswith(".") else text + "0"


def _trace_level(records: list[dict[str, Any]]) -> None:
    """Trace name (the root's ``langfuse.trace.name``, else its observation name; a non-root
    span's ``langfuse.trace.name`` also updates it), user, session, release, tags, environment:
    resolved once per trace and kept on every record (``_trace``) for the legacy reads and the
    Metrics API."""
    traces: dict[str, dict[str, Any]] = {}
    order = sorted(range(len(records)), key=lambda i: (
        not records[i]["basic"]["isRootObservation"], records[i]["core"]["startTime"]))
    for i in order:
        rec = records[i]
        t = traces.setdefault(rec["core"]["traceId"], {
            "name": None, "userId": None, "sessionId": None, "release": None, "tags": [],
            "environment": rec["basic"]["environment"], "timestamp": rec["core"]["startTime"],
            "version": rec["basic"]["version"]})
        if rec["basic"]["isRootObservation"]:
            t["name"] = rec["_trace"]["name"] or rec["_trace"]["root_name"]
            t["timestamp"] = rec["core"]["startTime"]
            t["environment"] = rec["basic"]["environment"]
        elif rec["trace_context"]["traceName"] and t["name"] is None:
            t["name"] = rec["trace_context"]["traceName"]
        for key in ("userId", "sessionId"):
            if t[key] is None and rec["basic"][key]:
                t[key] = rec["basic"][key]
        if t["release"] is None and rec["trace_context"]["release"]:
            t["release"] = rec["trace_context"]["release"]
        for tag in rec["trace_context"]["tags"]:
            if tag not in t["tags"]:
                t["tags"].append(tag)
    for rec in records:
        rec["_trace"] = traces[rec["core"]["traceId"]]


def _usage_sum(usage: Mapping[str, Any], word: str) -> float:
    """The Metrics API's inputTokens / outputTokens: every usage type whose name holds the word
    (cache parts in the input, reasoning and audio tokens in the output), NaN without any."""
    found = [v for k, v in usage.items() if word in k.lower()]
    return float(sum(found)) if found else math.nan


def metrics_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The values the Metrics API (observations view) groups and measures a record on."""
    c, b, u = rec["core"], rec["basic"], rec["usage"]
    usage = u["usageDetails"] or {}
    cost = u["costDetails"] or {}
    return {
        "start_time": pd.Timestamp(c["startTime"]), "environment": b["environment"],
        "type_upper": c["type"], "name": b["name"], "level": b["level"],
        "version": b["version"], "release": rec["_trace"]["release"],
        "trace_name": rec["_trace"]["name"], "model": rec["model"]["providedModelName"],
        "prompt_name": rec["prompt"]["promptName"],
        "prompt_version": rec["prompt"]["promptVersion"],
        "is_root": bool(b["isRootObservation"]), "one": 1,
        "latency_ms": rec["metrics"]["latency"] * 1000.0,
        "input_tokens": _usage_sum(usage, "input"),
        "output_tokens": _usage_sum(usage, "output"),
        "total_tokens": usage.get("total", math.nan),
        "cost_usd": u["totalCost"] if u["totalCost"] is not None else math.nan,
        "input_cost": cost.get("input", math.nan), "output_cost": cost.get("output", math.nan),
        "ttft_ms": math.nan,
    }
