"""Rollout API: see every rollout, steer it (pause, resume, promote, abort), start one by hand.

GET  /v1/rollouts                      filters: endpoint, phase, live; paginated (limit, next_token)
POST /v1/rollouts                      {"model_package_arn": ..., "target": group?}: start by hand
GET  /v1/rollouts/{rollout_id}         the rollout, its full history, a live look at the endpoint
POST /v1/rollouts/{rollout_id}/{action} pause | resume | promote | abort | approve (a manual gate)
GET  /v1/versions?group=               each version of a model package group here: serving, rolling out, ...
GET  /v1/endpoints/{endpoint}/doctor   what is likely to hurt the endpoint (read only)
"""

import json
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from rollout_core import api_docs, clock, doctor
from rollout_core.api_errors import install_error_handlers, json_error
from rollout_core.doctor_reads import read_facts
from rollout_core.models import NAME_PATTERN, Phase
from rollout_core.operations import OperationError, summary
from rollout_core.wiring import metrics_gateway, operations, rollout_service

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
JSON = "application/json"
ROLLOUT_ID = r"^[0-9a-f]{10}$"
GROUP_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"  # SageMaker's ModelPackageGroupName
PACKAGE_ARN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/[A-Za-z0-9-]{1,63}/[0-9]+$"


class StartRequest(BaseModel):
    """Body of POST /v1/rollouts."""

    model_config = ConfigDict(extra="forbid")

    model_package_arn: str = Field(pattern=PACKAGE_ARN, description="an Approved model package version")
    target: str | None = Field(default=None, min_length=1, max_length=63, description="model package group")


def _json(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body, default=str))


def _caller() -> str:
    """Who is acting, for the history: the IAM identity API Gateway authenticated."""
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or "unknown caller"


@app.get("/v1/rollouts", responses=api_docs.LIST_ROLLOUTS)
@tracer.capture_method
def list_rollouts(
    endpoint: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    phase: Annotated[Phase | None, Query()] = None,
    live: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response[str]:
    page = operations().list(endpoint, phase.value if phase else None, live, limit, next_token)
    return _json(200, page)


@app.post("/v1/rollouts", responses=api_docs.START_ROLLOUT)
@tracer.capture_method
def start_rollout(request: StartRequest) -> Response[str]:
    rollout = operations().start(request.model_package_arn, request.target, _caller())
    return _json(201, summary(rollout))


@app.get("/v1/rollouts/<rollout_id>", responses=api_docs.GET_ROLLOUT)
@tracer.capture_method
def get_rollout(rollout_id: Annotated[str, Path(pattern=ROLLOUT_ID)]) -> Response[str]:
    return _json(200, operations().view(rollout_id))


@app.post("/v1/rollouts/<rollout_id>/<action>", responses=api_docs.STEER_ROLLOUT)
@tracer.capture_method
def steer(
    rollout_id: Annotated[str, Path(pattern=ROLLOUT_ID)],
    action: Annotated[Literal["pause", "resume", "promote", "abort", "approve"], Path()],
) -> Response[str]:
    rollout = operations().command(rollout_id, action, _caller())
    return _json(200, summary(rollout))


@app.get("/v1/endpoints/<endpoint>/doctor", responses=api_docs.DOCTOR)
@tracer.capture_method
def doctor_report(endpoint: Annotated[str, Path(pattern=NAME_PATTERN)]) -> Response[str]:
    facts = read_facts(rollout_service(), endpoint, clock.now(), metrics_gateway())
    if facts is None:
        raise OperationError(404, f"no endpoint named {endpoint}")
    findings = doctor.diagnose(facts)
    body = {"endpoint": endpoint, "findings": [f.model_dump(mode="json") for f in findings]}
    return _json(200, {**body, "high": doctor.exit_code(findings) != 0})


@app.get("/v1/versions", responses=api_docs.VERSIONS)
@tracer.capture_method
def versions(group: Annotated[str, Query(pattern=GROUP_NAME, max_length=63)]) -> Response[str]:
    """Where each version of the group stands in this environment (the client merges environments)."""
    return _json(200, operations().versions(group))


@app.exception_handler(OperationError)  # type: ignore[untyped-decorator]
def refused(exc: OperationError) -> Response[str]:
    return json_error(exc.status, exc.message)


install_error_handlers(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
