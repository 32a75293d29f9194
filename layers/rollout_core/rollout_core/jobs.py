"""The job path: one large record through async inference, or a dataset through batch transform.

A job is recorded when a client asks for an upload URL, dispatched when the upload lands in
S3, and finished by SageMaker's own notifications. No handler ever reads the payload: only
S3 locations and presigned URLs pass through the functions.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .models import NAME_PATTERN, Notification, Target

ASYNC_MAX_BYTES = 1024**3  # SageMaker async inference: up to 1 GB per request
BATCH_MAX_BYTES = 5 * 1024**3  # one presigned POST upload: at most 5 GB
# CreateTransformJob MaxPayloadInMB counts in MB; read as 10^6 bytes, the stricter reading.
MB = 1_000_000
# InvokeEndpointAsync (sagemaker-runtime service model): InvocationTimeoutSeconds 1-3600, the
# processing time, default 900; RequestTTLSeconds 60-21600, the time in the queue.
ASYNC_INVOCATION_TIMEOUT_SECONDS = 900
ASYNC_MIN_TTL_SECONDS = 60
ASYNC_MAX_TTL_SECONDS = 21600
ASYNC_MIN_DEADLINE_SECONDS = 1 + ASYNC_MIN_TTL_SECONDS
ASYNC_MAX_DEADLINE_SECONDS = ASYNC_INVOCATION_TIMEOUT_SECONDS + ASYNC_MAX_TTL_SECONDS
TRANSFORM_PREFIX = "sr-"  # transform jobs this tool starts are named sr-<job id>
INPUT_PREFIX = "inputs/"
OUTPUT_PREFIX = "outputs/"


class JobMode(StrEnum):
    ASYNC = "async"
    BATCH = "batch"
    AUTO = "auto"


class JobStatus(StrEnum):
    PENDING_UPLOAD = "PENDING_UPLOAD"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


SplitType = Literal["None", "Line", "RecordIO", "TFRecord"]


class JobRequest(BaseModel):
    """Body of POST /v1/jobs."""

    model_config = ConfigDict(extra="forbid")

    target: str | None = Field(default=None, min_length=1, max_length=63, description="model package group")
    endpoint: str | None = Field(default=None, pattern=NAME_PATTERN, description="real-time endpoint of a target")
    mode: JobMode = JobMode.AUTO
    content_type: str = Field(min_length=1, max_length=256, pattern=r"^[\w.+-]+/[\w.+-]+(\s*;.*)?$")
    accept: str | None = Field(default=None, max_length=256, pattern=r"^[\w.+*-]+/[\w.+*-]+(\s*;.*)?$")
    split_type: SplitType = Field(default="None", description="batch: how the input splits into records")
    size_bytes: int | None = Field(
        default=None,
        ge=1,
        description="the input's size, if known: refused at once (422) when the mode cannot take it; "
        "the upload is then held to it",
    )

    @model_validator(mode="after")
    def _one_target(self) -> JobRequest:
        if (self.target is None) == (self.endpoint is None):
            raise ValueError("give exactly one of target or endpoint")
        return self


class Job(BaseModel):
    """One job record (DynamoDB item JOB#<id>)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = 3  # of this document as stored (documents.py reads older and newer ones)
    job_id: str
    mode: Literal[JobMode.ASYNC, JobMode.BATCH]
    status: JobStatus = JobStatus.PENDING_UPLOAD
    model_package_group: str
    endpoint_name: str  # the real-time endpoint of the target
    content_type: str
    accept: str | None = None
    split_type: SplitType = "None"
    bucket: str
    input_key: str
    output_location: str | None = None  # s3:// URI (async: the result object; batch: a prefix)
    failure_location: str | None = None
    failure_reason: str | None = None
    sagemaker_name: str | None = None  # async endpoint or transform job name
    model_name: str | None = None
    max_bytes: int
    # Who created the job (job_owner): only they read it through GET /v1/jobs/{id}. None for
    # jobs recorded before jobs had owners: those are read through the operator route only.
    owner: str | None = None
    created_at: datetime
    updated_at: datetime
    deadline: datetime
    version: int = 0
    # "Job Succeeded"/"Job Failed" queued in the same write that finishes the job, cleared once
    # published (as rollout milestones are): a crash in between delays it, never loses it.
    outbox: list[Notification] = Field(default_factory=list)
    stopped_at: datetime | None = None  # when a transform job past its deadline was stopped

    @property
    def input_uri(self) -> str:
        return f"s3://{self.bucket}/{self.input_key}"


# An assumed role's session ARN: arn:aws:sts::<account>:assumed-role/<role>/<session>.
_ROLE_SESSION = re.compile(r"^(arn:aws[a-z-]*:sts::[0-9]{12}:assumed-role/[^/]+)/[^/]+$")


def job_owner(user_arn: str | None, caller: str | None) -> str | None:
    """The principal a job belongs to, from API Gateway's identity of an IAM-authenticated caller.

    An IAM user is its ARN. An assumed role is the role whatever the session: the session name
    changes when credentials are refreshed (botocore names assume-role sessions after the time)
    while IAM sees every session as the role (aws:PrincipalArn), so the session part is dropped
    (``arn:aws:sts::<account>:assumed-role/<role>``; ``caller`` ``<role id>:<session>`` likewise).
    """
    if user_arn:
        session = _ROLE_SESSION.match(user_arn)
        return session.group(1) if session else user_arn
    if caller:
        return caller.split(":", 1)[0]
    return None


def new_job_id() -> str:
    return uuid.uuid4().hex


def input_key(job_id: str) -> str:
    return f"{INPUT_PREFIX}{job_id}/input"


def job_id_from_key(key: str) -> str | None:
    """inputs/<id>/input -> <id>; anything else is not an upload of ours."""
    parts = key.split("/")
    if len(parts) == 3 and parts[0] + "/" == INPUT_PREFIX and parts[2] == "input" and len(parts[1]) == 32:
        return parts[1]
    return None


def transform_job_name(job_id: str) -> str:
    return f"{TRANSFORM_PREFIX}{job_id}"


def job_id_from_transform(name: str) -> str | None:
    rest = name[len(TRANSFORM_PREFIX) :] if name.startswith(TRANSFORM_PREFIX) else ""
    return rest if len(rest) == 32 else None


def choose_mode(request: JobRequest, target: Target) -> JobMode:
    """auto: async for one record when the target has an async endpoint, batch otherwise."""
    if request.mode is JobMode.AUTO:
        single_record = request.split_type == "None"
        return JobMode.ASYNC if single_record and target.inference.async_endpoint_name else JobMode.BATCH
    return request.mode


class JobError(Exception):
    """A request the job path refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def async_expiry(deadline_seconds: int) -> tuple[int, int]:
    """(InvocationTimeoutSeconds, RequestTTLSeconds) so that an async request expires by the job's
    deadline: queue time + processing time <= ``deadline_seconds``. Processing gets SageMaker's
    default (900 s) or what the deadline leaves after the shortest queue time; the queue the rest.
    A deadline outside what SageMaker can take is a JobError (422)."""
    if not ASYNC_MIN_DEADLINE_SECONDS <= deadline_seconds <= ASYNC_MAX_DEADLINE_SECONDS:
        raise JobError(
            422,
            f"the target's job timeout ({deadline_seconds} s) is one async inference cannot honour: a request "
            f"expires after at most {ASYNC_MAX_TTL_SECONDS} s in the queue plus {ASYNC_INVOCATION_TIMEOUT_SECONDS} s "
            f"of processing, and needs {ASYNC_MIN_DEADLINE_SECONDS} s at least, so "
            f"{ASYNC_MIN_DEADLINE_SECONDS}-{ASYNC_MAX_DEADLINE_SECONDS} s. Use mode batch, or set "
            "inference.job_timeout_seconds (JobTimeoutSeconds) within that range.",
        )
    invocation = min(ASYNC_INVOCATION_TIMEOUT_SECONDS, deadline_seconds - ASYNC_MIN_TTL_SECONDS)
    return invocation, min(ASYNC_MAX_TTL_SECONDS, deadline_seconds - invocation)


def upload_limit(request: JobRequest, mode: JobMode, target: Target) -> int:
    """The most bytes the job's input may have; a declared size over it is a JobError (422)."""
    if mode is JobMode.ASYNC:
        limit, why = ASYNC_MAX_BYTES, "async inference takes at most 1 GB per request"
    elif request.split_type == "None":
        limit = target.inference.max_payload_mb * MB
        why = (
            f"with split_type None a batch job sends the whole input as one record, which must fit the "
            f"target's MaxPayloadInMB ({target.inference.max_payload_mb} MB = {limit} bytes). Use a split_type "
            "(Line, RecordIO, TFRecord) if it holds several records, mode async for one large record, or a "
            "larger inference.max_payload_mb (MaxPayloadMB, up to 100)"
        )
    else:
        limit, why = BATCH_MAX_BYTES, "one upload holds at most 5 GB"
    if request.size_bytes is not None and request.size_bytes > limit:
        raise JobError(422, f"the input is {request.size_bytes} bytes, over {limit}: {why}")
    return request.size_bytes or limit


def new_job(
    request: JobRequest, target: Target, bucket: str, now: datetime, owner: str, job_id: str | None = None
) -> Job:
    mode = choose_mode(request, target)
    if mode is JobMode.ASYNC and not target.inference.async_endpoint_name:
        raise JobError(409, f"target {target.model_package_group} has no async endpoint; use mode batch")
    if mode is JobMode.ASYNC and request.split_type != "None":
        raise JobError(400, "async inference takes one record: split_type must be None")
    if mode is JobMode.ASYNC:
        async_expiry(target.inference.job_timeout_seconds)  # refused now rather than at dispatch
    max_bytes = upload_limit(request, mode, target)
    jid = job_id or new_job_id()
    return Job(
        job_id=jid,
        mode=mode,
        model_package_group=target.model_package_group,
        endpoint_name=target.endpoint_name,
        content_type=request.content_type,
        accept=request.accept,
        split_type=request.split_type,
        bucket=bucket,
        input_key=input_key(jid),
        max_bytes=max_bytes,
        owner=owner,
        created_at=now,
        updated_at=now,
        deadline=now + timedelta(seconds=target.inference.job_timeout_seconds),
    )
