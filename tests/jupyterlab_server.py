"""A real JupyterLab for browser tests: this interpreter's ``jupyter lab`` on 127.0.0.1 with token
auth, every Jupyter folder (config, data, runtime, settings, workspaces) inside a temporary one,
nothing fetched from the internet (no news, no update checks)."""

from __future__ import annotations

import json
import os
import secrets
import sys
import urllib.request
from pathlib import Path

from server_process import ServerProcess, free_port

__all__ = ["JupyterLab"]


class JupyterLab(ServerProcess):
    """``jupyter lab`` serving ``root``; ``url(path)`` gives an address with the token."""

    name = "jupyterlab"

    def __init__(self, root: Path, workdir: Path) -> None:
        super().__init__(workdir)
        self.root = Path(root)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"

    def start(self, ready_timeout: float = 120.0) -> JupyterLab:
        home = self.workdir / "home"
        dirs = {"JUPYTER_CONFIG_DIR": home / "config", "JUPYTER_DATA_DIR": home / "data",
                "JUPYTER_RUNTIME_DIR": home / "runtime", "IPYTHONDIR": home / "ipython"}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        # The kernel runs this interpreter (jupyter_client swaps "python" for sys.executable),
        # so the notebooks import the workbench under test.
        argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                f"--port={self.port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root}",
                f"--LabApp.user_settings_dir={home / 'settings'}",
                f"--LabApp.workspaces_dir={home / 'workspaces'}",
                "--LabApp.news_url=", "--LabApp.check_for_updates_class="
                "jupyterlab.NeverCheckForUpdate", "--LabApp.expose_app_in_browser=True",
                "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
                "--allow-root"]
        settings = home / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        # Answer the "receive news?" question up front, so no notification asks it.
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        # Every cell laid out, not only those in view, so the test reads what a scroll shows.
        notebook = home / "settings" / "@jupyterlab" / "notebook-extension"
        notebook.mkdir(parents=True, exist_ok=True)
        (notebook / "tracker.jupyterlab-settings").write_text(
            json.dumps({"windowingMode": "none"}))
        old = {k: os.environ.get(k) for k in dirs}
        os.environ.update({k: str(v) for k, v in dirs.items()})
        try:
            self._spawn(argv, ready=self._ready, timeout=ready_timeout, interval=0.25)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return self

    def _ready(self) -> bool:
        with urllib.request.urlopen(self.url("api/status"), timeout=2) as r:
            return r.status == 200
