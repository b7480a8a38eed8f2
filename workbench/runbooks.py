"""Runbooks: one YAML file each in ``runbooks/``, validated against a checked-in JSON schema.

Thresholds, windows and baselines live in these files, never in code, so an on-call engineer can
tune a runbook without touching Python. Every file is validated on load; an error names the file,
the key path and the problem.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from workbench.errors import ConfigError
from workbench.settings import cache_dir
from workbench.yaml_file import parse_yaml

__all__ = ["Runbook", "default_dir", "load", "load_all", "parse_duration"]

_DURATION = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> pd.Timedelta:
    """``"5m"`` -> 5 minutes; the runbooks' duration syntax (as in Prometheus)."""
    m = _DURATION.match(str(text))
    if not m:
        raise ConfigError(f"duration {text!r} is not of the form <number><s|m|h|d|w>")
    return pd.Timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def default_dir() -> Path:
    """``$WORKBENCH_RUNBOOKS`` or the ``runbooks/`` folder beside the package."""
    env = os.environ.get("WORKBENCH_RUNBOOKS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "runbooks"


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files("workbench").joinpath("runbook.schema.json").read_text()


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # costs 1-2 s to import (format checkers); only paid on a cache miss

    return jsonschema.Draft202012Validator(json.loads(_schema_text()))


def _verdict_marker(spec: Any) -> Path:
    """Where a passed validation of exactly this content against exactly this schema is noted.

    Report kernels load the same runbooks on every run; remembering a clean verdict by content hash
    saves each run the jsonschema import without ever skipping validation of changed content.
    """
    digest = hashlib.sha256(_schema_text().encode())
    digest.update(json.dumps(spec, sort_keys=True, default=str).encode())
    return cache_dir("runbooks-valid", digest.hexdigest())


def _schema_errors(spec: Any) -> list[str]:
    marker = _verdict_marker(spec)
    if marker.exists():
        return []
    errors = sorted(_validator().iter_errors(spec), key=lambda e: list(e.absolute_path))
    if not errors:
        try:
            marker.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            marker.touch(mode=0o600)
        except OSError:
            pass  # a read-only home only costs the next run the validation again
    return [f"{_key_path(e)}: {e.message}" for e in errors]


@dataclass(frozen=True)
class Runbook:
    """A validated runbook; ``spec`` is the parsed YAML, accessors give typed views of it."""

    name: str
    path: Path
    spec: Mapping[str, Any]

    @property
    def title(self) -> str:
        return self.spec["title"]

    @property
    def notebook(self) -> str:
        return self.spec["notebook"]

    @property
    def signals(self) -> Mapping[str, Mapping[str, Any]]:
        return self.spec["signals"]

    @property
    def bucket(self) -> pd.Timedelta:
        return parse_duration(self.spec["evaluation"]["bucket"])

    @property
    def lookback(self) -> pd.Timedelta:
        return parse_duration(self.spec["evaluation"]["lookback"])

    @property
    def min_units(self) -> int:
        """Units a window must hold to be judged."""
        return int(self.spec["evaluation"].get("min_units", 5))

    @property
    def baseline_window(self) -> pd.Timedelta:
        return parse_duration(self.spec["baseline"]["trailing"])

    @property
    def daily(self) -> Mapping[str, Any]:
        return self.spec["daily"]

    @property
    def dimensions(self) -> list[str]:
        return list(self.spec["attribution"]["dimensions"])

    @property
    def prometheus(self) -> Mapping[str, str]:
        return self.spec.get("prometheus", {})

    def suspect_mitigation(self, suspects: Sequence[Any], agent: str | None = None
                           ) -> str | None:
        """The mitigation for the kind of cause the first of ``suspects`` is (its dimension in
        ``suspect_mitigations``), filled in; None where the runbook has none for it. A prompt
        version calls for a rollback of that prompt, a tool for its timeout or its loop: the
        runbook's general mitigations follow it."""
        entry = self._fitted(suspects)
        if entry is None:
            return None
        top = suspects[0]
        return entry["say"].format_map(_mitigation_fields(
            str(top.value), top.within.get("agent") or agent, top.within.get("prompt_name")))

    def mitigations(self, suspects: Sequence[Any] = (), agent: str | None = None,
                    general: int | None = None) -> list[str]:
        """The mitigation fitted to the first suspect, then the runbook's general ones (the
        first ``general`` of them, default all), less the general one it stands ``instead_of``
        ("Pin the previous prompt version." after "Pin prompt answer back to the version
        before 8" says the same thing twice)."""
        fitted = self.suspect_mitigation(suspects, agent)
        replaced = None if fitted is None else self._fitted(suspects)["instead_of"]
        rest = [str(m) for m in self.spec.get("mitigations", []) if m != replaced]
        return ([fitted] if fitted is not None else []) + rest[:general]

    def _fitted(self, suspects: Sequence[Any]) -> dict[str, str | None] | None:
        if not suspects:
            return None
        entry = self.spec.get("suspect_mitigations", {}).get(suspects[0].dimension)
        return None if entry is None else _mitigation_entry(entry)

    def signal(self, name: str) -> Mapping[str, Any]:
        try:
            return self.signals[name]
        except KeyError:
            raise ConfigError(f"runbook {self.name!r} ({self.path}) has no signal {name!r}; "
                              f"it has {sorted(self.signals)}") from None


def _mitigation_fields(value: str, agent: str | None, prompt_name: str | None
                       ) -> dict[str, str]:
    return {"value": value, "agent": agent or "the affected agents",
            "prompt_name": f"prompt {prompt_name}" if prompt_name else "the prompt"}


def _mitigation_entry(entry: str | Mapping[str, str]) -> dict[str, str | None]:
    """A ``suspect_mitigations`` value: a sentence, or ``{say: sentence, instead_of: one of
    the general mitigations}``."""
    if isinstance(entry, str):
        return {"say": entry, "instead_of": None}
    return {"say": entry["say"], "instead_of": entry.get("instead_of")}


def _check_mitigations(path: Path, spec: Mapping[str, Any]) -> None:
    """A ``suspect_mitigations`` sentence may only name the fields it is filled with, and
    stand instead of a general mitigation the runbook has."""
    general = [str(m) for m in spec.get("mitigations", [])]
    for dim, entry in spec.get("suspect_mitigations", {}).items():
        entry = _mitigation_entry(entry)
        template = entry["say"]
        if entry["instead_of"] is not None and entry["instead_of"] not in general:
            raise ConfigError(
                f"{path}: suspect_mitigations.{dim}.instead_of: {entry['instead_of']!r} is "
                f"not one of the runbook's mitigations {general}")
        try:
            template.format_map(_mitigation_fields("v", "a", "p"))
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"{path}: suspect_mitigations.{dim}: {template!r} is not a sentence to fill "
                f"({type(exc).__name__}: {exc}); it may name {{value}}, {{agent}} and "
                "{prompt_name}") from None


def _key_path(error: Any) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def load(name_or_path: str | Path, directory: str | Path | None = None) -> Runbook:
    """Load and validate one runbook by name (``cost_spike``) or by path."""
    path = Path(name_or_path)
    if path.suffix not in {".yaml", ".yml"}:
        path = Path(directory or default_dir()) / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        raise ConfigError(f"runbook file {path} not found; runbooks there: {known}")
    try:
        spec = parse_yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    lines = _schema_errors(spec)
    if lines:
        raise ConfigError(f"{path}: invalid runbook:\n  " + "\n  ".join(lines))
    if spec["name"] != path.stem:
        raise ConfigError(f"{path}: name: {spec['name']!r} does not match the file name "
                          f"{path.stem!r}")
    for key in ("bucket", "lookback"):
        parse_duration(spec["evaluation"][key])
    _check_mitigations(path, spec)
    return Runbook(name=spec["name"], path=path, spec=spec)


def load_all(directory: str | Path | None = None) -> dict[str, Runbook]:
    """Every runbook in ``directory``, by name; all files validated."""
    d = Path(directory or default_dir())
    if not d.is_dir():
        raise ConfigError(f"runbook directory {d} not found (set WORKBENCH_RUNBOOKS)")
    return {rb.name: rb for rb in (load(p) for p in sorted(d.glob("*.yaml")))}
