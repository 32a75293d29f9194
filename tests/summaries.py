"""pytest plugin: the sections of lines the suites print at the end of the run.

A suite registers a section and a function that returns its lines (``register``). With
pytest-xdist (``make test`` runs ``-n``), tests run in worker processes whose own terminal
summary is never shown: each worker sends its sections to the controller when it finishes
(xdist's ``workeroutput``), and the controller prints them, one section per name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

PROVIDERS: dict[str, Callable[[], list[str]]] = {}
FROM_WORKERS: dict[str, list[str]] = {}
KEY = "summaries"


def register(section: str, lines: Callable[[], list[str]]) -> None:
    PROVIDERS[section] = lines


def _own() -> dict[str, list[str]]:
    return {section: lines() for section, lines in PROVIDERS.items()}


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller prints
        workeroutput[KEY] = json.dumps(_own())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    for section, lines in json.loads(getattr(node, "workeroutput", {}).get(KEY, "{}")).items():
        FROM_WORKERS.setdefault(section, []).extend(lines)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    sections: dict[str, list[str]] = {}
    for source in (_own(), FROM_WORKERS):
        for section, lines in source.items():
            sections.setdefault(section, []).extend(lines)
    for section, lines in sections.items():
        if lines:
            terminalreporter.section(section)
            for line in lines:
                terminalreporter.write_line(line)
