"""The demo's report: generate the store when missing, then report on its last day.

The report day is the store's last day with the whole store as context, so the KPI table has
one row per day and every injected incident shows up as an anomalous day.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from workbench.errors import ConfigError

__all__ = ["demo_days", "ensure_demo_data"]


def ensure_demo_data(root: str | Path, *, traces_per_day: int | None = None) -> Path:
    """The demo store at ``root``, generated first if it is missing.

    ``traces_per_day`` sizes a newly generated store; an existing store is used as it is.
    """
    from workbench.simulate.writer import MANIFEST, ensure_demo, write_demo

    root = Path(root)
    if traces_per_day is None or (root / MANIFEST).is_file():
        return ensure_demo(root)
    return write_demo(root, traces_per_day=int(traces_per_day))


def demo_days(root: str | Path) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last UTC day holding traces, from the store's manifest."""
    from workbench.simulate.writer import MANIFEST

    path = Path(root) / MANIFEST
    try:
        days = sorted(json.loads(path.read_text())["partitions"]["traces"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a readable demo store manifest ({exc})") from exc
    if not days:
        raise ConfigError(f"demo store {root} holds no traces")
    return pd.Timestamp(days[0], tz="UTC"), pd.Timestamp(days[-1], tz="UTC")
