"""The job path on moto: create, upload, dispatch, results, sweep; the payload never passes a handler."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import requests
from botocore.client import BaseClient

from sandbox.stack import JOBS_BUCKET, Sandbox
from tests.conftest import load_event

JSON = {"Content-Type": "application/json"}


def create(stack: Sandbox, **request: Any) -> tuple[int, dict[str, Any]]:
    response = stack.api("POST", "/v1/jobs", json.dumps(request), JSON)
    raw = response["body"]
    return response["statusCode"], json.loads(base64.b64decode(raw) if response.get("isBase64Encoded") else raw)


def status(stack: Sandbox, job_id: str) -> dict[str, Any]:
    response = stack.api("GET", f"/v1/jobs/{job_id}")
    assert response["statusCode"] == 200, response
    parsed: dict[str, Any] = json.loads(response["body"])
    return parsed


def policy(upload: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(base64.b64decode(upload["fields"]["policy"]))
    return parsed


def test_async_job_end_to_end(serving_stack: Sandbox):
    code, job = create(serving_stack, target="churn-model", mode="auto", content_type="text/csv")
    assert code == 201
    assert job["mode"] == "async" and job["status"] == "PENDING_UPLOAD"
    assert job["upload"]["fields"]["key"] == f"inputs/{job['job_id']}/input"
    assert serving_stack.upload(job["upload"], b"5.1,3.5,1.4,0.2\n" * 10_000) == 204
    assert status(serving_stack, job["job_id"])["status"] == "RUNNING"
    serving_stack.advance(120)
    done = status(serving_stack, job["job_id"])
    assert done["status"] == "SUCCEEDED"
    assert done["output"]["expires_in"] <= 300
    result = requests.get(done["output"]["url"], timeout=10)
    assert result.status_code == 200
    assert json.loads(result.content)["input_bytes"] == 160_000
    _, events = serving_stack.notifications()
    finished = [e for e in events if e["detail-type"] == "Job Succeeded"]
    assert [e["detail"]["job_id"] for e in finished] == [job["job_id"]]


def test_batch_job_end_to_end_uses_the_promoted_model(serving_stack: Sandbox):
    code, job = create(serving_stack, endpoint="churn-endpoint", content_type="text/csv", split_type="Line")
    assert code == 201
    assert job["mode"] == "batch"  # auto: a dataset of records
    serving_stack.upload(job["upload"], b"1,2\n3,4\n")
    sm = serving_stack.client("sagemaker")
    transform = sm.describe_transform_job(TransformJobName=f"sr-{job['job_id']}")
    assert (
        transform["ModelName"]
        == serving_stack.client("sagemaker").describe_endpoint_config(
            EndpointConfigName=sm.describe_endpoint(EndpointName="churn-endpoint")["EndpointConfigName"]
        )["ProductionVariants"][0]["ModelName"]
    )
    assert transform["BatchStrategy"] == "MultiRecord"
    assert transform["TransformInput"]["SplitType"] == "Line"
    assert {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=transform["TransformJobArn"])["Tags"]}[
        "sagemaker-rollout:job-id"
    ] == job["job_id"]
    serving_stack.advance(120)
    done = status(serving_stack, job["job_id"])
    assert done["status"] == "SUCCEEDED"
    assert f"outputs/batch/{job['job_id']}/input.out" in done["output"]["url"]


def test_upload_is_presigned_short_lived_and_size_limited(serving_stack: Sandbox):
    _, job = create(serving_stack, target="churn-model", mode="async", content_type="application/json")
    conditions = policy(job["upload"])["conditions"]
    assert ["content-length-range", 1, 1024**3] in conditions
    assert {"Content-Type": "application/json"} in conditions
    assert {"key": f"inputs/{job['job_id']}/input"} in conditions
    assert job["upload"]["expires_in"] == 900
    _, batch = create(serving_stack, target="churn-model", mode="batch", content_type="text/csv", split_type="Line")
    assert ["content-length-range", 1, 5 * 1024**3] in policy(batch["upload"])["conditions"]
    # One whole-object record (split_type None) must fit MaxPayloadInMB (tests/integration/test_job_limits.py).
    _, whole = create(serving_stack, target="churn-model", mode="batch", content_type="text/csv")
    assert ["content-length-range", 1, 6 * 1_000_000] in policy(whole["upload"])["conditions"]


@pytest.mark.parametrize(
    ("request_body", "code", "text"),
    [
        ({"target": "churn-model", "endpoint": "churn-endpoint", "content_type": "text/csv"}, 422, ""),
        ({"content_type": "text/csv"}, 422, ""),
        ({"target": "fraud-model", "content_type": "text/csv"}, 404, "no target"),
        (
            {"target": "churn-model", "content_type": "text/csv", "mode": "async", "split_type": "Line"},
            400,
            "one record",
        ),
        ({"target": "churn-model", "content_type": "not a type"}, 422, ""),
        ({"target": "churn-model", "content_type": "text/csv", "mode": "stream"}, 422, ""),
    ],
)
def test_job_requests_are_validated(serving_stack: Sandbox, request_body, code, text):
    status_code, answer = create(serving_stack, **request_body)
    assert status_code == code
    assert text in answer["message"]


def test_async_mode_without_async_endpoint_is_409(stack: Sandbox):
    status_code, answer = create(stack, target="churn-model", mode="async", content_type="text/csv")
    assert status_code == 409
    assert "mode batch" in answer["message"]


def test_malformed_json_body_is_4xx(serving_stack: Sandbox):
    response = serving_stack.api("POST", "/v1/jobs", b"{not json", JSON)
    assert 400 <= response["statusCode"] < 500


def test_unknown_and_malformed_job_ids(serving_stack: Sandbox):
    assert serving_stack.api("GET", "/v1/jobs/" + "0" * 32)["statusCode"] == 404
    assert serving_stack.api("GET", "/v1/jobs/not-a-job")["statusCode"] == 422


def test_failing_async_job_is_failed_with_the_reason(serving_stack: Sandbox):
    _, job = create(serving_stack, target="churn-model", mode="async", content_type="text/csv")
    serving_stack.jobs.fail_next_async["churn-endpoint-async"] = "ClientError: Received server error (500) from model"
    serving_stack.upload(job["upload"], b"1,2,3")
    serving_stack.advance(120)
    done = status(serving_stack, job["job_id"])
    assert done["status"] == "FAILED"
    assert "server error (500)" in done["failure_reason"]
    assert done["output"] is None
    messages, events = serving_stack.notifications()
    failed = [e for e in events if e["detail-type"] == "Job Failed"]
    assert "server error (500)" in failed[0]["detail"]["failure_reason"]
    assert any("job failed" in m["Subject"] for m in messages)


def test_failing_transform_job_is_failed_with_the_reason(serving_stack: Sandbox):
    _, job = create(serving_stack, target="churn-model", mode="batch", content_type="text/csv")
    serving_stack.jobs.fail_next_transform = "AlgorithmError: ClientError: invalid CSV on line 2"
    serving_stack.upload(job["upload"], b"1,2\nx\n")
    serving_stack.advance(120)
    done = status(serving_stack, job["job_id"])
    assert done["status"] == "FAILED"
    assert done["failure_reason"] == "AlgorithmError: ClientError: invalid CSV on line 2"


def test_job_stuck_running_is_failed_by_the_schedule(serving_stack: Sandbox):
    _, job = create(serving_stack, target="churn-model", mode="async", content_type="text/csv")
    serving_stack.upload(job["upload"], b"1")
    serving_stack.jobs.work.clear()  # SageMaker never answers
    serving_stack.now += timedelta(seconds=3600 + 60)
    deliveries = serving_stack.tick("JobSweep")
    assert [d.function for d in deliveries] == ["TransformJobEventsFunction"]
    done = status(serving_stack, job["job_id"])
    assert done["status"] == "FAILED"
    assert "deadline" in done["failure_reason"]


def test_job_never_uploaded_is_failed_by_the_schedule(serving_stack: Sandbox):
    _, job = create(serving_stack, target="churn-model", mode="batch", content_type="text/csv")
    serving_stack.now += timedelta(hours=2)
    serving_stack.tick("JobSweep")
    assert status(serving_stack, job["job_id"])["failure_reason"] == "no upload received before the deadline"


def test_sample_events_drive_the_job_handlers(serving_stack: Sandbox):
    """events/ samples, pointed at this sandbox's bucket, topics and job."""
    _, job = create(serving_stack, target="churn-model", mode="async", content_type="text/csv")
    jid = job["job_id"]
    requests.post(job["upload"]["url"], data=job["upload"]["fields"], files={"file": ("input", b"1,2")}, timeout=10)
    serving_stack.jobs.outbox.clear()  # deliver the sample instead of moto's own event
    created = load_event("s3_object_created.json")
    created["detail"]["bucket"]["name"] = JOBS_BUCKET
    created["detail"]["object"]["key"] = f"inputs/{jid}/input"
    deliveries = serving_stack.deliver(created)
    assert [d.function for d in deliveries][:1] == ["JobDispatcherFunction"]
    assert deliveries[0].result == {"job_id": jid, "status": "RUNNING"}
    # A duplicate S3 event dispatches nothing more.
    before = len(serving_stack.jobs.work)
    assert serving_stack.deliver(created)[0].result == {"job_id": jid, "status": "RUNNING"}
    assert len(serving_stack.jobs.work) == before
    serving_stack.jobs.work.clear()

    success = load_event("sns_async_inference_success.json")
    record = success["Records"][0]["Sns"]
    message = json.loads(record["Message"])
    message["inferenceId"] = jid
    record["Message"] = json.dumps(message)
    record["TopicArn"] = serving_stack.routes_topic("AsyncResultsFunction", "Success")
    deliveries = serving_stack.deliver(success)
    assert deliveries[0].result == {"jobs": [{"job_id": jid, "status": "SUCCEEDED"}]}
    # The error notification arriving late for a finished job changes nothing.
    error = load_event("sns_async_inference_error.json")
    record = error["Records"][0]["Sns"]
    message = json.loads(record["Message"])
    message["inferenceId"] = jid
    record["Message"] = json.dumps(message)
    record["TopicArn"] = serving_stack.routes_topic("AsyncResultsFunction", "Error")
    assert serving_stack.deliver(error)[0].result == {"jobs": [{"job_id": jid, "status": "SUCCEEDED"}]}


def test_sample_transform_events_and_foreign_jobs(serving_stack: Sandbox):
    _, job = create(serving_stack, target="churn-model", mode="batch", content_type="text/csv")
    jid = job["job_id"]
    serving_stack.upload(job["upload"], b"1,2\n")
    serving_stack.jobs.work.clear()
    failed = load_event("transform_job_failed.json")
    failed["detail"]["TransformJobName"] = f"sr-{jid}"
    deliveries = serving_stack.deliver(failed)
    assert deliveries[0].function == "TransformJobEventsFunction"
    assert deliveries[0].result == {"jobs": [{"job_id": jid, "status": "FAILED"}]}
    assert status(serving_stack, jid)["failure_reason"] == failed["detail"]["FailureReason"]
    # A transform job that is not ours (another name) never reaches the function.
    foreign = load_event("transform_job_completed.json")
    foreign["detail"]["TransformJobName"] = "someone-elses-job"
    assert serving_stack.deliver(foreign) == []
    # One with our prefix but no record is ignored by the handler.
    assert serving_stack.deliver(load_event("transform_job_completed.json"))[0].result == {"jobs": []}


def test_no_handler_ever_reads_or_writes_a_job_payload(serving_stack: Sandbox, monkeypatch):
    calls: list[tuple[str, str]] = []
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def record(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append((self.meta.service_model.service_name, operation))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    for mode, split in (("async", "None"), ("batch", "Line")):
        _, job = create(serving_stack, target="churn-model", mode=mode, content_type="text/csv", split_type=split)
        serving_stack.upload(job["upload"], b"x" * 1_000_000)
        serving_stack.advance(120)
        assert status(serving_stack, job["job_id"])["status"] == "SUCCEEDED"
    assert ("sagemaker-runtime", "InvokeEndpointAsync") in calls
    assert ("sagemaker", "CreateTransformJob") in calls
    s3_calls = {op for service, op in calls if service == "s3"}
    assert s3_calls <= {"ListObjectsV2"}, s3_calls  # presigned URLs only: no GetObject, no PutObject
    assert not any(op in ("InvokeEndpoint",) for _, op in calls), "the job path never goes real-time"


def test_promotion_moves_the_async_twin_to_the_new_model(serving_stack: Sandbox):
    arn = serving_stack.register_package("churn-model")
    serving_stack.set_approval(arn, "Approved")
    serving_stack.advance(3600)
    sm = serving_stack.client("sagemaker")
    promoted = sm.describe_endpoint_config(
        EndpointConfigName=sm.describe_endpoint(EndpointName="churn-endpoint")["EndpointConfigName"]
    )["ProductionVariants"][0]["ModelName"]
    twin = sm.describe_endpoint(EndpointName="churn-endpoint-async")
    assert twin["EndpointStatus"] == "InService"
    config = sm.describe_endpoint_config(EndpointConfigName=twin["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ModelName"] == promoted
    assert config["AsyncInferenceConfig"]["OutputConfig"]["S3OutputPath"] == f"s3://{JOBS_BUCKET}/outputs/async/"
    # Batch jobs now run on the promoted model too.
    _, job = create(serving_stack, target="churn-model", mode="batch", content_type="text/csv")
    serving_stack.upload(job["upload"], b"1\n")
    assert sm.describe_transform_job(TransformJobName=f"sr-{job['job_id']}")["ModelName"] == promoted


class _RecordingTraceProvider:
    """Stands in for the X-Ray recorder of a traced (Tracing: Active) function: keeps the
    subsegments Powertools Tracer opens and what it would send in their metadata and annotations."""

    def __init__(self) -> None:
        self.subsegments: list[str] = []
        self.metadata: list[Any] = []

    @contextmanager
    def in_subsegment(self, name: str = "", **_: Any) -> Iterator[Any]:
        provider = self
        self.subsegments.append(name)

        class Subsegment:
            def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
                provider.metadata.append((key, value))

            def put_annotation(self, key: str, value: Any) -> None:
                provider.metadata.append((key, value))

            def add_exception(self, *args: Any, **kwargs: Any) -> None:
                return None

        yield Subsegment()


def test_traces_never_carry_presigned_urls_or_predictions(serving_stack: Sandbox, monkeypatch):
    provider = _RecordingTraceProvider()
    monkeypatch.setattr(serving_stack.modules["InferenceApiFunction"].tracer, "provider", provider)
    _, job = create(serving_stack, target="churn-model", mode="async", content_type="text/csv")
    assert serving_stack.upload(job["upload"], b"5.1,3.5,1.4,0.2\n") == 204
    serving_stack.advance(120)
    done = status(serving_stack, job["job_id"])
    assert "X-Amz-Signature" in done["output"]["url"]
    prediction = serving_stack.api(
        "POST", "/v1/endpoints/churn-endpoint/invocations", b"5.1,3.5,1.4,0.2\n", {"Content-Type": "text/csv"}
    )
    assert prediction["statusCode"] == 200
    # The job routes are traced (their answers carry the presigned URLs); the real-time route
    # opens no subsegment of its own (X-Ray's botocore patch traces its InvokeEndpoint).
    assert {name.rsplit(".", 1)[-1] for name in provider.subsegments} == {"create_job", "get_job"}, provider.subsegments
    traced = json.dumps(provider.metadata, default=str)
    assert "Signature" not in traced and prediction["body"] not in traced


def test_log_lines_carry_the_api_gateway_request_id(serving_stack: Sandbox, monkeypatch):
    """A line the inference API logs while it handles a request names API Gateway's request id
    (``correlation_id``), and the next request's lines name the next id."""
    module = serving_stack.modules["InferenceApiFunction"]
    logger = module.logger
    lines: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    real_job_service = module.job_service

    def logging_job_service() -> Any:
        logger.info("handling a job request")  # a line logged mid-request, as the route's code would
        return real_job_service()

    monkeypatch.setattr(module, "job_service", logging_job_service)
    keep = Keep()
    keep.setFormatter(logger.registered_formatter)
    level = logger.log_level
    logger.addHandler(keep)
    logger.setLevel(logging.INFO)
    try:
        for request_id in ("c0ffee00-0000-4000-8000-000000000001", "c0ffee00-0000-4000-8000-000000000002"):
            request = {"target": "churn-model", "mode": "async", "content_type": "text/csv"}
            response = serving_stack.api("POST", "/v1/jobs", json.dumps(request), JSON, request_id=request_id)
            assert response["statusCode"] == 201, response
    finally:
        logger.removeHandler(keep)
        logger.setLevel(level)
    recorded = [line for line in lines if line["message"] == "handling a job request"]
    assert [line.get("correlation_id") for line in recorded] == [
        "c0ffee00-0000-4000-8000-000000000001",
        "c0ffee00-0000-4000-8000-000000000002",
    ]


def test_batch_job_on_an_endpoint_no_rollout_promoted_uses_what_serves(stack: Sandbox):
    """An endpoint that was serving before the stack: no promotion is recorded, so the dispatcher
    reads the serving variant's model from DescribeEndpoint and DescribeEndpointConfig."""
    sm = stack.client("sagemaker")
    sm.create_model(ModelName="adopted-model", ExecutionRoleArn=stack.role_arn, PrimaryContainer={"Image": "x"})
    sm.create_endpoint_config(
        EndpointConfigName="adopted-config",
        ProductionVariants=[
            {
                "VariantName": "legacy",
                "ModelName": "adopted-model",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 1.0,
            }
        ],
    )
    sm.create_endpoint(EndpointName="churn-endpoint", EndpointConfigName="adopted-config")
    stack.advance(300)
    assert stack.endpoint_status("churn-endpoint") == "InService"
    code, job = create(stack, endpoint="churn-endpoint", mode="batch", content_type="text/csv", split_type="Line")
    assert code == 201, job
    assert stack.upload(job["upload"], b"1,2\n3,4\n") == 204
    transform = sm.describe_transform_job(TransformJobName=f"sr-{job['job_id']}")
    assert transform["ModelName"] == "adopted-model"
