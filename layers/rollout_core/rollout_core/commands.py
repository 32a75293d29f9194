"""Operator commands (pause, resume, promote, abort, approve), validated against the state machine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import promotion
from .history import notify, record
from .machine import stop
from .models import Phase, Rollout


class CommandRefused(Exception):
    """The command does not apply to the rollout in its state (HTTP 409)."""


STEERABLE = frozenset({Phase.PROVISIONING, Phase.SHIFTING, Phase.BAKING})


def command(rollout: Rollout, action: str, now: datetime, who: str = "operator") -> Rollout:
    """pause | resume | promote | abort | approve, validated against the state machine."""
    phase = rollout.phase
    if phase.terminal:
        raise CommandRefused(f"rollout {rollout.rollout_id} is {phase.value}: nothing to {action}")
    if action == "approve":  # issue 11: a manual gate (promotion.py)
        refused = promotion.refusal(rollout, now)
        if refused:
            raise CommandRefused(refused)
        return promotion.approve(rollout, now, who)
    if action == "abort":
        if phase is Phase.ROLLING_BACK:
            raise CommandRefused(f"rollout {rollout.rollout_id} is already rolling back ({rollout.reason})")
        if phase is Phase.PROMOTING:
            raise CommandRefused("the candidate is being promoted; abort is possible once the update completes")
        verb = "declined" if phase is Phase.WAITING else "aborted"  # a WAITING rollout never started
        stopped = stop(rollout, Phase.ABORTED, f"{verb} by {who}", now)
        return record(stopped.model_copy(update={"paused": False}), now, "abort", f"{verb} by {who}", None, [])
    if phase not in STEERABLE:
        raise CommandRefused(f"cannot {action} a rollout that is {phase.value}")
    if action == "pause":
        if rollout.paused:
            raise CommandRefused(f"rollout {rollout.rollout_id} is already paused")
        paused = notify(rollout.model_copy(update={"paused": True, "paused_at": now}), "paused", f"paused by {who}")
        return record(paused, now, "paused", f"paused by {who}: weights held", None, [])
    if action == "resume":
        if not rollout.paused:
            raise CommandRefused(f"rollout {rollout.rollout_id} is not paused")
        # The current step bakes again in full after a pause; the time paused does not count
        # toward max_duration_seconds.
        held = (now - rollout.paused_at).total_seconds() if rollout.paused_at else 0
        update: dict[str, Any] = {
            "paused": False,
            "paused_at": None,
            "paused_seconds": rollout.paused_seconds + held,
            "step_started_at": now if phase is Phase.BAKING else None,
        }
        resumed = notify(rollout.model_copy(update=update), "resumed", f"resumed by {who}")
        return record(resumed, now, "resumed", f"resumed by {who}", None, [])
    if action == "promote":
        if rollout.first_deployment:
            raise CommandRefused("a first deployment has no steps to skip")
        if rollout.fast_forward:
            raise CommandRefused(f"rollout {rollout.rollout_id} is already being promoted")
        held = (now - rollout.paused_at).total_seconds() if rollout.paused_at else 0
        promoted = notify(
            rollout.model_copy(
                update={
                    "fast_forward": True,
                    "paused": False,
                    "paused_at": None,
                    "paused_seconds": rollout.paused_seconds + held,
                }
            ),
            "promote_requested",
            f"promote requested by {who}: straight to 100 %, then the final bake and alarm check",
        )
        return record(promoted, now, "promote requested", f"by {who}", None, [])
    raise CommandRefused(f"unknown command {action!r}")
