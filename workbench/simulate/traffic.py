"""Who calls which agent when: the trace-level skeleton of a dataset, drawn with numpy in one go.

Traffic follows the profile's day (a peak in the UTC afternoon, a night trough at
``night_floor`` of the peak, weekends at ``weekend_factor``); the agent mix shifts by hour where
an agent has an ``evening_boost``. Users follow a Zipf-like law (a few heavy users, a long tail),
and a user's requests within the same block of time share a session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.simulate.profiles import Profile

__all__ = ["EVENING_HOURS", "Traffic", "agent_mix", "draw_traffic", "hourly_weight"]

#: Centre and half-width (hours, UTC) of the evening in which boosted agents take more traffic.
EVENING_HOURS = (20.5, 3.5)


@dataclass
class Traffic:
    """One entry per request, sorted by start time."""

    start_us: np.ndarray  # int64 microseconds since the epoch
    agent: np.ndarray  # int index into the profile's agents
    environment: np.ndarray
    user_id: np.ndarray
    session_id: np.ndarray
    tags: np.ndarray

    def __len__(self) -> int:
        return len(self.start_us)


def _bump(hour: np.ndarray, centre: float, half_width: float) -> np.ndarray:
    """A raised cosine, 1 at ``centre``, 0 from ``half_width`` hours away (circular day)."""
    d = np.abs((hour - centre + 12.0) % 24.0 - 12.0)
    return np.where(d < half_width, 0.5 + 0.5 * np.cos(np.pi * d / half_width), 0.0)


def hourly_weight(profile: Profile, hour: np.ndarray) -> np.ndarray:
    """Relative traffic at fractional ``hour`` of a weekday (1 at the peak)."""
    f = profile.night_floor
    if profile.day_width_h >= 24:  # a plain daily wave
        a = (1 - f) / (1 + f)
        return (1.0 + a * np.cos(2 * np.pi * (hour - profile.peak_hour_utc) / 24.0)) / (1 + a)
    return f + (1 - f) * _bump(hour, profile.peak_hour_utc, profile.day_width_h)


def agent_mix(profile: Profile, hour: np.ndarray) -> np.ndarray:
    """Per fractional hour, each agent's share of the requests (rows sum to 1)."""
    evening = _bump(np.asarray(hour, dtype=float), *EVENING_HOURS)
    w = np.stack([a.share * (1.0 + (a.evening_boost - 1.0) * evening) for a in profile.agents],
                 axis=-1)
    return w / w.sum(axis=-1, keepdims=True)


def _minute_weights(profile: Profile, start: pd.Timestamp, days: int) -> np.ndarray:
    minutes = np.arange(days * 1440)
    w = hourly_weight(profile, (minutes % 1440) / 60.0)
    weekday = (start.day_of_week + minutes // 1440) % 7
    w = np.where(weekday >= 5, w * profile.weekend_factor, w)
    return w / w.sum()


def draw_traffic(rng: np.random.Generator, profile: Profile, start: pd.Timestamp, days: int,
                 traces_per_day: int) -> Traffic:
    """Draw ``days * traces_per_day`` requests over ``days`` days from ``start`` (UTC midnight)."""
    n = int(days * traces_per_day)
    minute = rng.choice(days * 1440, size=n, p=_minute_weights(profile, start, days))
    offset_us = minute.astype(np.int64) * 60_000_000 + rng.integers(0, 60_000_000, size=n)
    offset_us.sort()
    start_us = int(start.value // 1000) + offset_us

    hour = (offset_us % 86_400_000_000) / 3.6e9
    cum = np.cumsum(agent_mix(profile, hour), axis=1)
    agent = (rng.random(n)[:, None] > cum).sum(axis=1).clip(max=len(profile.agents) - 1)

    env_names = np.asarray([e for e, _ in profile.environments], dtype=object)
    env = env_names[rng.choice(len(env_names), size=n, p=[p for _, p in profile.environments])]

    n_users = profile.n_users
    rank = np.arange(1, n_users + 1)
    user_w = 1.0 / rank ** 0.9
    user_idx = rng.permutation(n_users)[rng.choice(n_users, size=n, p=user_w / user_w.sum())]
    user = np.asarray([f"user-{i:04d}" for i in range(n_users)], dtype=object)[user_idx]
    block = start_us // (profile.session_block_s * 1_000_000)
    session = np.asarray([f"sess-{u:04d}-{b:08x}" for u, b in zip(user_idx.tolist(),
                                                                    block.tolist())], dtype=object)
    if profile.tags:
        tag_names = np.asarray(profile.tags, dtype=object)
        tags = tag_names[rng.integers(0, len(tag_names), size=n)]
    else:
        tags = np.full(n, None, dtype=object)
    return Traffic(start_us=start_us, agent=agent, environment=env, user_id=user,
                   session_id=session, tags=tags)
