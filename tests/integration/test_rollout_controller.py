"""Rollout controller handler on moto, driven by the sample events in events/."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rollout_core.models import Phase
from sandbox.calls import BaseListener, Call, hooks
from sandbox.stack import Sandbox
from tests.conftest import SAMPLE_TARGET, load_event

from .helpers import register, rollout_for, rollouts, serving


def baking_at_10(stack: Sandbox) -> tuple[str, str]:
    """v1 serving, v2 baking at 10 %; returns both package ARNs."""
    arns = register(stack, 2)
    stack.set_approval(arns[0], "Approved")
    stack.advance(180)
    stack.set_approval(arns[1], "Approved")
    stack.advance(360)
    assert rollout_for(arns[1]).phase is Phase.BAKING
    return arns[0], arns[1]


def test_every_sample_event_reaches_the_controller_with_no_rollouts(stack: Sandbox):
    for name in (
        "endpoint_state_change_inservice.json",
        "endpoint_state_change_failed.json",
        "alarm_state_change_alarm.json",
        "alarm_state_change_ok.json",
        "scheduled_tick.json",
    ):
        deliveries = stack.deliver(load_event(name))
        assert [d.function for d in deliveries] == ["RolloutControllerFunction"], name
        assert deliveries[0].error is None, deliveries[0].error
        assert deliveries[0].result == {"rollouts": []}


def test_scheduled_tick_bakes_and_advances_a_step(stack: Sandbox):
    _, candidate = baking_at_10(stack)
    stack.now += timedelta(seconds=300)
    deliveries = stack.deliver(load_event("scheduled_tick.json"))
    assert deliveries[0].result["rollouts"][0]["phase"] == "SHIFTING"
    assert rollout_for(candidate).current_step_percent == 50


def test_endpoint_event_is_a_trigger_not_a_source_of_truth(stack: Sandbox):
    _, candidate = baking_at_10(stack)
    before = rollout_for(candidate)
    # A stale FAILED event for the endpoint: DescribeEndpoint says InService, nothing changes.
    deliveries = stack.deliver(load_event("endpoint_state_change_failed.json"))
    assert deliveries[0].error is None
    assert rollout_for(candidate) == before


def test_sample_alarm_rolls_back_without_waiting_for_the_tick(stack: Sandbox):
    baseline, candidate = baking_at_10(stack)
    stack.set_alarm("sagemaker-rollout-churn-5xx", "ALARM")
    rollout = rollout_for(candidate)
    assert rollout.phase is Phase.ROLLING_BACK
    assert stack.simulator.calls[-1] == ("weights", "churn-endpoint")
    base = rollout_for(baseline).candidate.variant_name
    stack.advance(120)  # the weights update completes: baseline at 100 %, then the candidate leaves
    assert serving(stack) == {base: 100, rollout.candidate.variant_name: 0}
    assert stack.simulator.calls[-1] == ("config", "churn-endpoint")
    stack.advance(120)
    assert serving(stack) == {base: 100}
    assert rollout_for(candidate).phase is Phase.ROLLED_BACK


def test_alarm_event_counts_even_if_the_alarm_is_ok_again(stack: Sandbox):
    _, candidate = baking_at_10(stack)
    event = load_event("alarm_state_change_alarm.json")
    event["detail"]["state"]["timestamp"] = stack.now.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    # The alarm flapped back to OK before the event was handled; the ALARM still counts.
    stack.deliver(event)
    assert rollout_for(candidate).phase is Phase.ROLLING_BACK


def test_late_alarm_from_before_the_rollout_is_ignored(stack: Sandbox):
    _, candidate = baking_at_10(stack)
    event = load_event("alarm_state_change_alarm.json")
    event["detail"]["state"]["timestamp"] = "2026-11-19T08:00:00.000+0000"
    stack.deliver(event)
    assert rollout_for(candidate).phase is Phase.BAKING


def test_ok_after_alarm_out_of_order_does_not_undo_the_rollback(stack: Sandbox):
    baseline, candidate = baking_at_10(stack)
    stack.set_alarm("sagemaker-rollout-churn-5xx", "ALARM")
    ok = load_event("alarm_state_change_ok.json")
    stack.client("cloudwatch").set_alarm_state(
        AlarmName="sagemaker-rollout-churn-5xx", StateValue="OK", StateReason="t"
    )
    stack.deliver(ok)
    stack.advance(600)
    assert rollout_for(candidate).phase is Phase.ROLLED_BACK
    assert serving(stack) == {rollout_for(baseline).candidate.variant_name: 100}


def test_alarm_that_guards_nothing_changes_nothing(stack: Sandbox):
    _, candidate = baking_at_10(stack)
    event = load_event("alarm_state_change_alarm.json")
    event["detail"]["alarmName"] = "sagemaker-rollout-other-alarm"
    deliveries = stack.deliver(event)
    assert deliveries[0].result == {"rollouts": []}
    assert rollout_for(candidate).phase is Phase.BAKING


class _ControllerCalls(BaseListener):
    def __init__(self) -> None:
        self.actions: list[str] = []

    def on_call(self, call: Call) -> None:
        if call.function == "RolloutControllerFunction":
            self.actions.append(call.action)


def test_a_tick_reads_each_live_rollout_once_and_no_settled_one(stack: Sandbox):
    """3N + 2 AWS calls for N baking rollouts: the live index, one GetItem, one DescribeEndpoint
    and one GetMetricData each (the canary analysis, every query of a decision in one call),
    one DescribeAlarms. The settled first versions cost nothing."""
    versions = {}
    for n in (2, 3):
        group = f"churn-model-{n}"
        target = SAMPLE_TARGET.model_copy(update={"model_package_group": group, "endpoint_name": f"churn-endpoint-{n}"})
        stack.put_target(target.model_dump_json(), group)
        versions[group] = [stack.register_package(group) for _ in range(2)]
        stack.set_approval(versions[group][0], "Approved")
    stack.advance(180)
    for first, second in versions.values():
        assert rollout_for(first).phase is Phase.SUCCEEDED
        stack.set_approval(second, "Approved")
    stack.advance(360)
    live = [r for r in rollouts() if not r.settled]
    assert len(live) == 2 and {r.phase for r in live} == {Phase.BAKING}, [(r.endpoint_name, r.phase) for r in live]
    counter = hooks.subscribe(_ControllerCalls())
    try:
        deliveries = stack.tick()
    finally:
        hooks.unsubscribe(counter)
    assert len(deliveries[0].result["rollouts"]) == 2
    assert sorted(counter.actions) == sorted(
        ["dynamodb:Query", "cloudwatch:DescribeAlarms"]
        + ["dynamodb:GetItem", "sagemaker:DescribeEndpoint", "cloudwatch:GetMetricData"] * 2
    ), counter.actions


def test_a_decision_on_an_old_read_loses_the_conditional_write(stack: Sandbox):
    """Two deciders read the same rollout; the first write wins, the second is refused and
    changes nothing (the unit property tests rely on this: their stale decisions are dropped)."""
    from rollout_core import wiring
    from rollout_core.aws.store import ConflictError

    _, candidate = baking_at_10(stack)
    store = wiring.rollout_service().store
    read = rollout_for(candidate)
    winner = store.save(read.model_copy(update={"reason": "first decider"}))
    assert winner.version == read.version + 1
    with pytest.raises(ConflictError):
        store.save(read.model_copy(update={"reason": "second decider, on the old read"}))
    stored = rollout_for(candidate)
    assert (stored.version, stored.reason) == (winner.version, "first decider")
