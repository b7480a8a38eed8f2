"""Cut a long window into time slices and pull them in parallel, each with its own cursor.

Slices sit on a fixed UTC grid (multiples of ``slice_s`` since the epoch) so that two runs over
overlapping windows share most slices, which is what makes the slice cache hit. Slice bounds are
half-open ``[lo, hi)`` and sent as ``fromStartTime`` (inclusive) / ``toStartTime`` (exclusive), so
neighbours neither overlap nor leave a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

T = TypeVar("T")
Slice = tuple[pd.Timestamp, pd.Timestamp]

#: Pulls with at least this many slices show a progress bar when ``progress`` is left as None.
AUTO_PROGRESS_SLICES = 24


def plan(start: pd.Timestamp, end: pd.Timestamp, slice_s: float) -> list[Slice]:
    """Grid-aligned ``[lo, hi)`` slices covering ``[start, end)`` exactly."""
    if end <= start:
        return []
    step = pd.Timedelta(seconds=slice_s)
    epoch = pd.Timestamp(0, tz="UTC")
    first = epoch + ((start - epoch) // step) * step
    edges = [start]
    t = first + step
    while t < end:
        edges.append(t)
        t += step
    edges.append(end)
    return list(zip(edges[:-1], edges[1:]))


def run(slices: Sequence[Slice], work: Callable[[Slice], T], *, concurrency: int,
        progress: bool | None, desc: str) -> list[T]:
    """``work`` on every slice with at most ``concurrency`` in flight; results in slice order.

    Slices are started newest first: when a pull's time budget runs out, what is lost is the
    oldest part of the baseline, not the hours a report or an incident is about.
    """
    show = progress if progress is not None else len(slices) >= AUTO_PROGRESS_SLICES
    results: dict[int, T] = {}
    with tqdm(total=len(slices), desc=desc, unit="slice", disable=not show, leave=False) as bar:
        if concurrency <= 1 or len(slices) <= 1:
            for i in reversed(range(len(slices))):
                results[i] = work(slices[i])
                bar.update(1)
        else:
            with ThreadPoolExecutor(max_workers=concurrency,
                                    thread_name_prefix="langfuse-slice") as pool:
                futures = {pool.submit(work, slices[i]): i for i in reversed(range(len(slices)))}
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar.update(1)
    return [results[i] for i in range(len(slices))]


def spans(cells: Sequence[Slice], counts: Mapping[pd.Timestamp, int] | None, *,
          page_limit: int, concurrency: int) -> list[list[Slice]]:
    """Neighbouring cells joined into pulls of about one page each: ``[[cell, ...], ...]``.

    A quiet window would otherwise cost one request per cell. ``counts`` (observations per
    cell, keyed by the cell's start, e.g. from the Metrics API) say how full each cell is; a
    cell without a count stays a pull of its own, and so do cells that already fit in one
    round of ``concurrency`` parallel requests, since joining them saves no time. Counts are
    only a plan: every pull follows its cursor to the end, so a wrong count costs time, never
    rows.
    """
    if not counts or len(cells) <= concurrency:
        return [[c] for c in cells]
    out: list[list[Slice]] = []
    total = 0
    for cell in cells:
        n = counts.get(cell[0])
        joinable = (n is not None and out and total + n <= page_limit
                    and out[-1][-1][1] == cell[0] and counts.get(out[-1][-1][0]) is not None)
        if joinable:
            out[-1].append(cell)
            total += n
        else:
            out.append([cell])
            total = n if n is not None else page_limit + 1
    return out


def cell_counts(cells: Sequence[Slice], stamps: Sequence[pd.Timestamp],
                values: Sequence[int]) -> dict[pd.Timestamp, int]:
    """Counts per bucket (``stamps``: bucket starts) summed into the cells that hold them;
    a bucket before the first cell (a window starting mid-bucket) goes to the first cell, one
    in a gap between cells (slices served from the cache) to none. Cells that no bucket falls
    into get 0."""
    if not cells:
        return {}
    starts = np.array([c[0].value for c in cells], dtype="int64")
    ends = np.array([c[1].value for c in cells], dtype="int64")
    t = np.array([pd.Timestamp(s).value for s in stamps], dtype="int64")
    n = np.asarray(values, dtype="int64")
    at = np.searchsorted(starts, t, side="right") - 1
    inside = (at < 0) | (t < ends[np.maximum(at, 0)])  # not in a gap between cells
    out = np.zeros(len(cells), dtype="int64")
    np.add.at(out, np.maximum(at[inside], 0), n[inside])
    return {c[0]: int(k) for c, k in zip(cells, out)}
