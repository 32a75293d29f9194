"""Operator commands (pause, resume, promote, abort) and the milestones a rollout announces."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rollout_core import commands, machine
from rollout_core.commands import CommandRefused
from rollout_core.models import AlarmState, Phase

from .test_machine import run, start
from .world import BASELINE, World, step, target


def baking_at_10(world: World):
    return run(world, start(world, target(bake=300)), until=Phase.BAKING)


def test_pause_holds_the_weights_until_resume_then_bakes_again():
    world = World()
    rollout = commands.command(baking_at_10(world), "pause", world.now)
    for _ in range(20):
        world.now += timedelta(seconds=120)
        world.complete()
        rollout = step(world, rollout)
    assert rollout.phase is Phase.BAKING
    assert rollout.current_step_percent == 10
    view = world.view()
    assert view is not None
    assert view.percentages[rollout.candidate.variant_name] == 10
    rollout = commands.command(rollout, "resume", world.now)
    resumed_at = world.now
    world.now += timedelta(seconds=299)
    assert step(world, rollout).phase is Phase.BAKING, "the step bakes again in full after a resume"
    world.now = resumed_at + timedelta(seconds=301)
    assert step(world, rollout).phase is Phase.SHIFTING


def test_a_paused_rollout_still_rolls_back_on_an_alarm():
    world = World()
    rollout = commands.command(baking_at_10(world), "pause", world.now)
    world.alarms["churn-5xx"] = AlarmState.ALARM
    rollout = run(world, rollout)
    assert rollout.phase is Phase.ROLLED_BACK
    assert world.serving_models() == {BASELINE.model_name: 100}


def test_promote_skips_the_remaining_steps_but_not_the_final_bake():
    world = World()
    rollout = commands.command(baking_at_10(world), "promote", world.now)
    rollout = step(world, rollout)
    assert rollout.phase is Phase.SHIFTING
    assert rollout.current_step_percent == 100
    world.complete()
    rollout = step(world, rollout)
    assert rollout.phase is Phase.BAKING  # the final bake at 100 %
    world.alarms["churn-5xx"] = AlarmState.ALARM
    rollout = run(world, rollout)
    assert rollout.phase is Phase.ROLLED_BACK, "the final alarm check still applies"


def test_promote_then_success():
    world = World()
    rollout = run(world, commands.command(baking_at_10(world), "promote", world.now))
    assert rollout.phase is Phase.SUCCEEDED
    assert world.serving_models() == {rollout.candidate.model_name: 100}


def test_abort_goes_back_to_the_baseline():
    world = World()
    rollout = run(world, commands.command(baking_at_10(world), "abort", world.now))
    assert rollout.phase is Phase.ABORTED
    assert world.serving_models() == {BASELINE.model_name: 100}


@pytest.mark.parametrize(
    ("setup", "action", "message"),
    [
        ("succeeded", "promote", "is SUCCEEDED"),
        ("succeeded", "abort", "is SUCCEEDED"),
        ("baking", "resume", "is not paused"),
        ("paused", "pause", "already paused"),
        ("rolling_back", "abort", "already rolling back"),
        ("rolling_back", "pause", "cannot pause a rollout that is ROLLING_BACK"),
        ("pending", "promote", "cannot promote a rollout that is PENDING"),
        ("baking", "dance", "unknown command"),
    ],
)
def test_commands_that_do_not_apply_are_refused_with_the_reason(setup, action, message):
    world = World()
    rollout = start(world)
    if setup != "pending":
        rollout = baking_at_10(world)
    if setup == "succeeded":
        rollout = run(world, rollout)
    elif setup == "paused":
        rollout = commands.command(rollout, "pause", world.now)
    elif setup == "rolling_back":
        rollout = commands.command(rollout, "abort", world.now)
    with pytest.raises(CommandRefused, match=message):
        commands.command(rollout, action, world.now)


def test_first_deployment_cannot_be_promoted():
    world = World.empty()
    rollout = step(world, start(world))
    with pytest.raises(CommandRefused, match="first deployment"):
        commands.command(rollout, "promote", world.now)


def test_milestones_of_a_happy_path():
    world = World()
    rollout = run(world, start(world))
    assert rollout.phase is Phase.SUCCEEDED
    assert world.notes == ["started", "step_advanced", "step_advanced", "step_advanced", "succeeded"]
    assert rollout.outbox == []


def test_rollback_announcement_names_the_alarm_and_its_reason():
    world = World()
    rollout = baking_at_10(world)
    world.alarms["churn-5xx"] = AlarmState.ALARM
    obs = world.observe(rollout).model_copy(
        update={"alarm_reasons": {"churn-5xx": "Threshold Crossed: 1 datapoint [7.0] >= 1.0"}}
    )
    decided, _ = machine.decide(rollout, obs, world.now)
    assert "churn-5xx (Threshold Crossed: 1 datapoint [7.0] >= 1.0)" in decided.reason
    rollout = run(world, decided)
    assert world.notes[-1] == "rolled_back"
    assert rollout.reason.startswith("guard alarm in ALARM: churn-5xx (Threshold Crossed")
