"""The double answers every endpoint in shapes the official SDK's own models accept."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import datetime, timezone

import httpx
import pytest
from langfuse.api import LangfuseAPI
from langfuse.api.commons.errors.error import Error as SdkBadRequest
from langfuse.api.commons.errors.not_found_error import NotFoundError
from langfuse.api.commons.errors.unauthorized_error import UnauthorizedError
from langfuse.api.commons.types.score import Score
from langfuse.api.core.pydantic_utilities import parse_obj_as

from tests.doubles import LangfuseDouble, sample

WINDOW = {"fromTimestamp": "2026-11-02T00:00:00Z", "toTimestamp": "2026-11-03T00:00:00Z"}


@pytest.fixture(scope="module")
def smp():
    return sample(n_traces=40)


@pytest.fixture(scope="module")
def double(smp):
    with LangfuseDouble(*smp.frames) as d:
        yield d


@contextlib.contextmanager
def sdk_client(base_url, username=None, password=None):
    """The official SDK client on its own httpx client, closed afterwards."""
    with httpx.Client(timeout=10) as http:
        yield LangfuseAPI(base_url=base_url, username=username, password=password,
                          httpx_client=http)


@pytest.fixture()
def sdk(double):
    with sdk_client(double.base_url, double.public_key, double.secret_key) as client:
        yield client


def test_health_needs_no_auth_and_parses(double):
    with sdk_client(double.base_url) as anon:
        assert anon.health.health().status == "OK"


def test_v2_observations_all_groups_parse_and_model_name_lands_in_extra(sdk, smp):
    obs = smp.observations
    groups = "core,basic,time,io,metadata,model,usage,prompt,metrics,trace_context"
    page = sdk.observations.get_many(fields=groups, limit=1000)
    assert len(page.data) == len(obs)
    assert page.meta.cursor is None  # limit+1 fetch: nothing more
    gens = [o for o in page.data if o.type == "GENERATION"]
    assert gens and all(o.model is None for o in gens)  # the SDK field is `model` ...
    assert {o.model_extra["providedModelName"] for o in gens} - {None} == set(
        obs.loc[obs["type"] == "generation", "model"].dropna())  # ... it is providedModelName
    priced = [o for o in gens if o.model_extra["providedModelName"]]
    assert priced and all(isinstance(o.input_price, str) for o in priced)  # decimal strings
    starts = [o.start_time for o in page.data]
    assert starts == sorted(starts, reverse=True)  # newest first


def test_v2_unrequested_groups_are_absent_not_null_and_unknown_groups_dropped(double):
    r = httpx.get(f"{double.base_url}/api/public/v2/observations",
                  params={"fields": "core,usage,bogus", "limit": 3},
                  auth=(double.public_key, double.secret_key))
    row = r.json()["data"][0]
    assert "usageDetails" in row and "name" not in row and "providedModelName" not in row
    assert row["modelId"] is None and row["inputPrice"] is None  # always present, null
    default = httpx.get(f"{double.base_url}/api/public/v2/observations",
                        auth=(double.public_key, double.secret_key)).json()
    assert len(default["data"]) == 50 and "name" in default["data"][0]  # core,basic; limit 50
    assert "usageDetails" not in default["data"][0]


def test_v2_cursor_is_base64_json_and_walks_every_row_once(sdk, smp):
    obs = smp.observations
    seen, cursor, pages = [], None, 0
    while True:
        page = sdk.observations.get_many(fields="core", limit=7, cursor=cursor)
        seen += [o.id for o in page.data]
        pages += 1
        cursor = page.meta.cursor
        if cursor is None:
            break
        decoded = json.loads(base64.b64decode(cursor))
        assert set(decoded) == {"lastStartTimeTo", "lastTraceId", "lastId"}
        assert decoded["lastId"] == page.data[-1].id
    assert sorted(seen) == sorted(obs["observation_id"]) and len(seen) == len(set(seen))
    assert pages == -(-len(obs) // 7)


def test_v2_no_cursor_when_exactly_limit_rows_remain(sdk):
    lo = datetime(2026, 11, 2, tzinfo=timezone.utc)
    hi = datetime(2026, 11, 2, 3, tzinfo=timezone.utc)
    everything = sdk.observations.get_many(fields="core", limit=1000,
                                           from_start_time=lo, to_start_time=hi)
    n = len(everything.data)
    exact = sdk.observations.with_raw_response.get_many(fields="core", limit=n,
                                                        from_start_time=lo, to_start_time=hi)
    assert len(exact.data.data) == n and exact.data.meta.cursor is None
    assert exact.data.meta.model_dump(exclude_unset=True) == {}  # meta is {} on the last page


def test_v2_bad_requests_answer_400_like_the_server(sdk):
    with pytest.raises(SdkBadRequest) as bad_cursor:
        sdk.observations.get_many(cursor="not-base64!")
    assert bad_cursor.value.body["message"] == "Invalid cursor format"
    with pytest.raises(SdkBadRequest):
        sdk.observations.get_many(limit=1001)
    with pytest.raises(SdkBadRequest):
        sdk.observations.get_many(parse_io_as_json=True)


def test_v2_filter_json_overrides_plain_params(sdk, smp):
    obs = smp.observations
    flt = json.dumps([{"type": "stringObject", "column": "metadata",
                       "key": "attributes.gen_ai.tool.name", "operator": "=",
                       "value": "run_sql"}])
    page = sdk.observations.get_many(fields="core,metadata", limit=1000, filter=flt,
                                     type="GENERATION")  # `type` ignored: filter wins
    assert len(page.data) == int((obs["tool_name"] == "run_sql").sum()) > 0
    assert {o.type for o in page.data} == {"TOOL"}
    assert {o.metadata["attributes.gen_ai.tool.name"] for o in page.data} == {"run_sql"}


def test_v3_scores_parse_with_subject_and_cursor(sdk, smp):
    scores = smp.scores
    ids, cursor = [], None
    while True:
        page = sdk.scores.get_many(fields="subject", limit=100, cursor=cursor,
                                   from_timestamp=datetime(2026, 11, 2, tzinfo=timezone.utc),
                                   to_timestamp=datetime(2026, 11, 3, tzinfo=timezone.utc))
        ids += [s.id for s in page.data]
        cursor = page.meta.cursor
        if cursor is None:
            break
    assert sorted(ids) == sorted(scores["score_id"])
    page = sdk.scores.get_many(fields="subject", limit=5)
    kinds = {s.subject.kind for s in page.data}
    assert kinds <= {"trace", "observation"} and page.meta.limit == 5
    with pytest.raises(SdkBadRequest):
        sdk.scores.get_many(limit=101)
    with pytest.raises(SdkBadRequest):
        sdk.scores.get_many(fields="nope")


def test_v2_metrics_columns_and_string_numbers(sdk, smp):
    obs = smp.observations
    q = {"view": "observations", "dimensions": [{"field": "providedModelName"}],
         "metrics": [{"measure": "count", "aggregation": "count"},
                     {"measure": "totalCost", "aggregation": "sum"}],
         "timeDimension": {"granularity": "day"}, **WINDOW}
    data = sdk.metrics.metrics(query=json.dumps(q)).data
    assert {"providedModelName", "time_dimension", "count_count", "sum_totalCost"} == set(data[0])
    assert all(isinstance(r["count_count"], str) for r in data)
    assert sum(int(r["count_count"]) for r in data) == len(obs)
    by_model = {r["providedModelName"]: r["sum_totalCost"] for r in data}
    stored: dict[str, float] = {}
    for rec in smp.records:  # Langfuse prices the spans that carry no cost itself
        model, cost = rec["model"]["providedModelName"], rec["usage"]["totalCost"]
        if model is not None:
            stored[model] = stored.get(model, 0.0) + (cost or 0.0)
    assert stored and by_model.keys() - {None} == stored.keys()
    for model, cost in stored.items():
        assert by_model[model] == pytest.approx(cost)
    priced_here = obs.groupby("model")["cost_usd"].sum()  # the spans' own costs are kept
    assert by_model["gpt-4.1"] == pytest.approx(priced_here["gpt-4.1"])
    with pytest.raises(SdkBadRequest):  # high-cardinality grouping
        sdk.metrics.metrics(query=json.dumps({**q, "dimensions": [{"field": "traceId"}]}))


def test_legacy_page_endpoints_have_meta_and_deprecation(double, smp):
    obs, scores = smp.observations, smp.scores
    auth = (double.public_key, double.secret_key)
    for path, n in (("traces", obs["trace_id"].nunique()), ("observations", len(obs)),
                    ("v2/scores", len(scores))):
        body = httpx.get(f"{double.base_url}/api/public/{path}", params={"limit": 100},
                         auth=auth).json()
        assert body["meta"] == {"page": 1, "limit": 100, "totalItems": n,
                                "totalPages": -(-n // 100)}
        assert body["_deprecation"]["sunsetAt"] == "2026-11-16"
        over = httpx.get(f"{double.base_url}/api/public/{path}", params={"limit": 101},
                         auth=auth)
        assert over.status_code == 400
    # the SDK (5.0.4) keeps only the v2-scores item model of the legacy reads: parse with it
    body = httpx.get(f"{double.base_url}/api/public/v2/scores", params={"limit": 100},
                     auth=auth).json()
    parsed = [parse_obj_as(Score, item) for item in body["data"]]
    assert {p.data_type for p in parsed} == set(scores["data_type"])


def test_auth_failures_answer_401_with_message(double):
    with sdk_client(double.base_url, double.public_key, "sk-lf-wrong") as wrong:
        with pytest.raises(UnauthorizedError) as err:
            wrong.observations.get_many()
    assert err.value.body == {"message": "Invalid credentials. Confirm that you've configured "
                                         "the correct host."}
    r = httpx.get(f"{double.base_url}/api/public/v2/observations")
    assert r.status_code == 401 and r.json() == {"message": "No authorization header"}


def test_legacy_mode_answers_404_on_v2_and_v3(smp):
    with LangfuseDouble(*smp.frames, legacy=True) as d, \
            sdk_client(d.base_url, d.public_key, d.secret_key) as sdk:
        for call in (lambda: sdk.observations.get_many(),
                     lambda: sdk.scores.get_many(),
                     lambda: sdk.metrics.metrics(query="{}")):
            with pytest.raises(NotFoundError) as err:
                call()
            assert err.value.body["error"] == "LangfuseNotFoundError"


def test_v2_metrics_group_and_filter_on_is_root_observation(sdk, smp):
    obs = smp.observations
    q = {"view": "observations", "dimensions": [{"field": "isRootObservation"}],
         "metrics": [{"measure": "count", "aggregation": "count"}], **WINDOW}
    data = sdk.metrics.metrics(query=json.dumps(q)).data
    counts = {r["isRootObservation"]: int(r["count_count"]) for r in data}
    assert counts == {True: obs["trace_id"].nunique(),
                      False: int(obs["parent_observation_id"].notna().sum())}
    roots = {**q, "dimensions": [], "filters": [{"column": "isRootObservation", "operator": "=",
                                                 "value": True, "type": "boolean"}]}
    assert sdk.metrics.metrics(query=json.dumps(roots)).data == [
        {"count_count": str(obs["trace_id"].nunique())}]


CONFIGS = [
    {"id": "cfg-correctness", "name": "correctness", "dataType": "NUMERIC", "minValue": 0,
     "maxValue": 10, "description": "LLM-as-a-judge, 10 = fully correct"},
    {"id": "cfg-correctness-old", "name": "correctness", "dataType": "NUMERIC", "minValue": 1,
     "maxValue": 5, "isArchived": True},
    {"id": "cfg-toxicity", "name": "toxicity", "dataType": "BOOLEAN",
     "categories": [{"value": 0, "label": "False"}, {"value": 1, "label": "True"}]},
]


def test_score_configs_page_and_link_the_scores_written_against_them(smp):
    scores = smp.scores.copy()
    scores.loc[scores.index[:3], "name"] = "correctness"
    scores.loc[scores.index[:3], ["data_type", "value"]] = ["NUMERIC", 7.0]
    with LangfuseDouble(smp.frames[0], scores, score_configs=CONFIGS) as d, \
            sdk_client(d.base_url, d.public_key, d.secret_key) as api:
        first = api.score_configs.get(page=1, limit=2)
        second = api.score_configs.get(page=2, limit=2)
        assert [c.id for c in first.data + second.data] == [c["id"] for c in CONFIGS]
        assert (first.meta.total_items, first.meta.total_pages) == (3, 2)
        live = first.data[0]
        assert (live.min_value, live.max_value, live.is_archived) == (0, 10, False)
        assert first.data[1].is_archived and second.data[0].categories[1].label == "True"
        page = api.scores.get_many(fields="subject,details", limit=100, name="correctness")
        # a score is written against the live config of its name, not the archived one
        assert sorted(s.config_id for s in page.data) == ["cfg-correctness"] * 3
        other = api.scores.get_many(fields="details", limit=100, name="hallucination")
        assert other.data and {s.config_id for s in other.data} == {None}
    with pytest.raises(ValueError, match="lacks"):
        LangfuseDouble(smp.frames[0], scores, score_configs=[{"name": "x"}])
