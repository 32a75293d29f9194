"""Prints what the exploration covered at the end of the run (pytest captures test output)."""

from __future__ import annotations

from tests import summaries

REPORT: list[str] = []

summaries.register("exploration", lambda: REPORT)
