"""The one place the shell reads the time. The sandbox sets a simulated source."""

from __future__ import annotations

import time
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


_timer: Callable[[], float] = time.monotonic


def monotonic() -> float:
    """Seconds on a clock that only goes forward (to time a call: the smoke test's latencies)."""
    return _timer()


def set_timer(source: Callable[[], float] | None) -> None:
    """Use ``source`` as the stopwatch (None: time.monotonic again)."""
    global _timer  # noqa: PLW0603 - one process-wide stopwatch, set by the sandbox only
    _timer = source or time.monotonic
