"""The fallback for Langfuse v3 servers, whose v2/v3 read endpoints answer 404.

Detected once per base URL (a one-row probe of ``/v2/observations``; the answer is remembered
for the life of the process), then the same frames are read from the page-based endpoints
``/traces``, ``/observations`` and ``/v2/scores`` (``limit`` at most 100, ``meta.totalPages``).
v1 observations lack the trace's user, session and release, so traces are read for the window
widened by ``trace_lookback`` (a trace's timestamp is its root's start, which can precede the
window) and joined on trace id.
"""

from __future__ import annotations

import threading
from typing import Any

from workbench.errors import SourceAuthError, SourceError, SourceQueryError

from . import _observations
from ._client import Budget, NotFound, Stats, Transport

TRACES = "api/public/traces"
OBSERVATIONS = "api/public/observations"
SCORES = "api/public/v2/scores"
PAGE_LIMIT = 100

_decisions: dict[str, bool] = {}
_lock = threading.Lock()


def known(base_url: str) -> bool | None:
    with _lock:
        return _decisions.get(base_url)


def forget(base_url: str | None = None) -> None:
    """Drop remembered decisions (all, or one base URL), e.g. after a server upgrade."""
    with _lock:
        if base_url is None:
            _decisions.clear()
        else:
            _decisions.pop(base_url, None)


def detect(transport: Transport, budget: Budget, stats: Stats) -> bool:
    """True when the server only has the legacy reads; asked once per base URL."""
    with _lock:
        if transport.base_url in _decisions:
            return _decisions[transport.base_url]
    try:
        transport.get(_observations.PATH, {"limit": 1, "fields": "core"}, budget, stats)
        legacy = False
    except NotFound:
        legacy = True
    except (SourceAuthError, SourceQueryError):
        raise
    except SourceError:
        return False  # undecided (rate limited, down): try v2 and ask again next time
    with _lock:
        _decisions.setdefault(transport.base_url, legacy)
        return _decisions[transport.base_url]


def _page_ok(body: Any) -> bool:
    return (isinstance(body, dict) and isinstance(body.get("data"), list)
            and isinstance(body.get("meta"), dict))


def pull_pages(transport: Transport, path: str, params: dict[str, Any], budget: Budget,
               stats: Stats, label: str) -> tuple[list[Any], str | None]:
    """Every item of a page-based listing; ``(items, reason-if-incomplete)``."""
    items: list[Any] = []
    page = 1
    while True:
        try:
            body = transport.get(path, {**params, "page": page, "limit": PAGE_LIMIT}, budget,
                                 stats, check=_page_ok)
        except (SourceAuthError, SourceQueryError):
            raise
        except SourceError as exc:
            return items, f"{label}: {exc}"
        items.extend(body["data"])
        total_pages = int(body["meta"].get("totalPages") or 0)
        if page >= total_pages or not body["data"]:
            return items, None
        page += 1


def observation_params(v2_params: dict[str, Any]) -> dict[str, Any]:
    """v1 observations take the v2 filter names, minus field groups, cursor and sessionId."""
    return {k: v for k, v in v2_params.items()
            if k not in ("fields", "limit", "cursor", "sessionId")}
