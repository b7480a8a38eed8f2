"""The Tempo double answers in Tempo's encoding (the contract's README): base64 ids in
trace-by-id bodies, hex ids with stripped leading zeros in search, 64-bit integers as strings,
enums by name, defaults omitted, Tempo's own 400 texts, and TraceQL metrics intervals."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.doubles import TempoDouble
from tests.otel_fixtures import T0, record


@pytest.fixture(scope="module")
def double():
    with TempoDouble(record("genai", "openinference")) as d:
        yield d


def get(d, path, **params):
    return httpx.get(d.base_url + path, params=params, timeout=10)


def test_trace_by_id_is_jsonpb_with_base64_ids(double):
    tid = double.trace_ids[0]
    body = get(double, f"/api/v2/traces/{tid}").json()
    spans = [sp for rs in body["trace"]["resourceSpans"] for ss in rs["scopeSpans"]
             for sp in ss["spans"]]
    assert {base64.b64decode(sp["traceId"]).hex() for sp in spans} == {tid}
    sp = spans[0]
    assert isinstance(sp["startTimeUnixNano"], str) and sp["kind"].startswith("SPAN_KIND_")
    assert all(isinstance(a["value"].get("intValue", "0"), str)
               for s in spans for a in s.get("attributes", []))
    assert "status" not in body  # complete: the default is left out
    v1 = get(double, f"/api/traces/{tid}").json()
    assert v1["batches"] == body["trace"]["resourceSpans"]


def test_missing_traces(double):
    missing = "ab" * 16
    r = get(double, f"/api/v2/traces/{missing}")
    assert (r.status_code, r.json()) == (200, {"trace": {}})
    r = get(double, f"/api/traces/{missing}")
    assert (r.status_code, r.content) == (404, b"")
    assert get(double, "/api/v2/traces/xyz").status_code == 400


def test_search_answers_hex_ids_with_stripped_zeros(double):
    start = int(T0.timestamp()) - 60
    body = get(double, "/api/search", q="{ }", start=start, end=start + 3600, limit=50).json()
    ids = {t["traceID"] for t in body["traces"]}
    assert ids == {t.lstrip("0") for t in double.trace_ids}
    assert any(len(i) < 32 for i in ids)
    t = body["traces"][0]
    assert t["spanSet"] == t["spanSets"][0] and isinstance(t["startTimeUnixNano"], str)
    assert len(t["spanSets"][0]["spans"]) <= 3  # spss default
    assert body["traces"] == sorted(body["traces"], key=lambda x: int(x["startTimeUnixNano"]),
                                    reverse=True)


@pytest.mark.parametrize("params,text", [
    ({"q": "{ }", "start": 10, "end": 5}, "http parameter start must be before end. received "
                                          "start=10 end=5"),
    ({"q": "{ }", "start": 0 + 1, "end": 1 + 169 * 3600}, "range specified by start and end "
                                                          "exceeds 168h0m0s. received start=1 "
                                                          f"end={1 + 169 * 3600}"),
    ({"q": "{ }", "spss": 101}, "spans per span set exceeds 100. received 101"),
    ({"q": "{ .a = }"}, "invalid TraceQL query"),
    ({"q": "{ }", "tags": "a=b"}, "can't specify tags and q in the same query"),
])
def test_search_refusals_use_tempos_words(double, params, text):
    r = get(double, "/api/search", **params)
    assert r.status_code == 400 and text in r.text


def test_query_range_labels_intervals_by_their_end(double):
    start = int(T0.timestamp())
    r = get(double, "/api/metrics/query_range", q="{ nestedSetParent < 0 } | count_over_time()",
            start=start, end=start + 7200, step="1h")
    series = r.json()["series"]
    assert series[0]["labels"] == [{"key": "__name__",
                                    "value": {"stringValue": "count_over_time"}}]
    samples = {int(s["timestampMs"]) // 1000 - start: s["value"] for s in series[0]["samples"]}
    # one extra interval before the range; intervals are (t - 1h, t]: the root starting at
    # exactly 10:00:00 is counted at 10:00, the two later ones at 11:00
    assert samples == {0: 1.0, 3600: 2.0, 7200: 0.0}
    grouped = get(double, "/api/metrics/query_range",
                  q="{ } | sum_over_time(span.gen_ai.usage.input_tokens) by "
                    "(span.gen_ai.request.model)", start=start, end=start + 3600, step="1h")
    by_model = {s["labels"][0]["value"].get("stringValue"): s["samples"][0]["value"]
                for s in grouped.json()["series"]}
    assert by_model["gpt-4o"] == 1200 and by_model[None] == 2000  # the agent's roll-up
    too_long = get(double, "/api/metrics/query_range", q="{ } | rate()", start=start,
                   end=start + 25 * 3600)
    assert too_long.status_code == 400 and "exceeds 24h0m0s" in too_long.text
    one = get(double, "/api/metrics/query_range", q="{ } | rate()", start=start)
    assert "only one of start and end provided" in one.text


def test_tenants_and_auth():
    with TempoDouble(record("genai"), org_id="a", username="u", password="p") as d:
        auth = ("u", "p")
        r = httpx.get(d.base_url + "/api/echo", auth=auth)
        assert (r.status_code, r.text) == (401, "no org id\n")
        r = httpx.get(d.base_url + "/api/echo", auth=auth, headers={"X-Scope-OrgID": "a"})
        assert (r.status_code, r.text) == (200, "echo")
        r = httpx.get(d.base_url + "/api/echo", auth=("u", "x"), headers={"X-Scope-OrgID": "a"})
        assert r.status_code == 401
        assert httpx.get(d.base_url + "/ready").text == "ready"
