"""Where workbench keeps files between runs, from the environment (never from notebook parameters).

``WORKBENCH_CACHE_DIR`` wins; otherwise ``$XDG_CACHE_HOME/workbench`` or ``~/.cache/workbench``,
the XDG convention Jupyter and pip follow too.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_CACHE_DIR", "cache_dir"]

ENV_CACHE_DIR = "WORKBENCH_CACHE_DIR"


def cache_dir(*parts: str) -> Path:
    """The cache folder (not created), or a sub-folder of it."""
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        base = Path(env)
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench"
    return base.joinpath(*parts)
