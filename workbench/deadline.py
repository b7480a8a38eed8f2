"""Wall-clock deadlines for every wait of a run, and an httpx transport that enforces them.

httpx time-outs bound each *read*: a server that sends one byte every two seconds never trips a
five-second read time-out and holds a run forever. A :class:`Deadline` is one point in (monotonic)
time shared by every request, retry and back-off of a run; :class:`DeadlineTransport` wraps an
httpx transport so that no request -- connect, request body, status line, headers and response
body alike -- runs past the deadline active for it::

    deadline = Deadline.after(300)                      # the whole report
    client = httpx.Client(transport=DeadlineTransport())
    with deadline.active():
        client.get(url, timeout=deadline.timeout(10))   # <= 10 s and never past the deadline

The active deadline is a context variable, so clients built by other libraries (the Langfuse SDK,
``requests``-free httpx users) obey it without being told: they only need the transport. Context
variables do not follow work handed to a thread pool by themselves: submit
``contextvars.copy_context().run`` (see :func:`in_context`) so worker threads see the deadline.

A run that spans processes (the report command and its notebook kernel) hands its deadline over
as a wall-clock time in the environment: :meth:`Deadline.export_env` in the parent,
:meth:`Deadline.from_env` in the child.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpcore
import httpx

__all__ = ["ENV_DEADLINE", "Deadline", "DeadlineExceeded", "DeadlineTransport",
           "active_deadline", "in_context"]

#: Environment variable carrying a run's deadline to child processes: Unix time in seconds.
ENV_DEADLINE = "WORKBENCH_DEADLINE_AT"

_T = TypeVar("_T")

_ACTIVE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "workbench_deadline", default=None)


class DeadlineExceeded(httpx.TimeoutException):
    """The run's wall-clock deadline passed while a request was being sent or read.

    A subclass of :class:`httpx.TimeoutException`, so code that already handles httpx
    time-outs handles it too.
    """


class Deadline:
    """A point in time after which nothing more may be waited for.

    ``Deadline(None)`` never expires (for library use without a budget); every other deadline is
    ``seconds`` from its creation on the monotonic clock. :meth:`within` gives a child that ends
    no later than its parent, so a per-call budget never outlives the run's.
    """

    def __init__(self, seconds: float | None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if seconds is not None and not seconds >= 0:
            raise ValueError(f"deadline seconds must be >= 0 or None, got {seconds!r}")
        self._clock = clock
        self.seconds = seconds
        self.at = math.inf if seconds is None else clock() + seconds

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(seconds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Deadline | None:
        """The deadline a parent process exported (:meth:`export_env`); None when there is none.

        A malformed value is ignored rather than trusted: a child never waits on a guess.
        """
        text = (os.environ if env is None else env).get(ENV_DEADLINE, "").strip()
        try:
            at = float(text)
        except ValueError:
            return None
        if not math.isfinite(at):
            return None
        return cls(max(0.0, at - time.time()))

    def export_env(self) -> dict[str, str]:
        """``{ENV_DEADLINE: unix time}`` for a child process's environment ({} if unbounded)."""
        if math.isinf(self.at):
            return {}
        return {ENV_DEADLINE: f"{time.time() + self.remaining():.3f}"}

    def __repr__(self) -> str:
        left = self.remaining()
        return f"Deadline({'never' if math.isinf(left) else f'{left:.1f} s left'})"

    def remaining(self) -> float:
        """Seconds left (``inf`` for a deadline that never expires, 0 once passed)."""
        return max(0.0, self.at - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def timeout(self, cap: float, floor: float = 0.05) -> float:
        """A per-request time-out: ``cap``, shortened to what is left (at least ``floor``)."""
        return max(floor, min(cap, self.remaining()))

    def within(self, seconds: float | None) -> Deadline:
        """A deadline ``seconds`` from now, but no later than this one."""
        child = Deadline(seconds, clock=self._clock)
        child.at = min(child.at, self.at)
        return child

    @contextlib.contextmanager
    def active(self) -> Iterator[Deadline]:
        """Make this the deadline :class:`DeadlineTransport` enforces in this context."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)


def active_deadline() -> Deadline | None:
    """The deadline set by the innermost :meth:`Deadline.active`, if any."""
    return _ACTIVE.get()


def in_context(fn: Callable[..., _T]) -> Callable[..., _T]:
    """``fn`` bound to a copy of the caller's context (its active deadline included), for
    handing to a thread pool: ``pool.submit(in_context(fetch), chunk)``."""
    ctx = contextvars.copy_context()

    def run(*args: Any, **kwargs: Any) -> _T:
        return ctx.copy().run(fn, *args, **kwargs)

    return run


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
