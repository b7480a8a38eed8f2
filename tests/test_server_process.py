"""The real-server helpers: a missing server binary skips a test locally and fails it in CI."""

import sys
from pathlib import Path

import pytest
from server_process import ServerProcess, require

MISSING = "workbench-no-such-server-binary"


def test_missing_binary_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Debian package 'no-such-package'"):
        require([MISSING], "no-such-package")


def test_missing_binary_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="scripts/install.sh --servers"):
        require([MISSING], "no-such-package")


def test_present_binaries_are_returned_as_paths():
    (path,) = require([Path(sys.executable).name], "python3")
    assert Path(path).name == Path(sys.executable).name


class _Exits(ServerProcess):
    name = "exits"

    def start(self) -> "_Exits":
        self._spawn([sys.executable, "-c", "print('bad config'); raise SystemExit(3)"],
                    ready=lambda: False, timeout=10)
        return self


def test_a_server_that_exits_is_reported_with_its_log(tmp_path):
    with pytest.raises(RuntimeError, match=r"exits exited \(3\): bad config"):
        _Exits(tmp_path).start()


def test_missing_chromium_fails_under_ci_and_skips_outside(monkeypatch, tmp_path):
    import browser

    monkeypatch.setattr(browser, "CHROMIUM", str(tmp_path / "chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Debian package 'chromium'"):
        browser.require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="scripts/install.sh --servers"):
        browser.require_chromium()
