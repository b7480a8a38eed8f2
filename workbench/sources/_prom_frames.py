"""Prometheus API results -> the canonical tidy ``metrics`` frame.

``PrometheusConnect.custom_query`` / ``custom_query_range`` return ``data.result`` without its
``resultType``, so the type is read from the shape:

- matrix: ``[{"metric": {...}, "values": [[t, "v"], ...]}, ...]`` -> one row per sample;
- vector: ``[{"metric": {...}, "value": [t, "v"]}, ...]`` -> one row per series;
- scalar: ``[t, "v"]`` -> one row, no labels;
- string: ``[t, "text"]`` whose text is not a number -> :class:`SourceQueryError` (a string is not a
  metric). A string literal that reads as a number cannot be told from a scalar and becomes one row.

Sample values are parsed as float64: Prometheus's ``"NaN"``, ``"+Inf"`` and ``"-Inf"`` are kept as
``nan``, ``inf`` and ``-inf`` (never dropped), so a ratio of two zero rates stays visible as NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench import schema
from workbench.errors import SourceQueryError

__all__ = ["result_to_frame"]

_NAME = "__name__"


def _timestamps(seconds: np.ndarray) -> pd.Series:
    micros = np.rint(seconds * 1e6).astype("int64")
    return pd.Series(pd.to_datetime(micros, unit="us", utc=True)).astype(
        pd.DatetimeTZDtype(unit="us", tz="UTC"))


def _floats(values: list[str], promql: str) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except ValueError as exc:
        raise SourceQueryError(f"sample values are not numbers: {exc}", source="prometheus",
                               query=promql) from exc


def result_to_frame(result: Any, promql: str, name: str | None = None) -> pd.DataFrame:
    """The canonical metrics frame of one query's ``data.result``.

    ``metric`` is ``name`` when given (the query's alias), else the series' ``__name__``, else the
    PromQL text (an aggregation has no name). Every other label becomes a string column, sorted;
    a series without a label gets ``<NA>`` there.
    """
    if result is None or (isinstance(result, list) and not result):
        return schema.empty("metrics")
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return _scalar_frame(result, promql, name)
    if not isinstance(result, list) or not all(isinstance(s, dict) for s in result):
        raise SourceQueryError(f"unexpected result shape {type(result).__name__}",
                               source="prometheus", query=promql)

    counts, times, values, label_sets = [], [], [], []
    for series in result:
        if "values" in series:
            samples = series["values"]
        elif "value" in series:
            samples = [series["value"]]
        else:
            # Native histograms (experimental in 2.x) carry "histogram(s)": not a float sample.
            raise SourceQueryError("series without float samples (native histogram?) are not "
                                   "supported", source="prometheus", query=promql)
        counts.append(len(samples))
        label_sets.append(series.get("metric") or {})
        for t, v in samples:
            times.append(t)
            values.append(v)

    n = np.asarray(counts)
    labels = sorted({k for ls in label_sets for k in ls if k != _NAME})
    if name is not None:
        metric = np.repeat(np.asarray([name], dtype=object), n.sum())
    else:
        metric = np.repeat(np.asarray([ls.get(_NAME, promql) for ls in label_sets], dtype=object),
                           n)
    frame = pd.DataFrame({
        "timestamp": _timestamps(np.asarray(times, dtype=np.float64)),
        "metric": pd.array(metric, dtype="string"),
        "value": _floats(values, promql),
    })
    for label in labels:
        per_series = np.asarray([ls.get(label) for ls in label_sets], dtype=object)
        frame[label] = pd.array(np.repeat(per_series, n), dtype="string")
    return schema.validate(frame, "metrics")


def _scalar_frame(result: list, promql: str, name: str | None) -> pd.DataFrame:
    t, v = result
    try:
        value = float(v)
    except (TypeError, ValueError):
        raise SourceQueryError(
            f"the query returned a string ({v!r}), not a metric; only scalar, vector and matrix "
            "results become frames", source="prometheus", query=promql) from None
    frame = pd.DataFrame({
        "timestamp": _timestamps(np.asarray([t], dtype=np.float64)),
        "metric": pd.array([name if name is not None else promql], dtype="string"),
        "value": np.asarray([value], dtype=np.float64),
    })
    return schema.validate(frame, "metrics")
