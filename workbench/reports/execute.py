"""Execute a notebook with papermill; a failure keeps the executed copy and names the cell.

Parameters are the papermill ``parameters`` cell's values and end up written into the executed
notebook, so anything that looks like a secret is refused here: secrets reach the kernel through
environment variables only.

Each execution keeps its kernel's connection file and Unix sockets in a private folder of its own
(``runtime_dir``), so two runs never pick the same socket names. With a ``deadline`` (or in the
main thread) papermill runs in a worker thread while the calling thread watches the clock and
SIGTERM: when either ends the run, the kernel is interrupted first (the executing cell gets
``KeyboardInterrupt``, so an alert delivery in progress records what it did), then killed after
``grace_s``, and :class:`RunInterrupted` or :class:`~workbench.errors.ReportError` is raised.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import papermill
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum
from papermill.exceptions import PapermillExecutionError

from workbench.deadline import Deadline
from workbench.errors import ConfigError, ReportError
from workbench.reports import kernel

__all__ = ["RunInterrupted", "check_parameters", "run_notebook"]


class RunInterrupted(ReportError):
    """A signal (SIGTERM from a scheduler, SIGINT) stopped the run; ``signum`` says which."""

    def __init__(self, message: str, *, signum: int) -> None:
        super().__init__(message)
        self.signum = signum

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
    only this user can reach them, and the kernel has no reason to warn about plain-text TCP.
    The kernel is :mod:`workbench.reports.kernel`: ipykernel, ending without a slow teardown."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc" if os.name == "posix" else "tcp",
                                config=True)

    async def _async_interrupt_kernel(self) -> None:
        """No interrupt on the way to a shutdown: jupyter_client sends SIGINT before every
        shutdown request, and the idle kernel of a finished run logs it as "ERROR |
        KeyboardInterrupt caught in kernel." on the stderr of every successful report (a
        scheduler mails it). A run stopped by its deadline or a signal interrupts the kernel
        itself (:func:`_signal_kernels`); a kernel that ignores its shutdown request is still
        killed after ``shutdown_wait_time``."""
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()

    @property
    def kernel_spec(self) -> KernelSpec | None:
        if self._kernel_spec is None:
            self._kernel_spec = KernelSpec(
                argv=kernel.argv(sys.executable),
                env=_same_workbench_env(), display_name=f"Python ({sys.executable})",
                language="python")
        return self._kernel_spec


def _same_workbench_env() -> dict[str, str]:
    """PYTHONPATH with the folder this ``workbench`` was imported from first: the kernel starts
    in the report's folder, where an older copy installed into the interpreter (or one named by
    PYTHONPATH) would otherwise win over the checkout the command runs from."""
    import workbench

    home = str(Path(workbench.__file__).resolve().parent.parent)
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != home]
    return {"PYTHONPATH": os.pathsep.join([home, *rest])}


def _kernel_manager(runtime_dir: Path) -> type[_ThisPythonKernelManager]:
    """A kernel manager class whose kernels keep connection file and sockets in
    ``runtime_dir``, and which remembers the managers it made (to stop their kernels)."""
    folder = str(runtime_dir)

    class _RunKernelManager(_ThisPythonKernelManager):
        made: list[AsyncKernelManager] = []

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.connection_file = os.path.join(folder, "kernel.json")
            if self.transport == "ipc":
                self.ip = os.path.join(folder, "kernel-ipc")
            type(self).made.append(self)

    return _RunKernelManager


def _kernel_pids(km_class: type) -> list[int]:
    pids = []
    for km in getattr(km_class, "made", []):
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            pids.append(process.pid)
    return pids


def _signal_kernels(km_class: type, signum: int) -> None:
    """Send ``signum`` to every live kernel's process group (kernels run in their own)."""
    for pid in _kernel_pids(km_class):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)


def _execute(src: Path, target: Path, params: Mapping[str, Any], kernel_name: str | None,
             cwd: str | Path | None, start_timeout: int, engine: dict[str, Any]) -> None:
    # The executed notebook is written once, at the end (or, on a failed cell, with its
    # traceback before papermill raises): not before and after every cell, which re-encodes the
    # whole notebook, outputs and figures included, some thirty times on a report's critical
    # path while nobody watches the staging copy.
    papermill.execute_notebook(str(src), str(target), parameters=dict(params),
                               kernel_name=kernel_name, progress_bar=False,
                               request_save_on_cell_execute=False,
                               cwd=str(cwd) if cwd else None, start_timeout=start_timeout,
                               **engine)


def _close_thread_loop() -> None:
    """Close the event loop papermill's client made for this worker thread (it leaves it open)."""
    import asyncio

    with contextlib.suppress(RuntimeError):
        loop = asyncio.get_event_loop_policy().get_event_loop()
        if not loop.is_running():
            loop.close()
        asyncio.set_event_loop(None)


def _watched(run: Any, km_class: type, deadline: Deadline, grace_s: float, what: str) -> None:
    """Call ``run()`` in a worker thread; stop its kernel on SIGTERM/SIGINT or the deadline."""
    failure: list[BaseException] = []
    stop: list[int] = []
    done = threading.Event()

    def work() -> None:
        try:
            run()
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            failure.append(exc)
        finally:
            _close_thread_loop()
            done.set()

    def on_signal(signum: int, frame: Any) -> None:
        stop.append(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    worker = threading.Thread(target=work, name="workbench-notebook", daemon=True)
    try:
        worker.start()
        while not done.wait(timeout=0.2) and not stop and not deadline.expired:
            pass
        if not done.is_set():
            # Interrupt first: the executing cell gets KeyboardInterrupt and its finally blocks
            # (the alert spool's bookkeeping) run; then the kernel is killed.
            _signal_kernels(km_class, signal.SIGINT)
            if not done.wait(grace_s):
                _signal_kernels(km_class, signal.SIGKILL)
                done.wait(grace_s)
            if stop:
                name = signal.Signals(stop[0]).name
                raise RunInterrupted(f"{what} stopped by {name}: kernel interrupted and shut "
                                     "down, nothing published; alerts already persisted stay "
                                     "spooled for the next run", signum=stop[0])
            raise ReportError(f"{what} ran past its {deadline.seconds or 0:.0f} s budget: "
                              "kernel interrupted and shut down, nothing published")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failure:
        raise failure[0]


def run_notebook(path: str | Path, params: Mapping[str, Any], out_dir: str | Path, *,
                 output_name: str | None = None, kernel_name: str | None = None,
                 cwd: str | Path | None = None, start_timeout: int = 60,
                 runtime_dir: str | Path | None = None, deadline: Deadline | None = None,
                 grace_s: float = 10.0) -> Path:
    """Execute ``path`` with ``params`` into ``out_dir``; return the executed notebook's path.

    The kernel runs on this interpreter unless ``kernel_name`` names a kernelspec to use instead.
    ``runtime_dir`` (a private folder) holds the kernel's connection file and sockets;
    ``deadline`` bounds the whole execution (see the module docstring).

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
    with contextlib.ExitStack() as stack:
        if runtime_dir is None:  # never the kernel's cwd: a private folder for this call
            runtime_dir = stack.enter_context(tempfile.TemporaryDirectory(
                prefix=f"workbench-run-{os.getpid()}-"))
        km_class = _kernel_manager(Path(runtime_dir))
        engine = {} if kernel_name else {"kernel_manager_class": km_class}

        def run() -> None:
            _execute(src, target, params, kernel_name, cwd, start_timeout, engine)

        _run_and_report(run, km_class, deadline, grace_s, src, target)
    return target


def _run_and_report(run: Any, km_class: type, deadline: Deadline | None, grace_s: float,
                    src: Path, target: Path) -> None:
    """Run, turning papermill's failures into :class:`ReportError` naming the cell."""
    try:
        if deadline is None:
            run()
        else:
            _watched(run, km_class, deadline, grace_s, src.name)
    except PapermillExecutionError as exc:
        err = target.with_name(f"{target.stem}-err.ipynb")
        if target.exists():
            target.replace(err)
        raise ReportError(f"{src.name} failed in {_cell_label(exc)}: "
                          f"{exc.ename}: {exc.evalue} (executed notebook kept at {err})",
                          kernel_error=exc.ename) from exc
    except (OSError, RuntimeError, ValueError) as exc:
        # Kernel could not start, notebook unreadable, ... : papermill's own failures.
        raise ReportError(f"{src.name} could not be executed: {type(exc).__name__}: {exc}"
                          ) from exc
