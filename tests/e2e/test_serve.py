"""The live sandbox behind ``python -m sandbox serve`` keeps its clock running."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sandbox.serve import LiveSandbox

from .serve import ENV


def test_a_failed_pump_round_does_not_stop_the_clock(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, ENV[key])  # the credentials the served sandbox runs with
    with LiveSandbox() as live:
        real_advance = live.sandbox.jobs.advance
        rounds: list[str] = []
        went_on = threading.Event()

        def advance(*args: Any, **kwargs: Any) -> Any:
            if not rounds:
                rounds.append("failed")
                raise RuntimeError("injected: one pump round fails")
            rounds.append("ran")
            if rounds.count("ran") >= 2:
                went_on.set()
            return real_advance(*args, **kwargs)

        monkeypatch.setattr(live.sandbox.jobs, "advance", advance)
        assert went_on.wait(timeout=30), f"the pump stopped after a failed round: {rounds}"
    assert rounds[0] == "failed"
    assert any("pump round failed" in r.getMessage() and r.exc_info for r in caplog.records)
