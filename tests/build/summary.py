"""Lines the build tests print at the end of the pytest run (see conftest.py)."""

from __future__ import annotations

lines: list[str] = []
