"""``LangfuseSource``: canonical frames from a Langfuse project, fast and honest about gaps."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench import schema
from workbench.deadline import Deadline
from workbench.errors import ConfigError, SourceAuthError, SourceError, SourceQueryError
from workbench.sources import (TraceSource, incomplete_reason, mark_incomplete,
                               source_identity, to_utc)
from workbench.sources import conventions as conv

from . import _legacy, _metrics, _observations, _parse, _score_configs, _scores, _slices
from ._cache import SliceCache, project_hash
from ._client import Budget, NotFound, Stats, Transport, resolve_config

log = logging.getLogger("workbench.sources.langfuse")

Pulled = tuple[list[Any], "str | None"]  # (items of one pull, reason-if-incomplete)
#: The items of every pull -> one frame, and the malformed items each pull held.
Build = Callable[[list[list[Any]]], tuple[pd.DataFrame, list[int]]]
#: Slices -> rows expected in each (keyed by the slice's start), or None when unknown.
Counts = Callable[[list[tuple[pd.Timestamp, pd.Timestamp]]], "dict[pd.Timestamp, int] | None"]
#: What the Metrics API counted: its rows, and why they fall short (empty when they do not).
Counted = tuple[list[dict[str, Any]], list[str]]

#: Seconds of a pull's budget the slice plan may spend asking the Metrics API for counts.
PLAN_BUDGET_S = 5.0


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class _Asked:
    """Counts of a whole window asked for in the background, and how long the slice plan may
    wait for them."""

    counted: Future[Counted]
    plan_by: Deadline


def _one_answer(lo: pd.Timestamp, hi: pd.Timestamp, groups: int) -> bool:
    """Whether hourly counts of ``[lo, hi)`` in ``groups`` groups fit in one Metrics API answer
    (a row an hour and group at most): then the reconciliation reads the counts the plan does,
    at no extra request; split over several answers, its daily counts are cheaper."""
    hours = -(-(hi - lo.floor("h")) // pd.Timedelta(hours=1))
    return hours * groups < _metrics.ROW_LIMIT


def _merge(frames: Sequence[pd.DataFrame], frame: str, keys: list[str],
           order: str) -> pd.DataFrame:
    """Slices into one frame, in order, duplicates dropped: canonical frames conformed to
    their schema, raw frames (``frame`` ending in ``-raw``) completed to the raw columns."""
    parts = [f for f in frames if len(f)]
    if not parts:
        return conv.raw_frame({}) if frame.endswith("-raw") else schema.empty(frame)
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    df = _sorted(df.drop_duplicates(keys), order, keys)
    return conv.raw_frame(df) if frame.endswith("-raw") else schema.conform(df, frame)


def _sorted(df: pd.DataFrame, order: str, keys: list[str]) -> pd.DataFrame:
    """Rows by ``order``, then ``keys``. The keys are strings, slow to sort, so they only order
    the rows whose timestamps tie (a child span starting with its parent); rows already in order
    (cached slices are stored sorted, and read back in slice order) are not moved at all."""
    if df[order].is_monotonic_increasing:
        df = df.reset_index(drop=True)
    else:
        df = df.sort_values(order, kind="stable", ignore_index=True)
    tied = np.flatnonzero(df[order].duplicated(keep=False).to_numpy())
    if len(tied):
        within = df.iloc[tied].sort_values([order, *keys], kind="stable").index.to_numpy()
        if not np.array_equal(within, tied):
            perm = np.arange(len(df))
            perm[tied] = within
            df = df.take(perm).reset_index(drop=True)
    return df


def _reported_rows(out: pd.DataFrame,
                   reported: Future[tuple[list[dict[str, Any]], list[str]]],
                   what: str) -> list[dict[str, Any]] | None:
    """The Metrics API's rows to reconcile ``out`` with, or None with the reason in ``out``:
    a server without the API is noted, an answer cut short marks ``out`` incomplete."""
    try:
        rows, reasons = reported.result()
    except NotFound:
        out.attrs.setdefault("langfuse", {})["reconciled"] = \
            "not checked: the server has no Metrics API v2"
        return None
    except (SourceAuthError, SourceQueryError) as exc:
        out.attrs.setdefault("langfuse", {})["reconciled"] = f"not checked: {exc}"
        return None
    if reasons:
        mark_incomplete(out, f"langfuse {what}: could not reconcile with the Metrics API: "
                             f"{reasons[0]}")
        return None
    return rows


def _shortfall(out: pd.DataFrame, table: pd.DataFrame, what: str) -> list[pd.Timestamp]:
    """Record the per-day ``table`` (``reported_<what>`` / ``pulled_<what>`` columns, more
    allowed) in ``out``; mark ``out`` incomplete where fewer were pulled than reported, and
    return those days (UTC midnights)."""
    table.index.name = "day"
    info = out.attrs.setdefault("langfuse", {})
    info["reconciled"] = "checked"
    info["reconciliation"] = table.reset_index().assign(
        day=lambda d: d["day"].dt.strftime("%Y-%m-%d")).to_dict("records")
    pulled, reported = table[f"pulled_{what}"], table[f"reported_{what}"]
    short = table[pulled < reported]
    if len(short):
        missing = int((reported - pulled)[short.index].sum())
        days = ", ".join(f"{d:%Y-%m-%d} ({pulled[d]} of {reported[d]})" for d in short.index)
        mark_incomplete(out, f"langfuse {what}: {missing} fewer {what} pulled than Langfuse "
                             f"reports: {days}")
    return list(short.index)


class LangfuseSource(TraceSource):
    """Observations, scores and pushed-down aggregates from Langfuse's public API.

    Credentials come from ``LANGFUSE_PUBLIC_KEY`` / ``LANGFUSE_SECRET_KEY`` / ``LANGFUSE_BASE_URL``
    unless given. A window is pulled as grid-aligned time slices (``slice_s``), ``concurrency``
    at a time, each following its own cursor; closed slices are cached as Parquet under
    ``cache_dir`` so a re-run pulls only what is new. Every request times out within
    ``timeout_s`` (<= 10 s) of wall-clock time; a pull stops at ``budget_s`` (or at
    ``deadline``, one :class:`~workbench.deadline.Deadline` a report shares between all its pulls)
    and returns what it has, marked incomplete (see :func:`workbench.sources.incomplete_reason`).
    Slices are pulled newest first, so a pull cut short loses the oldest baseline hours.
    What was pulled is reconciled against the counts the Metrics API reports for the same
    window: a shortfall marks the frame incomplete, never "ok". Records are mapped to canonical
    columns by ``conventions`` (default: :func:`workbench.sources.conventions.load`). Counters of
    the last pull are in ``last_stats`` and in the frame's ``attrs["langfuse"]``.
    """

    name = "langfuse"

    def __init__(self, base_url: str | None = None, public_key: str | None = None,
                 secret_key: str | None = None, *,
                 cache_dir: str | os.PathLike[str] | None = None, timeout_s: float = 10.0,
                 budget_s: float = 300.0, max_attempts: int = 5, backoff_s: float = 0.5,
                 concurrency: int = 8, slice_s: float = 3600.0, page_limit: int = 1000,
                 settle_s: float = 900.0, trace_lookback_s: float = 3600.0,
                 progress: bool | None = None, deadline: Deadline | None = None,
                 conventions: conv.Conventions | str | os.PathLike[str] | None = None,
                 reconcile: bool = True,
                 now: Callable[[], pd.Timestamp] | None = None) -> None:
        config = resolve_config(base_url, public_key, secret_key)
        if not 1 <= page_limit <= 1000:
            raise ConfigError(f"page_limit must be in [1, 1000], got {page_limit}")
        if concurrency < 1 or slice_s <= 0 or budget_s <= 0:
            raise ConfigError("concurrency, slice_s and budget_s must be positive")
        self.base_url = config.base_url
        self.public_key = config.public_key
        self.cache_dir = cache_dir
        self.budget_s = budget_s
        self.concurrency = concurrency
        self.slice_s = slice_s
        self.page_limit = page_limit
        self.settle_s = settle_s
        self.trace_lookback_s = trace_lookback_s
        self.progress = progress
        self.deadline = deadline
        self.reconcile = reconcile
        self.conventions = conventions if isinstance(conventions, conv.Conventions) \
            else conv.load(conventions)
        self._now = now or (lambda: pd.Timestamp.now(tz="UTC"))
        self._score_ranges: dict[str, tuple[float, float]] | None = None  # per score config
        self._transport = Transport(config, timeout_s=timeout_s, max_attempts=max_attempts,
                                    backoff_s=backoff_s, pool_size=max(4, 2 * concurrency))
        self.last_stats: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"LangfuseSource(base_url={self.base_url!r}, public_key={self.public_key!r})"

    @property
    def identity(self) -> str:
        """``langfuse:<host>:<hash of the public key>``: the project, never a key."""
        return source_identity("langfuse", self.base_url, self.public_key)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> LangfuseSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing --------------------------------------------------------------------------------

    def _window(self, start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
        lo, hi = to_utc(start), to_utc(end)
        if lo >= hi:
            raise ConfigError(f"empty window: start {lo} is not before end {hi}")
        return lo, hi

    def _budget(self) -> Budget:
        """One pull's budget: ``budget_s``, never past the shared ``deadline``."""
        return Budget.of(self.deadline, self.budget_s)

    def is_legacy(self) -> bool:
        """True when the server lacks the v2/v3 reads (Langfuse v3); probed once per base URL."""
        return _legacy.detect(self._transport, self._budget(), Stats())

    def health(self) -> dict[str, Any]:
        """``GET /api/public/health`` (no auth needed): ``{"status", "version"}``."""
        return self._transport.get("api/public/health", {}, self._budget(), Stats())

    def _sliced(self, frame: str, lo: pd.Timestamp, hi: pd.Timestamp,
                fetch: Callable[[pd.Timestamp, pd.Timestamp], Pulled], build: Build,
                cache_parts: dict[str, Any], stats: Stats, keys: list[str], order: str,
                counts: Counts | None = None, page_limit: int | None = None) -> pd.DataFrame:
        """Every row of ``[lo, hi)``: closed slices from the cache, the others pulled.

        Slices (cells of the ``slice_s`` grid) are what is cached and counted; neighbouring
        slices are pulled together when ``counts`` (rows per slice) say they fit in about one
        page. Pulls only fetch items; ``build`` turns the items of all pulls into one frame,
        and the frame is sorted and freed of duplicates once, not once a slice.
        """
        cells = _slices.plan(lo, hi, self.slice_s)
        stats.add(slices_total=len(cells))
        cache = self._cache(frame, cache_parts, order)
        closed_before = self._now() - pd.Timedelta(seconds=self.settle_s)
        frames: list[pd.DataFrame] = []
        if cache is not None:
            hit, covered = cache.get_many([s for s in cells if s[1] <= closed_before])
            if hit is not None:
                frames.append(hit)
                stats.add(slices_cached=len(covered))
                cells = [s for s in cells if s not in covered]
        known = counts(cells) if counts is not None and len(cells) > self.concurrency else None
        pulls = _slices.spans(cells, known, page_limit=page_limit or self.page_limit,
                              concurrency=self.concurrency)
        stats.add(slice_pulls=len(pulls))
        results = _slices.run([(p[0][0], p[-1][1]) for p in pulls], lambda s: fetch(*s),
                              concurrency=self.concurrency, progress=self.progress,
                              desc=f"langfuse {frame.removesuffix('-raw')}")
        name = frame.removesuffix("-raw")
        reasons: list[str] = []
        done: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        if pulls:
            new, bad = build([items for items, _ in results])
            self._count_malformed(stats, name.removesuffix("s"), sum(bad))
            for pull, (_, reason), n_bad in zip(pulls, results, bad):
                if reason:
                    reasons.append(reason)
                    stats.add(slices_incomplete=len(pull))
                elif not n_bad:
                    done.extend(s for s in pull if s[1] <= closed_before)
            frames.append(new)
            if cache is not None and done:
                cache.put_many(done, new.drop_duplicates(keys))
        out = _merge(frames, frame, keys, order)
        if reasons:
            mark_incomplete(out, f"langfuse {name}: {stats.slices_incomplete} of "
                                 f"{stats.slices_total} time slice(s) incomplete, first: "
                                 f"{reasons[0]}")
        if stats.malformed_items:
            mark_incomplete(out, f"langfuse {name}: {stats.malformed_items} malformed item(s) "
                                 "skipped")
        self.last_stats = stats.as_dict()
        out.attrs["langfuse"] = dict(self.last_stats)
        return out

    def _cache(self, frame: str, cache_parts: dict[str, Any], order: str,
               create: bool = True) -> SliceCache | None:
        if self.cache_dir is None:
            return None
        parts = {"base_url": self.base_url, "project": project_hash(self.public_key),
                 **cache_parts}
        return SliceCache(self.cache_dir, frame, parts, order=order, create=create)

    def _counted(self, lo: pd.Timestamp, hi: pd.Timestamp, pushed: dict[str, Any],
                 granularity: str, budget: Budget, stats: Stats,
                 views: Sequence[str] = ("observations",), by: Sequence[str] = ()) -> Counted:
        """What the Metrics API counts in ``[lo, hi)`` per ``granularity`` bucket and ``by``
        dimension, in each of ``views`` (rows tagged with their ``view``); it stops at the
        first view it could not count. Raises what :meth:`_metric_rows` raises."""
        filters = {"environment": pushed["environment"]} if "environment" in pushed else {}
        ms = _metrics.parse_measures(["count"])
        dims = _metrics.parse_dimensions(list(by))
        rows: list[dict[str, Any]] = []
        for view in views:
            got, reasons = self._metric_rows(lo, hi, ms, dims, granularity, filters, budget,
                                             stats, view)
            if reasons:
                return rows, reasons
            rows += [{**r, "view": view} for r in got]
        return rows, []

    def _slice_counts(self, pushed: dict[str, Any], budget: Budget, stats: Stats,
                      early: _Asked | None = None,
                      views: Sequence[str] = ("observations",)) -> Counts:
        """Rows per slice, to plan pulls by: the hourly counts ``early`` holds (of the whole
        window, asked for while the server was probed or for the reconciliation) or asked for
        now; either way at most ``PLAN_BUDGET_S`` is spent waiting for them.

        Only a plan: a server without the Metrics API, or one that fails or is slow to
        answer, leaves every slice a pull of its own."""
        def counts(cells: list[tuple[pd.Timestamp, pd.Timestamp]]
                   ) -> dict[pd.Timestamp, int] | None:
            if not cells:
                return None
            lo, hi = cells[0][0], cells[-1][1]
            try:
                if early is not None:
                    rows, reasons = early.counted.result(timeout=early.plan_by.remaining())
                else:
                    rows, reasons = self._counted(lo, hi, pushed, "hour",
                                                  Budget.of(budget, PLAN_BUDGET_S), stats, views)
            except (TimeoutError, SourceError) as exc:
                log.debug("langfuse: no counts to plan slices by: %s",
                          str(exc) or "not in within the plan's time")
                return None
            if reasons:
                log.debug("langfuse: no counts to plan slices by: %s", reasons[0])
                return None
            got = _metrics.frame(rows, [], _metrics.parse_measures(["count"]), timed=True)
            got = got.groupby("timestamp", as_index=False)["count_count"].sum()
            hour = pd.Timedelta(hours=1)
            got = got[(got["timestamp"] + hour > lo) & (got["timestamp"] < hi)]
            return _slices.cell_counts(cells, list(got["timestamp"]),
                                       got["count_count"].fillna(0).astype("int64").tolist())
        return counts

    def _count_malformed(self, stats: Stats, what: str, bad: int) -> None:
        if bad:
            stats.add(malformed_items=bad)
            log.warning("langfuse: skipped %d malformed %s item(s)", bad, what)

    # ---- observations ----------------------------------------------------------------------------

    def observations(self, start: Any, end: Any, **filters: Any) -> pd.DataFrame:
        """Canonical observations that started in ``[start, end)``.

        Filters: ``environment`` (str or list), ``name``, ``trace_id`` and ``metadata`` (a
        mapping of metadata key -> value) are sent to Langfuse; ``agent``, ``type``, ``level``,
        ``error_type``, ``tool_name``, ``user_id``, ``session_id``, ``release``, ``model``,
        ``prompt_name``, ``prompt_version`` select from the mapped frame (a value or a list).
        """
        lo, hi = self._window(start, end)
        pushed, local = _observations.normalise_filters(filters)
        budget, stats = self._budget(), Stats()
        countable = set(pushed) <= {"environment"}
        plannable = countable and len(_slices.plan(lo, hi, self.slice_s)) > self.concurrency
        # slices are pulled (and cached) raw and mapped once, together: a trace crossing a slice
        # edge is mapped whole, and the mapping's fixed cost is paid once per pull
        parts = {"fields": _observations.GROUPS, "filters": pushed,
                 "conventions": self.conventions.fingerprint}
        settled = min(hi, self._now() - pd.Timedelta(seconds=self.settle_s))
        # a closed window's hourly counts of roots and children plan the pulls and are what
        # the pull is reconciled with: asked for once (when one answer holds them)
        by_root = ("is_root",)
        shared = plannable and self.reconcile and settled == hi and _one_answer(lo, hi, 2)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="langfuse-side") as pool:
            early: _Asked | None = None
            if plannable and _legacy.known(self.base_url) is None:
                looked = self._cache("observations-raw", {"api": "v2", **parts}, "start_time",
                                     create=False)
                if looked is None or not looked.has_window("mapped", lo, hi):
                    # the server is probed first: the counts to plan the pulls by are asked
                    # for meanwhile (a legacy server's 404 is then ignored)
                    plan_by = Budget.of(budget, PLAN_BUDGET_S)
                    early = _Asked(pool.submit(
                        self._counted, lo, hi, pushed, "hour", budget if shared else plan_by,
                        stats, by=by_root if shared else ()), plan_by)
            legacy = _legacy.detect(self._transport, budget, stats)
            fetch, build = self._legacy_observation_fetcher(lo, hi, pushed, budget, stats) \
                if legacy else self._v2_observation_fetcher(pushed, budget, stats)
            parts = {"api": "v1" if legacy else "v2", **parts}
            checked = self.reconcile and not legacy and countable and settled > lo
            # a window closed and cached whole has one answer while its day files stay as
            # they are: its mapped frame, and the counts Langfuse reported for it, are kept
            cache = self._cache("observations-raw", parts, "start_time")
            whole = cache is not None and settled == hi
            kept = cache.get_window("mapped", lo, hi) if whole else None
            kept_counts = cache.get_json("reported", lo, hi) if whole and checked else None
            # the counts to reconcile with are asked for while the slices are pulled
            reported: Future[Counted] | None = None
            if kept_counts is not None:
                reported = Future()
                reported.set_result((kept_counts, []))
            elif checked and shared:
                if early is None:
                    early = _Asked(pool.submit(self._counted, lo, hi, pushed, "hour", budget,
                                               stats, by=by_root),
                                   Budget.of(budget, PLAN_BUDGET_S))
                reported = early.counted
            elif checked:
                reported = pool.submit(self._counted, lo, settled, pushed, "day", budget, stats,
                                       by=by_root)
            plan = self._slice_counts(pushed, budget, stats, early) \
                if not legacy and plannable else None
            if kept is not None:
                n = len(_slices.plan(lo, hi, self.slice_s))
                stats.add(slices_total=n, slices_cached=n)
                out = schema.conform(kept, "observations")
                self.last_stats = stats.as_dict()
                out.attrs["langfuse"] = dict(self.last_stats)
            else:
                raw = self._sliced("observations-raw", lo, hi, fetch, build, parts, stats,
                                   ["trace_id", "observation_id"], "start_time", counts=plan)
                out = self.conventions.observations(raw)
                out.attrs.update(raw.attrs)
                if whole and not stats.slices_incomplete and not stats.malformed_items:
                    assert cache is not None  # every slice is closed, complete and now cached
                    cache.put_window("mapped", lo, hi, out, cache.state(lo, hi))
            if reported is not None:
                short = self._reconcile(out, lo, settled, reported)
                if cache is not None and short:
                    for day in short:  # pull those days again next time
                        cache.forget(day, day + pd.Timedelta(days=1))
                elif whole and kept_counts is None and \
                        out.attrs.get("langfuse", {}).get("reconciled") == "checked":
                    cache.put_json("reported", lo, hi, reported.result()[0])
        if local:
            reason = incomplete_reason(out)
            attrs = dict(out.attrs)
            out = _observations.apply_local(out, local)
            out.attrs.update(attrs)
            if reason and not incomplete_reason(out):
                mark_incomplete(out, reason)
        return out

    def _reconcile(self, out: pd.DataFrame, lo: pd.Timestamp, settled: pd.Timestamp,
                   reported_rows: Future[Counted]) -> list[pd.Timestamp]:
        """Compare what was pulled with what the Metrics API counts for the same days; the
        days (UTC midnights) with fewer observations pulled than reported.

        Only settled time is compared (data still arriving would look like a shortfall); a
        server without the Metrics API v2 is noted, not failed. The counts may be per day or
        per hour: they are summed into days.
        """
        ms = _metrics.parse_measures(["count"])
        dims = _metrics.parse_dimensions(["is_root"])
        rows = _reported_rows(out, reported_rows, "observations")
        if rows is None:
            return []
        reported = _metrics.frame(rows, dims, ms, timed=True)
        st = out["start_time"]
        part = out[(st >= lo) & (st < settled)]
        pulled_obs = part.groupby(part["start_time"].dt.floor("D")).size()
        roots = part[part["parent_observation_id"].isna()]
        pulled_traces = roots.groupby(roots["start_time"].dt.floor("D"))["trace_id"].nunique()
        rep = reported.assign(day=reported["timestamp"].dt.floor("D"))
        rep_obs = rep.groupby("day")["count_count"].sum()
        is_root = rep["is_root"].astype(str).str.lower().isin(["true", "1"])
        rep_traces = rep[is_root.to_numpy()].groupby("day")["count_count"].sum()
        table = pd.DataFrame({"reported_observations": rep_obs,
                              "pulled_observations": pulled_obs,
                              "reported_traces": rep_traces,
                              "pulled_traces": pulled_traces}).fillna(0).astype("int64")
        return _shortfall(out, table, "observations")

    def _v2_observation_fetcher(self, f: dict[str, Any], budget: Budget, stats: Stats
                                ) -> tuple[Callable[[pd.Timestamp, pd.Timestamp], Pulled], Build]:
        def fetch(lo: pd.Timestamp, hi: pd.Timestamp) -> Pulled:
            q = _observations.params(lo, hi, _observations.GROUPS, f, self.page_limit)
            return _observations.pull(self._transport, q, budget, stats,
                                       label=f"slice from {_iso(lo)}")

        def build(pulls: list[list[Any]]) -> tuple[pd.DataFrame, list[int]]:
            df, bad = _parse.raw_observation_pulls(pulls, self.conventions)
            return conv.as_text(df), bad
        return fetch, build

    def _legacy_observation_fetcher(self, lo: pd.Timestamp, hi: pd.Timestamp,
                                    f: dict[str, Any], budget: Budget, stats: Stats
                                    ) -> tuple[Callable[[pd.Timestamp, pd.Timestamp], Pulled],
                                               Build]:
        traces: dict[str, dict[str, Any]] = {}
        trace_reason: list[str | None] = []
        lock = threading.Lock()

        def trace_map() -> tuple[dict[str, dict[str, Any]], str | None]:
            with lock:  # one trace pull for the whole window, on first need
                if not trace_reason:
                    t_lo = lo - pd.Timedelta(seconds=self.trace_lookback_s)
                    q = {"fromTimestamp": _iso(t_lo), "toTimestamp": _iso(hi)}
                    if "environment" in f:
                        q["environment"] = f["environment"]
                    items, reason = _legacy.pull_pages(self._transport, _legacy.TRACES, q,
                                                       budget, stats, label="traces")
                    traces.update(_parse.trace_info(items))
                    trace_reason.append(reason)
                return traces, trace_reason[0]

        def fetch(s_lo: pd.Timestamp, s_hi: pd.Timestamp) -> Pulled:
            q = _legacy.observation_params(_observations.params(s_lo, s_hi, ("core",), f, 100))
            items, reason = _legacy.pull_pages(self._transport, _legacy.OBSERVATIONS, q,
                                               budget, stats, label=f"slice from {_iso(s_lo)}")
            _, t_reason = trace_map()
            return items, reason or t_reason

        def build(pulls: list[list[Any]]) -> tuple[pd.DataFrame, list[int]]:
            info, _ = trace_map()
            df, bad = _parse.raw_observation_pulls(pulls, self.conventions, info)
            return conv.as_text(df), bad
        return fetch, build

    # ---- scores ----------------------------------------------------------------------------------

    def scores(self, start: Any, end: Any, **filters: Any) -> pd.DataFrame:
        """Canonical scores recorded in ``[start, end)``, joinable on trace / observation id.

        Filters: ``name``, ``environment``, ``trace_id``, ``data_type``, ``source`` (a value or
        a list of values).
        """
        lo, hi = self._window(start, end)
        f = _scores.normalise_filters(filters)
        budget, stats = self._budget(), Stats()
        legacy = _legacy.detect(self._transport, budget, stats)

        def fetch(s_lo: pd.Timestamp, s_hi: pd.Timestamp) -> Pulled:
            q = _scores.params(s_lo, s_hi, f)
            if legacy:
                q = {k: v for k, v in q.items() if k not in ("fields", "limit")}
                return _legacy.pull_pages(self._transport, _legacy.SCORES, q, budget, stats,
                                          label=f"scores from {_iso(s_lo)}")
            return _observations.pull(self._transport, q, budget, stats,
                                      label=f"scores from {_iso(s_lo)}", path=_scores.PATH)

        def build(pulls: list[list[Any]]) -> tuple[pd.DataFrame, list[int]]:
            parsed = [_parse.scores(items) for items in pulls]
            frames = [df for df, _, _ in parsed if len(df)]
            df = pd.concat(frames, ignore_index=True) if frames else schema.empty("scores")
            return df, [bad for _, bad, _ in parsed]

        parts = {"api": "v2" if legacy else "v3", "filters": f}
        settled = min(hi, self._now() - pd.Timedelta(seconds=self.settle_s))
        countable = not legacy and set(f) <= {"environment"}
        env = {"environment": f["environment"].split(",")} if "environment" in f else {}
        views = tuple(_metrics.SCORE_VIEWS)

        def sliced(early: _Asked | None = None) -> pd.DataFrame:
            # scores are sparse (a judge samples some traces): quiet hours share a page
            plan = self._slice_counts(env, budget, stats, early, views) if countable else None
            return self._sliced("scores", lo, hi, fetch, build, parts, stats, ["score_id"],
                                "timestamp", counts=plan, page_limit=_scores.PAGE_LIMIT)

        if not (self.reconcile and countable and settled > lo):
            return self._with_scales(sliced(), lo, hi, settled, parts, budget, stats)
        cache = self._cache("scores", parts, "timestamp")
        whole = cache is not None and settled == hi
        kept = cache.get_json("reported", lo, hi) if whole else None
        # a closed window's hourly counts plan the pulls and are what the pull is reconciled
        # with: asked for once (when one answer a view holds them)
        shared = settled == hi and _one_answer(lo, hi, 1) and \
            len(_slices.plan(lo, hi, self.slice_s)) > self.concurrency
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="langfuse-side") as pool:
            reported: Future[Counted]
            early: _Asked | None = None
            if kept is not None:
                reported = Future()
                reported.set_result((kept, []))
            else:  # the counts to reconcile with are asked for while the slices are pulled
                reported = pool.submit(self._counted, lo, settled, env,
                                       "hour" if shared else "day", budget, stats, views)
                if shared:
                    early = _Asked(reported, Budget.of(budget, PLAN_BUDGET_S))
            out = sliced(early)
            short = self._reconcile_scores(out, lo, settled, reported)
        if cache is not None and short:
            for day in short:  # pull those days again next time
                cache.forget(day, day + pd.Timedelta(days=1))
        elif whole and kept is None and out.attrs["langfuse"].get("reconciled") == "checked":
            cache.put_json("reported", lo, hi, reported.result()[0])
        return self._with_scales(out, lo, hi, settled, parts, budget, stats)

    def _with_scales(self, out: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp,
                     settled: pd.Timestamp, parts: dict[str, Any], budget: Budget,
                     stats: Stats) -> pd.DataFrame:
        """``out`` with the scale of every numeric score its Langfuse score config declares
        (:mod:`._score_configs`). Configs are read once per source, or kept with a closed window
        in the cache; a server that cannot list them leaves the scales to be inferred."""
        if not out["data_type"].astype(str).str.upper().eq("NUMERIC").any():
            return out
        ranges = self._score_ranges
        if ranges is None:
            cache = self._cache("scores", parts, "timestamp") if settled == hi else None
            kept = cache.get_json("score-configs", lo, hi) if cache is not None else None
            if kept is not None:
                configs, why = kept, None
            else:
                configs, why = _score_configs.pull(self._transport, budget, stats)
                if why is None and cache is not None:
                    cache.put_json("score-configs", lo, hi, configs)
            ranges = _score_configs.ranges(configs)
            if why is None:
                self._score_ranges = ranges
            else:  # asked again by the next pull
                log.warning("langfuse: %s; judge scales are inferred from their values", why)
                out.attrs.setdefault("langfuse", {})["score_configs"] = f"not read: {why}"
        _score_configs.apply(out, ranges)
        return out

    def _reconcile_scores(self, out: pd.DataFrame, lo: pd.Timestamp, settled: pd.Timestamp,
                          reported_rows: Future[Counted]) -> list[pd.Timestamp]:
        """Scores pulled per day against the Metrics API's count of the same data types; the
        days with fewer pulled than reported (a score missing there would go unnoticed: a
        judge's verdicts are what the hallucination signals are made of)."""
        rows = _reported_rows(out, reported_rows, "scores")
        if rows is None:
            return []
        reported = _metrics.frame(rows, [], _metrics.parse_measures(["count"]), timed=True)
        rep = reported.groupby(reported["timestamp"].dt.floor("D"))["count_count"].sum()
        counted = [t for types in _metrics.SCORE_VIEWS.values() for t in types]
        ts = out["timestamp"]
        part = out[(ts >= lo) & (ts < settled)
                   & out["data_type"].astype(str).str.upper().isin(counted).to_numpy()]
        pulled = part.groupby(part["timestamp"].dt.floor("D")).size()
        table = pd.DataFrame({"reported_scores": rep, "pulled_scores": pulled}
                             ).fillna(0).astype("int64")
        return _shortfall(out, table, "scores")

    # ---- aggregates ------------------------------------------------------------------------------

    def aggregate(self, start: Any, end: Any, measures: Sequence[str | tuple[str, str]],
                  by: Sequence[str] = (), granularity: str | None = None,
                  **filters: Any) -> pd.DataFrame:
        """Aggregates computed by Langfuse's Metrics API v2, as a tidy frame.

        ``measures``: ``"totalCost"``, ``"count"``, ``"latency:p95"`` (default aggregation sum,
        count for ``count``, avg for latencies); ``by``: dimensions such as ``"model"``
        (``providedModelName``), ``"name"``, ``"prompt_version"``, ``"environment"``;
        ``granularity``: None, ``"minute"``, ``"hour"``, ``"day"``, ``"week"``, ``"month"``.
        Filters: ``environment``, ``name``, ``type``, ``level``, ``release``, ``model``,
        ``prompt_name``. Latencies are milliseconds, costs USD.
        """
        lo, hi = self._window(start, end)
        ms = _metrics.parse_measures(measures)
        dims = _metrics.parse_dimensions(by)
        _metrics.check_granularity(granularity)
        _metrics.query(lo, hi, ms, dims, granularity, filters)  # validates the filters early
        budget, stats = self._budget(), Stats()
        if not _legacy.detect(self._transport, budget, stats):
            try:
                rows, reasons = self._metric_rows(lo, hi, ms, dims, granularity, filters,
                                                  budget, stats)
            except NotFound:
                log.info("langfuse: Metrics API v2 not available; aggregating locally")
            else:
                out = _metrics.frame(rows, dims, ms, timed=granularity is not None)
                for r in reasons:
                    mark_incomplete(out, r)
                self.last_stats = stats.as_dict()
                out.attrs["langfuse"] = dict(self.last_stats)
                return out
        return self._local_aggregate(lo, hi, ms, dims, granularity, filters)

    def _metric_rows(self, lo: pd.Timestamp, hi: pd.Timestamp, ms: list[tuple[str, str]],
                     dims: list[str], granularity: str | None, filters: dict[str, Any],
                     budget: Budget, stats: Stats, view: str = "observations"
                     ) -> tuple[list[dict[str, Any]], list[str]]:
        q = {"query": _metrics.query(lo, hi, ms, dims, granularity, filters, view)}
        try:
            body = self._transport.get(_metrics.PATH, q, budget, stats, check=lambda b: (
                isinstance(b, dict) and isinstance(b.get("data"), list)))
        except (SourceAuthError, SourceQueryError):
            raise
        except SourceError as exc:
            return [], [f"langfuse metrics {_iso(lo)}..{_iso(hi)}: {exc}"]
        rows = body["data"]
        if len(rows) < _metrics.ROW_LIMIT:
            return rows, []
        mid = _metrics.split_point(lo, hi, granularity)
        if mid is None:
            return rows, [f"langfuse metrics: the server's row limit ({_metrics.ROW_LIMIT}) was "
                          "reached; add a granularity or narrow the window"]
        a, ra = self._metric_rows(lo, mid, ms, dims, granularity, filters, budget, stats, view)
        b, rb = self._metric_rows(mid, hi, ms, dims, granularity, filters, budget, stats, view)
        return a + b, ra + rb

    def _local_aggregate(self, lo: pd.Timestamp, hi: pd.Timestamp, ms: list[tuple[str, str]],
                         dims: list[str], granularity: str | None,
                         filters: dict[str, Any]) -> pd.DataFrame:
        local_filters = {k: v for k, v in filters.items()
                         if k in ("environment", "name", "type", "level", "release")}
        obs = self.observations(lo, hi, **local_filters)
        for k, col in (("model", "model"), ("prompt_name", "prompt_name")):
            if filters.get(k) is not None:
                want = filters[k] if isinstance(filters[k], (list, tuple, set)) else [filters[k]]
                obs = obs[obs[col].isin(list(want))]
        out = _metrics.local(obs, ms, dims, granularity)
        if reason := incomplete_reason(obs):
            mark_incomplete(out, reason)
        out.attrs["langfuse"] = dict(self.last_stats, computed_locally=1)
        return out
