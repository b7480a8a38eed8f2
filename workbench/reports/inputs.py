"""Every input of a run checked before any kernel starts, each failure one clear line.

Dates (``YYYY-MM-DD``, ``today`` or ``yesterday``, UTC; not before :data:`FIRST_DAY`, not after
tomorrow), day counts (at most :data:`MAX_DAYS`), the alert sink (its URL and the credentials
it reads from the environment), the runbook files (file, key and problem named) and the PromQL
in them (parsed by Prometheus's own parser: the server when ``PROMETHEUS_URL`` is set, else
``promtool`` when installed). Each raises :class:`~workbench.errors.ConfigError`, which the
command turns into exit code 2.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import ConfigError

__all__ = ["FIRST_DAY", "MAX_DAYS", "check_day", "check_days", "check_promql", "check_runbooks",
           "check_sink"]

#: Longest window a report or check reads: a year and a day.
MAX_DAYS = 366
#: No LLM application traces before this day; earlier dates are typos.
FIRST_DAY = pd.Timestamp("2000-01-01", tz="UTC")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_day(text: Any, *, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """The UTC day ``text`` names: ``YYYY-MM-DD``, ``today`` or ``yesterday``."""
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    today = now.floor("D")
    raw = str(text).strip() if text is not None else ""
    if raw in ("today", "yesterday"):
        return today - pd.Timedelta(days=1 if raw == "yesterday" else 0)
    if isinstance(text, (pd.Timestamp,)) or hasattr(text, "year"):
        day = pd.Timestamp(text)
        day = (day.tz_localize("UTC") if day.tzinfo is None else day.tz_convert("UTC")).floor("D")
    else:
        if not _ISO_DAY.match(raw):
            raise ConfigError(f"bad date {raw!r}: expected YYYY-MM-DD, today or yesterday (UTC)")
        try:
            day = pd.Timestamp(raw, tz="UTC")
        except (ValueError, OverflowError) as exc:
            raise ConfigError(f"bad date {raw!r}: {exc}") from exc
    if day < FIRST_DAY:
        raise ConfigError(f"date {day:%Y-%m-%d} is before {FIRST_DAY:%Y-%m-%d}: a typo?")
    if day > today + pd.Timedelta(days=1):
        raise ConfigError(f"date {day:%Y-%m-%d} is in the future (today is {today:%Y-%m-%d} UTC)")
    return day


def check_days(days: Any, alert_days: Any = 1) -> tuple[int, int]:
    """``days`` in [1, MAX_DAYS] and ``alert_days`` in [1, days]."""
    try:
        d, a = int(days), int(alert_days)
    except (TypeError, ValueError):
        raise ConfigError(f"days ({days!r}) and alert days ({alert_days!r}) must be whole "
                          "numbers") from None
    if not 1 <= d <= MAX_DAYS:
        raise ConfigError(f"days must be between 1 and {MAX_DAYS}, got {d}")
    if not 1 <= a <= d:
        raise ConfigError(f"alert days must be between 1 and days ({d}), got {a}")
    return d, a


def check_sink(url: str) -> None:
    """The alert sink exists for ``url`` and its credentials in the environment are usable."""
    from workbench.alerts import get_sink

    get_sink(url)


def check_runbooks(directory: str | Path | None = None) -> dict[str, Any]:
    """Every runbook file loads and validates (errors name file, key and problem)."""
    from workbench import runbooks

    return runbooks.load_all(directory)


def check_promql(runbooks: dict[str, Any]) -> None:
    """Every runbook's ``prometheus:`` query parses (by the server when ``PROMETHEUS_URL`` is
    set, else by ``promtool`` when installed; a shape check always)."""
    from workbench.sources import _promql_check

    exprs = {f"{rb.path}: prometheus.{name}": expr
             for rb in runbooks.values() for name, expr in rb.prometheus.items()}
    if not exprs:
        return
    source = None
    if os.environ.get("PROMETHEUS_URL"):
        from workbench.sources.prometheus import PrometheusSource

        source = PrometheusSource()
    try:
        bad = _promql_check.problems(exprs, source)
    finally:
        if source is not None:
            source.close()
    if bad:
        where, why = next(iter(sorted(bad.items())))
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise ConfigError(f"{where}: not valid PromQL: {why}{more}")
