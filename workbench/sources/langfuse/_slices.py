"""Cut a long window into time slices and pull them in parallel, each with its own cursor.

Slices sit on a fixed UTC grid (multiples of ``slice_s`` since the epoch) so that two runs over
overlapping windows share most slices, which is what makes the slice cache hit. Slice bounds are
half-open ``[lo, hi)`` and sent as ``fromStartTime`` (inclusive) / ``toStartTime`` (exclusive), so
neighbours neither overlap nor leave a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

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
