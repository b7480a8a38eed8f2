"""Lay a planned trace out in time, fail some requests, and cut every trace at the budget.

A request that runs past ``schema.TIMEOUT_BUDGET_S`` is cut there, as the serving layer would: the
root ends at exactly 8 s at level ERROR with ``error_type`` ``timeout``, the span in flight is
cancelled at the same instant (also ``timeout``), and spans that would have started later never run.
"""

from __future__ import annotations

import math
import random

from workbench.schema import TIMEOUT_BUDGET_S
from workbench.simulate.plan import TracePlan

__all__ = ["STALL_RATE", "fail_request", "finalize", "stall"]

#: Share of requests where one call stalls for seconds (provider hiccup): the baseline timeouts.
STALL_RATE = 0.0035

_ERRORS_BY_TYPE = {
    "generation": (("rate_limit", "provider returned HTTP 429: rate limit exceeded"),
                   ("content_filter", "response blocked by the provider's content filter")),
    "tool": (("tool_error", "tool failed with HTTP 500 after retries"),),
    "retriever": (("retrieval_error", "vector store query failed: connection reset"),),
}


def stall(r: random.Random, plan: TracePlan) -> None:
    """One call of the request hangs for several seconds."""
    span = plan.spans[r.randrange(len(plan.spans))]
    span.dur += r.lognormvariate(math.log(6.0), 0.35)


def fail_request(r: random.Random, plan: TracePlan) -> None:
    """A call fails for good: the request stops there and its root is an ERROR."""
    i = r.randrange(len(plan.spans))
    span = plan.spans[i]
    error_type, message = r.choice(_ERRORS_BY_TYPE[span.type])
    span.dur *= 0.4
    span.level, span.error_type, span.message = "ERROR", error_type, message
    if span.output_tokens is not None:
        span.output_tokens = 0
    del plan.spans[i + 1:]
    plan.level, plan.error_type = "ERROR", error_type
    plan.message = f"request failed: {message}"


def finalize(r: random.Random, plan: TracePlan, budget_s: float = TIMEOUT_BUDGET_S) -> None:
    """Give every span its start/end (seconds from the root's start) and apply the budget."""
    t = r.lognormvariate(math.log(0.015), 0.4)
    for span in plan.spans:
        t += span.gap
        span.start = t
        t += span.dur
        span.end = t
    plan.end = t + r.lognormvariate(math.log(0.01), 0.4)
    if plan.end <= budget_s:
        return
    kept = [s for s in plan.spans if s.start < budget_s]
    last = kept[-1]
    if last.end > budget_s:
        if last.output_tokens:
            done = (budget_s - last.start) / (last.end - last.start)
            last.output_tokens = int(last.output_tokens * done)
        last.end = budget_s
        last.level, last.error_type = "ERROR", "timeout"
        last.message = f"cancelled at the {budget_s:g} s request budget"
    plan.spans = kept
    plan.end = budget_s
    plan.level, plan.error_type = "ERROR", "timeout"
    plan.message = f"request exceeded the {budget_s:g} s budget"
