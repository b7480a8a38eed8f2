"""What each request does: the span tree of one trace per agent, before incidents and the budget.

A plan holds durations only; :mod:`workbench.simulate.timeline` lays the spans out in time, applies
failures and cuts a trace at the 8 s budget. Per-span draws use :class:`random.Random` (cheap
scalar draws, seeded from the run's numpy generator) so the whole demo is reproducible.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from workbench.simulate.catalog import MODELS, PROMPTS, RELEASES, TOOLS, cost_usd

__all__ = ["SpanPlan", "TracePlan", "generation", "plan_trace", "tool_call"]

# Baseline share of tool calls that fail with a transient error and are retried.
_TOOL_RETRY_RATE = 0.015


@dataclass(slots=True)
class SpanPlan:
    """One child span of a trace. ``start``/``end`` are seconds from the root's start."""

    name: str
    type: str  # generation | tool | retriever
    dur: float
    gap: float
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    tool: str | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    level: str = "DEFAULT"
    error_type: str | None = None
    message: str | None = None
    start: float = 0.0
    end: float = 0.0

    @property
    def cost(self) -> float | None:
        if self.model is None:
            return None
        return cost_usd(self.model, self.input_tokens or 0, self.output_tokens or 0)


@dataclass(slots=True)
class TracePlan:
    """One request: who, where, and its child spans in execution order."""

    agent: str
    environment: str
    release: str
    user_id: str
    session_id: str
    start_us: int
    spans: list[SpanPlan] = field(default_factory=list)
    level: str = "DEFAULT"
    error_type: str | None = None
    message: str | None = None
    end: float = 0.0

    @property
    def cost(self) -> float:
        return sum(c for s in self.spans if (c := s.cost) is not None)


def _lognorm(r: random.Random, median: float, sigma: float) -> float:
    return r.lognormvariate(math.log(median), sigma)


def _gap(r: random.Random) -> float:
    return _lognorm(r, 0.012, 0.5)


def generation(r: random.Random, model: str, input_tokens: int, output_tokens: int,
               prompt: str | None, version: int | None = None) -> SpanPlan:
    """An LLM call; latency is time to first token plus decode time of the output."""
    m = MODELS[model]
    dur = _lognorm(r, m.ttft_s, 0.35) + output_tokens * m.s_per_output_token * _lognorm(r, 1, 0.15)
    if prompt is not None and version is None:
        version = PROMPTS[prompt]
    return SpanPlan(f"chat {model}", "generation", dur, _gap(r), model=model,
                    input_tokens=int(input_tokens), output_tokens=int(output_tokens),
                    prompt_name=prompt, prompt_version=version)


def tool_call(r: random.Random, tool: str, slow: float = 1.0) -> SpanPlan:
    t = TOOLS[tool]
    return SpanPlan(f"execute_tool {tool}", "tool", _lognorm(r, t.median_s, t.sigma) * slow,
                    _gap(r), tool=tool)


def _tools_with_retries(r: random.Random, tool: str) -> list[SpanPlan]:
    spans = [tool_call(r, tool)]
    while r.random() < _TOOL_RETRY_RATE:
        failed = spans[-1]
        failed.dur *= 0.5
        failed.level, failed.error_type = "ERROR", "tool_error"
        failed.message = f"{tool}: upstream returned HTTP 502"
        spans.append(tool_call(r, tool))
    return spans


def _tokens(r: random.Random, median: float, sigma: float, floor: int = 5) -> int:
    return max(floor, int(_lognorm(r, median, sigma)))


def _rag(r: random.Random) -> list[SpanPlan]:
    retrieval = SpanPlan("retrieval knowledge-base", "retriever", _lognorm(r, 0.22, 0.4), _gap(r))
    model = "gpt-4o-mini" if r.random() < 0.75 else "gpt-4o"
    answer = generation(r, model, _tokens(r, 2200, 0.25), _tokens(r, 170, 0.45), "rag-answer")
    return [retrieval, answer]


def _tool_agent(r: random.Random) -> list[SpanPlan]:
    spans: list[SpanPlan] = []
    context = _tokens(r, 1300, 0.2)
    x = r.random()
    iterations = 1 if x < 0.55 else 2 if x < 0.88 else 3
    for _ in range(iterations):
        out = _tokens(r, 45, 0.3)
        spans.append(generation(r, "gpt-4o", context, out, "tool-router"))
        context += out
        for _ in range(1 if r.random() < 0.8 else 2):
            tool = "search_api" if r.random() < 0.6 else "sql_query"
            spans += _tools_with_retries(r, tool)
            context += _tokens(r, 350, 0.4)
    spans.append(generation(r, "gpt-4o", context, _tokens(r, 140, 0.4), "tool-router"))
    return spans


def _planner(r: random.Random) -> list[SpanPlan]:
    spans = [generation(r, "claude-sonnet-4.5", _tokens(r, 900, 0.2), _tokens(r, 85, 0.35),
                        "planner-plan")]
    x = r.random()
    steps = 2 if x < 0.35 else 3 if x < 0.8 else 4
    context = _tokens(r, 1600, 0.2)
    for _ in range(steps):
        y = r.random()
        tool = "web_fetch" if y < 0.5 else "search_api" if y < 0.8 else "sql_query"
        spans += _tools_with_retries(r, tool)
        context += _tokens(r, 400, 0.4)
    spans.append(generation(r, "gpt-4o-mini", context, _tokens(r, 150, 0.4), "planner-answer"))
    return spans


_PLANNERS = {"rag-agent": _rag, "tool-agent": _tool_agent, "planner-agent": _planner}


def plan_trace(r: random.Random, agent: str, environment: str, user_id: str, session_id: str,
               start_us: int) -> TracePlan:
    """The baseline (healthy) span plan of one request to ``agent``."""
    return TracePlan(agent, environment, RELEASES[agent], user_id, session_id, int(start_us),
                     _PLANNERS[agent](r))
