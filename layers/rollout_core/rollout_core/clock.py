"""The one place the shell reads the time. The sandbox sets a simulated source."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


def _wall_clock() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _wall_clock


def now() -> datetime:
    return _source()


def set_source(source: Callable[[], datetime] | None) -> None:
    """Use ``source`` as the clock (None: the wall clock again)."""
    global _source  # noqa: PLW0603 - one process-wide clock, set by the sandbox only
    _source = source or _wall_clock
