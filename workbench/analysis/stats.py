"""The tests behind every verdict: exact tails for counts, a normal tail for means, and the
likelihood ratio that picks the window a change fills.

Each judged quantity is a sum over units (traces, scored traces, tool calls) of a value whose
baseline gives every unit an expectation: ``observed`` (O), ``expected`` (E) and, for means, the
variance of O under the baseline (V). Three kinds:

- ``rate``: a 0/1 event per unit (a timeout, a hallucinated answer). O is binomial around E;
  the tail is exact (the regularised incomplete beta function), so 3 events where 0.4 were
  expected are judged as the rare thing they are, and 1 of 2 traces at 4 a.m. is not.
- ``count``: events that are not per-unit shares (runaway traces): Poisson, exact tail.
- ``mean``: a continuous value (cost per request, a score): O - E against sqrt(V), with a
  Student-t tail on ``n - 1`` degrees of freedom (fewer where the baseline's spread is less
  sure, see :class:`workbench.analysis.judge.Judge`): a handful of bimodal judge scores is far
  from normal, and the t tail keeps ten scored traces from looking like a certainty. Where the
  units are skewed in the bad direction (rare hallucinated answers among grounded ones) the
  tail is also no thinner than the first Edgeworth term of their sum makes it.

Real traffic is clustered (a stalled backend slows several requests at once): ``phi`` >= 1, the
overdispersion measured on the baseline, scales the counts down (quasi-likelihood), widening every
test by the same factor. All functions take numpy arrays and are vectorised.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["KINDS", "between_spread", "detectable_ratio", "llr", "mean_z", "overdispersion",
           "p_upper"]

KINDS = ("rate", "count", "mean")

# median of a chi-square with one degree of freedom
_CHI2_1_MEDIAN = 0.4549364231195724
_MAX_PHI = 10.0


def _floats(observed, expected, phi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``observed`` and ``expected`` as float arrays, and ``phi`` as one no smaller than 1."""
    return (np.asarray(observed, dtype="float64"), np.asarray(expected, dtype="float64"),
            np.maximum(np.asarray(phi, dtype="float64"), 1.0))


def _skewed_tail(z, skew, n) -> np.ndarray:
    """The upper tail at ``z`` of a standardised sum of ``n`` units whose values have
    skewness ``skew`` in the bad direction (the first Edgeworth term); only ever wider than the
    normal's: a left-skewed sum keeps the normal tail."""
    g = np.maximum(np.nan_to_num(np.asarray(skew, dtype="float64")), 0.0)
    nn = np.maximum(np.asarray(n, dtype="float64"), 1.0)
    edge = special.ndtr(-z) + np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) * g / (6 * np.sqrt(nn)) \
        * (z * z - 1.0)
    return np.clip(np.maximum(edge, special.ndtr(-z)), 0.0, 1.0)


def p_upper(kind: str, observed, expected, n=None, variance=None, phi=1.0,
            df=None, skew=None) -> np.ndarray:
    """One-sided p-value of seeing at least ``observed`` where the baseline expects
    ``expected`` (1 where nothing was expected and nothing seen). A mean's t test has ``df``
    degrees of freedom (default ``n - 1``; neither given: the normal); with ``skew`` (the
    units' skewness in the bad direction, and ``n``) the tail is also no thinner than the
    skewed sum's (:func:`_skewed_tail`)."""
    o, e, phi = _floats(observed, expected, phi)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "mean":
            v = np.asarray(variance, dtype="float64") * phi
            z = np.where(v > 0, (o - e) / np.sqrt(v), np.where(o > e, np.inf, 0.0))
            if n is None and df is None:
                return special.ndtr(-z)
            df = np.asarray(n, dtype="float64") - 1.0 if df is None else \
                np.asarray(df, dtype="float64")
            out = special.stdtr(np.maximum(df, 1.0), -z)
            if skew is not None and n is not None:
                out = np.maximum(out, np.where(np.isfinite(z), _skewed_tail(z, skew, n), out))
            return out
        k, mu = o / phi, e / phi
        if kind == "count":
            # P(X >= k) for X ~ Poisson(mu) is the regularised lower incomplete gamma P(k, mu)
            out = np.where(k > 0, special.gammainc(np.maximum(k, 1e-12), mu), 1.0)
            return np.where(mu > 0, out, np.where(k > 0, 0.0, 1.0))
        if kind != "rate":
            raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
        nn = np.asarray(n, dtype="float64") / phi
        p = np.clip(np.where(nn > 0, mu / nn, 0.0), 0.0, 1.0)
        # P(X >= k) for X ~ Binomial(n, p) is I_p(k, n - k + 1), continuous in k and n
        inside = (k > 0) & (k <= nn) & (p > 0) & (p < 1)
        out = np.where(inside, special.betainc(np.maximum(k, 1e-12),
                                               np.maximum(nn - k + 1, 1e-12), p), 0.0)
        out = np.where(k <= 0, 1.0, out)
        out = np.where((p >= 1) & (k > 0), 1.0, out)
        return np.where((p <= 0) & (k > 0), 0.0, out)


def mean_z(alpha: float, df: float, skew: float | None = None, n: float = 1.0) -> float:
    """The smallest standardised shift of a mean :func:`p_upper` calls significant at
    ``alpha``: the t quantile, or further where the units' skew widens the tail."""
    t = float(special.stdtrit(max(float(df), 1.0), 1.0 - alpha))
    if not skew or skew <= 0:
        return t
    lo, hi = t, max(2.0 * t, t + 10.0)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if float(_skewed_tail(mid, skew, n)) <= alpha:
            hi = mid
        else:
            lo = mid
    return max(t, hi)


def llr(kind: str, observed, expected, n=None, variance=None, phi=1.0) -> np.ndarray:
    """Log-likelihood ratio of "the window's own level" against the baseline, 0 unless the
    change is in the bad direction. Ranks candidate windows: the window a change fills
    maximises it."""
    o, e, phi = _floats(observed, expected, phi)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "mean":
            v = np.asarray(variance, dtype="float64") * phi
            out = np.where((v > 0) & (o > e), (o - e) ** 2 / (2.0 * v), 0.0)
        elif kind == "count":
            out = np.where((o > e) & (e > 0), o * np.log(o / e) - (o - e), 0.0) / phi
        else:
            nn = np.asarray(n, dtype="float64")
            p0 = np.clip(e / np.maximum(nn, 1e-12), 1e-12, 1 - 1e-12)
            p1 = np.clip(o / np.maximum(nn, 1e-12), 1e-12, 1 - 1e-12)
            ll = o * np.log(p1 / p0) + (nn - o) * np.log((1 - p1) / (1 - p0))
            out = np.where((o > e) & (nn > 0), ll, 0.0) / phi
    return np.nan_to_num(out, nan=0.0, posinf=1e300)


def detectable_ratio(kind: str, expected: float, n: float | None = None,
                     variance: float | None = None, phi: float = 1.0, alpha: float = 1e-5,
                     cap: float = 1e3) -> float:
    """The smallest multiple of ``expected`` that would be significant at ``alpha``: what a
    window of this size can tell apart at all (``inf`` when not even ``cap`` times would)."""
    if not expected > 0:
        return float("inf")

    def seen(ratio: float) -> float:
        # a rate's events cannot outnumber its units: all of them is the most a window shows
        o = ratio * expected
        return min(o, float(n)) if kind == "rate" and n is not None else o

    lo, hi = 1.0, cap
    if p_upper(kind, seen(hi), expected, n, variance, phi) > alpha:
        return float("inf")
    for _ in range(60):
        mid = (lo * hi) ** 0.5
        if p_upper(kind, seen(mid), expected, n, variance, phi) <= alpha:
            hi = mid
        else:
            lo = mid
        if hi / lo < 1.001:
            break
    return float(hi)


def between_spread(observed, expected, variance, size, min_buckets: int = 3) -> float:
    """The variance ``tau2`` of a level that all units of a bucket (a day) share, beyond the
    buckets' own ``variance``: a bucket of ``size`` units then scatters as
    ``variance + tau2 * size**2``. The DerSimonian-Laird moment estimate over the buckets (0
    where they scatter no more than their variance says, or with fewer than
    ``min_buckets`` of them)."""
    o, e, v, size = (np.asarray(x, dtype="float64") for x in (observed, expected, variance, size))
    ok = (v > 0) & np.isfinite(v) & (size > 0)
    k = int(ok.sum())
    if k < max(min_buckets, 2):
        return 0.0
    a = size[ok] ** 2 / v[ok]
    q = float(np.sum((o[ok] - e[ok]) ** 2 / v[ok]))
    scale = float(a.sum() - (a ** 2).sum() / a.sum())
    return max(0.0, (q - (k - 1)) / scale) if scale > 0 else 0.0


def overdispersion(observed, expected, variance) -> float:
    """How much more baseline buckets scatter than independent units would (>= 1, <= 10).

    The robust Pearson estimate: the median of the squared standardised bucket residuals over
    the chi-square median. The median keeps an earlier incident in the baseline from inflating
    it; fewer than three usable buckets give 1.
    """
    o = np.asarray(observed, dtype="float64")
    e = np.asarray(expected, dtype="float64")
    v = np.asarray(variance, dtype="float64")
    ok = (v > 0) & np.isfinite(v) & (e > 0)
    if ok.sum() < 3:
        return 1.0
    resid2 = (o[ok] - e[ok]) ** 2 / v[ok]
    return float(np.clip(np.median(resid2) / _CHI2_1_MEDIAN, 1.0, _MAX_PHI))
