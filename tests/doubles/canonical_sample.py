"""Small deterministic canonical frames for Langfuse tests.

Built to stress the parts a Langfuse client gets wrong: many observations sharing one
``startTime`` (cursor tie-breaks), microsecond timestamps, spans without usage, tool errors,
timeouts, several models, environments and prompt versions. When ``workbench.simulate`` is
available, :func:`simulated` gives its richer traffic instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench import schema

MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4")
AGENTS = ("support", "research")


def sample_frames(n_traces: int = 60, start: str = "2026-11-02T00:00:00Z", hours: float = 6.0,
                  seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(observations, scores) for ``n_traces`` traces spread over ``hours`` from ``start``."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    obs: list[dict] = []
    scores: list[dict] = []
    span_us = int(hours * 3600 * 1e6)
    last_off = 0
    for t in range(n_traces):
        tid = f"{rng.integers(0, 2**63):016x}{t:016x}"
        # every fifth trace shares its start with the previous one: ties across traces
        offset = int(rng.integers(0, span_us)) if t % 5 else last_off
        if t % 7 == 3:
            offset = offset - offset % 1000 + 123  # a microsecond-precision timestamp
        else:
            offset -= offset % 1000
        last_off = offset
        root_start = t0 + pd.Timedelta(microseconds=offset)
        agent = AGENTS[t % 2]
        env = "production" if t % 4 else "staging"
        release = f"v1.{t % 3}"
        user, session = f"user-{t % 9}", f"sess-{t % 13}"
        timeout = t % 11 == 5
        root = f"{t:04x}{rng.integers(0, 2**47):012x}"
        cursor = root_start + pd.Timedelta(milliseconds=5)
        children = []
        n_gen = 1 + t % 2
        for g in range(n_gen):
            model = MODELS[(t + g) % 3]
            dur = pd.Timedelta(milliseconds=int(rng.integers(200, 3000)))
            itok, otok = int(rng.integers(100, 2000)), int(rng.integers(10, 500))
            children.append(dict(
                observation_id=f"{t:04x}{g:02x}{rng.integers(0, 2**39):010x}",
                start_time=cursor, end_time=cursor + dur, name=f"llm.{model}",
                type="generation", level="DEFAULT", model=model,
                prompt_name="answer" if g == 0 else "plan", prompt_version=1 + t % 3,
                input_tokens=itok, output_tokens=otok, total_tokens=itok + otok,
                cost_usd=round(itok * 2.5e-6 + otok * 1e-5, 9)))
            cursor = cursor + dur
        if t % 3 == 0:
            err = t % 6 == 0
            dur = pd.Timedelta(milliseconds=int(rng.integers(50, 900)))
            children.append(dict(
                observation_id=f"{t:04x}ff{rng.integers(0, 2**39):010x}", start_time=cursor,
                end_time=cursor + dur, name="tool.search", type="tool",
                level="ERROR" if err else "DEFAULT", tool_name="search",
                error_type="tool_error" if err else None,
                status_message="search backend 502" if err else None))
            cursor = cursor + dur
        root_end = cursor + pd.Timedelta(seconds=8 if timeout else 0.01)
        obs.append(dict(observation_id=root, parent_observation_id=None,
                        start_time=root_start, end_time=root_end, name=f"{agent}.run",
                        type="agent", level="ERROR" if timeout else "DEFAULT",
                        error_type="timeout" if timeout else None,
                        status_message="request exceeded 8s budget" if timeout else None,
                        cost_usd=None))
        for c in children:
            c["parent_observation_id"] = root
            obs.append(c)
        for row in obs[-(len(children) + 1):]:
            row.update(trace_id=tid, agent=agent, environment=env, release=release,
                       user_id=user, session_id=session)
        scores.append(dict(score_id=f"s-{t:05d}-h", trace_id=tid, observation_id=None,
                           timestamp=root_end + pd.Timedelta(seconds=1), name="hallucination",
                           value=float(t % 4 == 0), string_value=None, data_type="BOOLEAN",
                           source="EVAL", environment=env))
        scores.append(dict(score_id=f"s-{t:05d}-g", trace_id=tid,
                           observation_id=children[0]["observation_id"],
                           timestamp=root_end + pd.Timedelta(seconds=2), name="groundedness",
                           value=round(float(rng.random()), 4), string_value=None,
                           data_type="NUMERIC", source="EVAL", environment=env))
    frame = pd.DataFrame(obs)
    frame["duration_s"] = (frame["end_time"] - frame["start_time"]).dt.total_seconds()
    return schema.conform(frame, "observations"), schema.conform(pd.DataFrame(scores), "scores")


def simulated(days: int = 1, traces_per_day: int = 300, start: str = "2026-11-02",
              seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(observations, scores) from ``workbench.simulate`` when it exists, else None."""
    try:
        from workbench.simulate import generate
    except ImportError:
        return None
    ds = generate(seed=seed, days=days, traces_per_day=traces_per_day, start=start)
    return ds.observations, ds.scores
