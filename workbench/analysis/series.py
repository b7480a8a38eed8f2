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
    Counted with one ``numpy.bincount`` on integer (group, bucket) keys: this runs over every
    span of a week, so it avoids pandas' per-group overhead.
    """
    t = units["time"]
    keep = ((t >= window.base_start) & (t < window.end) & units[value].notna()).to_numpy()
    y = units[value].to_numpy(dtype="float64", na_value=np.nan)[keep]
    idx = window.index(t[keep])
    lo = int((window.base_start - window.start) // window.bucket)
    idx = idx - lo
    nb = int(idx.max()) + 1 if len(idx) else 0
    codes, groups = pd.factorize(units["group"].astype(str)[keep])
    names = np.array([ALL, *groups], dtype=object)
    named = codes >= 0
    # ALL is block 0 and group code k block k + 1: one bincount counts every group at once
    key = np.concatenate([idx, ((codes + 1) * nb + idx)[named]])
    w = np.concatenate([y, y[named]])
    size = len(names) * nb
    n = np.bincount(key, minlength=size)
    nz = np.flatnonzero(n)
    block, bucket_no = np.divmod(nz, nb) if nb else (nz, nz)
    # rows sorted by group name, then bucket (a stable sort: ALL first on a tie)
    rank = np.unique(names, return_inverse=True)[1]
    order = np.lexsort((bucket_no, rank[block]))
    nz, block, bucket_no = nz[order], block[order], bucket_no[order] + lo
    out = pd.DataFrame({
        "group": pd.array(names[block], dtype="str"),
        "bucket": pd.to_datetime(window.start.value + bucket_no.astype("int64")
                                 * window.bucket.value, utc=True).as_unit("us"),
        "n": n[nz].astype("int64"), "sum": np.bincount(key, weights=w, minlength=size)[nz],
        "sumsq": np.bincount(key, weights=w * w, minlength=size)[nz]})
    out["mean"] = out["sum"] / out["n"]
    return out


def _freeman_tukey(k: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return np.sqrt(k) + np.sqrt(k + 1.0) - np.sqrt(4.0 * expected + 1.0)


def _baselines(stats: pd.DataFrame, codes: np.ndarray, n_groups: int, window: Window,
               min_volume: int, observed: str, statistic: str, denominator: str) -> np.ndarray:
    """Per group code: (baseline value, per-unit standard deviation, dispersion, baseline
    buckets), as a ``(n_groups, 4)`` array.

    A poolable value (``mean``) is pooled per baseline day (sum over denominator), then the
    runbook's statistic is taken over the days: a median of hourly rates of a rare event would be
    0, and a median over days still ignores the day an earlier incident fell on. A precomputed
    value (a quantile) takes the statistic over the buckets. The per-day sums of every group are
    one groupby.
    """
    out = np.tile([np.nan, np.nan, 1.0, 0.0], (n_groups, 1))
    ns = _ns(stats["bucket"])
    keep = (ns < window.start.value) & (stats["n"].to_numpy() >= min_volume) & (codes >= 0)
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(codes[rows], kind="stable")]  # by group, each in stats order
    if not len(rows):
        return out
    code = codes[rows]
    n = stats["n"].to_numpy()[rows]
    sums = stats["sum"].to_numpy(dtype="float64")[rows]
    sumsq = stats["sumsq"].to_numpy(dtype="float64")[rows]
    if observed == "mean":
        day = (ns[rows] - window.start.value) // pd.Timedelta(days=1).value
        per_day = stats[["sum", denominator]].iloc[rows].groupby([code, day]).sum()
        vals = (per_day["sum"] / per_day[denominator]).to_numpy()
        val_code = per_day.index.get_level_values(0).to_numpy()
    else:
        vals, val_code = stats[observed].to_numpy(dtype="float64")[rows], code
    for (k, part), (_, at) in zip(_runs_of(code), _runs_of(val_code)):
        v = pd.Series(vals[at])
        value = float(v.median() if statistic == "median" else v.mean())
        n_b = n[part].sum()
        mu = sums[part].sum() / n_b
        var = max(sumsq[part].sum() / n_b - mu * mu, 0.0)
        out[k] = (value, float(np.sqrt(var)),
                  _dispersion(n[part], sums[part], mu, var), part.stop - part.start)
    return out


def _runs_of(sorted_codes: np.ndarray) -> list[tuple[int, slice]]:
    """(code, slice) of each run of equal values in a sorted array of group codes."""
    cuts = np.flatnonzero(np.diff(sorted_codes)) + 1
    starts = np.concatenate([[0], cuts]).tolist()
    stops = np.concatenate([cuts, [len(sorted_codes)]]).tolist()
    return [(int(sorted_codes[a]), slice(a, b)) for a, b in zip(starts, stops)]


# median of a chi-square with one degree of freedom
_CHI2_1_MEDIAN = 0.4549


def _dispersion(n: np.ndarray, sums: np.ndarray, mu: float, var: float) -> float:
    """How much more the baseline buckets scatter than independent units would (>= 1).

    Real traffic is clustered (a stalled backend slows several requests at once), so counts
    vary more from hour to hour than a binomial says. The robust Pearson estimate (median of the
    squared standardised bucket residuals over the chi-square median) widens the z-test by the
    same factor; the median keeps an earlier incident in the baseline from inflating it.
    """
    if len(n) < 3 or not var > 0:
        return 1.0
    n = n.astype("float64")
    resid2 = (sums - n * mu) ** 2 / (n * var)
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


@dataclass(frozen=True)
class _Rule:
    """How :func:`judge` turns a group's buckets into verdicts (its arguments, gathered)."""

    spec: Mapping[str, Any]
    up: bool
    compare: str
    binary: bool
    pooled: bool
    min_volume: int
    min_z: float
    scan: int


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

    Every group with a bucket in the window gets a row for each of the window's buckets (in
    order of first appearance in ``stats``); the frame is laid out once, not group by group.
    """
    pooled = observed == "mean"
    if not pooled and scan != 1:
        raise ValueError(f"judge: {observed!r} cannot be pooled over buckets; use scan=1")
    rule = _Rule(spec=spec, up=spec.get("direction", "up") == "up",
                 compare=spec.get("compare", "ratio"), binary=binary, pooled=pooled,
                 min_volume=min_volume, min_z=min_z, scan=scan)
    buckets = window.buckets()
    codes, names = pd.factorize(stats["group"])
    rows, kept = _window_rows(stats, codes, window, len(buckets))
    if not len(kept):
        cols = list(stats.columns) + ["baseline", "score", "z", "severity", "judged", "span"]
        return pd.DataFrame(columns=cols)
    base = _baselines(stats, codes, len(names), window, min_volume, observed, statistic,
                      denominator)[kept]
    out: dict[str, Any] = {"bucket": buckets[np.tile(np.arange(len(buckets)), len(kept))]}
    zero_filled = {"n", "sum", "sumsq", denominator}
    for col in stats.columns:
        if col == "group":
            out[col] = np.repeat(np.asarray(names, dtype=object)[kept], len(buckets))
        elif col != "bucket":
            values = pd.Series(pd.api.extensions.take(stats[col].array, rows, allow_fill=True))
            out[col] = values.fillna(0.0) if col in zero_filled else values
    if pooled:
        den = out[denominator]
        with np.errstate(divide="ignore", invalid="ignore"):
            out["mean"] = out["sum"] / den.where(den > 0)
    per_bucket = np.repeat(base, len(buckets), axis=0)
    out["baseline"], out["unit_sd"] = per_bucket[:, 0], per_bucket[:, 1]
    out["base_buckets"] = per_bucket[:, 3].astype("int64")
    out["dispersion"] = per_bucket[:, 2]
    shape = (len(kept), len(buckets))
    cols = {c: out[c].to_numpy(dtype="float64").reshape(shape) for c in ("n", "sum", denominator)}
    obs = None if pooled else out[observed].to_numpy(dtype="float64").reshape(shape)
    verdicts = [_scan({c: v[k] for c, v in cols.items()}, None if obs is None else obs[k],
                      base[k], rule, denominator) for k in range(len(kept))]
    for i, name in enumerate(("score", "z", "judged", "span")):
        out[name] = np.concatenate([v[i] for v in verdicts])
    out["severity"] = pd.Series(np.concatenate([v[4] for v in verdicts]), dtype=object)
    return pd.DataFrame(out)


def _window_rows(stats: pd.DataFrame, codes: np.ndarray, window: Window, n_buckets: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Which row of ``stats`` fills each (group, window bucket) slot (-1: none), and the group
    codes that have a bucket in the window (the groups :func:`judge` reports)."""
    offset = _ns(stats["bucket"]) - window.start.value
    width = window.bucket.value
    current = (offset >= 0) & (codes >= 0)
    kept = np.unique(codes[current])
    block = np.full(int(codes.max()) + 1 if len(codes) else 0, -1)
    block[kept] = np.arange(len(kept))
    pos = offset // width
    inside = np.flatnonzero(current & (pos < n_buckets) & (offset % width == 0))
    rows = np.full(len(kept) * n_buckets, -1)
    rows[block[codes[inside]] * n_buckets + pos[inside]] = inside
    return rows, kept


def _scan(cols: dict[str, np.ndarray], observed: np.ndarray | None, baseline: np.ndarray,
          rule: _Rule, denominator: str) -> tuple[np.ndarray, ...]:
    """One group's window buckets judged alone and in pooled runs of up to ``rule.scan``:
    score, z, judged, span and severity per bucket."""
    base, unit_sd, phi = baseline[0], baseline[1], baseline[2]
    size = len(cols["n"])
    rank = np.full(size, -1)
    best = {k: np.full(size, np.nan) for k in ("score", "z", "span")}
    sev_out = np.array([None] * size, dtype=object)
    single = np.full(size, np.nan)
    for length in range(1, min(rule.scan, size) + 1):
        if length > 1:
            # buckets already firing in shorter runs are left out of longer ones, so strong
            # hours cannot lend their significance to quiet neighbours
            done = rank >= 0
            cols = {c: np.where(done, 0.0, v) for c, v in cols.items()}
        sums = {c: np.concatenate([[0.0], np.cumsum(v)]) for c, v in cols.items()}
        ends = np.arange(length, size + 1)
        n = sums["n"][ends] - sums["n"][ends - length]
        if rule.pooled:
            den = sums[denominator][ends] - sums[denominator][ends - length]
            with np.errstate(divide="ignore", invalid="ignore"):
                obs = (sums["sum"][ends] - sums["sum"][ends - length]) / den
        else:
            obs = observed
        score, z = _scores(obs, base, n, unit_sd, phi, rule.up, rule.compare, rule.binary)
        ok = (n >= rule.min_volume) & np.isfinite(base) & np.isfinite(obs)
        if length == 1:
            first_score, first_z, judged = score, z, ok
            single = obs
        sevs = _verdicts(score, obs, np.full(len(obs), base), z, ok, rule.spec, rule.up,
                         rule.min_z)
        for i, sv in enumerate(sevs):
            if sv is None:
                continue
            r = SEVERITIES.index(sv)
            for j in range(ends[i] - length, ends[i]):
                if length > 1 and (cols["n"][j] == 0
                                   or not _shares(single[j], obs[i], base, rule.up)):
                    continue  # a quiet bucket at the edge of a pooled run is not in it
                if r > rank[j] or (r == rank[j] and score[i] > best["score"][j]):
                    rank[j], sev_out[j] = r, sv
                    best["score"][j], best["z"][j], best["span"][j] = score[i], z[i], length
    fired = rank >= 0
    return (np.where(fired, best["score"], first_score), np.where(fired, best["z"], first_z),
            judged, np.where(fired, best["span"], 1), sev_out)


def runs(judged: pd.DataFrame, width: pd.Timedelta) -> list[pd.DataFrame]:
    """Split each group's firing buckets into runs of adjacent buckets (one frame per run)."""
    firing = judged[(judged["severity"].notna() & judged["group"].notna()).to_numpy()]
    firing = firing.sort_values(["group", "bucket"])
    # a run starts at each new group and wherever a bucket does not follow the one before
    group = firing["group"].to_numpy(dtype=object)
    gap = firing["bucket"].diff().ne(width).to_numpy()[1:]
    cuts = (np.flatnonzero((group[1:] != group[:-1]) | gap) + 1).tolist()
    return [firing.iloc[a:b] for a, b in zip([0, *cuts], [*cuts, len(firing)]) if b > a]


def worst(run: pd.DataFrame) -> pd.Series:
    """The bucket that sets a run's severity (most urgent, then the largest score)."""
    rank = run["severity"].map(SEVERITIES.index)
    return run.assign(_r=rank).sort_values(["_r", "score"], ascending=False).iloc[0]
