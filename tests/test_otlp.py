"""OTLP JSON decoding: the same raw frame as the OpenTelemetry SDK's own spans, whatever the id
encoding, body shape or value kind; malformed spans counted and the rest of their trace kept."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from tests.otel_fixtures import BUILDERS, Recorder, linked, otlp_dict, record
from workbench import schema
from workbench.sources import conventions as conv
from workbench.sources.otel import raw_from_spans
from workbench.sources.otlp import decode, normalise_trace_id, raw_from_otlp, resource_spans

# Tempo's documented answer to GET /api/v2/traces/5b8efff798038103d269b633813fc700 (ids base64).
DOCS_TRACE_V2 = (
    '{"trace": {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":'
    '{"stringValue":"my.service"}}]},"scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0"},'
    '"spans":[{"traceId":"W47/95gDgQPSabYzgT/HAA==","spanId":"7uGbfsPBsQA=","name":"I am a span!",'
    '"kind":"SPAN_KIND_SERVER","startTimeUnixNano":"1689969302000000000","endTimeUnixNano":'
    '"1689970000000000000","attributes":[{"key":"my.span.attr","value":{"stringValue":'
    '"some value"}}],"status":{}}]}]}]}}')


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["trace_id", "observation_id"]).reset_index(drop=True)


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("ids", ["base64", "hex"])
def test_raw_frame_equals_the_sdk_spans(name, ids):
    spans = record(name)
    want = _sorted(raw_from_spans(spans))
    got = _sorted(raw_from_otlp(otlp_dict(spans, ids)))
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs["otlp_problems"] == {"counts": {}, "examples": {}}
    obs_want = conv.load().observations(want)
    obs_got = conv.load().observations(got)
    pd.testing.assert_frame_equal(obs_got, obs_want)
    schema.validate(obs_got, "observations")


def test_simulator_spans_decode_to_the_same_raw_frame():
    from workbench.simulate import generate_spans

    spans = generate_spans(seed=3, days=1, traces_per_day=60)
    pd.testing.assert_frame_equal(_sorted(raw_from_otlp(otlp_dict(spans))),
                                  _sorted(raw_from_spans(spans)))


@pytest.mark.parametrize("shape", ["v2", "v1", "otlp", "list"])
def test_every_tempo_body_shape(shape):
    spans = record("genai")
    body = otlp_dict(spans)
    wrapped = {"v2": {"trace": body}, "v1": {"batches": body["resourceSpans"]},
               "otlp": body, "list": body["resourceSpans"]}[shape]
    raw = raw_from_otlp(json.dumps(wrapped).encode())
    assert len(raw) == len(spans)
    assert resource_spans({"trace": {}}) == []  # Tempo v2's "not found"
    with pytest.raises(ValueError, match="not an OTLP traces body"):
        resource_spans({"data": []})


def test_tempo_docs_trace_decodes_with_its_documented_ids():
    raw = raw_from_otlp(DOCS_TRACE_V2)
    assert raw["trace_id"].tolist() == ["5b8efff798038103d269b633813fc700"]
    assert raw["observation_id"].tolist() == ["eee19b7ec3c1b100"]
    assert raw["status_code"].tolist() == ["UNSET"]
    assert raw["res:service.name"].tolist() == ["my.service"]
    assert raw["end_time"][0] - raw["start_time"][0] == pd.Timedelta(seconds=698)
    # the v1 form of the same body: the first "resourceSpans" renamed "batches"
    v1 = json.loads(DOCS_TRACE_V2)["trace"]
    v1["batches"] = v1.pop("resourceSpans")
    assert decode([v1]).spans == 1


def test_every_attribute_value_kind():
    spans = record("genai")
    body = otlp_dict(spans)
    sp = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    sp["attributes"] = [
        {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "12"}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 3}},
        {"key": "llm.cost.total", "value": {"doubleValue": "NaN"}},
        {"key": "gen_ai.usage.cost", "value": {"doubleValue": 0.5}},
        {"key": "langfuse.trace.tags", "value": {"arrayValue": {"values": [
            {"stringValue": "a"}, {"stringValue": "b"}]}}},
        {"key": "gen_ai.agent.name", "value": {"kvlistValue": {"values": [
            {"key": "k", "value": {"boolValue": True}}]}}},
        {"key": "user.id", "value": {"bytesValue": "aGk="}},
        {"key": "session.id", "value": {}},
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
    ]
    sp.pop("parentSpanId", None)
    raw = raw_from_otlp(body)
    row = raw[raw["name"] == sp["name"]].iloc[0]
    assert row["attr:gen_ai.usage.input_tokens"] == 12
    assert row["attr:gen_ai.usage.output_tokens"] == 3
    assert pd.isna(row["attr:llm.cost.total"])
    assert row["attr:gen_ai.usage.cost"] == 0.5
    assert row["attr:langfuse.trace.tags"] == ("a", "b")
    assert row["attr:gen_ai.agent.name"] == {"k": True}
    assert row["attr:user.id"] == b"hi"
    assert "attr:session.id" not in raw.columns  # an empty value is no value
    assert raw.attrs["otlp_problems"]["counts"] == {}


def test_status_by_name_and_by_number_and_exception_events():
    spans = record("genai")
    body = otlp_dict(spans, "hex")
    for rs in body["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                if sp.get("status", {}).get("code") == "STATUS_CODE_ERROR":
                    sp["status"]["code"] = 2  # OTLP/HTTP JSON writes enums as numbers
                sp["kind"] = 3
    raw = raw_from_otlp(body)
    tool = raw[raw["name"] == "execute_tool get_weather"].iloc[0]
    assert tool["status_code"] == "ERROR"
    assert tool["status_message"] == "TimeoutError: weather API timed out after 5 s"
    assert tool["exception_type"] == "TimeoutError"
    assert tool["exception_message"] == "weather API timed out after 5 s"
    obs = conv.load().observations(raw)
    tool = obs[obs["name"] == "get_weather"].iloc[0]
    assert (tool["level"], tool["error_type"], tool["type"]) == ("ERROR", "timeout", "tool")


def test_links_are_decoded_with_their_ids():
    rec = Recorder(5)
    linked(rec)
    spans = rec.spans
    by_name = {s.name: s for s in spans}
    for ids in ("base64", "hex"):
        d = decode([otlp_dict(spans, ids)])
        job = format(by_name["batch"].context.span_id, "016x")
        links = d.links[d.links["observation_id"] == job]
        assert sorted(links["linked_observation_id"]) == sorted(
            format(by_name[n].context.span_id, "016x") for n in ("request a", "request b"))
        assert set(links["linked_trace_id"]) == {
            format(by_name["request a"].context.trace_id, "032x"),
            format(by_name["request b"].context.trace_id, "032x")}


def test_evaluation_events_become_scores():
    spans = record("genai")
    d = decode([otlp_dict(spans)])
    schema.validate(d.scores, "scores")
    assert len(d.scores) == 1
    s = d.scores.iloc[0]
    chat = next(x for x in spans if x.name == "chat gpt-4o")
    assert s["trace_id"] == format(chat.context.trace_id, "032x")
    assert s["observation_id"] == format(chat.context.span_id, "016x")
    assert (s["name"], s["value"], s["string_value"], s["data_type"], s["environment"]) == \
        ("groundedness", 0.25, "not_grounded", "NUMERIC", "production")


@pytest.mark.parametrize("text,want", [
    ("5b8efff798038103d269b633813fc700", "5b8efff798038103d269b633813fc700"),
    ("d6e9329d67b6146a", "0000000000000000d6e9329d67b6146a"),
    ("b8efff798038103d269b633813fc700", "0b8efff798038103d269b633813fc700"),
    ("W47/95gDgQPSabYzgT/HAA==", "5b8efff798038103d269b633813fc700"),
    ("0x5B8EFFF798038103D269B633813FC700", "5b8efff798038103d269b633813fc700"),
])
def test_trace_ids_are_normalised(text, want):
    assert normalise_trace_id(text) == want


@pytest.mark.parametrize("bad", ["", "xyz", "5b8efff798038103d269b633813fc700ff", "W47/95g"])
def test_bad_trace_ids_are_refused(bad):
    with pytest.raises(ValueError, match="trace id"):
        normalise_trace_id(bad)


# -- malformed OTLP -------------------------------------------------------------------------------

def _genai_body():
    spans = record("genai")
    return spans, otlp_dict(spans)


def _spans_of(body):
    return [sp for rs in body["resourceSpans"] for ss in rs["scopeSpans"] for sp in ss["spans"]]


def _break(kind, body):
    """Break one span of the first trace; returns the name of the broken span."""
    spans = _spans_of(body)
    sp = next(s for s in spans if s["name"] == "chat gpt-4o")
    if kind == "missing_id":
        sp.pop("spanId")
    elif kind == "empty_id":
        sp["traceId"] = ""
    elif kind == "zero_id":
        sp["spanId"] = "AAAAAAAAAAA="
    elif kind == "bad_base64":
        sp["spanId"] = "!!not-base64!!"
    elif kind == "bad_int":
        sp["attributes"].append({"key": "gen_ai.usage.cost", "value": {"intValue": "twelve"}})
    elif kind == "bad_time":
        sp["startTimeUnixNano"] = "soon"
    elif kind == "end_before_start":
        sp["endTimeUnixNano"] = str(int(sp["startTimeUnixNano"]) - 5_000_000_000)
    elif kind == "mixed_array":
        sp["attributes"].append({"key": "gen_ai.response.finish_reasons", "value": {
            "arrayValue": {"values": [{"stringValue": "stop"}, {"intValue": "1"}]}}})
    elif kind == "duplicate":
        clone = copy.deepcopy(sp)
        clone["name"] = "impostor"
        body["resourceSpans"][0]["scopeSpans"][0]["spans"].append(clone)
    elif kind == "bad_parent":
        sp["parentSpanId"] = "zz"
    return sp["name"]


@pytest.mark.parametrize("kind,counted,kept", [
    ("missing_id", "missing_id", False),
    ("empty_id", "missing_id", False),
    ("zero_id", "missing_id", False),
    ("bad_base64", "bad_id", False),
    ("bad_int", "bad_value", True),
    ("bad_time", "bad_time", False),
    ("end_before_start", "end_before_start", True),
    ("mixed_array", "mixed_array", True),
    ("duplicate", "duplicate_span_id", True),
    ("bad_parent", "bad_parent_id", True),
])
def test_malformed_spans_are_counted_and_the_rest_kept(kind, counted, kept):
    spans, body = _genai_body()
    _break(kind, body)
    d = decode([body])
    assert d.problems.counts == {counted: 1}, d.problems.summary()
    assert d.problems.examples[counted][0]
    assert counted in d.problems.summary()
    names = d.raw["name"].tolist()
    assert ("chat gpt-4o" in names) is kept
    assert "impostor" not in names
    others = [s.name for s in spans if s.name != "chat gpt-4o"]
    assert sorted(n for n in names if n != "chat gpt-4o") == sorted(others)
    obs = conv.load().observations(d.raw)  # still maps
    assert (obs["end_time"] >= obs["start_time"]).all()
    if kind == "end_before_start":
        row = obs[obs["name"] == "chat gpt-4o"].iloc[0]
        assert row["duration_s"] == 0.0


def test_a_bad_value_loses_only_that_attribute():
    _, body = _genai_body()
    _break("bad_int", body)
    raw = decode([body]).raw
    row = raw[raw["name"] == "chat gpt-4o"].iloc[0]
    assert row["attr:gen_ai.usage.input_tokens"] == 1200
    assert "attr:gen_ai.usage.cost" not in raw.columns
