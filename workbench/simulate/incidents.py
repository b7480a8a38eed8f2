"""Labelled incidents injected into a simulated dataset, so every detector has a known answer.

A label names the runbook, the window ``[start, end)`` (the requests that *started* in it), the
cause at the narrowest level that explains it (``cause_dimension`` = ``cause_value``, within
``cause_within`` when the value alone is ambiguous: ``agent=research-agent`` for a model or a tool
within one agent, ``prompt_name=answer`` for a prompt version) and the ``magnitude``:

- ``cost_spike``: demo, hourly spend against the same traffic without the incident; realistic,
  the cost of one call of the model within the agent, against its usual cost;
- ``hallucination_spike``: hallucination rate of the answers that ran the new prompt version,
  against the baseline rate;
- ``timeout_surge``: demo, share of all requests that timed out against the baseline share;
  realistic, share of the agent's requests with a timed-out call, against the agent's baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from workbench.errors import ConfigError

__all__ = ["LABEL_COLUMNS", "RUNBOOKS", "Incident", "default_incidents", "labels_frame",
           "parse_within"]

RUNBOOKS = ("cost_spike", "hallucination_spike", "timeout_surge")
LABEL_COLUMNS = ["runbook", "start", "end", "cause_dimension", "cause_value", "cause_within",
                 "magnitude", "description"]

# The demo's faults: (dimension, value, within) per runbook.
_DEMO_CAUSES = {
    "cost_spike": ("tool_name", "search_api", "agent=tool-agent"),
    "hallucination_spike": ("prompt_version", "8", "prompt_name=rag-answer"),
    "timeout_surge": ("tool_name", "web_fetch", "agent=planner-agent"),
}
_DEMO_MAGNITUDE = {"cost_spike": 8.0, "hallucination_spike": 5.0, "timeout_surge": 20.0}
# The dimension each runbook's realistic injection changes.
_REALISTIC_DIMENSION = {"cost_spike": "model", "hallucination_spike": "prompt_version",
                        "timeout_surge": "tool_name"}
_REALISTIC_WITHIN = {"cost_spike": "agent", "hallucination_spike": "prompt_name",
                     "timeout_surge": "agent"}


def _utc(ts: Any) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def parse_within(within: str) -> tuple[str, str] | None:
    """``"agent=support-agent"`` -> ``("agent", "support-agent")``; ``""`` -> None."""
    if not within:
        return None
    key, sep, value = within.partition("=")
    if not sep or not key or not value:
        raise ConfigError(f"cause_within must read 'dimension=value', got {within!r}")
    return key, value


@dataclass(frozen=True)
class Incident:
    """One injected incident: what broke, when (``[start, end)``, UTC), where and how hard."""

    runbook: str
    start: pd.Timestamp
    end: pd.Timestamp
    cause_dimension: str
    cause_value: str
    magnitude: float
    description: str = ""
    cause_within: str = ""

    def __post_init__(self) -> None:
        if self.runbook not in RUNBOOKS:
            raise ConfigError(f"unknown incident runbook {self.runbook!r}; "
                              f"expected one of {list(RUNBOOKS)}")
        object.__setattr__(self, "start", _utc(self.start))
        object.__setattr__(self, "end", _utc(self.end))
        object.__setattr__(self, "cause_value", str(self.cause_value))
        object.__setattr__(self, "cause_within", str(self.cause_within or ""))
        if self.end <= self.start:
            raise ConfigError(f"{self.runbook}: incident end {self.end} is not after start "
                              f"{self.start}")
        if not self.magnitude > 0:
            raise ConfigError(f"{self.runbook}: magnitude must be > 0, got {self.magnitude!r}")
        parse_within(self.cause_within)

    @property
    def within(self) -> tuple[str, str] | None:
        return parse_within(self.cause_within)

    def check_injectable(self, profile: Any = "demo") -> None:
        """Raise ConfigError unless the simulator can inject this incident into ``profile``."""
        from workbench.simulate.profiles import get_profile

        p = get_profile(profile)
        if not self.magnitude > 1.0:
            raise ConfigError(f"{self.runbook}: magnitude must be > 1 (a multiple of the "
                              f"baseline) to inject it, got {self.magnitude!r}")
        if p.name == "demo":
            dim, val, within = _DEMO_CAUSES[self.runbook]
            if (self.cause_dimension, self.cause_value) != (dim, val) or \
                    self.cause_within not in ("", within):
                raise ConfigError(f"{self.runbook}: the demo injects cause {dim}={val!r} "
                                  f"(within {within}), not {self.cause_dimension}="
                                  f"{self.cause_value!r}")
            return
        _check_realistic(self, p)

    def covers(self, ts: pd.Timestamp) -> bool:
        return self.start <= ts < self.end


def _check_realistic(inc: Incident, p: Any) -> None:
    dim = _REALISTIC_DIMENSION[inc.runbook]
    if inc.cause_dimension != dim:
        raise ConfigError(f"{inc.runbook}: the {p.name} profile injects a cause on {dim!r}, "
                          f"not {inc.cause_dimension!r}")
    within = inc.within
    if within is None or within[0] != _REALISTIC_WITHIN[inc.runbook]:
        raise ConfigError(f"{inc.runbook}: cause_within must read "
                          f"'{_REALISTIC_WITHIN[inc.runbook]}=...', got {inc.cause_within!r}")
    if inc.runbook == "hallucination_spike":
        prompt = within[1]
        owners = [a for a in p.agents if prompt in a.prompts and a.judged]
        if not owners:
            raise ConfigError(f"hallucination_spike: no judged agent of {p.name} uses prompt "
                              f"{prompt!r}")
        if not inc.cause_value.isdigit() or int(inc.cause_value) == owners[0].prompts[prompt]:
            raise ConfigError(f"hallucination_spike: cause_value must be a new version of "
                              f"{prompt!r} (live: {owners[0].prompts[prompt]}), got "
                              f"{inc.cause_value!r}")
        return
    agent = p.agent(within[1])
    if inc.runbook == "timeout_surge" and inc.cause_value not in agent.tools:
        raise ConfigError(f"timeout_surge: {agent.name} calls no tool {inc.cause_value!r}; its "
                          f"tools: {sorted(agent.tools)}")
    if inc.runbook == "cost_spike" and inc.cause_value not in agent.models:
        raise ConfigError(f"cost_spike: {agent.name} calls no model {inc.cause_value!r}; its "
                          f"models: {list(agent.models)}")


def default_incidents(start: str | pd.Timestamp, days: int, magnitude: float | None = None,
                      profile: Any = "demo") -> list[Incident]:
    """The profile's three incidents, on different days, each a few hours long.

    demo (7 days): timeout surge on day 4, cost spike on day 5, hallucination spike on day 6
    (1-based); shorter datasets squeeze them onto the later days. realistic: the last three
    weekdays at least two days apart (from Monday 2026-11-02 over 28 days: Monday 23, Wednesday
    25 and Friday 27 November, after three quiet weeks). ``magnitude`` overrides every
    incident's default strength.
    """
    from workbench.simulate.profiles import get_profile

    if days < 1:
        raise ConfigError(f"days must be >= 1, got {days}")
    p = get_profile(profile)
    day0 = _utc(start).normalize()
    last = days - 1
    if p.name == "demo":
        if days >= 6:
            offsets = {"timeout_surge": 3, "cost_spike": 4, "hallucination_spike": 5}
        else:
            offsets = {"timeout_surge": max(0, last - 2), "cost_spike": max(0, last - 1),
                       "hallucination_spike": last}
    else:
        offsets = _weekday_offsets(day0, days)
    h = pd.Timedelta(hours=1)

    def at(runbook: str, hour: int) -> pd.Timestamp:
        return day0 + pd.Timedelta(days=offsets[runbook]) + hour * h

    if p.name == "demo":
        def mag(runbook: str) -> float:
            return float(magnitude) if magnitude is not None else _DEMO_MAGNITUDE[runbook]

        t, c, a = at("timeout_surge", 13), at("cost_spike", 9), at("hallucination_spike", 10)
        return [
            Incident("timeout_surge", t, t + 3 * h, *_DEMO_CAUSES["timeout_surge"][:2],
                     mag("timeout_surge"),
                     "web_fetch in planner-agent slows down and many calls hang until httpx "
                     "gives up (ReadTimeout after 5 s); the planner fetches again and many "
                     "requests hit the 8 s budget", _DEMO_CAUSES["timeout_surge"][2]),
            Incident("cost_spike", c, c + 3 * h, *_DEMO_CAUSES["cost_spike"][:2],
                     mag("cost_spike"),
                     "search_api returns a body that is not JSON; tool-agent retries at ~8,000 "
                     "tokens per iteration until its loop guard stops it",
                     _DEMO_CAUSES["cost_spike"][2]),
            Incident("hallucination_spike", a, a + 5 * h,
                     *_DEMO_CAUSES["hallucination_spike"][:2], mag("hallucination_spike"),
                     "prompt rag-answer version 8 ships; hallucinations rise until the rollback "
                     "to version 7", _DEMO_CAUSES["hallucination_spike"][2]),
        ]

    def rmag(default: float) -> float:
        return float(magnitude) if magnitude is not None else default

    t, c, a = at("timeout_surge", 13), at("cost_spike", 10), at("hallucination_spike", 9)
    return [
        Incident("timeout_surge", t, t + 5 * h, "tool_name", "search_kb", rmag(4.0),
                 "the knowledge-base search behind support-agent starts timing out (httpx "
                 "ReadTimeout after 8 s); research-agent's own route to it stays healthy",
                 "agent=support-agent"),
        Incident("cost_spike", c, c + 6 * h, "model", "gpt-4.1", rmag(2.5),
                 "research-agent stops trimming its context: every gpt-4.1 call carries far more "
                 "input tokens; support-agent's gpt-4.1 escalations are unaffected",
                 "agent=research-agent"),
        Incident("hallucination_spike", a, a + 8 * h, "prompt_version", "13", rmag(3.0),
                 "version 13 of the support prompt 'answer' ships at 09:00 and is rolled back "
                 "at 17:00; it is used by the answer, usually the trace's second generation",
                 "prompt_name=answer"),
    ]


def _weekday_offsets(day0: pd.Timestamp, days: int) -> dict[str, int]:
    """The realistic incidents on the last three weekdays of the window at least two days
    apart (hallucination last, then cost, then timeouts), so quiet days come before them."""
    picked: list[int] = []
    d = days - 1
    while d >= 0 and len(picked) < 3:
        if (day0 + pd.Timedelta(days=d)).day_of_week < 5:
            picked.append(d)
            d -= 2
        else:
            d -= 1
    while len(picked) < 3:  # a window too short for three weekdays: share the first day
        picked.append(max(0, picked[-1] - 1) if picked else 0)
    return {"hallucination_spike": picked[0], "cost_spike": picked[1],
            "timeout_surge": picked[2]}


def labels_frame(incidents: Sequence[Incident]) -> pd.DataFrame:
    """The incidents as a frame with UTC ``start``/``end``, one row per incident."""
    rows = [asdict(i) for i in incidents]
    df = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    for c in ("runbook", "cause_dimension", "cause_value", "cause_within", "description"):
        df[c] = df[c].astype("string")
    for c in ("start", "end"):
        df[c] = pd.to_datetime(df[c], utc=True).astype("datetime64[us, UTC]")
    df["magnitude"] = df["magnitude"].astype("float64")
    return df
