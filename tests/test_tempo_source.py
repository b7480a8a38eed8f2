"""``TempoSource`` against the Tempo contract double: configuration from the environment, the
frames the conventions give for the same SDK spans, slicing, ids, trace API versions, caching,
tags, scores, and how gaps are marked."""

from __future__ import annotations

import base64

import pandas as pd
import pytest

from tests.doubles import TempoDouble
from tests.otel_fixtures import T0, Recorder, linked, record
from workbench import schema
from workbench.errors import ConfigError, SourceAuthError, SourceQueryError
from workbench.sources import conventions as conv
from workbench.sources import get_source, incomplete_reason, open_trace_source, prices
from workbench.sources.otel import raw_from_spans
from workbench.sources.tempo import TempoSource

WINDOW = ("2026-11-02T09:00:00Z", "2026-11-02T12:00:00Z")
LATER = pd.Timestamp("2026-12-01", tz="UTC")  # every slice of the window is settled
KEYS = ["trace_id", "observation_id"]


def expected(spans):
    """What the conventions and the price table make of the same SDK spans."""
    obs, _ = prices.load().fill_costs(conv.load().observations(raw_from_spans(spans)))
    return obs.sort_values(KEYS).reset_index(drop=True)


def same(got, spans):
    pd.testing.assert_frame_equal(got.sort_values(KEYS).reset_index(drop=True), expected(spans))


@pytest.fixture(scope="module")
def spans():
    return record()


@pytest.fixture()
def double(spans):
    with TempoDouble(spans, org_id="team-a") as d:
        yield d


def test_get_source_reads_the_environment_and_sends_the_tenant_everywhere(spans, monkeypatch):
    with TempoDouble(spans, org_id="team-a", username="reader", password="s3cret-pw") as d:
        for k, v in d.env().items():
            monkeypatch.setenv(k, v)
        src = get_source("tempo")
        assert isinstance(src, TempoSource) and "s3cret" not in repr(src)
        src._now = lambda: LATER
        obs = src.observations(*WINDOW)
        same(obs, spans)
        schema.validate(obs, "observations")
        schema.validate(src.traces(*WINDOW), "traces")
        schema.validate(src.scores(*WINDOW), "scores")
        assert incomplete_reason(obs) is None
        assert obs.attrs["tempo"]["reconciled"] == "checked"
        reqs = d.requests
        assert {"/api/search", "/api/metrics/query_range"} <= {r.path for r in reqs}
        assert any(r.path.startswith("/api/v2/traces/") for r in reqs)
        basic = "Basic " + base64.b64encode(b"reader:s3cret-pw").decode()
        assert all(r.headers.get("x-scope-orgid") == "team-a" for r in reqs)
        assert all(r.headers.get("authorization") == basic for r in reqs)
        src.close()


def test_bearer_token_and_extra_headers(spans, monkeypatch):
    with TempoDouble(spans, token="tok-123") as d:
        monkeypatch.setenv("TEMPO_URL", d.base_url)
        monkeypatch.setenv("TEMPO_TOKEN", "tok-123")
        monkeypatch.setenv("TEMPO_HEADERS", "X-Team=llm ops,X-Route=a%2Cb")
        with open_trace_source("tempo") as src:
            src._now = lambda: LATER
            assert len(src.observations(*WINDOW)) == len(spans)
            assert str(src.cache_dir).endswith("tempo")
        r = d.requests[0]
        assert r.headers["authorization"] == "Bearer tok-123"
        assert (r.headers["x-team"], r.headers["x-route"]) == ("llm ops", "a,b")
        assert "x-scope-orgid" not in r.headers


@pytest.mark.parametrize("env,message", [
    ({}, "set TEMPO_URL"),
    ({"TEMPO_URL": "tempo:3200"}, "must be an http"),
    ({"TEMPO_URL": "http://t", "TEMPO_USERNAME": "u"}, "TEMPO_PASSWORD is not"),
    ({"TEMPO_URL": "http://t", "TEMPO_PASSWORD": "p"}, "TEMPO_USERNAME is not"),
    ({"TEMPO_URL": "http://t", "TEMPO_USERNAME": "u", "TEMPO_PASSWORD": "p",
      "TEMPO_TOKEN": "t"}, "not both"),
    ({"TEMPO_URL": "http://t", "TEMPO_HEADERS": "novalue"}, "not Name=value"),
    ({"TEMPO_URL": "http://t", "TEMPO_HEADERS": "{bad json"}, "not valid JSON"),
    ({"TEMPO_URL": "http://t", "TEMPO_HEADERS": "Authorization=x"}, "may not set"),
    ({"TEMPO_URL": "http://t", "TEMPO_HEADERS": "X-Scope-OrgID=x"}, "may not set"),
    ({"TEMPO_URL": "http://t", "TEMPO_ORG_ID": " "}, "TEMPO_ORG_ID must be"),
])
def test_bad_configuration_names_the_variable(monkeypatch, env, message):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError, match=message):
        get_source("tempo")


def test_refused_credentials_name_the_variables_not_the_secret(spans):
    with TempoDouble(spans, token="right") as d:
        src = TempoSource(d.base_url, token="wrong-secret-value", progress=False)
        with pytest.raises(SourceAuthError) as err:
            src.observations(*WINDOW)
        assert "TEMPO_TOKEN" in str(err.value) and "wrong-secret-value" not in str(err.value)


def test_multi_tenant_tempo_without_org_id_is_an_auth_error(double):
    src = TempoSource(double.base_url, progress=False)
    with pytest.raises(SourceAuthError, match="no org id.*TEMPO_ORG_ID"):
        src.observations(*WINDOW)
    other = TempoSource(double.base_url, org_id="team-b", progress=False, now=lambda: LATER)
    assert other.observations(*WINDOW).empty  # another tenant sees nothing


def test_every_convention_maps_like_the_sdk_spans(double, spans):
    with double.source(now=lambda: LATER) as src:
        obs = src.observations(*WINDOW)
    same(obs, spans)
    # the OpenAI Agents SDK's root "Agent workflow" names every trace alike: its agent, Triage
    assert set(obs["agent"]) == {"support-bot", "research-agent", "checkout-bot",
                                 "Triage", "agents-logfire"}
    assert obs.attrs["tempo"]["costs_from_price_table"] == 7  # LLM calls without own cost
    assert obs.attrs["tempo"]["unpriced_models"] == {}


def test_search_ids_with_stripped_zeros_are_left_padded(double, spans):
    stripped = [t for t in double.trace_ids if t.startswith("0")]
    assert any(t.startswith("0000000000000000") for t in stripped)  # 64-bit ids
    assert any(len(t.lstrip("0")) == 31 for t in stripped)
    with double.source(now=lambda: LATER) as src:
        obs = src.observations(*WINDOW)
    assert set(obs["trace_id"]) == set(double.trace_ids)
    fetched = {r.path.rsplit("/", 1)[1] for r in double.requests_to("/api/v2/traces/")}
    assert fetched == set(double.trace_ids) and all(len(t) == 32 for t in fetched)
    answers = [r for r in double.requests_to("/api/search")]
    assert answers  # and the double did strip: see test_tempo_double.py
    with double.source() as src:
        one = src.trace(stripped[0].lstrip("0"))
    assert set(one["trace_id"]) == {stripped[0]}


def test_an_old_tempo_without_v2_is_read_through_v1(spans):
    with TempoDouble(spans, v2=False) as d, d.source(now=lambda: LATER) as src:
        same(src.observations(*WINDOW), spans)
        assert not [r for r in d.requests_to("/api/v2/traces/") if r.status == 200]
        assert len(d.requests_to("/api/traces/")) == len(d.trace_ids)
        assert src.tag_names() == {"all": sorted(src.tag_names()["all"])}
        assert "support-svc" in src.tag_values("resource.service.name")


def test_v1_can_be_chosen(double, spans):
    with double.source(trace_api="v1", now=lambda: LATER) as src:
        same(src.observations(*WINDOW), spans)
    assert not double.requests_to("/api/v2/traces/")


def test_long_windows_are_cut_to_the_servers_search_limit(spans):
    with TempoDouble(spans, max_search_s=2 * 3600) as d, \
            d.source(slice_s=6 * 3600, now=lambda: LATER) as src:
        obs = src.observations("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")
        same(obs, spans)
        assert src.max_search_s == 2 * 3600  # learnt from Tempo's 400
        searches = d.requests_to("/api/search")
        assert searches[0].status == 400
        ok = [r for r in searches if r.status == 200]
        assert ok and all(int(r.param("end")) - int(r.param("start")) <= 7200 for r in ok)
        assert incomplete_reason(obs) is None


def test_a_full_search_answer_is_split_not_truncated(double, spans):
    with double.source(search_limit=2, now=lambda: LATER) as src:
        obs = src.observations(*WINDOW)
        assert src.status()["search_splits"] > 0
    same(obs, spans)
    assert all(int(r.param("limit")) == 2 for r in double.requests_to("/api/search"))


def test_search_limit_reached_at_the_smallest_slice_is_marked(double):
    with double.source(search_limit=1, min_split_s=3600, now=lambda: LATER) as src:
        obs = src.observations(*WINDOW)
    assert "search limit of 1 traces reached" in incomplete_reason(obs)


def test_traces_lost_hidden_or_partial_are_marked_and_reconciled(double, spans):
    ids = double.trace_ids
    double.lose(ids[0])
    double.hide(ids[1])
    double.partial(ids[2], keep=1)
    with double.source(now=lambda: LATER) as src:
        obs = src.observations(*WINDOW)
        status = src.status()
    reason = incomplete_reason(obs)
    assert "not found by id" in reason
    assert "answered PARTIAL" in reason
    assert "fewer traces pulled than TraceQL metrics counts" in reason
    assert status["traces_not_found"] == 2 and status["traces_partial"] == 1
    assert status["reconciliation_shortfall"] == 2
    assert not set(obs["trace_id"]) & {ids[0], ids[1]}
    assert (obs["trace_id"] == ids[2]).sum() == 1  # what the partial answer held is kept


def test_closed_slices_are_cached_and_reread(spans, tmp_path):
    with TempoDouble(spans) as d:
        with d.source(cache_dir=tmp_path, now=lambda: LATER) as src:
            first = src.observations(*WINDOW)
        d.reset_log()
        with d.source(cache_dir=tmp_path, now=lambda: LATER) as src:
            again = src.observations(*WINDOW)
            scores = src.scores(*WINDOW)
            assert src.status()["slices_cached"] == 3
        assert not d.requests_to("/api/search") and not d.requests_to("/api/v2/traces/")
        pd.testing.assert_frame_equal(again, first)
        assert len(scores) == 1
        # a slice still open (ending less than settle_s ago) is pulled again, never cached
        d.reset_log()
        with d.source(cache_dir=tmp_path / "open",
                      now=lambda: pd.Timestamp("2026-11-02T12:05:00Z")) as src:
            src.observations(*WINDOW)
        with d.source(cache_dir=tmp_path / "open",
                      now=lambda: pd.Timestamp("2026-11-02T12:05:00Z")) as src:
            src.observations(*WINDOW)
            assert src.status()["slices_cached"] == 2


def test_a_slice_cache_written_before_reasoning_tokens_were_mapped_is_not_served(tmp_path,
                                                                                monkeypatch):
    """Version 3 cached canonical frames without reasoning_tokens and with Langfuse usage
    details' output counts short of their reasoning tokens."""
    from tests.otel_fixtures import reasoning
    from workbench.sources.tempo import _cache

    rec = Recorder()
    reasoning(rec)
    with TempoDouble(rec.spans) as d:
        monkeypatch.setattr(_cache, "CACHE_VERSION", 3)
        with d.source(cache_dir=tmp_path, now=lambda: LATER) as src:
            src.observations(*WINDOW)
        monkeypatch.undo()
        d.reset_log()
        with d.source(cache_dir=tmp_path, now=lambda: LATER) as src:
            got = src.observations(*WINDOW)
            assert src.status()["slices_cached"] == 0
        assert d.requests_to("/api/search")
    row = got.set_index("name").loc["reasoned-answer"]
    assert (row["output_tokens"], row["reasoning_tokens"]) == (1000, 900)


def test_span_links_come_with_the_pull_and_from_the_cache(tmp_path):
    rec = Recorder(5)
    linked(rec)
    by_name = {sp.name: sp for sp in rec.spans}
    job = by_name["batch"]
    want = sorted((format(job.context.trace_id, "032x"), format(job.context.span_id, "016x"),
                   format(by_name[n].context.trace_id, "032x"),
                   format(by_name[n].context.span_id, "016x")) for n in ("request a", "request b"))
    window = ("2026-11-02T09:00:00Z", "2026-11-02T12:00:00Z")
    with TempoDouble(rec.spans) as d:
        for attempt in ("pulled", "cached"):
            d.reset_log()
            with d.source(cache_dir=tmp_path, now=lambda: LATER) as src:
                links = src.links(*window)
                n = len(d.requests)
                src.observations(*window)  # the same pull: no second request
                assert len(d.requests) == n
                assert (src.status()["slices_cached"] > 0) == (attempt == "cached")
            schema.validate(links, "links")
            assert sorted(map(tuple, links.to_numpy().tolist())) == want, attempt
        with d.source(now=lambda: LATER) as src:
            assert src.links("2026-11-03", "2026-11-04").empty


def test_one_pull_serves_observations_traces_and_scores(double):
    with double.source(now=lambda: LATER) as src:
        src.observations(*WINDOW)
        n = len(double.requests)
        src.traces(*WINDOW)
        sc = src.scores(*WINDOW)
        assert len(double.requests) == n
    assert sc["name"].tolist() == ["groundedness"] and sc["value"].tolist() == [0.25]


def test_a_later_call_pulls_again(double, monkeypatch, spans):
    from workbench.sources.tempo import _source

    with double.source(now=lambda: LATER) as src:
        src.observations(*WINDOW)
        n = len(double.requests)
        monkeypatch.setattr(_source, "MEMO_S", 0.0)
        assert len(src.observations(*WINDOW)) == len(spans)
        assert len(double.requests) > n


def test_filters_push_traceql_down_and_select_locally(double):
    with double.source(now=lambda: LATER) as src:
        rag = src.observations(*WINDOW, q='{ resource.service.name = "research-svc" }')
        assert set(rag["agent"]) == {"research-agent"} and len(rag) == 5
        q = double.requests_to("/api/search")[-1].param("q")
        assert q == '{ resource.service.name = "research-svc" }'
        gens = src.observations(*WINDOW, type="generation", model=["gpt-4o", "gpt-4.1"])
        assert set(gens["model"]) == {"gpt-4o", "gpt-4.1"}
        with pytest.raises(ConfigError, match="unknown observation filter"):
            src.observations(*WINDOW, colour="red")
        with pytest.raises(SourceQueryError, match="invalid TraceQL query"):
            src.observations(*WINDOW, q="{ resource.service.name = }")


def test_tag_names_and_values(double):
    with double.source() as src:
        names = src.tag_names()
        assert "service.name" in names["resource"] and "gen_ai.request.model" in names["span"]
        assert "duration" in names["intrinsic"]
        assert src.tag_names("span").keys() == {"span"}
        models = src.tag_values("span.gen_ai.request.model")
        assert {"gpt-4o", "gpt-4o-mini"} <= set(models)
        tokens = src.tag_values("span.gen_ai.usage.input_tokens")
        assert 1200 in tokens and all(isinstance(t, int) for t in tokens)


def test_health_and_a_missing_trace(double):
    with double.source() as src:
        assert src.health() == "echo"
        with pytest.raises(SourceQueryError, match="not found"):
            src.trace("ab" * 16)
        with pytest.raises(ValueError, match="trace id"):
            src.trace("not-an-id")


def test_search_frame(double):
    with double.source() as src:
        found = src.search(*WINDOW)
    assert sorted(found["trace_id"]) == double.trace_ids
    assert found["start_time"].is_monotonic_increasing
    assert found["start_time"].min() == T0
    assert "support-svc" in set(found["root_service"])


@pytest.mark.parametrize("kwargs,message", [
    (dict(trace_api="v3"), "trace_api"), (dict(concurrency=0), "positive"),
    (dict(timeout_s=60), "timeout_s"),
])
def test_bad_arguments_are_named(double, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        double.source(**kwargs)
    with double.source() as src, pytest.raises(ConfigError, match="empty window"):
        src.observations(WINDOW[1], WINDOW[0])


def test_cli_without_tempo_url_is_bad_input(capsys):
    from workbench.cli import EXIT_BAD_INPUT, main

    assert main(["report", "daily", "--date", "2026-11-02", "--source", "tempo"]) == \
        EXIT_BAD_INPUT
    assert "set TEMPO_URL" in capsys.readouterr().err


def test_a_dead_tempo_degrades_the_report_and_says_why(monkeypatch):
    from prometheus_server import free_port
    from workbench.reports import daily

    port = free_port()
    monkeypatch.setenv("TEMPO_URL", f"http://127.0.0.1:{port}")
    rep = daily.build("2026-11-02", "tempo", None, days=1, alert_days=1, prometheus=False)
    status = rep.source.to_dict()
    assert status["status"] == "degraded"
    assert "unreachable: SourceUnavailable" in status["reason"] and str(port) in status["reason"]
