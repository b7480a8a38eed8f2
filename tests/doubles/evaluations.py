"""Judge results as OpenTelemetry GenAI evaluation events on the spans they judged.

Tempo has no scores API: an evaluator that reports through OpenTelemetry records each result as
a ``gen_ai.evaluation.result`` event (``gen_ai.evaluation.name``, ``.score.value``,
``.score.label``) on the span it judged. This turns a simulated dataset's judge scores into such
events (a trace-level score on the trace's root span, an observation-level one on its span), so
the Tempo double serves the same judgements a Langfuse project stores as scores.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from opentelemetry.sdk.trace import Event, ReadableSpan

__all__ = ["with_evaluations"]


def _event(row: Any) -> Event:
    attrs: dict[str, Any] = {"gen_ai.evaluation.name": str(row.name)}
    if pd.notna(row.value):
        attrs["gen_ai.evaluation.score.value"] = float(row.value)
    if isinstance(row.string_value, str):
        attrs["gen_ai.evaluation.score.label"] = row.string_value
    return Event("gen_ai.evaluation.result", attrs, timestamp=int(row.timestamp.value))


def with_evaluations(spans: Iterable[ReadableSpan], scores: pd.DataFrame) -> list[ReadableSpan]:
    """``spans`` with every score of ``scores`` added as an evaluation event."""
    spans = list(spans)
    roots = {sp.context.trace_id: sp.context.span_id for sp in spans if sp.parent is None}
    by_span: dict[int, list[Event]] = {}
    for row in scores.itertuples(index=False):
        if isinstance(row.observation_id, str):
            span_id = int(row.observation_id, 16)
        else:
            span_id = roots.get(int(row.trace_id, 16))
            if span_id is None:
                continue
        by_span.setdefault(span_id, []).append(_event(row))
    out = []
    for sp in spans:
        extra = by_span.get(sp.context.span_id)
        if not extra:
            out.append(sp)
            continue
        out.append(ReadableSpan(
            name=sp.name, context=sp.context, parent=sp.parent, resource=sp.resource,
            attributes=sp.attributes, events=tuple(sp.events) + tuple(extra), links=sp.links,
            kind=sp.kind, status=sp.status, start_time=sp.start_time, end_time=sp.end_time,
            instrumentation_scope=sp.instrumentation_scope))
    return out
