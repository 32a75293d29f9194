"""Job dispatcher: a job's input landed in S3 -> InvokeEndpointAsync or CreateTransformJob."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollout_core.wiring import job_service

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # S3 "Object Created" (EventBridge notifications of the jobs bucket). Only the location
    # is used: the object itself is never read here.
    detail = parse(event=event, model=S3EventNotificationEventBridgeModel).detail
    job = job_service().dispatch(detail.bucket.name, detail.object.key)
    if job is None:
        return {"job_id": None, "status": None}
    return {"job_id": job.job_id, "status": job.status.value}
