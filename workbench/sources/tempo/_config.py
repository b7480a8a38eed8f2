"""Where Tempo is and how to authenticate, from arguments or the environment.

``TEMPO_URL`` (the query frontend, e.g. ``http://tempo:3200``; a path prefix such as
``/tempo`` behind a gateway is kept), then either ``TEMPO_USERNAME`` + ``TEMPO_PASSWORD`` (HTTP
Basic, as Grafana Cloud wants) or ``TEMPO_TOKEN`` (a bearer token), ``TEMPO_HEADERS`` (extra
headers, ``Name=value,Name2=value2`` as OpenTelemetry's ``OTEL_EXPORTER_OTLP_HEADERS`` writes them,
or a JSON object) and ``TEMPO_ORG_ID`` (the tenant, sent as ``X-Scope-OrgID`` on every request).
Secrets never appear in a ``repr``, an error or a log line.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from urllib.parse import unquote

from workbench.errors import ConfigError

ENV_URL = "TEMPO_URL"
ENV_USERNAME = "TEMPO_USERNAME"
ENV_PASSWORD = "TEMPO_PASSWORD"
ENV_TOKEN = "TEMPO_TOKEN"
ENV_HEADERS = "TEMPO_HEADERS"
ENV_ORG_ID = "TEMPO_ORG_ID"
ENV_VARS = (ENV_URL, ENV_USERNAME, ENV_PASSWORD, ENV_TOKEN, ENV_HEADERS, ENV_ORG_ID)
ORG_HEADER = "X-Scope-OrgID"
_RESERVED = {"authorization", ORG_HEADER.lower()}


@dataclass(frozen=True)
class Config:
    url: str
    org_id: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __repr__(self) -> str:  # never show a secret, not even in a traceback's locals
        auth = "basic" if self.username else "bearer" if self.token else "none"
        return (f"Config(url={self.url!r}, org_id={self.org_id!r}, auth={auth}, "
                f"headers={[k for k, _ in self.headers]})")

    def http_headers(self) -> dict[str, str]:
        """Every header a request carries: auth, tenant, the extra ones."""
        out = {k: v for k, v in self.headers}
        if self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode()
            out["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif self.token:
            out["Authorization"] = f"Bearer {self.token}"
        if self.org_id:
            out[ORG_HEADER] = self.org_id
        return out


def parse_headers(text: str, where: str = ENV_HEADERS) -> tuple[tuple[str, str], ...]:
    """``Name=value,Name2=value2`` (values may be %-encoded) or a JSON object of strings."""
    text = text.strip()
    if not text:
        return ()
    pairs: list[tuple[str, str]] = []
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{where} is not valid JSON: {exc.args[0]}") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ConfigError(f"{where} must be a JSON object of header names to strings")
        pairs = [(str(k).strip(), v) for k, v in data.items()]
    else:
        for i, item in enumerate(text.split(",")):
            if not item.strip():
                continue
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise ConfigError(f"{where}: item {i + 1} is not Name=value (write "
                                  "Name=value,Name2=value2 or a JSON object)")
            pairs.append((name.strip(), unquote(value.strip())))
    for name, value in pairs:
        if not name or any(c in name for c in " :\r\n\t") or any(c in value for c in "\r\n"):
            raise ConfigError(f"{where}: {name!r} is not a valid header")
        if name.lower() in _RESERVED:
            raise ConfigError(f"{where} may not set {name}: use {ENV_TOKEN} or "
                              f"{ENV_USERNAME}/{ENV_PASSWORD} for auth and {ENV_ORG_ID} for "
                              "the tenant")
    return tuple(pairs)


def resolve_config(url: str | None = None, *, username: str | None = None,
                   password: str | None = None, token: str | None = None,
                   headers: dict[str, str] | str | None = None,
                   org_id: str | None = None) -> Config:
    """Explicit arguments win over the environment; what is missing or wrong names its
    variable."""
    env = os.environ.get
    url = url or env(ENV_URL)
    if not url:
        raise ConfigError(f"Tempo source is not configured: set {ENV_URL} (it reads "
                          f"{', '.join(ENV_VARS)})")
    url = str(url).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{ENV_URL} must be an http(s) URL, got {url!r}")
    username = username if username is not None else env(ENV_USERNAME) or None
    password = password if password is not None else env(ENV_PASSWORD) or None
    token = token if token is not None else env(ENV_TOKEN) or None
    if username and not password:
        raise ConfigError(f"{ENV_USERNAME} is set but {ENV_PASSWORD} is not")
    if password and not username:
        raise ConfigError(f"{ENV_PASSWORD} is set but {ENV_USERNAME} is not")
    if username and token:
        raise ConfigError(f"set either {ENV_TOKEN} or {ENV_USERNAME}/{ENV_PASSWORD}, not both")
    if headers is None:
        parsed = parse_headers(env(ENV_HEADERS) or "")
    elif isinstance(headers, str):
        parsed = parse_headers(headers, "headers")
    else:
        parsed = parse_headers(json.dumps(dict(headers)), "headers")
    org = org_id if org_id is not None else env(ENV_ORG_ID) or None
    if org is not None and (not str(org).strip() or any(c in str(org) for c in "\r\n")):
        raise ConfigError(f"{ENV_ORG_ID} must be a tenant name, got {org!r}")
    return Config(url=url, org_id=None if org is None else str(org).strip(), username=username,
                  password=password, token=token, headers=parsed)
