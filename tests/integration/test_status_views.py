"""What `rollout status` shows operators (issue 19): stale alarms, and what needs their hands."""

from __future__ import annotations

import json

from botocore.awsrequest import AWSResponse

from rollout_core.models import Phase
from sandbox.calls import BaseListener, Call, error_response, hooks
from sandbox.stack import Sandbox

from .helpers import rollout_for


def test_status_marks_an_alarm_that_predates_the_rollout_as_stale_and_ignored(stack: Sandbox):
    v1, v2 = stack.register_package("churn-model"), stack.register_package("churn-model")
    stack.set_approval(v1, "Approved")
    stack.advance(180)
    stack.set_alarm("sagemaker-rollout-churn-5xx", "ALARM")
    stack.advance(60)
    stack.set_approval(v2, "Approved")
    stack.advance(420)
    rollout = rollout_for(v2)
    assert rollout.phase is Phase.BAKING, rollout.reason
    view = json.loads(stack.api("GET", f"/v1/rollouts/{rollout.rollout_id}")["body"])
    assert view["live"]["alarms"]["sagemaker-rollout-churn-5xx"] == {
        "state": "ALARM",
        "reason": "sandbox",
        "stale": True,
    }
    stack.set_alarm("sagemaker-rollout-churn-5xx", "OK")
    view = json.loads(stack.api("GET", f"/v1/rollouts/{rollout.rollout_id}")["body"])
    assert view["live"]["alarms"]["sagemaker-rollout-churn-5xx"]["stale"] is False


class _DenyDeleteConfig(BaseListener):
    """IAM refuses DeleteEndpointConfig (a hand-edited policy, say): clean-up can never succeed."""

    def on_send(self, call: Call, attempt: int) -> AWSResponse | None:
        if call.operation == "DeleteEndpointConfig":
            return error_response(call, 400, "AccessDeniedException", "not authorized to DeleteEndpointConfig")
        return None


class _CrashAfterGivingUp(BaseListener):
    def __init__(self) -> None:
        self.crashed = False

    def on_result(self, call: Call) -> None:
        body = call.params.get("Item", {}).get("body", {}).get("S", "")
        if not self.crashed and call.operation == "PutItem" and "clean-up gave up" in body:
            self.crashed = True
            raise _Crash()


class _Crash(BaseException):
    pass


def test_clean_up_that_keeps_failing_gives_up_says_what_is_left_and_survives_a_crash(stack: Sandbox):
    v1, v2 = stack.register_package("churn-model"), stack.register_package("churn-model")
    stack.set_approval(v1, "Approved")
    stack.advance(180)
    hooks.install()
    deny, crash = hooks.subscribe(_DenyDeleteConfig()), hooks.subscribe(_CrashAfterGivingUp())
    try:
        stack.set_approval(v2, "Approved")
        for _ in range(90):
            try:
                stack.advance(60)
            except _Crash:
                stack.cold_start()  # the process died right after the give-up write
            if rollout_for(v2).needs_attention:
                break
    finally:
        hooks.unsubscribe(deny)
        hooks.unsubscribe(crash)
    assert crash.crashed
    gave_up = rollout_for(v2)
    assert gave_up.phase is Phase.SUCCEEDED and gave_up.finishing == []
    assert gave_up.needs_attention and "DeleteEndpointConfig" in gave_up.needs_attention
    assert f"{gave_up.rollout_id}-roll" in gave_up.needs_attention, "names the config left behind"
    assert gave_up.outbox, "announcement pending: the crash came before it"
    stack.advance(60)  # the next tick announces it
    _, events = stack.notifications()
    assert [e["detail-type"] for e in events].count("Rollout Needs Attention") == 1
    assert rollout_for(v2).settled
    view = json.loads(stack.api("GET", f"/v1/rollouts/{gave_up.rollout_id}")["body"])
    assert view["needs_attention"] == gave_up.needs_attention
