"""Async results: SageMaker async inference success/error notifications (SNS) finish jobs."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.envelopes import SnsEnvelope
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollout_core.events import AsyncInferenceNotification, AsyncNotification, AsyncTestNotification
from rollout_core.wiring import job_service

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The model is a union (Parser validates any type through a TypeAdapter; its overloads want
    # a class), and SnsEnvelope returns one model per record.
    notifications: list[AsyncInferenceNotification | AsyncTestNotification] = parse(  # type: ignore[call-overload]
        event=event, model=AsyncNotification, envelope=SnsEnvelope
    )
    service = job_service()
    results = []
    for notification in notifications:
        if isinstance(notification, AsyncTestNotification):
            logger.debug("SageMaker's test notification of an async endpoint; ignored")
            continue
        job = service.on_async_result(notification.model_dump())
        results.append({"job_id": job.job_id if job else None, "status": job.status.value if job else None})
    return {"jobs": results}
