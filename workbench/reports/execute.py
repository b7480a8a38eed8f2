"""Execute a notebook with papermill; a failure keeps the executed copy and names the cell.

Parameters are the papermill ``parameters`` cell's values and end up written into the executed
notebook, so anything that looks like a secret is refused here: secrets reach the kernel through
environment variables only.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import papermill
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum
from papermill.exceptions import PapermillExecutionError

from workbench.errors import ConfigError, ReportError

__all__ = ["check_parameters", "run_notebook"]

_SECRET_NAME = re.compile(r"(secret|password|passwd|token|api_?key|private_?key|credential)",
                          re.IGNORECASE)


#: Environment values shorter than this are not treated as secrets to look for (too many false
#: matches: "1", "true", a port number).
_MIN_SECRET_LEN = 8


def _secret_env_values() -> dict[str, str]:
    """Secret-looking environment variables (``LANGFUSE_SECRET_KEY``, ``PROMETHEUS_PASSWORD``,
    ``PROMETHEUS_TOKEN``, ...) and their values; ones naming a file or folder (``..._FILE``,
    ``CREDENTIALS_DIRECTORY``) are paths, not secrets, and may well prefix a parameter."""
    return {k: v for k, v in os.environ.items()
            if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN and not os.path.exists(v)}


def check_parameters(params: Mapping[str, Any]) -> None:
    """Refuse parameters that are or carry secrets (they would be stored in the notebook).

    A name that looks like a secret is refused, and so is any value that contains the value of a
    secret-looking environment variable; the error names the parameter and the variable only.
    """
    bad = sorted(k for k in params if _SECRET_NAME.search(k))
    if bad:
        raise ConfigError(f"parameter(s) {bad} look like secrets; pass secrets through "
                          "environment variables, never as notebook parameters")
    secrets = _secret_env_values()
    leaks = sorted(f"{k} (holds ${var})" for k, v in params.items() if isinstance(v, str)
                   for var, secret in secrets.items() if secret in v)
    if leaks:
        raise ConfigError(f"parameter(s) {leaks} carry a secret from the environment; the kernel "
                          "inherits the environment, so pass nothing secret as a parameter")


def _cell_label(exc: PapermillExecutionError) -> str:
    """``cell 7 ('kpis = ...')``: papermill's index and the first line of the cell's source."""
    first = next((ln.strip() for ln in (exc.source or "").splitlines() if ln.strip()), "")
    return f"cell {exc.cell_index} ({first[:60]!r})" if first else f"cell {exc.cell_index}"


class _ThisPythonKernelManager(AsyncKernelManager):
    """Start the kernel with the interpreter running workbench, whatever ``python3`` kernelspec
    another environment registered in the user's Jupyter folder: a report must run the same
    workbench, and see the same runbooks, as the command that asked for it.

    Where the platform has Unix sockets the kernel talks over them rather than TCP on localhost:
    only this user can reach them, and the kernel has no reason to warn about plain-text TCP."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc" if os.name == "posix" else "tcp",
                                config=True)

    @property
    def kernel_spec(self) -> KernelSpec | None:
        if self._kernel_spec is None:
            self._kernel_spec = KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name=f"Python ({sys.executable})", language="python")
        return self._kernel_spec


def run_notebook(path: str | Path, params: Mapping[str, Any], out_dir: str | Path, *,
                 output_name: str | None = None, kernel_name: str | None = None,
                 cwd: str | Path | None = None, start_timeout: int = 60) -> Path:
    """Execute ``path`` with ``params`` into ``out_dir``; return the executed notebook's path.

    The kernel runs on this interpreter unless ``kernel_name`` names a kernelspec to use instead.

    On failure the executed notebook is kept as ``<name>-err.ipynb`` (tracebacks and all) and
    :class:`ReportError` names the failing cell and the exception.
    """
    src = Path(path)
    if not src.is_file():
        raise ReportError(f"notebook {src} not found")
    check_parameters(params)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"output folder {out} cannot be created: {exc.strerror}") from exc
    target = out / (output_name or src.name)
    engine = {} if kernel_name else {"kernel_manager_class": _ThisPythonKernelManager}
    try:
        papermill.execute_notebook(str(src), str(target), parameters=dict(params),
                                   kernel_name=kernel_name, progress_bar=False,
                                   cwd=str(cwd) if cwd else None, start_timeout=start_timeout,
                                   **engine)
    except PapermillExecutionError as exc:
        err = target.with_name(f"{target.stem}-err.ipynb")
        if target.exists():
            target.replace(err)
        raise ReportError(f"{src.name} failed in {_cell_label(exc)}: "
                          f"{exc.ename}: {exc.evalue} (executed notebook kept at {err})"
                          ) from exc
    except (OSError, RuntimeError, ValueError) as exc:
        # Kernel could not start, notebook unreadable, ... : papermill's own failures.
        raise ReportError(f"{src.name} could not be executed: {type(exc).__name__}: {exc}"
                          ) from exc
    return target
