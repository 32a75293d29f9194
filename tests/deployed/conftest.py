"""The layer and the runtime's Python: what the run used is printed at its end."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from . import summary

    if summary.lines:
        terminalreporter.section("deployed layer and runtime")
        for line in summary.lines:
            terminalreporter.write_line(line)
