"""The two simulated worlds: ``demo`` and ``realistic``.

``demo`` is the embedded demo's story: three agents at 5,000 requests a day with gentle daily
waves, every answer judged, three loud incidents. ``realistic`` is written from how production
projects look: four agents in four instrumentation styles, about 1,000-2,000 requests a day with
deep night troughs and quiet weekends, a traffic mix that shifts by hour (the expensive research
agent takes three times its daytime share in the evening), one agent that routinely runs past
8 s by design, and LLM-as-judge evaluations on a sample of about 20 % of the answers.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from workbench.errors import ConfigError
from workbench.simulate import errors
from workbench.simulate.catalog import AgentSpec, Tool
from workbench.simulate.plan import CallPlan, generation, retrieval, tokens, tool_call

__all__ = ["DEMO", "PROFILES", "REALISTIC", "Judge", "Profile", "get_profile"]


@dataclass(frozen=True)
class Judge:
    """An LLM-as-judge evaluator as Langfuse runs it: a score name, its data type, the share
    of eligible traces (or tool observations) it samples."""

    name: str
    data_type: str  # NUMERIC | BOOLEAN | CATEGORICAL
    target: str  # answer | tool
    sample: float = 1.0


@dataclass(frozen=True)
class Profile:
    """A simulated world: agents, traffic shape, base rates and judges."""

    name: str
    agents: tuple[AgentSpec, ...]
    traces_per_day: int
    days: int
    peak_hour_utc: float
    night_floor: float  # traffic at the trough as a share of the peak
    day_width_h: float  # width of the busy part of the day
    weekend_factor: float
    environments: tuple[tuple[str, float], ...]
    n_users: int
    error_rate: float  # requests that fail outright (an LLM or tool error ends them)
    stall_rate: float  # requests where one call hangs for seconds
    tool_retry_rate: float  # tool calls that fail transiently and are retried
    tool_timeout_rate: float  # tool calls that time out in the baseline
    hallucination_rate: Mapping[str, float]
    refusal_rate: float
    tool_valid_rate: float
    judges: tuple[Judge, ...]
    session_block_s: int = 7200
    tags: tuple[str, ...] = ()
    extra: Mapping[str, float] = field(default_factory=dict)

    def agent(self, name: str) -> AgentSpec:
        for a in self.agents:
            if a.name == name:
                return a
        raise ConfigError(f"profile {self.name!r} has no agent {name!r}; agents: "
                          f"{[a.name for a in self.agents]}")


def _with_retries(r: random.Random, tool: Tool, rate: float) -> list[CallPlan]:
    """A tool call, retried after transient server errors (each failed try kept, handled)."""
    calls = [tool_call(r, tool)]
    while r.random() < rate:
        failed = calls[-1]
        failed.dur *= 0.5
        failed.failure = errors.tool_failure(r, tool.name, tool.host)
        calls.append(tool_call(r, tool))
    return calls


# ---- demo ---------------------------------------------------------------------------------------

_DEMO_TOOLS = {
    "search_api": Tool("search_api", 0.35, 0.45, "httpx", "search.internal", 10),
    "sql_query": Tool("sql_query", 0.22, 0.40, "asyncio", "db.internal", 5),
    "web_fetch": Tool("web_fetch", 0.45, 0.50, "httpx", "fetch.internal", 5),
}
_DEMO_RETRY = 0.015


def _rag(r: random.Random, spec: AgentSpec) -> list[CallPlan]:
    model = "gpt-4o-mini" if r.random() < 0.75 else "gpt-4o"
    return [retrieval(r, "retrieve_context"),
            generation(r, "answer", model, tokens(r, 2200, 0.25), tokens(r, 170, 0.45),
                       "rag-answer", spec.prompts["rag-answer"])]


def _tool_agent(r: random.Random, spec: AgentSpec) -> list[CallPlan]:
    calls: list[CallPlan] = []
    context = tokens(r, 1300, 0.2)
    x = r.random()
    iterations = 1 if x < 0.55 else 2 if x < 0.88 else 3
    for _ in range(iterations):
        out = tokens(r, 45, 0.3)
        calls.append(generation(r, "route", "gpt-4o", context, out))
        context += out
        for _ in range(1 if r.random() < 0.8 else 2):
            tool = spec.tools["search_api" if r.random() < 0.6 else "sql_query"]
            calls += _with_retries(r, tool, _DEMO_RETRY)
            context += tokens(r, 350, 0.4)
    calls.append(generation(r, "respond", "gpt-4o", context, tokens(r, 140, 0.4)))
    return calls


def _planner(r: random.Random, spec: AgentSpec) -> list[CallPlan]:
    calls = [generation(r, "plan", "claude-sonnet-4-5", tokens(r, 900, 0.2), tokens(r, 85, 0.35))]
    x = r.random()
    steps = 2 if x < 0.35 else 3 if x < 0.8 else 4
    context = tokens(r, 1600, 0.2)
    for _ in range(steps):
        y = r.random()
        tool = spec.tools["web_fetch" if y < 0.5 else "search_api" if y < 0.8 else "sql_query"]
        calls += _with_retries(r, tool, _DEMO_RETRY)
        context += tokens(r, 400, 0.4)
    calls.append(generation(r, "answer", "gpt-4o-mini", context, tokens(r, 150, 0.4)))
    return calls


DEMO = Profile(
    name="demo",
    agents=(
        AgentSpec("rag-agent", "langfuse", 0.45, "2.4.1", "rag-api", {}, _rag, budget_s=8.0,
                  judged=True, prompts={"rag-answer": 7}, models=("gpt-4o-mini", "gpt-4o")),
        AgentSpec("tool-agent", "openinference", 0.30, "1.9.0", "tools-api",
                  {k: _DEMO_TOOLS[k] for k in ("search_api", "sql_query")}, _tool_agent,
                  budget_s=8.0, models=("gpt-4o",)),
        AgentSpec("planner-agent", "genai", 0.25, "0.7.3", "planner-api", _DEMO_TOOLS, _planner,
                  budget_s=8.0, judged=True, models=("claude-sonnet-4-5", "gpt-4o-mini")),
    ),
    traces_per_day=5000, days=7, peak_hour_utc=15.0, night_floor=0.21, day_width_h=24.0,
    weekend_factor=0.75, environments=(("production", 0.93), ("staging", 0.07)), n_users=300,
    error_rate=0.010, stall_rate=0.0035, tool_retry_rate=_DEMO_RETRY, tool_timeout_rate=0.0,
    hallucination_rate={"rag-agent": 0.05, "planner-agent": 0.04}, refusal_rate=0.015,
    tool_valid_rate=0.98,
    judges=(Judge("Hallucination", "NUMERIC", "answer"), Judge("Faithfulness", "NUMERIC", "answer"),
            Judge("Topic Adherence Refusal", "NUMERIC", "answer"),
            Judge("Tool Correctness", "BOOLEAN", "tool")),
)


# ---- realistic ----------------------------------------------------------------------------------

_TOOLS = {
    "search_kb": Tool("search_kb", 0.30, 0.45, "httpx", "kb.internal", 8),
    "get_order": Tool("get_order", 0.25, 0.40, "requests", "orders.internal", 10),
    "web_search": Tool("web_search", 1.10, 0.45, "httpx", "api.search.example", 15),
    "fetch_page": Tool("fetch_page", 1.60, 0.60, "asyncio", "fetch.internal", 20),
    "run_sql": Tool("run_sql", 0.40, 0.55, "grpc", "/warehouse.Query/Run", 5),
    "get_invoice": Tool("get_invoice", 0.30, 0.40, "requests", "billing.internal", 10),
    "search_products": Tool("search_products", 0.45, 0.45, "agents", "catalog.internal", 10),
    "track_shipment": Tool("track_shipment", 0.55, 0.50, "agents", "shipping.internal", 10),
}
_RETRY = 0.012


def _support(r: random.Random, spec: AgentSpec) -> list[CallPlan]:
    calls: list[CallPlan] = []
    context = tokens(r, 1900, 0.3)
    if r.random() < 0.8:  # most requests are routed first: the answer is the second generation
        calls.append(generation(r, "route", "gpt-4.1-nano", tokens(r, 700, 0.2),
                                tokens(r, 18, 0.3), "support-router",
                                spec.prompts["support-router"]))
    if r.random() < 0.75:
        calls += _with_retries(r, spec.tools["search_kb"], _RETRY)
        context += tokens(r, 900, 0.4)
    if r.random() < 0.35:
        calls += _with_retries(r, spec.tools["get_order"], _RETRY)
        context += tokens(r, 250, 0.3)
    calls.append(generation(r, "answer", "gpt-4.1-mini", context, tokens(r, 230, 0.45),
                            "answer", spec.prompts["answer"]))
    if r.random() < 0.06:  # escalations get a second opinion from the large model
        calls.append(generation(r, "escalate", "gpt-4.1", context + 300, tokens(r, 260, 0.4)))
    return calls


def _research(r: random.Random, spec: AgentSpec) -> list[CallPlan]:
    calls = [generation(r, "plan", "gpt-4.1", tokens(r, 1500, 0.25), tokens(r, 320, 0.35))]
    context = tokens(r, 2500, 0.3)
    steps = 3 + int(r.random() * 5)
    for _ in range(steps):
        y = r.random()
        name = "web_search" if y < 0.45 else "fetch_page" if y < 0.85 else "search_kb"
        calls += _with_retries(r, spec.tools[name], _RETRY)
        context += tokens(r, 1300, 0.5)
    calls.append(generation(r, "synthesize", "gpt-4.1", context, tokens(r, 850, 0.35)))
    return calls


def _billing(r: random.Random, spec: AgentSpec) -> list[CallPlan]:
    calls = [generation(r, "chat", "claude-haiku-4-5", tokens(r, 1200, 0.2), tokens(r, 60, 0.3))]
    context = tokens(r, 1400, 0.2)
    for _ in range(1 if r.random() < 0.7 else 2):
        tool = spec.tools["run_sql" if r.random() < 0.6 else "get_invoice"]
        calls += _with_retries(r, tool, _RETRY)
        context += tokens(r, 500, 0.5)
    calls.append(generation(r, "chat", "claude-haiku-4-5", context, tokens(r, 180, 0.4)))
    return calls


def _shop(r: random.Random, spec: AgentSpec) -> list[CallPlan]:
    calls: list[CallPlan] = []
    context = tokens(r, 1600, 0.2)
    turns = 1 if r.random() < 0.6 else 2
    for _ in range(turns):
        out = tokens(r, 40, 0.3)
        calls.append(generation(r, "response", "gpt-4o-mini", context, out))
        context += out
        tool = spec.tools["search_products" if r.random() < 0.7 else "track_shipment"]
        calls += _with_retries(r, tool, _RETRY)
        context += tokens(r, 700, 0.4)
    calls.append(generation(r, "response", "gpt-4o-mini", context, tokens(r, 200, 0.4)))
    return calls


REALISTIC = Profile(
    name="realistic",
    agents=(
        AgentSpec("support-agent", "langfuse", 0.50, "3.12.0", "support-api",
                  {k: _TOOLS[k] for k in ("search_kb", "get_order")}, _support, budget_s=15.0,
                  judged=True, prompts={"support-router": 3, "answer": 12},
                  models=("gpt-4.1-nano", "gpt-4.1-mini", "gpt-4.1")),
        AgentSpec("research-agent", "openinference", 0.09, "0.9.4", "research-worker",
                  {k: _TOOLS[k] for k in ("web_search", "fetch_page", "search_kb")}, _research,
                  budget_s=None, evening_boost=3.5, judged=True, models=("gpt-4.1",)),
        AgentSpec("billing-agent", "genai", 0.20, "1.4.2", "billing-svc",
                  {k: _TOOLS[k] for k in ("run_sql", "get_invoice")}, _billing, budget_s=10.0,
                  http_root=True, models=("claude-haiku-4-5",)),
        AgentSpec("shop-assistant", "openai_agents", 0.21, "2026.11.1", "shop-assistant",
                  {k: _TOOLS[k] for k in ("search_products", "track_shipment")}, _shop,
                  budget_s=None, models=("gpt-4o-mini",)),
    ),
    traces_per_day=1250, days=28, peak_hour_utc=14.5, night_floor=0.04, day_width_h=9.0,
    weekend_factor=0.45, environments=(("production", 1.0),), n_users=900,
    error_rate=0.010, stall_rate=0.002, tool_retry_rate=_RETRY, tool_timeout_rate=0.006,
    hallucination_rate={"support-agent": 0.06, "research-agent": 0.08}, refusal_rate=0.01,
    tool_valid_rate=0.97,
    judges=(Judge("Hallucination", "NUMERIC", "answer", 0.2),
            Judge("Check Answer Groundedness", "CATEGORICAL", "answer", 0.2),
            Judge("Out-of-Scope Request", "BOOLEAN", "answer", 0.2),
            Judge("Tool Correctness", "BOOLEAN", "tool", 0.2)),
    tags=("web", "web", "web", "mobile", "slack"),
)

PROFILES = {p.name: p for p in (DEMO, REALISTIC)}


def get_profile(name: str | Profile) -> Profile:
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown profile {name!r}; profiles: {sorted(PROFILES)}") from None
