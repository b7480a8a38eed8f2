"""``TempoSource``: canonical frames from Grafana Tempo, whole traces, honest about gaps."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench import schema
from workbench.deadline import Deadline
from workbench.errors import ConfigError, SourceAuthError, SourceError, SourceQueryError
from workbench.sources import (TraceSource, incomplete_reason, mark_incomplete,
                               source_identity, to_utc)
from workbench.sources import conventions as conv
from workbench.sources import otlp
from workbench.sources import prices as prices_mod

from . import _metrics, _search
from ._cache import SliceCache
from ._client import BadRequest, Budget, BudgetExhausted, NotFound, Stats, Transport
from ._config import resolve_config

log = logging.getLogger("workbench.sources.tempo")

Slice = tuple[pd.Timestamp, pd.Timestamp]
HOUR = 3600.0
MEMO_S = 120.0  # how long one pull answers repeated calls for the same window
#: Local filters of :meth:`TempoSource.observations`: canonical columns, a value or a list.
LOCAL_FILTERS = ("agent", "type", "level", "error_type", "tool_name", "user_id", "session_id",
                 "release", "model", "prompt_name", "prompt_version", "environment", "name",
                 "trace_id")
_GRANULARITY = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}
_CACHE_COLUMNS = ("cache_read_tokens", "cache_write_tokens")


@dataclass
class _SliceResult:
    bodies: list[Any] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    hits: int = 0
    lost: int = 0  # traces found but not read whole


@dataclass
class _Pull:
    observations: pd.DataFrame
    scores: pd.DataFrame
    links: pd.DataFrame
    info: dict[str, Any]

    def copy(self) -> _Pull:
        return _Pull(self.observations.copy(), self.scores.copy(), self.links.copy(), self.info)


def _is_trace_body(body: Any) -> bool:
    try:
        otlp.resource_spans(body)
    except ValueError:
        return False
    return True


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]


class TempoSource(TraceSource):
    """Traces from Tempo's HTTP API: TraceQL search, whole traces by id, TraceQL metrics.

    Configuration comes from ``TEMPO_URL``, ``TEMPO_USERNAME``/``TEMPO_PASSWORD`` or
    ``TEMPO_TOKEN``, ``TEMPO_HEADERS`` and ``TEMPO_ORG_ID`` (``X-Scope-OrgID`` on every request)
    unless given. A window is searched in grid-aligned slices (``slice_s``, never longer than
    the server's search limit, which a 400 teaches when it is shorter), the traces found are
    fetched whole, ``concurrency`` at a time, newest slice first, decoded from OTLP JSON and
    mapped by ``conventions``; LLM calls with tokens but no cost are priced from ``prices``.
    A trace belongs to the window its first span starts in, and comes whole: its spans may end
    (and its evaluation scores be recorded) after the window.

    Every request ends within ``timeout_s`` (<= 10 s); a pull stops at ``budget_s`` or at
    ``deadline`` (one :class:`~workbench.deadline.Deadline` a report shares between its pulls)
    and returns what it has, marked incomplete (:func:`workbench.sources.incomplete_reason`).
    Settled hours are reconciled against the number of root spans TraceQL metrics counts: a
    shortfall marks the frame incomplete. Closed slices are cached as Parquet under
    ``cache_dir``. Counters, malformed-span counts and the reconciliation of the last pull are in
    :meth:`status` and in the frame's ``attrs["tempo"]``.
    """

    name = "tempo"

    def __init__(self, url: str | None = None, *, username: str | None = None,
                 password: str | None = None, token: str | None = None,
                 headers: dict[str, str] | str | None = None, org_id: str | None = None,
                 cache_dir: str | os.PathLike[str] | None = None, timeout_s: float = 10.0,
                 budget_s: float = 300.0, max_attempts: int = 4, backoff_s: float = 0.5,
                 concurrency: int = 8, slice_s: float = HOUR, search_limit: int = 2000,
                 min_split_s: float = 60.0, max_search_s: float | None = None,
                 max_metrics_s: float = 86400.0, trace_api: str = "auto", query: str = "{ }",
                 settle_s: float = 900.0, progress: bool | None = None,
                 deadline: Deadline | None = None,
                 conventions: conv.Conventions | str | os.PathLike[str] | None = None,
                 prices: prices_mod.PriceTable | str | os.PathLike[str] | None = None,
                 reconcile: bool = True,
                 now: Callable[[], pd.Timestamp] | None = None) -> None:
        config = resolve_config(url, username=username, password=password, token=token,
                                headers=headers, org_id=org_id)
        if concurrency < 1 or slice_s <= 0 or budget_s <= 0 or search_limit < 1:
            raise ConfigError("concurrency, slice_s, budget_s and search_limit must be positive")
        if trace_api not in ("auto", "v2", "v1"):
            raise ConfigError(f"trace_api must be auto, v2 or v1, got {trace_api!r}")
        self.url = config.url
        self.org_id = config.org_id
        self.cache_dir = cache_dir
        self.budget_s = budget_s
        self.concurrency = concurrency
        self.slice_s = slice_s
        self.search_limit = search_limit
        self.min_split_s = min_split_s
        self.max_search_s = max_search_s
        self.max_metrics_s = max_metrics_s
        self.trace_api = trace_api
        self.query = query
        self.settle_s = settle_s
        self.progress = progress
        self.deadline = deadline
        self.reconcile = reconcile
        self.conventions = conventions if isinstance(conventions, conv.Conventions) \
            else conv.load(conventions)
        self.prices = prices if isinstance(prices, prices_mod.PriceTable) \
            else prices_mod.load(prices)
        self._now = now or (lambda: pd.Timestamp.now(tz="UTC"))
        self._transport = Transport(config, timeout_s=timeout_s, max_attempts=max_attempts,
                                    backoff_s=backoff_s, pool_size=max(4, 2 * concurrency))
        self._api = "v2" if trace_api == "auto" else trace_api
        self._lock = threading.Lock()
        self._memo: tuple[tuple[Any, ...], _Pull] | None = None
        self.last_stats: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"TempoSource(url={self.url!r}, org_id={self.org_id!r})"

    @property
    def identity(self) -> str:
        """``tempo:<host>:<hash of the URL and tenant>``: two tenants (or two Tempos behind
        one host) are two sources."""
        return source_identity("tempo", self.url, self.url, self.org_id)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> TempoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing --------------------------------------------------------------------------------

    def _budget(self) -> Budget:
        return Budget.of(self.deadline, self.budget_s)

    def _window(self, start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
        lo, hi = to_utc(start), to_utc(end)
        if lo >= hi:
            raise ConfigError(f"empty window: start {lo} is not before end {hi}")
        return lo, hi

    def _slice_len(self) -> float:
        return min(self.slice_s, self.max_search_s or math.inf)

    def health(self) -> str:
        """``GET /api/echo``: Tempo's query frontend answers ``echo`` when it is up."""
        return self._transport.get_text("api/echo", self._budget(), Stats()).strip()

    def status(self) -> dict[str, Any]:
        """Counters, malformed-span counts and reconciliation of the last pull."""
        return dict(self.last_stats)

    # ---- search ----------------------------------------------------------------------------------

    def _search(self, lo: pd.Timestamp, hi: pd.Timestamp, q: str, budget: Budget,
                stats: Stats) -> tuple[list[_search.Hit], list[str]]:
        """Every trace starting in ``[lo, hi)``: cut to the server's limit, split when full."""
        limit_s = self.max_search_s
        if limit_s is not None and (hi - lo).total_seconds() > limit_s:
            hits, reasons = [], []
            for a, b in _search.plan(lo, hi, limit_s):
                h, r = self._search(a, b, q, budget, stats)
                hits += h
                reasons += r
            return hits, reasons
        p = _search.params(q, lo, hi, self.search_limit, 1)
        stats.add(searches=1)
        try:
            body = self._transport.get_json("api/search", p, budget, stats,
                                            check=_search.is_search_body)
        except BadRequest as exc:
            limit = _search.range_limit(exc.server_message)
            if limit is not None and (hi - lo).total_seconds() > limit:
                with self._lock:
                    self.max_search_s = min(self.max_search_s or math.inf, limit)
                log.info("tempo: search range limit is %.0f s; searching in shorter slices", limit)
                return self._search(lo, hi, q, budget, stats)
            raise
        hits, bad = _search.parse(body)
        if bad:
            log.warning("tempo: %d unreadable trace entries in a search answer", bad)
        if len(hits) >= self.search_limit:
            if (hi - lo).total_seconds() > self.min_split_s:
                stats.add(search_splits=1)
                mid = lo + (hi - lo) / 2
                a, ra = self._search(lo, mid, q, budget, stats)
                b, rb = self._search(mid, hi, q, budget, stats)
                return a + b, ra + rb
            reason = (f"search limit of {self.search_limit} traces reached in "
                      f"{_iso(lo)}..{_iso(hi)}; raise search_limit")
            lo_ns, hi_ns = lo.value, hi.value
            return [h for h in hits if lo_ns <= h.start_ns < hi_ns], [reason]
        lo_ns, hi_ns = lo.value, hi.value
        return [h for h in hits if lo_ns <= h.start_ns < hi_ns], []

    def search(self, start: Any, end: Any, q: str | None = None) -> pd.DataFrame:
        """The traces of ``[start, end)`` a TraceQL filter finds: ``trace_id`` (32 hex),
        ``start_time``, ``root_service``, ``root_name``, ``duration_ms``."""
        lo, hi = self._window(start, end)
        budget, stats = self._budget(), Stats()
        hits, reasons = [], []
        for s in _search.plan(lo, hi, self._slice_len()):
            try:
                h, r = self._search(*s, q or self.query, budget, stats)
            except BudgetExhausted as exc:
                reasons.append(str(exc))
                break
            hits += h
            reasons += r
        df = pd.DataFrame({
            "trace_id": pd.array([h.trace_id for h in hits], dtype="string"),
            "start_time": pd.to_datetime(np.asarray([h.start_ns for h in hits], dtype="int64"),
                                         unit="ns", utc=True),
            "root_service": pd.array([h.root_service for h in hits], dtype="string"),
            "root_name": pd.array([h.root_name for h in hits], dtype="string"),
            "duration_ms": np.asarray([h.duration_ms for h in hits], dtype="int64")})
        df = df.drop_duplicates("trace_id").sort_values("start_time", ignore_index=True)
        for r in reasons:
            mark_incomplete(df, f"tempo search: {r}")
        df.attrs["tempo"] = stats.as_dict()
        return df

    # ---- whole traces ------------------------------------------------------------------------------

    def _fetch(self, trace_id: str, budget: Budget, stats: Stats) -> tuple[Any, str | None]:
        """(body or None, None | "not_found" | "partial: <message>") of one trace."""
        if self._api == "v2":
            try:
                body = self._transport.get_json(f"api/v2/traces/{trace_id}", {}, budget, stats,
                                                check=_is_trace_body)
            except NotFound as exc:
                if exc.body.strip() and self.trace_api == "auto":
                    # no v2 route (Tempo before 2.x's v2 API): the v1 form from now on
                    log.info("tempo: /api/v2/traces answers 404 (%s); using /api/traces",
                             exc.body[:60])
                    self._api = "v1"
                    return self._fetch(trace_id, budget, stats)
                return None, "not_found"  # hidden by a redaction, or gone
            if not otlp.resource_spans(body):
                return None, "not_found"  # v2 answers a missing trace with an empty 200
            status = body.get("status")
            if status not in (None, "", "COMPLETE"):
                return body, f"partial: {status} {body.get('message') or ''}".strip()
            return body, None
        try:
            body = self._transport.get_json(f"api/traces/{trace_id}", {}, budget, stats,
                                            check=_is_trace_body)
        except NotFound:
            return None, "not_found"
        return (body, None) if otlp.resource_spans(body) else (None, "not_found")

    def raw_trace(self, trace_id: str) -> otlp.Decoded:
        """One trace by id (16-, 31- or 32-character hex, or base64), decoded."""
        tid = otlp.normalise_trace_id(trace_id)
        body, problem = self._fetch(tid, self._budget(), Stats())
        if body is None:
            raise SourceQueryError(f"trace {tid} not found", source="tempo",
                                   query=f"trace {tid}")
        d = otlp.decode([body], self.conventions)
        if problem:
            d.raw.attrs["tempo_partial"] = problem
        return d

    def trace(self, trace_id: str) -> pd.DataFrame:
        """Canonical observations of one trace; a partial answer is marked incomplete."""
        d = self.raw_trace(trace_id)
        obs = self._map(d.raw)[0]
        if d.raw.attrs.get("tempo_partial"):
            mark_incomplete(obs, f"tempo trace {trace_id}: {d.raw.attrs['tempo_partial']}")
        if d.problems.dropped_spans:
            mark_incomplete(obs, f"tempo trace {trace_id}: {d.problems.summary()}")
        obs.attrs["otlp_problems"] = d.problems.to_dict()
        return obs

    def _map(self, raw: pd.DataFrame) -> tuple[pd.DataFrame, prices_mod.Filled]:
        obs = self.conventions.observations(raw)
        return self.prices.fill_costs(obs)

    # ---- the pull ----------------------------------------------------------------------------------

    def _pull(self, lo: pd.Timestamp, hi: pd.Timestamp, q: str) -> _Pull:
        key = (lo, hi, q)
        with self._lock:
            # observations, traces and scores of one window come from one pull; a later call
            # (a notebook re-run) pulls again, so newly arrived spans are not missed
            if self._memo is not None and self._memo[0][:3] == key and \
                    time.monotonic() - self._memo[0][3] < MEMO_S:
                return self._memo[1].copy()
        budget, stats = self._budget(), Stats()
        slices = _search.plan(lo, hi, self._slice_len())
        stats.add(slices_total=len(slices))
        cache = None
        if self.cache_dir is not None:
            cache = SliceCache(self.cache_dir, {
                "url": self.url, "org": self.org_id, "q": q,
                "conventions": self.conventions.fingerprint, "prices": self.prices.fingerprint})
        closed_before = self._now() - pd.Timedelta(seconds=self.settle_s)
        frames: dict[str, list[pd.DataFrame]] = {"observations": [], "scores": [], "links": []}
        if cache is not None:
            hit, covered = cache.get_many([s for s in slices if s[1] <= closed_before])
            for f, df in hit.items():
                frames[f].append(df)
            stats.add(slices_cached=len(covered))
            slices = [s for s in slices if s not in covered]
        results = self._search_and_fetch(slices, q, budget, stats)
        # one decode and one mapping for the whole pull (their cost is mostly per call), then
        # split by slice: a trace belongs to the slice its search hit came from
        bodies = [(s, tid, b) for s in slices for tid, b in results[s].bodies]
        d = otlp.decode([b for _, _, b in bodies], self.conventions)
        obs_all, filled = self._map(d.raw)
        scores_all = self._scores_with_environment(d.scores, obs_all)
        problems = d.problems
        stats.add(spans=len(obs_all))
        slice_of: dict[str, int] = {}
        bad_slices: set[Slice] = set()
        index = {s: i for i, s in enumerate(slices)}
        for (s, tid, _), n_bad in zip(bodies, d.body_problems):
            slice_of[tid] = index[s]
            if n_bad:
                bad_slices.add(s)
        obs_slice = obs_all["trace_id"].map(slice_of).to_numpy()
        sc_slice = scores_all["trace_id"].map(slice_of).to_numpy()
        link_slice = d.links["trace_id"].map(slice_of).to_numpy()
        reasons: list[str] = []
        for i, s in enumerate(slices):
            r = results[s]
            obs = obs_all[obs_slice == i]
            sc = scores_all[sc_slice == i]
            links = d.links[link_slice == i]
            if r.reasons:
                stats.add(slices_incomplete=1)
                reasons.append(f"{_iso(s[0])}..{_iso(s[1])}: {r.reasons[0]}"
                               + (f" (+{len(r.reasons) - 1} more)" if len(r.reasons) > 1 else ""))
            elif cache is not None and s[1] <= closed_before and s not in bad_slices:
                cache.put(*s, {"observations": obs, "scores": sc, "links": links})
        frames["observations"].append(obs_all)
        frames["scores"].append(scores_all)
        frames["links"].append(d.links)
        out = _merge(frames["observations"], "observations", ["trace_id", "observation_id"],
                     "start_time")
        scores = _merge(frames["scores"], "scores", ["score_id"], "timestamp")
        links = _merge(frames["links"], "links", schema.columns("links"), None)
        if reasons:
            mark_incomplete(out, f"tempo: {len(reasons)} of {stats.slices_total} time slice(s) "
                                 f"incomplete, first: {reasons[0]}")
        if problems.dropped_spans or problems.counts.get("bad_value"):
            mark_incomplete(out, f"tempo: malformed spans, the rest of their traces kept: "
                                 f"{problems.summary()}")
        elif problems.total:
            log.warning("tempo: %s", problems.summary())
        info: dict[str, Any] = {**stats.as_dict(), "otlp_problems": problems.to_dict(),
                                **filled.to_dict(),
                                "price_table": {"date": self.prices.date,
                                                "source": self.prices.source}}
        if self.reconcile and q.strip() in ("{}", "{ }"):
            self._reconcile(out, lo, hi, budget, stats, info)
        info.update(stats.as_dict())
        out.attrs["tempo"] = info
        if reason := incomplete_reason(out):
            mark_incomplete(scores, reason)
        scores.attrs["tempo"] = info
        if reason := incomplete_reason(out):
            mark_incomplete(links, reason)
        links.attrs["tempo"] = info
        self.last_stats = info
        pull = _Pull(out, scores, links, info)
        if not incomplete_reason(out):
            with self._lock:
                self._memo = ((*key, time.monotonic()), pull)
        return pull.copy()

    def _search_and_fetch(self, slices: list[Slice], q: str, budget: Budget,
                          stats: Stats) -> dict[Slice, _SliceResult]:
        results = {s: _SliceResult() for s in slices}
        if not slices:
            return results
        order = sorted(slices, key=lambda s: s[0], reverse=True)  # newest first
        found: dict[Slice, list[_search.Hit]] = {}
        with ThreadPoolExecutor(max_workers=self.concurrency,
                                thread_name_prefix="tempo-search") as pool:
            futures = {pool.submit(self._search, *s, q, budget, stats): s for s in order}
            for fut in as_completed(futures):
                s = futures[fut]
                try:
                    hits, reasons = fut.result()
                except SourceAuthError:
                    raise
                except BadRequest:
                    raise
                except SourceError as exc:
                    hits, reasons = [], [f"search failed: {exc}"]
                found[s] = hits
                results[s].reasons += reasons
        seen: set[str] = set()
        jobs: list[tuple[Slice, _search.Hit]] = []
        for s in order:  # newest slice first, newest trace first within it
            for h in sorted(found.get(s, []), key=lambda h: h.start_ns, reverse=True):
                if h.trace_id not in seen:
                    seen.add(h.trace_id)
                    jobs.append((s, h))
        stats.add(traces_found=len(jobs))
        for s, _ in jobs:
            results[s].hits += 1
        show = self.progress if self.progress is not None else len(jobs) >= 2000
        lost: dict[Slice, dict[str, int]] = {}

        def fetch(job: tuple[Slice, _search.Hit]) -> tuple[Slice, str, Any, str | None]:
            s, h = job
            try:
                body, problem = self._fetch(h.trace_id, budget, stats)
            except BudgetExhausted:
                return s, h.trace_id, None, "not_fetched"
            except (SourceAuthError, BadRequest):
                raise
            except SourceError as exc:
                log.warning("tempo: trace %s: %s", h.trace_id, exc)
                return s, h.trace_id, None, f"failed: {exc}"
            return s, h.trace_id, body, problem

        with ThreadPoolExecutor(max_workers=self.concurrency,
                                thread_name_prefix="tempo-fetch") as pool, \
                tqdm(total=len(jobs), desc="tempo traces", unit="trace", disable=not show,
                     leave=False) as bar:
            for s, tid, body, problem in pool.map(fetch, jobs):
                bar.update(1)
                r = results[s]
                if body is not None:
                    r.bodies.append((tid, body))
                    stats.add(traces_fetched=1)
                kind = None if problem is None else problem.split(":", 1)[0]
                if kind is not None:
                    stats.add(**{{"not_found": "traces_not_found", "partial": "traces_partial",
                                  "not_fetched": "traces_not_fetched"}.get(kind,
                                                                           "traces_failed"): 1})
                    lost.setdefault(s, {})
                    lost[s][kind] = lost[s].get(kind, 0) + 1
        for s, kinds in lost.items():
            words = {"not_found": "not found by id", "partial": "answered PARTIAL",
                     "not_fetched": "not fetched before the time budget ran out",
                     "failed": "failed after retries"}
            results[s].reasons.append(", ".join(
                f"{n} of {results[s].hits} trace(s) {words.get(k, k)}" for k, n in kinds.items()))
        return results

    def _scores_with_environment(self, scores: pd.DataFrame, obs: pd.DataFrame) -> pd.DataFrame:
        if scores.empty or obs.empty:
            return scores
        env = obs.drop_duplicates("trace_id").set_index("trace_id")["environment"]
        filled = scores["environment"].fillna(scores["trace_id"].map(env))
        return scores.assign(environment=filled.astype("string"))

    # ---- reconciliation --------------------------------------------------------------------------

    def _reconcile(self, out: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp, budget: Budget,
                   stats: Stats, info: dict[str, Any]) -> None:
        """Compare the traces pulled per settled hour with the root spans TraceQL metrics
        counts for the same hours (intervals ``(t - 1h, t]``, as Tempo labels them)."""
        step = pd.Timedelta(seconds=HOUR)
        settled = min(hi, self._now() - pd.Timedelta(seconds=self.settle_s))
        epoch = pd.Timestamp(0, tz="UTC")
        first = epoch + math.ceil((lo - epoch) / step) * step + step
        last = epoch + math.floor((settled - epoch) / step) * step
        if last < first:
            info["reconciled"] = "not checked: no whole settled hour in the window"
            return
        try:
            reported = self._range(_metrics.query(f"{{ {_metrics.ROOT} }}", "count_over_time()",
                                                  []), first - step, last, HOUR, budget, stats)
        except (SourceAuthError, SourceQueryError) as exc:
            info["reconciled"] = f"not checked: {exc}"
            return
        except SourceError as exc:
            mark_incomplete(out, f"tempo: could not reconcile with TraceQL metrics: {exc}")
            info["reconciled"] = f"not checked: {exc}"
            return
        if reason := incomplete_reason(reported):
            mark_incomplete(out, f"tempo: could not reconcile with TraceQL metrics: {reason}")
        rep = reported.groupby("timestamp")["value"].sum()
        # a trace pulled without its root (a partial answer) still counts: it is marked already
        roots = out.groupby("trace_id", observed=True)["start_time"].min()
        step_ns = int(HOUR * 1e9)
        ends = -((-roots.astype("int64").to_numpy() * 1000) // step_ns) * step_ns
        pulled = pd.Series(1, index=pd.to_datetime(ends, unit="ns", utc=True)).groupby(level=0).sum()
        hours = pd.date_range(first, last, freq="h")
        table = pd.DataFrame({"reported_traces": rep.reindex(hours).fillna(0).round(),
                              "pulled_traces": pulled.reindex(hours).fillna(0)}).astype("int64")
        table.index.name = "hour_end"
        short = table[table["pulled_traces"] < table["reported_traces"]]
        by_day = table.groupby((table.index - step).floor("D")).sum()
        info["reconciled"] = "checked"
        info["reconciliation"] = [
            {"day": f"{d:%Y-%m-%d}", **{k: int(v) for k, v in r.items()}}
            for d, r in by_day.iterrows()]
        if len(short):
            missing = int((short["reported_traces"] - short["pulled_traces"]).sum())
            hours_text = ", ".join(f"{t - step:%Y-%m-%d %H:%M} ({r.pulled_traces} of "
                                   f"{r.reported_traces})" for t, r in short.head(5).iterrows())
            more = f" and {len(short) - 5} more hour(s)" if len(short) > 5 else ""
            mark_incomplete(out, f"tempo: {missing} fewer traces pulled than TraceQL metrics "
                                 f"counts: {hours_text}{more}")
            info["reconciliation_shortfall"] = missing

    # ---- TraceQL metrics -----------------------------------------------------------------------

    def _range(self, q: str, start: pd.Timestamp, end: pd.Timestamp, step_s: float,
               budget: Budget, stats: Stats, metric: str | None = None) -> pd.DataFrame:
        """``query_range`` over ``[start, end]`` (step-aligned), cut to the server's limit;
        samples labelled by their interval end, those ending in ``(start, end]`` kept."""
        pieces = []
        partial: list[str] = []
        limit = self.max_metrics_s
        span = max(step_s, math.floor(limit / step_s) * step_s) if limit else math.inf
        t = start
        while t < end:
            u = min(end, t + pd.Timedelta(seconds=span))
            params = {"q": q, "start": str(t.value), "end": str(u.value),
                      "step": _metrics.step_text(step_s)}
            stats.add(metrics_queries=1)
            try:
                body = self._transport.get_json("api/metrics/query_range", params, budget,
                                                stats, check=_metrics.is_body)
            except BadRequest as exc:
                learnt = _search.range_limit(exc.server_message)
                if learnt is not None and learnt < step_s:
                    raise ConfigError(f"step {step_s:.0f} s is longer than the server's TraceQL "
                                      f"metrics range limit of {learnt:.0f} s") from exc
                if learnt is not None and learnt < span:
                    self.max_metrics_s = learnt
                    return self._range(q, start, end, step_s, budget, stats, metric)
                raise
            series, why = _metrics.parse(body)
            if why:
                partial.append(why)
            pieces.append(_metrics.tidy(series, metric or q, t, u))
            t = u
        df = pd.concat(pieces, ignore_index=True) if pieces else _metrics.tidy([], q, start, end)
        for why in partial[:1]:
            mark_incomplete(df, why)
        return df

    def metrics(self, q: str, start: Any, end: Any, step: float | str = HOUR) -> pd.DataFrame:
        """A TraceQL metrics query (``{ ... } | count_over_time() by (...)``) as a tidy frame:
        ``timestamp`` (the end of each interval), one column per label, ``metric``, ``value``."""
        lo, hi = self._window(start, end)
        step_s = _search.go_duration(step) if isinstance(step, str) else float(step)
        if not step_s or step_s <= 0:
            raise ConfigError(f"step must be a positive duration, got {step!r}")
        budget, stats = self._budget(), Stats()
        df = self._range(q, lo, hi, step_s, budget, stats)
        df.attrs["tempo"] = stats.as_dict()
        return df

    def aggregate(self, start: Any, end: Any, measures: Sequence[str] = ("spans",),
                  by: Sequence[str] = (), granularity: str | float = "hour",
                  q: str | None = None) -> pd.DataFrame:
        """Aggregates computed by Tempo (TraceQL metrics) instead of pulling spans.

        ``measures``: ``spans``, ``traces`` (root spans), ``errors`` (spans with error status),
        ``input_tokens``, ``output_tokens`` (summed over LLM calls: GenAI ``chat``-like and
        ``embeddings`` operations, OpenInference ``LLM``/``EMBEDDING`` spans) and ``cost_usd``
        (those tokens priced from the price table, prompt-cache reads and writes at their own
        prices; a span's own reported cost is not read).
        ``by``: ``model`` (token measures only), ``agent``, ``environment``, ``release``,
        ``name`` or TraceQL attributes. Tidy frame: ``timestamp`` (interval start), ``metric``
        (the measure), the ``by`` columns, ``value``.
        """
        lo, hi = self._window(start, end)
        step_s = _GRANULARITY.get(granularity) if isinstance(granularity, str) \
            else float(granularity)
        if not step_s:
            raise ConfigError(f"granularity must be one of {sorted(_GRANULARITY)} or seconds, "
                              f"got {granularity!r}")
        q = q or self.query
        unknown = [m for m in measures if m not in _metrics.MEASURES]
        if unknown:
            raise ConfigError(f"unknown measure(s) {unknown}; measures: {list(_metrics.MEASURES)}")
        dims = [d for d in by if d != "model"]
        attrs = [_metrics.dimension(d) for d in dims]
        if "model" in by and any(m in ("spans", "traces", "errors") for m in measures):
            raise ConfigError("`by=model` applies to token and cost measures only")
        budget, stats = self._budget(), Stats()
        step = pd.Timedelta(seconds=step_s)
        epoch = pd.Timestamp(0, tz="UTC")
        first = epoch + math.floor((lo - epoch) / step) * step
        last = epoch + math.ceil((hi - epoch) / step) * step
        parts: list[pd.DataFrame] = []
        reasons: list[str] = []
        unpriced: dict[str, float] = {}
        counts = {"spans": q, "traces": _metrics.and_filter(q, _metrics.ROOT),
                  "errors": _metrics.and_filter(q, "status = error")}
        for m in measures:
            if m in counts:
                df = self._range(_metrics.query(counts[m], "count_over_time()", attrs), first,
                                 last, step_s, budget, stats, m)
                reasons += [r for r in [incomplete_reason(df)] if r]
                parts.append(self._rename(df, dims, attrs, m))
        token_measures = [m for m in measures if m in ("input_tokens", "output_tokens",
                                                        "cost_usd")]
        if token_measures:
            tokens, why = self._tokens(q, first, last, step_s, attrs, dims, budget, stats,
                                       cache="cost_usd" in token_measures)
            reasons += why
            keys = ["timestamp", *dims] + (["model"] if "model" in by else [])
            for m in token_measures:
                if m == "cost_usd":
                    t = tokens.copy()
                    price = [self.prices.price(x) for x in t["model"]]
                    p_in = np.array([np.nan if p is None else p.input for p in price])
                    p_out = np.array([np.nan if p is None else p.output for p in price])
                    p_read = np.array([np.nan if p is None else p.cache_read_rate
                                       for p in price])
                    p_write = np.array([np.nan if p is None else p.cache_write_rate
                                        for p in price])
                    read = t["cache_read_tokens"].to_numpy()
                    write = t["cache_write_tokens"].to_numpy()
                    uncached = np.maximum(t["input_tokens"].to_numpy() - read - write, 0.0)
                    t["value"] = (uncached * p_in + read * p_read + write * p_write
                                  + t["output_tokens"].to_numpy() * p_out) / 1e6
                    for model, g in t[np.isnan(p_in)].groupby("model", dropna=False):
                        unpriced[str(model)] = float(g["input_tokens"].sum()
                                                     + g["output_tokens"].sum())
                else:
                    t = tokens.assign(value=tokens[m])
                g = t.groupby(keys, dropna=False, sort=True)["value"].sum(min_count=1)
                parts.append(g.reset_index().assign(metric=m))
        frames = [p for p in parts if len(p)]
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
            {"timestamp": pd.Series(dtype="datetime64[us, UTC]"), "metric": pd.Series(
                dtype="string"), "value": pd.Series(dtype="float64")})
        out["timestamp"] = out["timestamp"] - step  # interval start
        out = out[(out["timestamp"] >= first) & (out["timestamp"] < last)]
        cols = ["timestamp", "metric", *[c for c in out.columns
                                         if c not in ("timestamp", "metric", "value")], "value"]
        out = out[cols].sort_values(cols[:-1], ignore_index=True)
        for c in cols[1:-1]:  # the measure and the groupings, as text
            out[c] = out[c].astype("string")
        for r in reasons[:1]:
            mark_incomplete(out, r)
        out.attrs["tempo"] = {**stats.as_dict(), "unpriced_tokens_by_model": unpriced}
        return out

    def _rename(self, df: pd.DataFrame, dims: list[str], attrs: list[str],
                metric: str) -> pd.DataFrame:
        df = df.rename(columns=dict(zip(attrs, dims)))
        for d in dims:
            if d not in df.columns:
                df[d] = None
        return df.assign(metric=metric)[["timestamp", *dims, "metric", "value"]]

    def _tokens(self, q: str, first: pd.Timestamp, last: pd.Timestamp, step_s: float,
                attrs: list[str], dims: list[str], budget: Budget,
                stats: Stats, cache: bool = False) -> tuple[pd.DataFrame, list[str]]:
        """Input and output tokens of LLM calls per interval, model and ``dims``; with
        ``cache``, also the prompt-cache reads and writes among the input tokens."""
        rows = []
        reasons: list[str] = []
        families = [(models, llm, (("input_tokens", tin), ("output_tokens", tout)))
                    for tin, tout, models, llm in _metrics.TOKEN_FAMILIES]
        if cache:
            families += [(models, llm, (("cache_read_tokens", read),
                                        ("cache_write_tokens", write)))
                         for read, write, models, llm in _metrics.CACHE_FAMILIES]
        columns = ["input_tokens", "output_tokens"] + (list(_CACHE_COLUMNS) if cache else [])
        for models, llm, measured in families:
            sel = _metrics.and_filter(q, llm)
            for col, attr in measured:
                df = self._range(_metrics.query(sel, f"sum_over_time({attr})",
                                                [*models, *attrs]), first, last, step_s,
                                 budget, stats, col)
                reasons += [r for r in [incomplete_reason(df)] if r]
                if df.empty:
                    continue
                model = pd.Series(None, index=df.index, dtype=object)
                for m in models:
                    if m in df.columns:
                        model = model.where(model.notna(), df[m])
                df = df.rename(columns=dict(zip(attrs, dims)))
                for d in dims:
                    if d not in df.columns:
                        df[d] = None
                rows.append(pd.DataFrame({"timestamp": df["timestamp"], "model": model,
                                          **{d: df[d] for d in dims}, "column": col,
                                          "value": df["value"]}))
        if not rows:
            return pd.DataFrame(columns=["timestamp", "model", *dims, *columns]).astype(
                dict.fromkeys(columns, "float64")), reasons
        long = pd.concat(rows, ignore_index=True)
        wide = long.groupby(["timestamp", "model", *dims, "column"], dropna=False,
                            sort=True)["value"].sum().unstack("column").reset_index()
        for c in columns:
            if c not in wide.columns:
                wide[c] = 0.0
            wide[c] = wide[c].fillna(0.0).astype("float64")
        wide.columns.name = None
        return wide, reasons

    # ---- tags --------------------------------------------------------------------------------------

    def tag_names(self, scope: str | None = None) -> dict[str, list[str]]:
        """Attribute names Tempo has seen, by scope (``resource``, ``span``, ``intrinsic``,
        ...); older servers without the v2 endpoint answer one unscoped list (``"all"``)."""
        budget, stats = self._budget(), Stats()
        params = {"scope": scope} if scope else {}
        try:
            body = self._transport.get_json("api/v2/search/tags", params, budget, stats)
            return {s["name"]: list(s.get("tags") or []) for s in body.get("scopes") or []}
        except NotFound:
            body = self._transport.get_json("api/search/tags", params, budget, stats)
            return {scope or "all": list(body.get("tagNames") or [])}

    def tag_values(self, tag: str, q: str | None = None) -> list[Any]:
        """The values seen for a TraceQL attribute (``resource.service.name``,
        ``span.gen_ai.request.model``); typed on servers with the v2 endpoint."""
        budget, stats = self._budget(), Stats()
        params = {"q": q} if q else {}
        try:
            body = self._transport.get_json(f"api/v2/search/tag/{quote(tag, safe='')}/values",
                                            params, budget, stats)
            out = []
            for v in body.get("tagValues") or []:
                kind, value = v.get("type"), v.get("value")
                if kind == "int":
                    value = int(value)
                elif kind == "float":
                    value = float(value)
                elif kind == "bool":
                    value = str(value).lower() == "true"
                out.append(value)
            return out
        except NotFound:
            plain = tag.split(".", 1)[1] if tag.startswith(("span.", "resource.")) else \
                tag.lstrip(".")
            body = self._transport.get_json(f"api/search/tag/{quote(plain, safe='')}/values",
                                            {}, budget, stats)
            return list(body.get("tagValues") or [])

    # ---- the trace source protocol -------------------------------------------------------------

    def observations(self, start: Any, end: Any, **filters: Any) -> pd.DataFrame:
        """Canonical observations of the traces that started in ``[start, end)``, whole.

        Filters: ``q`` (a TraceQL spanset filter, sent to Tempo: traces with a matching span);
        ``agent``, ``type``, ``level``, ``error_type``, ``tool_name``, ``user_id``,
        ``session_id``, ``release``, ``model``, ``prompt_name``, ``prompt_version``,
        ``environment``, ``name``, ``trace_id`` select from the mapped frame (a value or a list).
        """
        lo, hi = self._window(start, end)
        q = filters.pop("q", None) or self.query
        local = _local_filters(filters)
        out = self._pull(lo, hi, q).observations
        return _apply(out, local)

    def scores(self, start: Any, end: Any, **filters: Any) -> pd.DataFrame:
        """Evaluation scores the spans of the window's traces carry (``gen_ai.evaluation.result``
        events, evaluation attributes); empty when the spans carry none. Filters: ``q`` as for
        :meth:`observations`; ``name``, ``trace_id``, ``environment``, ``data_type``."""
        lo, hi = self._window(start, end)
        q = filters.pop("q", None) or self.query
        unknown = sorted(set(filters) - {"name", "trace_id", "environment", "data_type",
                                         "source"})
        if unknown:
            raise ConfigError(f"unknown score filter(s) {unknown}")
        return _apply(self._pull(lo, hi, q).scores, filters)


    def links(self, start: Any, end: Any, q: str | None = None) -> pd.DataFrame:
        """The OpenTelemetry span links of the spans of the traces that started in
        ``[start, end)``: which span links to which (a batch job to the requests it serves, a
        retry to its first attempt), often across traces. From the same pull as
        :meth:`observations`; ``q`` as there."""
        lo, hi = self._window(start, end)
        return self._pull(lo, hi, q or self.query).links


def _local_filters(filters: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(filters) - set(LOCAL_FILTERS))
    if unknown:
        raise ConfigError(f"unknown observation filter(s) {unknown}; filters: q, "
                          f"{', '.join(LOCAL_FILTERS)}")
    return {k: v for k, v in filters.items() if v is not None}


def _apply(df: pd.DataFrame, filters: dict[str, Any]) -> pd.DataFrame:
    if not filters:
        return df
    keep = np.ones(len(df), dtype=bool)
    for k, v in filters.items():
        keep &= df[k].astype(str).isin([str(x) for x in _as_list(v)]).to_numpy()
    out = df[keep].reset_index(drop=True)
    out.attrs.update(df.attrs)
    return out


def _merge(frames: list[pd.DataFrame], frame: str, keys: list[str],
           order: str | None) -> pd.DataFrame:
    """The rows of ``frames`` once per ``keys``, sorted by ``order`` then ``keys``."""
    parts = [f for f in frames if len(f)]
    if not parts:
        return schema.empty(frame)
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    by = [order, *keys] if order else keys
    df = df.drop_duplicates(keys).sort_values(by, kind="stable", ignore_index=True)
    return schema.conform(df, frame)
