"""The simulated world: agents, models with their list prices, tools, prompts and releases.

Kept apart from the generator so the numbers a demo rests on (prices, latencies, base rates) can be
read in one place and quoted in reports.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AGENTS",
    "AGENT_MIX",
    "BASE_ERROR_RATE",
    "BASE_HALLUCINATION_RATE",
    "BASE_REFUSAL_RATE",
    "ENVIRONMENTS",
    "MODELS",
    "N_USERS",
    "PROMPTS",
    "RELEASES",
    "TOOLS",
    "Model",
    "Tool",
    "cost_usd",
]


@dataclass(frozen=True)
class Model:
    """An LLM with its list price (USD per 1M tokens) and decode speed."""

    name: str
    input_per_m: float
    output_per_m: float
    s_per_output_token: float
    ttft_s: float  # median time to first token


MODELS: dict[str, Model] = {
    "gpt-4o": Model("gpt-4o", 2.50, 10.00, 0.0085, 0.40),
    "gpt-4o-mini": Model("gpt-4o-mini", 0.15, 0.60, 0.0065, 0.32),
    "claude-sonnet-4.5": Model("claude-sonnet-4.5", 3.00, 15.00, 0.0100, 0.45),
}


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """List-price cost of one LLM call."""
    m = MODELS[model]
    return (input_tokens * m.input_per_m + output_tokens * m.output_per_m) / 1e6


@dataclass(frozen=True)
class Tool:
    """A tool an agent can call; latency is lognormal around ``median_s``."""

    name: str
    median_s: float
    sigma: float


TOOLS: dict[str, Tool] = {
    "search_api": Tool("search_api", 0.35, 0.45),
    "sql_query": Tool("sql_query", 0.22, 0.40),
    "web_fetch": Tool("web_fetch", 0.45, 0.50),
}

AGENTS = ("rag-agent", "tool-agent", "planner-agent")
#: Share of requests each agent serves.
AGENT_MIX = (0.45, 0.30, 0.25)

#: One release per agent (OpenTelemetry ``service.version``).
RELEASES = {"rag-agent": "2.4.1", "tool-agent": "1.9.0", "planner-agent": "0.7.3"}

#: (environment, share of traffic)
ENVIRONMENTS = (("production", 0.93), ("staging", 0.07))

#: Prompt templates and the version live outside incidents.
PROMPTS = {
    "rag-answer": 7,
    "tool-router": 3,
    "planner-plan": 5,
    "planner-answer": 2,
}

N_USERS = 300

#: Share of requests that fail outright (root ERROR, not a timeout).
BASE_ERROR_RATE = 0.010
#: Share of evaluated answers that an LLM judge marks hallucinated, per agent.
BASE_HALLUCINATION_RATE = {"rag-agent": 0.05, "planner-agent": 0.04}
#: Share of evaluated answers that are unexpected refusals.
BASE_REFUSAL_RATE = 0.015
