"""PromQL checked by Prometheus's own parser (promtool and a REAL server), and the source's
requests bounded by the run's deadline against a server that drips its answer."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from prometheus_server import PrometheusServer, free_port, require_binaries

from workbench import runbooks
from workbench.deadline import Deadline
from workbench.errors import SourceTimeout
from workbench.sources import _promql_check
from workbench.sources.prometheus import PrometheusSource

pytestmark = pytest.mark.prometheus

GOOD = {
    "plain": "up",
    "matchers": 'api_requests_total{agent_id=~"tool.*", status!="ok"}',
    "name matcher": '{__name__="up"}',
    "subquery": "max_over_time(rate(x[5m])[1h:5m])",
    "vector matching": "sum by (a) (x) / on (a) group_left (b) y",
    "offset and at": "x offset 5m @ 1609746000",
    "unary and scalars": "-x + 1 * 2 ^ 3",
    "string literal": '"just a string"',
    "histogram": "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
    "comment": "# a comment\nup",
    "quotes inside": 'x{path="/a(b]"}',
    "aggregation after": "sum(rate(x[5m])) by (agent_id)",
    "named empty matcher set": "x{}",
}
BAD = {
    "unclosed call": "sum(",
    "bad duration": "rate(x[5x])",
    "unknown function": "frobnicate(x)",
    "unclosed matcher": 'x{a="b"',
    "grouping": "sum by (a (x)",
    "unclosed range": "x[5m",
    "unterminated string": "x{a='b}",
    "dangling operator": "x +",
    "stray paren": "x)",
    "range expected": "rate(x)",
    "empty matcher set": "{}",
    "empty": "   ",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("prom-empty")
    with PrometheusServer(root / "tsdb", root) as srv:
        yield srv


@pytest.fixture(scope="module")
def promtool():
    return require_binaries()[1]


def runbook_queries():
    return {f"{rb.name}.{n}": e for rb in runbooks.load_all().values()
            for n, e in rb.prometheus.items()}


def test_promtool_and_the_server_agree_on_every_expression(server, promtool):
    exprs = {**GOOD, **BAD, **runbook_queries()}
    exprs.pop("empty")  # a blank rule is a YAML-level error in promtool, not a parse verdict
    with PrometheusSource(server.url) as src:
        by_server = src.parse_problems(exprs)
    by_promtool = _promql_check.promtool_problems(exprs, promtool)
    assert by_server is not None and by_promtool is not None
    assert set(by_server) == set(by_promtool) == set(BAD) - {"empty"}
    assert "parse error" in by_server["bad duration"]


def test_the_shape_check_never_rejects_what_prometheus_accepts():
    for name, expr in {**GOOD, **runbook_queries()}.items():
        assert _promql_check.shape_problem(expr) is None, name
    caught = {n for n, e in BAD.items() if _promql_check.shape_problem(e)}
    assert caught == {"unclosed call", "unclosed matcher", "grouping", "unclosed range",
                      "unterminated string", "stray paren", "empty"}


def test_problems_uses_the_server_then_promtool_and_names_each_bad_query(server, promtool):
    exprs = {**GOOD, **BAD}
    with PrometheusSource(server.url) as src:
        assert set(_promql_check.problems(exprs, src)) == set(BAD)
    assert set(_promql_check.problems(exprs)) == set(BAD)  # promtool on PATH
    with PrometheusSource(f"http://127.0.0.1:{free_port()}", retries=0) as down:
        assert down.parse_problems(exprs) is None  # no verdict from a server that is not there
        assert set(_promql_check.problems(exprs, down)) == set(BAD)


def test_the_runbooks_shipped_parse(server):
    with PrometheusSource(server.url) as src:
        assert src.parse_problems(runbook_queries()) == {}


class _DripServer:
    """Accepts, reads the request, then sends an HTTP answer one byte every ``every_s``."""

    def __init__(self, every_s: float = 0.2) -> None:
        self.every_s = every_s
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.sent = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
        answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                  + str(len(body)).encode() + b"\r\n\r\n" + body)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                for i in range(len(answer)):
                    try:
                        conn.sendall(answer[i:i + 1])
                    except OSError:
                        break
                    self.sent += 1
                    time.sleep(self.every_s)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("call", ["query", "query_range"])
def test_a_dripping_prometheus_cannot_hold_a_query_past_the_deadline(call):
    drip = _DripServer(every_s=0.2)  # ~30 s for the whole answer; no single read waits long
    try:
        with PrometheusSource(drip.url, timeout=5.0) as src, Deadline.after(1.5).active():
            started = time.monotonic()
            with pytest.raises(SourceTimeout, match="deadline passed"):
                if call == "query":
                    src.query("up")
                else:
                    src.query_range("up", "2026-11-02", "2026-11-02T01:00")
            assert time.monotonic() - started < 5.0
        assert drip.sent < 40
    finally:
        drip.close()
