"""The rollout state machine: pure functions, no AWS calls, no clock of its own.

``decide(rollout, observations, now)`` looks at what the endpoint and alarms are doing and
returns the next state of the rollout and the actions the shell must carry out. It is
level-triggered: it compares what the rollout *wants* (``desired_config``,
``desired_weights``, ``desired_instances``) with what DescribeEndpoint *shows*, so a lost,
duplicated, late or reordered event, or a crash between two AWS calls, is repaired by the
next decision.

The shell saves the new state (a conditional write on ``version``) *before* it carries out
the actions; a concurrent decision on the same version loses the write and does nothing.

Bounds, so that nothing waits or retries for ever: an endpoint change that SageMaker accepts
and that does not take effect is requested at most MAX_ATTEMPTS times; a model or config
just created that SageMaker does not see yet is waited for LOOKUP_WINDOW_SECONDS; an endpoint
that cannot take the way back (Failed, ...) is waited for STUCK_SECONDS.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from . import capacity, changes, naming
from .history import notify, record
from .models import (
    Action,
    AlarmState,
    ApplyAutoscaling,
    BaselineConfig,
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    DeleteEndpoint,
    DeleteEndpointConfig,
    DeleteModel,
    EndpointView,
    InsufficientData,
    Observations,
    Phase,
    PruneOldModels,
    Rollout,
    SuspendAutoscaling,
    Target,
    UpdateCapacity,
    UpdateEndpoint,
    UpdateWeights,
    VariantSpec,
)

# Endpoint statuses during which SageMaker refuses another update.
BUSY_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "OutOfService"})
# Statuses in which an endpoint cannot be given its baseline back (DescribeEndpoint: "DeleteEndpoint
# is the only operation that can be performed on a failed endpoint"; UpdateRollbackFailed needs a
# person; OutOfService takes no requests).
STUCK_STATUSES = frozenset({"Failed", "UpdateRollbackFailed", "OutOfService"})
# How many times an endpoint change that SageMaker accepted and that did not take effect is requested.
MAX_ATTEMPTS = 3
# CreateEndpoint API reference: the config is read with an eventually consistent read, so a
# create/update right after CreateEndpointConfig (or a config right after CreateModel) may be
# refused with "Could not find ..." for a short while: retried for this long, then a failure.
LOOKUP_WINDOW_SECONDS = 300
# How long a rollback waits for an endpoint in a STUCK_STATUSES status before it gives up.
STUCK_SECONDS = 1800
# Error codes after which the same request is simply tried again later.
TRANSIENT_ERRORS = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "RequestLimitExceeded",
        "RetryLater",  # raised by an adapter that must wait (e.g. the async endpoint is Updating)
    }
)
# Actions that send (part of) an endpoint change: when one is refused, the change was not sent.
ENDPOINT_CHANGES = (
    CreateModel,
    CreateEndpointConfig,
    CreateEndpoint,
    UpdateEndpoint,
    UpdateWeights,
    UpdateCapacity,
    SuspendAutoscaling,
)

Decision = tuple[Rollout, list[Action]]


# --- creating and stopping -------------------------------------------------------------


def new_rollout(
    target: Target,
    model_package_arn: str,
    now: datetime,
    *,
    salt: str = "",
    predecessor_id: str | None = None,
    reason: str = "model package approved",
    approved_at: datetime | None = None,
) -> Rollout:
    """A PENDING rollout of ``model_package_arn`` onto the target's endpoint."""
    rid = naming.rollout_id(model_package_arn, salt)
    candidate = VariantSpec(
        variant_name=naming.variant_name(rid),
        model_name=naming.model_name(target.endpoint_name, rid),
        instance_type=target.instance_type,
        instance_count=target.instance_count,
    )
    rollout = Rollout(
        rollout_id=rid,
        endpoint_name=target.endpoint_name,
        model_package_arn=model_package_arn,
        model_package_group=target.model_package_group,
        target=target,
        candidate=candidate,
        predecessor_id=predecessor_id,
        approved_at=approved_at,
        reason=reason,
        created_at=now,
        updated_at=now,
    )
    rollout = notify(
        rollout, "started", f"rollout of {model_package_arn} onto {target.endpoint_name} started ({reason})"
    )
    return record(rollout, now, "created", reason, None, [])


def stop(rollout: Rollout, outcome: Phase, reason: str, now: datetime) -> Rollout:
    """Ask a live rollout to end in ``outcome`` (ABORTED, SUPERSEDED or FAILED).

    Traffic goes back to the baseline and the candidate leaves; the next ``decide`` does it.
    A first deployment (nothing to go back to) or a promotion under way is not superseded:
    it finishes, and the newer rollout starts from it.
    """
    if rollout.phase.terminal or rollout.phase is Phase.ROLLING_BACK:
        return rollout
    if rollout.phase is Phase.PENDING:
        return record(rollout.model_copy(update={"phase": outcome}), now, "stopped", reason, None, [])
    if outcome is Phase.SUPERSEDED and (rollout.first_deployment or rollout.phase is Phase.PROMOTING):
        return rollout
    changed = rollout.model_copy(update={"phase": Phase.ROLLING_BACK, "outcome": outcome, "reason": reason})
    return record(changed, now, "stop requested", reason, None, [])


def on_action_error(rollout: Rollout, action: Action, code: str, message: str, now: datetime) -> Rollout:
    """Fold an AWS error raised by one of the decided actions into the rollout.

    Transient errors (throttling, unavailability, an endpoint that is already Updating, a
    model or config just created that SageMaker does not see yet) leave the state as it is,
    with the change marked as not sent: the next decision sees the endpoint unchanged and
    asks again. Anything else ends the rollout with the baseline serving.
    """
    detail = f"{action.kind} failed: {code}: {message}"
    if rollout.phase.terminal:
        return record(rollout, now, "will retry", detail, None, [])
    if _not_visible_yet(action, code, message):
        key = rollout.desired_config or ""
        since = rollout.missing_since.get(key, now)
        waited = (now - since).total_seconds()
        if waited <= LOOKUP_WINDOW_SECONDS:
            waiting = _not_sent(rollout, action).model_copy(update={"missing_since": {key: since}})
            return record(
                waiting, now, "will retry", f"{detail} (just created: SageMaker reads it eventually)", None, []
            )
        detail = f"{detail} (still not found after {int(waited)}s)"
    elif _transient(code, message):
        return record(_not_sent(rollout, action), now, "will retry", detail, None, [])
    if rollout.phase is Phase.ROLLING_BACK or isinstance(
        action, DeleteEndpointConfig | DeleteModel | PruneOldModels | DeleteEndpoint
    ):
        # Clean-up and the way back are retried until they succeed.
        return record(rollout, now, "will retry", detail, None, [])
    if rollout.phase in (Phase.PENDING, Phase.PROVISIONING) and rollout.first_deployment:
        # What the request created for the candidate is deleted (nothing of it serves).
        failed = rollout.model_copy(
            update={"phase": Phase.FAILED, "reason": detail, "finishing": changes.discard_candidate(rollout)}
        )
        return record(failed, now, "failed", detail, None, [])
    if rollout.phase is Phase.PROVISIONING and not isinstance(action, UpdateWeights | UpdateCapacity):
        # Only a weights or capacity update can have left the candidate on the endpoint.
        failed = rollout.model_copy(
            update={"phase": Phase.FAILED, "reason": detail, "finishing": changes.discard_candidate(rollout)}
        )
        return record(failed, now, "failed", detail, None, [])
    stopping = rollout.model_copy(update={"phase": Phase.ROLLING_BACK, "outcome": Phase.FAILED, "reason": detail})
    return record(stopping, now, "rolling back", detail, None, [])


def _not_sent(rollout: Rollout, action: Action) -> Rollout:
    """The endpoint change this action belongs to was refused: it is not pending any more."""
    if isinstance(action, ENDPOINT_CHANGES):
        return rollout.model_copy(update={"requested_at": None})
    return rollout


def _not_visible_yet(action: Action, code: str, message: str) -> bool:
    """SageMaker does not see a model/config that this rollout has just created."""
    return (
        isinstance(action, CreateEndpointConfig | CreateEndpoint | UpdateEndpoint)
        and code in ("ValidationException", "ValidationError")
        and "could not find" in message.lower()
    )


def _transient(code: str, message: str) -> bool:
    if code in TRANSIENT_ERRORS:
        return True
    lowered = message.lower()
    return code == "ValidationException" and any(s in lowered for s in ("updating", "in progress", "in-progress"))


# --- deciding ----------------------------------------------------------------------------


def decide(rollout: Rollout, obs: Observations, now: datetime) -> Decision:
    """The next state of ``rollout`` and the actions that get the endpoint there."""
    if rollout.phase.terminal:
        return rollout, list(rollout.finishing)  # repeated until finished() acknowledges them
    if rollout.phase is Phase.PENDING:
        return _pending(rollout, obs, now)
    if rollout.phase is Phase.ROLLING_BACK:
        return _rolling_back(rollout, obs, now)
    firing = _firing(rollout, obs)
    if firing and not rollout.first_deployment and rollout.phase is not Phase.PROMOTING:
        reason = "guard alarm in ALARM: " + ", ".join(
            f"{name} ({obs.alarm_reasons[name]})" if obs.alarm_reasons.get(name) else name for name in firing
        )
        return _start_rollback(rollout, obs, now, Phase.ROLLED_BACK, reason)
    if _overdue(rollout, now) and rollout.phase is not Phase.PROMOTING:
        reason = f"rollout exceeded its max duration ({rollout.target.plan.max_duration_seconds}s)"
        if rollout.first_deployment:
            return _finish(rollout, obs, now, Phase.FAILED, reason, [])
        return _start_rollback(rollout, obs, now, Phase.FAILED, reason)
    if rollout.phase is Phase.PROVISIONING:
        return _provisioning(rollout, obs, now)
    if rollout.phase is Phase.SHIFTING:
        return _shifting(rollout, obs, now)
    if rollout.phase is Phase.BAKING:
        return _baking(rollout, obs, now)
    return _promoting(rollout, obs, now)


def _pending(r: Rollout, obs: Observations, now: datetime) -> Decision:
    if obs.predecessor_live:
        return r, []
    ep = obs.endpoint
    update: dict[str, Any]
    if ep is None:
        update = {
            "phase": Phase.PROVISIONING,
            "baseline": None,
            "desired_config": naming.final_config(r.endpoint_name, r.rollout_id),
            "desired_weights": {r.candidate.variant_name: 100},
        }
        return _request(
            r.model_copy(update=update), obs, now, "provisioning", "first deployment: creating the endpoint"
        )
    if ep.status in BUSY_STATUSES:
        return r, []
    if ep.status != "InService":
        reason = f"endpoint is {ep.status}: {ep.failure_reason or 'no reason given'}"
        return _finish(r, obs, now, Phase.FAILED, reason, [])
    if obs.unsupported:
        return _finish(r, obs, now, Phase.FAILED, obs.unsupported, [])
    serving = obs.serving_variant
    if serving is None:
        return _finish(r, obs, now, Phase.FAILED, "cannot tell which variant serves", [])
    if serving.variant_name == r.candidate.variant_name:
        return _finish(r, obs, now, Phase.SUCCEEDED, "candidate already serves all traffic", [])
    candidate = r.candidate.model_copy(update={"settings": changes.candidate_settings(r.candidate, serving)})
    update = {
        "phase": Phase.PROVISIONING,
        "baseline": serving,
        "candidate": candidate,
        "baseline_config": obs.baseline_config or BaselineConfig(),
        "autoscaling": obs.autoscaling,
        "full_capacity": serving.instance_count,
        "desired_config": naming.rollout_config(r.endpoint_name, r.rollout_id),
        "desired_weights": {serving.variant_name: 100, candidate.variant_name: 0},
    }
    reason = f"candidate joins baseline {serving.variant_name} at weight 0"
    return _request(r.model_copy(update=update), obs, now, "provisioning", reason)


def _provisioning(r: Rollout, obs: Observations, now: datetime) -> Decision:
    ep = obs.endpoint
    if ep is None:
        if r.first_deployment:
            return _request(r, obs, now, "retrying", "endpoint not created yet")
        return _finish(r, obs, now, Phase.FAILED, "endpoint no longer exists", [])
    if ep.status in BUSY_STATUSES:
        return r, []
    outcome = _outcome(r, ep)
    if outcome == "done":
        if r.first_deployment:
            return _finish(r, obs, now, Phase.SUCCEEDED, "endpoint in service", changes.after_promotion(r))
        if r.fast_forward:
            return _shift(r, obs, now, len(r.target.plan.steps) - 1, "candidate in service; operator promoted")
        return _shift(r, obs, now, 0, "candidate in service")
    if ep.status == "UpdateRollbackFailed" and not r.first_deployment:
        return _start_rollback(r, obs, now, Phase.FAILED, _update_failed(ep))
    if outcome == "failed":
        if r.first_deployment:
            return _finish(
                r, obs, now, Phase.FAILED, _update_failed(ep), [DeleteEndpoint(endpoint_name=r.endpoint_name)]
            )
        return _finish(r, obs, now, Phase.FAILED, _update_failed(ep), changes.discard_candidate(r))
    if outcome == "changed":
        if r.attempts + 1 >= MAX_ATTEMPTS:
            reason = f"endpoint update did not take effect after {r.attempts + 1} requests ({_settled_on(ep, r)})"
            return _finish(r, obs, now, Phase.FAILED, reason, changes.discard_candidate(r))
        return _request(r, obs, now, "retrying", _settled_on(ep, r), count=True)
    return _request(r, obs, now, "retrying", "endpoint update not applied yet")


def _shifting(r: Rollout, obs: Observations, now: datetime) -> Decision:
    ep = obs.endpoint
    if ep is None or ep.status in BUSY_STATUSES:
        return r, []
    if ep.config_name != r.desired_config:
        return _finish(r, obs, now, Phase.FAILED, _changed_outside(ep), [])
    if r.desired_instances:
        ((variant, wanted),) = r.desired_instances.items()
        if ep.instances.get(variant, 0) >= wanted:
            # Capacity first, then weight: the candidate can now take its share.
            ready = r.model_copy(update={"desired_instances": {}, "requested_at": now, "attempts": 0})
            action = UpdateWeights(endpoint_name=r.endpoint_name, weights=r.desired_weights)
            reason = f"candidate at {ep.instances[variant]} instances"
            return _record_decision(ready, obs, now, f"shifting to {r.current_step_percent}%", reason, [action])
        action_c = UpdateCapacity(endpoint_name=r.endpoint_name, variant_name=variant, instance_count=wanted)
        return _retry(r, obs, now, action_c, f"candidate capacity ({ep.instances.get(variant, 0)} of {wanted})")
    if _weights_match(ep, r.desired_weights):
        nxt = r.model_copy(update={"phase": Phase.BAKING, "step_started_at": now})
        return _record_decision(nxt, obs, now, "baking", f"traffic at {r.current_step_percent}%", [])
    return _retry(r, obs, now, UpdateWeights(endpoint_name=r.endpoint_name, weights=r.desired_weights), "weights")


def _baking(r: Rollout, obs: Observations, now: datetime) -> Decision:
    ep = obs.endpoint
    if ep is None or ep.status in BUSY_STATUSES:
        return r, []
    if ep.config_name != r.desired_config:
        return _finish(r, obs, now, Phase.FAILED, _changed_outside(ep), [])
    if not _weights_match(ep, r.desired_weights):
        shifting = r.model_copy(update={"phase": Phase.SHIFTING})
        return _retry(
            shifting, obs, now, UpdateWeights(endpoint_name=r.endpoint_name, weights=r.desired_weights), "weights"
        )
    last = len(r.target.plan.steps) - 1
    if r.fast_forward and r.step_index < last:
        return _shift(r, obs, now, last, "operator promoted: remaining steps skipped")
    started = r.step_started_at or now
    if (now - started).total_seconds() < r.target.plan.bake_seconds:
        return r, []
    if r.paused or _holding(r, obs):
        return r, []
    if r.step_index + 1 < len(r.target.plan.steps):
        return _shift(r, obs, now, r.step_index + 1, "step baked with guard alarms OK")
    update = {
        "phase": Phase.PROMOTING,
        "desired_config": naming.final_config(r.endpoint_name, r.rollout_id),
        "desired_weights": {r.candidate.variant_name: 100},
        "attempts": 0,
    }
    return _request(r.model_copy(update=update), obs, now, "promoting", "100% baked with guard alarms OK")


def _promoting(r: Rollout, obs: Observations, now: datetime) -> Decision:
    ep = obs.endpoint
    if ep is None:
        return _finish(r, obs, now, Phase.FAILED, "endpoint no longer exists", [])
    if ep.status in BUSY_STATUSES:
        return r, []
    outcome = _outcome(r, ep)
    if outcome == "done":
        return _finish(r, obs, now, Phase.SUCCEEDED, "candidate promoted", changes.promoted(r))
    if ep.status == "UpdateRollbackFailed":
        return _start_rollback(r, obs, now, Phase.FAILED, _update_failed(ep))
    if outcome in ("failed", "changed"):
        what = _update_failed(ep) if outcome == "failed" else _settled_on(ep, r)
        if r.attempts + 1 >= MAX_ATTEMPTS:
            return _start_rollback(r, obs, now, Phase.FAILED, f"promotion failed {r.attempts + 1} times: {what}")
        return _request(r, obs, now, "retrying", f"promotion did not take effect: {what}", count=True)
    return _request(r, obs, now, "retrying", "promotion not applied yet")


def _rolling_back(r: Rollout, obs: Observations, now: datetime) -> Decision:
    outcome = r.outcome or Phase.ROLLED_BACK
    ep = obs.endpoint
    if r.first_deployment:
        if ep is None:
            return _finish(r, obs, now, outcome, r.reason, changes.discard_candidate(r))
        if ep.status in BUSY_STATUSES - {"OutOfService"}:
            return r, []
        return _record_decision(
            r,
            obs,
            now,
            "removing endpoint",
            "first deployment stopped: nothing to go back to",
            [DeleteEndpoint(endpoint_name=r.endpoint_name)],
        )
    assert r.baseline is not None
    if ep is None:
        return _finish(r, obs, now, Phase.FAILED, "endpoint no longer exists", [])
    if ep.status in STUCK_STATUSES:
        return _stuck(r, obs, now, ep)
    if ep.status in BUSY_STATUSES:
        return r, []
    base = r.baseline.variant_name
    if set(ep.weights) == {base}:
        actions = changes.discard_candidate(r)
        if r.autoscaling is not None and r.autoscaling_suspended:
            actions.append(_autoscaling_back(r))
        return _finish(r, obs, now, outcome, r.reason, actions)
    if base in ep.weights and _weights_match(ep, {v: 100 if v == base else 0 for v in ep.weights}):
        update: dict[str, Any] = {
            "desired_config": naming.rollback_config(r.endpoint_name, r.rollout_id),
            "desired_weights": {base: 100},
            "stuck_since": None,
        }
        return _request(r.model_copy(update=update), obs, now, "removing candidate", "baseline at 100%")
    if base in ep.weights:
        weights = {v: 100 if v == base else 0 for v in ep.weights}
        update = {"desired_weights": weights, "requested_at": now, "stuck_since": None}
        action = UpdateWeights(endpoint_name=r.endpoint_name, weights=weights)
        return _record_decision(r.model_copy(update=update), obs, now, "baseline to 100%", r.reason, [action])
    # The baseline variant is gone (the promotion went through): put the baseline back alone.
    update = {
        "desired_config": naming.rollback_config(r.endpoint_name, r.rollout_id),
        "desired_weights": {base: 100},
        "stuck_since": None,
    }
    return _request(r.model_copy(update=update), obs, now, "restoring baseline", r.reason)


def _stuck(r: Rollout, obs: Observations, now: datetime, ep: EndpointView) -> Decision:
    """The endpoint cannot take the way back: wait a bounded time, then fail and say what is left."""
    since = r.stuck_since or now
    waited = (now - since).total_seconds()
    state = f"endpoint is {ep.status} ({ep.failure_reason or 'no reason given'})"
    if waited < STUCK_SECONDS:
        if r.stuck_since is not None:
            return r, []
        waiting = r.model_copy(update={"stuck_since": now})
        return _record_decision(waiting, obs, now, "waiting", f"{state}: cannot roll back yet", [])
    assert r.baseline is not None
    left = ", ".join(
        [r.candidate.model_name, naming.rollout_config(r.endpoint_name, r.rollout_id)]
        + ([r.desired_config] if r.desired_config else [])
    )
    reason = (
        f"{r.reason}; {state} for {int(waited)}s and cannot be rolled back: restore it by hand "
        f"(UpdateEndpoint to a config serving {r.baseline.model_name} as variant {r.baseline.variant_name}, "
        f"or DeleteEndpoint and create it again), then delete what this rollout left: {left}"
    )
    return _finish(r, obs, now, Phase.FAILED, reason, [])


# --- helpers -----------------------------------------------------------------------------


def _autoscaling_back(r: Rollout) -> Action:
    """The baseline's autoscaling, suspended for a promotion that was then rolled back, put back."""
    assert r.baseline is not None and r.autoscaling is not None
    return ApplyAutoscaling(endpoint_name=r.endpoint_name, variant_name=r.baseline.variant_name, snapshot=r.autoscaling)


def _shift(r: Rollout, obs: Observations, now: datetime, step: int, reason: str) -> Decision:
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
    return _record_decision(shifted, obs, now, f"shifting to {percent}%", reason, [action])


def _retry(r: Rollout, obs: Observations, now: datetime, action: Action, what: str) -> Decision:
    """Ask again for a weights/capacity change that is not in place.

    A request SageMaker accepted and that did not take effect counts; one that was refused
    (``requested_at`` is None) does not. After MAX_ATTEMPTS the rollout goes back to the baseline.
    """
    attempts = r.attempts
    if r.requested_at is not None:
        attempts += 1
        if attempts >= MAX_ATTEMPTS:
            return _start_rollback(r, obs, now, Phase.FAILED, f"{what} not applied after {attempts} requests")
    nxt = r.model_copy(update={"requested_at": now, "attempts": attempts})
    return _record_decision(nxt, obs, now, "retrying", f"{what} differ from the plan", [action])


def _start_rollback(r: Rollout, obs: Observations, now: datetime, outcome: Phase, reason: str) -> Decision:
    stopping = r.model_copy(
        update={"phase": Phase.ROLLING_BACK, "outcome": outcome, "reason": reason, "rollback_started_at": now}
    )
    stopping = record(stopping, now, "rolling back", reason, obs, [])
    return _rolling_back(stopping, obs, now)


def _request(r: Rollout, obs: Observations, now: datetime, event: str, reason: str, *, count: bool = False) -> Decision:
    """Ask for ``r.desired_config`` (creating what it needs); idempotent when repeated.

    ``count``: the previous request of the same config was accepted and did not take effect.
    """
    ep = obs.endpoint
    update: dict[str, Any] = {
        "requested_at": now,
        "attempts": r.attempts + 1 if count else r.attempts,
        "failure_seen": ep.failure_reason if ep is not None else None,
    }
    actions, suspends = changes.for_desired_config(r)
    if suspends:
        update["autoscaling_suspended"] = True
    return _record_decision(r.model_copy(update=update), obs, now, event, reason, actions)


def finished(rollout: Rollout, now: datetime) -> Rollout:
    """The finishing actions of a terminal rollout have all been carried out."""
    if not rollout.finishing:
        return rollout
    return record(rollout.model_copy(update={"finishing": []}), now, "cleaned up", "finishing actions done", None, [])


def _finish(
    r: Rollout, obs: Observations, now: datetime, phase: Phase, reason: str, actions: Sequence[Action]
) -> Decision:
    update = {"phase": phase, "outcome": None, "reason": reason, "finishing": list(actions), "paused": False}
    done = notify(r.model_copy(update=update), phase.value.lower(), f"rollout {phase.value}: {reason}")
    return _record_decision(done, obs, now, phase.value.lower(), reason, list(actions))


def _outcome(r: Rollout, ep: EndpointView) -> str:
    """done / failed / changed / not-sent, for the config change this rollout asked for.

    "failed" needs SageMaker's evidence: a Failed (or UpdateRollbackFailed) endpoint, or a
    FailureReason that appeared after the request. An endpoint that settled on another config
    after the request with no such evidence is "changed" (an autoscaling or system update may
    have moved LastModifiedTime after a request that was never accepted): asked again, counted.
    """
    if ep.config_name == r.desired_config and ep.status == "InService":
        return "done"
    if ep.status in ("Failed", "UpdateRollbackFailed"):
        return "failed"
    # Strictly after: the change that completed just before the request (the predecessor's
    # last one) carries the same time on a coarse clock and is not this request's outcome.
    if r.requested_at is None or ep.last_modified <= r.requested_at:
        return "not-sent"
    if ep.failure_reason and ep.failure_reason != r.failure_seen:
        return "failed"
    return "changed"


def _update_failed(ep: EndpointView) -> str:
    return f"endpoint update failed: {ep.failure_reason or ep.status}"


def _settled_on(ep: EndpointView, r: Rollout) -> str:
    return f"endpoint settled on config {ep.config_name}, not {r.desired_config}, with no failure reason"


def _weights_match(ep: EndpointView, desired: dict[str, int]) -> bool:
    actual = ep.percentages
    return set(actual) == set(desired) and all(actual[v] == w for v, w in desired.items())


def _firing(r: Rollout, obs: Observations) -> list[str]:
    return [name for name in r.target.guard_alarms if obs.alarms.get(name) is AlarmState.ALARM]


def _holding(r: Rollout, obs: Observations) -> bool:
    if r.target.plan.insufficient_data is InsufficientData.OK:
        return False
    return any(
        obs.alarms.get(name, AlarmState.INSUFFICIENT_DATA) is AlarmState.INSUFFICIENT_DATA
        for name in r.target.guard_alarms
    )


def _overdue(r: Rollout, now: datetime) -> bool:
    return (now - r.created_at).total_seconds() > r.target.plan.max_duration_seconds


def _changed_outside(ep: EndpointView) -> str:
    return f"endpoint changed outside the rollout (now on config {ep.config_name}); left alone"


def _record_decision(
    r: Rollout, obs: Observations | None, now: datetime, event: str, reason: str, actions: list[Action]
) -> Decision:
    return record(r, now, event, reason, obs, actions), actions
