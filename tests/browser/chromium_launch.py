"""Debian's Chromium for the browser tier: found and launched, or one line that says why not."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]


def chromium_path() -> str:
    found = os.environ.get("POLARIS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).is_file():
        pytest.fail("Chromium not found: install Debian's package (`sudo apt-get install chromium`) or set "
                    "POLARIS_CHROMIUM to a Chromium binary; the browser tier never downloads one.", pytrace=False)
    return found


def launch_chromium(playwright):
    """Debian's Chromium, headless, or a test failure in one line that says why."""
    executable = chromium_path()
    try:
        return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:  # playwright raises its own Error type with a long log
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        pytest.fail(f"Chromium at {executable} could not be launched: {first_line}", pytrace=False)
