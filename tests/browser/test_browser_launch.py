"""The tier fails in one clear line, never quietly, when Chromium is missing or cannot start."""
from __future__ import annotations

import pytest
from chromium_launch import chromium_path, launch_chromium


def test_a_missing_chromium_fails_with_the_command_that_installs_it(monkeypatch, tmp_path):
    monkeypatch.setenv("POLARIS_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(pytest.fail.Exception, match=r"Chromium not found: install Debian's package"):
        chromium_path()


def test_a_chromium_that_cannot_start_fails_in_one_line(monkeypatch, tmp_path, playwright_driver):
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'this is not a browser' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setenv("POLARIS_CHROMIUM", str(broken))
    with pytest.raises(pytest.fail.Exception) as failure:
        launch_chromium(playwright_driver)
    message = str(failure.value)
    assert message.startswith(f"Chromium at {broken} could not be launched: ") and "\n" not in message, message
