"""Prints what the exploration covered at the end of the run (pytest captures test output)."""

from __future__ import annotations

from typing import Any

REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORT:
        terminalreporter.section("exploration")
        for line in REPORT:
            terminalreporter.write_line(line)
