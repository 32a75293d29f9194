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

from .models import NAME_PATTERN, Target

ASYNC_MAX_BYTES = 1024**3  # SageMaker async inference: up to 1 GB per request
BATCH_MAX_BYTES = 5 * 1024**3  # one presigned POST upload: at most 5 GB
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

    @model_validator(mode="after")
    def _one_target(self) -> JobRequest:
        if (self.target is None) == (self.endpoint is None):
            raise ValueError("give exactly one of target or endpoint")
        return self


class Job(BaseModel):
    """One job record (DynamoDB item JOB#<id>)."""

    model_config = ConfigDict(extra="forbid")

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


def new_job(
    request: JobRequest, target: Target, bucket: str, now: datetime, owner: str, job_id: str | None = None
) -> Job:
    mode = choose_mode(request, target)
    if mode is JobMode.ASYNC and not target.inference.async_endpoint_name:
        raise JobError(409, f"target {target.model_package_group} has no async endpoint; use mode batch")
    if mode is JobMode.ASYNC and request.split_type != "None":
        raise JobError(400, "async inference takes one record: split_type must be None")
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
        max_bytes=ASYNC_MAX_BYTES if mode is JobMode.ASYNC else BATCH_MAX_BYTES,
        owner=owner,
        created_at=now,
        updated_at=now,
        deadline=now + timedelta(seconds=target.inference.job_timeout_seconds),
    )
