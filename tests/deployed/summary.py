"""Lines the deployed-layer tests print at the end of the pytest run (see conftest.py)."""

from __future__ import annotations

lines: list[str] = []
