"""The job path's limits, as SageMaker sets them (pure functions of rollout_core.jobs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rollout_core.jobs import (
    ASYNC_MAX_BYTES,
    BATCH_MAX_BYTES,
    JobError,
    JobMode,
    JobRequest,
    async_expiry,
    new_job,
)
from rollout_core.models import InferenceSettings, Target

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OWNER = "arn:aws:iam::123456789012:user/client"
# InvokeEndpointAsync (botocore's sagemaker-runtime service model): InvocationTimeoutSeconds
# 1-3600 (default 900, processing), RequestTTLSeconds 60-21600 (default 21600, in the queue).


def target(**inference: object) -> Target:
    return Target(
        model_package_group="churn-model",
        endpoint_name="churn-endpoint",
        instance_type="ml.m5.large",
        inference=InferenceSettings.model_validate({"async_endpoint_name": "churn-endpoint-async", **inference}),
    )


@pytest.mark.parametrize(
    ("deadline", "expected"),
    [
        (61, (1, 60)),  # the shortest SageMaker can take
        (120, (60, 60)),
        (960, (900, 60)),
        (3600, (900, 2700)),  # the default job timeout
        (22500, (900, 21600)),  # the longest
    ],
)
def test_an_async_request_expires_by_the_jobs_deadline(deadline: int, expected: tuple[int, int]):
    invocation, ttl = async_expiry(deadline)
    assert (invocation, ttl) == expected
    assert invocation + ttl == deadline
    assert 1 <= invocation <= 3600 and 60 <= ttl <= 21600


@pytest.mark.parametrize("deadline", [60, 22501, 604800])
def test_a_deadline_async_inference_cannot_honour_is_refused_saying_why(deadline: int):
    with pytest.raises(JobError) as refused:
        async_expiry(deadline)
    assert refused.value.status == 422
    assert str(deadline) in refused.value.message and "mode batch" in refused.value.message


def test_async_job_creation_checks_the_deadline_first():
    request = JobRequest(target="churn-model", mode=JobMode.ASYNC, content_type="text/csv")
    with pytest.raises(JobError, match="22500"):
        new_job(request, target(job_timeout_seconds=86400), "bucket", NOW, OWNER)
    batch = request.model_copy(update={"mode": JobMode.BATCH})
    assert new_job(batch, target(job_timeout_seconds=86400), "bucket", NOW, OWNER).mode is JobMode.BATCH


def test_a_whole_object_batch_record_must_fit_max_payload():
    """split_type None: the object is one record, and a record must fit MaxPayloadInMB."""
    settings = target(max_payload_mb=6)
    limit = 6 * 1_000_000
    request = JobRequest(target="churn-model", mode=JobMode.BATCH, content_type="text/csv", split_type="None")
    assert new_job(request, settings, "b", NOW, OWNER).max_bytes == limit  # the upload is held to it
    fits = request.model_copy(update={"size_bytes": limit})
    assert new_job(fits, settings, "b", NOW, OWNER).max_bytes == limit
    with pytest.raises(JobError) as refused:
        new_job(request.model_copy(update={"size_bytes": limit + 1}), settings, "b", NOW, OWNER)
    assert refused.value.status == 422
    assert "MaxPayloadInMB" in refused.value.message and "split_type" in refused.value.message
    lines = request.model_copy(update={"split_type": "Line", "size_bytes": 2 * 1024**3})
    assert new_job(lines, settings, "b", NOW, OWNER).max_bytes == 2 * 1024**3


@pytest.mark.parametrize(
    ("mode", "size", "ok"),
    [
        (JobMode.ASYNC, ASYNC_MAX_BYTES, True),
        (JobMode.ASYNC, ASYNC_MAX_BYTES + 1, False),
        (JobMode.BATCH, BATCH_MAX_BYTES, True),
        (JobMode.BATCH, BATCH_MAX_BYTES + 1, False),
    ],
)
def test_a_declared_size_bounds_the_upload(mode: JobMode, size: int, ok: bool):
    split = "Line" if mode is JobMode.BATCH else "None"
    request = JobRequest(target="churn-model", mode=mode, content_type="text/csv", split_type=split, size_bytes=size)
    if ok:
        assert new_job(request, target(), "b", NOW, OWNER).max_bytes == size
    else:
        with pytest.raises(JobError) as refused:
            new_job(request, target(), "b", NOW, OWNER)
        assert refused.value.status == 422
