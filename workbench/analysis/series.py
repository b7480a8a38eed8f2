"""Bucketed series judged against a trailing baseline, and runs of firing buckets.

Every detector reduces its frame to *units* (a trace, a scored trace) with a time, a group label
(the agent) and a value, then calls :func:`bucket_stats` and :func:`judge`. A bucket fires when
both hold:

- the runbook threshold is crossed (``compare``: ``ratio`` to baseline, ``absolute`` value, or
  ``delta`` from baseline in the signal's direction), and
- the change is not noise: its z-score against the baseline is at least the runbook's
  ``evaluation.min_zscore``. Rates of rare events use the Freeman-Tukey deviate of the bucket's
  count against its expected count (close to normal even for counts of 0, 1, 2); means use the
  baseline's per-unit spread over the square root of the bucket's volume.

Adjacent firing buckets of one signal and group merge into one run (:func:`runs`), so a six-hour
incident is one finding, not six alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.findings import SEVERITIES

__all__ = ["Window", "bucket_stats", "judge", "runs", "severity_for"]

ALL = "*"  # group label of "all traffic"


@dataclass(frozen=True)
class Window:
    """The judged window ``[start, end)`` and its trailing baseline ``[base_start, start)``."""

    start: pd.Timestamp
    end: pd.Timestamp
    bucket: pd.Timedelta
    trailing: pd.Timedelta

    @property
    def base_start(self) -> pd.Timestamp:
        return self.start - self.trailing

    def floor(self, times: pd.Series, width: pd.Timedelta | None = None) -> pd.Series:
        """Bucket start of each time, buckets aligned on ``start``."""
        w = width or self.bucket
        return self.start + ((times - self.start) // w) * w

    def buckets(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, self.end, freq=self.bucket, inclusive="left")


def severity_for(value: float, thresholds: Mapping[str, float]) -> str | None:
    """The most urgent severity whose threshold ``value`` reaches (``None`` below all)."""
    found = None
    if value is None or np.isnan(value):
        return None
    for sev in SEVERITIES:
        t = thresholds.get(sev)
        if t is not None and value >= t:
            found = sev
    return found


def bucket_stats(units: pd.DataFrame, window: Window, value: str) -> pd.DataFrame:
    """Per (group, bucket): volume ``n``, ``sum`` and ``sumsq`` of ``value``; groups plus ALL.

    ``units`` needs columns ``time``, ``group`` and ``value``. Only ``[base_start, end)`` counts.
    """
    t = units["time"]
    keep = (t >= window.base_start) & (t < window.end) & units[value].notna()
    u = units.loc[keep]
    y = u[value].astype("float64")
    frame = pd.DataFrame({"group": u["group"].astype(str).to_numpy(),
                          "bucket": window.floor(u["time"]).to_numpy(),
                          "y": y.to_numpy(), "y2": (y * y).to_numpy()})
    both = pd.concat([frame, frame.assign(group=ALL)], ignore_index=True)
    out = both.groupby(["group", "bucket"], sort=True).agg(
        n=("y", "size"), sum=("y", "sum"), sumsq=("y2", "sum"))
    out["mean"] = out["sum"] / out["n"]
    return out.reset_index()


def _freeman_tukey(k: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return np.sqrt(k) + np.sqrt(k + 1.0) - np.sqrt(4.0 * expected + 1.0)


def judge(stats: pd.DataFrame, window: Window, spec: Mapping[str, Any], *, min_volume: int,
          min_z: float, statistic: str, binary: bool, observed: str = "mean") -> pd.DataFrame:
    """Add ``baseline``, ``score``, ``z`` and ``severity`` to the window's buckets of ``stats``.

    ``observed`` names the per-bucket column judged (``mean`` by default, or a precomputed one
    such as a quantile). The baseline of a group is ``statistic`` (mean or median) over its
    baseline buckets that have at least ``min_volume`` units; buckets under ``min_volume`` are
    not judged (severity ``None``, ``judged`` False). ``base_buckets`` says how many baseline
    buckets the verdict rests on.
    """
    up = spec.get("direction", "up") == "up"
    compare = spec.get("compare", "ratio")
    thresholds = spec["thresholds"]
    out = []
    for group, g in stats.groupby("group", sort=False):
        base = g[(g["bucket"] < window.start) & (g["n"] >= min_volume)]
        cur = g[g["bucket"] >= window.start].copy()
        if cur.empty:
            continue
        cur["base_buckets"] = len(base)
        if base.empty:
            cur["baseline"] = np.nan
            cur["unit_sd"] = np.nan
        else:
            vals = base[observed]
            cur["baseline"] = float(vals.median() if statistic == "median" else vals.mean())
            n_b = base["n"].sum()
            mu = base["sum"].sum() / n_b
            var = max(base["sumsq"].sum() / n_b - mu * mu, 0.0)
            cur["unit_sd"] = np.sqrt(var)
        out.append(cur)
    if not out:
        return stats.iloc[0:0].assign(baseline=[], score=[], z=[], severity=[], judged=[])
    cur = pd.concat(out, ignore_index=True)
    obs = cur[observed].astype("float64")
    base = cur["baseline"].astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        if compare == "ratio":
            score = np.where(up, obs / base, base / obs)
            score = np.where((base == 0) & (obs > 0) & up, np.inf, score)
        elif compare == "absolute":
            score = obs if up else -obs
        else:  # delta in the signal's direction
            score = (obs - base) if up else (base - obs)
        n = cur["n"].astype("float64")
        if binary:
            # counts of the event in the signal's direction against the expected count
            p0 = (base if up else 1.0 - base).clip(lower=0.0)
            k = (obs if up else 1.0 - obs) * n
            z = _freeman_tukey(k.to_numpy(), (p0 * n).to_numpy())
        else:
            se = cur["unit_sd"] / np.sqrt(n)
            diff = (obs - base) if up else (base - obs)
            z = np.where(se > 0, diff / se, np.where(diff > 0, np.inf, 0.0))
    cur["score"] = np.asarray(score, dtype="float64")
    cur["z"] = np.asarray(z, dtype="float64")
    judged = (cur["n"] >= min_volume) & cur["baseline"].notna()
    cur["judged"] = judged
    min_value = spec.get("min_value")
    min_ratio = spec.get("min_ratio_to_baseline")
    sev = []
    for row in cur.itertuples():
        s = None
        if row.judged and row.z >= min_z:
            s = severity_for(row.score, thresholds)
            v = getattr(row, observed)
            if min_value is not None and (v < min_value if up else v > min_value):
                s = None
            if min_ratio is not None and row.baseline > 0 and v < min_ratio * row.baseline:
                s = None
        sev.append(s)
    cur["severity"] = pd.Series(sev, index=cur.index, dtype=object)
    return cur


def runs(judged: pd.DataFrame, width: pd.Timedelta) -> list[pd.DataFrame]:
    """Split each group's firing buckets into runs of adjacent buckets (one frame per run)."""
    firing = judged[judged["severity"].notna()].sort_values(["group", "bucket"])
    out: list[pd.DataFrame] = []
    for _, g in firing.groupby("group", sort=False):
        step = g["bucket"].diff().ne(width).cumsum()
        out.extend(r for _, r in g.groupby(step, sort=False))
    return out


def worst(run: pd.DataFrame) -> pd.Series:
    """The bucket that sets a run's severity (most urgent, then the largest score)."""
    rank = run["severity"].map(SEVERITIES.index)
    return run.assign(_r=rank).sort_values(["_r", "score"], ascending=False).iloc[0]
