"""Reading a user's YAML file (runbook notes, price table, conventions, redaction patterns) with
one clear error: the file, and whether it could not be read or could not be parsed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.errors import ConfigError

__all__ = ["parse_yaml", "read_yaml"]


def parse_yaml(text: str) -> Any:
    """``text`` as YAML with the safe loader: libyaml's when PyYAML was built with it (the same
    objects, parsed in C), else the pure-Python one."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def read_yaml(path: str | Path, what: str) -> Any:
    """The YAML document at ``path`` (None for an empty file). ``what`` names the file in the
    :class:`ConfigError` raised when it cannot be read or is not valid YAML."""
    import yaml

    try:
        return parse_yaml(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{what}: cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what}: not valid YAML: {exc}") from None
