"""ROLLING_BACK: traffic back to the baseline at once, then the candidate leaves.

A first deployment has nothing to go back to: its endpoint is deleted. An endpoint that cannot
take the way back (Failed, UpdateRollbackFailed, OutOfService) is waited for STUCK_SECONDS,
then the rollout ends FAILED saying what is left to do by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import changes, naming
from .decisions import (
    BUSY_STATUSES,
    Decision,
    backing_off,
    finish,
    record_decision,
    request,
    weights_match,
)
from .history import record
from .models import Action, ApplyAutoscaling, DeleteEndpoint, EndpointView, Observations, Phase, Rollout, UpdateWeights

# Statuses in which an endpoint cannot be given its baseline back (DescribeEndpoint: "DeleteEndpoint
# is the only operation that can be performed on a failed endpoint"; UpdateRollbackFailed needs a
# person; OutOfService takes no requests).
STUCK_STATUSES = frozenset({"Failed", "UpdateRollbackFailed", "OutOfService"})
# How long a rollback waits for an endpoint in a STUCK_STATUSES status before it gives up.
STUCK_SECONDS = 1800


def unpaused(r: Rollout, now: datetime) -> dict[str, object]:
    """The fields that end a pause: a rollback is never held by one (nothing would resume it,
    resume is refused outside the forward phases), so the pause ends when the rollback starts."""
    held = (now - r.paused_at).total_seconds() if r.paused_at else 0
    return {"paused": False, "paused_at": None, "paused_seconds": r.paused_seconds + held} if r.paused else {}


def start_rollback(r: Rollout, obs: Observations, now: datetime, outcome: Phase, reason: str) -> Decision:
    stopping = r.model_copy(
        update={
            "phase": Phase.ROLLING_BACK,
            "outcome": outcome,
            "reason": reason,
            "rollback_started_at": now,
            **unpaused(r, now),
        }
    )
    stopping = record(stopping, now, "rolling back", reason, obs, [])
    return rolling_back(stopping, obs, now)


def rolling_back(r: Rollout, obs: Observations, now: datetime) -> Decision:
    outcome = r.outcome or Phase.ROLLED_BACK
    ep = obs.endpoint
    if r.first_deployment:
        if ep is None:
            return finish(r, obs, now, outcome, r.reason, changes.discard_candidate(r))
        if ep.status in BUSY_STATUSES - {"OutOfService"}:
            return r, []
        return record_decision(
            r,
            obs,
            now,
            "removing endpoint",
            "first deployment stopped: nothing to go back to",
            [DeleteEndpoint(endpoint_name=r.endpoint_name)],
        )
    assert r.baseline is not None
    if ep is None:
        return finish(r, obs, now, Phase.FAILED, "endpoint no longer exists", [])
    if ep.status in STUCK_STATUSES:
        return _stuck(r, obs, now, ep)
    if ep.status in BUSY_STATUSES:
        return r, []
    base = r.baseline.variant_name
    if set(ep.weights) == {base} and not ep.shadows:  # the candidate gone, as a shadow too (shadow.py)
        actions = changes.discard_candidate(r)
        if r.autoscaling is not None and r.autoscaling_suspended:
            actions.append(_autoscaling_back(r))
        return finish(r, obs, now, outcome, r.reason, actions + changes.after_rollback(r, ep.config_name))
    if base in ep.weights and weights_match(ep, {v: 100 if v == base else 0 for v in ep.weights}):
        update: dict[str, Any] = {
            "desired_config": naming.rollback_config(r.endpoint_name, r.rollout_id),
            "desired_weights": {base: 100},
            "stuck_since": None,
        }
        return request(r.model_copy(update=update), obs, now, "removing candidate", "baseline at 100%")
    if base in ep.weights:
        if r.requested_at is None and backing_off(r, now):
            return r, []
        weights = {v: 100 if v == base else 0 for v in ep.weights}
        update = {"desired_weights": weights, "requested_at": now, "stuck_since": None}
        action = UpdateWeights(endpoint_name=r.endpoint_name, weights=weights)
        return record_decision(r.model_copy(update=update), obs, now, "baseline to 100%", r.reason, [action])
    # The baseline variant is gone (the promotion went through): put the baseline back alone.
    update = {
        "desired_config": naming.rollback_config(r.endpoint_name, r.rollout_id),
        "desired_weights": {base: 100},
        "stuck_since": None,
    }
    return request(r.model_copy(update=update), obs, now, "restoring baseline", r.reason)


def _stuck(r: Rollout, obs: Observations, now: datetime, ep: EndpointView) -> Decision:
    """The endpoint cannot take the way back: wait a bounded time, then fail and say what is left."""
    since = r.stuck_since or now
    waited = (now - since).total_seconds()
    state = f"endpoint is {ep.status} ({ep.failure_reason or 'no reason given'})"
    if waited < STUCK_SECONDS:
        if r.stuck_since is not None:
            return r, []
        waiting = r.model_copy(update={"stuck_since": now})
        return record_decision(waiting, obs, now, "waiting", f"{state}: cannot roll back yet", [])
    assert r.baseline is not None
    left = ", ".join(
        [r.candidate.model_name, naming.rollout_config(r.endpoint_name, r.rollout_id, r.type_attempt)]
        + changes.shadow_configs(r)
        + ([r.desired_config] if r.desired_config else [])
    )
    reason = (
        f"{r.reason}; {state} for {int(waited)}s and cannot be rolled back: restore it by hand "
        f"(UpdateEndpoint to a config serving {r.baseline.model_name} as variant {r.baseline.variant_name}, "
        f"or DeleteEndpoint and create it again), then delete what this rollout left: {left}"
    )
    return finish(r, obs, now, Phase.FAILED, reason, [])


def _autoscaling_back(r: Rollout) -> Action:
    """The baseline's autoscaling, suspended for a promotion that was then rolled back, put back."""
    assert r.baseline is not None and r.autoscaling is not None
    return ApplyAutoscaling(endpoint_name=r.endpoint_name, variant_name=r.baseline.variant_name, snapshot=r.autoscaling)
