"""What the HTTP contract doubles share: a server on 127.0.0.1 in a thread of its own, a log of
every request, a queue of faults for the next matching requests, and a fixed latency per request.

Each double subclasses :class:`ServedDouble` and :class:`RecordingHandler` and adds its routes,
its own faults and the answers its real server gives to them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, bytes, str, dict[str, str]]  # status, body, content type, headers


@dataclass
class RequestRecord:
    """One request as the double saw it (params keep every repeated value)."""

    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    status: int = 0
    started: float = 0.0
    finished: float = 0.0
    nbytes: int = 0

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None


@dataclass
class Fault:
    kind: str
    remaining: int
    path: str | None
    options: dict[str, Any] = field(default_factory=dict)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that gave up (timeouts) close the socket mid-reply; that is expected here."""


class RecordingHandler(BaseHTTPRequestHandler):
    """Logs each GET in the double's ``requests``, waits its ``latency_s``, sends what
    :meth:`route` answers."""

    double: Any
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle's algorithm on, the body waits for the
    # client's delayed ACK (some 40 ms a request on a kept-alive connection), which no server
    # in front of Langfuse or Tempo adds. Latency is what ``latency_s`` and the faults say.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the double keeps its own request log."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        d = self.double
        parts = urlsplit(self.path)
        rec = RequestRecord("GET", parts.path, parse_qs(parts.query, keep_blank_values=True),
                            {k.lower(): v for k, v in self.headers.items()},
                            started=time.monotonic())
        with d._lock:
            d.requests.append(rec)
        if d.latency_s:
            time.sleep(d.latency_s)
        status, body, ctype, headers = self.route(rec)
        rec.status, rec.nbytes = status, len(body)
        self._send(status, body, ctype, headers)
        rec.finished = time.monotonic()

    def route(self, rec: RequestRecord) -> Answer:
        raise NotImplementedError

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class ServedDouble:
    """Lifecycle, request log and fault queue of a double; use it as a context manager or call
    :meth:`start` / :meth:`stop`.

    Every switch queues a fault for the next ``times`` requests whose path matches its ``path``
    (any path when None), after letting the first ``after`` of them through.
    """

    handler: ClassVar[type[RecordingHandler]]
    #: how a fault's or :meth:`requests_to`'s path selects requests: equal, or a prefix
    path_is_prefix: ClassVar[bool] = False
    thread_name: ClassVar[str] = "double"

    def _init_served(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.requests: list[RequestRecord] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # ---- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Any:
        handler = type("Handler", (self.handler,), {"double": self})
        self._server = QuietServer(("127.0.0.1", 0), handler)
        # polled every 50 ms, not 0.5 s: stop() waits for the loop to notice
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                         name=self.thread_name).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the double first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ---- switches --------------------------------------------------------------------------------

    def _add(self, kind: str, times: int, path: str | None, after: int, **options: Any) -> None:
        with self._lock:
            self._faults.append(Fault(kind, times, path, {"after": after, **options}))

    def server_error(self, times: int = 1, *, status: int = 500, path: str | None = None,
                     after: int = 0) -> None:
        self._add("5xx", times, path, after, status=status)

    def slow(self, times: int = 1, *, delay_s: float = 1.0, path: str | None = None,
             after: int = 0) -> None:
        """Hold the response for ``delay_s`` (beyond a client's timeout), then answer normally."""
        self._add("slow", times, path, after, delay_s=delay_s)

    def truncate(self, times: int = 1, *, path: str | None = None, after: int = 0) -> None:
        """Send only the first half of the body (a cut-off page)."""
        self._add("truncate", times, path, after)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _matches(self, wanted: str, path: str) -> bool:
        return path.startswith(wanted) if self.path_is_prefix else path == wanted

    def requests_to(self, path: str) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self.requests if self._matches(path, r.path)]

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if f.remaining > 0 and (f.path is None or self._matches(f.path, path)):
                    if f.options["after"] > 0:
                        f.options["after"] -= 1
                        continue
                    f.remaining -= 1
                    return f
        return None
