"""Converting Langfuse observation items takes faster paths than the plain ones, and must give
what the plain ones give, to the dtype: metadata columns built in Arrow against a row-by-row
walk with pandas inferring each column, and the conventions' numeric and text fast paths against
their general ones, on records of odd shapes (no metadata, metadata that is not an object,
nested sections, nested values, nulls, blanks, numbers as text, unicode)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench.sources import conventions as conv
from workbench.sources.langfuse import _parse

ATTR = "attributes."
RES = "resourceAttributes."


def _item(i: int, metadata: Any = None, **fields: Any) -> dict[str, Any]:
    item = {"id": f"o{i}", "traceId": f"t{i // 3}", "startTime": f"2026-11-02T10:00:{i % 60:02d}Z",
            "endTime": f"2026-11-02T10:01:{i % 60:02d}Z",
            "parentObservationId": None if i % 3 == 0 else f"o{i - i % 3}",
            "type": "SPAN", "name": f"step-{i % 4}", "level": "DEFAULT", "statusMessage": None,
            "version": None, "environment": "production", "userId": None, "sessionId": None,
            "isRootObservation": i % 3 == 0, "providedModelName": None, "promptName": None,
            "promptVersion": None, "totalCost": None, "traceName": None, "release": None,
            "tags": [], "usageDetails": {}, "costDetails": {}, "metadata": metadata}
    item.update(fields)
    return item


def _odd_items() -> list[dict[str, Any]]:
    flat = {f"{ATTR}gen_ai.tool.name": "search_kb", f"{ATTR}gen_ai.request.model": "gpt-4o",
            f"{ATTR}gen_ai.usage.input_tokens": 120, f"{ATTR}gen_ai.usage.output_tokens": 8,
            f"{RES}service.name": "support-api", "scope.name": "langfuse-sdk",
            f"{ATTR}llm.invocation_parameters": {"temperature": 0.0}}
    shapes: list[Any] = [
        flat,
        None,
        {},
        "not json {",
        json.dumps(flat),
        [1, 2],
        17,
        {"attributes": {"gen_ai.tool.name": "fetch_page", "user.id": "ü-7"},
         "resourceAttributes": {"service.name": "research-worker"}, "agent": "triage"},
        {"attributes": json.dumps({"llm.model_name": "claude", "tool.name": "sql"}),
         "resourceAttributes": None, "user_id": None},
        {**flat, f"{ATTR}gen_ai.tool.name": "wéb_søk 🔍", "agent": "agënt"},
        {**flat, f"{ATTR}gen_ai.usage.input_tokens": "12", f"{ATTR}llm.token_count.total": 3.0},
        {**flat, f"{ATTR}gen_ai.tool.name": {"nested": [1, {"x": None}]},
         f"{ATTR}user.id": 42, f"{ATTR}llm.model_name": "", "release": "   "},
        {**flat, f"{ATTR}tag.tags": ["a", "b"], f"{ATTR}session.id": None,
         f"{ATTR}langfuse.observation.usage_details": json.dumps({"input": 5, "output": 7}),
         f"{ATTR}langfuse.observation.cost_details": {"total": 0.5}},
        {**flat, f"{ATTR}langfuse.observation.prompt.version": "7",
         f"{ATTR}llm.prompt_template.version": 2.5, f"{ATTR}gen_ai.usage.cost": "0.25",
         f"{ATTR}langfuse.release": True},
        {key: None for key in flat},
        {**flat, f"{ATTR}llm.token_count.prompt": -1, f"{ATTR}gen_ai.usage.output_tokens":
         float("nan"), f"{ATTR}llm.token_count.completion": 10**12},
        {**flat, f"{RES}service.name": ["svc", "x"], f"{ATTR}openinference.span.kind": "TOOL",
         f"{ATTR}error.type": "TimeoutError"},
        {f"{ATTR}gen_ai.agent.name": "  ", f"{ATTR}langfuse.trace.name": "nämed"},
    ]
    items = [_item(i, m) for i, m in enumerate(shapes)]
    items[2].update(level="ERROR", statusMessage="ReadTimeout: timed out")
    items[3].update(providedModelName="gpt-4o-mini", usageDetails={"input": 10, "output": 2},
                    totalCost=0.001, promptName="answer", promptVersion=3, type="GENERATION")
    items[5].update(tags=["x", "ÿ"], traceName="support-agent", userId="u-1")
    items.append(dict(items[0], id="o-unicode", name="wéb ✓", statusMessage="  "))
    return items


def _plain_metadata(items: list[dict[str, Any]], lookup: dict[str, str]) -> pd.DataFrame:
    """The straightforward reading: each row's metadata as flat keys, every wanted key's
    non-null value in a list per key, pandas inferring each column's dtype."""
    cols: dict[str, list[Any]] = {}
    for i, item in enumerate(items):
        m = item.get("metadata")
        if isinstance(m, str):
            try:
                m = json.loads(m)
            except ValueError:
                m = None
        if not isinstance(m, dict):
            continue
        flat: dict[str, Any] = {}
        for key, value in m.items():
            if key in ("attributes", "resourceAttributes"):
                nested = json.loads(value) if isinstance(value, str) else value
                for k2, v2 in (nested or {}).items():
                    flat[f"{key}.{k2}"] = v2
            else:
                flat[key] = value
        for key, value in flat.items():
            if key in lookup and value is not None:
                cols.setdefault(lookup[key], [None] * len(items))[i] = value
    return pd.DataFrame(cols)


@pytest.mark.parametrize("times", [1, 40])
def test_metadata_columns_are_what_a_plain_walk_and_pandas_give(times: int) -> None:
    c = conv.load()
    items = _odd_items() * times
    raw, bad = _parse.raw_observations(items, c)
    assert bad == 0
    want = _plain_metadata(items, _parse.metadata_lookup(c))
    got = raw[[col for col in raw.columns if col not in conv.RAW_COLUMNS]]
    assert sorted(got.columns) == sorted(want.columns)
    assert "attr:gen_ai.tool.name" in got.columns and "meta:agent" in got.columns
    pd.testing.assert_frame_equal(got[sorted(got.columns)], want[sorted(want.columns)],
                                  check_exact=True)
    for col in got.columns:  # the same Python objects in object columns
        if got[col].dtype == object:
            assert [type(v) for v in got[col]] == [type(v) for v in want[col]], col


@pytest.mark.parametrize("values", [
    ["a", None, "ü 🔍", "", "  "],
    [None, None, "x"],
    ["x", 1],
    [1, None, 3],
    [1, 2, 3],
    [1.5, None, 2],
    [True, None],
    [True, False],
    [["a", "b"], None],
    [{"k": "v"}, "x"],
    ["x", float("nan")],
])
def test_a_metadata_column_is_what_pandas_infers(values: list[Any]) -> None:
    built = _parse._column(list(values))
    got = built if isinstance(built, pd.Series) else pd.Series(built)
    pd.testing.assert_series_equal(got, pd.Series(values), check_exact=True)


def _no_fast_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conv, "_is_number", lambda dtype: False)


def _typed_items() -> list[dict[str, Any]]:
    """Items whose numeric attributes all hold numbers (no JSON usage, no numbers as text)."""
    meta = {f"{ATTR}gen_ai.usage.input_tokens": 120, f"{ATTR}llm.token_count.total": 3.0,
            f"{ATTR}gen_ai.usage.cost": 0.25, f"{ATTR}langfuse.observation.prompt.version": 2,
            f"{ATTR}gen_ai.request.model": "gpt-4o", f"{ATTR}gen_ai.tool.name": "sql"}
    items = [_item(i, dict(meta) if i % 2 else None) for i in range(12)]
    items[1]["metadata"][f"{ATTR}llm.token_count.total"] = 2.5  # not a whole number
    items[2].update(usageDetails={"input": 10, "output": 2}, totalCost=0.001, promptVersion=3)
    items[3]["metadata"][f"{ATTR}gen_ai.usage.input_tokens"] = None
    return items


@pytest.mark.parametrize("as_text", [False, True])
@pytest.mark.parametrize("items", [_odd_items, _typed_items])
def test_mapping_with_the_numeric_fast_paths_equals_the_general_path(
        monkeypatch: pytest.MonkeyPatch, as_text: bool, items: Any) -> None:
    c = conv.load()
    raw, _ = _parse.raw_observations(items() * 5, c)
    if as_text:
        raw = conv.as_text(raw)
    fast = c.observations(raw)
    _no_fast_numbers(monkeypatch)
    plain = c.observations(raw)
    pd.testing.assert_frame_equal(fast, plain, check_exact=True)
    assert fast["input_tokens"].notna().any() and fast["cost_usd"].notna().any()
    assert fast["tool_name"].notna().any() and fast["model"].notna().any()


def test_numbers_already_typed_convert_as_parsed_objects_do(
        monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [pd.Series([1.0, np.nan, 2.5, 3.0, -0.0, np.inf * 0]),
             pd.Series([1, None, 7], dtype="Int64"), pd.Series([4, 5, 2**60]),
             pd.Series([1.5, None], dtype="Float64")]
    fast = [(conv._numeric(s, "Int64"), conv._numeric(s, "float64")) for s in cases]
    _no_fast_numbers(monkeypatch)
    for s, (as_int, as_float) in zip(cases, fast):
        pd.testing.assert_series_equal(as_int, conv._numeric(s, "Int64"), check_exact=True)
        pd.testing.assert_series_equal(as_float, conv._numeric(s, "float64"), check_exact=True)


def test_text_that_is_no_number_gives_way_to_the_next_rule() -> None:
    """A numeric column takes its first *number*: OpenInference's free-text template version
    ("latest") does not hide the version the metadata gives."""
    raw = conv.raw_frame({"trace_id": ["t"] * 3, "observation_id": list("abc"),
                          "start_time": ["2026-11-02T10:00:00Z"] * 3,
                          "attr:llm.prompt_template.version": pd.array(["latest", "7", None],
                                                                      dtype="string"),
                          "meta:prompt_version": pd.array([4, 5, 6], dtype="Int64")})
    got = conv.load().observations(raw)["prompt_version"]
    assert got.tolist() == [4, 7, 6]


def test_a_text_rule_drops_blanks_as_the_general_path_does() -> None:
    raw = conv.raw_frame({"trace_id": ["t"] * 5, "observation_id": list("abcde"),
                          "start_time": ["2026-11-02T10:00:00Z"] * 5,
                          "attr:gen_ai.tool.name": pd.array(["x", None, "", " \t", "ü"],
                                                            dtype="string")})
    rule = conv.Rule("attribute", "gen_ai.tool.name")
    got = rule.values(raw)
    text = raw["attr:gen_ai.tool.name"]
    pd.testing.assert_series_equal(got, text.astype("string").where(conv._present(text)))
    assert got.tolist() == ["x", pd.NA, pd.NA, pd.NA, "ü"]


def test_presence_of_objects_is_the_text_check_on_every_value() -> None:
    s = pd.Series(["x", " ", "", None, np.nan, 1, 0.0, ["a"], [], True, "\t\n", "ü", {}],
                  dtype=object)
    plain = s.notna() & s.astype(str).str.strip().ne("").to_numpy()
    pd.testing.assert_series_equal(conv._present(s), plain)
    assert conv._present(s).tolist() == [True, False, False, False, False, True, True, True,
                                         True, True, False, True, True]


def test_joined_text_is_the_present_parts_in_order() -> None:
    a = pd.Series(["x", None, "  ", "a", None], dtype="string")
    b = pd.Series(["y", "z", "w", None, None], dtype=object)
    c = pd.Series(["1", "", None, "ü", None], dtype="str")
    plain = pd.Series(pd.NA, index=a.index, dtype="string")
    for p in (a, b, c):  # the plain fold: add each present part after what is there
        p = p.astype("string").where(conv._present(p))
        plain = plain.where(plain.isna() | p.isna(), plain + " | " + p)
        plain = plain.where(plain.notna(), p)
    got = conv._join_text(a, None, b, c, sep=" | ")
    pd.testing.assert_series_equal(got, plain)
    assert got.tolist() == ["x | y | 1", "z", "w", "a | ü", pd.NA]


@pytest.mark.parametrize("other", [None, "TOOL", "ü",
                                   pd.Series(["a", None, "c", "d", None], dtype="string")])
def test_text_masked_in_arrow_is_what_pandas_masks(other: Any) -> None:
    s = pd.Series(["x", None, "", "ÿ", "y"], dtype="string", name="n")
    cond = np.array([True, False, False, True, False])
    plain = s.where(cond) if other is None else s.where(cond, other)
    pd.testing.assert_series_equal(conv._where(s, cond, other), plain)
    objects = s.astype(object)  # not text: pandas masks it
    pd.testing.assert_series_equal(conv._where(objects, cond, "TOOL"),
                                   objects.where(cond, "TOOL"))


@pytest.mark.parametrize("values", [["invoke_agent triage", "x", None, "create_agent ä"],
                                    ["support", None, "agent invoke_agent x"], [None, None]])
def test_agent_prefixes_strip_as_the_anchored_replace_does(values: list[Any]) -> None:
    s = pd.Series(values, dtype="string")
    prefixes = ("invoke_agent ", "create_agent ")
    plain = s
    for p in prefixes:
        plain = plain.str.replace(f"^{p}", "", regex=True)
    pd.testing.assert_series_equal(conv._strip_prefixes(s, prefixes), plain)


def test_errors_classified_on_the_failing_rows_alone_as_row_by_row() -> None:
    c = conv.load()
    items = _odd_items()
    items[6].update(level="ERROR", statusMessage="Traceback (most recent call last):\n"
                    "  File \"x.py\"\nhttpx.ReadTimeout: timed out")
    items[7].update(level="ERROR", statusMessage="429 Too Many Requests")
    items[8].update(level="ERROR", statusMessage=None)
    raw = conv._complete(_parse.raw_observations(items, c)[0])
    level = c._first(raw, "level").str.upper()
    message = c._first(raw, "status_message")
    got = c._error_types(raw, level, message)
    failing = level.eq("ERROR").fillna(False).to_numpy()
    assert got[~failing].isna().all() and got[failing].notna().all() and failing.sum() >= 4
    for i in np.flatnonzero(failing):
        alone = c._failing_error_types(raw.iloc[[i]], message.iloc[[i]])
        assert got.iloc[i] == alone.iloc[0]
    assert set(got[failing]) >= {"timeout", "rate_limit", "error"}


def test_cache_usage_keys_read_alike_on_both_paths() -> None:
    usages = [{"input": 2000, "output": 200, "input_cached_tokens": 8000},
              {"input": 1000, "output": 100, "cache_read_input_tokens": 3000,
               "cache_creation_input_tokens": 1000},
              {"input": 10, "output": 1, "input_cache_read": 5, "input_cache_creation": 7,
               "input_cache_creation_5m": 100, "input_cache_creation_1h": 20},
              {"input": 10, "output": 1, "input_cache_creation_1h": 20},
              {"input": 10, "output": 1}]
    items = [_item(3 * i, None, type="GENERATION", providedModelName="gpt-4o", usageDetails=u)
             for i, u in enumerate(usages)]
    c = conv.load()
    fast, _ = _parse.raw_observations(items, c)
    plain, _ = _parse.raw_observations(items, c, trace_info={"t0": {}})  # the row-by-row path
    cols = ["input_tokens", "cache_read_tokens", "cache_write_tokens"]
    pd.testing.assert_frame_equal(fast[cols], plain[cols])
    assert fast[cols].astype(object).where(fast[cols].notna(), None).values.tolist() == [
        [2000, 8000, None], [1000, 3000, 1000], [10, 5, 127], [10, None, 20],
        [10, None, None]]
    obs = c.observations(fast)  # `input` leaves the cache parts out: added back
    assert obs["input_tokens"].tolist() == [10000, 5000, 142, 30, 10]


def test_reasoning_and_audio_usage_keys_read_alike_on_both_paths() -> None:
    # Langfuse v2 usageDetails: disjoint usage types, `total` their sum
    usages = [{"input": 400, "output": 100, "output_reasoning_tokens": 900, "total": 1400},
              {"input": 50, "output": 20, "output_reasoning": 30, "total": 100},
              {"input": 100, "output": 200, "output_audio_tokens": 400, "total": 700},
              {"input": 10, "output": 5, "output_reasoning_tokens": 7, "output_audio": 3,
               "total": 25},
              {"input": 10, "output": 1, "total": 11},
              {"input": 10, "output_reasoning_tokens": 4}]
    items = [_item(3 * i, None, type="GENERATION", providedModelName="o3", usageDetails=u)
             for i, u in enumerate(usages)]
    c = conv.load()
    fast, _ = _parse.raw_observations(items, c)
    plain, _ = _parse.raw_observations(items, c, trace_info={"t0": {}})  # the row-by-row path
    cols = ["output_tokens", "reasoning_tokens", "total_tokens"]
    pd.testing.assert_frame_equal(fast[cols], plain[cols])
    # audio tokens have no column: added to the raw output count; reasoning tokens kept apart
    assert fast[cols].astype(object).where(fast[cols].notna(), None).values.tolist() == [
        [100, 900, 1400], [20, 30, 100], [600, None, 700], [8, 7, 25], [1, None, 11],
        [None, 4, None]]
    obs = c.observations(fast)  # `output` leaves the reasoning tokens out: added back
    got = obs[cols].astype(object).where(obs[cols].notna(), None).values.tolist()
    # without an `output` count the output stays unknown, as the input does without `input`
    assert got == [[1000, 900, 1400], [50, 30, 100], [600, None, 700], [15, 7, 25],
                   [1, None, 11], [None, 4, 10]]
    pd.testing.assert_frame_equal(obs, c.observations(plain))


def test_audio_and_prediction_usage_types_are_added_back_on_both_paths() -> None:
    # usageDetails as the public API returns them: Langfuse's ingestion turns an OpenAI usage
    # object into one usage type per prompt_tokens_details / completion_tokens_details entry,
    # each taken off `input` / `output`; `total` stays the API's total_tokens
    openai_audio = {"input": 700, "output": 300, "total": 2100, "input_cached_tokens": 200,
                    "input_audio_tokens": 300, "output_reasoning_tokens": 0,
                    "output_audio_tokens": 400, "output_accepted_prediction_tokens": 150,
                    "output_rejected_prediction_tokens": 50}  # prompt 1200, completion 900
    predicted = {"input": 500, "output": 120, "total": 800, "input_cached_tokens": 0,
                 "input_audio_tokens": 0, "output_reasoning_tokens": 0,
                 "output_audio_tokens": 0, "output_accepted_prediction_tokens": 120,
                 "output_rejected_prediction_tokens": 60}  # prompt 500, completion 300
    # Langfuse's LangChain integration: input_token_details {audio: 40, cache_read: 100},
    # output_token_details {audio: 30, reasoning: 20} of input 500 / output 200
    langchain = {"input": 360, "output": 150, "total": 700, "input_audio": 40,
                 "input_cache_read": 100, "output_audio": 30, "output_reasoning": 20}
    # details Langfuse's OTel ingestion leaves inside `input` / `output` are not added: an
    # OpenInference span's prompt_details.audio, the Vercel AI SDK's prediction tokens
    openinference = {"input": 300, "output": 100, "total": 900, "prompt_details.audio": 120,
                     "output_reasoning_tokens": 100, "output_audio_tokens": 400}
    vercel = {"input": 500, "output": 300, "total": 800, "accepted_prediction_tokens": 120,
              "rejected_prediction_tokens": 60}
    only_details = {"input_audio_tokens": 30, "output_rejected_prediction_tokens": 5}
    usages = [openai_audio, predicted, langchain, openinference, vercel, only_details]
    items = [_item(3 * i, None, type="GENERATION", providedModelName="gpt-4o", usageDetails=u)
             for i, u in enumerate(usages)]
    c = conv.load()
    fast, _ = _parse.raw_observations(items, c)
    plain, _ = _parse.raw_observations(items, c, trace_info={"t0": {}})  # the row-by-row path
    cols = ["input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens",
            "total_tokens"]
    pd.testing.assert_frame_equal(fast[cols], plain[cols])
    # audio and prediction tokens have no column: added to the raw input / output counts
    assert fast[cols].astype(object).where(fast[cols].notna(), None).values.tolist() == [
        [1000, 900, 200, 0, 2100], [500, 300, 0, 0, 800], [400, 180, 100, 20, 700],
        [300, 500, None, 100, 900],
        [500, 300, None, None, 800], [30, 5, None, None, None]]
    obs = c.observations(fast)  # the cache parts and the reasoning tokens added back too
    got = obs[cols].astype(object).where(obs[cols].notna(), None).values.tolist()
    assert got == [[1200, 900, 200, 0, 2100], [500, 300, 0, 0, 800], [500, 200, 100, 20, 700],
                   [300, 600, None, 100, 900], [500, 300, None, None, 800],
                   [30, 5, None, None, 35]]
    # Langfuse's total is the sum of its disjoint usage types: input + output once added back
    assert (obs["total_tokens"] == obs["input_tokens"] + obs["output_tokens"]).all()
    pd.testing.assert_frame_equal(obs, c.observations(plain))
