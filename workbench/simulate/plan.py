"""What each request does: one trace's calls, before incidents, failures and the budget.

A plan holds durations only; :mod:`workbench.simulate.timeline` lays the calls out in time,
applies failures and cuts a request at its agent's budget, and
:mod:`workbench.simulate.styles` writes it as spans in the agent's instrumentation style. Per-call
draws use :class:`random.Random` (cheap scalar draws, seeded from the run's numpy generator) so a
whole dataset is reproducible.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.simulate.catalog import MODELS, cost_usd
from workbench.simulate.errors import Failure

if TYPE_CHECKING:
    from workbench.simulate.catalog import AgentSpec, Tool

__all__ = ["CallPlan", "TracePlan", "generation", "lognorm", "retrieval", "tokens", "tool_call"]


@dataclass(slots=True, eq=False)
class CallPlan:
    """One call inside a request: an LLM call, a tool call or a retrieval.

    ``start``/``end`` are seconds from the request's start. ``failure`` is the exception the call
    ended with; ``propagates`` says whether it ended the request (else the agent carried on).
    """

    kind: str  # generation | tool | retrieval
    name: str  # the step's name in the agent's code (generation / retrieval); the tool's name
    dur: float
    gap: float
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    tool: Tool | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    failure: Failure | None = None
    propagates: bool = False
    start: float = 0.0
    end: float = 0.0

    @property
    def cost(self) -> float | None:
        if self.model is None:
            return None
        return cost_usd(self.model, self.input_tokens or 0, self.output_tokens or 0)


@dataclass(slots=True, eq=False)
class TracePlan:
    """One request: who, where, and its calls in execution order."""

    agent: AgentSpec
    environment: str
    user_id: str
    session_id: str
    start_us: int
    calls: list[CallPlan] = field(default_factory=list)
    tags: tuple[str, ...] = ()
    failure: Failure | None = None  # what the request as a whole ended with
    warning: str | None = None  # a handled problem the agent reported (level WARNING)
    cut: bool = False  # cancelled by the serving layer at the agent's budget
    end: float = 0.0
    hallucination_factor: float = 1.0  # > 1: the answer ran a faulty prompt (ground truth)
    trace_id: str = ""  # filled in when the spans are recorded

    @property
    def cost(self) -> float:
        return sum(c for s in self.calls if (c := s.cost) is not None)


def lognorm(r: random.Random, median: float, sigma: float) -> float:
    return r.lognormvariate(math.log(median), sigma)


def gap(r: random.Random) -> float:
    return lognorm(r, 0.012, 0.5)


def tokens(r: random.Random, median: float, sigma: float, floor: int = 5) -> int:
    return max(floor, int(lognorm(r, median, sigma)))


def generation(r: random.Random, name: str, model: str, input_tokens: int, output_tokens: int,
               prompt: str | None = None, version: int | None = None) -> CallPlan:
    """An LLM call; latency is time to first token plus decode time of the output."""
    m = MODELS[model]
    dur = lognorm(r, m.ttft_s, 0.35) + output_tokens * m.s_per_output_token * lognorm(r, 1, 0.15)
    return CallPlan("generation", name, dur, gap(r), model=model,
                    input_tokens=int(input_tokens), output_tokens=int(output_tokens),
                    prompt_name=prompt, prompt_version=version if prompt else None)


def tool_call(r: random.Random, tool: Tool, slow: float = 1.0) -> CallPlan:
    return CallPlan("tool", tool.name, lognorm(r, tool.median_s, tool.sigma) * slow, gap(r),
                    tool=tool)


def retrieval(r: random.Random, name: str, median_s: float = 0.22) -> CallPlan:
    return CallPlan("retrieval", name, lognorm(r, median_s, 0.4), gap(r))
