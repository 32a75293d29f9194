"""What operators rely on (issue 19): stale alarms are ignored, pause holds, nothing retries for ever."""

from __future__ import annotations

from datetime import timedelta

from rollout_core import commands, errors, machine
from rollout_core.models import AlarmState, DeleteModel, Phase, UpdateWeights

from .test_machine import run, start
from .world import BASELINE, World, step, target


def _bake(world: World, rollout, until=Phase.BAKING):
    return run(world, rollout, until=until)


# --- item 1: an ALARM from before the rollout started does not count -------------------------------


def test_an_alarm_already_firing_when_the_rollout_starts_does_not_stop_a_hotfix():
    world = World()
    world.alarms = {"churn-5xx": AlarmState.ALARM}
    world.alarm_since = {"churn-5xx": world.now - timedelta(hours=2)}  # the broken baseline fires it
    rollout = machine.new_rollout(
        target(), "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/9", world.now
    )
    rollout = run(world, rollout)
    assert rollout.phase is Phase.SUCCEEDED, rollout.reason
    assert world.serving_models() == {rollout.candidate.model_name: 100}


def test_a_fresh_transition_to_alarm_after_the_start_rolls_back():
    world = World()
    world.alarms = {"churn-5xx": AlarmState.ALARM}
    world.alarm_since = {"churn-5xx": world.now - timedelta(hours=2)}
    rollout = machine.new_rollout(
        target(), "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-model/9", world.now
    )
    rollout = _bake(world, rollout)
    world.alarms["churn-5xx"], world.alarm_since["churn-5xx"] = AlarmState.OK, world.now
    rollout = step(world, rollout)
    world.now += timedelta(seconds=60)
    world.alarms["churn-5xx"], world.alarm_since["churn-5xx"] = AlarmState.ALARM, world.now
    rollout = step(world, rollout)
    assert rollout.phase is Phase.ROLLING_BACK and "churn-5xx" in rollout.reason
    assert run(world, rollout).phase is Phase.ROLLED_BACK


def test_an_alarm_with_no_known_time_counts():
    world = World()
    rollout = _bake(world, start(world))
    world.alarms["churn-5xx"] = AlarmState.ALARM  # no StateUpdatedTimestamp: the stricter reading
    assert step(world, rollout).phase is Phase.ROLLING_BACK


# --- item 2: pause holds in every phase that moves traffic ------------------------------------------


def test_pause_while_provisioning_keeps_the_candidate_at_weight_zero():
    world = World()
    rollout = step(world, start(world))  # candidate joining at weight 0
    assert rollout.phase is Phase.PROVISIONING
    rollout = commands.command(rollout, "pause", world.now)
    for _ in range(10):
        world.now += timedelta(seconds=60)
        world.complete()
        rollout = step(world, rollout)
    assert rollout.phase is Phase.PROVISIONING
    assert "UpdateWeights" not in world.calls
    assert world.view().percentages[rollout.candidate.variant_name] == 0  # type: ignore[union-attr]
    rollout = commands.command(rollout, "resume", world.now)
    assert run(world, rollout).phase is Phase.SUCCEEDED


def test_pause_while_shifting_holds_the_weights_it_has():
    world = World()
    rollout = _bake(world, start(world))
    world.now += timedelta(seconds=300)
    rollout = step(world, rollout)  # shifting to 50 %
    assert rollout.phase is Phase.SHIFTING
    world.pending = None  # the weights request was lost: still at 10 %
    world.status = "InService"
    rollout = rollout.model_copy(update={"requested_at": None})
    rollout = commands.command(rollout, "pause", world.now)
    calls = list(world.calls)
    for _ in range(5):
        world.now += timedelta(seconds=60)
        rollout = step(world, rollout)
    assert world.calls == calls, "nothing is sent while paused"
    assert world.view().percentages[rollout.candidate.variant_name] == 10  # type: ignore[union-attr]


def test_time_paused_does_not_count_toward_the_max_duration():
    world = World()
    rollout = _bake(world, start(world, target(max_duration_seconds=3600)))
    rollout = commands.command(rollout, "pause", world.now)
    world.now += timedelta(hours=5)
    rollout = step(world, rollout)
    assert rollout.phase is Phase.BAKING and rollout.paused, rollout.reason
    rollout = commands.command(rollout, "resume", world.now)
    assert rollout.paused_seconds == 5 * 3600
    assert run(world, rollout).phase is Phase.SUCCEEDED


def test_an_alarm_still_rolls_back_a_paused_rollout():
    world = World()
    rollout = commands.command(_bake(world, start(world)), "pause", world.now)
    world.alarms["churn-5xx"] = AlarmState.ALARM
    assert step(world, rollout).phase is Phase.ROLLING_BACK


def test_a_rollback_ends_the_pause():
    """A rollback is never held by a pause (resume is refused while rolling back), so neither an
    alarm nor a stop leaves a ROLLING_BACK rollout marked paused; the time paused is kept.
    Found by the property test (a paused rollout rolled back stayed paused for good)."""
    world = World()
    rollout = commands.command(_bake(world, start(world)), "pause", world.now)
    world.now += timedelta(seconds=600)
    world.alarms["churn-5xx"] = AlarmState.ALARM
    rolled = step(world, rollout)
    assert rolled.phase is Phase.ROLLING_BACK
    assert (rolled.paused, rolled.paused_at, rolled.paused_seconds) == (False, None, 600)
    stopped = machine.stop(rollout, Phase.SUPERSEDED, "superseded by a newer approval", world.now)
    assert stopped.phase is Phase.ROLLING_BACK
    assert (stopped.paused, stopped.paused_at, stopped.paused_seconds) == (False, None, 600)
    # An action's error that sends the rollout back (errors.on_action_error) ends the pause too.
    weights = UpdateWeights(endpoint_name=rollout.endpoint_name, weights={"candidate": 100})
    failed = errors.on_action_error(rollout, weights, "ValidationException", "bad", world.now)
    assert failed.phase is Phase.ROLLING_BACK
    assert (failed.paused, failed.paused_at, failed.paused_seconds) == (False, None, 600)


# --- item 3: no endless loops -------------------------------------------------------------------------


def test_clean_up_gives_up_after_bounded_errors_and_says_what_is_left():
    world = World()
    rollout = run(world, start(world))
    assert rollout.phase is Phase.SUCCEEDED
    stuck = rollout.model_copy(update={"finishing": [DeleteModel(model_name="churn-m-old")]})
    for _ in range(errors.MAX_UNDONE_ERRORS):
        _, actions = machine.decide(stuck, world.observe(stuck), world.now)
        stuck = errors.on_action_error(stuck, actions[0], "ValidationException", "model is in use", world.now)
    assert stuck.phase is Phase.SUCCEEDED and stuck.finishing == []
    assert stuck.needs_attention and "churn-m-old" in stuck.needs_attention
    assert [n.detail_type for n in stuck.outbox] == ["Rollout Needs Attention"]


def test_throttling_in_clean_up_never_counts_toward_giving_up():
    world = World()
    rollout = run(world, start(world)).model_copy(update={"finishing": [DeleteModel(model_name="m")]})
    for _ in range(3 * errors.MAX_UNDONE_ERRORS):
        rollout = errors.on_action_error(rollout, rollout.finishing[0], "ThrottlingException", "slow down", world.now)
    assert rollout.finishing and rollout.undone_errors == 0


def test_the_way_back_gives_up_after_bounded_errors_as_failed_for_hands():
    world = World()
    rollout = _bake(world, start(world))
    world.alarms["churn-5xx"] = AlarmState.ALARM
    rollout = step(world, rollout)
    assert rollout.phase is Phase.ROLLING_BACK
    action = UpdateWeights(endpoint_name="churn", weights={BASELINE.variant_name: 100})
    for _ in range(errors.MAX_UNDONE_ERRORS):
        rollout = errors.on_action_error(rollout, action, "AccessDeniedException", "not authorized", world.now)
    assert rollout.phase is Phase.FAILED
    assert "by hand" in rollout.reason and rollout.needs_attention
    assert [n.detail_type for n in rollout.outbox][-1] == "Rollout Failed"
