"""The httpx side of :mod:`workbench.deadline`: :class:`DeadlineTransport`, which keeps every
request (connect, request body, status line, headers and response body) within the active
:class:`~workbench.deadline.Deadline`, and :class:`DeadlineExceeded`, what it raises.

Both are reached as ``workbench.deadline.DeadlineTransport`` and
``workbench.deadline.DeadlineExceeded``; they live here so that importing the deadline itself
does not import httpx.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx

from workbench.deadline import Deadline, active_deadline

__all__ = ["DeadlineExceeded", "DeadlineTransport"]


class DeadlineExceeded(httpx.TimeoutException):
    """The run's wall-clock deadline passed while a request was being sent or read.

    A subclass of :class:`httpx.TimeoutException`, so code that already handles httpx
    time-outs handles it too.
    """


def _cut(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` shortened to what the active deadline leaves; ``expired`` raised once it is
    gone. Every socket wait of a request goes through here, so no single read can outlast it."""
    deadline = active_deadline()
    if deadline is None or math.isinf(deadline.at):
        return timeout
    left = deadline.remaining()
    if left <= 0.0:
        raise expired("deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake is cut at the active deadline:
    a server dripping its status line or headers one byte at a time is abandoned on time."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _cut(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _cut(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(
            ssl_context, server_hostname, _cut(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend with every connection made a :class:`_DeadlineStream`."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None
                    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(
            host, port, _cut(timeout, httpcore.ConnectTimeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(
            path, _cut(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _bound_sockets(transport: httpx.BaseTransport) -> bool:
    """Put :class:`_DeadlineBackend` under ``transport``'s connection pool; False when the
    transport has no httpcore pool to reach (a mock, a custom transport)."""
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(backend, httpcore.NetworkBackend):
        return False
    if not isinstance(backend, _DeadlineBackend):
        pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return True


class _BoundedStream(httpx.SyncByteStream):
    """A response body that raises :class:`DeadlineExceeded` once the deadline passes."""

    def __init__(self, stream: httpx.SyncByteStream, deadline: Deadline,
                 request: httpx.Request) -> None:
        self._stream = stream
        self._deadline = deadline
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._stream)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except httpx.TimeoutException as exc:
                if self._deadline.expired and not isinstance(exc, DeadlineExceeded):
                    raise DeadlineExceeded("deadline passed while reading the response body",
                                           request=self._request) from exc
                raise
            if self._deadline.expired:
                raise DeadlineExceeded("deadline passed while reading the response body",
                                       request=self._request)
            yield chunk

    def close(self) -> None:
        self._stream.close()


class DeadlineTransport(httpx.BaseTransport):
    """An httpx transport that enforces the active :class:`Deadline` on every request.

    Before sending, an expired deadline fails at once; every socket wait (connect, each write,
    each read of the status line, headers and body) is cut to what is left, so a slow-drip
    server cannot hold a request past the deadline; the body is also abandoned between chunks
    as soon as the deadline passes. A time-out caused by the deadline is raised as
    :class:`DeadlineExceeded`.

    The socket-level bound needs httpx's own transport underneath (the default); another inner
    transport is bounded per read and between body chunks only.
    """

    def __init__(self, inner: httpx.BaseTransport | None = None, **transport_kwargs) -> None:
        self._inner = inner or httpx.HTTPTransport(**transport_kwargs)
        self.bounds_sockets = _bound_sockets(self._inner)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = active_deadline()
        if deadline is None or math.isinf(deadline.at):
            return self._inner.handle_request(request)
        if deadline.expired:
            raise DeadlineExceeded("deadline passed before the request was sent",
                                   request=request)
        left = deadline.remaining()
        timeouts = dict(request.extensions.get("timeout") or {})
        for key in ("connect", "read", "write", "pool"):
            value = timeouts.get(key)
            timeouts[key] = left if value is None else min(value, left)
        request.extensions["timeout"] = timeouts
        try:
            response = self._inner.handle_request(request)
        except httpx.TimeoutException as exc:
            if deadline.expired and not isinstance(exc, DeadlineExceeded):
                raise DeadlineExceeded(f"deadline passed while waiting for the server "
                                       f"({type(exc).__name__})", request=request) from exc
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _BoundedStream(response.stream, deadline, request)
        return response

    def close(self) -> None:
        self._inner.close()
