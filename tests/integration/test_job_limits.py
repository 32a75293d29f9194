"""Async and batch limits at POST /v1/jobs and at dispatch, on moto (the sandbox's SageMaker
refuses InvokeEndpointAsync expiries outside the documented ranges, as SageMaker does)."""

from __future__ import annotations

import base64
import json
from typing import Any

from rollout_core.models import Target
from sandbox.stack import Sandbox
from tests.conftest import ASYNC_TARGET

JSON = {"Content-Type": "application/json"}


def create(stack: Sandbox, **request: Any) -> tuple[int, dict[str, Any]]:
    response = stack.api("POST", "/v1/jobs", json.dumps(request), JSON)
    return response["statusCode"], json.loads(response["body"])


def content_length_range(upload: dict[str, Any]) -> list[Any]:
    conditions = json.loads(base64.b64decode(upload["fields"]["policy"]))["conditions"]
    found: list[Any] = next(c for c in conditions if isinstance(c, list) and c[0] == "content-length-range")
    return found


def with_inference(stack: Sandbox, **settings: Any) -> Target:
    target = ASYNC_TARGET.model_copy(update={"inference": ASYNC_TARGET.inference.model_copy(update=settings)})
    stack.put_target(target.model_dump_json(), target.model_package_group)
    return target


def test_an_async_request_expires_by_the_jobs_deadline(serving_stack: Sandbox):
    """InvokeEndpointAsync gets InvocationTimeoutSeconds + RequestTTLSeconds = the job timeout
    (3600 s by default): SageMaker drops the request when the job would be failed anyway."""
    code, job = create(serving_stack, target="churn-model", mode="async", content_type="text/csv", size_bytes=4)
    assert code == 201
    assert content_length_range(job["upload"]) == ["content-length-range", 1, 4]
    serving_stack.upload(job["upload"], b"1,2\n")
    (sent,) = serving_stack.jobs.async_requests
    assert sent["inference_id"] == job["job_id"]
    assert (sent["invocation_timeout"], sent["ttl"]) == (900, 2700)
    serving_stack.advance(120)
    assert json.loads(serving_stack.api("GET", f"/v1/jobs/{job['job_id']}")["body"])["status"] == "SUCCEEDED"


def test_a_job_timeout_async_cannot_honour_is_refused_at_once(serving_stack: Sandbox):
    with_inference(serving_stack, job_timeout_seconds=86400)
    for mode in ("async", "auto"):  # auto picks async for one record when the target has a twin
        code, answer = create(serving_stack, target="churn-model", mode=mode, content_type="text/csv")
        assert code == 422, mode
        assert "86400" in answer["message"] and "22500" in answer["message"] and "mode batch" in answer["message"]
    code, _ = create(serving_stack, target="churn-model", mode="batch", content_type="text/csv", split_type="Line")
    assert code == 201


def test_a_target_changed_after_the_job_was_made_fails_the_job_not_the_request(serving_stack: Sandbox):
    code, job = create(serving_stack, target="churn-model", mode="async", content_type="text/csv")
    assert code == 201
    with_inference(serving_stack, job_timeout_seconds=86400)
    serving_stack.upload(job["upload"], b"1,2\n")
    view = json.loads(serving_stack.api("GET", f"/v1/jobs/{job['job_id']}")["body"])
    assert view["status"] == "FAILED"
    assert "cannot honour" in view["failure_reason"]
    assert serving_stack.jobs.async_requests == []


def test_a_whole_object_batch_record_must_fit_max_payload(serving_stack: Sandbox):
    """split_type None: SageMaker sends the whole object as one record, and a record larger than
    MaxPayloadInMB (6 here) fails the transform job; refused before any upload instead."""
    for size, status in ((6_000_000, 201), (6_000_001, 422)):
        code, answer = create(
            serving_stack,
            target="churn-model",
            mode="batch",
            content_type="text/csv",
            split_type="None",
            size_bytes=size,
        )
        assert code == status, size
        if status == 201:
            assert content_length_range(answer["upload"]) == ["content-length-range", 1, size]
        else:
            assert "MaxPayloadInMB" in answer["message"] and "split_type" in answer["message"]


def test_an_undeclared_whole_object_upload_is_still_held_to_max_payload(serving_stack: Sandbox):
    code, job = create(serving_stack, target="churn-model", mode="batch", content_type="text/csv")
    assert code == 201
    assert content_length_range(job["upload"]) == ["content-length-range", 1, 6_000_000]


def test_s3_holds_the_upload_to_the_declared_size(serving_stack: Sandbox):
    """The presigned POST's content-length-range is the declared size: S3 refuses a larger file
    (EntityTooLarge), so nothing is dispatched."""
    code, job = create(serving_stack, target="churn-model", mode="async", content_type="text/csv", size_bytes=4)
    assert code == 201
    assert serving_stack.upload(job["upload"], b"1,2,3\n") == 400
    assert serving_stack.jobs.async_requests == []
    view = json.loads(serving_stack.api("GET", f"/v1/jobs/{job['job_id']}")["body"])
    assert view["status"] == "PENDING_UPLOAD"
