"""Inject the labelled incidents into laid-out traffic, each aimed at its ``magnitude``.

The injections change what requests do, never how many there are: a cost spike makes calls
dearer, a timeout surge makes one tool hang until its client gives up, a hallucination spike
swaps a prompt version. Every injection returns the plans it changed, which are laid out again.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from workbench.simulate import errors
from workbench.simulate.catalog import MODELS
from workbench.simulate.incidents import Incident
from workbench.simulate.plan import CallPlan, TracePlan, generation, lognorm, tool_call
from workbench.simulate.profiles import Profile
from workbench.simulate.timeline import time_out_tool

__all__ = ["BASELINE_TIMEOUT_SHARE", "LOOP_GUARD_S", "inject", "timeout_share"]

#: The demo's share of all requests that time out without incidents (stalls cut at the budget,
#: LLM client time-outs): what a demo timeout surge's magnitude multiplies.
BASELINE_TIMEOUT_SHARE = 0.004
#: The demo tool-agent's loop guard (max execution time): it stops a retry loop before the budget.
LOOP_GUARD_S = 7.4
_MAX_ITERATIONS = 150
#: Extra prefill time per input token of a bloated context.
_PREFILL_S_PER_TOKEN = 2e-5


def timed_out(p: TracePlan) -> bool:
    """Ground truth: did the request, or a call in it, time out?"""
    return p.cut or any(c.failure is not None and c.failure.kind == "timeout" for c in p.calls)


def timeout_share(plans: Sequence[TracePlan]) -> dict[str, float]:
    """Per agent, the share of its requests that timed out (ground truth)."""
    n: dict[str, int] = {}
    hit: dict[str, int] = {}
    for p in plans:
        n[p.agent.name] = n.get(p.agent.name, 0) + 1
        hit[p.agent.name] = hit.get(p.agent.name, 0) + timed_out(p)
    return {a: hit[a] / n[a] for a in n}


def _in_window(plans: Sequence[TracePlan], inc: Incident) -> list[TracePlan]:
    lo, hi = inc.start.value // 1000, inc.end.value // 1000
    return [p for p in plans if lo <= p.start_us < hi]


# ---- hallucination: a prompt version ships -------------------------------------------------------

def _hallucination(r: random.Random, plans: list[TracePlan], inc: Incident, profile: Profile,
                   base: dict[str, float]) -> list[TracePlan]:
    within = inc.within
    prompt = within[1] if within else "rag-answer"
    version = int(inc.cause_value)
    for p in plans:
        hit = False
        for c in p.calls:
            if c.prompt_name == prompt:
                c.prompt_version = version
                hit = True
        if hit:
            p.hallucination_factor = max(p.hallucination_factor, inc.magnitude)
    return []  # timing unchanged: nothing to lay out again


# ---- timeouts: one tool hangs --------------------------------------------------------------------

def _hang_until_timeout(r: random.Random, p: TracePlan, call: CallPlan, retry: bool) -> None:
    """``call`` hangs until its client's time-out; with ``retry`` the agent fetches again."""
    assert call.tool is not None
    if retry:
        tool = call.tool
        target = tool.name if tool.library == "agents" else tool.host
        call.failure = errors.timeout(tool.library, target, tool.timeout_s)
        call.dur = tool.timeout_s * (1.0 + 0.01 * r.random())
        p.calls.insert(p.calls.index(call) + 1, tool_call(r, tool, slow=1.5))
    else:
        time_out_tool(r, p, call)


def _timeout(r: random.Random, plans: list[TracePlan], inc: Incident, profile: Profile,
             base: dict[str, float]) -> list[TracePlan]:
    within = inc.within
    agent = within[1] if within else None
    changed, candidates = [], []
    for p in plans:
        if agent is not None and p.agent.name != agent:
            continue
        calls = [c for c in p.calls if c.kind == "tool" and c.tool is not None
                 and c.tool.name == inc.cause_value and c.failure is None]
        for c in calls:
            c.dur *= 1.5
        if calls:
            changed.append(p)
            if not timed_out(p):
                candidates.append((p, calls))
    if profile.name == "demo":
        n_hang = round((inc.magnitude - 1.0) * BASELINE_TIMEOUT_SHARE * len(plans))
    else:
        n_agent = sum(1 for p in plans if agent is None or p.agent.name == agent)
        share = base.get(agent or "", max(base.values(), default=0.01)) or 0.005
        n_hang = round((inc.magnitude - 1.0) * share * n_agent)
    for p, calls in _spread(r, candidates, n_hang):
        _hang_until_timeout(r, p, r.choice(calls), retry=profile.name == "demo")
    return changed


def _spread(r: random.Random, items: list, n: int) -> list:
    """``n`` of ``items`` (in time order) at even steps from a random offset: a surge that
    holds through its whole window rather than clumping by chance."""
    n = min(n, len(items))
    if n <= 0:
        return []
    step = len(items) / n
    offset = r.random() * step
    return [items[int(offset + k * step)] for k in range(n)]


# ---- cost: the demo's runaway loop ---------------------------------------------------------------

def _malformed(r: random.Random, tool: CallPlan) -> CallPlan:
    assert tool.tool is not None
    call = tool_call(r, tool.tool)
    call.dur = lognorm(r, 0.06, 0.3)
    call.failure = errors.MALFORMED_JSON
    return call


def _runaway(r: random.Random, p: TracePlan, tool_name: str) -> None:
    """Rewrite a tool-agent request into a retry loop on a tool that answers malformed JSON."""
    template = tool_call(r, p.agent.tools[tool_name])
    first = next((c for c in p.calls if c.kind == "generation"), None) or generation(
        r, "route", "gpt-4o", 1300, 45)
    first.failure, first.propagates = None, False
    calls = [first, _malformed(r, template)]
    elapsed = 0.015 + sum(c.gap + c.dur for c in calls)
    iterations = 1
    while iterations < _MAX_ITERATIONS:
        retry = generation(r, "route", "gpt-4o", int(lognorm(r, 7800, 0.04)),
                           max(5, int(lognorm(r, 40, 0.3))))
        # The retry re-sends a cached prompt prefix and emits a short tool call: fast per call.
        retry.dur = lognorm(r, 0.13, 0.25)
        again = _malformed(r, template)
        step = retry.gap + retry.dur + again.gap + again.dur
        if elapsed + step > LOOP_GUARD_S:
            break
        calls += [retry, again]
        elapsed += step
        iterations += 1
    p.calls = calls
    p.failure, p.cut = None, False


def _cost_demo(r: random.Random, plans: list[TracePlan], inc: Incident) -> list[TracePlan]:
    target = (inc.magnitude - 1.0) * sum(p.cost for p in plans)
    candidates = [p for p in plans if p.agent.name == "tool-agent"]
    r.shuffle(candidates)
    added = 0.0
    changed = []
    for p in candidates:
        if added >= target:
            break
        before = p.cost
        _runaway(r, p, inc.cause_value)
        added += p.cost - before
        changed.append(p)
    return changed


# ---- cost: a model's calls get dearer ------------------------------------------------------------

def _cost(r: random.Random, plans: list[TracePlan], inc: Incident, profile: Profile,
          base: dict[str, float]) -> list[TracePlan]:
    if profile.name == "demo":
        return _cost_demo(r, plans, inc)
    within = inc.within
    agent = within[1] if within else None
    model = MODELS[inc.cause_value]
    changed = []
    for p in plans:
        if agent is not None and p.agent.name != agent:
            continue
        hit = False
        for c in p.calls:
            if c.model != inc.cause_value or c.cost is None:
                continue
            extra = (inc.magnitude - 1.0) * c.cost / (model.input_per_m / 1e6)
            c.input_tokens = int((c.input_tokens or 0) + math.ceil(extra))
            c.dur += extra * _PREFILL_S_PER_TOKEN
            hit = True
        if hit:
            changed.append(p)
    return changed


_INJECTORS = {"hallucination_spike": _hallucination, "timeout_surge": _timeout,
              "cost_spike": _cost}


def inject(r: random.Random, plans: Sequence[TracePlan], incidents: Sequence[Incident],
           profile: Profile) -> list[TracePlan]:
    """Apply every incident to the requests that started inside its window, in place; return
    the plans that changed (to be laid out again)."""
    base = timeout_share(plans) if plans else {}
    changed: dict[int, TracePlan] = {}
    for inc in incidents:
        for p in _INJECTORS[inc.runbook](r, _in_window(plans, inc), inc, profile, base):
            changed[id(p)] = p
    return list(changed.values())
