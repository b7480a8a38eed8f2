"""Deadlines bound whole requests, not single reads: a slow-drip server cannot hold a run."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from workbench.deadline import Deadline, DeadlineExceeded, DeadlineTransport, active_deadline


class _Drip(BaseHTTPRequestHandler):
    """Sends a 20-byte body one byte every 0.1 s (2 s in all); counts what it sent."""

    sent = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", "20")
        self.end_headers()
        for _ in range(20):
            try:
                self.wfile.write(b"x")
                self.wfile.flush()
            except OSError:
                return
            type(self).sent += 1
            time.sleep(0.1)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def drip_url():
    _Drip.sent = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_slow_drip_body_is_cut_at_the_deadline_though_every_read_is_fast(drip_url):
    client = httpx.Client(transport=DeadlineTransport(), timeout=5.0)
    with Deadline.after(0.5).active(), pytest.raises(DeadlineExceeded):
        client.get(drip_url)
    assert _Drip.sent < 20  # abandoned mid-body, not read to the end


def test_without_an_active_deadline_the_body_is_read_whole(drip_url):
    client = httpx.Client(transport=DeadlineTransport(), timeout=5.0)
    assert active_deadline() is None
    assert client.get(drip_url).content == b"x" * 20


def test_an_expired_deadline_fails_before_sending(drip_url):
    client = httpx.Client(transport=DeadlineTransport(), timeout=5.0)
    with Deadline.after(0).active(), pytest.raises(DeadlineExceeded, match="before the request"):
        client.get(drip_url)
    assert _Drip.sent == 0


def test_deadline_exceeded_is_an_httpx_timeout():
    assert issubclass(DeadlineExceeded, httpx.TimeoutException)


def test_timeouts_are_capped_by_what_is_left_and_children_end_with_their_parent():
    now = [100.0]
    parent = Deadline(10, clock=lambda: now[0])
    assert parent.timeout(4) == 4
    now[0] = 108.0
    assert parent.timeout(4) == pytest.approx(2)
    child = parent.within(60)
    assert child.remaining() == pytest.approx(2)
    now[0] = 111.0
    assert parent.expired and child.expired
    assert parent.timeout(4) == 0.05  # the floor: a request still gets a moment to fail cleanly
    assert Deadline(None).remaining() == float("inf")
    with pytest.raises(ValueError, match="seconds"):
        Deadline(-1)


class _HeaderDrip(BaseHTTPRequestHandler):
    """Answers with a status line and headers sent one byte every 0.05 s (about 6 s in all): no
    single read ever waits long, so only a bound on the whole request can stop it."""

    sent = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: " + b"a" * 120 + b"\r\n\r\nok"
        for byte in head:
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            type(self).sent += 1
            time.sleep(0.05)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def header_drip_url():
    _HeaderDrip.sent = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HeaderDrip)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_server_dripping_its_headers_is_cut_at_the_deadline(header_drip_url):
    transport = DeadlineTransport()
    assert transport.bounds_sockets
    client = httpx.Client(transport=transport, timeout=5.0)
    started = time.monotonic()
    with Deadline.after(0.5).active(), pytest.raises(DeadlineExceeded, match="ReadTimeout"):
        client.get(header_drip_url)
    elapsed = time.monotonic() - started
    assert elapsed < 3.0  # the drip takes ~6 s; cut at 0.5 s plus scheduling slack
    assert _HeaderDrip.sent < 60


def test_a_deadline_crosses_into_a_child_process_through_the_environment(monkeypatch):
    parent = Deadline.after(30)
    env = parent.export_env()
    child = Deadline.from_env(env)
    assert child is not None and 28 < child.remaining() <= 30.01
    assert Deadline(None).export_env() == {}
    assert Deadline.from_env({}) is None
    assert Deadline.from_env({"WORKBENCH_DEADLINE_AT": "soon"}) is None
    monkeypatch.setenv("WORKBENCH_DEADLINE_AT", f"{time.time() - 5:.3f}")
    assert Deadline.from_env().expired  # a deadline already past stays past


def test_worker_threads_see_the_deadline_only_through_in_context():
    from concurrent.futures import ThreadPoolExecutor

    from workbench.deadline import in_context

    with Deadline.after(9).active() as d, ThreadPoolExecutor(1) as pool:
        assert pool.submit(active_deadline).result() is None
        assert pool.submit(in_context(active_deadline)).result() is d
