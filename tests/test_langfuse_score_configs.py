"""Judge scales from Langfuse score configs: read through the real source from the double."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from tests.doubles import LangfuseDouble
from tests.doubles.sample import settled_now
from workbench.sources import conventions as conv
from workbench.sources.langfuse import _score_configs

WEEK = ("2026-11-01T00:00:00Z", "2026-11-08T00:00:00Z")
CONFIGS = "/api/public/score-configs"
SCORES = "/api/public/v3/scores"
#: a 0-10 faithfulness judge; its old 1-5 config is archived
FAITHFULNESS = [
    {"id": "cfg-faith-5", "name": "faithfulness", "dataType": "NUMERIC", "minValue": 1,
     "maxValue": 5, "isArchived": True},
    {"id": "cfg-faith", "name": "faithfulness", "dataType": "NUMERIC", "minValue": 0,
     "maxValue": 10},
    {"id": "cfg-safe", "name": "Out-of-Scope Request", "dataType": "BOOLEAN"},
]


pytestmark = pytest.mark.usefixtures("forget_legacy")


@pytest.fixture(scope="module")
def frames(smp):
    """The sample's scores with its hallucination judge swapped for a 0-10 faithfulness judge
    that, this week, only ever gave 0 or 1: read as 0..1 those would be perfect answers."""
    scores = smp.scores[smp.scores["name"] != "Check Answer Groundedness"].copy()
    judged = scores["name"].eq("Hallucination").to_numpy()
    scores.loc[judged, "name"] = "faithfulness"
    scores.loc[judged, "value"] = np.arange(judged.sum()) % 2 * 1.0
    return smp.records, scores, int(judged.sum())


def test_ranges_take_numeric_configs_with_both_ends_and_the_live_one_over_the_archived():
    configs = [*FAITHFULNESS,
               {"name": "open-ended", "dataType": "NUMERIC", "minValue": 0, "maxValue": None},
               {"name": "upside-down", "dataType": "NUMERIC", "minValue": 5, "maxValue": 1},
               {"name": "archived-only", "dataType": "NUMERIC", "minValue": 0, "maxValue": 100,
                "isArchived": True},
               "not a config"]
    assert _score_configs.ranges(configs) == {"faithfulness": (0.0, 10.0),
                                              "archived-only": (0.0, 100.0)}
    # the order the API lists them in does not matter
    assert _score_configs.ranges(configs[::-1])["faithfulness"] == (0.0, 10.0)


def test_a_judge_is_read_on_its_configs_scale_not_on_the_one_its_values_suggest(frames):
    records, scores, n = frames
    with LangfuseDouble(records, scores, score_configs=FAITHFULNESS) as d, \
            d.source(slice_s=3600, now=settled_now) as src:
        got = src.scores(*WEEK)
        assert len(d.requests_to(CONFIGS)) == 1
    faith = got[got["name"] == "faithfulness"]
    assert len(faith) == n
    assert (faith["scale_min"].eq(0.0) & faith["scale_max"].eq(10.0)).all()
    # only numeric scores carry a scale: the boolean config sets none
    assert got.loc[got["name"] != "faithfulness", ["scale_min", "scale_max"]].isna().all().all()
    values = conv.load().score_values(got)
    read = values[values["signal"] == "groundedness"]["value"]
    assert sorted(set(read.round(6))) == [0.0, 0.1]
    assert values.attrs["configured"] == {"faithfulness": (0.0, 10.0)}
    assert "faithfulness" not in values.attrs["rescaled"]
    # without the config the same values are guessed to be on 0..1
    guessed = conv.load().score_values(got.drop(columns=["scale_min", "scale_max"]))
    assert sorted(set(guessed.loc[guessed["signal"] == "groundedness", "value"])) == [0.0, 1.0]


def test_a_declared_scale_in_the_conventions_wins_over_the_config(frames):
    records, scores, _ = frames
    with LangfuseDouble(records, scores, score_configs=FAITHFULNESS) as d, \
            d.source(slice_s=3600, now=settled_now) as src:
        got = src.scores(*WEEK)
    mine = conv.load({"scores": {"groundedness": {"scales": {"faithfulness": [0, 2]}}}})
    values = mine.score_values(got)
    assert sorted(set(values.loc[values["signal"] == "groundedness", "value"])) == [0.0, 0.5]
    assert values.attrs["configured"] == {}


def test_configs_are_kept_with_a_closed_window_in_the_cache(frames, tmp_path):
    records, scores, _ = frames
    with LangfuseDouble(records, scores, score_configs=FAITHFULNESS) as d:
        with d.source(slice_s=3600, now=settled_now, cache_dir=tmp_path) as src:
            first = src.scores(*WEEK)
        d.reset_log()
        with d.source(slice_s=3600, now=settled_now, cache_dir=tmp_path) as src:
            again = src.scores(*WEEK)
        assert d.requests == []
    pd.testing.assert_frame_equal(again, first)


def test_a_server_that_cannot_list_configs_leaves_scales_inferred_and_is_asked_again(
        frames, caplog):
    records, scores, _ = frames
    with LangfuseDouble(records, scores, score_configs=FAITHFULNESS) as d, \
            d.source(slice_s=3600, now=settled_now, max_attempts=1) as src:
        d.server_error(times=1, status=503, path=CONFIGS)
        with caplog.at_level(logging.WARNING, logger="workbench.sources.langfuse"):
            first = src.scores(*WEEK)
        assert first["scale_max"].isna().all()
        assert "score configs" in first.attrs["langfuse"]["score_configs"]
        assert "inferred" in caplog.text
        again = src.scores(*WEEK)
        assert len(d.requests_to(CONFIGS)) == 2
    assert again.loc[again["name"] == "faithfulness", "scale_max"].eq(10.0).all()
