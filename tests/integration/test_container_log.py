"""What failed, from the container's own log (issue 17 item 4): a failed endpoint update's
reason carries the candidate container's log lines, in the history, the milestone and the
rollout API's view; the read itself, through the real CloudWatch Logs client, on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from rollout_core.aws.clients import client
from rollout_core.aws.logs import ContainerLogs
from sandbox.calls import hooks
from sandbox.sagemaker_ext import Failure
from sandbox.stack import Sandbox

from .helpers import register, rollout_for
from .test_quota_preflight import Refuse

PING = "ERROR worker exited: model.tar.gz missing config.json; GET /ping 500"


def test_a_failed_health_check_comes_with_the_containers_own_error(stack: Sandbox):
    arns = register(stack, 2)
    stack.set_approval(arns[0], "Approved")
    stack.advance(180)
    stack.simulator.fail_next["churn-endpoint"] = Failure(
        "The primary container for production variant failed to pass the ping health check.", log=PING
    )
    stack.notifications()
    stack.set_approval(arns[1], "Approved")
    stack.advance(180)
    rollout = rollout_for(arns[1])
    assert rollout.phase.value == "FAILED"
    assert rollout.reason == (
        "endpoint update failed: The primary container for production variant failed to pass the ping "
        f"health check.; container log: {PING}"
    )
    sns, _ = stack.notifications()
    failed = [m["Message"] for m in sns if "rollout FAILED" in m.get("Message", "")]
    assert failed and PING in failed[0]  # the milestone
    view = json.loads(stack.api("GET", f"/v1/rollouts/{rollout.rollout_id}", None, {})["body"])
    assert PING in view["reason"]


def test_the_read_keeps_the_variants_error_lines_and_a_refused_read_gives_none(stack: Sandbox):
    logs = client("logs")
    group = "/aws/sagemaker/Endpoints/churn-endpoint"
    logs.create_log_group(logGroupName=group)
    now = datetime(2026, 11, 20, 9, 5, tzinfo=UTC)
    for stream, lines in (
        ("v-cand/i-1", ["Starting the inference server", "Traceback (most recent call last):", PING]),
        ("v-base/i-2", ["ERROR on the baseline, not the candidate"]),
    ):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        events = [{"timestamp": int(now.timestamp() * 1000), "message": line} for line in lines]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    reader = ContainerLogs(client("logs"))
    window = (now - timedelta(minutes=1), now + timedelta(minutes=1))
    assert reader.recent("churn-endpoint", "v-cand", *window) == ["Traceback (most recent call last):", PING]
    assert reader.recent("churn-endpoint", "v-none", *window) == []
    assert reader.recent("other-endpoint", "v-cand", *window) == []  # no log group: no lines
    listener = hooks.subscribe(Refuse("FilterLogEvents", "AccessDeniedException"))
    try:
        assert reader.recent("churn-endpoint", "v-cand", *window) == []
    finally:
        hooks.unsubscribe(listener)
