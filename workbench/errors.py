"""Every error workbench raises, in one tree, so callers can catch at the depth they mean.

::

    WorkbenchError
    ├── SchemaError             a frame does not match its canonical schema
    ├── ConfigError             a runbook, parameter or environment variable is wrong or missing
    ├── SourceError             a data source failed (``.source``, ``.query``)
    │   ├── SourceAuthError     401/403: the credentials in the environment were refused
    │   ├── SourceTimeout       a request or the total budget ran out
    │   ├── SourceUnavailable   connection refused, DNS, 5xx after retries
    │   └── SourceQueryError    the backend rejected the query (its message kept as it is)
    ├── AlertDeliveryError      an alert sink could not deliver (the alert is spooled, not lost)
    │   └── AlertRejected       the receiver refused the alerts themselves (400/422): not retried
    └── ReportError             a report notebook failed to execute or render

Lower-layer exceptions (httpx, requests, SDK errors) are translated at the edge and chained with
``raise ... from exc``; messages never contain secrets.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AlertDeliveryError",
    "AlertRejected",
    "ConfigError",
    "ReportError",
    "SchemaError",
    "SourceAuthError",
    "SourceError",
    "SourceQueryError",
    "SourceTimeout",
    "SourceUnavailable",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Base of every error raised on purpose by workbench."""


class SchemaError(WorkbenchError, ValueError):
    """A frame does not match its canonical schema; ``problems`` lists each wrong column."""

    def __init__(self, message: str, *, frame: str | None = None,
                 problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.frame = frame
        self.problems = list(problems)


class ConfigError(WorkbenchError, ValueError):
    """A runbook file, a parameter or an environment variable is wrong or missing."""


class SourceError(WorkbenchError):
    """A data source failed; ``source`` names it and ``query`` says what was asked."""

    def __init__(self, message: str, *, source: str, query: str | None = None) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.query = query


class SourceAuthError(SourceError):
    """The source refused the credentials taken from the environment."""


class SourceTimeout(SourceError):
    """A request, or the total time budget of a pull, ran out."""


class SourceUnavailable(SourceError):
    """The source could not be reached or kept failing after retries."""


class SourceQueryError(SourceError):
    """The source rejected the query; the backend's own message is kept in the text."""


class AlertDeliveryError(WorkbenchError):
    """An alert sink could not deliver; the alert was spooled for the next run."""


class AlertRejected(AlertDeliveryError):
    """The receiver refused the alerts themselves (HTTP 400/422): retrying cannot help.

    ``status`` is the HTTP status and ``server_message`` the receiver's own words.
    """

    def __init__(self, message: str, *, status: int, server_message: str) -> None:
        super().__init__(message)
        self.status = status
        self.server_message = server_message


class ReportError(WorkbenchError):
    """A report notebook failed to execute or to render. ``kernel_error``: the name of the
    exception the notebook's kernel raised, if it did (``"ConfigError"`` is bad input)."""

    def __init__(self, message: str, kernel_error: str | None = None) -> None:
        super().__init__(message)
        self.kernel_error = kernel_error
