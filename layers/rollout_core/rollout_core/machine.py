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

from datetime import datetime
from typing import Any

from . import (
    analysis,
    canary_steps,
    candidate_alarms,
    changes,
    fallbacks,
    guards,
    naming,
    preflight,
    promotion,
    shadow,
    smoke,
)
from .decisions import (
    BUSY_STATUSES,
    MAX_ATTEMPTS,
    Decision,
    finish,
    request,
    request_outcome,
    settled_on,
    update_failed,
)
from .history import notify, record
from .models import (
    BaselineConfig,
    DeleteEndpoint,
    Observations,
    Phase,
    Rollout,
    Target,
    Trigger,
    VariantSpec,
)
from .rollback import rolling_back, start_rollback, unpaused

# Every change of phase decide(), stop() and errors.on_action_error can make. docs/how-rollouts-work.md
# draws exactly these (tests/unit/test_docs.py), and the tests check every transition they see
# is one of them (tests/unit/world.py).
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    # issue 11 (promotion.py): released, or ended before its turn (cancelled soak, rejected,
    # declined, replaced at the gate).
    Phase.WAITING: frozenset({Phase.PENDING, Phase.ABORTED, Phase.SUPERSEDED}),
    Phase.PENDING: frozenset(
        {Phase.SHADOWING, Phase.PROVISIONING, Phase.SUCCEEDED, Phase.FAILED, Phase.ABORTED, Phase.SUPERSEDED}
    ),
    Phase.SHADOWING: frozenset({Phase.PROVISIONING, Phase.FAILED, Phase.ROLLING_BACK}),
    Phase.PROVISIONING: frozenset({Phase.SHIFTING, Phase.SUCCEEDED, Phase.FAILED, Phase.ROLLING_BACK}),
    Phase.SHIFTING: frozenset({Phase.BAKING, Phase.FAILED, Phase.ROLLING_BACK}),
    Phase.BAKING: frozenset({Phase.SHIFTING, Phase.PROMOTING, Phase.FAILED, Phase.ROLLING_BACK}),
    Phase.PROMOTING: frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.ROLLING_BACK}),
    Phase.ROLLING_BACK: frozenset({Phase.ROLLED_BACK, Phase.ABORTED, Phase.SUPERSEDED, Phase.FAILED}),
}


def new_rollout(
    target: Target,
    model_package_arn: str,
    now: datetime,
    *,
    salt: str = "",
    predecessor_id: str | None = None,
    reason: str = "model package approved",
    approved_at: datetime | None = None,
    alarm_prefix: str = "",
    trigger: Trigger = "approval",
) -> Rollout:
    """A PENDING rollout of ``model_package_arn`` onto the target's endpoint.

    ``alarm_prefix``: the stack's AlarmNamePrefix, which the candidate's own alarms are named with.
    """
    rid = naming.rollout_id(model_package_arn, salt)
    spec = target.candidate_alarm_spec
    metrics = spec.metrics if spec is not None else []
    own_alarms = {m: naming.candidate_alarm(alarm_prefix, target.endpoint_name, rid, m) for m in metrics}
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
        candidate_alarms=own_alarms,
        created_at=now,
        updated_at=now,
        trigger=trigger,
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
    if rollout.phase is Phase.WAITING:  # issue 11: nothing on the endpoint; announced (promotion.py)
        ended = notify(rollout.model_copy(update={"phase": outcome, "reason": reason}), outcome.value.lower(), reason)
        return record(ended, now, "stopped", reason, None, [])
    if outcome is Phase.SUPERSEDED and (rollout.first_deployment or rollout.phase is Phase.PROMOTING):
        return rollout
    changed = rollout.model_copy(
        update={"phase": Phase.ROLLING_BACK, "outcome": outcome, "reason": reason, **unpaused(rollout, now)}
    )
    return record(changed, now, "stop requested", reason, None, [])


def decide(rollout: Rollout, obs: Observations, now: datetime) -> Decision:
    """The next state of ``rollout`` and the actions that get the endpoint there."""
    if rollout.phase.terminal:
        return rollout, list(rollout.finishing)  # repeated until finished() acknowledges them
    if rollout.phase is Phase.WAITING:
        return promotion.waiting(rollout, obs, now)  # issue 11: soak and gate (promotion.py)
    if rollout.phase is Phase.PENDING:
        return _pending(rollout, obs, now)
    if rollout.phase is Phase.ROLLING_BACK:
        return rolling_back(rollout, obs, now)
    decided, actions = _forward(rollout, obs, now)
    return decided, candidate_alarms.repair(decided, obs) + actions


def _forward(rollout: Rollout, obs: Observations, now: datetime) -> Decision:
    firing = guards.firing(rollout, obs)
    if firing and not rollout.first_deployment and rollout.phase is not Phase.PROMOTING:
        reason = "guard alarm in ALARM: " + ", ".join(
            f"{name} ({obs.alarm_reasons[name]})" if obs.alarm_reasons.get(name) else name for name in firing
        )
        return start_rollback(rollout, obs, now, Phase.ROLLED_BACK, reason)
    if _overdue(rollout, now) and rollout.phase is not Phase.PROMOTING:
        reason = f"rollout exceeded its max duration ({rollout.target.plan.max_duration_seconds}s)"
        reason = analysis.overdue_reason(rollout, reason)  # a step held for want of traffic says so
        reason = shadow.overdue_reason(rollout, reason)
        if rollout.first_deployment:
            return finish(rollout, obs, now, Phase.FAILED, reason, [])
        return start_rollback(rollout, obs, now, Phase.FAILED, reason)
    if rollout.phase is Phase.SHADOWING:
        return shadow.shadowing(rollout, obs, now)
    if rollout.phase is Phase.PROVISIONING:
        return _provisioning(rollout, obs, now)
    if rollout.phase is Phase.SHIFTING:
        return canary_steps.shifting(rollout, obs, now)
    if rollout.phase is Phase.BAKING:
        return canary_steps.baking(rollout, obs, now)
    return _promoting(rollout, obs, now)


def _pending(r: Rollout, obs: Observations, now: datetime) -> Decision:
    if obs.predecessor_live:
        return r, []
    ep = obs.endpoint
    update: dict[str, Any]
    if ep is None:
        choice = fallbacks.choose(r.target, None, obs)
        if choice.target is None:
            return finish(r, obs, now, Phase.FAILED, choice.reason(), [])  # before touching anything
        r, fell_back = fallbacks.apply(r, choice)
        update = {
            "phase": Phase.PROVISIONING,
            "baseline": None,
            "candidate_alarms": {},  # nothing to roll back to: nothing for alarms to do
            "desired_config": naming.final_config(r.endpoint_name, r.rollout_id, r.type_attempt),
            "desired_weights": {r.candidate.variant_name: 100},
        }
        reason = "first deployment: creating the endpoint" + fell_back + preflight.warnings(obs)
        return request(r.model_copy(update=update), obs, now, "provisioning", reason)
    if ep.status in BUSY_STATUSES:
        return r, []
    if ep.status != "InService":
        reason = f"endpoint is {ep.status}: {ep.failure_reason or 'no reason given'}"
        return finish(r, obs, now, Phase.FAILED, reason, [])
    if obs.unsupported:
        return finish(r, obs, now, Phase.FAILED, obs.unsupported, [])
    serving = obs.serving_variant
    if serving is None:
        return finish(r, obs, now, Phase.FAILED, "cannot tell which variant serves", [])
    if serving.variant_name == r.candidate.variant_name:
        return finish(r, obs, now, Phase.SUCCEEDED, "candidate already serves all traffic", [])
    choice = fallbacks.choose(r.target, serving, obs)
    if choice.target is None:
        return finish(r, obs, now, Phase.FAILED, choice.reason(), [])  # before touching the endpoint
    r, fell_back = fallbacks.apply(r, choice)
    candidate = r.candidate.model_copy(update={"settings": changes.candidate_settings(r.candidate, serving)})
    update = {
        "phase": Phase.PROVISIONING,
        "baseline": serving,
        "candidate": candidate,
        "baseline_config": obs.baseline_config or BaselineConfig(),
        "autoscaling": obs.autoscaling,
        "full_capacity": serving.instance_count,
        "desired_config": naming.rollout_config(r.endpoint_name, r.rollout_id, r.type_attempt),
        "desired_weights": {serving.variant_name: 100, candidate.variant_name: 0},
    }
    if shadow.applies(r):  # issue 13: the candidate is first the shadow variant (shadow.py)
        return shadow.start(r, update, obs, now, fell_back + preflight.warnings(obs))
    reason = f"candidate joins baseline {serving.variant_name} at weight 0" + fell_back + preflight.warnings(obs)
    joined, actions = request(r.model_copy(update=update), obs, now, "provisioning", reason)
    return joined, candidate_alarms.put(joined) + actions


def _provisioning(r: Rollout, obs: Observations, now: datetime) -> Decision:
    ep = obs.endpoint
    if ep is None:
        if r.first_deployment:
            return request(r, obs, now, "retrying", "endpoint not created yet")
        return finish(r, obs, now, Phase.FAILED, "endpoint no longer exists", [])
    if ep.status in BUSY_STATUSES:
        return r, []
    seen = request_outcome(r, ep)
    if seen == "done":
        if r.first_deployment:
            return finish(r, obs, now, Phase.SUCCEEDED, "endpoint in service", changes.after_promotion(r))
        # --- the smoke test, before any traffic (smoke.py) ---
        smoked = smoke.gate(r, obs, now)
        if isinstance(smoked, str):
            return start_rollback(r, obs, now, Phase.FAILED, smoked)
        if smoked is not None:
            return smoked
        # ---
        if r.paused:
            # paused (after a promote too: the later command holds): the candidate stays at
            # weight 0 (the smoke test sent no user traffic)
            return r, []
        if r.fast_forward:
            last = len(r.target.plan.steps) - 1
            return canary_steps.shift(r, obs, now, last, "candidate in service; operator promoted")
        return canary_steps.shift(r, obs, now, 0, "candidate in service" + smoke.note(r))
    if ep.status == "UpdateRollbackFailed" and not r.first_deployment:
        return start_rollback(r, obs, now, Phase.FAILED, update_failed(ep, obs))
    if seen == "failed":
        if r.first_deployment:
            return finish(
                r, obs, now, Phase.FAILED, update_failed(ep, obs), [DeleteEndpoint(endpoint_name=r.endpoint_name)]
            )
        return _not_joined(r, obs, now, update_failed(ep, obs))
    if seen == "changed":
        if r.attempts + 1 >= MAX_ATTEMPTS:
            reason = f"endpoint update did not take effect after {r.attempts + 1} requests ({settled_on(ep, r)})"
            return _not_joined(r, obs, now, reason)
        return request(r, obs, now, "retrying", settled_on(ep, r), count=True)
    return request(r, obs, now, "retrying", "endpoint update not applied yet")


def _not_joined(r: Rollout, obs: Observations, now: datetime, reason: str) -> Decision:
    """The candidate did not join at weight 0. After a shadow phase the endpoint still holds the
    shadow: the way back removes it. Otherwise nothing of the candidate is on the endpoint."""
    if r.shadow is not None:
        return start_rollback(r, obs, now, Phase.FAILED, reason)
    return finish(r, obs, now, Phase.FAILED, reason, changes.discard_candidate(r))


def _promoting(r: Rollout, obs: Observations, now: datetime) -> Decision:
    ep = obs.endpoint
    if ep is None:
        return finish(r, obs, now, Phase.FAILED, "endpoint no longer exists", [])
    if ep.status in BUSY_STATUSES:
        return r, []
    seen = request_outcome(r, ep)
    if seen == "done":
        return finish(r, obs, now, Phase.SUCCEEDED, "candidate promoted", changes.promoted(r))
    if ep.status == "UpdateRollbackFailed":
        return start_rollback(r, obs, now, Phase.FAILED, update_failed(ep, obs))
    if seen in ("failed", "changed"):
        what = update_failed(ep, obs) if seen == "failed" else settled_on(ep, r)
        if r.attempts + 1 >= MAX_ATTEMPTS:
            return start_rollback(r, obs, now, Phase.FAILED, f"promotion failed {r.attempts + 1} times: {what}")
        return request(r, obs, now, "retrying", f"promotion did not take effect: {what}", count=True)
    return request(r, obs, now, "retrying", "promotion not applied yet")


def _overdue(r: Rollout, now: datetime) -> bool:
    """Running longer than max_duration_seconds, time spent paused excluded."""
    paused = r.paused_seconds + ((now - r.paused_at).total_seconds() if r.paused_at else 0)
    return (now - r.created_at).total_seconds() - paused > r.target.plan.max_duration_seconds
