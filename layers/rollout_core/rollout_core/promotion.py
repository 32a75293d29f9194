"""WAITING: a rollout that reached its environment and waits for its turn (pure, no AWS calls).

A target that follows another environment (``source: after:<environment>``) or stands behind a
manual gate records each arrival WAITING instead of taking the endpoint at once:
- an upstream environment's ``Rollout Succeeded`` for a package of the group (or, for a registry
  target behind a manual gate, the approval) makes a WAITING rollout, which takes the
  endpoint's *gate* slot: a later arrival replaces it (SUPERSEDED);
- the soak (``soak_seconds``, counted from when the package reached 100 % upstream) passes
  unless, meanwhile, one of the upstream's guard alarms goes to ALARM (the upstream's alarm
  events reach this stack's controller) or the upstream starts a rollout of another package
  (the package no longer serves 100 % there): either cancels it (ABORTED, with the reason);
- with ``gate: manual`` an operator approves it (``approve``), recorded with their identity, or
  declines it (``abort``);
- then it is *released*: PENDING, and the shell takes the endpoint's lock for it (superseding
  a live rollout, as an approval does). ``Rollout Started`` is announced then, not before:
  a downstream environment reads it as "the package it soaks no longer serves 100 % here".

``decide`` (machine.py) hands WAITING rollouts to ``waiting``; commands.py calls ``approve``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .decisions import Decision, finish, record_decision
from .history import notify, record
from .models import AlarmState, Gate, Observations, Phase, Promotion, Rollout, Target


def waiting_rollout(
    fresh: Rollout,
    target: Target,
    now: datetime,
    *,
    reached_at: datetime,
    upstream: str | None = None,
    upstream_rollout_id: str | None = None,
    upstream_account: str | None = None,
    upstream_alarms: list[str] | None = None,
) -> Rollout:
    """``fresh`` (a new PENDING rollout, machine.new_rollout) recorded WAITING instead.

    Nothing is announced as started yet: it is queued as waiting (soak or gate).
    """
    soak_until = reached_at + timedelta(seconds=target.soak_seconds) if target.soak_seconds else None
    promotion = Promotion(
        upstream=upstream,
        upstream_rollout_id=upstream_rollout_id,
        upstream_account=upstream_account,
        reached_at=reached_at,
        upstream_alarms=list(upstream_alarms or []),
        soak_until=soak_until,
        gate=target.gate,
    )
    rollout = fresh.model_copy(update={"phase": Phase.WAITING, "promotion": promotion, "outbox": []})
    text = waiting_for(rollout)
    return notify(record(rollout, now, "waiting", text, None, []), "waiting", text)


def soaking(r: Rollout, now: datetime | None = None) -> bool:
    """Its soak is not over (at ``now``, or as far as recorded when ``now`` is None)."""
    p = r.promotion
    if p is None or p.soak_until is None or p.soaked_at is not None:
        return False
    return now is None or now < p.soak_until


def waiting_for(r: Rollout) -> str:
    """What a WAITING rollout waits for, in words."""
    p = r.promotion
    assert p is not None
    where = f"{p.upstream}" if p.upstream else "the registry"
    if p.soak_until is not None and p.soaked_at is None:
        return f"soaking: served 100 % in {where} since {_t(p.reached_at)}, starts no sooner than {_t(p.soak_until)}"
    if p.gate is Gate.MANUAL and p.approved_at is None:
        return f"waiting at the manual gate for an operator's approval (rollout approve {r.rollout_id})"
    return "released"


def waiting(r: Rollout, obs: Observations, now: datetime) -> Decision:
    """The next state of a WAITING rollout: cancelled, still waiting, or released (PENDING)."""
    p = r.promotion
    assert p is not None, "a WAITING rollout records where it comes from"
    if soaking(r):
        firing = [name for name in p.upstream_alarms if obs.alarms.get(name) is AlarmState.ALARM]
        if firing:
            reason = f"soak cancelled: guard alarm of {p.upstream} in ALARM: " + ", ".join(
                f"{name} ({obs.alarm_reasons[name]})" if obs.alarm_reasons.get(name) else name for name in firing
            )
            return finish(r, obs, now, Phase.ABORTED, reason, [])
        assert p.soak_until is not None
        if now < p.soak_until:
            return r, []
        soaked = r.model_copy(update={"promotion": p.model_copy(update={"soaked_at": now})})
        reason = f"soaked: {r.target.soak_seconds}s at 100 % in {p.upstream} with its guard alarms OK"
        if p.gate is Gate.MANUAL and p.approved_at is None:
            soaked = notify(soaked, "waiting", waiting_for(soaked))
            return record_decision(soaked, obs, now, "soaked", f"{reason}; {waiting_for(soaked)}", [])
        return _release(soaked, obs, now, reason)
    if p.gate is Gate.MANUAL and p.approved_at is None:
        return r, []
    if p.gate is Gate.MANUAL:
        return _release(r, obs, now, f"approved by {p.approved_by}")
    return _release(r, obs, now, "nothing to wait for" if p.soak_until is None else "soaked")


def _release(r: Rollout, obs: Observations, now: datetime, reason: str) -> Decision:
    """WAITING -> PENDING; the shell takes the endpoint's lock for it (promotion_service.release)."""
    assert r.promotion is not None
    promotion = r.promotion.model_copy(update={"released_at": now})
    released = r.model_copy(update={"phase": Phase.PENDING, "promotion": promotion, "created_at": now})
    released = notify(
        released, "started", f"rollout of {r.model_package_arn} onto {r.endpoint_name} started ({reason})"
    )
    return record_decision(released, obs, now, "released", reason, [])


def approve(r: Rollout, now: datetime, who: str) -> Rollout:
    """An operator approves the manual gate (the caller checked that it applies: ``refusal``)."""
    assert r.promotion is not None
    promotion = r.promotion.model_copy(update={"approved_by": who, "approved_at": now})
    approved = notify(r.model_copy(update={"promotion": promotion}), "gate_approved", f"gate approved by {who}")
    return record(approved, now, "approved", f"gate approved by {who}", None, [])


def refusal(r: Rollout, now: datetime) -> str | None:
    """Why ``approve`` does not apply to ``r`` now (None: it does)."""
    p = r.promotion
    if r.phase is not Phase.WAITING or p is None:
        return f"rollout {r.rollout_id} is {r.phase.value}: only a rollout WAITING at a manual gate can be approved"
    if p.gate is not Gate.MANUAL:
        return f"rollout {r.rollout_id} has no manual gate: it starts by itself once its soak is over"
    if soaking(r, now):
        assert p.soak_until is not None
        return f"rollout {r.rollout_id} is still soaking until {p.soak_until.isoformat()}: approve it after that"
    if p.approved_at is not None:
        return f"rollout {r.rollout_id} was already approved by {p.approved_by}"
    return None


def interrupted(r: Rollout, other_package: str, at: datetime) -> bool:
    """An upstream rollout of ``other_package`` that started at ``at`` cancels ``r``'s soak."""
    p = r.promotion
    return (
        r.phase is Phase.WAITING
        and p is not None
        and soaking(r, at)
        and other_package != r.model_package_arn
        and at >= p.reached_at
    )


def watches(r: Rollout, alarm_name: str) -> bool:
    """``r`` soaks under ``alarm_name`` (an upstream guard alarm)."""
    return r.phase is Phase.WAITING and r.promotion is not None and alarm_name in r.promotion.upstream_alarms


def _t(at: datetime) -> str:
    return at.isoformat()
