"""The state machine against what real SageMaker does (issue: the first real rollout works).

Eventual consistency after a create, candidate capacity sized from the baseline's live
instance count, failures decided on SageMaker's evidence only, and endpoints that cannot take
the way back.
"""

from __future__ import annotations

from datetime import timedelta

from rollout_core import capacity, changes, decisions, errors, machine, naming, rollback
from rollout_core.models import (
    AlarmState,
    AutoscalingSnapshot,
    BaselineConfig,
    CreateEndpointConfig,
    Phase,
    Target,
    UpdateCapacity,
    UpdateWeights,
    VariantSpec,
)

from .test_machine import run, start
from .world import BASELINE, PACKAGE, World, step, target

NOT_FOUND = ("ValidationException", 'Could not find endpoint configuration "arn:aws:sagemaker:::endpoint-config/x".')
IN_PROGRESS = ("ValidationException", 'Cannot update in-progress endpoint "arn:aws:sagemaker:::endpoint/churn".')


def _sized(ratio: float = 1.0, count: int = 1, steps: list[int] | None = None) -> Target:
    return target(steps=steps or [10, 50, 100]).model_copy(update={"capacity_ratio": ratio, "instance_count": count})


def _decide_until(world: World, rollout, done, max_steps: int = 100):
    for _ in range(max_steps):
        if done(rollout):
            return rollout
        world.now += timedelta(seconds=60)
        world.complete()
        rollout = step(world, rollout)
    raise AssertionError(f"stuck in {rollout.phase}")


# --- item 4: a config just created is not visible yet ----------------------------------------


def test_config_not_found_right_after_its_create_is_retried_not_failed():
    world = World()
    rollout = start(world)
    decided, actions = machine.decide(rollout, world.observe(rollout), world.now)
    for action in actions[:-1]:
        world.apply(action)
    failed = errors.on_action_error(decided, actions[-1], *NOT_FOUND, world.now)
    assert failed.phase is Phase.PROVISIONING, failed.reason
    assert failed.requested_at is None, "the update was not sent"
    assert failed.missing_since == {decided.desired_config: world.now}
    assert "eventually" in failed.history[-1].reason
    # A minute later SageMaker sees the config: the update goes through, the rollout goes on.
    world.now += timedelta(seconds=60)
    rollout = run(world, failed)
    assert rollout.phase is Phase.SUCCEEDED


def test_config_still_not_found_after_the_window_fails_with_that_reason():
    world = World()
    rollout = start(world)
    decided, actions = machine.decide(rollout, world.observe(rollout), world.now)
    rollout = errors.on_action_error(decided, actions[-1], *NOT_FOUND, world.now)
    for _ in range(errors.LOOKUP_WINDOW_SECONDS // 60 + 1):
        world.now += timedelta(seconds=60)
        decided, actions = machine.decide(rollout, world.observe(rollout), world.now)
        assert decided.phase is Phase.PROVISIONING
        rollout = errors.on_action_error(decided, actions[-1], *NOT_FOUND, world.now)
    assert rollout.phase is Phase.FAILED
    assert "still not found after" in rollout.reason


def test_first_deployment_create_endpoint_not_finding_its_config_is_retried():
    world = World.empty()
    rollout = start(world)
    decided, actions = machine.decide(rollout, world.observe(rollout), world.now)
    assert actions[-1].kind == "CreateEndpoint"
    rollout = errors.on_action_error(decided, actions[-1], *NOT_FOUND, world.now)
    assert rollout.phase is Phase.PROVISIONING
    world.now += timedelta(seconds=60)
    assert run(world, rollout).phase is Phase.SUCCEEDED


# --- item 5: the candidate is sized from the baseline's live capacity -------------------------


def test_candidate_gets_capacity_for_its_share_before_each_weight_change():
    world = World()
    world.instances[BASELINE.variant_name] = 4  # autoscaling raised the baseline to 4 instances
    rollout = machine.new_rollout(_sized(), PACKAGE, world.now)
    world.alarms = {"churn-5xx": AlarmState.OK}
    sizes: list[tuple[str, int, dict[str, float]]] = []
    for _ in range(200):
        _, actions = machine.decide(rollout, world.observe(rollout), world.now)
        for action in actions:
            if isinstance(action, UpdateCapacity | UpdateWeights):
                sizes.append((action.kind, world.instances.get(rollout.candidate.variant_name, 0), world.weights))
        rollout = step(world, rollout)
        if rollout.phase.terminal:
            break
        world.now += timedelta(seconds=60)
        world.complete()
    assert rollout.phase is Phase.SUCCEEDED
    capacity_then_weights = [(kind, n) for kind, n, _ in sizes]
    # 10 %: ceil(4 * 0.1) = 1 (the target's count): weights only. 50 %: 2 first, then weights.
    # 100 %: 4 first, then weights.
    assert capacity_then_weights == [
        ("UpdateWeights", 1),
        ("UpdateCapacity", 1),
        ("UpdateWeights", 2),
        ("UpdateCapacity", 2),
        ("UpdateWeights", 4),
    ]
    final = world.configs[naming.final_config("churn", rollout.rollout_id)]
    assert [spec.instance_count for spec, _ in final] == [4], "the promoted variant can carry all the traffic"


def test_capacity_follows_a_baseline_that_autoscaling_raises_mid_rollout():
    world = World()
    rollout = machine.new_rollout(_sized(steps=[10, 50, 100]), PACKAGE, world.now)
    world.alarms = {"churn-5xx": AlarmState.OK}
    rollout = run(world, rollout, until=Phase.BAKING)
    world.instances[BASELINE.variant_name] = 6  # traffic grew; autoscaling added instances
    rollout = _decide_until(world, rollout, lambda r: r.phase is Phase.BAKING and r.current_step_percent == 50)
    assert world.instances[rollout.candidate.variant_name] == 3  # ceil(6 * 0.5)
    assert rollout.full_capacity == 6


def test_capacity_ratio_converts_baseline_instances_and_never_goes_below_the_target_count():
    full = 4
    assert [capacity.candidate_instances(_sized(ratio=0.5), full, p) for p in (10, 50, 100)] == [1, 1, 2]
    assert [capacity.candidate_instances(_sized(ratio=2), full, p) for p in (10, 50, 100)] == [1, 4, 8]
    assert capacity.candidate_instances(_sized(count=3), full, 10) == 3
    assert capacity.candidate_instances(_sized(ratio=0.1), 3, 100) == 1, "no float drift"


def test_promotion_stays_within_the_carried_autoscaling_range():
    snapshot = AutoscalingSnapshot(variant_name="AllTraffic", min_capacity=5, max_capacity=8)
    assert capacity.promoted_instances(_sized(), 2, snapshot) == 5
    assert capacity.promoted_instances(_sized(), 12, snapshot) == 8
    assert capacity.promoted_instances(_sized(), 6, None) == 6


# --- item 7: the baseline's config is carried whole ---------------------------------------------


def test_every_config_carries_the_baseline_config_and_the_candidate_inherits_container_settings():
    baseline = BASELINE.model_copy(
        update={
            "settings": {
                "VolumeSizeInGB": 64,
                "ContainerStartupHealthCheckTimeoutInSeconds": 600,
                "ModelDataDownloadTimeoutInSeconds": 900,
                "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
                "EnableSSMAccess": True,
            }
        }
    )
    carried = BaselineConfig(
        settings={"KmsKeyId": "alias/churn", "DataCaptureConfig": {"x": 1}}, tags=[{"Key": "team", "Value": "ml"}]
    )
    world = World(configs={"original": [(baseline, 100)]})
    rollout = machine.new_rollout(target(), PACKAGE, world.now)
    obs = world.observe(rollout).model_copy(update={"serving_variant": baseline, "baseline_config": carried})
    decided, actions = machine.decide(rollout, obs, world.now)
    config = next(a for a in actions if isinstance(a, CreateEndpointConfig))
    assert config.baseline_config == carried
    (base_spec, _), (cand_spec, _) = config.variants
    assert base_spec == baseline, "the baseline variant exactly as it was"
    assert cand_spec.settings == baseline.settings, "same instance type: every container setting"
    other = decided.candidate.model_copy(update={"instance_type": "ml.g5.xlarge"})
    assert "VolumeSizeInGB" not in changes.candidate_settings(other, baseline)
    assert changes.candidate_settings(other, baseline)["ContainerStartupHealthCheckTimeoutInSeconds"] == 600
    for name in (naming.final_config, naming.rollback_config):
        cfg_actions, _ = changes.for_desired_config(
            decided.model_copy(update={"desired_config": name("churn", decided.rollout_id)})
        )
        assert next(a for a in cfg_actions if isinstance(a, CreateEndpointConfig)).baseline_config == carried


def test_an_endpoint_this_tool_cannot_roll_out_fails_at_once_with_the_reason():
    world = World()
    rollout = start(world)
    obs = world.observe(rollout).model_copy(update={"unsupported": "variant AllTraffic is serverless"})
    decided, actions = machine.decide(rollout, obs, world.now)
    assert decided.phase is Phase.FAILED and decided.reason == "variant AllTraffic is serverless"
    assert actions == []


# --- item 8: a failure is a failure only with SageMaker's evidence ------------------------------


def test_refused_update_then_an_autoscaling_change_is_not_a_failure():
    world = World()
    rollout = start(world)
    decided, actions = machine.decide(rollout, world.observe(rollout), world.now)
    for action in actions[:-1]:
        world.apply(action)
    rollout = errors.on_action_error(decided, actions[-1], *IN_PROGRESS, world.now)
    assert rollout.requested_at is None
    # Autoscaling's own change completes a moment later: LastModifiedTime moves past the request.
    world.now += timedelta(seconds=30)
    world.last_modified = world.now
    world.instances[BASELINE.variant_name] = 2
    rollout = run(world, rollout)
    assert rollout.phase is Phase.SUCCEEDED, rollout.reason


def test_settling_elsewhere_without_a_failure_reason_is_asked_again_then_fails_bounded():
    world = World()
    rollout = start(world)
    rollout = step(world, rollout)  # the update is accepted...
    world.pending = None  # ...and SageMaker settles back on the old config, saying nothing
    world.status, world.last_modified = "InService", world.now + timedelta(seconds=30)
    world.now += timedelta(seconds=60)
    rollout = step(world, rollout)
    assert rollout.phase is Phase.PROVISIONING and rollout.attempts == 1, rollout.reason
    for _ in range(decisions.MAX_ATTEMPTS):
        world.pending = None
        world.status, world.last_modified = "InService", world.now + timedelta(seconds=30)
        world.now += timedelta(seconds=60)
        rollout = step(world, rollout)
        if rollout.phase.terminal:
            break
    assert rollout.phase is Phase.FAILED
    assert "did not take effect after 3 requests" in rollout.reason


def test_a_stale_failure_reason_is_not_evidence_but_a_new_one_is():
    world = World()
    world.failure_reason = "an old failure"
    world.fail_next = True
    rollout = run(world, start(world))
    assert rollout.phase is Phase.FAILED and "simulated failure" in rollout.reason


def test_update_rollback_failed_during_provisioning_waits_bounded_then_fails_for_hands():
    world = World()
    world.fail_next, world.fail_status = True, "UpdateRollbackFailed"
    rollout = run(world, start(world), until=Phase.ROLLING_BACK)
    assert "endpoint update failed" in rollout.reason
    rollout = step(world, rollout)
    assert rollout.stuck_since is not None
    waited = world.now
    rollout = run(world, rollout)
    assert rollout.phase is Phase.FAILED
    assert world.now - waited >= timedelta(seconds=rollback.STUCK_SECONDS)
    assert "restore it by hand" in rollout.reason and rollout.candidate.model_name in rollout.reason
    assert rollout.finishing == [], "nothing is deleted from under a stuck endpoint"


def test_rollback_on_a_failed_endpoint_is_bounded():
    world = World()
    rollout = run(world, start(world), until=Phase.BAKING)
    world.alarms["churn-5xx"] = AlarmState.ALARM
    world.status, world.failure_reason = "Failed", "instances lost"
    rollout = run(world, rollout)
    assert rollout.phase is Phase.FAILED
    assert "endpoint is Failed (instances lost)" in rollout.reason
    assert "guard alarm in ALARM" in rollout.reason


def test_promotion_failing_three_times_rolls_back_with_the_count():
    world = World()
    rollout = run(world, start(world, target(steps=[100], bake=0)), until=Phase.PROMOTING)
    for _ in range(20):
        if world.pending is not None:
            world.fail_next = True
            world.pending = (world.pending[0], world.pending[1], True)
        world.now += timedelta(seconds=60)
        world.complete()
        rollout = step(world, rollout)
        if rollout.phase is Phase.ROLLING_BACK:
            break
    assert rollout.phase is Phase.ROLLING_BACK
    assert "promotion failed 3 times" in rollout.reason


def test_variant_spec_settings_default_empty_for_rollouts_stored_before_them():
    stored = VariantSpec.model_validate(
        {"variant_name": "AllTraffic", "model_name": "m", "instance_type": "ml.m5.large", "instance_count": 1}
    )
    assert stored.settings == {}


def test_crash_before_sending_then_autoscaling_with_a_stale_failure_reason_is_not_a_failure():
    world = World()
    world.failure_reason = "an update that failed last week"
    rollout = step(world, start(world), crash=True)  # decision saved; the process died before UpdateEndpoint
    world.now += timedelta(seconds=60)
    world.last_modified = world.now  # autoscaling changed the endpoint meanwhile
    world.instances[BASELINE.variant_name] = 2
    rollout = run(world, rollout)
    assert rollout.phase is Phase.SUCCEEDED, rollout.reason


def test_a_refused_request_is_not_sent_again_by_a_duplicate_trigger_before_its_backoff():
    world = World()
    rollout = start(world)
    decided, actions = machine.decide(rollout, world.observe(rollout), world.now)
    for action in actions[:-1]:
        world.apply(action)
    rollout = errors.on_action_error(decided, actions[-1], *NOT_FOUND, world.now)
    again, sent = machine.decide(rollout, world.observe(rollout), world.now)  # a duplicate event, same instant
    assert (again, sent) == (rollout, [])
    world.now += timedelta(seconds=decisions.RETRY_BACKOFF_SECONDS)
    _, sent = machine.decide(rollout, world.observe(rollout), world.now)
    assert [a.kind for a in sent][-1] == "UpdateEndpoint"
