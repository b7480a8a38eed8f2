"""The local store: window queries, filters, partition pruning and errors, against the dataset
that was written to it."""

import json
import shutil

import pandas as pd
import pytest

from workbench import schema
from workbench.errors import ConfigError, SourceError
from workbench.simulate import generate, write_demo
from workbench.sources import get_source
from workbench.sources.local import LocalSource


@pytest.fixture(scope="module")
def dataset():
    return generate(seed=21, days=2, traces_per_day=300)


@pytest.fixture(scope="module")
def store(tmp_path_factory, dataset):
    return write_demo(tmp_path_factory.mktemp("store") / "demo", dataset=dataset)


@pytest.fixture(scope="module")
def src(store):
    return LocalSource(store)


def _window(df, col, start, end):
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    return df[df[col].ge(t0) & df[col].lt(t1)]


def _same(got, want, key):
    pd.testing.assert_frame_equal(got.sort_values(key).reset_index(drop=True),
                                  want.sort_values(key).reset_index(drop=True))


def test_registered_as_local(store):
    assert isinstance(get_source("local", root=store), LocalSource)


def test_window_across_the_day_boundary_matches_the_dataset(src, dataset):
    start, end = "2026-11-02T21:30:00Z", "2026-11-03T02:15:00Z"
    got = src.observations(start, end)
    schema.validate(got, "observations")
    assert got["start_time"].is_monotonic_increasing
    _same(got, _window(dataset.observations, "start_time", start, end), "observation_id")
    _same(src.traces(start, end), _window(dataset.traces, "start_time", start, end), "trace_id")
    _same(src.scores(start, end), _window(dataset.scores, "timestamp", start, end), "score_id")


def test_queries_from_threads_and_after_close_match_the_dataset(store, dataset):
    from concurrent.futures import ThreadPoolExecutor

    src = LocalSource(store)
    start, end = "2026-11-02T21:30:00Z", "2026-11-03T02:15:00Z"
    want = _window(dataset.observations, "start_time", start, end)
    with ThreadPoolExecutor(4) as pool:
        frames = list(pool.map(lambda _: src.observations(start, end), range(8)))
    for got in frames:
        _same(got, want, "observation_id")
    src.close()
    src.close()  # twice is harmless
    _same(src.observations(start, end), want, "observation_id")  # a new database opens


def test_window_is_half_open(src, dataset):
    t = dataset.traces["start_time"].iloc[100]
    one_us = pd.Timedelta(microseconds=1)
    ids = dataset.traces.loc[dataset.traces["start_time"] == t, "trace_id"]
    assert set(ids) <= set(src.traces(t, t + one_us)["trace_id"])
    assert not set(ids) & set(src.traces(t - pd.Timedelta(seconds=1), t)["trace_id"])
    # naive bounds are UTC
    naive = src.traces(t.tz_localize(None), (t + one_us).tz_localize(None))
    assert set(ids) <= set(naive["trace_id"])


@pytest.mark.parametrize("filters", [
    {"agent": "rag-agent"},
    {"agent": ["tool-agent", "planner-agent"], "type": "tool"},
    {"environment": "staging"},
    {"model": "gpt-4o", "name": "ChatOpenAI"},
    {"level": "ERROR"},
    {"type": ("generation",), "prompt_version": 7},
])
def test_observation_filters_match_pandas(src, dataset, filters):
    start, end = "2026-11-02T00:00Z", "2026-11-04T00:00Z"
    want = dataset.observations
    for key, value in filters.items():
        values = [value] if isinstance(value, (str, int)) else list(value)
        want = want[want[key].isin(values)]
    got = src.observations(start, end, **filters)
    assert len(got) > 0
    _same(got, want.reset_index(drop=True), "observation_id")


def test_user_session_and_trace_id_filters(src, dataset):
    t = dataset.traces.iloc[42]
    day = ("2026-11-02", "2026-11-04")
    by_user = src.traces(*day, user_id=t["user_id"])
    assert set(by_user["user_id"]) == {t["user_id"]} and t["trace_id"] in set(by_user["trace_id"])
    by_session = src.observations(*day, session_id=t["session_id"])
    assert set(by_session["session_id"]) == {t["session_id"]}
    ids = list(dataset.traces["trace_id"].iloc[[1, 5, 9]])
    assert set(src.observations(*day, trace_ids=ids)["trace_id"]) == set(ids)
    assert src.traces(*day, trace_ids=[]).empty
    assert src.traces(*day, agent=None).shape == src.traces(*day).shape  # None = no filter


def test_score_filters_on_the_scored_trace(src, dataset):
    start, end = "2026-11-02T00:00Z", "2026-11-04T00:00Z"
    got = src.scores(start, end, agent="rag-agent", name="Hallucination")
    rag = dataset.traces.loc[dataset.traces["agent"] == "rag-agent", "trace_id"]
    want = dataset.scores[dataset.scores["trace_id"].isin(rag)
                          & dataset.scores["name"].eq("Hallucination")]
    assert len(got) > 100
    _same(got, want.reset_index(drop=True), "score_id")
    v8 = src.scores(start, end, prompt_version="8", name="Hallucination")
    assert 0 < len(v8) < len(got)


def test_values_are_bound_not_spliced(src):
    hostile = "rag-agent' OR '1'='1"
    assert src.observations("2026-11-02", "2026-11-04", agent=hostile).empty


def test_empty_windows_give_empty_canonical_frames(src):
    for frame in ("observations", "traces", "scores"):
        for start, end in [("2020-01-01", "2020-01-02"),
                           ("2026-11-02T12:00Z", "2026-11-02T12:00Z")]:
            got = getattr(src, frame)(start, end)
            assert got.empty
            schema.validate(got, frame)


def test_labels_round_trip(src, dataset, tmp_path):
    pd.testing.assert_frame_equal(src.labels(), dataset.labels)
    assert set(src.labels()["cause_within"]) == {"agent=planner-agent", "agent=tool-agent",
                                                 "prompt_name=rag-answer"}
    # a store written before labels had a cause_within reads with an empty one
    shutil.copytree(src.root, tmp_path / "old")
    old = json.loads((tmp_path / "old" / "labels.json").read_text())
    for rec in old:
        del rec["cause_within"]
    (tmp_path / "old" / "labels.json").write_text(json.dumps(old))
    assert LocalSource(tmp_path / "old").labels()["cause_within"].eq("").all()


@pytest.mark.parametrize("call, filters, message", [
    ("observations", {"colour": "red"}, "unknown filter 'colour'"),
    ("traces", {"type": "tool"}, "unknown filter 'type' for traces"),
    ("scores", {"level": "ERROR"}, "unknown filter 'level' for scores"),
    ("traces", {"prompt_version": "eight"}, "takes integers"),
])
def test_bad_filters_are_config_errors(src, call, filters, message):
    with pytest.raises(ConfigError, match=message):
        getattr(src, call)("2026-11-02", "2026-11-03", **filters)


def test_bad_windows_are_config_errors(src):
    with pytest.raises(ConfigError, match="before its start"):
        src.traces("2026-11-03", "2026-11-02")
    with pytest.raises(ConfigError, match="timestamps"):
        src.traces("yesterday-ish", "2026-11-02")


def test_missing_root_says_how_to_create_it(tmp_path):
    src = LocalSource(tmp_path / "nowhere")
    for call in (lambda: src.observations("2026-11-02", "2026-11-03"), src.labels):
        with pytest.raises(ConfigError, match="workbench demo"):
            call()


def test_corrupt_partition_is_named_and_pruned(tmp_path, store):
    copy = tmp_path / "demo"
    shutil.copytree(store, copy)
    bad = copy / "observations" / "day=2026-11-03" / "part-0.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    src = LocalSource(copy)
    # a window on the healthy day never opens the broken partition
    assert len(src.observations("2026-11-02T08:00Z", "2026-11-02T09:00Z")) > 0
    with pytest.raises(SourceError, match="day=2026-11-03") as err:
        src.observations("2026-11-03T08:00Z", "2026-11-03T09:00Z")
    assert str(bad) in str(err.value) and err.value.source == "local"


def test_corrupt_labels_file_is_a_source_error(tmp_path, store):
    copy = tmp_path / "demo"
    shutil.copytree(store, copy)
    (copy / "labels.json").write_text("{not json")
    with pytest.raises(SourceError, match="labels.json"):
        LocalSource(copy).labels()


@pytest.mark.parametrize("new", [["cache_read_tokens", "cache_write_tokens"],
                                 ["reasoning_tokens"],
                                 ["cache_read_tokens", "cache_write_tokens", "reasoning_tokens"]],
                         ids=["cache", "reasoning", "both"])
def test_a_store_written_before_the_token_part_columns_still_loads(tmp_path, store, dataset,
                                                                    new):
    import pyarrow.parquet as pq

    copy = tmp_path / "demo"
    shutil.copytree(store, copy)
    old_day = copy / "observations" / "day=2026-11-02"
    for f in old_day.glob("*.parquet"):  # as an older version wrote it
        table = pq.read_table(f)
        assert set(new) <= set(table.column_names)
        pq.write_table(table.drop_columns(new), f)
    src = LocalSource(copy)
    for start, end in [("2026-11-02T08:00Z", "2026-11-02T12:00Z"),   # old files only
                       ("2026-11-02T21:30Z", "2026-11-03T02:15Z")]:  # old and new files
        got = src.observations(start, end)
        schema.validate(got, "observations")
        want = _window(dataset.observations, "start_time", start, end)
        old = (got["start_time"] < pd.Timestamp("2026-11-03", tz="UTC")).to_numpy()
        assert old.any() and got.loc[old, new].isna().all().all()
        keep = [c for c in got.columns if c not in new]
        _same(got[keep], want[keep], "observation_id")
        pd.testing.assert_frame_equal(  # the new day's files keep what they hold
            got.loc[~old, new].reset_index(drop=True),
            want.sort_values(["start_time", "observation_id"]).loc[
                (want["start_time"] >= pd.Timestamp("2026-11-03", tz="UTC")).to_numpy(),
                new].reset_index(drop=True))


def test_rows_come_back_in_time_then_id_order_whatever_the_files_hold(tmp_path, store):
    import pyarrow.parquet as pq

    copy = tmp_path / "demo"
    shutil.copytree(store, copy)
    for frame in ("observations", "traces", "scores"):
        for f in (copy / frame).glob("day=*/*.parquet"):  # rows in reverse, as a writer may
            table = pq.read_table(f)
            pq.write_table(table.take(list(range(table.num_rows - 1, -1, -1))), f)
    src, ordered = LocalSource(copy), LocalSource(store)
    start, end = "2026-11-02T21:30:00Z", "2026-11-03T02:15:00Z"
    for frame, keys in (("observations", ["start_time", "observation_id"]),
                        ("traces", ["start_time", "trace_id"]),
                        ("scores", ["timestamp", "score_id"])):
        got = getattr(src, frame)(start, end)
        assert got[keys].equals(got[keys].sort_values(keys, ignore_index=True))
        pd.testing.assert_frame_equal(got, getattr(ordered, frame)(start, end))
