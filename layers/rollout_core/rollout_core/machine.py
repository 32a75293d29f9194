"""The rollout state machine: pure functions, no AWS calls, no clock of its own.

``decide(rollout, observations, now)`` looks at what the endpoint and alarms are doing and
returns the next state of the rollout and the actions the shell must carry out. It is
level-triggered: it compares what the rollout *wants* (``desired_config``,
``desired_weights``) with what DescribeEndpoint *shows*, so a lost, duplicated, late or
reordered event, or a crash between two AWS calls, is repaired by the next decision.

The shell saves the new state (a conditional write on ``version``) *before* it carries out
the actions; a concurrent decision on the same version loses the write and does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from . import naming
from .models import (
    Action,
    AlarmState,
    ApplyAutoscaling,
    CreateEndpoint,
    CreateEndpointConfig,
    CreateModel,
    DeleteEndpoint,
    DeleteEndpointConfig,
    DeleteModel,
    EndpointView,
    HistoryEntry,
    InsufficientData,
    Notification,
    Observations,
    Phase,
    PruneOldModels,
    Rollout,
    SuspendAutoscaling,
    Target,
    UpdateAsyncEndpoint,
    UpdateEndpoint,
    UpdateWeights,
    VariantSpec,
)

# Endpoint statuses during which SageMaker refuses another update.
BUSY_STATUSES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "OutOfService"})
# How many times an endpoint update that SageMaker accepted and then failed is requested.
MAX_ATTEMPTS = 3
HISTORY_LIMIT = 200
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
        reason=reason,
        created_at=now,
        updated_at=now,
    )
    rollout = _notify(
        rollout, "started", f"rollout of {model_package_arn} onto {target.endpoint_name} started ({reason})"
    )
    return _record(rollout, now, "created", reason, None, [])


def stop(rollout: Rollout, outcome: Phase, reason: str, now: datetime) -> Rollout:
    """Ask a live rollout to end in ``outcome`` (ABORTED, SUPERSEDED or FAILED).

    Traffic goes back to the baseline and the candidate leaves; the next ``decide`` does it.
    A first deployment (nothing to go back to) or a promotion under way is not superseded:
    it finishes, and the newer rollout starts from it.
    """
    if rollout.phase.terminal or rollout.phase is Phase.ROLLING_BACK:
        return rollout
    if rollout.phase is Phase.PENDING:
        return _record(rollout.model_copy(update={"phase": outcome}), now, "stopped", reason, None, [])
    if outcome is Phase.SUPERSEDED and (rollout.first_deployment or rollout.phase is Phase.PROMOTING):
        return rollout
    changed = rollout.model_copy(update={"phase": Phase.ROLLING_BACK, "outcome": outcome, "reason": reason})
    return _record(changed, now, "stop requested", reason, None, [])


def on_action_error(rollout: Rollout, action: Action, code: str, message: str, now: datetime) -> Rollout:
    """Fold an AWS error raised by one of the decided actions into the rollout.

    Transient errors (throttling, unavailability, an endpoint that is already Updating)
    leave the state as it is: the next decision sees the endpoint unchanged and asks
    again. Anything else ends the rollout with the baseline serving.
    """
    detail = f"{action.kind} failed: {code}: {message}"
    if _transient(code, message) or rollout.phase.terminal:
        return _record(rollout, now, "will retry", detail, None, [])
    if rollout.phase is Phase.ROLLING_BACK or isinstance(
        action, DeleteEndpointConfig | DeleteModel | PruneOldModels | DeleteEndpoint
    ):
        # Clean-up and the way back are retried until they succeed.
        return _record(rollout, now, "will retry", detail, None, [])
    if rollout.phase in (Phase.PENDING, Phase.PROVISIONING) and rollout.first_deployment:
        return _record(
            # What the request created for the candidate is deleted (nothing of it serves).
            rollout.model_copy(
                update={"phase": Phase.FAILED, "reason": detail, "finishing": _discard_candidate(rollout)}
            ),
            now,
            "failed",
            detail,
            None,
            [],
        )
    if rollout.phase is Phase.PROVISIONING and not _candidate_on_endpoint_possible(action):
        failed = rollout.model_copy(
            update={"phase": Phase.FAILED, "reason": detail, "finishing": _discard_candidate(rollout)}
        )
        return _record(failed, now, "failed", detail, None, [])
    stopping = rollout.model_copy(update={"phase": Phase.ROLLING_BACK, "outcome": Phase.FAILED, "reason": detail})
    return _record(stopping, now, "rolling back", detail, None, [])


def _candidate_on_endpoint_possible(action: Action) -> bool:
    """In PROVISIONING only a failed weights update can leave the candidate on the endpoint."""
    return isinstance(action, UpdateWeights)


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
    changes: dict[str, Any]
    if ep is None:
        changes = {
            "phase": Phase.PROVISIONING,
            "baseline": None,
            "desired_config": naming.final_config(r.endpoint_name, r.rollout_id),
            "desired_weights": {r.candidate.variant_name: 100},
        }
        nxt = r.model_copy(update=changes)
        return _request(nxt, obs, now, "provisioning", "first deployment: creating the endpoint")
    if ep.status in BUSY_STATUSES:
        return r, []
    if ep.status != "InService":
        reason = f"endpoint is {ep.status}: {ep.failure_reason or 'no reason given'}"
        return _finish(r, obs, now, Phase.FAILED, reason, [])
    serving = obs.serving_variant
    if serving is None:
        return _finish(r, obs, now, Phase.FAILED, "cannot tell which variant serves", [])
    if serving.variant_name == r.candidate.variant_name:
        return _finish(r, obs, now, Phase.SUCCEEDED, "candidate already serves all traffic", [])
    changes = {
        "phase": Phase.PROVISIONING,
        "baseline": serving,
        "autoscaling": obs.autoscaling,
        "desired_config": naming.rollout_config(r.endpoint_name, r.rollout_id),
        "desired_weights": {serving.variant_name: 100, r.candidate.variant_name: 0},
    }
    nxt = r.model_copy(update=changes)
    reason = f"candidate joins baseline {serving.variant_name} at weight 0"
    return _request(nxt, obs, now, "provisioning", reason)


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
            return _finish(r, obs, now, Phase.SUCCEEDED, "endpoint in service", _after_promotion(r))
        if r.fast_forward:
            return _shift(r, obs, now, len(r.target.plan.steps) - 1, "candidate in service; operator promoted")
        return _shift(r, obs, now, 0, "candidate in service")
    if outcome == "failed" or ep.status == "Failed":
        reason = f"endpoint update failed: {ep.failure_reason or ep.status}"
        if r.first_deployment:
            return _finish(r, obs, now, Phase.FAILED, reason, [DeleteEndpoint(endpoint_name=r.endpoint_name)])
        return _finish(r, obs, now, Phase.FAILED, reason, _discard_candidate(r))
    return _request(r, obs, now, "retrying", "endpoint update not applied yet")


def _shifting(r: Rollout, obs: Observations, now: datetime) -> Decision:
    ep = obs.endpoint
    if ep is None or ep.status in BUSY_STATUSES:
        return r, []
    if ep.config_name != r.desired_config:
        return _finish(r, obs, now, Phase.FAILED, _changed_outside(ep), [])
    if _weights_match(ep, r.desired_weights):
        nxt = r.model_copy(update={"phase": Phase.BAKING, "step_started_at": now})
        return _record_decision(nxt, obs, now, "baking", f"traffic at {r.current_step_percent}%", [])
    return _weights_retry(r, obs, now)


def _baking(r: Rollout, obs: Observations, now: datetime) -> Decision:
    ep = obs.endpoint
    if ep is None or ep.status in BUSY_STATUSES:
        return r, []
    if ep.config_name != r.desired_config:
        return _finish(r, obs, now, Phase.FAILED, _changed_outside(ep), [])
    if not _weights_match(ep, r.desired_weights):
        return _weights_retry(r.model_copy(update={"phase": Phase.SHIFTING}), obs, now)
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
    changes = {
        "phase": Phase.PROMOTING,
        "desired_config": naming.final_config(r.endpoint_name, r.rollout_id),
        "desired_weights": {r.candidate.variant_name: 100},
        "attempts": 0,
    }
    nxt = r.model_copy(update=changes)
    return _request(nxt, obs, now, "promoting", "100% baked with guard alarms OK")


def _promoting(r: Rollout, obs: Observations, now: datetime) -> Decision:
    ep = obs.endpoint
    if ep is None:
        return _finish(r, obs, now, Phase.FAILED, "endpoint no longer exists", [])
    if ep.status in BUSY_STATUSES:
        return r, []
    outcome = _outcome(r, ep)
    if outcome == "done":
        actions: list[Action] = []
        if r.autoscaling is not None:
            actions.append(
                ApplyAutoscaling(
                    endpoint_name=r.endpoint_name,
                    variant_name=r.candidate.variant_name,
                    snapshot=r.autoscaling,
                )
            )
        actions.append(DeleteEndpointConfig(config_name=naming.rollout_config(r.endpoint_name, r.rollout_id)))
        actions += _after_promotion(r)
        return _finish(r, obs, now, Phase.SUCCEEDED, "candidate promoted", actions)
    if outcome == "failed":
        if r.attempts >= MAX_ATTEMPTS:
            reason = f"promotion failed {r.attempts} times: {ep.failure_reason or ep.status}"
            return _start_rollback(r, obs, now, Phase.FAILED, reason)
        return _request(r, obs, now, "retrying", f"promotion failed: {ep.failure_reason or ep.status}", failed=True)
    return _request(r, obs, now, "retrying", "promotion not applied yet")


def _rolling_back(r: Rollout, obs: Observations, now: datetime) -> Decision:
    changes: dict[str, Any]
    outcome = r.outcome or Phase.ROLLED_BACK
    ep = obs.endpoint
    if r.first_deployment:
        if ep is None:
            return _finish(r, obs, now, outcome, r.reason, _discard_candidate(r))
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
    if ep.status in BUSY_STATUSES:
        return r, []
    base = r.baseline.variant_name
    if set(ep.weights) == {base}:
        actions = _discard_candidate(r)
        if r.autoscaling is not None and r.autoscaling_suspended:
            actions.append(ApplyAutoscaling(endpoint_name=r.endpoint_name, variant_name=base, snapshot=r.autoscaling))
        return _finish(r, obs, now, outcome, r.reason, actions)
    if base in ep.weights and _weights_match(ep, {v: 100 if v == base else 0 for v in ep.weights}):
        changes = {
            "desired_config": naming.rollback_config(r.endpoint_name, r.rollout_id),
            "desired_weights": {base: 100},
        }
        return _request(r.model_copy(update=changes), obs, now, "removing candidate", "baseline at 100%")
    if base in ep.weights:
        weights = {v: 100 if v == base else 0 for v in ep.weights}
        changes = {"desired_weights": weights, "requested_at": now}
        action = UpdateWeights(endpoint_name=r.endpoint_name, weights=weights)
        return _record_decision(r.model_copy(update=changes), obs, now, "baseline to 100%", r.reason, [action])
    # The baseline variant is gone (the promotion went through): put the baseline back alone.
    changes = {
        "desired_config": naming.rollback_config(r.endpoint_name, r.rollout_id),
        "desired_weights": {base: 100},
    }
    return _request(r.model_copy(update=changes), obs, now, "restoring baseline", r.reason)


# --- helpers -----------------------------------------------------------------------------


def _shift(r: Rollout, obs: Observations, now: datetime, step: int, reason: str) -> Decision:
    assert r.baseline is not None
    percent = r.target.plan.steps[step]
    weights = {r.baseline.variant_name: 100 - percent, r.candidate.variant_name: percent}
    changes = {
        "phase": Phase.SHIFTING,
        "step_index": step,
        "desired_weights": weights,
        "requested_at": now,
        "attempts": 1,
        "step_started_at": None,
    }
    action = UpdateWeights(endpoint_name=r.endpoint_name, weights=weights)
    shifted = _notify(r.model_copy(update=changes), "step_advanced", f"traffic to the candidate: {percent}% ({reason})")
    return _record_decision(shifted, obs, now, f"shifting to {percent}%", reason, [action])


def _weights_retry(r: Rollout, obs: Observations, now: datetime) -> Decision:
    if r.attempts >= MAX_ATTEMPTS:
        reason = f"weights not applied after {r.attempts} requests"
        return _start_rollback(r, obs, now, Phase.FAILED, reason)
    changes = {"requested_at": now, "attempts": r.attempts + 1}
    action = UpdateWeights(endpoint_name=r.endpoint_name, weights=r.desired_weights)
    return _record_decision(
        r.model_copy(update=changes), obs, now, "retrying", "weights differ from the plan", [action]
    )


def _start_rollback(r: Rollout, obs: Observations, now: datetime, outcome: Phase, reason: str) -> Decision:
    stopping = r.model_copy(
        update={"phase": Phase.ROLLING_BACK, "outcome": outcome, "reason": reason, "rollback_started_at": now}
    )
    stopping = _record(stopping, now, "rolling back", reason, obs, [])
    return _rolling_back(stopping, obs, now)


def _request(
    r: Rollout, obs: Observations, now: datetime, event: str, reason: str, *, failed: bool = False
) -> Decision:
    """Ask for ``r.desired_config`` (creating what it needs); idempotent when repeated."""
    assert r.desired_config is not None
    # A new request (the first, or the one after a failure) is an attempt; repeating the current
    # one (its outcome not seen yet) is not.
    new_request = failed or r.requested_at is None or r.attempts == 0
    nxt = r.model_copy(update={"requested_at": now, "attempts": r.attempts + 1 if new_request else r.attempts})
    actions: list[Action] = []
    name = r.desired_config
    if name == naming.rollout_config(r.endpoint_name, r.rollout_id):
        assert r.baseline is not None
        actions = [
            _create_model(r),
            CreateEndpointConfig(config_name=name, variants=[(r.baseline, 100), (r.candidate, 0)]),
            UpdateEndpoint(endpoint_name=r.endpoint_name, config_name=name),
        ]
    elif name == naming.final_config(r.endpoint_name, r.rollout_id):
        actions = [CreateEndpointConfig(config_name=name, variants=[(r.candidate, 100)])]
        if r.first_deployment:
            actions = [_create_model(r), *actions, CreateEndpoint(endpoint_name=r.endpoint_name, config_name=name)]
        else:
            if r.autoscaling is not None:
                assert r.baseline is not None
                # AWS: a variant under autoscaling must be deregistered before it is removed.
                actions.insert(
                    0, SuspendAutoscaling(endpoint_name=r.endpoint_name, variant_name=r.baseline.variant_name)
                )
                nxt = nxt.model_copy(update={"autoscaling_suspended": True})
            actions.append(UpdateEndpoint(endpoint_name=r.endpoint_name, config_name=name))
    else:
        assert r.baseline is not None
        actions = [
            CreateEndpointConfig(config_name=name, variants=[(r.baseline, 100)]),
            UpdateEndpoint(endpoint_name=r.endpoint_name, config_name=name),
        ]
    return _record_decision(nxt, obs, now, event, reason, actions)


def _after_promotion(r: Rollout) -> list[Action]:
    """Once the candidate serves alone: the async twin follows, old models are pruned."""
    settings = r.target.inference
    actions: list[Action] = []
    in_use = [r.candidate.model_name, r.desired_config or ""]
    if settings.async_endpoint_name:
        config = naming.async_config(settings.async_endpoint_name, r.rollout_id)
        in_use.append(config)
        actions.append(
            UpdateAsyncEndpoint(
                endpoint_name=settings.async_endpoint_name,
                config_name=config,
                model_name=r.candidate.model_name,
                instance_type=settings.async_instance_type or r.target.instance_type,
                instance_count=settings.async_instance_count,
            )
        )
    actions.append(
        PruneOldModels(
            endpoint_name=r.endpoint_name,
            keep=r.target.retain_models,
            in_use=in_use,
            async_endpoint_name=settings.async_endpoint_name,
        )
    )
    return actions


def _create_model(r: Rollout) -> CreateModel:
    return CreateModel(model_name=r.candidate.model_name, model_package_arn=r.model_package_arn)


def _discard_candidate(r: Rollout) -> list[Action]:
    """Delete what the rollout created for the candidate (never what serves)."""
    return [
        DeleteEndpointConfig(config_name=naming.rollout_config(r.endpoint_name, r.rollout_id)),
        DeleteEndpointConfig(config_name=naming.final_config(r.endpoint_name, r.rollout_id)),
        DeleteModel(model_name=r.candidate.model_name),
    ]


def finished(rollout: Rollout, now: datetime) -> Rollout:
    """The finishing actions of a terminal rollout have all been carried out."""
    if not rollout.finishing:
        return rollout
    return _record(rollout.model_copy(update={"finishing": []}), now, "cleaned up", "finishing actions done", None, [])


def _finish(
    r: Rollout, obs: Observations, now: datetime, phase: Phase, reason: str, actions: Sequence[Action]
) -> Decision:
    update = {"phase": phase, "outcome": None, "reason": reason, "finishing": list(actions), "paused": False}
    done = _notify(r.model_copy(update=update), phase.value.lower(), f"rollout {phase.value}: {reason}")
    return _record_decision(done, obs, now, phase.value.lower(), reason, list(actions))


def _outcome(r: Rollout, ep: EndpointView) -> str:
    """done / failed / not-sent, for the endpoint update this rollout asked for."""
    if ep.config_name == r.desired_config and ep.status == "InService":
        return "done"
    # Strictly after: the change that completed just before the request (the predecessor's
    # last one) carries the same time on a coarse clock and is not this request failing.
    if r.requested_at is not None and ep.last_modified > r.requested_at:
        return "failed"
    return "not-sent"


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
    return _record(r, now, event, reason, obs, actions), actions


# --- operator commands ---------------------------------------------------------------------


class CommandRefused(Exception):
    """The command does not apply to the rollout in its state (HTTP 409)."""


STEERABLE = frozenset({Phase.PROVISIONING, Phase.SHIFTING, Phase.BAKING})


def command(rollout: Rollout, action: str, now: datetime, who: str = "operator") -> Rollout:
    """pause | resume | promote | abort, validated against the state machine."""
    phase = rollout.phase
    if phase.terminal:
        raise CommandRefused(f"rollout {rollout.rollout_id} is {phase.value}: nothing to {action}")
    if action == "abort":
        if phase is Phase.ROLLING_BACK:
            raise CommandRefused(f"rollout {rollout.rollout_id} is already rolling back ({rollout.reason})")
        if phase is Phase.PROMOTING:
            raise CommandRefused("the candidate is being promoted; abort is possible once the update completes")
        stopped = stop(rollout, Phase.ABORTED, f"aborted by {who}", now)
        return _record(stopped.model_copy(update={"paused": False}), now, "abort", f"aborted by {who}", None, [])
    if phase not in STEERABLE:
        raise CommandRefused(f"cannot {action} a rollout that is {phase.value}")
    if action == "pause":
        if rollout.paused:
            raise CommandRefused(f"rollout {rollout.rollout_id} is already paused")
        paused = _notify(rollout.model_copy(update={"paused": True}), "paused", f"paused by {who}")
        return _record(paused, now, "paused", f"paused by {who}: weights held", None, [])
    if action == "resume":
        if not rollout.paused:
            raise CommandRefused(f"rollout {rollout.rollout_id} is not paused")
        # The current step bakes again in full after a pause.
        update: dict[str, Any] = {"paused": False, "step_started_at": now if phase is Phase.BAKING else None}
        resumed = _notify(rollout.model_copy(update=update), "resumed", f"resumed by {who}")
        return _record(resumed, now, "resumed", f"resumed by {who}", None, [])
    if action == "promote":
        if rollout.first_deployment:
            raise CommandRefused("a first deployment has no steps to skip")
        if rollout.fast_forward:
            raise CommandRefused(f"rollout {rollout.rollout_id} is already being promoted")
        promoted = _notify(
            rollout.model_copy(update={"fast_forward": True, "paused": False}),
            "promote_requested",
            f"promote requested by {who}: straight to 100 %, then the final bake and alarm check",
        )
        return _record(promoted, now, "promote requested", f"by {who}", None, [])
    raise CommandRefused(f"unknown command {action!r}")


MILESTONE_TYPES = {
    "started": "Rollout Started",
    "step_advanced": "Rollout Step Advanced",
    "paused": "Rollout Paused",
    "resumed": "Rollout Resumed",
    "promote_requested": "Rollout Promote Requested",
    "succeeded": "Rollout Succeeded",
    "rolled_back": "Rollout Rolled Back",
    "failed": "Rollout Failed",
    "superseded": "Rollout Superseded",
    "aborted": "Rollout Aborted",
}


def _notify(r: Rollout, milestone: str, text: str) -> Rollout:
    """Queue a milestone on the rollout; the shell announces it after the state is saved."""
    percent = r.current_step_percent
    note = Notification(
        milestone=milestone,
        detail_type=MILESTONE_TYPES[milestone],
        subject=f"[sagemaker-rollout] {r.endpoint_name}: {MILESTONE_TYPES[milestone].removeprefix('Rollout ').lower()}",
        message=f"{r.endpoint_name} / rollout {r.rollout_id} ({r.model_package_arn}): {text}",
        detail={
            "rollout_id": r.rollout_id,
            "endpoint": r.endpoint_name,
            "model_package_arn": r.model_package_arn,
            "phase": r.phase.value,
            "step_percent": percent,
            "text": text,
        },
        resources=[r.model_package_arn],
    )
    return r.model_copy(update={"outbox": [*r.outbox, note]})


def announced(rollout: Rollout) -> Rollout:
    """The outbox has been published."""
    return rollout.model_copy(update={"outbox": []})


def _record(
    r: Rollout, now: datetime, event: str, reason: str, obs: Observations | None, actions: Sequence[Action]
) -> Rollout:
    entry = HistoryEntry(
        at=now,
        phase=r.phase,
        step=r.step_index,
        event=event,
        reason=reason,
        observations=obs.summary() if obs is not None else {},
        actions=[_describe(a) for a in actions],
    )
    history = [*r.history, entry][-HISTORY_LIMIT:]
    return r.model_copy(update={"history": history, "updated_at": now})


def _describe(action: Action) -> str:
    fields: dict[str, Any] = action.model_dump(exclude={"kind", "variants", "snapshot"})
    inner = ", ".join(f"{k}={v}" for k, v in fields.items())
    return f"{action.kind}({inner})"
