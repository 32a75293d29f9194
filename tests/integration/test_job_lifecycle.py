"""Jobs keep their promises (issue 19, items 5-7): announcements survive a crash, overdue
transform jobs stop billing, job records expire with their links."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from rollout_core.jobs import JobStatus
from sandbox.calls import BaseListener, Call, hooks
from sandbox.stack import TABLE, Sandbox

JSON = {"Content-Type": "application/json"}


class Crash(BaseException):
    """The Lambda process died right after a call returned (no except Exception catches it)."""


class CrashAfterFinishingWrite(BaseListener):
    """Dies right after the PutItem that records a job's outcome (its body says FAILED/SUCCEEDED)."""

    def __init__(self) -> None:
        self.crashed = False

    def on_result(self, call: Call) -> None:
        body = call.params.get("Item", {}).get("body", {}).get("S", "")
        if not self.crashed and call.operation == "PutItem" and '"status":"FAILED"' in body:
            self.crashed = True
            raise Crash()


def _job(stack: Sandbox, **request: Any) -> dict[str, Any]:
    response = stack.api("POST", "/v1/jobs", json.dumps({"target": "churn-model", **request}), JSON)
    assert response["statusCode"] == 201, response["body"]
    created: dict[str, Any] = json.loads(response["body"])
    return created


def _stored(stack: Sandbox, job_id: str) -> dict[str, Any]:
    item: dict[str, Any] = stack.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}
    )["Item"]
    return item


def _announced(stack: Sandbox) -> list[str]:
    _, events = stack.notifications()
    return [e["detail"]["job_id"] + ":" + e["detail-type"] for e in events if e["detail-type"].startswith("Job ")]


def test_a_crash_between_finishing_a_job_and_announcing_it_delays_the_announcement_only(serving_stack: Sandbox):
    stack = serving_stack
    stack.notifications()  # what the fixture's deployment announced
    job = _job(stack, mode="batch", content_type="text/csv")  # never uploaded: the sweep fails it
    stack.now += timedelta(hours=2)
    hooks.install()
    crash = hooks.subscribe(CrashAfterFinishingWrite())
    try:
        with pytest.raises(Crash):
            stack.tick("JobSweep")
    finally:
        hooks.unsubscribe(crash)
    assert crash.crashed
    stored = json.loads(_stored(stack, job["job_id"])["body"]["S"])
    assert stored["status"] == "FAILED" and [n["detail_type"] for n in stored["outbox"]] == ["Job Failed"]
    assert _announced(stack) == [], "the process died before publishing"
    stack.tick("JobSweep")  # the next sweep announces what the crash left
    assert _announced(stack) == [f"{job['job_id']}:Job Failed"]
    assert json.loads(_stored(stack, job["job_id"])["body"]["S"])["outbox"] == []
    stack.tick("JobSweep")
    assert _announced(stack) == [], "announced once"


def test_a_transform_job_past_its_deadline_is_stopped_and_says_so(serving_stack: Sandbox):
    stack = serving_stack
    job = _job(stack, mode="batch", content_type="text/csv", split_type="Line")
    assert stack.upload(job["upload"], b"1,2\n3,4\n") == 204
    stack.jobs.work.clear()  # the transform job never finishes by itself
    name = f"sr-{job['job_id']}"
    assert stack.client("sagemaker").describe_transform_job(TransformJobName=name)["TransformJobStatus"] == "InProgress"
    stack.now += timedelta(seconds=3600 + 60)
    stack.tick("JobSweep")
    assert stack.jobs.stopped == [name]
    view = json.loads(stack.api("GET", f"/v1/jobs/{job['job_id']}")["body"])
    assert view["status"] == JobStatus.FAILED.value
    assert "transform job stopped" in view["failure_reason"]
    assert json.loads(_stored(stack, job["job_id"])["body"]["S"])["stopped_at"] is not None
    assert stack.client("sagemaker").describe_transform_job(TransformJobName=name)["TransformJobStatus"] == "Stopping"
    stack.advance(120)  # SageMaker stops it; its Stopped event changes nothing more
    assert stack.client("sagemaker").describe_transform_job(TransformJobName=name)["TransformJobStatus"] == "Stopped"
    assert json.loads(stack.api("GET", f"/v1/jobs/{job['job_id']}")["body"])["status"] == "FAILED"
    assert [d.error for d in stack.deliveries if d.error] == []


def test_job_records_expire_with_their_links(serving_stack: Sandbox):
    job = _job(serving_stack, mode="async", content_type="text/csv")
    item = _stored(serving_stack, job["job_id"])
    stored = json.loads(item["body"]["S"])
    deadline = serving_stack.now + timedelta(hours=1)  # the upload grace before an upload
    assert stored["deadline"].startswith(deadline.strftime("%Y-%m-%dT%H:%M"))
    assert int(item["expiration"]["N"]) == int((deadline + timedelta(days=7)).timestamp())
