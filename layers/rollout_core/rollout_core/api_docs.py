"""What each API route answers, declared for its OpenAPI document (Event Handler ``responses=``).

Every status a route can answer is listed with the shape of its body. Errors are JSON
``{"message": ...}`` with fields that say more (rollout_core.api_errors.json_error); the
statuses and their causes are the README's table. Declaring ``responses`` replaces the
resolver's default "200 + 422", so each route lists its success and its 422 too.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict

JSON = "application/json"


class ErrorBody(BaseModel):
    """The API's one error shape: a message, and fields that say more."""

    model_config = ConfigDict(extra="allow")

    message: str


class TooLargeBody(ErrorBody):
    """413: the body is over the real-time limit; the job route takes it."""

    limit_bytes: int
    body_bytes: int
    jobs_route: str


class ModelErrorBody(ErrorBody):
    """424: the model container answered with an error (SageMaker's ModelError)."""

    code: str
    model_status: int | None = None
    log_stream: str | None = None


class PresignedUpload(BaseModel):
    method: str  # POST
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_in: int


class PresignedDownload(BaseModel):
    method: str  # GET
    url: str
    expires_in: int


class JobCreated(BaseModel):
    job_id: str
    status: str
    mode: str
    upload: PresignedUpload
    links: dict[str, str]


class JobView(BaseModel):
    job_id: str
    status: str
    mode: str
    target: str
    endpoint: str
    created_at: str
    updated_at: str
    deadline: str
    failure_reason: str | None = None
    output: PresignedDownload | None = None


class RolloutSummary(BaseModel):
    rollout_id: str
    endpoint: str
    model_package_arn: str
    phase: str
    step_percent: int
    steps: list[int]
    paused: bool
    reason: str
    baseline_variant: str | None = None
    candidate_variant: str
    created_at: str
    updated_at: str


class RolloutPage(BaseModel):
    rollouts: list[RolloutSummary]
    next_token: str | None = None


class VersionRow(BaseModel):
    """One model package version in this environment (rollout_core.versions.table)."""

    model_package_arn: str
    version: int | None = None
    state: str  # serving, rolling out, waiting, rolling back, replaced, rolled back, failed, ...
    detail: str
    phase: str
    rollout_id: str
    since: str
    waiting: dict[str, Any] | None = None  # what a WAITING rollout waits for


class VersionsView(BaseModel):
    group: str
    environment: str
    endpoint: str
    source: str  # registry, or after:<environment>
    versions: list[VersionRow]


class RolloutView(RolloutSummary):
    live: dict[str, Any]  # endpoint status, weights per variant, guard alarm states, time to the next step
    history: list[dict[str, Any]]


def answer(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    return {"description": description, "content": {JSON: {"model": model}}}


def error(description: str, model: type[ErrorBody] = ErrorBody) -> OpenAPIResponse:
    return answer(description, model)


INVALID = error("the request does not match the API, malformed JSON included (the errors name each field)")

INVOKE: dict[int, OpenAPIResponse] = {
    200: {
        "description": "the model's answer, byte for byte, in the content type it chose",
        "headers": {
            "X-Invoked-Variant": {"description": "the production variant that answered", "schema": {"type": "string"}}
        },
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    },
    400: error("an empty or unreadable body, a malformed X-Target-Variant, or SageMaker's validation error"),
    403: error("SageMaker refused this API access to the endpoint"),
    404: error("no such endpoint, or one outside this stack's managed prefix"),
    413: error("the body is over the real-time limit: POST /v1/jobs takes it", TooLargeBody),
    422: INVALID,
    424: error("the model container failed: its status and message", ModelErrorBody),
    429: error("SageMaker is throttling: retry with backoff"),
    502: error("another SageMaker error"),
    503: error("the model is not ready, or SageMaker is unavailable"),
}
CREATE_JOB: dict[int, OpenAPIResponse] = {
    201: answer("the job, and a presigned POST for its input", JobCreated),
    400: error("a body that is not UTF-8, or a split type async inference cannot take"),
    404: error("no target for that group or endpoint"),
    409: error("mode async for a target with no async endpoint"),
    415: error("the body is not JSON"),
    422: INVALID,
}
GET_JOB: dict[int, OpenAPIResponse] = {
    200: answer("the job, with a presigned download once it succeeded", JobView),
    404: error("no such job, or a job another caller created"),
    422: INVALID,
}
GET_ANY_JOB: dict[int, OpenAPIResponse] = {
    200: answer("the job, whoever created it, with a presigned download once it succeeded", JobView),
    404: error("no such job"),
    422: INVALID,
}
LIST_ROLLOUTS: dict[int, OpenAPIResponse] = {
    200: answer("rollouts, newest first, and the token of the next page", RolloutPage),
    400: error("a next_token this API did not give out"),
    422: INVALID,
}
START_ROLLOUT: dict[int, OpenAPIResponse] = {
    201: answer("the rollout started", RolloutSummary),
    400: error("a body that is not UTF-8"),
    404: error("no such model package, or no target for its group"),
    409: error("the package is not Approved, or not of the target's group"),
    415: error("the body is not JSON"),
    422: INVALID,
}
GET_ROLLOUT: dict[int, OpenAPIResponse] = {
    200: answer("the rollout, its full history and a live look at the endpoint and alarms", RolloutView),
    404: error("no such rollout"),
    422: INVALID,
}


class DoctorFinding(BaseModel):
    severity: Literal["HIGH", "MEDIUM", "LOW"]
    check: str  # quota, autoscaling, guard_alarms, failed_updates, payloads
    message: str
    fix: str


class DoctorReport(BaseModel):
    endpoint: str
    findings: list[DoctorFinding]  # the most severe first
    high: bool  # any HIGH finding (the CLI exits 1)


DOCTOR: dict[int, OpenAPIResponse] = {
    200: answer("what is likely to hurt the endpoint: each finding with its severity and a one-line fix", DoctorReport),
    404: error("no such endpoint"),
    422: INVALID,
}
STEER_ROLLOUT: dict[int, OpenAPIResponse] = {
    200: answer("the rollout after the command", RolloutSummary),
    404: error("no such rollout"),
    409: error("the command does not apply to the rollout as it is (the message says why)"),
    422: INVALID,
}
VERSIONS: dict[int, OpenAPIResponse] = {
    200: answer("each version of the group with a rollout here, newest first, and its state", VersionsView),
    404: error("no target for that model package group"),
    422: INVALID,
}
