"""What the real test servers (Prometheus, Alertmanager) share: a free port, finding the Debian
binary (skip locally, fail under ``CI=true``), and a child process with a log, a readiness poll and
a clean stop."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import pytest

__all__ = ["ServerProcess", "free_port", "require"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require(names: Sequence[str], package: str) -> list[str]:
    """Paths of the binaries ``names``; skip the test locally, fail it under ``CI=true``: a test
    that needs the real server must run in CI, never be skipped there."""
    paths = [shutil.which(n) for n in names]
    if all(paths):
        return [p for p in paths if p]
    msg = (f"the real server is needed: install the Debian package {package!r} "
           "(bash scripts/install.sh --servers)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


class ServerProcess:
    """A server binary run as a child process, logging to ``<workdir>/<name>.log``."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self._proc: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None

    def _spawn(self, argv: list[str], ready: Callable[[], Any], timeout: float,
               interval: float = 0.1) -> None:
        """Start ``argv`` and poll ``ready()`` until it is truthy; a process that exits or never
        gets ready is stopped and reported with the tail of its log."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.workdir / f"{self.name}.log", "wb")  # noqa: SIM115 (closed in stop)
        self._proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self.stop()
                raise RuntimeError(f"{self.name} exited ({code}): {self.log_tail()}")
            try:
                if ready():
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(interval)
        self.stop()
        raise RuntimeError(f"{self.name} not ready within {timeout} s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.workdir / f"{self.name}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def start(self) -> ServerProcess:
        raise NotImplementedError

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
