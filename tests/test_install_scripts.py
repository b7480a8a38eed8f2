"""The set-up scripts on a stock Debian/Ubuntu Python: nothing is pip-installed into the system
interpreter (PEP 668 refuses it); a project .venv is made and used instead, unless a
virtualenv or conda env is already active."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parents[1] / "scripts"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def pick(folder: Path, **env: str) -> list[str]:
    """Source _python.sh in a copy of the scripts folder; PY, then `command -v python3`."""
    (folder / "scripts").mkdir(parents=True, exist_ok=True)
    shutil.copy(SCRIPTS / "_python.sh", folder / "scripts" / "_python.sh")
    done = subprocess.run(
        ["bash", "-c", 'source scripts/_python.sh && echo "$PY" && command -v python3'],
        cwd=folder, capture_output=True, text=True, timeout=300,
        env={"HOME": os.environ.get("HOME", "/root"), **env})
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no system python3 at /usr/bin")
def test_outside_any_env_a_project_venv_is_made_and_used(tmp_path):
    py, python3 = pick(tmp_path, PATH="/usr/bin:/bin")
    assert py == str(tmp_path / ".venv" / "bin" / "python")
    assert python3 == str(tmp_path / ".venv" / "bin" / "python3")  # first on PATH for the rest
    pip = subprocess.run([py, "-m", "pip", "install", "--dry-run", "--no-index",
                          "--no-deps", str(Path(__file__).parents[1])],
                         capture_output=True, text=True, timeout=300)
    assert "externally-managed-environment" not in pip.stderr
    again = pick(tmp_path, PATH="/usr/bin:/bin")  # the second time, the same .venv
    assert again[0] == py


def test_an_active_virtualenv_is_used_as_it_is(tmp_path):
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True,
                   timeout=120)
    py, python3 = pick(tmp_path / "project", PATH=f"{env_dir / 'bin'}:/usr/bin:/bin",
                       VIRTUAL_ENV=str(env_dir))
    assert Path(py).parent == env_dir / "bin" and Path(python3).parent == env_dir / "bin"
    assert not (tmp_path / "project" / ".venv").exists()


@pytest.mark.skipif(not (SYSTEM_PYTHON.exists() and list(
    Path("/usr/lib").glob("python3*/EXTERNALLY-MANAGED"))),
    reason="the system python here is not externally managed")
def test_the_system_interpreter_refuses_pip_which_is_why(tmp_path):
    done = subprocess.run([str(SYSTEM_PYTHON), "-m", "pip", "install", "--dry-run", "six"],
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode != 0 and "externally-managed-environment" in done.stderr
