"""The blind datasets at a small team's traffic (bench/blind_*.py): a volume factor scales each
generator's day, keeps the incidents labelled, and refuses a volume that is not positive."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import blind_agents  # noqa: E402
import blind_data  # noqa: E402
import blind_frameworks  # noqa: E402
import blind_gateways  # noqa: E402
import blind_lowcode  # noqa: E402
import blind_stacks  # noqa: E402
from blind_data import Incident  # noqa: E402

END = "2026-11-25"  # a Wednesday: the day before it too is a weekday, in UTC and in Tokyo
INCIDENTS = (Incident("timeout_surge", END, 9, 5.0), Incident("cost_spike", END, 12, 3.0),
             Incident("hallucination_spike", "2026-11-24", 9, 4.0))

#: each generator, the keyword for a tenth of its traffic, and its usual weekday traces
TENTH = {
    "sdk": (blind_data, {"weekday_traces": 135.0}, 1350),
    "frameworks": (blind_frameworks, {"volume": 0.1}, sum(blind_frameworks.VOLUME.values())),
    "gateways": (blind_gateways, {"volume": 0.1}, sum(blind_gateways.VOLUME.values())),
    "agents": (blind_agents, {"volume": 0.1}, sum(blind_agents.DAILY.values())),
    "stacks": (blind_stacks, {"volume": 0.1},
               sum(weekday for weekday, _ in blind_stacks.VOLUME.values())),
}


@pytest.mark.parametrize("name", sorted(TENTH))
def test_a_tenth_of_the_traffic_with_every_incident_labelled(name):
    gen, kw, usual = TENTH[name]
    data = gen.generate(seed=3, end_day=END, days=2, incidents=INCIDENTS, **kw)
    per_day = data.truth.groupby(data.truth["start"].dt.floor("D")).size()
    assert len(per_day) == 2
    # Poisson counts around a tenth of the usual weekday (sd ~ 11 of ~125)
    assert ((per_day > 0.07 * usual) & (per_day < 0.13 * usual)).all(), (usual, per_day)
    assert sorted(lab.runbook for lab in data.labels) == sorted(i.runbook for i in INCIDENTS)
    assert data.truth["trace_id"].is_unique
    assert {format(s.context.trace_id, "032x") for s in data.spans} == set(
        data.truth["trace_id"])


def test_lowcode_scales_production_and_staging_but_keeps_the_nightly_suite():
    full = blind_lowcode.WEEKDAY_TRACES
    data = blind_lowcode.generate(seed=3, end_day=END, days=2, incidents=INCIDENTS,
                                  weekday_traces=full / 10)
    t = data.truth
    per_day = t.groupby(t["start"].dt.floor("D")).size()
    # ~118 production, ~6 developer traces, 0-16 of a load test, the 40-case regression run
    assert ((per_day > 0.07 * full + 40) & (per_day < 0.13 * full + 40 + 30)).all(), per_day
    night = t[(t["start"].dt.hour == 2) & (t["start"].dt.minute < 14)]
    assert (night.groupby(night["start"].dt.floor("D")).size() >= 40).all()
    assert len(data.labels) == 3


@pytest.mark.parametrize("name", sorted(TENTH))
def test_a_volume_of_one_is_the_usual_dataset(name):
    gen, kw, _ = TENTH[name]
    key = next(iter(kw))
    usual = gen.generate(seed=4, end_day=END, days=1)
    same = gen.generate(seed=4, end_day=END, days=1,
                        **{key: 1.0 if key == "volume" else float(gen.WEEKDAY_TRACES)})
    pd.testing.assert_frame_equal(usual.truth, same.truth)
    pd.testing.assert_frame_equal(usual.scores, same.scores)


@pytest.mark.parametrize("gen, key", [(blind_data, "weekday_traces"),
                                      (blind_lowcode, "weekday_traces"),
                                      (blind_frameworks, "volume"), (blind_gateways, "volume"),
                                      (blind_agents, "volume"), (blind_stacks, "volume")])
@pytest.mark.parametrize("bad", [0.0, -0.5, float("nan")])
def test_a_volume_that_is_not_positive_is_refused(gen, key, bad):
    with pytest.raises(ValueError, match=f"{key} must be > 0, got"):
        gen.generate(seed=1, end_day=END, days=1, **{key: bad})
