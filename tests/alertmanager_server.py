"""A real Alertmanager for tests, and the webhook receiver it (or a sink) posts to.

``require_alertmanager()`` skips a test when ``prometheus-alertmanager`` is missing, but fails it
when ``CI=true``: a test that needs the real server must run in CI, never be skipped there.

:class:`AlertmanagerServer` runs the Debian binary on a free 127.0.0.1 port with clustering off,
a private storage dir, basic auth (:data:`USERNAME`/:data:`PASSWORD`) and a route sending every
alert, grouped by ``test`` and ``alertname``, to a :class:`Receiver` the test owns.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from server_process import ServerProcess, free_port, require

__all__ = ["PASSWORD", "USERNAME", "AlertmanagerServer", "Receiver", "Request", "poll",
           "require_alertmanager"]

#: Basic-auth credentials the test server accepts; the hash below is bcrypt (cost 4) of PASSWORD.
USERNAME = "workbench-test"
PASSWORD = "s3cret-test-pass"
_PASSWORD_BCRYPT = "$2b$04$o/s3iYcqbiQE94B.t8IIX.Mfqmagzhxd0ZbByRAV3TKxo4FbTT9ry"


def require_alertmanager() -> str:
    """Path of ``prometheus-alertmanager``; skip (locally) or fail (CI) without it."""
    found = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    return found or require(["prometheus-alertmanager"], "prometheus-alertmanager")[0]


def poll(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1,
         what: str = "condition") -> Any:
    """``check()``'s first truthy result, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not met within {timeout} s (last: {result!r})")
        time.sleep(interval)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """A local HTTP receiver recording every POST (JSON decoded when it is JSON).

    ``script`` is a list of ``(status, body, headers)`` answers used in order, one per request;
    once it is used up every request gets 200. ``delay_s`` delays each answer.
    """

    script: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    delay_s: float = 0.0
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        recv = self
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                with recv._lock:
                    recv.requests.append(Request("POST", self.path, dict(self.headers), body))
                    status, text, headers = (recv.script.pop(0) if recv.script
                                             else (200, "ok", {}))
                time.sleep(recv.delay_s)
                data = text.encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first, as a time-out test wants

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    def posts(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _config(receiver_url: str) -> str:
    return f"""\
route:
  receiver: test-hook
  group_by: [test, alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test-hook
    webhook_configs:
      - url: {receiver_url}/alertmanager
        send_resolved: true
"""


class AlertmanagerServer(ServerProcess):
    """``prometheus-alertmanager`` on 127.0.0.1 (``port`` or a free one); a context manager."""

    name = "alertmanager"

    def __init__(self, workdir: Path, receiver_url: str, port: int | None = None) -> None:
        super().__init__(workdir)
        self.receiver_url = receiver_url
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sink_url = f"alertmanager+{self.url}"

    def start(self, ready_timeout: float = 30.0) -> AlertmanagerServer:
        binary = require_alertmanager()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "alertmanager.yml"
        config.write_text(_config(self.receiver_url))
        web = self.workdir / "web.yml"
        web.write_text(f"basic_auth_users:\n  {USERNAME}: '{_PASSWORD_BCRYPT}'\n")
        self._spawn([binary, f"--config.file={config}", f"--web.config.file={web}",
                     f"--storage.path={self.workdir / 'data'}",
                     f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
                    ready=lambda: self.get("/-/ready", parse=False) == "OK",
                    timeout=ready_timeout)
        return self

    def get(self, path: str, params: list[tuple[str, str]] | None = None, *,
            parse: bool = True) -> Any:
        """GET ``path`` with the test credentials; decoded JSON (or text with parse=False)."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        req = urllib.request.Request(f"{self.url}{path}{query}")
        pair = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        req.add_header("Authorization", f"Basic {pair}")
        with urllib.request.urlopen(req, timeout=5) as resp:
            text = resp.read().decode()
        return json.loads(text) if parse else text.strip()

    def alerts(self, *matchers: str, **filters: bool) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts`` with ``filter[]`` matchers (``'test="x"'``) and flags."""
        params = [("filter", m) for m in matchers]
        params += [(k, str(v).lower()) for k, v in filters.items()]
        return self.get("/api/v2/alerts", params)


