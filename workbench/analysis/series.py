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

    def index(self, times: pd.Series, width: pd.Timedelta | None = None) -> np.ndarray:
        """Bucket number of each time (0 = the bucket starting at ``start``; negative before)."""
        w = width or self.bucket
        ns = _ns(times)
        return (ns - self.start.value) // w.value

    def floor(self, times: pd.Series, width: pd.Timedelta | None = None) -> pd.Series:
        """Bucket start of each time, buckets aligned on ``start``."""
        w = width or self.bucket
        starts = self.start.value + self.index(times, w) * w.value
        out = pd.to_datetime(starts, utc=True).as_unit("us")
        return pd.Series(out, index=times.index, name=times.name)

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


def _ns(times: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch, without going through Python timestamp objects."""
    return times.astype("datetime64[ns, UTC]").array.asi8


def bucket_stats(units: pd.DataFrame, window: Window, value: str) -> pd.DataFrame:
    """Per (group, bucket): volume ``n``, ``sum`` and ``sumsq`` of ``value``; groups plus ALL.

    ``units`` needs columns ``time``, ``group`` and ``value``. Only ``[base_start, end)`` counts.
    Counted with ``numpy.bincount`` on integer bucket numbers: this runs over every span of a
    week, so it avoids pandas' per-group overhead.
    """
    t = units["time"]
    keep = ((t >= window.base_start) & (t < window.end) & units[value].notna()).to_numpy()
    y = units[value].to_numpy(dtype="float64", na_value=np.nan)[keep]
    idx = window.index(t[keep])
    lo = int((window.base_start - window.start) // window.bucket)
    idx = idx - lo
    nb = int(idx.max()) + 1 if len(idx) else 0
    codes, groups = pd.factorize(units["group"].astype(str).to_numpy()[keep])
    parts = []
    for code, name in [(None, ALL), *enumerate(groups)]:
        sel = slice(None) if code is None else codes == code
        b, v = idx[sel], y[sel]
        n = np.bincount(b, minlength=nb)
        nz = np.flatnonzero(n)
        parts.append(pd.DataFrame({
            "group": name, "bucket_no": nz + lo, "n": n[nz],
            "sum": np.bincount(b, weights=v, minlength=nb)[nz],
            "sumsq": np.bincount(b, weights=v * v, minlength=nb)[nz]}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {"group": [], "bucket_no": [], "n": [], "sum": [], "sumsq": []})
    out.insert(1, "bucket", pd.to_datetime(window.start.value + out["bucket_no"].to_numpy(
        dtype="int64") * window.bucket.value, utc=True).as_unit("us"))
    out = out.drop(columns="bucket_no").sort_values(["group", "bucket"], ignore_index=True)
    out["n"] = out["n"].astype("int64")
    out["mean"] = out["sum"] / out["n"]
    return out


def _freeman_tukey(k: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return np.sqrt(k) + np.sqrt(k + 1.0) - np.sqrt(4.0 * expected + 1.0)


def _baseline(g: pd.DataFrame, window: Window, min_volume: int, observed: str,
              statistic: str, denominator: str) -> tuple[float, float, float, int]:
    """(baseline value, per-unit standard deviation, dispersion, baseline buckets) of a group.

    A poolable value (``mean``) is pooled per baseline day (sum over denominator), then the
    runbook's statistic is taken over the days: a median of hourly rates of a rare event would be
    0, and a median over days still ignores the day an earlier incident fell on. A precomputed
    value (a quantile) takes the statistic over the buckets.
    """
    base = g[(g["bucket"] < window.start) & (g["n"] >= min_volume)]
    if base.empty:
        return float("nan"), float("nan"), 1.0, 0
    if observed == "mean":
        day = (base["bucket"] - window.start) // pd.Timedelta(days=1)
        per_day = base.groupby(day.to_numpy())[["sum", denominator]].sum()
        vals = per_day["sum"] / per_day[denominator]
    else:
        vals = base[observed]
    value = float(vals.median() if statistic == "median" else vals.mean())
    n_b = base["n"].sum()
    mu = base["sum"].sum() / n_b
    var = max(base["sumsq"].sum() / n_b - mu * mu, 0.0)
    return value, float(np.sqrt(var)), _dispersion(base, mu, var), len(base)


# median of a chi-square with one degree of freedom
_CHI2_1_MEDIAN = 0.4549


def _dispersion(base: pd.DataFrame, mu: float, var: float) -> float:
    """How much more the baseline buckets scatter than independent units would (>= 1).

    Real traffic is clustered (a stalled backend slows several requests at once), so counts
    vary more from hour to hour than a binomial says. The robust Pearson estimate (median of the
    squared standardised bucket residuals over the chi-square median) widens the z-test by the
    same factor; the median keeps an earlier incident in the baseline from inflating it.
    """
    if len(base) < 3 or not var > 0:
        return 1.0
    n = base["n"].to_numpy(dtype="float64")
    resid2 = (base["sum"].to_numpy(dtype="float64") - n * mu) ** 2 / (n * var)
    return max(1.0, float(np.median(resid2)) / _CHI2_1_MEDIAN)


def _scores(obs, base, n, unit_sd, phi: float, up: bool, compare: str, binary: bool):
    """Threshold score and z-score of observed values against one baseline (arrays)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if compare == "ratio":
            score = obs / base if up else base / obs
            score = np.where((base == 0) & (obs > 0) & up, np.inf, score)
        elif compare == "absolute":
            score = obs if up else -obs
        else:  # delta in the signal's direction
            score = (obs - base) if up else (base - obs)
        if binary:
            # count of the event in the signal's direction against its expected count
            p0 = max(base if up else 1.0 - base, 0.0)
            k = (obs if up else 1.0 - obs) * n
            z = _freeman_tukey(k, p0 * n) / np.sqrt(phi)
        else:
            se = unit_sd * np.sqrt(phi) / np.sqrt(n)
            diff = (obs - base) if up else (base - obs)
            z = np.where(se > 0, diff / se, np.where(diff > 0, np.inf, 0.0))
    return np.asarray(score, dtype="float64"), np.asarray(z, dtype="float64")


def _shares(own: float, pooled: float, base: float, up: bool) -> bool:
    """A bucket shares a pooled run's change when its own change is at least half of it."""
    if not np.isfinite(own):
        return False
    return (own - base) >= 0.5 * (pooled - base) if up else (base - own) >= 0.5 * (base - pooled)


def _verdicts(score, obs, base, z, judged, spec, up, min_z) -> list[str | None]:
    min_value = spec.get("min_value")
    min_ratio = spec.get("min_ratio_to_baseline")
    out: list[str | None] = []
    for sc, v, b, zz, ok in zip(score, obs, base, z, judged):
        s = None
        if ok and zz >= min_z:
            s = severity_for(sc, spec["thresholds"])
            if min_value is not None and (v < min_value if up else v > min_value):
                s = None
            if min_ratio is not None and b > 0 and v < min_ratio * b:
                s = None
        out.append(s)
    return out


def judge(stats: pd.DataFrame, window: Window, spec: Mapping[str, Any], *, min_volume: int,
          min_z: float, statistic: str, binary: bool, observed: str = "mean",
          denominator: str = "n", scan: int = 1) -> pd.DataFrame:
    """The window's buckets of ``stats`` with ``baseline``, ``score``, ``z`` and ``severity``.

    ``observed`` names the per-bucket value judged: ``mean`` (``sum / denominator``) or a
    precomputed column such as a quantile (then ``scan`` must be 1). The baseline of a group is
    ``statistic`` (mean or median) over its baseline buckets that have at least ``min_volume``
    units. A sustained change too small to be significant in one bucket is caught by *scanning*:
    every run of up to ``scan`` consecutive buckets is judged on its pooled value, and a bucket
    takes the most urgent verdict of the runs that contain it (``score``/``z``/``span`` say which).
    A run is judged when its pooled volume reaches ``min_volume``.
    """
    up = spec.get("direction", "up") == "up"
    compare = spec.get("compare", "ratio")
    pooled = observed == "mean"
    if not pooled and scan != 1:
        raise ValueError(f"judge: {observed!r} cannot be pooled over buckets; use scan=1")
    buckets = window.buckets()
    out = []
    for group, g in stats.groupby("group", sort=False):
        base, unit_sd, phi, n_base = _baseline(g, window, min_volume, observed, statistic,
                                               denominator)
        cur = g[g["bucket"] >= window.start].set_index("bucket")
        if cur.empty:
            continue
        full = cur.reindex(buckets)
        full["group"] = group
        for col in ("n", "sum", "sumsq") + ((denominator,) if denominator != "n" else ()):
            full[col] = full[col].fillna(0.0)
        if pooled:
            with np.errstate(divide="ignore", invalid="ignore"):
                full["mean"] = full["sum"] / full[denominator].where(full[denominator] > 0)
        full["baseline"], full["unit_sd"], full["base_buckets"] = base, unit_sd, n_base
        full["dispersion"] = phi
        rank = np.full(len(full), -1)
        best = {k: np.full(len(full), np.nan) for k in ("score", "z", "span")}
        sev_out = np.array([None] * len(full), dtype=object)
        cols = {c: full[c].to_numpy(dtype="float64") for c in ("n", "sum", denominator)}
        single = np.full(len(full), np.nan)
        for length in range(1, min(scan, len(full)) + 1):
            if length > 1:
                # buckets already firing in shorter runs are left out of longer ones, so strong
                # hours cannot lend their significance to quiet neighbours
                done = rank >= 0
                cols = {c: np.where(done, 0.0, v) for c, v in cols.items()}
            sums = {c: np.concatenate([[0.0], np.cumsum(v)]) for c, v in cols.items()}
            ends = np.arange(length, len(full) + 1)
            n = sums["n"][ends] - sums["n"][ends - length]
            if pooled:
                den = sums[denominator][ends] - sums[denominator][ends - length]
                with np.errstate(divide="ignore", invalid="ignore"):
                    obs = (sums["sum"][ends] - sums["sum"][ends - length]) / den
            else:
                obs = full[observed].to_numpy(dtype="float64")
            score, z = _scores(obs, base, n, unit_sd, phi, up, compare, binary)
            ok = (n >= min_volume) & np.isfinite(base) & np.isfinite(obs)
            if length == 1:
                full["score"], full["z"], full["judged"] = score, z, ok
                single = obs
            sevs = _verdicts(score, obs, np.full(len(obs), base), z, ok, spec, up, min_z)
            for i, sv in enumerate(sevs):
                if sv is None:
                    continue
                r = SEVERITIES.index(sv)
                for j in range(ends[i] - length, ends[i]):
                    if length > 1 and (cols["n"][j] == 0
                                       or not _shares(single[j], obs[i], base, up)):
                        continue  # a quiet bucket at the edge of a pooled run is not in it
                    if r > rank[j] or (r == rank[j] and score[i] > best["score"][j]):
                        rank[j], sev_out[j] = r, sv
                        best["score"][j], best["z"][j], best["span"][j] = score[i], z[i], length
        fired = rank >= 0
        for k in ("score", "z"):
            full[k] = np.where(fired, best[k], full[k])
        full["span"] = np.where(fired, best["span"], 1)
        full["severity"] = pd.Series(sev_out, index=full.index, dtype=object)
        out.append(full.rename_axis("bucket").reset_index())
    if not out:
        cols = list(stats.columns) + ["baseline", "score", "z", "severity", "judged", "span"]
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)


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
