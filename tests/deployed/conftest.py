"""The layer and the runtime's Python: what the run used is printed at its end."""

from __future__ import annotations

from tests import summaries

from . import summary

summaries.register("deployed layer and runtime", lambda: summary.lines)
