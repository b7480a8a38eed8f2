"""Simulated datasets that several test modules ask for with the same arguments: generated once a
session, each caller given its own copy (frames copied, so a test that edits them edits only its
own; spans are finished and never change).

Only for data a test stands on, never for the simulator's own tests: those generate afresh.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from pathlib import Path

from workbench.simulate import generate, write_demo
from workbench.simulate.generator import DEFAULT_START, Dataset

__all__ = ["demo_store", "simulated"]


@functools.cache
def _generated(seed: int, days: int, traces_per_day: int, start: str,
               keep_spans: bool) -> Dataset:
    return generate(seed=seed, days=days, traces_per_day=traces_per_day, start=start,
                    keep_spans=keep_spans)


def simulated(*, days: int, traces_per_day: int, seed: int = 7, start: str = DEFAULT_START,
              keep_spans: bool = False) -> Dataset:
    """``generate(seed=..., days=..., traces_per_day=..., start=..., keep_spans=...)``, with the
    demo's incidents; the same data as that call, generated at most once a session."""
    ds = _generated(seed, days, traces_per_day, str(start), keep_spans)
    return dataclasses.replace(
        ds, observations=ds.observations.copy(), traces=ds.traces.copy(),
        scores=ds.scores.copy(), labels=ds.labels.copy(),
        arguments=copy.deepcopy(ds.arguments),
        spans=None if ds.spans is None else list(ds.spans))


def demo_store(root: str | Path, **kwargs) -> Path:
    """The local store ``write_demo(root, **kwargs)`` writes, from :func:`simulated` data."""
    return write_demo(root, dataset=simulated(**kwargs))
