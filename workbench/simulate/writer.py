"""Write a dataset as the local store: Hive-partitioned Parquet by UTC day, labels beside it.

Layout (read by :class:`workbench.sources.local.LocalSource`)::

    <root>/observations/day=YYYY-MM-DD/part-0.parquet   partitioned by start_time
    <root>/traces/day=YYYY-MM-DD/part-0.parquet         partitioned by start_time
    <root>/scores/day=YYYY-MM-DD/part-0.parquet         partitioned by timestamp
    <root>/labels.json                                  the injected incidents
    <root>/manifest.json                                what was written, and from which arguments

The store is written to a temporary sibling and moved into place, so a crash never leaves a
half-written store that :func:`ensure_demo` would take for a complete one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import schema
from workbench.errors import ConfigError
from workbench.simulate.generator import DEFAULT_START, Dataset, generate

__all__ = ["FRAME_TIME_COLUMN", "MANIFEST", "ensure_demo", "labels_to_json", "write_demo"]

#: frame -> the timestamp column its day partitions and window queries use
FRAME_TIME_COLUMN = {"observations": "start_time", "traces": "start_time", "scores": "timestamp"}
MANIFEST = "manifest.json"
LABELS = "labels.json"
_STORE_FORMAT = "workbench-local-store/1"


def labels_to_json(labels: pd.DataFrame) -> list[dict[str, Any]]:
    """Labels as JSON-ready records with ISO-8601 UTC timestamps."""
    out = []
    for row in labels.to_dict("records"):
        rec = {k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}
        rec["magnitude"] = float(rec["magnitude"])
        out.append(rec)
    return out


def _write_frame(df: pd.DataFrame, frame: str, root: Path) -> dict[str, int]:
    schema.validate(df, frame)
    day = df[FRAME_TIME_COLUMN[frame]].dt.strftime("%Y-%m-%d")
    counts = {}
    for value, part in df.groupby(day, sort=True):
        folder = root / frame / f"day={value}"
        folder.mkdir(parents=True)
        part.to_parquet(folder / "part-0.parquet", index=False)
        counts[str(value)] = len(part)
    (root / frame).mkdir(exist_ok=True)  # an empty frame still gets its folder
    return counts


def _clear(root: Path) -> None:
    if not root.exists():
        return
    if not root.is_dir():
        raise ConfigError(f"cannot write the demo store to {root}: it is a file")
    if (root / MANIFEST).exists() or not any(root.iterdir()):
        shutil.rmtree(root)
        return
    raise ConfigError(f"refusing to overwrite {root}: it is not empty and holds no {MANIFEST} "
                      f"(not a workbench store); pick another root")


def write_demo(root: str | Path = "data/demo", dataset: Dataset | None = None,
               **generate_kwargs: Any) -> Path:
    """Write ``dataset`` (generated with ``generate_kwargs`` when omitted) to ``root``; return it.

    An existing store at ``root`` is replaced; any other non-empty folder is left alone.
    """
    root = Path(root)
    if dataset is not None and generate_kwargs:
        raise ConfigError(f"pass either a dataset or generate() arguments, not both "
                          f"(got {sorted(generate_kwargs)})")
    generator_args: dict[str, Any] | None = None
    if dataset is None:
        generator_args = {"seed": 7, "days": 7, "traces_per_day": 5000, "start": DEFAULT_START}
        generator_args.update(generate_kwargs)
        dataset = generate(**generator_args)
        if generator_args.get("incidents") is not None:
            generator_args["incidents"] = len(generator_args["incidents"])
        generator_args["start"] = str(generator_args["start"])
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        partitions = {frame: _write_frame(getattr(dataset, frame), frame, tmp)
                      for frame in FRAME_TIME_COLUMN}
        (tmp / LABELS).write_text(json.dumps(labels_to_json(dataset.labels), indent=2) + "\n")
        manifest = {"format": _STORE_FORMAT, "generator": generator_args,
                    "partitions": partitions}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _clear(root)
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def ensure_demo(root: str | Path = "data/demo") -> Path:
    """Generate and write the default demo to ``root`` unless a complete store is already there."""
    root = Path(root)
    if (root / MANIFEST).is_file():
        return root
    return write_demo(root)
