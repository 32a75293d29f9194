"""The smoke test before any traffic (rollout_core/smoke.py), driven through decide()."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rollout_core import machine, smoke
from rollout_core.canary_models import SampleResult, SmokeResult
from rollout_core.models import AlarmState, Phase

from .world import BASELINE, PACKAGE, World, step, target


def start(world: World, **plan: Any):
    world.alarms = {"churn-5xx": AlarmState.OK}
    return machine.new_rollout(target(**plan), PACKAGE, world.now)


def until_smoke_test(world: World, rollout, max_steps: int = 20):
    """Decide (the endpoint completing each update) until the smoke test is asked for."""
    for _ in range(max_steps):
        before = world.smoke_tests
        rollout = step(world, rollout)
        if world.smoke_tests > before or rollout.phase.terminal:
            return rollout
        world.now += timedelta(seconds=60)
        world.complete()
    raise AssertionError(f"no smoke test asked for ({rollout.phase})")


def finish(world: World, rollout, max_steps: int = 200):
    for _ in range(max_steps):
        rollout = step(world, rollout)
        if rollout.phase.terminal:
            return rollout
        world.now += timedelta(seconds=60)
        world.complete()
    raise AssertionError(f"stuck in {rollout.phase}")


def test_a_failing_candidate_ends_failed_before_any_traffic():
    world = World()
    world.smoke_result = SmokeResult(
        outcome="failed",
        reason="sample rows-1.csv: HTTP 500 in 12 ms: model crashed on load",
        samples=[SampleResult(name="rows-1.csv", ok=False, status=500, latency_ms=12, excerpt="model crashed")],
    )
    rollout = until_smoke_test(world, start(world))
    assert rollout.phase is Phase.PROVISIONING and rollout.smoke_test is not None
    view = world.view()
    assert view is not None and view.percentages[rollout.candidate.variant_name] == 0
    rollout = finish(world, rollout)
    assert rollout.phase is Phase.FAILED
    assert "smoke test failed: sample rows-1.csv: HTTP 500" in rollout.reason
    assert "UpdateWeights" not in world.calls, "no traffic was ever sent to the candidate"
    assert world.serving_models() == {BASELINE.model_name: 100}
    assert world.smoke_tests == 1
    assert "failed" in world.notes
    (failed,) = [n for n in world.announced if n.milestone == "failed"]
    assert failed.detail["smoke_test"] == {"outcome": "failed", "reason": world.smoke_result.reason}
    assert "analysis" not in failed.detail


def test_a_passing_smoke_test_is_said_in_the_first_shift():
    world = World()
    world.smoke_result = SmokeResult(outcome="passed", reason="3 samples answered 2xx, slowest 41 ms")
    rollout = until_smoke_test(world, start(world))
    rollout = step(world, rollout)
    assert rollout.phase is Phase.SHIFTING
    assert rollout.history[-1].reason == "candidate in service; smoke test passed"
    assert [h.event for h in rollout.history[-3:-1]] == ["smoke test", "smoke test passed"]
    assert finish(world, rollout).phase is Phase.SUCCEEDED
    assert world.smoke_tests == 1


def test_no_sample_skips_it_and_says_so():
    world = World()  # the world's smoke test finds no sample
    rollout = until_smoke_test(world, start(world))
    skipped = [h for h in rollout.history if h.event == "smoke test skipped"]
    assert skipped and skipped[0].reason == "no sample"
    assert step(world, rollout).phase is Phase.SHIFTING


def test_disabled_means_no_smoke_test():
    world = World()
    rollout = finish(world, start(world, smoke_test={"enabled": False}))
    assert rollout.phase is Phase.SUCCEEDED
    assert world.smoke_tests == 0
    assert any(h.reason == "candidate in service; smoke test disabled" for h in rollout.history)


def test_a_duplicate_trigger_does_not_send_the_samples_twice_and_a_crash_does_not_skip_them():
    world = World()
    rollout = start(world)
    for _ in range(20):
        if any(a.kind == "RunSmokeTest" for a in machine.decide(rollout, world.observe(rollout), world.now)[1]):
            break
        rollout = step(world, rollout)
        world.now += timedelta(seconds=60)
        world.complete()
    # The process saved the request and died before the samples were sent: nothing folded.
    pending = step(world, rollout, crash=True)
    asked = pending.smoke_test
    assert asked is not None and asked.outcome is None and asked.attempts == 1
    again, actions = machine.decide(pending, world.observe(pending), world.now)  # a duplicate trigger
    assert actions == [] and again == pending
    world.now += timedelta(seconds=smoke.RETRY_SECONDS - 1)
    assert machine.decide(pending, world.observe(pending), world.now)[1] == []
    world.now += timedelta(seconds=1)
    retried, actions = machine.decide(pending, world.observe(pending), world.now)
    assert [a.kind for a in actions] == ["RunSmokeTest"]
    assert retried.smoke_test is not None and retried.smoke_test.attempts == 2
    assert "attempt 2 of 3" in retried.history[-1].reason


def test_try_later_answers_are_bounded_then_the_rollout_fails():
    world = World()
    world.smoke_result = SmokeResult(outcome="retry", reason="InvokeEndpoint: ServiceUnavailable")
    rollout = start(world)
    for _ in range(40):
        rollout = step(world, rollout)
        if rollout.phase.terminal:
            break
        world.now += timedelta(seconds=60)
        world.complete()
    assert rollout.phase is Phase.FAILED
    assert f"did not complete after {smoke.MAX_ATTEMPTS} attempts" in rollout.reason
    assert "ServiceUnavailable" in rollout.reason
    assert world.smoke_tests == smoke.MAX_ATTEMPTS
    assert "UpdateWeights" not in world.calls


def test_only_a_shell_that_can_judge_asks_for_it():
    """The model approval and rollout API functions cannot invoke the candidate: they wait."""
    world = World()
    world.judging = False
    rollout = start(world)
    for _ in range(10):
        rollout = step(world, rollout)
        world.now += timedelta(seconds=60)
        world.complete()
    assert rollout.phase is Phase.PROVISIONING and rollout.smoke_test is None
    assert world.smoke_tests == 0
    world.judging = True
    assert step(world, rollout).smoke_test is not None


def test_a_result_for_a_stopped_rollout_is_not_folded():
    world = World()
    rollout = until_smoke_test(world, start(world))
    stopped = machine.stop(rollout, Phase.ABORTED, "aborted by operator", world.now)
    folded = smoke.finished(stopped, SmokeResult(outcome="passed", reason="ok"), world.now)
    assert folded == stopped


def test_a_first_deployment_has_no_smoke_test():
    world = World.empty()
    rollout = finish(world, start(world))
    assert rollout.phase is Phase.SUCCEEDED and world.smoke_tests == 0
