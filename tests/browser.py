"""Debian's Chromium driven by Playwright, for tests that look at what a person would see.

Playwright's own browser download is not used: tests launch ``/usr/bin/chromium`` (the Debian
package ``chromium``, installed by ``scripts/install.sh --servers``). Locally a missing browser
skips the test with the reason; under ``CI=true`` it fails, so CI never passes without looking.
Screenshots go to :func:`artifacts_dir`, printed at the end of the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-default-apps", "--disable-extensions", "--mute-audio"]
ARTIFACTS_ENV = "WORKBENCH_TEST_ARTIFACTS"
# Read once, at import: each test starts with the WORKBENCH_* variables cleared (conftest).
_ARTIFACTS = os.environ.get(ARTIFACTS_ENV)


def _missing(msg: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def require_chromium() -> str:
    """The Chromium binary and Playwright, or skip (locally) / fail (CI) naming what is
    missing."""
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"Chromium not found at {CHROMIUM}: install the Debian package 'chromium' "
                 "(bash scripts/install.sh --servers)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed: pip install -e '.[test]'")
    return CHROMIUM


def artifacts_dir(create: bool = True) -> Path:
    """Where screenshots are kept: ``$WORKBENCH_TEST_ARTIFACTS/browser`` or
    ``test-artifacts/browser`` in the checkout."""
    root = _ARTIFACTS or str(Path(__file__).resolve().parents[1] / "test-artifacts")
    path = Path(root) / "browser"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``), closed on exit."""
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class PageLog:
    """What a page did: console errors, uncaught exceptions, dialogs, requests off the file."""

    def __init__(self, page: Any, allow: tuple[str, ...] = ("file:", "data:", "blob:",
                                                            "about:")) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.remote: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("dialog", self._dialog)

        def route(r: Any) -> None:
            if r.request.url.startswith(allow):
                r.continue_()
            else:
                self.remote.append(r.request.url)
                r.abort()

        page.route("**/*", route)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()
