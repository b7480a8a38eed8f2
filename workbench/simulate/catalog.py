"""The simulated world: models with their list prices, tools, agents and their instrumentation.

Kept apart from the generator so the numbers a dataset rests on (prices, latencies, base rates,
traffic shares) can be read in one place and quoted in reports. Prices are the list prices in
USD per 1M tokens that Langfuse's default model table holds for these models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["MODELS", "STYLES", "AgentSpec", "Model", "Tool", "cost_usd"]


@dataclass(frozen=True)
class Model:
    """An LLM with its provider, list price (USD per 1M tokens) and decode speed."""

    name: str
    provider: str  # gen_ai.provider.name / llm.provider: openai | anthropic
    input_per_m: float
    output_per_m: float
    s_per_output_token: float
    ttft_s: float  # median time to first token


MODELS: dict[str, Model] = {m.name: m for m in (
    Model("gpt-4o", "openai", 2.50, 10.00, 0.0085, 0.40),
    Model("gpt-4o-mini", "openai", 0.15, 0.60, 0.0065, 0.32),
    Model("gpt-4.1", "openai", 2.00, 8.00, 0.0080, 0.45),
    Model("gpt-4.1-mini", "openai", 0.40, 1.60, 0.0060, 0.30),
    Model("gpt-4.1-nano", "openai", 0.10, 0.40, 0.0040, 0.22),
    Model("claude-sonnet-4-5", "anthropic", 3.00, 15.00, 0.0100, 0.45),
    Model("claude-haiku-4-5", "anthropic", 1.00, 5.00, 0.0055, 0.30),
)}


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """List-price cost of one LLM call."""
    m = MODELS[model]
    return (input_tokens * m.input_per_m + output_tokens * m.output_per_m) / 1e6


@dataclass(frozen=True)
class Tool:
    """A tool an agent calls: latency lognormal around ``median_s``; the client library whose
    words a time-out of it is reported in, the host it talks to, and its read time-out."""

    name: str
    median_s: float
    sigma: float
    library: str = "httpx"  # httpx | requests | asyncio | grpc | agents
    host: str = "api.internal"
    timeout_s: int = 10


#: Instrumentation styles: how an agent's spans are written (see ``workbench.simulate.styles``).
STYLES = ("langfuse", "genai", "openinference", "openai_agents")


@dataclass(frozen=True)
class AgentSpec:
    """One agent: its instrumentation, deployment and the shape of its requests.

    ``plan`` draws one healthy request's span plan. ``budget_s``: the serving layer cancels a
    request still running after this many seconds (None: no cut). ``evening_boost``: how many
    times more of the traffic it takes in the evening than in the day (1: flat).
    """

    name: str
    style: str
    share: float
    release: str
    service: str
    tools: Mapping[str, Tool]
    plan: Callable[..., list]
    budget_s: float | None = 8.0
    evening_boost: float = 1.0
    http_root: bool = False
    judged: bool = False  # answers are evaluated by the LLM judges
    prompts: Mapping[str, int] = field(default_factory=dict)  # prompt name -> live version
    models: tuple[str, ...] = ()  # the models its plan calls

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"agent {self.name}: unknown style {self.style!r}; known: {STYLES}")
