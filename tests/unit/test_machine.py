"""The rollout state machine, driven against a model of one endpoint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from rollout_core import errors, machine, naming
from rollout_core.models import AlarmState, Phase, RolloutPlan, Target

from .world import BASELINE, PACKAGE, World, step, target


def run(world: World, rollout, *, until: Phase | None = None, max_steps: int = 200, dt: int = 60):
    """Decide, let the endpoint finish, move the clock: until ``until`` or a terminal phase."""
    for _ in range(max_steps):
        rollout = step(world, rollout)
        if rollout.phase is until or rollout.phase.terminal:
            return rollout
        world.now += timedelta(seconds=dt)
        world.complete()
    raise AssertionError(f"stuck in {rollout.phase}")


def start(world: World, tgt: Target | None = None):
    world.alarms = {"churn-5xx": AlarmState.OK}
    return machine.new_rollout(tgt or target(), PACKAGE, world.now)


def test_happy_path_walks_every_step_then_promotes():
    world = World()
    rollout = start(world)
    seen_steps: list[int] = []
    for _ in range(100):
        rollout = step(world, rollout)
        if rollout.phase is Phase.BAKING and (not seen_steps or seen_steps[-1] != rollout.current_step_percent):
            seen_steps.append(rollout.current_step_percent)
        if rollout.phase.terminal:
            break
        world.now += timedelta(seconds=60)
        world.complete()
    assert rollout.phase is Phase.SUCCEEDED
    assert seen_steps == [10, 50, 100]
    assert world.serving_models() == {rollout.candidate.model_name: 100}
    assert world.config == naming.final_config("churn", rollout.rollout_id)
    assert [h.event for h in rollout.history][:2] == ["created", "provisioning"]


def test_each_step_bakes_for_the_bake_time():
    world = World()
    rollout = run(world, start(world, target(bake=600)), until=Phase.BAKING)
    baking_since = world.now
    while rollout.phase is Phase.BAKING:
        world.now += timedelta(seconds=60)
        world.complete()
        rollout = step(world, rollout)
    assert world.now - baking_since >= timedelta(seconds=600)
    assert rollout.current_step_percent == 50


def test_alarm_sends_traffic_back_at_once_then_removes_candidate():
    world = World()
    rollout = run(world, start(world), until=Phase.BAKING)
    world.now += timedelta(seconds=60)
    world.complete()
    rollout = run(world, rollout, until=Phase.SHIFTING)  # on the way to 50 %
    world.complete()
    rollout = step(world, rollout)
    assert rollout.phase is Phase.BAKING and rollout.current_step_percent == 50
    world.alarms["churn-5xx"] = AlarmState.ALARM
    rollout = step(world, rollout)
    assert rollout.phase is Phase.ROLLING_BACK
    assert world.calls[-1] == "UpdateWeights"
    assert world.pending is not None
    assert world.pending[1] == {BASELINE.variant_name: 100, rollout.candidate.variant_name: 0}
    rollout = run(world, rollout)
    assert rollout.phase is Phase.ROLLED_BACK
    assert "churn-5xx" in rollout.reason
    assert world.serving_models() == {BASELINE.model_name: 100}
    assert set(world.weights) == {BASELINE.variant_name}
    assert rollout.candidate.model_name not in world.models


def test_alarm_while_updating_waits_for_in_service_then_rolls_back():
    world = World()
    rollout = start(world)
    rollout = step(world, rollout)  # UpdateEndpoint sent; endpoint Updating
    assert world.status == "Updating"
    world.alarms["churn-5xx"] = AlarmState.ALARM
    calls = len(world.calls)
    rollout = step(world, rollout)
    assert rollout.phase is Phase.ROLLING_BACK
    assert len(world.calls) == calls, "nothing may be sent to an Updating endpoint"
    world.complete()
    rollout = run(world, rollout)
    assert rollout.phase is Phase.ROLLED_BACK
    assert world.serving_models() == {BASELINE.model_name: 100}


def test_failed_update_leaves_baseline_serving_and_fails():
    world = World()
    world.fail_next = True
    rollout = run(world, start(world))
    assert rollout.phase is Phase.FAILED
    assert "simulated failure" in rollout.reason
    assert world.serving_models() == {BASELINE.model_name: 100}
    assert rollout.candidate.model_name not in world.models


def test_first_deployment_creates_endpoint_and_succeeds_without_steps():
    world = World.empty()
    rollout = run(world, start(world))
    assert rollout.phase is Phase.SUCCEEDED
    assert rollout.first_deployment
    assert world.serving_models() == {rollout.candidate.model_name: 100}
    assert "CreateEndpoint" in world.calls and "UpdateWeights" not in world.calls


def test_failed_first_deployment_deletes_the_failed_endpoint():
    world = World.empty()
    world.fail_next = True
    rollout = run(world, start(world))
    assert rollout.phase is Phase.FAILED
    assert not world.exists


def test_abort_goes_back_to_baseline():
    world = World()
    rollout = run(world, start(world), until=Phase.BAKING)
    rollout = machine.stop(rollout, Phase.ABORTED, "rejected", world.now)
    rollout = run(world, rollout)
    assert rollout.phase is Phase.ABORTED
    assert world.serving_models() == {BASELINE.model_name: 100}


def test_stop_of_pending_rollout_is_immediate():
    world = World()
    rollout = start(world)
    stopped = machine.stop(rollout, Phase.SUPERSEDED, "newer approval", world.now)
    assert stopped.phase is Phase.SUPERSEDED
    assert machine.decide(stopped, world.observe(stopped), world.now) == (stopped, [])


def test_first_deployment_is_not_superseded_but_finishes():
    world = World.empty()
    rollout = step(world, start(world))
    assert machine.stop(rollout, Phase.SUPERSEDED, "newer", world.now) is rollout


def test_insufficient_data_holds_when_plan_says_hold():
    world = World()
    rollout = run(world, start(world, target(bake=60)), until=Phase.BAKING)
    world.alarms["churn-5xx"] = AlarmState.INSUFFICIENT_DATA
    for _ in range(10):
        world.now += timedelta(seconds=60)
        rollout = step(world, rollout)
    assert rollout.phase is Phase.BAKING and rollout.current_step_percent == 10
    world.alarms["churn-5xx"] = AlarmState.OK
    world.now += timedelta(seconds=60)
    rollout = step(world, rollout)
    assert rollout.phase is Phase.SHIFTING and rollout.current_step_percent == 50


def test_insufficient_data_counts_as_ok_when_plan_says_ok():
    world = World()
    rollout = run(world, start(world, target(bake=60, insufficient_data="OK")), until=Phase.BAKING)
    world.alarms["churn-5xx"] = AlarmState.INSUFFICIENT_DATA
    world.now += timedelta(seconds=360)  # the canary analysis has its 5 minutes of data by then
    rollout = step(world, rollout)
    assert rollout.phase is Phase.SHIFTING


def test_missing_alarm_holds_like_insufficient_data():
    world = World()
    rollout = run(world, start(world, target(bake=60)), until=Phase.BAKING)
    world.alarms = {}
    world.now += timedelta(seconds=600)
    assert step(world, rollout).phase is Phase.BAKING


def test_max_duration_rolls_back_as_failed():
    world = World()
    rollout = run(world, start(world, target(bake=60, max_duration_seconds=600)), until=Phase.BAKING)
    world.alarms["churn-5xx"] = AlarmState.INSUFFICIENT_DATA  # holds forever
    rollout = run(world, rollout)
    assert rollout.phase is Phase.FAILED
    assert "max duration" in rollout.reason
    assert world.serving_models() == {BASELINE.model_name: 100}


def test_throttled_update_is_retried_later_not_failed():
    world = World()
    rollout = start(world)
    world.errors_next = ["ThrottlingException"]
    rollout = step(world, rollout)
    assert rollout.phase is Phase.PROVISIONING
    assert rollout.history[-1].event == "will retry"
    rollout = run(world, rollout)
    assert rollout.phase is Phase.SUCCEEDED


def test_resource_limit_exceeded_fails_with_baseline_serving():
    world = World()
    rollout = start(world)
    # CreateModel and CreateEndpointConfig pass, UpdateEndpoint is refused.
    rollout, actions = machine.decide(rollout, world.observe(rollout), world.now)
    world.apply(actions[0])
    world.apply(actions[1])
    rollout = errors.on_action_error(rollout, actions[2], "ResourceLimitExceeded", "no ml.m5.large left", world.now)
    assert rollout.phase is Phase.FAILED
    assert "ResourceLimitExceeded" in rollout.reason
    assert world.serving_models() == {BASELINE.model_name: 100}


def test_updating_endpoint_refusal_is_transient():
    world = World()
    rollout = start(world)
    rollout, actions = machine.decide(rollout, world.observe(rollout), world.now)
    retried = errors.on_action_error(
        rollout, actions[-1], "ValidationException", "Cannot update in-progress endpoint", world.now
    )
    assert retried.phase is Phase.PROVISIONING


def test_crash_after_save_is_repaired_by_next_decision():
    world = World()
    rollout = step(world, start(world), crash=True)  # saved PROVISIONING, nothing sent
    assert world.calls == []
    rollout = run(world, rollout)
    assert rollout.phase is Phase.SUCCEEDED
    assert world.calls.count("UpdateEndpoint") == 2  # rollout config, then final config


def test_deciding_twice_on_the_same_observations_sends_nothing_twice():
    world = World()
    rollout = step(world, start(world))
    calls = list(world.calls)
    again = step(world, rollout)
    assert world.calls == calls
    assert again == rollout


def test_endpoint_changed_outside_is_left_alone():
    world = World()
    rollout = run(world, start(world), until=Phase.BAKING)
    world.config = "someone-elses"
    world.configs["someone-elses"] = [(BASELINE, 100)]
    rollout = step(world, rollout)
    assert rollout.phase is Phase.FAILED
    assert "outside the rollout" in rollout.reason


def test_plan_validation():
    assert RolloutPlan.model_validate({"steps": "10, 50,100"}).steps == [10, 50, 100]
    for bad in ([50, 10, 100], [10, 50], [0, 100], [10, 10, 100], [10, 150]):
        with pytest.raises(ValidationError):
            RolloutPlan(steps=bad)


def test_target_validation_reads_csv_alarms():
    tgt = target(alarms=None)
    assert tgt.guard_alarms == ["churn-5xx"]
    parsed = Target.model_validate(
        {"model_package_group": "g", "endpoint_name": "e", "instance_type": "ml.m5.large", "guard_alarms": "a, b"}
    )
    assert parsed.guard_alarms == ["a", "b"]
    assert Target.model_validate({**parsed.model_dump(), "guard_alarms": ""}).guard_alarms == []
    with pytest.raises(ValidationError):
        Target.model_validate({"model_package_group": "g", "endpoint_name": "Bad_Name", "instance_type": "ml.m5.large"})


def test_a_failed_update_reports_the_containers_own_log_lines():
    """Issue 17 item 4: the shell reads the candidate's log when a change visibly failed; the
    reason (history, milestone, rollout status) carries those lines after SageMaker's."""
    world = World()
    world.fail_next = True  # the update that adds the candidate fails
    rollout = step(world, start(world))
    world.now += timedelta(seconds=60)
    world.complete()
    obs = world.observe(rollout).model_copy(update={"container_log": ["ERROR /ping 500", "killed"]})
    failed, _ = machine.decide(rollout, obs, world.now)
    assert failed.phase is Phase.FAILED
    assert failed.reason == "endpoint update failed: simulated failure; container log: ERROR /ping 500 | killed"
    assert failed.outbox[-1].message.endswith("container log: ERROR /ping 500 | killed")
