"""The Prometheus source without a server: range planning, settings, result frames, and the
translation of every upstream error. The real server is exercised in test_prometheus_server.py."""


import numpy as np
import pandas as pd
import httpx
import pytest

from workbench import schema
from workbench.errors import (
    ConfigError,
    SourceAuthError,
    SourceQueryError,
    SourceTimeout,
    SourceUnavailable,
)
from workbench.sources import get_source
from workbench.sources._prom_config import PrometheusSettings, parse_headers, safe_host
from workbench.deadline import DeadlineExceeded
from workbench.sources._prom_errors import translate
from workbench.sources._prom_http import PromHTTPError
from workbench.sources._prom_frames import result_to_frame
from workbench.sources._promql_range import (
    MAX_POINTS,
    choose_step,
    parse_step,
    plan_chunks,
    to_epoch_s,
)
from workbench.sources.prometheus import PrometheusSource

T0 = 1_793_577_600  # 2026-11-02T00:00:00Z


def _grid(chunks):
    return np.concatenate([np.arange(c.start, c.end + 1, c.step) for c in chunks])


# -- range planning ------------------------------------------------------------------------------

def test_exactly_11000_intervals_is_one_request_and_one_more_splits():
    one = plan_chunks(T0, T0 + 11_000 * 15, 15)
    assert len(one) == 1 and one[0].points == 11_001
    two = plan_chunks(T0, T0 + 11_001 * 15, 15)
    assert [c.points for c in two] == [11_001, 1]
    assert two[1].start == two[0].end + 15


@pytest.mark.parametrize("seconds,step,max_points", [
    (30 * 86400, 15, MAX_POINTS), (86400 + 7, 10, 1000), (12345, 1, 997), (3 * 86400 + 59, 60, 11),
])
def test_chunks_cover_the_step_grid_without_gaps_or_duplicates(seconds, step, max_points):
    start = T0 + 0.4  # rounded up to a whole second: the client sends whole seconds
    chunks = plan_chunks(start, start + seconds, step, max_points)
    grid = _grid(chunks)
    expected = np.arange(T0 + 1, T0 + 1 + seconds + 1, step)
    expected = expected[expected <= start + seconds]
    np.testing.assert_array_equal(grid, expected)
    assert all((c.end - c.start) // c.step <= max_points - 1 for c in chunks)
    assert all(c.points <= max_points for c in chunks)


def test_empty_and_reversed_windows():
    assert plan_chunks(T0 + 0.2, T0 + 0.9, 15) == []
    with pytest.raises(ConfigError, match="before start"):
        plan_chunks(T0 + 10, T0, 15)


@pytest.mark.parametrize("window,step", [(86400, 30), (7 * 86400, 300), (3600, 1),
                                         (30 * 86400, 600)])
def test_chosen_step_is_readable_and_keeps_points_in_range(window, step):
    assert choose_step(T0, T0 + window) == step
    points = window // step + 1
    assert 1000 <= points <= 5000


@pytest.mark.parametrize("text,seconds", [("15s", 15), ("5m", 300), ("1h", 3600), (30, 30),
                                          (60.0, 60), (pd.Timedelta("2min"), 120), ("90", 90)])
def test_parse_step(text, seconds):
    assert parse_step(text) == seconds


@pytest.mark.parametrize("bad", ["0s", -5, "1.5", "soon", 0.5, None])
def test_bad_steps_are_named(bad):
    with pytest.raises(ConfigError, match="step"):
        parse_step(bad)


def test_epoch_seconds_of_every_kind_of_time():
    assert to_epoch_s(T0) == T0
    assert to_epoch_s("2026-11-02") == T0
    assert to_epoch_s(pd.Timestamp("2026-11-02T01:00", tz="Europe/Paris")) == T0
    with pytest.raises(ConfigError, match="timestamp"):
        to_epoch_s("yesterday-ish")


# -- settings from the environment ---------------------------------------------------------------

def test_missing_url_names_the_variable():
    with pytest.raises(ConfigError, match="PROMETHEUS_URL"):
        PrometheusSource()


def test_registered_as_prometheus(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", "http://prom.example:9090/")
    src = get_source("prometheus")
    assert isinstance(src, PrometheusSource)
    assert src.host == "http://prom.example:9090"


def test_credentials_and_headers_from_the_environment(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", "https://prom.example")
    monkeypatch.setenv("PROMETHEUS_USERNAME", "alice")
    monkeypatch.setenv("PROMETHEUS_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("PROMETHEUS_TOKEN", "tok-123")
    monkeypatch.setenv("PROMETHEUS_HEADERS", "X-Scope-OrgID=team-a, X-Extra = 1")
    s = PrometheusSettings.resolve()
    assert s.auth == ("alice", "s3cret-pw")
    assert s.headers == {"X-Scope-OrgID": "team-a", "X-Extra": "1",
                         "Authorization": "Bearer tok-123"}
    src = PrometheusSource()
    assert "s3cret" not in repr(src) and "tok-123" not in repr(src)
    assert "s3cret" not in repr(s) and "tok-123" not in repr(s)


def test_headers_as_json():
    assert parse_headers('{"X-Scope-OrgID": "team-a", "X-N": 2}') == {
        "X-Scope-OrgID": "team-a", "X-N": "2"}


@pytest.mark.parametrize("bad", ["novalue", '{"a": ', '["x"]', "=v"])
def test_bad_headers_name_the_variable_not_the_value(monkeypatch, bad):
    monkeypatch.setenv("PROMETHEUS_URL", "http://prom.example")
    monkeypatch.setenv("PROMETHEUS_HEADERS", bad)
    with pytest.raises(ConfigError, match="PROMETHEUS_HEADERS") as err:
        PrometheusSettings.resolve()
    assert bad not in str(err.value) or len(bad) <= 2


def test_half_basic_auth_is_refused(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", "http://prom.example")
    monkeypatch.setenv("PROMETHEUS_USERNAME", "alice")
    with pytest.raises(ConfigError, match="PROMETHEUS_PASSWORD"):
        PrometheusSettings.resolve()


@pytest.mark.parametrize("url", ["http://bob:pw@prom.example", "ftp://prom.example", "prom:9090"])
def test_unusable_urls(url):
    with pytest.raises(ConfigError) as err:
        PrometheusSource(url)
    assert "pw" not in str(err.value)


def test_safe_host_drops_user_info_and_path():
    assert safe_host("https://u:p@h.example:8443/prom/api?x=1") == "https://h.example:8443"


@pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"timeout": 30}, {"retries": -1},
                                    {"max_workers": 0}, {"max_points": 11_002}])
def test_out_of_range_options(kwargs):
    with pytest.raises(ConfigError):
        PrometheusSource("http://prom.example", **kwargs)


# -- result frames -------------------------------------------------------------------------------

def test_matrix_becomes_tidy_rows_with_a_column_per_label():
    result = [
        {"metric": {"__name__": "up", "job": "a"}, "values": [[T0, "1"], [T0 + 15, "NaN"]]},
        {"metric": {"__name__": "up", "instance": "i"}, "values": [[T0, "+Inf"]]},
    ]
    f = result_to_frame(result, "up")
    schema.validate(f, "metrics")
    assert list(f.columns) == ["timestamp", "metric", "value", "instance", "job"]
    assert f["metric"].tolist() == ["up", "up", "up"]
    assert np.isnan(f["value"][1]) and f["value"][2] == np.inf
    assert f["job"].isna().tolist() == [False, False, True]
    assert f["timestamp"][1] == pd.Timestamp(T0 + 15, unit="s", tz="UTC")


def test_alias_name_and_nameless_aggregations():
    result = [{"metric": {"agent_id": "x"}, "value": [T0, "-Inf"]}]
    assert result_to_frame(result, "sum(x)", name="cost")["metric"].tolist() == ["cost"]
    f = result_to_frame(result, "sum(x)")
    assert f["metric"].tolist() == ["sum(x)"] and f["value"][0] == -np.inf


def test_scalar_is_one_row_and_string_is_refused():
    f = result_to_frame([T0, "0.25"], "scalar(x)", name="s")
    assert len(f) == 1 and f["value"][0] == 0.25 and f["metric"][0] == "s"
    with pytest.raises(SourceQueryError, match="string"):
        result_to_frame([T0, "hello"], '"hello"')


def test_empty_result_is_the_empty_canonical_frame():
    f = result_to_frame([], "nothing")
    assert f.empty and list(f.columns) == schema.columns("metrics")
    schema.validate(f, "metrics")


# -- every upstream error maps -------------------------------------------------------------------

def _http(status, body):
    return PromHTTPError(status, body.decode())


BAD_DATA = (b'{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\": '
            b'1:5: parse error: unexpected end of input"}')


@pytest.mark.parametrize("exc,kind,text", [
    (_http(400, BAD_DATA), SourceQueryError, BAD_DATA.decode()),
    (_http(422, b'{"status":"error","errorType":"execution","error":"many-to-many"}'),
     SourceQueryError, "many-to-many"),
    (_http(401, b"Unauthorized"), SourceAuthError, "PROMETHEUS_TOKEN"),
    (_http(403, b"Forbidden"), SourceAuthError, "HTTP 403"),
    (_http(503, b'{"status":"error","errorType":"timeout","error":"query timed out"}'),
     SourceTimeout, "query timed out"),
    (_http(500, b"boom"), SourceUnavailable, "HTTP 500"),
    (_http(429, b"slow down"), SourceUnavailable, "HTTP 429"),
    (httpx.ConnectTimeout("x"), SourceTimeout, "within 10 s"),
    (httpx.ReadTimeout("x"), SourceTimeout, "within 10 s"),
    (DeadlineExceeded("x"), SourceTimeout, "the run's deadline passed"),
    (httpx.ConnectError("[Errno 111] Connection refused"), SourceUnavailable,
     "connection refused"),
    (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
     SourceUnavailable, "TLS handshake failed"),
    (httpx.ConnectError("[Errno -2] Name or service not known"), SourceUnavailable,
     "name not resolved"),
    (httpx.RemoteProtocolError("Server disconnected"), SourceUnavailable,
     "RemoteProtocolError"),
    (ValueError("Expecting value"), SourceUnavailable, "JSON envelope"),
    (KeyError("data"), SourceUnavailable, "JSON envelope"),
])
def test_each_upstream_error_maps(exc, kind, text):
    err = translate(exc, "http://prom.example:9090", "up", 10.0)
    assert type(err) is kind
    assert text in str(err)
    if kind is not ConfigError:
        assert err.source == "prometheus" and err.query == "up"


def test_invalid_url_is_a_config_error():
    err = translate(httpx.UnsupportedProtocol("x"), "http://h", "up", 10.0)
    assert isinstance(err, ConfigError)
