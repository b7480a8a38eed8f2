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
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from workbench.deadline_transport import DeadlineExceeded, DeadlineTransport

__all__ = ["ENV_DEADLINE", "Deadline", "DeadlineExceeded", "DeadlineTransport",
           "active_deadline", "in_context"]

#: What :mod:`workbench.deadline_transport` holds, imported on first use: a report kernel that
#: reads local files has no need of httpx (a twentieth of a second to import).
_TRANSPORT_NAMES = ("DeadlineExceeded", "DeadlineTransport")

#: Environment variable carrying a run's deadline to child processes: Unix time in seconds.
ENV_DEADLINE = "WORKBENCH_DEADLINE_AT"

_T = TypeVar("_T")

_ACTIVE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "workbench_deadline", default=None)


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


def __getattr__(name: str) -> Any:
    if name in _TRANSPORT_NAMES:
        from workbench import deadline_transport

        return getattr(deadline_transport, name)
    raise AttributeError(f"module 'workbench.deadline' has no attribute {name!r}")
