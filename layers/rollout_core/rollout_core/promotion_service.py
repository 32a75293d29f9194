"""The shell of promotion across environments: arrivals are recorded WAITING, released ones take
the endpoint. The decisions are promotion.py's; RolloutService calls in here for WAITING rollouts.

Where a rollout comes from (``Target.source``):
- ``registry``: a Model Registry approval (model approval function); with ``gate: manual`` it
  waits at the gate first (``arrive``);
- ``after:<environment>``: that environment's stack announcing ``Rollout Succeeded`` for a
  package of the group (promotion function, ``on_upstream``). Its ``Rollout Started`` of
  another package cancels a soak in progress. Registry approvals are ignored.

How the downstream knows the upstream is still fine at the end of a soak: events only, no
cross-account reads. The upstream forwards its guard alarms' state changes (its own guard
alarms are named in its ``Rollout Succeeded``), and its ``Rollout Started`` of any other
package; either during the soak cancels it (docs/decisions.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from . import machine, promotion, rollout_metrics
from .aws.store import GATE, ConflictError
from .events import UpstreamMilestoneEvent
from .models import AlarmState, Observations, Phase, Rollout, Target, Trigger

if TYPE_CHECKING:
    from .service import RolloutService

logger = Logger(child=True)

RETRIES = 3


def on_upstream(service: RolloutService, event: UpstreamMilestoneEvent) -> list[Rollout]:
    """An upstream environment's Rollout Started / Rollout Succeeded for a package of a group."""
    detail = event.detail
    keys = {"package": detail.model_package_arn, "upstream": detail.environment, "milestone": event.detail_type}
    target = service.targets.get(detail.model_package_group) if detail.model_package_group else None
    if target is None:
        logger.info("no target for the upstream's group; ignored", extra=keys)
        return []
    if target.upstream is None or target.upstream != detail.environment:
        logger.info("the target does not follow this environment; ignored", extra={**keys, "source": target.source})
        return []
    if event.detail_type == "Rollout Started":
        return _interrupt(service, target, detail.model_package_arn, detail.rollout_id, event.time)
    if detail.trigger == "manual":
        # An operator's start upstream (a redeploy, a rollback by hand) stays in that environment.
        logger.info("an operator's rollout upstream is not promoted", extra=keys)
        return []
    arrived = arrive(
        service,
        target,
        detail.model_package_arn,
        reached_at=event.time,
        salt=f"after-{detail.environment}-{detail.rollout_id}",
        trigger="promotion",
        reason=f"promoted from {detail.environment} (its rollout {detail.rollout_id} succeeded)",
        upstream=detail.environment,
        upstream_rollout_id=detail.rollout_id,
        upstream_account=detail.account or event.account,
        upstream_alarms=detail.guard_alarms,
    )
    return [arrived] if arrived else []


def arrive(
    service: RolloutService,
    target: Target,
    package_arn: str,
    *,
    reached_at: datetime,
    salt: str,
    trigger: Trigger,
    reason: str,
    upstream: str | None = None,
    upstream_rollout_id: str | None = None,
    upstream_account: str | None = None,
    upstream_alarms: list[str] | None = None,
) -> Rollout | None:
    """Record a WAITING rollout of ``package_arn`` at the endpoint's gate (replacing the one there).

    A duplicate arrival finds its rollout; an arrival older than what the endpoint already has
    (waiting, running or serving) is ignored, so events out of order never bring back an older
    version; a package rejected since is ignored.
    """
    if service.sagemaker.approval_status(package_arn) == "Rejected":
        logger.info("model package was rejected since; not promoted", extra={"package": package_arn})
        return None
    for _ in range(RETRIES):
        now = service.now()
        fresh = machine.new_rollout(target, package_arn, now, salt=salt, reason=reason, trigger=trigger)
        if service.store.get(fresh.rollout_id) is not None:
            logger.info("arrival already recorded", extra={"rollout_id": fresh.rollout_id})
            return service.advance(fresh.rollout_id)
        newer = _newer(service, target.endpoint_name, reached_at)
        if newer is not None:
            logger.info(
                "a newer version already reached this environment; arrival ignored",
                extra={"package": package_arn, "newer_rollout": newer.rollout_id},
            )
            return None
        holder_id = service.store.lock_owner(target.endpoint_name, GATE)
        holder = service.store.get(holder_id) if holder_id else None
        replaced = None
        if holder is not None and holder.live:
            replaced = machine.stop(holder, Phase.SUPERSEDED, f"{package_arn} reached the gate after it", now)
        waiting = promotion.waiting_rollout(
            fresh,
            target,
            now,
            reached_at=reached_at,
            upstream=upstream,
            upstream_rollout_id=upstream_rollout_id,
            upstream_account=upstream_account,
            upstream_alarms=upstream_alarms,
        )
        try:
            created = service.store.create(waiting, stale_owner=holder_id, superseded=replaced, slot=GATE)
        except ConflictError:
            logger.info("lost a race for the gate; reading again", extra={"endpoint": target.endpoint_name})
            continue
        logger.info("rollout waiting", extra={"rollout_id": created.rollout_id, "endpoint": created.endpoint_name})
        if replaced is not None and holder_id:
            service.advance(holder_id)  # announces its end
        return service.advance(created.rollout_id)
    raise ConflictError(f"could not record {package_arn} at the gate after {RETRIES} tries")


def advance_waiting(
    service: RolloutService,
    rollout: Rollout,
    alarm_states: dict[str, AlarmState] | None = None,
    alarm_reasons: dict[str, str] | None = None,
) -> Rollout:
    """One decision for a WAITING rollout (no AWS reads: upstream alarms arrive as events)."""
    for _ in range(RETRIES):
        p = rollout.promotion
        names = p.upstream_alarms if p is not None else []
        alarms = {n: (alarm_states or {})[n] for n in names if n in (alarm_states or {})}
        obs = Observations(
            endpoint=None, alarms=alarms, alarm_reasons={n: (alarm_reasons or {}).get(n, "") for n in alarms}
        )
        decided, _ = machine.decide(rollout, obs, service.now())
        if decided == rollout:
            return service._announce_and_finish(rollout) if rollout.outbox else rollout
        try:
            if decided.phase is Phase.PENDING:
                return _claim(service, rollout, decided)
            saved = service.store.save(decided)
        except ConflictError:
            current = service.store.get(rollout.rollout_id)
            if current is None or current.phase is not Phase.WAITING:
                return current or rollout
            rollout = current
            continue
        saved = service._announce_and_finish(saved)
        if saved.phase != rollout.phase:
            service._on_phase_change(rollout, saved)
        return saved
    return rollout


def _claim(service: RolloutService, waiting: Rollout, released: Rollout) -> Rollout:
    """The released rollout leaves the gate and takes the endpoint's lock (superseding its owner)."""
    now = service.now()
    if service.sagemaker.approval_status(released.model_package_arn) == "Rejected":
        stopped = machine.stop(waiting, Phase.ABORTED, f"model package rejected: {released.model_package_arn}", now)
        return service._announce_and_finish(service.store.save(stopped))
    owner_id = service.store.lock_owner(released.endpoint_name)
    owner = service.store.get(owner_id) if owner_id else None
    superseded = None
    if owner is not None and owner.live:
        superseded = machine.stop(owner, Phase.SUPERSEDED, f"superseded by {released.model_package_arn}", now)
        released = released.model_copy(update={"predecessor_id": owner.rollout_id})
    claimed = service.store.claim(
        released, stale_owner=owner_id, superseded=superseded if superseded is not owner else None
    )
    rollout_metrics.count("RolloutsStarted")
    logger.info("rollout released", extra={"rollout_id": claimed.rollout_id, "endpoint": claimed.endpoint_name})
    claimed = service._announce_and_finish(claimed)
    if owner is not None and owner.live:
        service.advance(owner.rollout_id)
    return service.advance(claimed.rollout_id) or claimed


def _interrupt(
    service: RolloutService, target: Target, other_package: str, upstream_rollout_id: str, at: datetime
) -> list[Rollout]:
    """The upstream started a rollout of another package: a soak in progress here is cancelled."""
    holder_id = service.store.lock_owner(target.endpoint_name, GATE)
    holder = service.store.get(holder_id) if holder_id else None
    if holder is None or not promotion.interrupted(holder, other_package, at):
        return []
    assert holder.promotion is not None
    reason = (
        f"soak cancelled: {holder.promotion.upstream} started a rollout of {other_package} "
        f"(its rollout {upstream_rollout_id}): {holder.model_package_arn} no longer serves 100 % there"
    )
    stopped = service.stop(holder.rollout_id, Phase.ABORTED, reason)
    return [stopped] if stopped else []


def _newer(service: RolloutService, endpoint_name: str, reached_at: datetime) -> Rollout | None:
    """A rollout of the endpoint (at its gate, holding it, or serving) that reached it later."""
    store = service.store
    for rollout_id in (
        store.lock_owner(endpoint_name, GATE),
        store.lock_owner(endpoint_name),
        store.serving_rollout(endpoint_name),
    ):
        rollout = store.get(rollout_id) if rollout_id else None
        if rollout is not None and rollout.promotion is not None and rollout.promotion.reached_at > reached_at:
            return rollout
    return None


def alarm_since(rollout: Rollout) -> datetime:
    """From when an ALARM event counts against ``rollout``: its soak's start for a WAITING one."""
    if rollout.phase is Phase.WAITING and rollout.promotion is not None:
        return rollout.promotion.reached_at
    return rollout.created_at
