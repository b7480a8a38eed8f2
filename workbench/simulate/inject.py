"""Inject the labelled incidents into planned traffic, each aimed at its ``magnitude``.

The injections change what requests do, never how many there are: a cost spike raises cost per
request, a timeout surge slows one tool, a hallucination spike swaps a prompt version.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from workbench.simulate.incidents import Incident
from workbench.simulate.plan import SpanPlan, TracePlan, generation, tool_call

__all__ = ["BASELINE_TIMEOUT_SHARE", "LOOP_GUARD_S", "inject"]

#: Share of all requests cut at the budget without incidents (stalls plus the latency tail).
BASELINE_TIMEOUT_SHARE = 0.004
#: The tool-agent's loop guard (max execution time): it stops a retry loop before the budget.
LOOP_GUARD_S = 7.4
_MAX_ITERATIONS = 150


def _in_window(plans: Sequence[TracePlan], inc: Incident) -> list[TracePlan]:
    lo, hi = inc.start.value // 1000, inc.end.value // 1000
    return [p for p in plans if lo <= p.start_us < hi]


def _hallucination(r: random.Random, plans: list[TracePlan], inc: Incident) -> None:
    version = int(inc.cause_value)
    for p in plans:
        if p.agent == "rag-agent":
            for s in p.spans:
                if s.prompt_name == "rag-answer":
                    s.prompt_version = version


def _timeout(r: random.Random, plans: list[TracePlan], inc: Incident) -> None:
    candidates = []
    for p in plans:
        fetches = [s for s in p.spans if s.tool == inc.cause_value]
        for s in fetches:
            s.dur *= 1.5
        if p.agent == "planner-agent" and fetches:
            candidates.append(fetches)
    n_hang = round((inc.magnitude - 1.0) * BASELINE_TIMEOUT_SHARE * len(plans))
    for fetches in r.sample(candidates, min(n_hang, len(candidates))):
        r.choice(fetches).dur = r.lognormvariate(math.log(7.5), 0.25)


def _malformed(r: random.Random, tool: str) -> SpanPlan:
    span = tool_call(r, tool)
    span.dur = r.lognormvariate(math.log(0.06), 0.3)
    span.level, span.error_type = "ERROR", "malformed_json"
    span.message = f"{tool} returned a body that is not valid JSON"
    return span


def _runaway(r: random.Random, plan: TracePlan, tool: str) -> None:
    """Rewrite a tool-agent request into a retry loop on a tool that answers malformed JSON."""
    first = plan.spans[0]
    spans = [first, _malformed(r, tool)]
    elapsed = 0.015 + sum(s.gap + s.dur for s in spans)
    iterations = 1
    while iterations < _MAX_ITERATIONS:
        retry = generation(r, "gpt-4o", int(r.lognormvariate(math.log(7800), 0.04)),
                           max(5, int(r.lognormvariate(math.log(40), 0.3))), "tool-router")
        # The retry re-sends a cached prompt prefix and emits a short tool call: fast per call.
        retry.dur = r.lognormvariate(math.log(0.13), 0.25)
        again = _malformed(r, tool)
        step = retry.gap + retry.dur + again.gap + again.dur
        if elapsed + step > LOOP_GUARD_S:
            break
        spans += [retry, again]
        elapsed += step
        iterations += 1
    plan.spans = spans
    plan.level = "WARNING"
    plan.message = (f"agent stopped by its loop guard after {iterations} iterations: "
                    f"{tool} kept returning malformed JSON")


def _cost(r: random.Random, plans: list[TracePlan], inc: Incident) -> None:
    target = (inc.magnitude - 1.0) * sum(p.cost for p in plans)
    candidates = [p for p in plans if p.agent == "tool-agent"]
    r.shuffle(candidates)
    added = 0.0
    for p in candidates:
        if added >= target:
            break
        before = p.cost
        _runaway(r, p, inc.cause_value)
        added += p.cost - before


_INJECTORS = {"hallucination_spike": _hallucination, "timeout_surge": _timeout,
              "cost_spike": _cost}


def inject(r: random.Random, plans: Sequence[TracePlan], incidents: Sequence[Incident]) -> None:
    """Apply every incident to the requests that started inside its window, in place."""
    for inc in incidents:
        _INJECTORS[inc.runbook](r, _in_window(plans, inc), inc)
