"""What every blind dataset's tests (``tests/test_blind_*.py``) check the same way, written once:
the module's ``data`` and ``records`` fixtures, the generator's determinism and its refusal of bad
incidents, the truth frame naming every generated trace, the double billing what the generator
billed, the real Langfuse source reading it all back, and the measures the datasets' own
assertions are made with (who is inside an incident's window, error rates, score lags).

Importing this module puts ``bench/`` on the import path, where the generators live."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from blind_data import Incident, Label  # noqa: E402

#: the truth frame's columns, one row per generated trace
TRUTH_COLUMNS = ["trace_id", "agent", "start", "duration_s", "timeout", "error", "cost",
                 "scored", "bad"]


@dataclass(frozen=True)
class Blind:
    """One blind dataset as its tests generate it: two days to ``end`` with ``incidents``."""

    generator: ModuleType
    seed: int
    end: str
    incidents: tuple[Incident, ...]

    def generate(self, seed: int | None = None) -> Any:
        return self.generator.generate(seed=self.seed if seed is None else seed,
                                       end_day=self.end, days=2, incidents=self.incidents)

    def fixtures(self) -> tuple[Any, Any]:
        """The module fixtures ``data`` (generated once) and ``records`` (the Langfuse-native
        observations the dataset's double holds); assign both to module names."""

        @pytest.fixture(scope="module", name="data")
        def data() -> Any:
            return self.generate()

        @pytest.fixture(scope="module", name="records")
        def records(data: Any) -> list[dict[str, Any]]:
            return list(data.double().records)

        return data, records


def _spans(data: Any) -> list[tuple]:
    return [(s.context.trace_id, s.context.span_id, s.name, s.start_time, s.end_time,
             dict(s.attributes)) for s in data.spans]


def assert_same_seed_same_data_other_seed_other_data(blind: Blind, data: Any) -> None:
    again = blind.generate()
    assert _spans(data) == _spans(again)
    pd.testing.assert_frame_equal(data.truth, again.truth)
    pd.testing.assert_frame_equal(data.scores, again.scores)
    assert data.labels == again.labels
    other = blind.generate(seed=blind.seed + 1)
    assert set(other.truth["trace_id"]).isdisjoint(data.truth["trace_id"])


def assert_bad_incidents_refused(generator: ModuleType, end: str, magnitude: float,
                                 hour: bool) -> None:
    """An unknown runbook, two incidents of one runbook, a ``magnitude`` the generator cannot
    use, no days, and (``hour``: where the generator checks it) an hour past 23 are refused."""
    with pytest.raises(ValueError, match="unknown runbook 'latency'"):
        generator.generate(1, end, 1, [Incident("latency", end, 3, 2.0)])
    with pytest.raises(ValueError, match="one cost_spike"):
        generator.generate(1, end, 1, [Incident("cost_spike", end, 3, 2.0)] * 2)
    with pytest.raises(ValueError, match="magnitude"):
        generator.generate(1, end, 1, [Incident("cost_spike", end, 3, magnitude)])
    if hour:
        with pytest.raises(ValueError, match="hour"):
            generator.generate(1, end, 1, [Incident("cost_spike", end, 24, 2.0)])
    with pytest.raises(ValueError, match="days"):
        generator.generate(1, end, 0)


def assert_truth_names_every_trace(data: Any) -> None:
    """The truth frame has its columns and one row per trace id the spans carry."""
    t = data.truth
    assert list(t.columns) == TRUTH_COLUMNS
    assert t["trace_id"].str.fullmatch(r"[0-9a-f]{32}").all() and t["trace_id"].is_unique
    assert {format(s.context.trace_id, "032x") for s in data.spans} == set(t["trace_id"])


def assert_double_bills_the_truth(data: Any, records: list[dict[str, Any]]) -> None:
    """Each trace's observations cost, summed, what the generator billed the trace."""
    billed: Counter = Counter()
    for r in records:
        billed[r["core"]["traceId"]] += r["usage"]["totalCost"] or 0.0
    truth = data.truth.set_index("trace_id")["cost"]
    assert (pd.Series(billed).reindex(truth.index).fillna(0.0) - truth).abs().max() < 1e-9


def score_lag(data: Any) -> pd.Series:
    """How long after its trace ended each score (row of ``data.scores``) came; NaT where the
    score's trace is not in the truth frame."""
    t = data.truth
    ends = t["start"] + pd.to_timedelta(t["duration_s"], unit="s")
    return data.scores["timestamp"] - data.scores["trace_id"].map(
        pd.Series(ends.array, index=t["trace_id"]))


def by_runbook(data: Any) -> dict[str, Label]:
    return {lab.runbook: lab for lab in data.labels}


def inside(records: list[dict[str, Any]], label: Label) -> list[bool]:
    """Per record: whether it started inside ``label``'s window."""
    ts = pd.to_datetime([r["core"]["startTime"] for r in records], utc=True)
    return [label.start <= t < label.end for t in ts]


def error_rates(records: list[dict[str, Any]], label: Label, name: str) -> dict[bool, float]:
    """The share of observations named ``name`` at level ERROR inside ``label``'s window (True)
    and outside it (False)."""
    within = inside(records, label)
    calls = [(within[i], r["basic"]["level"] == "ERROR") for i, r in enumerate(records)
             if r["basic"]["name"] == name]
    return {w: sum(e for x, e in calls if x == w) / sum(x == w for x, _ in calls)
            for w in (True, False)}


def read_back(data: Any, end: str, names: tuple[str, ...],
              scores_later: pd.Timedelta = pd.Timedelta(0)) -> tuple[Any, Any, Any, dict]:
    """From the dataset's double: the traces of the day before and after ``end`` and their scores
    (given ``scores_later`` more to arrive) through the real ``LangfuseSource``; the score configs
    and the first page of each score in ``names`` through the official SDK's API client."""
    import httpx
    from langfuse.api import LangfuseAPI

    lo = pd.Timestamp(end, tz="UTC") - pd.Timedelta(days=1)
    hi = pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)
    with data.double() as dbl:
        with dbl.source() as src:
            traces = src.traces(lo, hi)
            scores = src.scores(lo, hi + scores_later)
        with httpx.Client(timeout=10) as http:
            api = LangfuseAPI(base_url=dbl.base_url, username=dbl.public_key,
                              password=dbl.secret_key, httpx_client=http)
            configs = api.score_configs.get(page=1, limit=50)
            pages = {n: api.scores.get_many(fields="details", limit=100, name=n) for n in names}
    return traces, scores, configs, pages


def assert_read_back_as_generated(data: Any, traces: pd.DataFrame, scores: pd.DataFrame) -> None:
    """Every trace, at the cost the generator billed it, and every score came back."""
    t = data.truth
    assert set(traces["trace_id"]) == set(t["trace_id"])
    assert len(scores) == len(data.scores)
    assert sorted(scores["name"].unique()) == sorted(data.scores["name"].unique())
    cost = traces.set_index("trace_id")["cost_usd"].reindex(t["trace_id"]).to_numpy()
    assert abs(cost - t["cost"].to_numpy()).max() < 1e-9
