"""TraceQL metrics (``/api/metrics/query_range``): queries built, answers parsed into tidy frames.

Answers are ``{"series": [{"labels": [...], "samples": [{"timestampMs", "value"}]}], "status",
"message"}``. As Tempo's query frontend writes them, a sample's timestamp is the *end* of its
interval ``(t - step, t]`` (Prometheus style), the range is aligned down to the step with one
extra interval before it, intervals without data are left out, and an ungrouped query labels its
one series ``__name__=<function>``. A missing ``status`` means complete; ``PARTIAL`` is passed on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import ConfigError

#: Root spans, one per trace: Tempo's nested-set model gives them ``nestedSetParent = -1``.
ROOT = "nestedSetParent < 0"

#: Token attributes that can be summed server-side, per convention: (input, output, model
#: attributes in the conventions' precedence, the filter selecting LLM calls). Only LLM calls
#: count (agent spans may carry their children's usage). A span carrying two conventions' counts
#: would be summed twice: compare with a raw pull when in doubt.
_GENAI_MODELS = ("span.gen_ai.response.model", "span.gen_ai.request.model")
_GENAI_LLM = ('span.gen_ai.operation.name =~ '
              '"chat|text_completion|generate_content|completion|generate|embeddings"')
TOKEN_FAMILIES = (
    ("span.gen_ai.usage.input_tokens", "span.gen_ai.usage.output_tokens", _GENAI_MODELS,
     _GENAI_LLM),
    ("span.gen_ai.usage.prompt_tokens", "span.gen_ai.usage.completion_tokens", _GENAI_MODELS,
     _GENAI_LLM),  # the deprecated GenAI keys
    ("span.llm.token_count.prompt", "span.llm.token_count.completion", ("span.llm.model_name",),
     'span.openinference.span.kind =~ "LLM|EMBEDDING"'),
)

#: Prompt-cache token attributes, per convention: (cache read, cache write, model attributes, the
#: filter selecting LLM calls). Both are parts of the input count; the deprecated GenAI keys have
#: none of their own (summing the current ones again would count them twice).
CACHE_FAMILIES = (
    ("span.gen_ai.usage.cache_read.input_tokens", "span.gen_ai.usage.cache_creation.input_tokens",
     _GENAI_MODELS, _GENAI_LLM),
    ("span.llm.token_count.prompt_details.cache_read",
     "span.llm.token_count.prompt_details.cache_write", ("span.llm.model_name",),
     'span.openinference.span.kind =~ "LLM|EMBEDDING"'),
)

#: Friendly grouping names -> TraceQL attributes.
DIMENSIONS = {
    "agent": "resource.service.name",
    "service": "resource.service.name",
    "environment": "resource.deployment.environment.name",
    "release": "resource.service.version",
    "name": "name",
    "status": "status",
}

MEASURES = ("spans", "traces", "errors", "input_tokens", "output_tokens", "cost_usd")


def step_text(step_s: float) -> str:
    return f"{int(step_s)}s" if float(step_s).is_integer() else f"{int(step_s * 1000)}ms"


def and_filter(q: str, condition: str) -> str:
    """``{ <q's conditions> && <condition> }`` for a single spanset filter ``q``."""
    inner = _inner(q)
    return f"{{ {condition} }}" if not inner else f"{{ ({inner}) && {condition} }}"


def _inner(q: str) -> str:
    text = q.strip()
    if not (text.startswith("{") and text.endswith("}")) or text.count("{") != 1 \
            or "|" in text:
        raise ConfigError(f"TraceQL filter {q!r} must be one spanset filter {{ ... }} to be "
                          "combined with an aggregate")
    return text[1:-1].strip()


def dimension(name: str) -> str:
    if name in DIMENSIONS:
        return DIMENSIONS[name]
    if name.startswith(("span.", "resource.", ".")) or name in ("name", "status", "kind"):
        return name
    raise ConfigError(f"unknown grouping {name!r}; use {sorted(DIMENSIONS)} or a TraceQL "
                      "attribute such as span.gen_ai.request.model")


def query(q: str, function: str, by: Sequence[str]) -> str:
    group = f" by ({', '.join(by)})" if by else ""
    return f"{q} | {function}{group}"


def _label_value(v: Any) -> Any:
    if not isinstance(v, Mapping) or not v:
        return None
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        return int(v["intValue"])
    return None


def parse(body: Mapping[str, Any]) -> tuple[list[tuple[dict[str, Any], list[tuple[int, float]]]],
                                              str | None]:
    """(series as (labels, [(timestamp_ms, value)]), the reason when the answer is partial)."""
    out = []
    for s in body.get("series") or []:
        labels = {str(lb.get("key")): _label_value(lb.get("value"))
                  for lb in s.get("labels") or [] if isinstance(lb, Mapping)}
        samples = []
        for sm in s.get("samples") or []:
            v = sm.get("value", 0.0)
            v = float(v) if not isinstance(v, str) else float(v.replace("Infinity", "inf"))
            samples.append((int(sm.get("timestampMs", 0)), v))
        out.append((labels, samples))
    status = body.get("status")
    partial = None
    if status not in (None, "", "COMPLETE"):
        partial = f"TraceQL metrics answered {status}: {body.get('message') or 'no message'}"
    return out, partial


def is_body(body: Any) -> bool:
    return isinstance(body, Mapping) and isinstance(body.get("series", []), list)


def tidy(series: list[tuple[dict[str, Any], list[tuple[int, float]]]], metric: str,
         lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
    """Samples whose interval ends in ``(lo, hi]``: ``timestamp`` (interval end, UTC), labels,
    ``metric``, ``value``."""
    rows = []
    lo_ms, hi_ms = lo.value // 1_000_000, hi.value // 1_000_000
    for labels, samples in series:
        labels = {k: v for k, v in labels.items() if k != "__name__"}
        for ts, v in samples:
            if lo_ms < ts <= hi_ms and not (isinstance(v, float) and math.isnan(v)):
                rows.append({"timestamp": ts, "metric": metric, **labels, "value": v})
    if not rows:
        return pd.DataFrame({"timestamp": pd.Series(dtype="datetime64[us, UTC]"),
                             "metric": pd.Series(dtype="string"),
                             "value": pd.Series(dtype="float64")})
    df = pd.DataFrame(rows)
    df["timestamp"] = pd.to_datetime(df["timestamp"].to_numpy(dtype=np.int64), unit="ms",
                                     utc=True).astype("datetime64[us, UTC]")
    df["value"] = df["value"].astype("float64")
    return df
