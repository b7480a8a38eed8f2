"""Fail some requests, stall a few calls, lay a plan out in time and cut it at the budget.

Failures are library exceptions (:mod:`workbench.simulate.errors`). Whether a failed call ends
the request depends on how the agent is written: a Langfuse-instrumented or plain OpenTelemetry
service lets most exceptions propagate; LangGraph-style and OpenAI Agents SDK agents hand a tool's
error back to the model and carry on. An agent with a budget is served under
``asyncio.wait_for``: a request still running at the budget is cancelled there (the call in
flight gets ``CancelledError``, the request ``TimeoutError`` with an empty message).
"""

from __future__ import annotations

import random

from workbench.simulate import errors
from workbench.simulate.plan import CallPlan, TracePlan, lognorm

__all__ = ["fail_request", "finalize", "stall", "time_out_tool", "tool_errors_propagate"]

_RETRIEVAL_FAILURE = errors.Failure("httpx", "ConnectError", "[Errno 111] Connection refused",
                                    "server_error")


def tool_errors_propagate(r: random.Random, style: str) -> bool:
    """Does a failing tool end the request, in an agent of this instrumentation style?"""
    if style in ("openinference", "openai_agents"):
        return False
    if style == "langfuse":
        return r.random() < 0.6
    return True


def _end_after(plan: TracePlan, i: int) -> None:
    call = plan.calls[i]
    call.propagates = True
    del plan.calls[i + 1:]
    plan.failure = call.failure


def fail_request(r: random.Random, plan: TracePlan) -> None:
    """A call fails for good; the request ends there unless the agent hands the error back."""
    i = r.randrange(len(plan.calls))
    call = plan.calls[i]
    if call.kind == "generation":
        from workbench.simulate.catalog import MODELS

        call.failure = errors.llm_failure(r, MODELS[call.model or "gpt-4o"].provider,
                                          call.model or "")
        call.dur *= 0.4 if call.failure.kind != "timeout" else 1.0
        if call.failure.kind == "timeout":
            call.dur = max(call.dur, lognorm(r, 6.0, 0.2))
        call.output_tokens = 0
        _end_after(plan, i)
        return
    if call.kind == "retrieval":
        call.failure = _RETRIEVAL_FAILURE
        call.dur *= 0.2
        _end_after(plan, i)
        return
    assert call.tool is not None
    call.failure = errors.tool_failure(r, call.tool.name, call.tool.host)
    call.dur *= 0.4
    if tool_errors_propagate(r, plan.agent.style):
        _end_after(plan, i)


def time_out_tool(r: random.Random, plan: TracePlan, call: CallPlan) -> None:
    """``call`` hangs until its client's read time-out and fails in that client's words."""
    assert call.tool is not None
    tool = call.tool
    target = tool.name if tool.library == "agents" else tool.host
    call.failure = errors.timeout(tool.library, target, tool.timeout_s)
    call.dur = tool.timeout_s * (1.0 + 0.01 * r.random())
    if tool_errors_propagate(r, plan.agent.style):
        _end_after(plan, plan.calls.index(call))


def stall(r: random.Random, plan: TracePlan) -> None:
    """One call of the request hangs for several seconds (a provider hiccup)."""
    call = plan.calls[r.randrange(len(plan.calls))]
    call.dur += lognorm(r, 6.0, 0.35)


def finalize(r: random.Random, plan: TracePlan) -> None:
    """Give every call its start/end (seconds from the request's start); apply the budget."""
    t = lognorm(r, 0.015, 0.4)
    for call in plan.calls:
        t += call.gap
        call.start = t
        t += call.dur
        call.end = t
    plan.end = t + lognorm(r, 0.01, 0.4)
    budget = plan.agent.budget_s
    if budget is None or plan.end <= budget:
        return
    kept = [c for c in plan.calls if c.start < budget]
    last = kept[-1]
    if last.end > budget:
        if last.output_tokens:
            done = (budget - last.start) / (last.end - last.start)
            last.output_tokens = int(last.output_tokens * done)
        last.end = budget
        last.failure, last.propagates = errors.CANCELLED, True
    plan.calls = kept
    plan.end = budget
    plan.cut = True
    plan.failure = errors.timeout("asyncio")
