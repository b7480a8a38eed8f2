"""What every outbound HTTP call of workbench shares: how long a server asks us to wait, and
how long to back off when it does not say.

Sources (Langfuse, Tempo, Prometheus) and alert sinks each decide which answers are worth asking
again; these two rules are the same for all of them, so they live here once.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

__all__ = ["backoff", "retry_after"]


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date, RFC 9110 10.2.3);
    None without one or when it cannot be read. A date in the past is 0."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def backoff(attempt: int, base_s: float, cap_s: float) -> float:
    """Exponential back-off after attempt ``attempt`` (0-based), capped, with ±20 % jitter so
    that concurrent clients do not retry in step."""
    return min(cap_s, base_s * 2 ** attempt) * (0.8 + 0.4 * random.random())
