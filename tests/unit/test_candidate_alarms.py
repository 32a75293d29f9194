"""The candidate's own guard alarms (issue 17): named, put when it joins, guarding, deleted at the end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from rollout_core import decisions, machine
from rollout_core.alarm_spec import CandidateAlarms
from rollout_core.models import (
    AlarmState,
    DeleteCandidateAlarms,
    InstanceQuota,
    Observations,
    Phase,
    PutCandidateAlarms,
)

from .test_machine import run
from .world import PACKAGE, World, step, target

PREFIX = "sagemaker-rollout-"


def own(alarms: list[str] | None = None, spec: CandidateAlarms | None = None, **extra: object):
    tgt = target(alarms=alarms).model_copy(update={"candidate_alarms": spec, **extra})
    return machine.new_rollout(tgt, PACKAGE, World().now, alarm_prefix=PREFIX)


def test_a_target_without_guard_alarms_gets_the_5xx_and_latency_ones():
    rollout = own(alarms=[])
    rid = rollout.rollout_id
    assert rollout.candidate_alarms == {
        "5xx": f"sagemaker-rollout-churn-v-{rid}-5xx",
        "latency_p99": f"sagemaker-rollout-churn-v-{rid}-latency_p99",
    }
    assert rollout.guard_alarm_names == list(rollout.candidate_alarms.values())


def test_a_target_with_guard_alarms_gets_none_unless_it_asks():
    assert own(alarms=["churn-5xx"]).candidate_alarms == {}
    asked = own(alarms=["churn-5xx"], spec=CandidateAlarms(metrics=["4xx", "memory"]))
    assert sorted(asked.candidate_alarms) == ["4xx", "memory"]
    assert asked.guard_alarm_names[0] == "churn-5xx"
    assert own(alarms=[], spec=CandidateAlarms(metrics=[])).candidate_alarms == {}  # opted out


def test_thresholds_default_and_can_be_set():
    spec = CandidateAlarms(metrics=["5xx", "latency_p99", "cpu"], thresholds={"latency_p99": 250})
    assert (spec.threshold("5xx"), spec.threshold("latency_p99"), spec.threshold("cpu")) == (1.0, 250.0, 90.0)
    with pytest.raises(ValidationError):
        CandidateAlarms.model_validate({"metrics": ["p50"]})
    with pytest.raises(ValidationError):
        CandidateAlarms(evaluation_minutes=2, datapoints=3)


def test_they_are_put_when_the_candidate_joins_and_not_for_a_first_deployment():
    world = World()
    rollout = own(alarms=[])
    joined, actions = machine.decide(rollout, world.observe(rollout), world.now)
    assert joined.phase is Phase.PROVISIONING
    assert isinstance(actions[0], PutCandidateAlarms)
    assert actions[0].variant_name == rollout.candidate.variant_name
    assert actions[0].alarms == rollout.candidate_alarms
    first = World.empty()
    created, actions = machine.decide(rollout, first.observe(rollout), first.now)
    assert created.candidate_alarms == {} and not any(isinstance(a, PutCandidateAlarms) for a in actions)


def test_a_missing_one_is_put_again_while_it_guards():
    world = World()
    rollout = step(world, own(alarms=[]))
    assert rollout.phase is Phase.PROVISIONING
    world.alarms.clear()  # e.g. a crash after the saved decision, before PutMetricAlarm
    _, actions = machine.decide(rollout, world.observe(rollout), world.now)
    assert [a.kind for a in actions] == ["PutCandidateAlarms"]


def test_one_without_data_holds_the_step_and_one_in_alarm_rolls_back_then_they_are_deleted():
    world = World()
    rollout = run(world, own(alarms=[]), until=Phase.BAKING)
    assert all(world.alarms[n] is AlarmState.INSUFFICIENT_DATA for n in rollout.candidate_alarms.values())
    world.now += timedelta(seconds=600)
    assert step(world, rollout).phase is Phase.BAKING  # held: no data yet (plan: insufficient_data HOLD)
    world.alarms = dict.fromkeys(rollout.candidate_alarms.values(), AlarmState.OK)
    world.alarms[rollout.candidate_alarms["5xx"]] = AlarmState.ALARM
    rollout = step(world, rollout)
    assert rollout.phase is Phase.ROLLING_BACK and rollout.candidate_alarms["5xx"] in rollout.reason
    rollout = run(world, rollout)
    assert rollout.phase is Phase.ROLLED_BACK
    assert world.calls[-1] == "DeleteCandidateAlarms" and world.alarms == {}
    assert rollout.settled


def test_their_deletion_is_a_finishing_action_kept_until_done():
    world = World()
    rollout = run(world, own(alarms=[]), until=Phase.BAKING)
    done, actions = decisions.finish(rollout, world.observe(rollout), world.now, Phase.FAILED, "x", [])
    assert actions == done.finishing == [DeleteCandidateAlarms(names=sorted(rollout.candidate_alarms.values()))]


def test_a_rollout_that_never_left_pending_has_none_to_delete():
    world = World()
    rollout = own(alarms=[])
    quota = {"ml.m5.large": InstanceQuota(instance_type="ml.m5.large", quota=1, in_use=1)}
    obs = world.observe(rollout).model_copy(update={"quotas": quota})
    failed, actions = machine.decide(rollout, Observations.model_validate(obs.model_dump()), world.now)
    assert failed.phase is Phase.FAILED and actions == [] and failed.finishing == []


def test_a_rollout_failed_by_an_action_error_while_joining_deletes_them_too():
    """PutMetricAlarm refused part-way (one alarm made, the next AccessDenied): the rollout ends
    FAILED before the endpoint is touched, and the deletion is among its finishing actions."""
    world = World()
    rollout = own(alarms=[])
    world.errors_next = [("AccessDenied", "not authorized to perform cloudwatch:PutMetricAlarm")]
    failed = step(world, rollout)
    assert failed.phase is Phase.FAILED and "PutCandidateAlarms failed: AccessDenied" in failed.reason
    assert world.calls == ["PutCandidateAlarms"] and world.config == "original"
    assert DeleteCandidateAlarms(names=sorted(rollout.candidate_alarms.values())) in failed.finishing


def test_a_repair_that_fails_leaves_the_rollout_as_it_is():
    """Found missing while an endpoint change is in flight (e.g. read before the join's put): a
    refused put again must not fail the rollout and discard a candidate that is joining."""
    world = World()
    rollout = step(world, own(alarms=[]))  # joined: UpdateEndpoint in flight
    world.alarms.clear()
    world.errors_next = [("ResourceLimitExceeded", "refused")]
    after = step(world, rollout)
    assert after.phase is Phase.PROVISIONING and after.history[-1].event == "will retry"
    world.now += timedelta(seconds=120)
    world.complete()
    smoked = step(world, after)  # alarms put again; the smoke test (issue 12) before any traffic
    assert smoked.history[-1].event == "smoke test skipped"
    assert step(world, smoked).phase is Phase.SHIFTING  # and the rollout goes on
    assert set(world.alarms) == set(rollout.candidate_alarms.values())
