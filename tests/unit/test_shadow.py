"""The shadow phase (rollout_core/shadow.py), driven through decide() against the endpoint model."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from rollout_core import commands, machine, naming
from rollout_core.alarm_spec import CandidateAlarms
from rollout_core.models import AlarmState, Phase, RolloutPlan

from .world import BASELINE, PACKAGE, Traffic, World, step, target

SHADOW = {"sampling_percent": 20, "duration_seconds": 600}


def start(world: World, shadow: dict[str, Any] | None = None, **plan: Any):
    world.alarms = {"churn-5xx": AlarmState.OK}
    return machine.new_rollout(target(shadow=shadow or SHADOW, **plan), PACKAGE, world.now)


def run(world: World, rollout, until=None, max_steps: int = 300, watch=None):
    """Decide, let the endpoint finish, move the clock a minute; ``watch`` sees every state."""
    for _ in range(max_steps):
        rollout = step(world, rollout)
        if watch is not None:
            watch(rollout)
        if rollout.phase.terminal or (until is not None and until(rollout)):
            return rollout
        world.now += timedelta(seconds=60)
        world.complete()
    raise AssertionError(f"stuck in {rollout.phase}")


def shadowing(r) -> bool:
    return r.phase is Phase.SHADOWING and r.shadow is not None and r.shadow.started_at is not None


def never_serves(world: World, model: str):
    """A watch: the candidate's model never answers a user (never a production variant with weight)."""

    def watch(_rollout) -> None:
        assert model not in world.serving_models(), "the candidate served users"

    return watch


def events(rollout, name: str) -> list[str]:
    return [h.reason for h in rollout.history if h.event == name]


def test_a_shadow_that_passes_goes_on_to_the_canary_and_succeeds():
    world = World()
    rollout = start(world)
    rollout = run(world, rollout, until=shadowing, watch=never_serves(world, rollout.candidate.model_name))
    shadow_config = naming.shadow_config("churn", rollout.rollout_id)
    assert world.config == shadow_config
    (spec, weight), *_ = world.shadow_configs[shadow_config]
    assert spec.variant_name == naming.shadow_variant_name(rollout.rollout_id) and weight == 20
    assert world.configs[shadow_config] == [(BASELINE, 100)], "the baseline serves exactly as it was"
    assert world.shadows == {spec.variant_name: 1}
    rollout = run(world, rollout, until=lambda r: r.phase is Phase.PROVISIONING)
    assert rollout.shadow is not None and rollout.shadow.outcome == "passed"
    assert "shadow analysis PASS" in rollout.shadow.reason
    assert any(q.dimensions["VariantName"] == spec.variant_name for q in world.metric_reads[-1].queries)
    rollout = run(world, rollout)
    assert rollout.phase is Phase.SUCCEEDED
    assert world.notes[:4] == ["started", "shadow_started", "shadow_passed", "step_advanced"]
    assert world.serving_models() == {rollout.candidate.model_name: 100}
    assert shadow_config not in world.configs, "the shadow config is cleaned up"
    assert world.shadows == {}


def test_a_shadow_with_candidate_alarms_passes_and_its_alarms_are_put_when_it_joins():
    """The candidate's own alarms do not exist while it is only the shadow (they are put when it
    joins as a production variant): they must not hold the shadow phase (the crash matrix's
    shadow scenario stayed SHADOWING for 100 minutes when they did)."""
    world = World()
    world.alarms = {"churn-5xx": AlarmState.OK}
    tgt = target(shadow=SHADOW).model_copy(update={"candidate_alarms": CandidateAlarms(metrics=["5xx"])})
    rollout = machine.new_rollout(tgt, PACKAGE, world.now)
    own = list(rollout.candidate_alarms.values())
    assert own
    rollout = run(world, rollout, until=lambda r: r.phase is Phase.PROVISIONING, max_steps=30)
    assert rollout.shadow is not None and rollout.shadow.outcome == "passed"
    assert all(name in world.alarms for name in own), "put as the candidate joins"


def test_an_erroring_shadow_is_removed_and_no_user_was_ever_served_by_it():
    world = World(candidate_traffic=Traffic(errors=100))
    rollout = start(world)
    rollout = run(world, rollout, watch=never_serves(world, rollout.candidate.model_name))
    assert rollout.phase is Phase.ROLLED_BACK
    assert rollout.reason.startswith("shadow analysis failed (20% of requests copied): critical check errors")
    assert "no user was served by the candidate" in rollout.reason
    assert world.shadows == {} and world.serving_models() == {BASELINE.model_name: 100}
    assert rollout.candidate.model_name not in world.models
    assert not any(c.startswith(f"churn-c-{rollout.rollout_id}") for c in world.configs if c != world.config)
    assert "step_advanced" not in world.notes and "shadow_passed" not in world.notes


def test_an_alarm_during_the_shadow_removes_it():
    world = World()
    rollout = run(world, start(world), until=shadowing)
    world.alarms["churn-5xx"] = AlarmState.ALARM
    rollout = run(world, rollout, watch=never_serves(world, rollout.candidate.model_name))
    assert rollout.phase is Phase.ROLLED_BACK and "churn-5xx" in rollout.reason
    assert world.shadows == {} and world.serving_models() == {BASELINE.model_name: 100}
    assert rollout.candidate.model_name not in world.models


def test_a_first_deployment_has_no_shadow_phase():
    world = World.empty()
    rollout = run(world, start(world))
    assert rollout.phase is Phase.SUCCEEDED and rollout.shadow is None
    assert all(h.phase is not Phase.SHADOWING for h in rollout.history)


def test_pause_holds_the_shadow_and_resume_bakes_it_again_in_full():
    world = World()
    rollout = run(world, start(world), until=shadowing)
    rollout = commands.command(rollout, "pause", world.now)
    rollout = run(world, rollout, until=lambda r: world.now - r.shadow.started_at > timedelta(minutes=30), max_steps=40)
    assert rollout.phase is Phase.SHADOWING and world.shadows, "paused: the shadow stays, the phase holds"
    rollout = commands.command(rollout, "resume", world.now)
    resumed = world.now
    rollout = run(world, rollout, until=lambda r: r.phase is Phase.PROVISIONING)
    assert world.now - resumed >= timedelta(seconds=600)


def test_promote_ends_the_shadow_and_the_canary_steps_run_as_planned():
    world = World()
    rollout = run(world, start(world), until=shadowing)
    rollout = commands.command(rollout, "promote", world.now)
    rollout = step(world, rollout)
    assert rollout.phase is Phase.PROVISIONING and not rollout.fast_forward
    assert rollout.shadow is not None and rollout.shadow.outcome == "skipped"
    assert "shadow_passed" not in world.notes
    seen: set[int] = set()

    def watch(r) -> None:
        if r.phase is Phase.BAKING:
            seen.add(r.current_step_percent)

    rollout = run(world, rollout, watch=watch)
    assert rollout.phase is Phase.SUCCEEDED and sorted(seen) == [10, 50, 100]


def test_abort_removes_the_shadow():
    world = World()
    rollout = run(world, start(world), until=shadowing)
    rollout = commands.command(rollout, "abort", world.now)
    rollout = run(world, rollout)
    assert rollout.phase is Phase.ABORTED
    assert world.shadows == {} and world.serving_models() == {BASELINE.model_name: 100}
    assert rollout.candidate.model_name not in world.models


def test_a_failed_shadow_config_fails_with_the_baseline_serving_and_nothing_left():
    world = World()
    world.fail_next = True
    rollout = run(world, start(world))
    assert rollout.phase is Phase.FAILED and "simulated failure" in rollout.reason
    assert world.serving_models() == {BASELINE.model_name: 100} and world.shadows == {}
    assert rollout.candidate.model_name not in world.models
    assert naming.shadow_config("churn", rollout.rollout_id) not in world.configs


def test_a_failed_join_after_the_shadow_removes_the_shadow_on_the_way_back():
    world = World()
    rollout = run(world, start(world), until=lambda r: r.phase is Phase.PROVISIONING)
    assert world.pending is not None and world.pending[0] == "config"  # to the candidate at weight 0
    world.pending = (world.pending[0], world.pending[1], True)  # that update fails: back on the shadow config
    world.now += timedelta(seconds=60)
    world.complete()
    rollout = run(world, rollout)
    assert rollout.phase is Phase.FAILED and "simulated failure" in rollout.reason
    assert world.shadows == {} and world.serving_models() == {BASELINE.model_name: 100}
    assert rollout.candidate.model_name not in world.models


def test_the_shadow_is_sized_for_its_share_of_the_baselines_traffic():
    world = World(instances={BASELINE.variant_name: 4})
    rollout = run(world, start(world, {"sampling_percent": 50, "duration_seconds": 600}), until=shadowing)
    assert world.shadows == {naming.shadow_variant_name(rollout.rollout_id): 2}


def test_the_shadow_uses_its_own_checks_when_given():
    world = World(candidate_traffic=Traffic(errors=100))
    plan = {**SHADOW, "checks": {"errors": {"enabled": False}}}
    rollout = run(world, start(world, plan), until=lambda r: r.phase is Phase.PROVISIONING)
    assert rollout.shadow is not None and rollout.shadow.outcome == "passed"
    assert [c.name for c in rollout.shadow.analysis.checks] == ["latency"]


@pytest.mark.parametrize(
    "shadow",
    [
        {"sampling_percent": 0, "duration_seconds": 600},
        {"sampling_percent": 101, "duration_seconds": 600},
        {"sampling_percent": 10, "duration_seconds": 30},
        {"sampling_percent": 10, "duration_seconds": 600, "surprise": 1},
        {"sampling_percent": 10, "duration_seconds": 6 * 3600},  # not shorter than max_duration_seconds
    ],
)
def test_a_shadow_plan_out_of_bounds_is_refused(shadow):
    with pytest.raises(ValidationError):
        RolloutPlan.model_validate({"shadow": shadow})
