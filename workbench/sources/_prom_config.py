"""Prometheus connection settings from the environment, kept out of every message.

Variables:

- ``PROMETHEUS_URL`` (required): base URL of the server, e.g. ``http://prometheus:9090``.
- ``PROMETHEUS_USERNAME`` / ``PROMETHEUS_PASSWORD``: HTTP basic auth (both or neither).
- ``PROMETHEUS_TOKEN``: bearer token, sent as ``Authorization: Bearer <token>``.
- ``PROMETHEUS_HEADERS``: extra headers, either ``k=v,k2=v2`` or a JSON object
  ``{"X-Scope-OrgID": "team-a"}`` (for Mimir/Thanos/Cortex tenants and gateways).

Error messages name the variable that is wrong, never its value: a header may hold a secret.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from workbench.errors import ConfigError

__all__ = ["PrometheusSettings", "parse_headers", "safe_host"]


def parse_headers(text: str, variable: str = "PROMETHEUS_HEADERS") -> dict[str, str]:
    """``k=v,k2=v2`` or a JSON object -> a header dict; a malformed value names ``variable``."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            raise ConfigError(f"{variable} looks like JSON but does not parse; expected an object "
                              'like {"X-Scope-OrgID": "team-a"}') from None
        if not isinstance(parsed, dict) or not all(
                isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in parsed.items()):
            raise ConfigError(f"{variable} must be a JSON object of header name -> string value")
        return {k.strip(): str(v) for k, v in parsed.items()}
    headers = {}
    for i, item in enumerate(text.split(","), start=1):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{variable}: item {i} is not of the form name=value "
                              "(expected k=v,k2=v2 or a JSON object)")
        headers[key.strip()] = value.strip()
    return headers


def safe_host(url: str) -> str:
    """``scheme://host:port`` of ``url`` without user info, path or query: safe for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}" if parts.scheme else host


@dataclass(frozen=True)
class PrometheusSettings:
    """Where and how to reach Prometheus; ``repr`` hides every credential."""

    url: str
    auth: tuple[str, str] | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def resolve(cls, url: str | None = None, *, auth: tuple[str, str] | None = None,
                headers: Mapping[str, str] | None = None) -> PrometheusSettings:
        """Explicit arguments first, then the ``PROMETHEUS_*`` environment variables."""
        env = os.environ
        url = url or env.get("PROMETHEUS_URL")
        if not url:
            raise ConfigError("Prometheus URL missing: set PROMETHEUS_URL "
                              "(e.g. http://localhost:9090) or pass url=")
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError(f"PROMETHEUS_URL must be an http(s) URL with a host, got "
                              f"{safe_host(url)!r}")
        if parts.username or parts.password:
            raise ConfigError("PROMETHEUS_URL must not contain credentials; use "
                              "PROMETHEUS_USERNAME/PROMETHEUS_PASSWORD or PROMETHEUS_TOKEN")
        if auth is None:
            user, password = env.get("PROMETHEUS_USERNAME"), env.get("PROMETHEUS_PASSWORD")
            if bool(user) != bool(password):
                missing = "PROMETHEUS_PASSWORD" if user else "PROMETHEUS_USERNAME"
                raise ConfigError(f"basic auth needs both PROMETHEUS_USERNAME and "
                                  f"PROMETHEUS_PASSWORD; {missing} is not set")
            auth = (user, password) if user else None
        merged = parse_headers(env.get("PROMETHEUS_HEADERS", ""))
        token = env.get("PROMETHEUS_TOKEN")
        if token:
            merged["Authorization"] = f"Bearer {token}"
        merged.update(headers or {})
        return cls(url=url.rstrip("/"), auth=auth, headers=merged)

    @property
    def host(self) -> str:
        return safe_host(self.url)
