"""What people write into a post-mortem, kept beside the data: a notes file (YAML).

``title``, ``status``, ``summary`` (text), ``contributing_factors``, ``went_well``,
``went_badly`` (lists of text) and ``action_items`` (a list of ``{action, owner, due,
tracked_in}``, ``action`` required)::

    status: In review
    summary: search_api started answering HTML error pages; tool-agent retried them.
    went_badly:
      - The loop guard allowed 40 iterations.
    action_items:
      - {action: Cap iterations at 10, owner: ana, due: 2026-11-20, tracked_in: OPS-123}

The post-mortem command reads it with ``--notes FILE`` and checks it before any kernel starts;
what is not written is suggested from the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.yaml_file import read_yaml

__all__ = ["ActionItem", "Notes", "load_notes"]


@dataclass(frozen=True)
class ActionItem:
    action: str
    owner: str = "unassigned"
    due: str = ""
    tracked_in: str = ""


@dataclass(frozen=True)
class Notes:
    """What people write into a post-mortem; None where nothing was written."""

    title: str | None = None
    status: str = "Draft"
    summary: str | None = None
    contributing_factors: list[str] | None = None
    went_well: list[str] | None = None
    went_badly: list[str] | None = None
    action_items: list[ActionItem] | None = None


_LISTS = ("contributing_factors", "went_well", "went_badly")
_TEXTS = ("title", "status", "summary")
_ITEM_KEYS = ("action", "owner", "due", "tracked_in")


def load_notes(path: str | Path | None) -> Notes:
    """The notes file at ``path`` (YAML): ``title``, ``status``, ``summary`` (text),
    ``contributing_factors``, ``went_well``, ``went_badly`` (lists of text) and
    ``action_items`` (a list of ``{action, owner, due, tracked_in}``; ``action`` required).
    Errors name the file, the key and the problem."""
    if path is None or str(path) == "":
        return Notes()
    p = Path(path)
    data = read_yaml(p, f"notes file {p}")
    if data is None:
        return Notes()
    if not isinstance(data, dict):
        raise ConfigError(f"notes file {p}: expected a mapping of {list(_TEXTS + _LISTS)} "
                          f"and action_items, got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(_TEXTS + _LISTS + ("action_items",)))
    if unknown:
        raise ConfigError(f"notes file {p}: unknown key(s) {unknown}; known: "
                          f"{list(_TEXTS + _LISTS) + ['action_items']}")
    out: dict[str, Any] = {}
    for key in _TEXTS:
        if key in data:
            if not isinstance(data[key], (str, int, float)) or isinstance(data[key], bool):
                raise ConfigError(f"notes file {p}: {key}: expected text, got "
                                  f"{type(data[key]).__name__}")
            out[key] = str(data[key]).strip()
    for key in _LISTS:
        if key in data:
            value = data[key]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"notes file {p}: {key}: expected a list of text")
            out[key] = [v.strip() for v in value]
    if "action_items" in data:
        items = []
        if not isinstance(data["action_items"], list):
            raise ConfigError(f"notes file {p}: action_items: expected a list")
        for i, item in enumerate(data["action_items"], 1):
            if not isinstance(item, dict) or not isinstance(item.get("action"), str):
                raise ConfigError(f"notes file {p}: action_items item {i}: expected a mapping "
                                  "with an 'action' text")
            extra = sorted(set(map(str, item)) - set(_ITEM_KEYS))
            if extra:
                raise ConfigError(f"notes file {p}: action_items item {i}: unknown key(s) "
                                  f"{extra}; known: {list(_ITEM_KEYS)}")
            items.append(ActionItem(**{k: str(item[k]) for k in _ITEM_KEYS
                                       if item.get(k) is not None}))
        out["action_items"] = items
    return Notes(**out)
