"""Reading a user's YAML file (runbook notes, price table, conventions, redaction patterns) with
one clear error: the file, and whether it could not be read or could not be parsed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.errors import ConfigError

__all__ = ["read_yaml"]


def read_yaml(path: str | Path, what: str) -> Any:
    """The YAML document at ``path`` (None for an empty file). ``what`` names the file in the
    :class:`ConfigError` raised when it cannot be read or is not valid YAML."""
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{what}: cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what}: not valid YAML: {exc}") from None
