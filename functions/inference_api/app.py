"""Inference API: one front door for every payload size (API Gateway REST, IAM auth).

POST /v1/endpoints/{endpoint}/invocations   small payloads, straight to InvokeEndpoint
POST /v1/jobs                               large payloads: a job and a presigned S3 upload
GET  /v1/jobs/{job_id}                      status, and a presigned download when done (own jobs)
GET  /v1/operator/jobs/{job_id}             the same for any job (operators)
GET  /v1/openapi.json                       this API's OpenAPI document

A job belongs to the IAM principal that created it (API Gateway's identity of the caller).
Who may call which route is IAM's decision before any of this runs: the stack's caller
policies (template.yaml; README > Security). Only RolloutOperatorPolicy reaches the operator
route, which is how an operator is recognised.
"""

import base64
import binascii
import json
import os
import re
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    NotFoundError,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import TypeAdapter, ValidationError

from rollout_core import api_docs, request_metrics
from rollout_core.api_errors import (
    REALTIME_RESPONSE_LIMIT_BYTES,
    install_error_handlers,
    json_error,
    response_too_large,
    runtime_error_response,
)
from rollout_core.jobs import JobError, JobRequest, job_owner
from rollout_core.models import NAME_PATTERN
from rollout_core.wiring import job_service, runtime_gateway

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)

# SageMaker takes 6 MB per real-time request, but API Gateway hands the body to Lambda
# base64-encoded inside a 6 MB invocation payload: bodies above this limit take /v1/jobs.
REALTIME_LIMIT_BYTES = int(os.environ.get("REALTIME_LIMIT_BYTES", "4500000"))
JOBS_ROUTE = "/v1/jobs"
JOB_ID = r"^[0-9a-f]{32}$"
# The endpoints this stack manages (template: ManagedEndpointPrefix, or EndpointName).
MANAGED_ENDPOINT_PREFIX = os.environ.get("MANAGED_ENDPOINT_PREFIX", "")
VARIANT_PATTERN = NAME_PATTERN  # SageMaker names variants as it names endpoints
JSON = "application/json"
# The invocations route's one parameter: its OpenAPI description and its check (see invoke).
EndpointPath = Annotated[str, Path(pattern=NAME_PATTERN, max_length=63)]
ENDPOINT_NAME = TypeAdapter(EndpointPath)


def _body_bytes() -> bytes:
    event = app.current_event
    raw = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequestError("the body is not valid base64") from exc
    return raw.encode()


def _checked_endpoint(endpoint: str) -> str:
    """The path's endpoint name, or the 422 the resolver's validation would answer."""
    try:
        return ENDPOINT_NAME.validate_python(endpoint)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("path", "endpoint", *error["loc"])} for error in exc.errors()]
        ) from exc


# The hot path, kept lean (make bench measures it against a direct InvokeEndpoint):
# - enable_validation=False for this route only: the resolver's validation middleware builds
#   and checks query, header and cookie parameters this route does not have, and validates
#   the (base64) response body as a string; together about a third of the route's own time.
#   Its one parameter is checked by _checked_endpoint with the same rule and the same 422.
# - no @tracer.capture_method: X-Ray's botocore patch already traces the InvokeEndpoint call.
@app.post("/v1/endpoints/<endpoint>/invocations", enable_validation=False, responses=api_docs.INVOKE)
def invoke(endpoint: EndpointPath) -> Response[str]:
    """Real-time inference: the body goes to InvokeEndpoint with its Content-Type and Accept."""
    endpoint = _checked_endpoint(endpoint)
    body = _body_bytes()
    ours = endpoint.startswith(MANAGED_ENDPOINT_PREFIX)
    if body and ours:  # doctor reads them (request_metrics.py); never for names outside the scope
        request_metrics.publish(endpoint, len(body), too_large=len(body) > REALTIME_LIMIT_BYTES)
    if len(body) > REALTIME_LIMIT_BYTES:
        return json_error(
            413,
            f"the body is {len(body)} bytes; real-time requests take at most {REALTIME_LIMIT_BYTES} bytes. "
            f"POST {JOBS_ROUTE} to upload it for async inference (one record, up to 1 GB) "
            "or batch transform (a dataset).",
            limit_bytes=REALTIME_LIMIT_BYTES,
            body_bytes=len(body),
            jobs_route=JOBS_ROUTE,
        )
    if not body:
        raise BadRequestError("the body is empty")
    if not ours:
        # Outside the stack's scope (IAM would refuse it): say so without calling SageMaker.
        return json_error(404, f"endpoint {endpoint} is not served by this API")
    event = app.current_event
    headers = event.headers  # case-insensitive
    content_type = headers.get("content-type") or "application/octet-stream"
    accept = headers.get("accept")
    variant = headers.get("x-target-variant")
    if variant is not None and not re.match(VARIANT_PATTERN, variant):
        raise BadRequestError("X-Target-Variant is not a variant name")
    try:
        prediction = runtime_gateway().invoke(endpoint, body, content_type, accept, variant)
    except (ClientError, BotoCoreError) as exc:  # BotoCoreError: no answer (timeout, unreachable)
        status, payload = runtime_error_response(exc, endpoint)
        return json_error(status, **payload)
    if len(prediction.body) > REALTIME_RESPONSE_LIMIT_BYTES:  # Lambda could not return it
        status, payload = response_too_large(endpoint, len(prediction.body))
        return json_error(status, **payload)
    response: Response[str] = Response(
        status_code=200,
        content_type=prediction.content_type or "application/octet-stream",
        # Byte-exact whatever the content type: base64 here, API Gateway decodes it.
        body=base64.b64encode(prediction.body).decode(),
        headers={"X-Invoked-Variant": prediction.invoked_variant or ""},
    )
    response.base64_encoded = True
    return response


def _owner() -> str | None:
    """The caller as a job owner: the IAM principal API Gateway authenticated."""
    identity = app.current_event.request_context.identity
    return job_owner(identity.user_arn, identity.caller)


# capture_response=False on the job routes: their answers carry presigned URLs (bearer
# credentials until they expire), which must not end up in X-Ray metadata.
@app.post(JOBS_ROUTE, responses=api_docs.CREATE_JOB)
@tracer.capture_method(capture_response=False)
def create_job(request: JobRequest) -> Response[str]:
    """Record a job and return a presigned POST for its input (short expiry, size range)."""
    owner = _owner()
    if owner is None:  # IAM auth always names the caller; refuse rather than make an ownerless job
        return json_error(403, "the request carries no IAM identity")
    try:
        job, upload = job_service().create(request, owner)
    except JobError as exc:
        return json_error(exc.status, exc.message)
    body = {
        "job_id": job.job_id,
        "status": job.status.value,
        "mode": job.mode.value,
        "upload": upload,
        "links": {"self": f"{JOBS_ROUTE}/{job.job_id}"},
    }
    return Response(status_code=201, content_type=JSON, body=json.dumps(body))


@app.get(f"{JOBS_ROUTE}/<job_id>", responses=api_docs.GET_JOB)
@tracer.capture_method(capture_response=False)
def get_job(job_id: Annotated[str, Path(pattern=JOB_ID)]) -> dict[str, Any]:
    """Status, timestamps, failure reason, and a short-lived download link when done.

    Only the job's owner sees it: anyone else gets the 404 of a job that does not exist."""
    owner = _owner()
    view = job_service().view(job_id, owner) if owner is not None else None
    if view is None:
        raise NotFoundError(f"no job {job_id}")
    return view


@app.get("/v1/operator/jobs/<job_id>", responses=api_docs.GET_ANY_JOB)
@tracer.capture_method(capture_response=False)
def get_any_job(job_id: Annotated[str, Path(pattern=JOB_ID)]) -> dict[str, Any]:
    """Any job, whoever created it (operators: only RolloutOperatorPolicy reaches this route)."""
    view = job_service().view_any(job_id)
    if view is None:
        raise NotFoundError(f"no job {job_id}")
    return view


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi() -> Response[str]:
    return Response(status_code=200, content_type=JSON, body=app.get_openapi_json_schema(title="sagemaker-rollout"))


install_error_handlers(app)


# Lean for the real-time route, whose time make bench compares with a bare InvokeEndpoint:
# - No Tracer handler subsegment. Lambda's own segment (Tracing: Active) already times each
#   invocation and shows a cold start as its Initialization subsegment; the patched botocore
#   traces InvokeEndpoint, and the job routes open their own subsegments. This function's
#   traces lack only the ColdStart and Service annotations.
# - The correlation id (API Gateway's request id) is set with Logger.set_correlation_id, as
#   Powertools documents, not with correlation_id_path, which runs a JMESPath search per request.
@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    return app.resolve(event, context)
