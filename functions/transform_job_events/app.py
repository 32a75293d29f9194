"""Transform job events: SageMaker Transform Job State Change finishes batch jobs; the
schedule fails jobs stuck past their deadline."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from rollout_core.events import JobEvent, TransformJobEvent
from rollout_core.wiring import job_service

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Parser takes the discriminated union (it wraps any type in a TypeAdapter); its stubs want a class.
    trigger = parse(event=event, model=JobEvent)  # type: ignore[call-overload]
    service = job_service()
    if isinstance(trigger, TransformJobEvent):
        detail = trigger.detail
        job = service.on_transform_state(detail.TransformJobName, detail.TransformJobStatus, detail.FailureReason)
        return {"jobs": [] if job is None else [{"job_id": job.job_id, "status": job.status.value}]}
    return {"jobs": [{"job_id": j.job_id, "status": j.status.value} for j in service.sweep()]}
