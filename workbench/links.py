"""Where a reader goes next: runbook and report URLs, and the exact commands for a window.

Alerts, daily reports and post-mortems point at the runbook notebook and the report that
found the incident. Where those live depends on the deployment, so it comes from the
environment:

- ``WORKBENCH_RUNBOOK_URL``: where runbooks are opened, e.g. a JupyterLab server
  (``https://jupyter.example.com/lab/tree``: the runbook's notebook path,
  ``notebooks/runbooks/cost_spike.ipynb``, is appended) or a docs site, as a template with
  ``{runbook}`` (the runbook's name) or ``{notebook}`` (its notebook path):
  ``https://docs.example.com/runbooks/{runbook}.html``. Unset: the notebook's ``file://`` URI on
  the machine that ran the report.
- ``WORKBENCH_REPORT_URL``: where published reports are served
  (``https://reports.example.com/daily``): a report's file name is appended. Unset: the
  report's ``file://`` URI in its output folder.

Both must be absolute ``http(s)://`` URLs (Alertmanager refuses a ``generatorURL`` that is not
a URI, and a link in a shared file must work for its readers); a bad value is a
:class:`~workbench.errors.ConfigError` before any work starts.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pandas as pd

from workbench.errors import ConfigError

__all__ = ["ENV_REPORT_URL", "ENV_RUNBOOK_URL", "check_urls", "postmortem_command",
           "report_url", "runbook_command", "runbook_url"]

ENV_RUNBOOK_URL = "WORKBENCH_RUNBOOK_URL"
ENV_REPORT_URL = "WORKBENCH_REPORT_URL"


def _base(name: str) -> str | None:
    """The variable's value, checked: an absolute http(s) URL without credentials."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return None
    probe = value.replace("{runbook}", "x").replace("{notebook}", "x")
    parts = urlsplit(probe)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}={value!r} is not an absolute http(s):// URL")
    if parts.username or parts.password:
        raise ConfigError(f"{name} must not carry credentials (it is shown in alerts and "
                          "reports)")
    if any(c.isspace() for c in value):
        raise ConfigError(f"{name}={value!r} holds white space")
    try:
        value.format(runbook="x", notebook="x")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"{name}={value!r} is not a template of {{runbook}} and "
                          f"{{notebook}} only: {exc}") from None
    return value


def check_urls() -> None:
    """Raise :class:`ConfigError` when either variable is set to something unusable."""
    _base(ENV_RUNBOOK_URL)
    _base(ENV_REPORT_URL)


def _notebooks_dir() -> Path:
    env = os.environ.get("WORKBENCH_NOTEBOOKS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "notebooks"


def _notebook_file(notebook: str) -> Path:
    rel = Path(notebook)
    if rel.parts and rel.parts[0] == "notebooks":
        return _notebooks_dir().joinpath(*rel.parts[1:])
    return _notebooks_dir().parent / rel


def runbook_url(name: str, notebook: str) -> str:
    """The URL of runbook ``name`` whose notebook is ``notebook`` (``notebooks/...``)."""
    base = _base(ENV_RUNBOOK_URL)
    if base is None:
        return _notebook_file(notebook).resolve().as_uri()
    if "{runbook}" in base or "{notebook}" in base:
        return base.format(runbook=quote(name), notebook=quote(notebook))
    return f"{base.rstrip('/')}/{quote(notebook)}"


def report_url(file_name: str, out_dir: str | Path | None = None) -> str:
    """The URL of the published report ``file_name`` (in ``out_dir`` when not served)."""
    base = _base(ENV_REPORT_URL)
    if base is not None:
        return f"{base.rstrip('/')}/{quote(file_name)}"
    folder = Path(out_dir) if out_dir is not None else Path.cwd()
    return (folder.resolve() / file_name).as_uri()


def _iso(ts: Any) -> str:
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.strftime("%Y-%m-%dT%H:%MZ")


def _window_args(start: Any, end: Any, source: str, data_dir: str | Path | None,
                 agent: str | None) -> list[str]:
    args = ["--start", _iso(start), "--end", _iso(end), "--source", source]
    if source == "local" and data_dir:
        args += ["--data", str(Path(data_dir).resolve())]
    if agent:
        args += ["--agent", agent]
    return args


def runbook_command(runbook: str, start: Any, end: Any, source: str,
                    data_dir: str | Path | None = None, agent: str | None = None) -> str:
    """``workbench runbook ...`` rendering ``runbook``'s notebook over ``[start, end)``; every
    value shell-quoted, so it can be pasted as it is."""
    return shlex.join(["workbench", "runbook", runbook,
                       *_window_args(start, end, source, data_dir, agent)])


def postmortem_command(runbook: str, start: Any, end: Any, source: str,
                       data_dir: str | Path | None = None, agent: str | None = None) -> str:
    """``workbench postmortem ...`` over ``[start, end)``, shell-quoted."""
    return shlex.join(["workbench", "postmortem", "--runbook", runbook,
                       *_window_args(start, end, source, data_dir, agent)])
