"""Wall-clock deadlines for every wait of a run, and an httpx transport that enforces them.

httpx time-outs bound each *read*: a server that sends one byte every two seconds never trips a
five-second read time-out and holds a run forever. A :class:`Deadline` is one point in (monotonic)
time shared by every request, retry and back-off of a run; :class:`DeadlineTransport` wraps an
httpx transport so that no request, body included, runs past the deadline active for it::

    deadline = Deadline.after(300)                      # the whole report
    client = httpx.Client(transport=DeadlineTransport())
    with deadline.active():
        client.get(url, timeout=deadline.timeout(10))   # <= 10 s and never past the deadline

The active deadline is a context variable, so clients built by other libraries (the Langfuse SDK,
``requests``-free httpx users) obey it without being told: they only need the transport.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import time
from collections.abc import Callable, Iterator

import httpx

__all__ = ["Deadline", "DeadlineExceeded", "DeadlineTransport", "active_deadline"]

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


class _BoundedStream(httpx.SyncByteStream):
    """A response body that raises :class:`DeadlineExceeded` once the deadline passes."""

    def __init__(self, stream: httpx.SyncByteStream, deadline: Deadline,
                 request: httpx.Request) -> None:
        self._stream = stream
        self._deadline = deadline
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            if self._deadline.expired:
                raise DeadlineExceeded("deadline passed while reading the response body",
                                       request=self._request)
            yield chunk

    def close(self) -> None:
        self._stream.close()


class DeadlineTransport(httpx.BaseTransport):
    """An httpx transport that enforces the active :class:`Deadline` on every request.

    Before sending, an expired deadline fails at once; each read time-out is cut to what is
    left; the body is read in chunks and abandoned as soon as the deadline passes. A slow-drip
    server therefore holds a request at most one read past the deadline (each read is itself
    bounded by the shortened time-out).
    """

    def __init__(self, inner: httpx.BaseTransport | None = None, **transport_kwargs) -> None:
        self._inner = inner or httpx.HTTPTransport(**transport_kwargs)

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
        response = self._inner.handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _BoundedStream(response.stream, deadline, request)
        return response

    def close(self) -> None:
        self._inner.close()
