"""Suite-wide fixtures: every test sees the same console width, whatever terminal or COLUMNS it runs under."""

from __future__ import annotations

import pytest

TEST_COLUMNS = 80  # the width of a pipe or a log, and the narrowest terminal the CLI is laid out for


@pytest.fixture(autouse=True)
def _fixed_console_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich sizes output from the terminal (or COLUMNS) it finds at start-up, so a test run from a wide
    terminal and one under xdist or CI would see different wrapping. Pin both CLI consoles to 80 columns;
    tests that need another width set it themselves."""
    from unmask.cli import common

    monkeypatch.setattr(common.console, "width", TEST_COLUMNS)
    monkeypatch.setattr(common.err_console, "width", TEST_COLUMNS)
