"""WAITING (rollout_core/promotion.py): the soak, the manual gate, approve and decline, pure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from rollout_core import commands, machine, promotion, versions
from rollout_core.commands import CommandRefused
from rollout_core.models import AlarmState, Gate, Observations, Phase, Rollout, Target

from .world import PACKAGE, World, target

UPSTREAM_ALARM = "sagemaker-rollout-churn-dev-5xx"


def follower(soak: int = 600, gate: Gate = Gate.AUTO, source: str = "after:dev") -> Target:
    return target().model_copy(update={"source": source, "soak_seconds": soak, "gate": gate})


def arrived(world: World, tgt: Target, reached_ago: int = 0) -> Rollout:
    fresh = machine.new_rollout(tgt, PACKAGE, world.now, salt="after-dev-abc", trigger="promotion")
    return promotion.waiting_rollout(
        fresh,
        tgt,
        world.now,
        reached_at=world.now - timedelta(seconds=reached_ago),
        upstream=tgt.upstream,
        upstream_rollout_id="abc",
        upstream_alarms=[UPSTREAM_ALARM] if tgt.upstream else [],
    )


def decide(world: World, r: Rollout, alarm: AlarmState = AlarmState.OK) -> Rollout:
    obs = Observations(endpoint=None, alarms={UPSTREAM_ALARM: alarm}, alarm_reasons={UPSTREAM_ALARM: "5xx > 1%"})
    decided, actions = machine.decide(r, obs, world.now)
    assert actions == [] or decided.phase.terminal  # nothing touches the endpoint while WAITING
    return decided


def test_an_arrival_waits_without_announcing_a_start():
    world = World()
    r = arrived(world, follower())
    assert r.phase is Phase.WAITING
    assert [n.milestone for n in r.outbox] == ["waiting"]
    assert "soaking" in promotion.waiting_for(r)


def test_the_soak_counts_from_when_the_package_reached_100_percent_upstream():
    world = World()
    r = decide(world, arrived(world, follower(soak=600), reached_ago=300))
    assert r.phase is Phase.WAITING
    world.now += timedelta(seconds=299)
    assert decide(world, r).phase is Phase.WAITING
    world.now += timedelta(seconds=1)
    released = decide(world, r)
    assert released.phase is Phase.PENDING
    assert released.promotion is not None and released.promotion.soaked_at == world.now
    assert released.promotion.released_at == world.now
    assert "started" in [n.milestone for n in released.outbox]  # announced only when released


def test_an_upstream_guard_alarm_during_the_soak_cancels_it():
    world = World()
    r = arrived(world, follower())
    world.now += timedelta(seconds=60)
    cancelled = decide(world, r, AlarmState.ALARM)
    assert cancelled.phase is Phase.ABORTED
    assert "soak cancelled" in cancelled.reason and UPSTREAM_ALARM in cancelled.reason


def test_an_alarm_after_the_soak_no_longer_matters():
    world = World()
    r = arrived(world, follower(soak=60, gate=Gate.MANUAL))
    world.now += timedelta(seconds=60)
    at_gate = decide(world, r)
    assert at_gate.phase is Phase.WAITING and not promotion.soaking(at_gate)
    world.now += timedelta(seconds=60)
    assert decide(world, at_gate, AlarmState.ALARM).phase is Phase.WAITING


def test_a_manual_gate_waits_for_an_operator_and_records_who_approved():
    world = World()
    r = arrived(world, follower(soak=0, gate=Gate.MANUAL))
    world.now += timedelta(hours=5)
    assert decide(world, r).phase is Phase.WAITING
    approved = commands.command(r, "approve", world.now, "arn:aws:iam::123456789012:role/alice")
    assert approved.promotion is not None and str(approved.promotion.approved_by).endswith("role/alice")
    assert "gate_approved" in [n.milestone for n in approved.outbox]
    released = decide(world, approved)
    assert released.phase is Phase.PENDING
    assert "approved by arn:aws:iam::123456789012:role/alice" in released.history[-1].reason


def test_approve_is_refused_while_soaking_twice_or_without_a_manual_gate():
    world = World()
    soaking = arrived(world, follower(soak=600, gate=Gate.MANUAL))
    with pytest.raises(CommandRefused, match="still soaking"):
        commands.command(soaking, "approve", world.now, "alice")
    auto = arrived(world, follower(soak=600))
    with pytest.raises(CommandRefused, match="no manual gate"):
        commands.command(auto, "approve", world.now, "alice")
    gated = arrived(world, follower(soak=0, gate=Gate.MANUAL))
    once = commands.command(gated, "approve", world.now, "alice")
    with pytest.raises(CommandRefused, match="already approved by alice"):
        commands.command(once, "approve", world.now, "bob")


def test_approve_is_refused_for_a_running_rollout():
    world = World()
    running = machine.new_rollout(target(), PACKAGE, world.now)
    with pytest.raises(CommandRefused, match="only a rollout WAITING"):
        commands.command(running, "approve", world.now, "alice")


def test_abort_declines_a_waiting_rollout_and_announces_it():
    world = World()
    r = arrived(world, follower(soak=0, gate=Gate.MANUAL))
    declined = commands.command(r, "abort", world.now, "bob")
    assert declined.phase is Phase.ABORTED
    assert declined.reason == "declined by bob"
    assert "aborted" in [n.milestone for n in declined.outbox]


def test_superseding_a_waiting_rollout_ends_it_without_touching_the_endpoint():
    world = World()
    r = arrived(world, follower())
    stopped = machine.stop(r, Phase.SUPERSEDED, "v3 reached the gate after it", world.now)
    assert stopped.phase is Phase.SUPERSEDED
    assert machine.decide(stopped, Observations(endpoint=None), world.now)[1] == []


def test_an_upstream_start_of_another_package_interrupts_only_a_soak_in_progress():
    world = World()
    r = arrived(world, follower())
    other = PACKAGE.replace("/2", "/3")
    assert promotion.interrupted(r, other, world.now)
    assert not promotion.interrupted(r, PACKAGE, world.now)  # its own start upstream
    assert not promotion.interrupted(r, other, world.now - timedelta(seconds=1))  # before it arrived
    gated = decide(world, arrived(world, follower(soak=0, gate=Gate.MANUAL)))
    assert not promotion.interrupted(gated, other, world.now)  # soaked already: waiting for an operator


def test_a_registry_target_behind_a_manual_gate_waits_too():
    assert follower(soak=0, gate=Gate.MANUAL, source="registry").waits
    assert not target().waits
    with pytest.raises(ValidationError, match="soak_seconds needs an upstream"):
        follower(soak=60, source="registry").model_validate(follower(soak=60, source="registry").model_dump())


def test_versions_table_says_where_each_version_is():
    world = World()
    waiting = arrived(world, follower(soak=0, gate=Gate.MANUAL))
    row = versions.table([waiting], None)[0]
    assert (row["version"], row["state"]) == (2, "waiting")
    assert row["waiting"]["for"] == "operator"
    assert versions.version_number("arn:aws:sagemaker:us-east-1:1:model-package/g/12") == 12
