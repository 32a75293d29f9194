"""The canary's steps (pure): SHIFTING (the candidate's capacity, then its share of the traffic)
and BAKING (guard alarms and the canary analysis judge each step), then on to PROMOTING.

machine.decide() is the one entry point; it calls ``shifting`` and ``baking`` for their phases,
and ``shift`` moves a rollout to a step (from PROVISIONING, or from a baked step).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import analysis, capacity, guards, naming
from .decisions import (
    BUSY_STATUSES,
    MAX_ATTEMPTS,
    Decision,
    backing_off,
    finish,
    record_decision,
    request,
    weights_match,
)
from .history import notify
from .models import Action, EndpointView, Observations, Phase, Rollout, UpdateCapacity, UpdateWeights
from .rollback import start_rollback


def shifting(r: Rollout, obs: Observations, now: datetime) -> Decision:
    ep = obs.endpoint
    if ep is None or ep.status in BUSY_STATUSES:
        return r, []
    if ep.config_name != r.desired_config:
        return finish(r, obs, now, Phase.FAILED, _changed_outside(ep), [])
    if r.paused and not _weights_in_place(r, ep):
        return r, []  # paused: no further weight (or capacity) is sent; the current weights hold
    if r.desired_instances:
        ((variant, wanted),) = r.desired_instances.items()
        if ep.instances.get(variant, 0) >= wanted:
            # Capacity first, then weight: the candidate can now take its share.
            ready = r.model_copy(update={"desired_instances": {}, "requested_at": now, "attempts": 0})
            action = UpdateWeights(endpoint_name=r.endpoint_name, weights=r.desired_weights)
            reason = f"candidate at {ep.instances[variant]} instances"
            return record_decision(ready, obs, now, f"shifting to {r.current_step_percent}%", reason, [action])
        action_c = UpdateCapacity(endpoint_name=r.endpoint_name, variant_name=variant, instance_count=wanted)
        return _retry(r, obs, now, action_c, f"candidate capacity ({ep.instances.get(variant, 0)} of {wanted})")
    if weights_match(ep, r.desired_weights):
        nxt = r.model_copy(update={"phase": Phase.BAKING, "step_started_at": now})
        return record_decision(nxt, obs, now, "baking", f"traffic at {r.current_step_percent}%", [])
    return _retry(r, obs, now, UpdateWeights(endpoint_name=r.endpoint_name, weights=r.desired_weights), "weights")


def baking(r: Rollout, obs: Observations, now: datetime) -> Decision:
    ep = obs.endpoint
    if ep is None or ep.status in BUSY_STATUSES:
        return r, []
    if ep.config_name != r.desired_config:
        return finish(r, obs, now, Phase.FAILED, _changed_outside(ep), [])
    if not weights_match(ep, r.desired_weights):
        if r.paused:
            return r, []  # paused: the weights as they are hold
        shifting = r.model_copy(update={"phase": Phase.SHIFTING})
        return _retry(
            shifting, obs, now, UpdateWeights(endpoint_name=r.endpoint_name, weights=r.desired_weights), "weights"
        )
    last = len(r.target.plan.steps) - 1
    if r.fast_forward and r.step_index < last and not r.paused:  # a pause after the promote holds
        return shift(r, obs, now, last, "operator promoted: remaining steps skipped")
    # --- canary analysis (analysis.py): a critical check that fails rolls back at once ---
    r, critical = analysis.review(r, obs, now)
    if critical is not None:
        return start_rollback(r, obs, now, Phase.ROLLED_BACK, critical)
    # ---
    started = r.step_started_at or now
    if (now - started).total_seconds() < r.target.plan.bake_seconds:
        return r, []
    if r.paused or guards.holding(r, obs):
        return r, []
    # --- canary analysis: the step goes on only on a PASS; Inconclusive holds it ---
    judged = analysis.verdict(r, now)
    if judged.failed is not None:
        return start_rollback(r, obs, now, Phase.ROLLED_BACK, judged.failed)
    if not judged.go:
        return r, []
    # ---
    if r.step_index + 1 < len(r.target.plan.steps):
        return shift(r, obs, now, r.step_index + 1, "step baked with guard alarms OK" + judged.note)
    update = {
        "phase": Phase.PROMOTING,
        "desired_config": naming.final_config(r.endpoint_name, r.rollout_id, r.type_attempt),
        "desired_weights": {r.candidate.variant_name: 100},
        "attempts": 0,
    }
    return request(r.model_copy(update=update), obs, now, "promoting", "100% baked with guard alarms OK" + judged.note)


def shift(r: Rollout, obs: Observations, now: datetime, step: int, reason: str) -> Decision:
    """Move to ``step``: the candidate's capacity for its new share first, then the weights."""
    assert r.baseline is not None
    percent = r.target.plan.steps[step]
    base, cand = r.baseline.variant_name, r.candidate.variant_name
    weights = {base: 100 - percent, cand: percent}
    ep = obs.endpoint
    seen = ep.instances if ep is not None else {}
    full = max(r.full_capacity or r.baseline.instance_count, seen.get(base, 0))
    wanted = capacity.candidate_instances(r.target, full, percent)
    update: dict[str, Any] = {
        "phase": Phase.SHIFTING,
        "step_index": step,
        "desired_weights": weights,
        "requested_at": now,
        "attempts": 0,
        "step_started_at": None,
        "full_capacity": full,
    }
    action: Action
    if seen.get(cand, r.candidate.instance_count) < wanted:
        update["desired_instances"] = {cand: wanted}
        action = UpdateCapacity(endpoint_name=r.endpoint_name, variant_name=cand, instance_count=wanted)
        reason = f"{reason}; candidate to {wanted} instances first"
    else:
        update["desired_instances"] = {}
        action = UpdateWeights(endpoint_name=r.endpoint_name, weights=weights)
    shifted = notify(r.model_copy(update=update), "step_advanced", f"traffic to the candidate: {percent}% ({reason})")
    return record_decision(shifted, obs, now, f"shifting to {percent}%", reason, [action])


def _retry(r: Rollout, obs: Observations, now: datetime, action: Action, what: str) -> Decision:
    """Ask again for a weights/capacity change that is not in place.

    A request SageMaker accepted and that did not take effect counts; one that was refused
    (``requested_at`` is None) does not. After MAX_ATTEMPTS the rollout goes back to the baseline.
    """
    attempts = r.attempts
    if r.requested_at is None and backing_off(r, now):
        return r, []
    if r.requested_at is not None:
        attempts += 1
        if attempts >= MAX_ATTEMPTS:
            return start_rollback(r, obs, now, Phase.FAILED, f"{what} not applied after {attempts} requests")
    nxt = r.model_copy(update={"requested_at": now, "attempts": attempts})
    return record_decision(nxt, obs, now, "retrying", f"{what} differ from the plan", [action])


def _weights_in_place(r: Rollout, ep: EndpointView) -> bool:
    return not r.desired_instances and weights_match(ep, r.desired_weights)


def _changed_outside(ep: EndpointView) -> str:
    return f"endpoint changed outside the rollout (now on config {ep.config_name}); left alone"
