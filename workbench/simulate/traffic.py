"""Who calls which agent when: the trace-level skeleton of the demo, drawn with numpy in one go.

Traffic is diurnal (peak mid-afternoon UTC, about 4.7x the night trough; weekends at 75 %), users
follow a Zipf-like law (a few heavy users, a long tail), and a user's requests within the same
two-hour block share a session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.simulate.catalog import AGENT_MIX, AGENTS, ENVIRONMENTS, N_USERS

__all__ = ["Traffic", "draw_traffic"]

_PEAK_HOUR_UTC = 15.0
_DIURNAL_AMPLITUDE = 0.65
_WEEKEND_FACTOR = 0.75
_SESSION_BLOCK_S = 7200


@dataclass
class Traffic:
    """One entry per request, sorted by start time."""

    start_us: np.ndarray  # int64 microseconds since the epoch
    agent: np.ndarray  # object array of agent names
    environment: np.ndarray
    user_id: np.ndarray
    session_id: np.ndarray

    def __len__(self) -> int:
        return len(self.start_us)


def _minute_weights(start: pd.Timestamp, days: int) -> np.ndarray:
    minutes = np.arange(days * 1440)
    hour = (minutes % 1440) / 60.0
    w = 1.0 + _DIURNAL_AMPLITUDE * np.cos(2 * np.pi * (hour - _PEAK_HOUR_UTC) / 24.0)
    weekday = (start.day_of_week + minutes // 1440) % 7
    w = np.where(weekday >= 5, w * _WEEKEND_FACTOR, w)
    return w / w.sum()


def draw_traffic(rng: np.random.Generator, start: pd.Timestamp, days: int,
                 traces_per_day: int) -> Traffic:
    """Draw ``days * traces_per_day`` requests over ``days`` days from ``start`` (UTC midnight)."""
    n = int(days * traces_per_day)
    minute = rng.choice(days * 1440, size=n, p=_minute_weights(start, days))
    offset_us = minute.astype(np.int64) * 60_000_000 + rng.integers(0, 60_000_000, size=n)
    offset_us.sort()
    start_us = int(start.value // 1000) + offset_us

    agent = np.asarray(AGENTS, dtype=object)[rng.choice(len(AGENTS), size=n, p=AGENT_MIX)]
    env_names = np.asarray([e for e, _ in ENVIRONMENTS], dtype=object)
    env = env_names[rng.choice(len(env_names), size=n, p=[p for _, p in ENVIRONMENTS])]

    rank = np.arange(1, N_USERS + 1)
    user_w = 1.0 / rank ** 0.9
    user_idx = rng.permutation(N_USERS)[rng.choice(N_USERS, size=n, p=user_w / user_w.sum())]
    user = np.asarray([f"user-{i:04d}" for i in range(N_USERS)], dtype=object)[user_idx]
    block = start_us // (_SESSION_BLOCK_S * 1_000_000)
    session = np.asarray([f"sess-{u:04d}-{b:08x}" for u, b in zip(user_idx.tolist(),
                                                                    block.tolist())], dtype=object)
    return Traffic(start_us=start_us, agent=agent, environment=env, user_id=user,
                   session_id=session)
